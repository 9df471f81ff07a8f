package contracts

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
	"github.com/custos-dev/custos/wasm-policies/coldchain/policy"
	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// benchEvents returns n encoded temperature readings, one a minute, mostly
// in band with an excursion every 50 readings.
func benchEvents(tb testing.TB, n int) [][]byte {
	evs := make([][]byte, n)
	for i := range evs {
		v := 5.0 + float64(i%7)*0.1
		if i%50 >= 45 {
			v = 9
		}
		evs[i] = encodeEvent(tb, reading(uint64(i+1), t0.Add(time.Duration(i)*time.Minute), v))
	}
	return evs
}

// BenchmarkApplyColdchainWASM: the built-in module as cmd/ registers it
// (RegisterTrusted, metered).
func BenchmarkApplyColdchainWASM(b *testing.B) {
	_, c := coldchain(b, Config{PoolSize: 1})
	benchColdchain(b, c)
}

// coldchainBuilds are the coldchain contract's builds: the Go SDK (the
// built-in module), AssemblyScript and hand-written WAT.
var coldchainBuilds = []struct {
	name string
	wasm func(testing.TB) []byte
}{
	{"go", func(testing.TB) []byte { return builtin.Coldchain().Wasm }},
	{"as", asColdchain},
	{"wat", watColdchain},
}

// BenchmarkApplyColdchainMetering compares, in one run, each coldchain
// build unmetered (the module as it was before fuel: what a trusted
// built-in call cost until fuel replaced deadlines) with the same build
// deployed as an integrator's module (Host.Deploy: metered). The ratio
// metered/unmetered is the cost of metering (docs/performance.md).
func BenchmarkApplyColdchainMetering(b *testing.B) {
	for _, bl := range coldchainBuilds {
		for _, mode := range []struct {
			name string
			o    regOpts
		}{{"unmetered", regOpts{trusted: true, unmetered: true}}, {"deployed", regOpts{dryRun: true}}} {
			b.Run(bl.name+"/"+mode.name, func(b *testing.B) {
				_, c := loadModule(b, bl.wasm(b), mode.o)
				benchColdchain(b, c)
			})
		}
	}
}

func benchColdchain(b *testing.B, c twin.Contract) {
	ctx := context.Background()
	create := twin.Event{Kind: twin.KindCreate, Time: t0, Fields: []string{"pallet", `{"excursion_budget_s":1e9}`, "", ""}}
	out, err := c.Init(ctx, twin.Call{Twin: "p", Time: t0}, encodeEvent(b, create))
	if err != nil {
		b.Fatal(err)
	}
	state := out.State
	evs := benchEvents(b, 1000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		out, err := c.Apply(ctx, twin.Call{Twin: "p", Seq: uint64(i), Time: t0}, state, evs[i%len(evs)])
		if err != nil {
			b.Fatal(err)
		}
		state = out.State
	}
}

// BenchmarkApplyColdchainNative is the same policy as a native Go function,
// doing the same work per event as the guest: decode the event, decode and
// encode the state, build the view, encode the output, copy the state out.
func BenchmarkApplyColdchainNative(b *testing.B) {
	var p policy.Policy
	var ev sdk.Event
	var out sdk.Output
	create := twin.Event{Kind: twin.KindCreate, Time: t0, Fields: []string{"pallet", `{"excursion_budget_s":1e9}`, "", ""}}
	if err := ev.Decode(encodeEvent(b, create)); err != nil {
		b.Fatal(err)
	}
	state := append([]byte(nil), p.Init(&ev, &out)...)
	evs := benchEvents(b, 1000)
	var enc []byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := ev.Decode(evs[i%len(evs)]); err != nil {
			b.Fatal(err)
		}
		out.Reset()
		ns := p.Apply(state, &ev, &out)
		enc = out.AppendBinary(enc[:0], ns)
		state = append(state[:0], ns...)
	}
}

