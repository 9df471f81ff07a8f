package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/bus"
	"github.com/custos-dev/custos/internal/cluster/natstest"
	"github.com/custos-dev/custos/twin"
)

// TestInputRetention: with --input-retention the input stream removes
// input that old, applied or not. Input that ages out while custos is
// stopped is lost, and custos says so when it starts again (an error log
// and custos_ingest_input_removed_total) instead of skipping it silently;
// what arrived later is applied as usual.
func TestInputRetention(t *testing.T) {
	nc, _ := natstest.Single(t)
	dir := t.TempDir()
	start := func() *app.App {
		return startWith(t, dir, func(c *app.Config) {
			c.NATSURL, c.NATSListen, c.InputRetention = nc.ConnectedUrl(), "", time.Second
		})
	}
	a := start()
	createTwin(t, a, "r-1", `{"min_c":2,"max_c":8,"excursion_budget_s":1800}`)
	js, _ := jetstream.New(nc)
	publish(t, js, bus.TelemetryPrefix+"r-1", reading("2026-11-25T10:00:00Z", 5))
	waitTwin(t, a, "r-1", func(tw *twin.Twin) bool { return tw.Seq == 2 })
	ctx := context.Background()
	in, err := js.Stream(ctx, bus.StreamInput)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := in.CachedInfo().Config; cfg.MaxAge != time.Second || cfg.Duplicates != time.Second {
		t.Fatalf("input stream MaxAge %v, duplicate window %v: want 1s and 1s", cfg.MaxAge, cfg.Duplicates)
	}
	a.Close()

	for i := 1; i <= 3; i++ { // arrive while custos is stopped, age out
		publish(t, js, bus.TelemetryPrefix+"r-1", reading(fmt.Sprintf("2026-11-25T10:0%d:00Z", i), 5))
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		info, err := in.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("input not removed after its retention: %+v", info.State)
		}
	}
	publish(t, js, bus.TelemetryPrefix+"r-1", reading("2026-11-25T10:05:00Z", 5))

	a = start()
	defer a.Close()
	tw := waitTwin(t, a, "r-1", func(tw *twin.Twin) bool { return tw.Seq == 3 })
	if !tw.LastReading.Equal(time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC)) {
		t.Errorf("last reading %v, want the one sent after the removal", tw.LastReading)
	}
	if n := testutil.ToFloat64(a.Metrics.InputRemoved); n != 3 {
		t.Errorf("custos_ingest_input_removed_total = %v, want 3", n)
	}
}

// TestPurgeAppliedInCluster: with --input-retention applied in cluster mode
// (partitioned input, a consumer per partition), input applied in every
// partition is purged from the stream, and the twins have it all.
func TestPurgeAppliedInCluster(t *testing.T) {
	const partitions, twins, readings = 4, 8, 5
	defer func(d time.Duration) { bus.PurgeInterval = d }(bus.PurgeInterval)
	bus.PurgeInterval = 50 * time.Millisecond
	a := startWith(t, t.TempDir(), func(c *app.Config) {
		c.Store = pgSchemaURL(t)
		c.Cluster = &app.ClusterConfig{Node: "n1", Partitions: partitions, LeaseTTL: 2 * time.Second}
		c.PurgeApplied, c.DuplicateWindow = true, 100*time.Millisecond
	})
	defer a.Close()
	for deadline := time.Now().Add(30 * time.Second); !partitionsSettled([]*app.App{a}, partitions); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the node does not own every partition")
		}
	}
	_, js := client(t, a)
	for i := range twins {
		createTwin(t, a, fmt.Sprintf("pc-%d", i), `{"min_c":2,"max_c":8,"excursion_budget_s":1800}`)
		for r := range readings {
			publish(t, js, bus.TelemetryPrefix+fmt.Sprintf("pc-%d", i), reading(fmt.Sprintf("2026-11-25T10:0%d:00Z", r), 5))
		}
	}
	for i := range twins {
		waitTwin(t, a, fmt.Sprintf("pc-%d", i), func(tw *twin.Twin) bool { return tw.Seq == 1+readings })
	}
	ctx := context.Background()
	in, err := js.Stream(ctx, bus.StreamInput)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		info, err := in.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 && info.State.NumSubjects == 0 {
			// The lowest over the partitions: each purged below its own
			// last input, all above the creates of the first twins.
			if got := testutil.ToFloat64(a.Metrics.InputPurgedBelow); got <= 1 || got > float64(info.State.LastSeq+1) {
				t.Fatalf("custos_ingest_input_purged_below = %v, want in (1, %d]", got, info.State.LastSeq+1)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("applied input not purged from the partitioned stream: %+v", info.State)
		}
	}
}
