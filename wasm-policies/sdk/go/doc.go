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
// Time is event time ([Event.Time], ABI.md §3.1): it need not increase, and
// [Event.Late] says an event is older than the twin's watermark. Verdicts
// use event-time timers ([Output.SetTimer], fired by the watermark);
// [Output.SetProcessingTimer] (the server's clock) is for noticing silence.
// [Event.TimerClock] tells the two apart when one fires.
//
// The apply path does not allocate: events are decoded in place, fields are
// returned as sub-slices, and the output buffer is reused between calls.
package sdk
