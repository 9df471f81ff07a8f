//go:build wasip1

// Command pallet is a reference contract (ABI v1): a pallet whose readings apply to the cases it\n// contains (aggregation and disaggregation). The logic lives in
// package policy. Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o pallet.wasm ./wasm-policies/pallet
package main

import (
	"github.com/custos-dev/custos/wasm-policies/pallet/policy"
	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
)

func init() { sdk.Register(&policy.Policy{}) }

func main() {}