// BenchmarkApplyMinimalWASM is the floor: the ABI protocol around a guest
// that does almost nothing.
func BenchmarkApplyMinimalWASM(b *testing.B) {
	h := newTestHost(b, Config{PoolSize: 1})
	c := mustContract(b, h, "minimal")
	ctx := context.Background()
	ev := encodeEvent(b, reading(1, t0, 5))
	call := twin.Call{Twin: "p", Seq: 1, Time: t0}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Apply(ctx, call, nil, ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInstantiateColdchain(b *testing.B) {
	h, c := coldchain(b, Config{PoolSize: 1})
	m := c.(*module)
	_ = h
	b.ReportAllocs()
	for b.Loop() {
		inst, err := m.newInstance(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		inst.close()
	}
}

// BenchmarkGuestCall measures one bare wazero call (custos_reset of
// coldchain) with and without WithCloseOnContextDone, i.e. the cost of the
// goroutine wazero starts per call to make calls interruptible.
func BenchmarkGuestCall(b *testing.B) {
	for _, tc := range []struct {
		name string
		on   bool
	}{{"closeOnContextDone", true}, {"uninterruptible", false}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(tc.on))
			defer r.Close(ctx)
			h := newTestHost(b, Config{})
			_ = h
			mod, err := instantiateRaw(ctx, r, builtin.Coldchain().Wasm)
			if err != nil {
				b.Fatal(err)
			}
			f := mod.ExportedFunction("custos_reset")
			stack := make([]uint64, 1)
			b.ReportAllocs()
			for b.Loop() {
				if err := f.CallWithStack(ctx, stack); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkViewColdchainWASM: rendering the JSON view (custos_view), which
// the runtime asks for when it publishes a changed twin.
func BenchmarkViewColdchainWASM(b *testing.B) {
	_, c := coldchain(b, Config{PoolSize: 1})
	ctx := context.Background()
	create := twin.Event{Kind: twin.KindCreate, Time: t0, Fields: []string{"pallet", "", "", ""}}
	out, err := c.Init(ctx, twin.Call{Twin: "p", Time: t0}, encodeEvent(b, create))
	if err != nil {
		b.Fatal(err)
	}
	for i, ev := range benchEvents(b, 10) {
		if out, err = c.Apply(ctx, twin.Call{Twin: "p", Seq: uint64(i + 1), Time: t0}, out.State, ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.View(ctx, twin.Call{Twin: "p", Seq: 10, Time: t0}, out.State); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMeteringRatio measures the cost of metering robustly on a
// shared machine: for each coldchain build it alternates rounds of 500
// applies on the unmetered module (what a trusted built-in call cost
// before fuel) and on the same build deployed (metered), and reports the
// median over rounds of metered/unmetered time. Alternating in short
// rounds cancels the drift of other load, which -count runs do not.
func BenchmarkMeteringRatio(b *testing.B) {
	for _, bl := range coldchainBuilds {
		b.Run(bl.name, func(b *testing.B) {
			_, plain := loadModule(b, bl.wasm(b), regOpts{trusted: true, unmetered: true})
			_, metered := loadModule(b, bl.wasm(b), regOpts{dryRun: true})
			ctx := context.Background()
			evs := benchEvents(b, 1000)
			create := twin.Event{Kind: twin.KindCreate, Time: t0, Fields: []string{"pallet", `{"excursion_budget_s":1e9}`, "", ""}}
			states := [2][]byte{}
			for i, c := range []twin.Contract{plain, metered} {
				out, err := c.Init(ctx, twin.Call{Twin: "p", Time: t0}, encodeEvent(b, create))
				if err != nil {
					b.Fatal(err)
				}
				states[i] = out.State
			}
			round := func(i int, c twin.Contract, n int) time.Duration {
				start := time.Now()
				for j := range n {
					out, err := c.Apply(ctx, twin.Call{Twin: "p", Seq: uint64(j), Time: t0}, states[i], evs[j%len(evs)])
					if err != nil {
						b.Fatal(err)
					}
					states[i] = out.State
				}
				return time.Since(start)
			}
			var ratios []float64
			var plainT, meteredT time.Duration
			for b.Loop() {
				p := round(0, plain, 500)
				m := round(1, metered, 500)
				plainT += p
				meteredT += m
				ratios = append(ratios, float64(m)/float64(p))
			}
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "metered/unmetered")
			b.ReportMetric(float64(plainT.Nanoseconds())/float64(500*len(ratios)), "unmetered-ns/apply")
			b.ReportMetric(float64(meteredT.Nanoseconds())/float64(500*len(ratios)), "metered-ns/apply")
			b.ReportMetric(0, "ns/op")
		})
	}
}
