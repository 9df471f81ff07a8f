package contracts

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

// misbehaveValues are readings for testdata/misbehave.wat (see there).
var misbehaveValues = []float64{5, 1001, 6, 1002, 2003, 1003, 7, 1004, 2010, 8}

type callResult struct {
	kind string
	fuel uint64
	out  string
}

// runMisbehave applies misbehaveValues in order on one host and returns
// each call's failure kind, fuel used and state.
func runMisbehave(t *testing.T, cfg Config, wasm []byte) []callResult {
	t.Helper()
	var mu sync.Mutex
	var stats []CallStats
	cfg.OnCall = func(c CallStats) {
		mu.Lock()
		stats = append(stats, c)
		mu.Unlock()
	}
	h := newTestHost(t, cfg)
	ctx := context.Background()
	ref, err := h.Deploy(ctx, "misbehave", "1.0.0", wasm)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := h.Contract(ctx, ref.SHA256)
	var state []byte
	var res []callResult
	for i, v := range misbehaveValues {
		mu.Lock()
		stats = stats[:0]
		mu.Unlock()
		call := twin.Call{Twin: "m", Seq: uint64(i + 2), Time: t0.Add(time.Duration(i) * time.Minute)}
		out, err := c.Apply(ctx, call, state, encodeEvent(t, reading(call.Seq, call.Time, v)))
		r := callResult{out: string(out.State)}
		var ce *twin.ContractError
		if errors.As(err, &ce) {
			r.kind = ce.Kind
		} else if err != nil {
			t.Fatal(err)
		} else {
			state = out.State
		}
		mu.Lock()
		if len(stats) != 1 || stats[0].Kind != r.kind || stats[0].Entry != "apply" {
			t.Fatalf("event %d: call stats %+v, kind %q", i, stats, r.kind)
		}
		r.fuel = stats[0].Fuel
		mu.Unlock()
		res = append(res, r)
	}
	return res
}

// TestFuelDeterministic: every failure kind and the fuel of every call are
// the same on an idle machine and with a CPU-burning goroutine on every
// core; fuel grows with the work an event asks for; a runaway loop uses
// exactly the budget.
func TestFuelDeterministic(t *testing.T) {
	wasm := testdata(t, "misbehave")
	cfg := Config{Fuel: 5_000_000, MaxMemoryPages: 256, PoolSize: 2}
	idle := runMisbehave(t, cfg, wasm)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := 0; ; x++ {
				select {
				case <-done:
					return
				default:
				}
			}
		}()
	}
	loaded := runMisbehave(t, cfg, wasm)
	close(done)
	wg.Wait()
	if !slices.Equal(idle, loaded) {
		t.Fatalf("idle and loaded runs differ:\n  %+v\n  %+v", idle, loaded)
	}
	kinds := make([]string, len(idle))
	for i, r := range idle {
		kinds[i] = r.kind
	}
	if want := []string{"", KindFuel, "", KindMemory, "", KindTrap, "", KindOutputTooLarge, "", ""}; !slices.Equal(kinds, want) {
		t.Fatalf("kinds %q, want %q", kinds, want)
	}
	if idle[1].fuel != cfg.Fuel {
		t.Errorf("runaway loop used %d fuel, want the budget %d", idle[1].fuel, cfg.Fuel)
	}
	if !(idle[0].fuel < idle[4].fuel && idle[4].fuel < idle[8].fuel) {
		t.Errorf("fuel does not follow the work: plain %d, 3000 iterations %d, 10000 iterations %d", idle[0].fuel, idle[4].fuel, idle[8].fuel)
	}
	if idle[0].fuel != idle[2].fuel {
		t.Errorf("the same path used %d then %d fuel", idle[0].fuel, idle[2].fuel)
	}
}

