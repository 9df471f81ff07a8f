//go:build wasip1

// Command humidshock is a reference contract (ABI v1): humidity and shock
// limits. The logic lives in package policy. Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o humidshock.wasm ./wasm-policies/humidshock
package main

import (
	"github.com/custos-dev/custos/wasm-policies/humidshock/policy"
	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
	"github.com/custos-dev/custos/wasm-policies/sdk/go/migrate"
)

func init() {
	p := &policy.Policy{}
	sdk.Register(p)
	migrate.Register(p) // custos_migrate: twins can be upgraded to this module
}

func main() {}
