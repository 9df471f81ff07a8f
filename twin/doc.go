// Package twin is the domain of custos: digital twins of physical assets,
// the events that change them, the digest chain that makes their history
// checkable, and the shard runtime that applies events one twin at a time.
//
// The package declares the interfaces it needs from the outside world —
// [Store] for persistence, [ContractHost] for running contracts, [Publisher]
// for telling others what changed — and imports none of wazero, go-ethereum
// or pgx. Adapters in contracts/, store/ and anchor/ implement them; cmd/
// wires them together.
//
// # Events
//
// Everything that happens to a twin is an [Event]: a sensor reading, a timer
// firing, its creation, a custody transfer, a status change, aggregation of
// children. Every event has a canonical binary encoding ([Event.AppendBinary],
// specified byte by byte in wasm-policies/ABI.md); it is what contracts
// receive and what the digest chain hashes.
//
// # Digests
//
// Each applied event extends the twin's digest chain:
//
//	digest_n = keccak256(digest_{n-1} ‖ twin ‖ uint64be(seq) ‖ keccak256(event) ‖ keccak256(state_n) ‖ module_sha256)
//
// which equals Solidity's keccak256(abi.encodePacked(bytes32, string, uint64,
// bytes32, bytes32, bytes32)). See [NextDigest].
package twin
