// Package wat embeds the cold-chain reference contract written directly in
// WebAssembly text (coldchain.wat, built to coldchain.wasm by build.sh with
// wat2wasm). It is the same contract as wasm-policies/coldchain/policy,
// event for event (wasm-policies/conformance), with a fraction of the Go
// build's instructions per event; custos ships it as coldchain@1.0.1, the
// built-in new twins get by default (wasm-policies/builtin).
package wat

import _ "embed"

// Wasm is coldchain.wasm. Do not modify.
//
//go:embed coldchain.wasm
var Wasm []byte
