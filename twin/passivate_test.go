package twin

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// passivationRuntime returns a one-shard runtime capped at limit resident
// twins, with n twins created, and a function that sends one reading to
// each twin of ids in one batch and passivates after it, as the ingest
// loop does between batches.
func passivationRuntime(t testing.TB, limit, n int, compact time.Duration) (*Runtime, func(ids ...string)) {
	t.Helper()
	ctx := context.Background()
	rt, err := New(Config{Store: newMemStore(), Contracts: fakeHost{bandContract{}}, Shards: 1, MaxResident: limit, CompactAfter: compact})
	if err != nil {
		t.Fatal(err)
	}
	seq, at := uint64(0), t0
	var creates []Input
	for i := range n {
		seq++
		creates = append(creates, createInput(seq, fmt.Sprintf("T-%d", i)))
	}
	if _, err := rt.Process(ctx, creates); err != nil {
		t.Fatal(err)
	}
	rt.Passivate(time.Now())
	send := func(ids ...string) {
		t.Helper()
		var in []Input
		for _, id := range ids {
			seq++
			at = at.Add(time.Second)
			in = append(in, reading(seq, id, 5, at))
		}
		out, err := rt.Process(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range out.Results {
			if r.Err != nil || r.Duplicate {
				t.Fatalf("%s: %+v", ids[i], r)
			}
		}
		rt.Passivate(time.Now())
	}
	return rt, send
}

// A fleet larger than the cap that reports in turn: passivating the least
// recently used would evict exactly the twin that reports next, so that
// every reading loads its twin from the store. Keeping the twins that have
// been resident longest loads only the ones that do not fit.
func TestPassivationFleetLargerThanCapReportingInTurn(t *testing.T) {
	// The second size loads more than 4,096 twins, so that the load ages
	// of equally frequent twins are bucketed coarser than one per load.
	for _, c := range []struct{ n, limit, per, rounds int }{{150, 100, 10, 12}, {6000, 4000, 500, 5}} {
		for _, compact := range []time.Duration{-1, time.Nanosecond} {
			t.Run(fmt.Sprintf("n=%d/compact=%v", c.n, compact), func(t *testing.T) {
				rt, send := passivationRuntime(t, c.limit, c.n, compact)
				var loads []uint64
				for range c.rounds {
					before := rt.Stats().Loads
					for i := 0; i < c.n; i += c.per {
						var ids []string
						for k := i; k < i+c.per; k++ {
							ids = append(ids, fmt.Sprintf("T-%d", k))
						}
						send(ids...)
						if got := rt.Stats().Resident; got > c.limit {
							t.Fatalf("%d resident after passivation, cap %d", got, c.limit)
						}
					}
					loads = append(loads, rt.Stats().Loads-before)
				}
				// The twins beyond the cap, and the overshoot of one batch,
				// are loaded once per round; least recently used loads all.
				for round, l := range loads[2:] {
					if l > uint64(c.n-c.limit+c.per) {
						t.Fatalf("round %d: %d loads of %d twins under a cap of %d (all rounds: %v)", round+2, l, c.n, c.limit, loads)
					}
				}
				t.Logf("store loads per round of %d readings: %v", c.n, loads)
			})
		}
	}
}

// A burst of twins heard from once (a new site's pallets created, a
// backfill) does not evict the twins that report all the time.
func TestPassivationKeepsFrequentTwinsThroughABurst(t *testing.T) {
	const n, limit, hot = 400, 100, 40
	rt, send := passivationRuntime(t, limit, n, time.Nanosecond)
	var hotIDs []string
	for i := range hot {
		hotIDs = append(hotIDs, fmt.Sprintf("T-%d", i))
	}
	for range 20 {
		send(hotIDs...)
	}
	// The burst: every other twin once, in batches of 20.
	for i := hot; i < n; i += 20 {
		var ids []string
		for k := i; k < i+20; k++ {
			ids = append(ids, fmt.Sprintf("T-%d", k))
		}
		send(ids...)
	}
	before := rt.Stats().Loads
	send(hotIDs...)
	if l := rt.Stats().Loads - before; l != 0 {
		t.Fatalf("%d of the %d frequent twins were passivated by a burst of %d others", l, hot, n-hot)
	}
}

func TestOverCap(t *testing.T) {
	rt, err := New(Config{Store: newMemStore(), Contracts: fakeHost{bandContract{}}, Shards: 2, MaxResident: 160})
	if err != nil {
		t.Fatal(err)
	}
	var in []Input
	for i := range 170 {
		in = append(in, createInput(uint64(i+1), fmt.Sprintf("T-%d", i)))
	}
	if _, err := rt.Process(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if rt.OverCap() {
		t.Fatal("170 resident under a cap of 160: over by less than a sixteenth, yet OverCap")
	}
	in = in[:0]
	for i := 170; i < 171; i++ {
		in = append(in, createInput(uint64(i+1), fmt.Sprintf("T-%d", i)))
	}
	if _, err := rt.Process(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if !rt.OverCap() {
		t.Fatal("171 resident under a cap of 160: not OverCap")
	}
	rt.Passivate(time.Now())
	if rt.OverCap() || rt.Stats().Resident > 160 {
		t.Fatalf("after Passivate: %d resident, OverCap %v", rt.Stats().Resident, rt.OverCap())
	}
}

func TestFreqSketch(t *testing.T) {
	f := newFreqSketch(1000)
	h := f.hash("T-1")
	for range 20 {
		f.add(h)
	}
	if got := f.estimate(h); got != 15 {
		t.Fatalf("estimate after 20 adds = %d, want 15 (saturated)", got)
	}
	other := f.hash("T-2")
	f.add(other)
	if got := f.estimate(other); got < 1 {
		t.Fatalf("estimate after 1 add = %d", got)
	}
	// Ten adds per counter of a row halve every counter.
	for i := 0; ; i++ {
		before := f.added
		f.add(f.hash(fmt.Sprintf("X-%d", i)))
		if f.added < before { // halved
			break
		}
	}
	if got := f.estimate(h); got != 7 {
		t.Fatalf("estimate after a halving = %d, want 7", got)
	}
}

// BenchmarkPassivateOverCap is the cost of one passivation pass of a shard
// holding 100,000 twins under a cap of 90,000 (the ingest loop runs one
// every 10 s), with the loads that brought it over the cap not timed.
func BenchmarkPassivateOverCap(b *testing.B) {
	const n, limit, per = 100_000, 90_000, 10_000
	rt, _ := passivationRuntime(b, n, n, time.Nanosecond) // packed, as most twins of a large fleet are
	rt.cfg.MaxResident = limit
	ctx := context.Background()
	seq, at, next := uint64(n), t0, 0
	for b.Loop() {
		b.StopTimer()
		var in []Input
		for range per {
			seq++
			at = at.Add(time.Second)
			in = append(in, reading(seq, fmt.Sprintf("T-%d", next), 5, at))
			next = (next + 1) % n
		}
		if _, err := rt.Process(ctx, in); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rt.Passivate(time.Now())
	}
}
