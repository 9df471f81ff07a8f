//go:build wasip1

// Command custody is a reference contract (ABI v1): the chain of custody
// (allowed transfers, handoff deadlines, gaps). The logic lives in package
// policy. Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o custody.wasm ./wasm-policies/custody
package main

import (
	"github.com/custos-dev/custos/wasm-policies/custody/policy"
	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
)

func init() { sdk.Register(&policy.Policy{}) }

func main() {}
