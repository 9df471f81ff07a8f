//go:build wasip1

package sdk

import (
	"unsafe"
)

// The guest side of ABI v1. Inputs live in a bump arena that custos_reset
// rewinds; the output lives in outBuf until the next call. Both are package
// globals, so the garbage collector keeps them (and never moves them).

const arenaInit = 64 << 10

var (
	arena    = make([]byte, arenaInit)
	arenaOff uint32
	overflow [][]byte // allocations that did not fit the arena, kept until reset

	event  Event
	output Output
	outBuf = make([]byte, 0, 4096)
)

//go:wasmexport custos_abi_v1
func abiV1() {}

// custos_event_flags tells the host that this SDK reads the event flags
// (the LATE bit, ABI.md §3).
//
//go:wasmexport custos_event_flags
func eventFlags() {}

//go:wasmexport custos_reset
func reset() {
	if len(overflow) > 0 {
		// Grow the arena so the next call of this size fits in it.
		total := uint32(len(arena))
		for _, o := range overflow {
			total += uint32(len(o))
		}
		arena = make([]byte, total)
		clear(overflow)
		overflow = overflow[:0]
	}
	arenaOff = 0
}

//go:wasmexport custos_alloc
func alloc(n uint32) uint32 {
	n8 := (n + 7) &^ 7
	if n8 == 0 {
		n8 = 8
	}
	if uint64(arenaOff)+uint64(n8) <= uint64(len(arena)) {
		p := &arena[arenaOff]
		arenaOff += n8
		return uint32(uintptr(unsafe.Pointer(p)))
	}
	b := make([]byte, n8)
	overflow = append(overflow, b)
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

// input returns the n bytes at guest address p, which must have come from
// alloc since the last reset. Anything else traps.
func input(p, n uint32) []byte {
	if n == 0 {
		return nil
	}
	if b, ok := within(arena[:arenaOff], p, n); ok {
		return b
	}
	for _, o := range overflow {
		if b, ok := within(o, p, n); ok {
			return b
		}
	}
	panic("custos sdk: input not allocated by custos_alloc")
}

func within(buf []byte, p, n uint32) ([]byte, bool) {
	if len(buf) == 0 {
		return nil, false
	}
	base := uint32(uintptr(unsafe.Pointer(&buf[0])))
	if p < base || uint64(p-base)+uint64(n) > uint64(len(buf)) {
		return nil, false
	}
	o := p - base
	return buf[o : o+n : o+n], true
}

func finish(state []byte) uint64 {
	outBuf = output.AppendBinary(outBuf[:0], state)
	return uint64(uintptr(unsafe.Pointer(&outBuf[0])))<<32 | uint64(len(outBuf))
}

func mustContract() Contract {
	if registered == nil {
		panic("custos sdk: no contract registered (call sdk.Register from init)")
	}
	return registered
}

//go:wasmexport custos_init
func initTwin(evPtr, evLen uint32) uint64 {
	c := mustContract()
	if err := event.Decode(input(evPtr, evLen)); err != nil {
		panic(err)
	}
	output.Reset()
	return finish(c.Init(&event, &output))
}

//go:wasmexport custos_apply
func apply(statePtr, stateLen, evPtr, evLen uint32) uint64 {
	c := mustContract()
	state := input(statePtr, stateLen)
	if err := event.Decode(input(evPtr, evLen)); err != nil {
		panic(err)
	}
	output.Reset()
	return finish(c.Apply(state, &event, &output))
}

//go:wasmexport custos_view
func view(statePtr, stateLen uint32) uint64 {
	c := mustContract()
	state := input(statePtr, stateLen)
	output.Reset()
	if v, ok := c.(Viewer); ok {
		v.View(state, &output)
	}
	return finish(nil) // view output: the state section is empty
}
