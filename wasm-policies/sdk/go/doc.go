// Package sdk is the Go SDK for custos contracts (ABI v1, see
// wasm-policies/ABI.md).
//
// A contract is a Go program built for GOOS=wasip1 GOARCH=wasm with
// -buildmode=c-shared. It implements [Contract] and registers it from an init
// function; the SDK provides the ABI exports (custos_abi_v1, custos_alloc,
// custos_reset, custos_init, custos_apply, custos_view), decodes events and
// encodes outputs:
//
//	type policy struct{}
//
//	func (policy) Init(ev *sdk.Event, out *sdk.Output) []byte { ... }
//	func (policy) Apply(state []byte, ev *sdk.Event, out *sdk.Output) []byte { ... }
//
//	func init() { sdk.Register(policy{}) }
//	func main() {}
//
// The encoding code ([Event.Decode], [Output.AppendBinary], [DecodeOutput])
// has no build constraints, so a contract's logic can be tested and
// benchmarked natively with exactly the code the guest runs.
//
// The apply path does not allocate: events are decoded in place, fields are
// returned as sub-slices, and the output buffer is reused between calls.
package sdk
