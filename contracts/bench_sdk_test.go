package contracts

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

// The coldchain contract written with each SDK, on the same events as
// BenchmarkApplyColdchainWASM (Go SDK) and BenchmarkApplyColdchainNative
// (the policy core as a native Go call).

func asColdchain(tb testing.TB) []byte {
	tb.Helper()
	path := "../wasm-policies/coldchain/assemblyscript/coldchain.wasm"
	if p := os.Getenv("CUSTOS_BENCH_AS_WASM"); p != "" {
		path = p // compare builds with other compiler flags
	}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func loadModule(tb testing.TB, wasm []byte, o regOpts) (*Host, twin.Contract) {
	tb.Helper()
	h := newTestHost(tb, Config{PoolSize: 1})
	ref, err := h.register(context.Background(), "cc", "1", wasm, o)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := h.Contract(context.Background(), ref.SHA256)
	if err != nil {
		tb.Fatal(err)
	}
	return h, c
}

// BenchmarkApplyColdchainAS: the AssemblyScript build, registered as a
// trusted (metered) module (as the Go build is in BenchmarkApplyColdchainWASM).
func BenchmarkApplyColdchainAS(b *testing.B) {
	_, c := loadModule(b, asColdchain(b), regOpts{trusted: true})
	benchColdchain(b, c)
}

// BenchmarkApplyColdchainASDeployed: the AssemblyScript build deployed,
// as integrators' modules run.
func BenchmarkApplyColdchainASDeployed(b *testing.B) {
	_, c := loadModule(b, asColdchain(b), regOpts{})
	benchColdchain(b, c)
}

// BenchmarkInstantiateColdchainAS: the cost of one more pooled instance of
// the AssemblyScript build (BenchmarkInstantiateColdchain: the Go build).
func BenchmarkInstantiateColdchainAS(b *testing.B) {
	_, c := loadModule(b, asColdchain(b), regOpts{trusted: true})
	m := c.(migratingModule).module
	b.ReportAllocs()
	for b.Loop() {
		inst, err := m.newInstance(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		inst.close()
	}
}

// TestAssemblyScriptMemoryBounded: the AssemblyScript SDK collects garbage
// between calls (minimal runtime), so strings built for alerts and views
// do not grow the instance's memory without bound.
func TestAssemblyScriptMemoryBounded(t *testing.T) {
	_, c := loadModule(t, asColdchain(t), regOpts{trusted: true})
	ctx := context.Background()
	create := twin.Event{Kind: twin.KindCreate, Time: t0, Fields: []string{"pallet", `{"excursion_budget_s":1e9}`, "", ""}}
	out, err := c.Init(ctx, twin.Call{Twin: "p", Time: t0}, encodeEvent(t, create))
	if err != nil {
		t.Fatal(err)
	}
	state := out.State
	size := func() uint32 {
		m := c.(migratingModule).module
		inst := <-m.pool
		defer m.put(inst)
		return inst.mem.Size()
	}
	var first uint32
	for i := range 20000 {
		v := 20.0 // every reading crosses the band: an alert each time
		if i%2 == 1 {
			v = 5
		}
		call := twin.Call{Twin: "p", Seq: uint64(i + 2), Time: t0}
		out, err := c.Apply(ctx, call, state, encodeEvent(t, reading(uint64(i+2), t0.Add(time.Duration(i)*time.Second), v)))
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Alerts) != 1 {
			t.Fatalf("event %d: %d alerts", i, len(out.Alerts))
		}
		state = out.State
		if _, err := c.View(ctx, call, state); err != nil {
			t.Fatal(err)
		}
		if i == 1000 {
			first = size()
		}
	}
	if last := size(); last > first+64<<10 {
		t.Fatalf("memory grew from %d to %d bytes over 19000 calls with alerts and views", first, last)
	}
}

func watColdchain(tb testing.TB) []byte {
	tb.Helper()
	wasm, err := os.ReadFile("../wasm-policies/coldchain/wat/coldchain.wasm")
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}

// BenchmarkApplyColdchainWAT: the hand-written WebAssembly text build (no
// SDK, no runtime), registered as a trusted (metered) module.
func BenchmarkApplyColdchainWAT(b *testing.B) {
	wasm, err := os.ReadFile("../wasm-policies/coldchain/wat/coldchain.wasm")
	if err != nil {
		b.Fatal(err)
	}
	_, c := loadModule(b, wasm, regOpts{trusted: true})
	benchColdchain(b, c)
}

// BenchmarkApplyColdchainWATDeployed: the WAT build deployed.
func BenchmarkApplyColdchainWATDeployed(b *testing.B) {
	wasm, err := os.ReadFile("../wasm-policies/coldchain/wat/coldchain.wasm")
	if err != nil {
		b.Fatal(err)
	}
	_, c := loadModule(b, wasm, regOpts{})
	benchColdchain(b, c)
}
