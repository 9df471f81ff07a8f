package twin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestPackRoundTrip: a packed twin unpacks to the same twin (less its
// view, computed again on its next change).
func TestPackRoundTrip(t *testing.T) {
	rt, _ := newTestRuntime(t)
	s := rt.shards[0]
	tw := &Twin{
		ID: "PAL-9", Kind: "pallet", Contract: ContractRef{Name: "band", Version: "1", SHA256: fakeModule},
		Params: json.RawMessage(`{"max_c":8}`), Parent: "CONT-1", Children: []string{"CASE-1", "CASE-2"},
		Custodian: "carrier", Status: StatusInTransit, Seq: 300, View: json.RawMessage(`{"readings":3}`),
		Digest: Hash{9, 8, 7}, Alerts: 4, Created: t0, Updated: t0.Add(time.Hour), Watermark: t0.Add(time.Hour),
		LastReading: t0.Add(59 * time.Minute), Lag: -3 * time.Second, Lateness: 10 * time.Minute,
		State: []byte{1, 2, 3, 0, 5}, StreamSeq: 1 << 40,
		Timers:   []Timer{{Name: "silence", At: t0.Add(2 * time.Hour)}, {Name: "budget", At: t0.Add(3 * time.Hour), Processing: true}},
		Buffered: []Buffered{{StreamSeq: 77, Event: Event{Kind: KindReading, Type: TypeTemperature, Time: t0.Add(30 * time.Minute), Value: 4.5, Fields: []string{"t1", "CEL"}}}},
	}
	res := &resident{t: tw, c: bandContract{}, lastUsed: 12345}
	b := packedOf(s.pack(res))
	got, err := s.unpack(tw.ID, b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.view || got.lastUsed != 12345 || got.c == nil {
		t.Errorf("resident = view %v, lastUsed %d, contract %v", got.view, got.lastUsed, got.c)
	}
	want := tw.Clone()
	want.View = nil
	if !reflect.DeepEqual(got.t, want) {
		t.Errorf("unpacked\n%+v\nwant\n%+v", got.t, want)
	}
	// An empty twin too, and every truncation of a packed twin is an error.
	empty := &resident{t: &Twin{ID: "E", Contract: tw.Contract, Status: StatusCreated}, lastUsed: 1}
	if got, err := s.unpack("E", packedOf(s.pack(empty))); err != nil || !reflect.DeepEqual(got.t, empty.t) {
		t.Errorf("empty twin: %+v, %v", got, err)
	}
	for n := 8; n < len(b); n++ {
		if _, err := s.unpack(tw.ID, b[:n]); err == nil {
			t.Fatalf("unpack of %d of %d bytes: no error", n, len(b))
		}
	}
}

// TestPackedTwinsApplyLikeHotOnes runs the same inputs through a runtime
// that packs every twin between batches and one that never packs: states,
// alerts, results, history and snapshots must be identical.
func TestPackedTwinsApplyLikeHotOnes(t *testing.T) {
	ctx := context.Background()
	run := func(compact time.Duration) (*memStore, []*Outcome, int) {
		st := newMemStore()
		rt, err := New(Config{Store: st, Contracts: fakeHost{bandContract{}}, Shards: 2, CompactAfter: compact})
		if err != nil {
			t.Fatal(err)
		}
		var outs []*Outcome
		seq := uint64(0)
		next := func() uint64 { seq++; return seq }
		var first []Input
		for i := range 6 {
			first = append(first, createInput(next(), fmt.Sprintf("T-%d", i)))
		}
		first = append(first, createLateness(next(), "L-1", "10m"))
		batches := [][]Input{first}
		values := []float64{5, 9, 999, 666, 998, 4, 120, 997, 3}
		for k := range 24 {
			var b []Input
			for i := range 6 {
				if (i+k)%3 != 0 {
					continue // idle this batch: packed by the next
				}
				v := values[(k+i)%len(values)]
				b = append(b, reading(next(), fmt.Sprintf("T-%d", i), v, t0.Add(time.Duration(k*6+i)*time.Minute)))
			}
			// Out of order within L-1's lateness window: buffered.
			if k%2 == 0 {
				continue
			}
			b = append(b, reading(next(), "L-1", float64(k), t0.Add(time.Duration((k*7)%5)*time.Minute+time.Duration(k)*3*time.Minute)))
			batches = append(batches, b)
		}
		for k, b := range batches {
			if k%4 == 3 {
				rt.Passivate(time.Now()) // packs too
			}
			out, err := rt.Process(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, out)
		}
		packed := 0
		for _, s := range rt.shards {
			packed += s.cold.len()
		}
		if got := rt.Stats().Resident; got != 7 {
			t.Errorf("compact %v: %d resident, want 7", compact, got)
		}
		return st, outs, packed
	}
	hotStore, hotOut, hotPacked := run(-1)
	coldStore, coldOut, coldPacked := run(time.Nanosecond)
	if hotPacked != 0 || coldPacked == 0 {
		t.Fatalf("packed twins: %d never packing, %d packing", hotPacked, coldPacked)
	}
	// States and alerts come shard by shard, and the shard of a twin
	// differs between runtimes: compare them per twin.
	byTwin := func(out *Outcome) (map[string]string, map[string][]Alert) {
		states, alerts := map[string]string{}, map[string][]Alert{}
		for _, st := range out.States {
			states[st.Twin] = lagNS.ReplaceAllString(string(st.JSON), "")
		}
		for _, a := range out.Alerts {
			alerts[a.Twin] = append(alerts[a.Twin], a)
		}
		return states, alerts
	}
	for i := range hotOut {
		if !reflect.DeepEqual(hotOut[i].Results, coldOut[i].Results) {
			t.Fatalf("batch %d: results differ:\n%+v\n%+v", i, hotOut[i].Results, coldOut[i].Results)
		}
		hs, ha := byTwin(hotOut[i])
		cs, ca := byTwin(coldOut[i])
		if !reflect.DeepEqual(hs, cs) || !reflect.DeepEqual(ha, ca) {
			t.Fatalf("batch %d: states or alerts differ:\n%v\n%v\n%v\n%v", i, hs, cs, ha, ca)
		}
	}
	byTwinAlerts := func(as []Alert) map[string][]Alert {
		m := map[string][]Alert{}
		for _, a := range as {
			m[a.Twin] = append(m[a.Twin], a)
		}
		return m
	}
	for _, st := range []*memStore{hotStore, coldStore} { // record times are the server's clock
		for _, recs := range st.records {
			for i := range recs {
				recs[i].RecordTime = time.Time{}
			}
		}
		for _, tw := range st.twins {
			tw.Lag = 0
		}
	}
	if !reflect.DeepEqual(hotStore.records, coldStore.records) || !reflect.DeepEqual(byTwinAlerts(hotStore.alerts), byTwinAlerts(coldStore.alerts)) {
		t.Fatal("history or alerts differ")
	}
	for id, h := range hotStore.twins {
		if c := coldStore.twins[id]; !reflect.DeepEqual(h, c) {
			t.Errorf("snapshot of %s:\n%+v\n%+v", id, h, c)
		}
	}
}

var lagNS = regexp.MustCompile(`,"lag_ns":-?\d+`)

// TestBatchSame: a batch says which twins keep the indexed fields of the
// snapshot they replace (Batch.Same), so that a store may skip index upkeep.
func TestBatchSame(t *testing.T) {
	ctx := context.Background()
	rt, st := newTestRuntime(t)
	cmd := func(seq uint64, id string, c Command) Input {
		in, err := c.Input(id, t0.Add(time.Duration(seq)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		in.StreamSeq = seq
		return *in
	}
	for i, step := range []struct {
		in   []Input
		same map[string]bool
		prev map[string]uint64 // StateUpdate.Prev: the twin's StreamSeq before the batch
	}{
		{[]Input{createInput(1, "A"), createInput(2, "B")}, map[string]bool{"A": false, "B": false}, map[string]uint64{"A": 0, "B": 0}},
		{[]Input{reading(3, "A", 5, t0.Add(time.Minute)), reading(4, "B", 120, t0.Add(time.Minute))}, // B: compromised
			map[string]bool{"A": true, "B": false}, map[string]uint64{"A": 1, "B": 2}},
		{[]Input{cmd(5, "A", Command{Type: "custody", To: "carrier"}), reading(6, "B", 5, t0.Add(2*time.Minute))},
			map[string]bool{"A": false, "B": true}, map[string]uint64{"A": 3, "B": 4}},
		// Changed and changed back within one batch: the same as before.
		{[]Input{cmd(7, "A", Command{Type: "custody", To: "other"}), cmd(8, "A", Command{Type: "custody", To: "carrier"})},
			map[string]bool{"A": true}, map[string]uint64{"A": 5}},
		// A twin created in the batch is new, whatever else it sees.
		{[]Input{createInput(9, "C"), reading(10, "C", 5, t0.Add(time.Minute))}, map[string]bool{"C": false}, map[string]uint64{"C": 0}},
		// B (compromised since batch 1) gains a processing-time timer with
		// its status unchanged: not the same (the store lists such twins).
		{[]Input{reading(11, "B", 998, t0.Add(3*time.Minute))}, map[string]bool{"B": false}, map[string]uint64{"B": 6}},
		{[]Input{reading(12, "B", 5, t0.Add(4*time.Minute))}, map[string]bool{"B": true}, map[string]uint64{"B": 11}},
		{[]Input{reading(13, "B", 997, t0.Add(5*time.Minute))}, map[string]bool{"B": false}, map[string]uint64{"B": 12}}, // cancelled
	} {
		out, err := rt.Process(ctx, step.in)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(st.same, step.same) {
			t.Errorf("batch %d: Same = %v, want %v", i, st.same, step.same)
		}
		prev := map[string]uint64{}
		for _, u := range out.States {
			prev[u.Twin] = u.Prev
		}
		if !reflect.DeepEqual(prev, step.prev) {
			t.Errorf("batch %d: Prev = %v, want %v", i, prev, step.prev)
		}
	}
}

// indexedStore is a memStore with a TimerIndex (or one that says it has
// none), counting full listings.
type indexedStore struct {
	*memStore
	unsupported bool
	listed      int
}

func (s *indexedStore) Twins(ctx context.Context, q TwinQuery) ([]*Twin, error) {
	s.listed++
	return s.memStore.Twins(ctx, q)
}

func (s *indexedStore) TimerTwins(ctx context.Context, after string, limit int) ([]TwinTimers, error) {
	if s.unsupported {
		return nil, fmt.Errorf("no list: %w", errors.ErrUnsupported)
	}
	all, err := s.memStore.Twins(ctx, TwinQuery{After: after, Limit: limit})
	if err != nil {
		return nil, err
	}
	var out []TwinTimers
	for _, t := range all {
		if len(processingTimers(t.Timers)) > 0 {
			out = append(out, TwinTimers{ID: t.ID, Timers: t.Timers})
		}
	}
	return out, nil
}

// TestLoadTimersFromIndex: with a TimerIndex, a start reads only the twins
// it lists, not every twin; without one (ErrUnsupported) it lists them all.
func TestLoadTimersFromIndex(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	rt, err := New(Config{Store: st, Contracts: fakeHost{bandContract{}}})
	if err != nil {
		t.Fatal(err)
	}
	in := []Input{createInput(1, "A"), createInput(2, "B"), createInput(3, "C"), reading(4, "B", 998, t0), reading(5, "C", 5, t0)}
	if _, err := rt.Process(ctx, in); err != nil {
		t.Fatal(err)
	}
	for _, unsupported := range []bool{false, true} {
		is := &indexedStore{memStore: st, unsupported: unsupported}
		rt, err := New(Config{Store: is, Contracts: fakeHost{bandContract{}}})
		if err != nil {
			t.Fatal(err)
		}
		n, err := rt.LoadTimers(ctx)
		if err != nil || n != 1 || rt.Stats().Timers != 1 {
			t.Fatalf("unsupported %v: loaded %d, %v; %d pending", unsupported, n, err, rt.Stats().Timers)
		}
		if wantListed := map[bool]int{false: 0, true: 1}[unsupported]; is.listed != wantListed {
			t.Errorf("unsupported %v: every twin listed %d times, want %d", unsupported, is.listed, wantListed)
		}
	}
}

// TestPackProfiles: twins that share contract, status, kind, custodian and
// params pack them as one index into the shard's profile table; once the
// table is full, a twin with a new profile packs them inline. Both unpack
// to the twin that was packed.
func TestPackProfiles(t *testing.T) {
	rt, _ := newTestRuntime(t)
	s := rt.shards[0]
	mk := func(id, params string) *resident {
		return &resident{t: &Twin{ID: id, Kind: "pallet", Contract: ContractRef{Name: "band", Version: "1", SHA256: fakeModule},
			Params: json.RawMessage(params), Custodian: "carrier", Status: StatusInTransit, Seq: 3, State: []byte{1}}, c: bandContract{}, lastUsed: 1}
	}
	roundTrip := func(res *resident) int {
		t.Helper()
		b := packedOf(s.pack(res))
		got, err := s.unpack(res.t.ID, b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.t, res.t) {
			t.Fatalf("unpacked\n%+v\nwant\n%+v", got.t, res.t)
		}
		return len(b)
	}
	const params = `{"min_c":2,"max_c":8,"excursion_budget_s":1800}`
	first, second := roundTrip(mk("A", params)), roundTrip(mk("B", params))
	if first != second || len(s.profiles.list) != 1 {
		t.Fatalf("two twins of one profile: %d and %d bytes, %d profiles", first, second, len(s.profiles.list))
	}
	for i := len(s.profiles.list); i < maxProfiles; i++ {
		roundTrip(mk("F", `{"max_c":`+strconv.Itoa(i)+`}`))
	}
	if n := len(s.profiles.list); n != maxProfiles {
		t.Fatalf("%d profiles, want %d", n, maxProfiles)
	}
	inline := roundTrip(mk("C", `{"max_c":99999,"excursion_budget_s":1800}`))
	if len(s.profiles.list) != maxProfiles || inline < first+len(params) {
		t.Fatalf("table full: %d profiles; inline twin %d bytes, one of a profile %d", len(s.profiles.list), inline, first)
	}
	if roundTrip(mk("D", params)) != first { // still found
		t.Fatal("a known profile not used once the table is full")
	}
	noParams := mk("E", "")
	noParams.t.Params = nil // a new profile, inline too
	roundTrip(noParams)
}