// TestFuelSection: a budget declared in the module (WithFuel) replaces the
// host's, and is refused past MaxFuel or twice.
func TestFuelSection(t *testing.T) {
	wasm, err := WithFuel(testdata(t, "misbehave"), 60_000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WithFuel(wasm, 30_000); !errors.Is(err, ErrInvalidModule) {
		t.Fatalf("second section: %v", err)
	}
	if _, err := WithFuel(testdata(t, "misbehave"), MaxFuel+1); err == nil {
		t.Fatal("fuel over MaxFuel accepted")
	}
	res := runMisbehave(t, Config{MaxMemoryPages: 256}, wasm)
	if res[4].kind != "" || res[8].kind != KindFuel || res[8].fuel != 60_000 {
		t.Fatalf("3000 iterations: %+v; 10000 iterations: %+v (budget 60000)", res[4], res[8])
	}
	h := newTestHost(t, Config{})
	ref, err := h.Register(context.Background(), "m", "1", wasm)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Fuel(ref.SHA256); got != 60_000 {
		t.Fatalf("Fuel = %d", got)
	}
}

// TestWatchdogQuarantines: a call that outlives the watchdog (here a
// budget far above it) quarantines its module: the call itself still ends
// with its deterministic verdict, later calls fail "quarantined", other
// modules go on.
func TestWatchdogQuarantines(t *testing.T) {
	if testing.Short() {
		t.Skip("takes seconds")
	}
	var quarantined []string
	var mu sync.Mutex
	h := newTestHost(t, Config{Fuel: 1_200_000_000, Watchdog: time.Second, OnQuarantine: func(m, _ string) {
		mu.Lock()
		quarantined = append(quarantined, m)
		mu.Unlock()
	}})
	loop, good := mustContract(t, h, "loop"), mustContract(t, h, "minimal")
	ctx := context.Background()
	ev := encodeEvent(t, reading(1, t0, 5))
	start := time.Now()
	_, err := loop.Apply(ctx, twin.Call{Twin: "a", Seq: 1, Time: t0}, nil, ev)
	var ce *twin.ContractError
	if !errors.As(err, &ce) || ce.Kind != KindFuel {
		t.Fatalf("the call itself: %v, want kind fuel", err)
	}
	if d := time.Since(start); d < time.Second {
		t.Skipf("the loop ran out of fuel in %v, before the watchdog", d)
	}
	_, err = loop.Apply(ctx, twin.Call{Twin: "a", Seq: 1, Time: t0}, nil, ev)
	if !errors.As(err, &ce) || ce.Kind != KindQuarantined || ce.Deterministic() {
		t.Fatalf("after quarantine: %v", err)
	}
	sha := loop.(*module).sha
	if h.Quarantined(sha) == "" || len(quarantined) != 1 || quarantined[0] != sha.Hex() {
		t.Fatalf("quarantine not reported: %q %v", h.Quarantined(sha), quarantined)
	}
	if _, err := good.Apply(ctx, twin.Call{Twin: "b", Seq: 1, Time: t0}, nil, ev); err != nil {
		t.Fatalf("another module: %v", err)
	}
}

// instrumentSeeds are the modules FuzzInstrument starts from.
func instrumentSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{builtin.Coldchain().Wasm}
	files, _ := filepath.Glob("testdata/*.wasm")
	files = append(files, "../wasm-policies/coldchain/assemblyscript/coldchain.wasm", "../wasm-policies/coldchain/wat/coldchain.wasm")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzInstrument: for any module wazero accepts, the instrumented module
// is accepted too, exports the same functions, and
// instrumenting is deterministic (the compilation cache keys on it).
func FuzzInstrument(f *testing.F) {
	for _, s := range instrumentSeeds(f) {
		if len(s) < 64<<10 {
			f.Add(s)
		}
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	f.Fuzz(func(t *testing.T, wasm []byte) {
		orig, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			return // not a valid module
		}
		defer orig.Close(ctx)
		out, _, err := instrument(wasm)
		if err != nil {
			if strings.Contains(err.Error(), "reserved") {
				return
			}
			t.Fatalf("valid module not instrumented: %v", err)
		}
		again, _, _ := instrument(wasm)
		if !bytes.Equal(out, again) {
			t.Fatal("instrumentation is not deterministic")
		}
		cm, err := rt.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("instrumented module invalid: %v", err)
		}
		defer cm.Close(ctx)
		for name := range orig.ExportedFunctions() {
			if _, ok := cm.ExportedFunctions()[name]; !ok {
				t.Fatalf("export %q lost", name)
			}
		}
	})
}

// TestInstrumentSeeds checks every seed of FuzzInstrument (the reference
// contracts and the fixtures) without fuzzing, and that a Go build's size
// grows modestly.
func TestInstrumentSeeds(t *testing.T) {
	for _, s := range instrumentSeeds(t) {
		out, _, err := instrument(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > len(s)*2+1024 {
			t.Errorf("instrumented module %d bytes from %d", len(out), len(s))
		}
	}
}

// BenchmarkInstrumentColdchain: metering the Go build (done at every
// registration, also when the compilation cache has its machine code).
func BenchmarkInstrumentColdchain(b *testing.B) {
	wasm := builtin.Coldchain().Wasm
	b.SetBytes(int64(len(wasm)))
	for b.Loop() {
		if _, _, err := instrument(wasm); err != nil {
			b.Fatal(err)
		}
	}
}
