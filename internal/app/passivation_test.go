package app_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/custos-dev/custos/internal/app"
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
