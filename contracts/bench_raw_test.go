package contracts

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

// BenchmarkApplyColdchainGuestOnly calls custos_apply directly on a bare,
// uninterruptible runtime: the guest's own cost, without the host's pool,
// deadline, copies and output decoding.
//
// "closeOnContextDone" compiles the guest with wazero's termination checks
// (as the host does) and pays its goroutine per call; "uninterruptible" has
// neither.
func BenchmarkApplyColdchainGuestOnly(b *testing.B) {
	for _, tc := range []struct {
		name string
		on   bool
	}{{"closeOnContextDone", true}, {"uninterruptible", false}} {
		b.Run(tc.name, func(b *testing.B) { benchGuestOnly(b, builtin.Coldchain().Wasm, tc.on) })
	}
}

// BenchmarkApplyColdchainASGuestOnly is BenchmarkApplyColdchainGuestOnly
// for the AssemblyScript build.
func BenchmarkApplyColdchainASGuestOnly(b *testing.B) {
	for _, tc := range []struct {
		name string
		on   bool
	}{{"closeOnContextDone", true}, {"uninterruptible", false}} {
		b.Run(tc.name, func(b *testing.B) { benchGuestOnly(b, asColdchain(b), tc.on) })
	}
}

func benchGuestOnly(b *testing.B, wasm []byte, closeOnDone bool) {
	ctx := context.Background()
	// No compilation cache: wazero's cache key ignores WithCloseOnContextDone,
	// so a shared cache would hand one variant the other's machine code.
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(closeOnDone))
	defer r.Close(ctx)
	mod, err := instantiateRaw(ctx, r, wasm)
	if err != nil {
		b.Fatal(err)
	}
	mem := mod.ExportedMemory("memory")
	st := make([]uint64, 4)
	mod.ExportedFunction("custos_reset").CallWithStack(ctx, st)
	st[0] = 65536
	mod.ExportedFunction("custos_alloc").CallWithStack(ctx, st)
	ptr := uint32(st[0])
	create := twin.Event{Kind: twin.KindCreate, Time: t0, Fields: []string{"pallet", `{"excursion_budget_s":1e9}`, "", ""}}
	ev := encodeEvent(b, create)
	mem.Write(ptr, ev)
	st[0], st[1] = uint64(ptr), uint64(len(ev))
	if err := mod.ExportedFunction("custos_init").CallWithStack(ctx, st); err != nil {
		b.Fatal(err)
	}
	out, _ := mem.Read(uint32(st[0]>>32), uint32(st[0]))
	state := append([]byte(nil), out[8:8+104]...)
	evs := benchEvents(b, 1000)
	apply := mod.ExportedFunction("custos_apply")
	for i := 0; b.Loop(); i++ {
		e := evs[i%len(evs)]
		mem.Write(ptr, state)
		mem.Write(ptr+104, e)
		st[0], st[1], st[2], st[3] = uint64(ptr), 104, uint64(ptr+104), uint64(len(e))
		if err := apply.CallWithStack(ctx, st); err != nil {
			b.Fatal(err)
		}
		out, _ := mem.Read(uint32(st[0]>>32), uint32(st[0]))
		copy(state, out[8:8+104])
	}
}
