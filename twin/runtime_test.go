package twin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func newTestRuntime(t testing.TB) (*Runtime, *memStore) {
	t.Helper()
	st := newMemStore()
	rt, err := New(Config{Store: st, Contracts: fakeHost{bandContract{}}, Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	return rt, st
}

func createInput(seq uint64, id string) Input {
	in, err := (&Command{Type: "create", Kind: "pallet", Contract: &ContractRef{Name: "band", Version: "1", SHA256: fakeModule},
		Params: json.RawMessage(`{"max_c": 8}`), Custodian: "factory"}).Input(id, t0)
	if err != nil {
		panic(err)
	}
	in.StreamSeq = seq
	return *in
}

func reading(seq uint64, id string, v float64, at time.Time) Input {
	return Input{StreamSeq: seq, Twin: id, Events: []Event{{Kind: KindReading, Type: TypeTemperature, Time: at, Value: v, Fields: []string{"t1", "CEL"}}}}
}

func TestRuntimeAppliesInOrderAndChainsDigests(t *testing.T) {
	ctx := context.Background()
	rt, st := newTestRuntime(t)
	in := []Input{createInput(1, "PAL-1"), createInput(2, "PAL-2")}
	for i := 0; i < 20; i++ {
		in = append(in, reading(uint64(3+i), []string{"PAL-1", "PAL-2"}[i%2], float64(i), t0.Add(time.Duration(i)*time.Second)))
	}
	out, err := rt.Process(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range out.Results {
		if r.Err != nil || r.Duplicate || len(r.Failed) > 0 {
			t.Fatalf("input %d: %+v", i, r)
		}
	}
	if len(out.States) != 2 {
		t.Fatalf("states = %d, want 2 (one per changed twin)", len(out.States))
	}
	// Values 9..19 are above 8: one alert each.
	if len(out.Alerts) != 11 {
		t.Fatalf("alerts = %d, want 11", len(out.Alerts))
	}
	for _, id := range []string{"PAL-1", "PAL-2"} {
		tw, err := st.Twin(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if tw.Seq != 11 {
			t.Errorf("%s seq = %d, want 11 (create + 10 readings)", id, tw.Seq)
		}
		// Recompute the digest chain from the history alone.
		recs, _ := st.History(ctx, HistoryQuery{Twin: id})
		var d Hash
		var last Event
		for i, r := range recs {
			if r.Seq != uint64(i+1) {
				t.Fatalf("%s record %d has seq %d", id, i, r.Seq)
			}
			if Keccak256(r.Event) != r.EventHash {
				t.Fatalf("%s seq %d: event hash mismatch", id, r.Seq)
			}
			if err := last.UnmarshalBinary(r.Event); err != nil || last.Seq != r.Seq {
				t.Fatalf("%s seq %d: event decodes to seq %d (%v)", id, r.Seq, last.Seq, err)
			}
			d = r.Link(d)
			if d != r.Digest {
				t.Fatalf("%s seq %d: digest mismatch", id, r.Seq)
			}
		}
		if d != tw.Digest {
			t.Fatalf("%s: head digest %s, recomputed %s", id, tw.Digest, d)
		}
		if Keccak256(tw.State) != recs[len(recs)-1].StateHash {
			t.Fatalf("%s: state hash of snapshot differs from last record", id)
		}
		if string(tw.View) != `{"readings":10}` {
			t.Errorf("%s view = %s", id, tw.View)
		}
	}
	// PAL-2 got odd values 1..19: last 19.
	if tw, _ := st.Twin(ctx, "PAL-2"); tw.StreamSeq != 22 {
		t.Errorf("PAL-2 stream seq = %d, want 22", tw.StreamSeq)
	}
}

func TestRuntimeSkipsDuplicatesAndRejects(t *testing.T) {
	ctx := context.Background()
	rt, st := newTestRuntime(t)
	if _, err := rt.Process(ctx, []Input{createInput(1, "A"), reading(2, "A", 5, t0)}); err != nil {
		t.Fatal(err)
	}
	out, err := rt.Process(ctx, []Input{
		reading(2, "A", 5, t0),          // redelivered
		createInput(3, "A"),             // exists
		reading(4, "nobody", 1, t0),     // unknown twin
		reading(5, "A", 666, t0),        // contract trap
		reading(6, "A", 6, t0.Add(1e9)), // fine
	})
	if err != nil {
		t.Fatal(err)
	}
	r := out.Results
	if !r[0].Duplicate {
		t.Errorf("redelivery not skipped: %+v", r[0])
	}
	if r[1].Err == nil || r[1].Err.Reason != ReasonTwinExists {
		t.Errorf("second create: %+v", r[1])
	}
	if r[2].Err == nil || r[2].Err.Reason != ReasonUnknownTwin {
		t.Errorf("unknown twin: %+v", r[2])
	}
	if len(r[3].Failed) != 1 || r[3].Failed[0].Err.Reason != ReasonContractFailed {
		t.Errorf("trap: %+v", r[3])
	}
	if r[4].Err != nil || len(r[4].Failed) != 0 {
		t.Errorf("good reading after trap: %+v", r[4])
	}
	// The trap is deterministic: a failure record at seq 3, state unchanged.
	tw, _ := st.Twin(ctx, "A")
	if tw.Seq != 4 || tw.StreamSeq != 6 {
		t.Errorf("seq %d stream %d, want 4 and 6", tw.Seq, tw.StreamSeq)
	}
	if len(out.Alerts) != 1 || out.Alerts[0].Code != "contract_failed" || out.Alerts[0].Seq != 3 {
		t.Errorf("alerts = %+v, want one contract_failed at seq 3", out.Alerts)
	}
	recs, _ := st.History(ctx, HistoryQuery{Twin: "A"})
	if len(recs) != 4 || recs[2].Failure != FailureTrap || recs[2].StateHash != recs[1].StateHash ||
		recs[2].StreamSeq != 5 || recs[3].Failure != "" {
		t.Fatalf("history = %+v, want a trap failure record at seq 3", recs)
	}
	var d Hash
	for _, r := range recs {
		if d = r.Link(d); d != r.Digest {
			t.Fatalf("seq %d: digest chain broken", r.Seq)
		}
	}
	if recs[2].Digest == NextDigest(recs[1].Digest, "A", 3, recs[2].EventHash, recs[2].StateHash, recs[2].Module) {
		t.Fatal("failure kind not in the digest")
	}
	// Closed twins refuse input; compromised never reverts through status commands.
	in, _ := (&Command{Type: "status", Status: "in_transit"}).Input("A", t0)
	in.StreamSeq = 7
	out, _ = rt.Process(ctx, []Input{reading(8, "A", 101, t0.Add(2e9))})
	_ = out
	if _, err := rt.Process(ctx, []Input{*in}); err != nil {
		t.Fatal(err)
	}
	if tw, _ := st.Twin(ctx, "A"); tw.Status != StatusCompromised {
		t.Errorf("status = %s, want compromised to stick", tw.Status)
	}
}

func TestRuntimeCommitFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	rt, st := newTestRuntime(t)
	if _, err := rt.Process(ctx, []Input{createInput(1, "A")}); err != nil {
		t.Fatal(err)
	}
	st.fail = errors.New("disk on fire")
	if _, err := rt.Process(ctx, []Input{reading(2, "A", 1, t0), reading(3, "A", 2, t0)}); err == nil {
		t.Fatal("commit failure not reported")
	}
	st.fail = nil
	// The same inputs again: applied exactly once.
	if _, err := rt.Process(ctx, []Input{reading(2, "A", 1, t0), reading(3, "A", 2, t0)}); err != nil {
		t.Fatal(err)
	}
	tw, _ := st.Twin(ctx, "A")
	if tw.Seq != 3 {
		t.Fatalf("seq = %d, want 3", tw.Seq)
	}
}

func TestRuntimePassivatesAndReloads(t *testing.T) {
	ctx := context.Background()
	rt, st := newTestRuntime(t)
	if _, err := rt.Process(ctx, []Input{createInput(1, "A"), reading(2, "A", 1, t0)}); err != nil {
		t.Fatal(err)
	}
	if n := rt.Passivate(time.Now().Add(time.Hour)); n != 1 {
		t.Fatalf("passivated %d, want 1", n)
	}
	if rt.Stats().Resident != 0 {
		t.Fatal("twin still resident")
	}
	if _, err := rt.Process(ctx, []Input{reading(3, "A", 2, t0)}); err != nil {
		t.Fatal(err)
	}
	if tw, _ := st.Twin(ctx, "A"); tw.Seq != 3 {
		t.Fatalf("seq = %d after reload, want 3", tw.Seq)
	}
}

func TestRuntimeTimers(t *testing.T) {
	ctx := context.Background()
	rt, st := newTestRuntime(t)
	// 998 sets a processing-time timer, one minute after the record time.
	before := time.Now()
	if _, err := rt.Process(ctx, []Input{createInput(1, "A"), reading(2, "A", 998, t0)}); err != nil {
		t.Fatal(err)
	}
	tw, _ := st.Twin(ctx, "A")
	if len(tw.Timers) != 1 || !tw.Timers[0].Processing || tw.Timers[0].At.Before(before.Add(time.Minute)) ||
		tw.Timers[0].At.After(time.Now().Add(time.Minute)) {
		t.Fatalf("timers = %+v", tw.Timers)
	}
	at := tw.Timers[0].At
	if due := rt.timers.due(at.Add(-time.Millisecond)); len(due) != 0 {
		t.Fatalf("due early: %+v", due)
	}
	due := rt.timers.due(at)
	if len(due) != 1 || due[0].twin != "A" {
		t.Fatalf("due = %+v", due)
	}
	if again := rt.timers.due(at); len(again) != 0 {
		t.Fatalf("timer fired twice within refire window: %+v", again)
	}
	fired := at.Add(3 * time.Millisecond)
	fire, err := ParseTimer("A", must(json.Marshal(TimerFired{Name: "silence", At: at})), fired)
	if err != nil {
		t.Fatal(err)
	}
	fire.StreamSeq = 3
	out, err := rt.Process(ctx, []Input{*fire})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Alerts) != 1 || out.Alerts[0].Code != "silent" || !out.Alerts[0].Time.Equal(fired) {
		t.Fatalf("alerts = %+v", out.Alerts)
	}
	// The same timer again (stale): ignored, no event applied.
	fire.StreamSeq = 4
	if _, err := rt.Process(ctx, []Input{*fire}); err != nil {
		t.Fatal(err)
	}
	tw, _ = st.Twin(ctx, "A")
	if tw.Seq != 3 || len(tw.Timers) != 0 {
		t.Fatalf("seq %d timers %+v, want 3 and none", tw.Seq, tw.Timers)
	}
	// Its record says processing, and the server's time did not move the
	// watermark.
	recs, _ := st.History(ctx, HistoryQuery{Twin: "A"})
	recs = recs[2:]
	var e Event
	if len(recs) != 1 || recs[0].Kind != KindTimer || e.UnmarshalBinary(recs[0].Event) != nil ||
		e.Field(1) != ClockProcessing || !e.Time.Equal(fired) || recs[0].StreamSeq != 3 {
		t.Fatalf("timer record %+v (event %+v)", recs, e)
	}
	if !tw.Watermark.Equal(t0) {
		t.Fatalf("watermark %v, want %v", tw.Watermark, t0)
	}
	if rt.Stats().Timers != 0 {
		t.Fatal("timer queue not cleared")
	}
}

func TestRuntimeWait(t *testing.T) {
	ctx := context.Background()
	rt, _ := newTestRuntime(t)
	done := make(chan Result, 1)
	go func() {
		r, _ := rt.Wait(ctx, 1)
		done <- r
	}()
	time.Sleep(10 * time.Millisecond)
	if _, err := rt.Process(ctx, []Input{createInput(1, "A"), createInput(2, "A")}); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.Err != nil || r.Seq != 1 {
		t.Fatalf("wait before: %+v", r)
	}
	// After the fact.
	r, err := rt.Wait(ctx, 2)
	if err != nil || r.Err == nil || r.Err.Reason != ReasonTwinExists {
		t.Fatalf("wait after: %+v %v", r, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := rt.Wait(cctx, 99); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait for unknown seq: %v", err)
	}
}

func TestTwinJSONMatchesEncodingJSON(t *testing.T) {
	tw := &Twin{ID: "PAL-1", Kind: "pal\"let<>", Contract: ContractRef{Name: "coldchain", Version: "1.0.0", SHA256: Hash{9}},
		Params: json.RawMessage(`{"min_c":2}`), Parent: "SHIP-1", Children: []string{"C-1", "C-2"}, Custodian: "acme\u00e9\n",
		Status: "in_transit", Seq: 42, View: json.RawMessage(`{"t":5.1}`), Digest: Hash{7}, Alerts: 3,
		Created: t0, Updated: t0.Add(1500 * time.Millisecond)}
	type plain Twin // encoding/json's view, without the MarshalJSON method
	want, err := json.Marshal((*plain)(tw))
	if err != nil {
		t.Fatal(err)
	}
	got := tw.AppendJSON(nil)
	if string(got) != string(want) {
		t.Fatalf("AppendJSON:\n%s\nencoding/json:\n%s", got, want)
	}
	empty := &Twin{ID: "X", Status: "created"}
	if got, want := empty.AppendJSON(nil), must(json.Marshal((*plain)(empty))); string(got) != string(want) {
		t.Fatalf("empty twin:\n%s\n%s", got, want)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestRuntimePipelinedStepsAndFailure(t *testing.T) {
	ctx := context.Background()
	rt, st := newTestRuntime(t)
	s1, err := rt.Apply(ctx, []Input{createInput(1, "A"), reading(2, "A", 1, t0)})
	if err != nil {
		t.Fatal(err)
	}
	// The second batch applies on top of the first before it is durable.
	s2, err := rt.Apply(ctx, []Input{reading(3, "A", 2, t0.Add(time.Second))})
	if err != nil {
		t.Fatal(err)
	}
	// Not passivated while ahead of the store, however old.
	if n := rt.Passivate(time.Now().Add(time.Hour)); n != 0 {
		t.Fatalf("passivated %d twins with uncommitted changes", n)
	}
	if _, err := rt.Commit(ctx, s1); err != nil {
		t.Fatal(err)
	}
	if tw, _ := st.Twin(ctx, "A"); tw.Seq != 2 {
		t.Fatalf("after step 1: seq %d", tw.Seq)
	}
	st.fail = errors.New("store gone")
	if _, err := rt.Commit(ctx, s2); err == nil {
		t.Fatal("commit failure not reported")
	}
	if _, err := rt.Apply(ctx, []Input{reading(4, "A", 3, t0)}); !errors.Is(err, ErrNeedsEvict) {
		t.Fatalf("apply after failed commit: %v", err)
	}
	st.fail = nil
	rt.Evict()
	// Redelivery from the ack floor: input 3 again, then 4.
	if _, err := rt.Process(ctx, []Input{reading(3, "A", 2, t0.Add(time.Second)), reading(4, "A", 3, t0)}); err != nil {
		t.Fatal(err)
	}
	if tw, _ := st.Twin(ctx, "A"); tw.Seq != 4 || tw.StreamSeq != 4 {
		t.Fatalf("seq %d stream %d, want 4 and 4", tw.Seq, tw.StreamSeq)
	}
}

func TestRuntimeGroupCommit(t *testing.T) {
	ctx := context.Background()
	rt, st := newTestRuntime(t)
	var steps []*Step
	for _, in := range [][]Input{
		{createInput(1, "A"), createInput(2, "B"), reading(3, "A", 1, t0)},
		{reading(4, "A", 2, t0.Add(time.Second)), reading(5, "B", 30, t0)},
		{reading(6, "A", 3, t0.Add(2*time.Second))},
	} {
		s, err := rt.Apply(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		steps = append(steps, s)
	}
	if err := rt.CommitAll(ctx, steps); err != nil {
		t.Fatal(err)
	}
	if st.commits != 1 {
		t.Fatalf("%d store writes for one group, want 1", st.commits)
	}
	a, _ := st.Twin(ctx, "A")
	b, _ := st.Twin(ctx, "B")
	if a.Seq != 4 || a.StreamSeq != 6 || b.Seq != 2 || b.StreamSeq != 5 {
		t.Fatalf("A seq %d stream %d, B seq %d stream %d: want the last snapshots", a.Seq, a.StreamSeq, b.Seq, b.StreamSeq)
	}
	prev := Hash{}
	for i, r := range st.records["A"] {
		if r.Seq != uint64(i+1) || r.Link(prev) != r.Digest {
			t.Fatalf("record %d of A: seq %d, chain broken: %v", i, r.Seq, r.Link(prev) != r.Digest)
		}
		prev = r.Digest
	}
	if prev != a.Digest || len(st.records["B"]) != 2 || len(st.alerts) == 0 {
		t.Fatalf("A head %v vs %v, B records %d, alerts %d", prev, a.Digest, len(st.records["B"]), len(st.alerts))
	}
	if res := steps[2].Outcome().Results[0]; res.Seq != 4 || res.Err != nil {
		t.Fatalf("outcome of the last step: %+v", res)
	}
	if s := rt.Stats(); s.Applied != 6 {
		t.Fatalf("applied %d, want 6", s.Applied)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if res, err := rt.Wait(wctx, 2); err != nil || res.Seq != 1 || res.Err != nil {
		t.Fatalf("wait for the create of B: %+v %v", res, err)
	}

	// A group that fails leaves nothing of any of its steps.
	s1, _ := rt.Apply(ctx, []Input{reading(7, "A", 4, t0.Add(3*time.Second))})
	s2, _ := rt.Apply(ctx, []Input{reading(8, "B", 5, t0.Add(time.Second))})
	st.fail = errors.New("store gone")
	if err := rt.CommitAll(ctx, []*Step{s1, s2}); err == nil {
		t.Fatal("group commit failure not reported")
	}
	if a, _ := st.Twin(ctx, "A"); a.Seq != 4 || len(st.records["A"]) != 4 || len(st.records["B"]) != 2 {
		t.Fatalf("failed group left A at seq %d with %d records, B %d records", a.Seq, len(st.records["A"]), len(st.records["B"]))
	}
	if _, err := rt.Apply(ctx, []Input{reading(9, "A", 3, t0)}); !errors.Is(err, ErrNeedsEvict) {
		t.Fatalf("apply after failed group commit: %v", err)
	}
}

// bandV2 is a second version of the fake contract that can migrate.
type bandV2 struct{ bandContract }

var fakeModuleV2 = Hash{4, 5, 6}

func (bandV2) Migrate(ctx context.Context, call Call, state, event []byte) (Output, error) {
	var e Event
	if err := e.UnmarshalBinary(event); err != nil {
		return Output{}, err
	}
	if e.Field(0) != fakeModule.Hex() || e.Field(2) != "2" {
		return Output{}, fmt.Errorf("upgrade event fields %q", e.Fields)
	}
	return Output{State: append([]byte("v2:"), state...)}, nil
}

type twoVersions struct{}

func (twoVersions) Resolve(ctx context.Context, name, version string) (ContractRef, error) {
	return fakeHost{}.Resolve(ctx, name, version)
}

func (twoVersions) Contract(ctx context.Context, module Hash) (Contract, error) {
	switch module {
	case fakeModule:
		return bandContract{}, nil
	case fakeModuleV2:
		return bandV2{}, nil
	}
	return nil, ErrUnknownPolicy
}

func TestRuntimeUpgrade(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	rt, err := New(Config{Store: st, Contracts: twoVersions{}, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	up, err := (&Command{Type: "upgrade", Contract: &ContractRef{Name: "band", Version: "2", SHA256: fakeModuleV2}}).Input("A", t0)
	if err != nil {
		t.Fatal(err)
	}
	up.StreamSeq = 3
	same, _ := (&Command{Type: "upgrade", Contract: &ContractRef{Name: "band", Version: "1", SHA256: fakeModule}}).Input("A", t0)
	same.StreamSeq = 4
	out, err := rt.Process(ctx, []Input{createInput(1, "A"), reading(2, "A", 1, t0), *up, *same, reading(5, "A", 2, t0)})
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Results[2]; r.Err != nil || r.Seq != 3 {
		t.Fatalf("upgrade: %+v", r)
	}
	if r := out.Results[3]; r.Err == nil || r.Err.Reason != ReasonInvalidCommand {
		t.Fatalf("upgrade to the module it runs: %+v", r)
	}
	tw, _ := st.Twin(ctx, "A")
	if tw.Contract.SHA256 != fakeModuleV2 || tw.Seq != 4 {
		t.Fatalf("after upgrade: contract %v seq %d", tw.Contract, tw.Seq)
	}
	recs, _ := st.History(ctx, HistoryQuery{Twin: "A"})
	if recs[2].Module != fakeModuleV2 || recs[1].Module != fakeModule || recs[3].Module != fakeModuleV2 {
		t.Fatalf("modules in history: %v %v %v", recs[1].Module, recs[2].Module, recs[3].Module)
	}
	// bandContract (v1) cannot be an upgrade target: it has no Migrate.
	back, _ := (&Command{Type: "upgrade", Contract: &ContractRef{Name: "band", Version: "1", SHA256: fakeModule}}).Input("A", t0)
	back.StreamSeq = 6
	out, _ = rt.Process(ctx, []Input{*back})
	if r := out.Results[0]; r.Err == nil || !strings.Contains(r.Err.Detail, "custos_migrate") {
		t.Fatalf("upgrade to a module without custos_migrate: %+v", r)
	}
}

// TestCancelledApplyIsNoVerdict: a contract call that fails because ingest
// is stopping (its context cancelled) neither refuses a create nor drops a
// reading with a contract_failed alert: Apply fails, nothing is committed,
// and the same input applies normally when it comes again.
func TestCancelledApplyIsNoVerdict(t *testing.T) {
	rt, st := newTestRuntime(t)
	ctx := context.Background()
	if _, err := rt.Process(ctx, []Input{createInput(1, "A")}); err != nil {
		t.Fatal(err)
	}
	in := []Input{createInput(2, "B"), reading(3, "A", 5, t0.Add(time.Minute))}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := rt.Apply(cancelled, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a cancelled context: %v, want context.Canceled", err)
	}
	rt.Evict()
	out, err := rt.Process(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range out.Results {
		if r.Err != nil || r.Duplicate {
			t.Fatalf("input %d after the restart: %+v", i, r)
		}
	}
	if a, b := st.twins["A"], st.twins["B"]; a == nil || b == nil || a.Seq != 2 || b.Seq != 1 || len(out.Alerts) != 0 {
		t.Fatalf("after the restart: A %+v, B %+v, alerts %v", a, b, out.Alerts)
	}
}

// BenchmarkProcessReadings: the runtime's own cost per reading — apply
// (contract, digests, records) and commit into an in-memory store — in
// batches of 1,000 readings to 1,000 resident twins.
func BenchmarkProcessReadings(b *testing.B) {
	ctx := context.Background()
	rt, st := newTestRuntime(b)
	const twins = 1000
	ids := make([]string, twins)
	in := make([]Input, 0, twins)
	for i := range ids {
		ids[i] = fmt.Sprintf("T%d", i)
		in = append(in, createInput(uint64(i+1), ids[i]))
	}
	if _, err := rt.Process(ctx, in); err != nil {
		b.Fatal(err)
	}
	seq := uint64(twins)
	b.ReportAllocs()
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		in = in[:0]
		for i, id := range ids {
			seq++
			in = append(in, reading(seq, id, float64(i%10), t0.Add(time.Duration(k+1)*time.Minute)))
		}
		if _, err := rt.Process(ctx, in); err != nil {
			b.Fatal(err)
		}
		st.mu.Lock()
		clear(st.records)
		st.alerts = st.alerts[:0]
		st.mu.Unlock()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*twins), "ns/reading")
}
