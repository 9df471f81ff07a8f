package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

// nopHost is a ContractHost whose contracts do nothing: it isolates the
// cost of the instrumentation.
type nopHost struct{}

func (nopHost) Resolve(context.Context, string, string) (twin.ContractRef, error) {
	return twin.ContractRef{}, nil
}
func (nopHost) Contract(context.Context, twin.Hash) (twin.Contract, error) { return nopContract{}, nil }

type nopContract struct{}

func (nopContract) Init(context.Context, twin.Call, []byte) (twin.Output, error) {
	return twin.Output{}, nil
}
func (nopContract) Apply(context.Context, twin.Call, []byte, []byte) (twin.Output, error) {
	return twin.Output{}, nil
}
func (nopContract) View(context.Context, twin.Call, []byte) ([]byte, error) { return nil, nil }

func TestInstrumentContracts(t *testing.T) {
	m := New()
	c, err := m.InstrumentContracts(nopHost{}).Contract(context.Background(), twin.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	const calls = 8000
	for range calls {
		c.Apply(context.Background(), twin.Call{}, nil, nil)
	}
	c.Init(context.Background(), twin.Call{}, nil)
	counts := map[string]uint64{}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "custos_contract_call_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			counts[mt.GetLabel()[0].GetValue()] = mt.GetHistogram().GetSampleCount()
		}
	}
	// Apply is sampled 1 in 8: 1000 expected, binomial σ ≈ 30.
	if a := counts["apply"]; a < 800 || a > 1200 || counts["init"] != 1 || counts["view"] != 0 {
		t.Errorf("call counts %v, want apply ≈ %d, init 1, view 0", counts, calls/contractSample)
	}
}

// BenchmarkInstrumentedApply measures what the latency histogram adds to
// one contract call (compare with BenchmarkBareApply).
func BenchmarkInstrumentedApply(b *testing.B) {
	c, _ := New().InstrumentContracts(nopHost{}).Contract(context.Background(), twin.Hash{})
	ctx := context.Background()
	for b.Loop() {
		c.Apply(ctx, twin.Call{}, nil, nil)
	}
}

func BenchmarkBareApply(b *testing.B) {
	c, _ := nopHost{}.Contract(context.Background(), twin.Hash{})
	ctx := context.Background()
	for b.Loop() {
		c.Apply(ctx, twin.Call{}, nil, nil)
	}
}

func BenchmarkSampled(b *testing.B) {
	n := 0
	for b.Loop() {
		if sampled() {
			n++
		}
	}
	_ = n
}

func BenchmarkObserve(b *testing.B) {
	h := New().ContractSeconds.WithLabelValues("apply")
	for b.Loop() {
		since(h, time.Now())
	}
}
