// Package builtin embeds the WebAssembly policies that ship with custos
// (built by wasm-policies/build.sh) so that cmd/ can register them with the
// contract host at startup.
package builtin

import (
	_ "embed"

	"github.com/custos-dev/custos/wasm-policies/coldchain/policy"
	"github.com/custos-dev/custos/wasm-policies/coldchain/wat"
)

//go:embed coldchain.wasm
var coldchainWasm []byte

// Policy is one embedded contract module.
type Policy struct {
	Name    string
	Version string
	Wasm    []byte // do not modify
	// Retained: kept for the twins created on it, no longer what new twins
	// get; the host compiles it on first use only.
	Retained bool
}

// Coldchain returns the cold-chain reference contract built from Go
// (wasm-policies/coldchain), coldchain@1.0.0. It stays registered so that
// twins created on it keep running; new twins get ColdchainWAT.
func Coldchain() Policy {
	return Policy{Name: policy.Name, Version: policy.Version, Wasm: coldchainWasm, Retained: true}
}

// WATVersion is the version of the WebAssembly text build of coldchain.
const WATVersion = "1.0.1"

// ColdchainWAT returns the same contract written in WebAssembly text
// (wasm-policies/coldchain/wat), coldchain@1.0.1: the same states, alerts
// and views event for event (wasm-policies/conformance) at a fraction of
// the instructions (no Go runtime inside the module). Being the highest
// version, it is what a twin created with policy "coldchain" and no
// version runs. docs/performance.md, "The built-in coldchain in
// WebAssembly text".
func ColdchainWAT() Policy {
	return Policy{Name: policy.Name, Version: WATVersion, Wasm: wat.Wasm}
}

// Policies returns every built-in policy.
func Policies() []Policy {
	return []Policy{Coldchain(), ColdchainWAT()}
}
