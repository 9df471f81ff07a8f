// Package store is the home of custos's persistence backends, each an
// implementation of [github.com/custos-dev/custos/twin.Store]:
//
//   - store/embedded: the default. An embedded LSM key-value store (pebble)
//     in a local directory; nothing to install; durable across restarts and
//     kill -9. For one runtime node.
//   - store/pg: PostgreSQL through pgx/v5, for production and for several
//     runtime nodes sharing one database.
//
// store/storetest is the conformance suite that both run: it pins down the
// behaviour twin.Store's doc comments leave open (ordering, filters,
// idempotent re-commit, atomicity, what survives a reopen). A new backend
// passes storetest.Run before it is used.
//
// This package itself holds no code.
package store
