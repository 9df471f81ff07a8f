package twin

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func history(t *testing.T, st *memStore, id string) []Record {
	t.Helper()
	recs, err := st.History(context.Background(), HistoryQuery{Twin: id, Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func decode(t *testing.T, r Record) Event {
	t.Helper()
	var e Event
	if err := e.UnmarshalBinary(r.Event); err != nil {
		t.Fatal(err)
	}
	return e
}

// An event-time timer fires by watermark, inline, before the first event at
// or after its due time, never by the server's clock; it takes its own seq,
// at its due time, with no stream seq.
func TestEventTimeTimerFiresByWatermark(t *testing.T) {
	ctx := context.Background()
	rt, st := newTestRuntime(t)
	out, err := rt.Process(ctx, []Input{
		createInput(1, "A"),
		reading(2, "A", 999, t0),                   // sets "silence" at t0+1m
		reading(3, "A", 5, t0.Add(30*time.Second)), // before: nothing fires
	})
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(out.Alerts, func(a Alert) bool { return a.Code == "silent" }) || rt.Stats().Timers != 0 {
		t.Fatalf("alerts %+v, wall-clock timers %d: an event-time timer is not on the server's clock", out.Alerts, rt.Stats().Timers)
	}
	out, err = rt.Process(ctx, []Input{reading(4, "A", 5, t0.Add(2*time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Alerts) != 1 || out.Alerts[0].Message != "silence/event" || out.Alerts[0].Seq != 4 || !out.Alerts[0].Time.Equal(t0.Add(time.Minute)) {
		t.Fatalf("alerts = %+v", out.Alerts)
	}
	recs := history(t, st, "A")
	if len(recs) != 5 {
		t.Fatalf("%d records, want 5", len(recs))
	}
	tm := recs[3]
	if e := decode(t, tm); tm.Kind != KindTimer || tm.StreamSeq != 0 || !tm.Time.Equal(t0.Add(time.Minute)) || e.Field(1) != ClockEvent {
		t.Fatalf("timer record %+v", tm)
	}
	if recs[4].StreamSeq != 4 || recs[1].StreamSeq != 2 {
		t.Fatalf("stream seqs %d %d", recs[1].StreamSeq, recs[4].StreamSeq)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Time.Before(recs[i-1].Time) {
			t.Fatalf("history not monotonic in event time at seq %d", recs[i].Seq)
		}
		if recs[i].RecordTime.IsZero() {
			t.Fatalf("seq %d: no record time", recs[i].Seq)
		}
	}
	tw, _ := st.Twin(ctx, "A")
	if !tw.Watermark.Equal(t0.Add(2*time.Minute)) || len(tw.Timers) != 0 || !tw.LastReading.Equal(t0.Add(2*time.Minute)) || tw.Lag <= 0 {
		t.Fatalf("twin watermark %v timers %v last reading %v lag %v", tw.Watermark, tw.Timers, tw.LastReading, tw.Lag)
	}
}

// A reading older than the watermark is applied, flagged LATE in its
// encoding (hence in the digest) and in its record; it does not move the
// watermark back, and it fires no timer.
func TestLateReading(t *testing.T) {
	ctx := context.Background()
	rt, st := newTestRuntime(t)
	if _, err := rt.Process(ctx, []Input{
		createInput(1, "A"),
		reading(2, "A", 999, t0.Add(time.Hour)),
		reading(3, "A", 4, t0.Add(10*time.Minute)), // late
	}); err != nil {
		t.Fatal(err)
	}
	recs := history(t, st, "A")
	if len(recs) != 3 || recs[1].Late || !recs[2].Late || decode(t, recs[2]).Flags&EventLate == 0 {
		t.Fatalf("records %+v", recs)
	}
	tw, _ := st.Twin(ctx, "A")
	if !tw.Watermark.Equal(t0.Add(time.Hour)) || !tw.LastReading.Equal(t0.Add(time.Hour)) || len(tw.Timers) != 1 {
		t.Fatalf("watermark %v last reading %v timers %v", tw.Watermark, tw.LastReading, tw.Timers)
	}
}

// A non-deterministic failure (quarantined module) is not a verdict about
// the event: no seq, no record; the alert stays. A failed create applies
// nothing.
func TestNonDeterministicFailureNotRecorded(t *testing.T) {
	ctx := context.Background()
	rt, st := newTestRuntime(t)
	bad, _ := (&Command{Type: "create", Kind: "pallet", Contract: &ContractRef{Name: "band", Version: "1", SHA256: fakeModule},
		Params: json.RawMessage(`{"refuse":1}`)}).Input("B", t0)
	bad.StreamSeq = 9
	out, err := rt.Process(ctx, []Input{createInput(1, "A"), reading(2, "A", 555, t0), *bad})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Results[1].Failed) != 1 || len(out.Alerts) != 1 || out.Alerts[0].Seq != 1 {
		t.Fatalf("results %+v alerts %+v", out.Results, out.Alerts)
	}
	if out.Results[2].Err == nil {
		t.Fatal("refused create accepted")
	}
	if recs := history(t, st, "A"); len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	if _, err := st.Twin(ctx, "B"); err == nil {
		t.Fatal("failed create left a twin")
	}
}

func createLateness(seq uint64, id, lateness string) Input {
	in, err := (&Command{Type: "create", Kind: "pallet", Contract: &ContractRef{Name: "band", Version: "1", SHA256: fakeModule},
		Params: json.RawMessage(`{}`), Lateness: lateness}).Input(id, t0)
	if err != nil {
		panic(err)
	}
	in.StreamSeq = seq
	return *in
}

// With an allowed-lateness window, readings shuffled within it give the
// same history and digest as in order; the held-back readings are persisted
// with the twin (a reload loses nothing) and a command releases those at or
// before its time.
func TestAllowedLatenessReorders(t *testing.T) {
	ctx := context.Background()
	const n = 60
	vals := make([]Input, n)
	for i := range vals {
		vals[i] = reading(0, "", float64(i%13), t0.Add(time.Duration(i+1)*time.Minute))
	}
	vals[20].Events[0].Value = 999 // sets an event-time timer a minute later
	run := func(order []int, evictEvery int) (*Twin, []Record) {
		rt, st := newTestRuntime(t)
		if _, err := rt.Process(ctx, []Input{createLateness(1, "L", "10m")}); err != nil {
			t.Fatal(err)
		}
		for k, i := range order {
			in := vals[i]
			in.Twin, in.StreamSeq = "L", uint64(k+2)
			in.Events = []Event{cloneEvent(&in.Events[0])}
			if _, err := rt.Process(ctx, []Input{in}); err != nil {
				t.Fatal(err)
			}
			if evictEvery > 0 && k%evictEvery == 0 {
				rt.Evict() // reload from the store: buffered readings must be there
			}
		}
		mid, _ := st.Twin(ctx, "L")
		if len(mid.Buffered) == 0 {
			t.Fatal("nothing held back at the end of the input")
		}
		close, _ := (&Command{Type: "status", Status: "delivered"}).Input("L", t0.Add(24*time.Hour))
		close.StreamSeq = n + 2
		if _, err := rt.Process(ctx, []Input{*close}); err != nil {
			t.Fatal(err)
		}
		tw, _ := st.Twin(ctx, "L")
		return tw, history(t, st, "L")
	}
	inOrder := make([]int, n)
	for i := range inOrder {
		inOrder[i] = i
	}
	wantTwin, wantRecs := run(inOrder, 0)
	if len(wantRecs) != n+3 || len(wantTwin.Buffered) != 0 { // create, 60 readings, timer, status
		t.Fatalf("%d records, %d buffered", len(wantRecs), len(wantTwin.Buffered))
	}
	for i, r := range wantRecs {
		if r.Late || (i > 0 && r.Time.Before(wantRecs[i-1].Time)) {
			t.Fatalf("in order: seq %d late %v or not monotonic", r.Seq, r.Late)
		}
	}
	// Shuffle within windows of 8 minutes (< 10 m).
	rng := rand.New(rand.NewPCG(1, 2))
	shuffled := slices.Clone(inOrder)
	for i := 0; i < n; i += 8 {
		w := shuffled[i:min(i+8, n)]
		rng.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
	}
	gotTwin, gotRecs := run(shuffled, 7)
	if gotTwin.Digest != wantTwin.Digest || gotTwin.Seq != wantTwin.Seq || gotTwin.Alerts != wantTwin.Alerts {
		t.Fatalf("shuffled within the window: seq %d digest %s, in order: seq %d digest %s",
			gotTwin.Seq, gotTwin.Digest, wantTwin.Seq, wantTwin.Digest)
	}
	for i := range gotRecs {
		if gotRecs[i].Digest != wantRecs[i].Digest {
			t.Fatalf("seq %d differs", gotRecs[i].Seq)
		}
	}
	// Beyond the window: a reading older than the watermark (which trails
	// the newest reading by the window) is applied LATE.
	rt, st := newTestRuntime(t)
	if _, err := rt.Process(ctx, []Input{createLateness(1, "M", "10m"),
		reading(2, "M", 1, t0.Add(time.Hour)), reading(3, "M", 1, t0.Add(2*time.Hour)),
		reading(4, "M", 1, t0.Add(3*time.Hour)), reading(5, "M", 1, t0.Add(90*time.Minute))}); err != nil {
		t.Fatal(err)
	}
	recs := history(t, st, "M")
	if len(recs) != 4 || !recs[3].Late || recs[3].StreamSeq != 5 || recs[2].Late {
		t.Fatalf("beyond the window: %+v", recs)
	}
	if _, err := (&Command{Type: "create", Kind: "k", Contract: &ContractRef{SHA256: fakeModule}, Lateness: "-1s"}).Input("X", t0); err == nil {
		t.Fatal("negative lateness accepted")
	}
}

// A timer message from the stream for a timer that is not a pending
// processing-time timer (an event-time one, as an older version published
// them by the server's clock) changes nothing: event-time timers fire only
// by watermark.
func TestStreamTimerForEventTimeTimerIgnored(t *testing.T) {
	ctx := context.Background()
	rt, st := newTestRuntime(t)
	if _, err := rt.Process(ctx, []Input{createInput(1, "A"), reading(2, "A", 999, t0)}); err != nil {
		t.Fatal(err)
	}
	in, err := ParseTimer("A", must(json.Marshal(TimerFired{Name: "silence", At: t0.Add(time.Minute)})), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	in.StreamSeq = 3
	if _, err := rt.Process(ctx, []Input{*in}); err != nil {
		t.Fatal(err)
	}
	tw, _ := st.Twin(ctx, "A")
	if tw.Seq != 2 || len(tw.Timers) != 1 || !tw.Watermark.Equal(t0) || tw.StreamSeq != 3 {
		t.Fatalf("seq %d timers %v watermark %v stream seq %d", tw.Seq, tw.Timers, tw.Watermark, tw.StreamSeq)
	}
}

// A step whose shards write more records than its events (event-time
// timers firing inline) keeps every record of every shard, each twin's in
// order and chained: Apply gives the shards parts of one records slice, and
// a shard that outgrows its part must not write into its neighbour's. Run
// with the room Apply gives for fired timers (records moved down in place)
// and with none (every shard that fires a timer outgrows its part).
func TestStepRecordsWhenTimersFire(t *testing.T) {
	t.Run("room", stepRecordsWhenTimersFire)
	t.Run("no room", func(t *testing.T) {
		defer func(f func(int) int) { recordRoom = f }(recordRoom)
		recordRoom = func(events int) int { return events }
		stepRecordsWhenTimersFire(t)
	})
}

func stepRecordsWhenTimersFire(t *testing.T) {
	ctx := context.Background()
	rt, st := newTestRuntime(t)
	ids := []string{"A", "B", "C", "D", "E", "F", "G", "H"}
	var in []Input
	seq := uint64(0)
	for i, id := range ids {
		seq++
		in = append(in, createInput(seq, id))
		v := 5.0
		if i%2 == 0 {
			v = 999 // sets "silence" at t0+1m
		}
		seq++
		in = append(in, reading(seq, id, v, t0))
	}
	if _, err := rt.Process(ctx, in); err != nil {
		t.Fatal(err)
	}
	for _, mixed := range []bool{true, false} {
		in = in[:0]
		for i, id := range ids {
			if !mixed && i%2 == 0 {
				continue // a step of no timers: records in place
			}
			seq++
			in = append(in, reading(seq, id, 5, t0.Add(2*time.Minute)))
		}
		if _, err := rt.Process(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids {
		recs := history(t, st, id)
		// create, reading, reading, reading; or create, 999, timer, reading
		// (a twin with the timer has no reading in the second step)
		if len(recs) != 4 {
			t.Fatalf("%s: %d records, want 4", id, len(recs))
		}
		var prev Hash
		for j, r := range recs {
			if r.Seq != uint64(j+1) || r.Digest != NextFailureDigest(prev, id, r.Seq, r.EventHash, r.StateHash, r.Module, r.Failure) {
				t.Fatalf("%s: record %d: seq %d, chain broken", id, j, r.Seq)
			}
			prev = r.Digest
		}
		if i%2 == 0 && recs[2].Kind != KindTimer {
			t.Fatalf("%s: record 3 is %v, want the timer", id, recs[2].Kind)
		}
	}
}

// BenchmarkProcessTimersFire: steps of 1,000 twins where every reading
// fires an event-time timer (the step's records outgrow the shards' parts):
// bytes allocated per step show how the records are gathered.
func BenchmarkProcessTimersFire(b *testing.B) {
	ctx := context.Background()
	rt, _ := newTestRuntime(b)
	const twins = 1000
	var in []Input
	seq := map[string]uint64{}
	next := func(id string) uint64 { seq[id]++; return seq[id] }
	for i := 0; i < twins; i++ {
		id := fmt.Sprintf("T%d", i)
		in = append(in, createInput(next(id), id))
	}
	if _, err := rt.Process(ctx, in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		in = in[:0]
		for i := 0; i < twins; i++ {
			id := fmt.Sprintf("T%d", i)
			// 999 sets "silence" a minute on; the next step, two minutes
			// on, fires it first.
			in = append(in, reading(next(id), id, 999, t0.Add(time.Duration(2*k)*time.Minute)))
		}
		if _, err := rt.Process(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
