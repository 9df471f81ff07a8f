//go:build wasip1

// Command coldchain is the cold-chain reference contract (ABI v1): a
// temperature band, a cumulative excursion budget and mean kinetic
// temperature. The logic lives in package policy; this file only registers
// it with the SDK. Build with wasm-policies/build.sh.
package main

import (
	"github.com/custos-dev/custos/wasm-policies/coldchain/policy"
	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
)

func init() { sdk.Register(&policy.Policy{}) }

func main() {}
