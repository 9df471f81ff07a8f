// Package anchor makes twin histories verifiable by anyone with a proof file
// and an Ethereum JSON-RPC endpoint.
//
// Every epoch (an interval or a number of changed twins, whichever comes
// first) the [Service] takes the latest digest head (twin, seq, digest) of
// every twin that changed, builds a Merkle tree with OpenZeppelin conventions
// (package merkle), signs the root as EIP-712 typed data
//
//	Anchor(uint64 epoch, bytes32 root, uint32 count)
//
// under the domain (name "custos", version "1", chain id, TwinAnchor address)
// with the runtime key, and sends TwinAnchor.anchor(epoch, root, count,
// signature) from a relayer key (which may be the same key). The contract
// checks the signature, requires the signer to be authorised for the epoch
// by the contract's owner (the operator, who rotates and revokes runtime
// keys), and stores the root per (signer, epoch).
//
// Epochs are persisted ([Store]) before anything is sent, and every signed
// transaction is persisted before it is broadcast, so a crash never loses an
// epoch nor anchors one twice; the contract refuses a second root for the
// same (signer, epoch) anyway. The service waits for a configurable number
// of confirmations, re-checks confirmed epochs within a finality depth (at
// start and on a schedule) and re-anchors any whose anchor vanished,
// re-broadcasts or re-anchors when a reorg drops the
// transaction, bumps fees when a transaction is stuck, and retries with
// backoff while the RPC endpoint is down.
//
// A [Bundle] proves one (twin, seq): the digest-chain links from seq up to
// the anchored leaf, the Merkle path, the root, the signature and where the
// root lives on chain, and the operator. [Verify] checks it against an
// identity the auditor pins ([Pin]: operator or signer, contract, chain id)
// and the chain alone, and reports each check separately (docs/proofs.md
// documents the format).
//
// Subpackages: merkle (the tree), contracts (TwinAnchor.sol, its ABI,
// bytecode and bindings), embedded (the pebble [Store]), devchain (the
// in-process go-ethereum chain used by default).
package anchor
