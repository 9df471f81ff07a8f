package app_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/twin"
)

// TestPassivationHoldsTheCap: twins loaded between two passivation passes
// take the resident count over --max-resident; once it is a sixteenth over,
// ingest passivates within about a second instead of at its next 10 s
// pass, so the cap bounds memory to within what a second of input loads.
func TestPassivationHoldsTheCap(t *testing.T) {
	const limit, twins = 100, 600
	a := startWith(t, t.TempDir(), func(cfg *app.Config) { cfg.MaxResident = limit })
	defer a.Close()
	_, js := client(t, a)
	started := time.Now()
	publishAll(t, js, workload(twins, 0))
	for a.Runtime.Stats().Applied < twins {
		if time.Since(started) > 30*time.Second {
			t.Fatalf("%d of %d creates applied in 30 s", a.Runtime.Stats().Applied, twins)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Readings to every twin in turn, about 100 a second: without the
	// early pass all 600 stay resident until ingest has run for 10 s.
	base := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	worst, checked := 0, 0
	for i := 0; time.Since(started) < 5*time.Second || checked < 50; i++ {
		ts := base.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		publish(t, js, fmt.Sprintf("custos.telemetry.C-%d", i%twins), reading(ts, 5))
		time.Sleep(10 * time.Millisecond)
		if time.Since(started) > 3*time.Second {
			worst = max(worst, a.Runtime.Stats().Resident)
			checked++
		}
	}
	// A sixteenth over the cap, plus at most the twins of one second of
	// readings (well under 300 even on a slow machine), plus a batch.
	if worst > limit+limit/16+300 {
		t.Fatalf("up to %d twins resident under a cap of %d (%d twins in all)", worst, limit, twins)
	}
	t.Logf("at most %d twins resident under a cap of %d", worst, limit)
}

// TestPassivationWhenInputStops: passivation used to run only after a
// batch, so a daemon whose devices fell silent kept every twin it held
// until input resumed. Idle twins now go within a quarter of --idle-after
// of becoming idle (at most 10 s) with no input at all, and come back from
// the store, history unbroken, with their next reading.
func TestPassivationWhenInputStops(t *testing.T) {
	const twins = 50
	a := startWith(t, t.TempDir(), func(cfg *app.Config) { cfg.IdleAfter = time.Second })
	defer a.Close()
	_, js := client(t, a)
	publishAll(t, js, workload(twins, 0))
	waitFor(t, 30*time.Second, func() bool { return a.Runtime.Stats().Applied >= twins })
	waitTwin(t, a, fmt.Sprintf("C-%d", twins-1), func(*twin.Twin) bool { return true })
	if r := a.Runtime.Stats().Resident; r == 0 {
		t.Fatal("no twin resident right after its creation")
	}
	// Nothing more is published: the twins go idle after 1 s and a pass
	// runs every 250 ms.
	idle := time.Now()
	waitFor(t, 10*time.Second, func() bool { return a.Runtime.Stats().Resident == 0 })
	t.Logf("all %d twins passivated %v after the input stopped", twins, time.Since(idle).Round(time.Millisecond))
	// Each pass (ingest waits for it) is in custos_passivation_seconds.
	if code, body := httpDo(t, a, "GET", "/metrics", nil); code != 200 || !bytes.Contains(body, []byte("custos_passivation_seconds_count ")) ||
		bytes.Contains(body, []byte("custos_passivation_seconds_count 0\n")) {
		t.Fatalf("no passivation pass in /metrics (%d):\n%s", code, grep(body, "custos_passivation"))
	}
	loads := a.Runtime.Stats().Loads
	publish(t, js, "custos.telemetry.C-7", reading("2030-01-02T00:00:00Z", 5))
	tw := waitTwin(t, a, "C-7", func(tw *twin.Twin) bool { return tw.Seq == 2 })
	if got := a.Runtime.Stats().Loads; got != loads+1 {
		t.Fatalf("twins loaded from the store: %d, want %d", got, loads+1)
	}
	h, err := a.Store.History(context.Background(), twin.HistoryQuery{Twin: "C-7", Limit: 10})
	if err != nil || len(h) != 2 {
		t.Fatalf("history of C-7: %d records, %v", len(h), err)
	}
	if d := h[1].Link(h[0].Digest); d != h[1].Digest || d != tw.Digest {
		t.Fatalf("digest after reload %s, want %s (the twin's %s)", h[1].Digest, d, tw.Digest)
	}
}

// waitFor polls cond until it holds or d has passed.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached in %v", d)
		}
	}
}
