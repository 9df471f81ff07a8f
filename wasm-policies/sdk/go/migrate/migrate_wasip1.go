//go:build wasip1

package migrate

import (
	"unsafe"

	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
)

var (
	event  sdk.Event
	output sdk.Output
	outBuf = make([]byte, 0, 1024)
)

// guest returns the n bytes of linear memory at p (an input region the host
// wrote, which custos_alloc handed out and which stays valid for the call).
func guest(p, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), uintptr(p))), n)
}

//go:wasmexport custos_migrate
func migrate(statePtr, stateLen, evPtr, evLen uint32) uint64 {
	if registered == nil {
		panic("custos sdk: custos_migrate called but no Migrator registered (call migrate.Register from init)")
	}
	state := guest(statePtr, stateLen)
	if err := event.Decode(guest(evPtr, evLen)); err != nil {
		panic(err)
	}
	output.Reset()
	outBuf = output.AppendBinary(outBuf[:0], registered.Migrate(state, &event, &output))
	return uint64(uintptr(unsafe.Pointer(&outBuf[0])))<<32 | uint64(len(outBuf))
}
