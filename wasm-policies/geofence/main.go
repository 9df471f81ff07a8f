//go:build wasip1

// Command geofence is a reference contract (ABI v1): a route corridor from location readings. The logic lives in
// package policy. Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o geofence.wasm ./wasm-policies/geofence
package main

import (
	"github.com/custos-dev/custos/wasm-policies/geofence/policy"
	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
)

func init() { sdk.Register(&policy.Policy{}) }

func main() {}
