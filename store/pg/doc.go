// Package pg is the PostgreSQL implementation of [twin.Store], through
// pgx/v5 and its connection pool.
//
// It is the store for production and for several runtime nodes sharing one
// database. The embedded store (store/embedded) is the default for one node.
//
// # Opening
//
//	db, err := pg.Open(ctx, "postgres://custos:secret@db:5432/custos", pg.WithSchema("custos"))
//
// The schema can also come with the URL, for a daemon configured by a URL
// alone: "postgres://…/custos?custos_schema=custos" ([SchemaParam]; Open
// removes the parameter before connecting).
//
// Open connects, then applies the schema migrations embedded in the binary
// (migrations/NNNN_name.sql) that the database does not have yet. They run in
// one transaction under a PostgreSQL advisory lock, and are recorded in the
// schema_migrations table with a checksum, so several nodes can start at once
// and a migration that was edited after release is refused.
//
// # Writes
//
// [DB.Commit] writes a whole [twin.Batch] — snapshots, history records,
// alerts — in one transaction: all of it is durable, or none. Batches of 64
// records or more stream their history with a binary COPY after a pipelined
// BEGIN and snapshot upsert (about three round trips); smaller ones send
// three array-bound INSERT … SELECT FROM unnest(…) … ON CONFLICT DO UPDATE
// statements as one pipeline that PostgreSQL runs as one implicit
// transaction (one round trip). Re-committing the same batch after a crash
// is harmless: COPY then meets a stored record, and the batch is written
// again with the upserts.
//
// # Failures
//
// When PostgreSQL is unreachable, Commit fails as soon as a connection
// cannot be made or the query fails, or when ctx is done, whichever comes
// first; nothing of the batch is then visible, and the caller retries. When
// the connection breaks under a Commit (a server restart, a cut network),
// Commit tries once more on a new connection. The pool reconnects by
// itself: later calls open new connections. [DB.Ping] reports whether the
// database answers, for a readiness probe.
//
// # Retention
//
// [DB.PruneHistory] deletes history records with an event time before a
// given instant; [WithRetention] runs it periodically.
//
// # Representation
//
// Times are stored as Unix nanoseconds (bigint, NULL for the zero time) so
// that they round-trip exactly; uint64 sequence numbers are stored as bigint
// (values above 2^63-1 would not sort correctly, and do not occur).
package pg
