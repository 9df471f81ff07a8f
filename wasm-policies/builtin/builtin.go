// Package builtin embeds the WebAssembly policies that ship with custos
// (built by wasm-policies/build.sh) so that cmd/ can register them with the
// contract host at startup.
package builtin

import (
	_ "embed"

	"github.com/custos-dev/custos/wasm-policies/coldchain/policy"
)

//go:embed coldchain.wasm
var coldchainWasm []byte

// Policy is one embedded contract module.
type Policy struct {
	Name    string
	Version string
	Wasm    []byte // do not modify
}

// Coldchain returns the cold-chain reference contract.
func Coldchain() Policy {
	return Policy{Name: policy.Name, Version: policy.Version, Wasm: coldchainWasm}
}

// Policies returns every built-in policy.
func Policies() []Policy {
	return []Policy{Coldchain()}
}
