package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/internal/bus"
	"github.com/custos-dev/custos/store/pg"
	"github.com/custos-dev/custos/store/pg/pgtest"
	"github.com/custos-dev/custos/twin"
)

func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three NATS servers and two runtimes")
	}
	res, err := Run(context.Background(), Config{Dir: t.TempDir(), Twins: 20, Messages: 2000, BatchedMessages: 100, BatchReadings: 10, LatencyFor: 500 * time.Millisecond, Rounds: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rounds) != 2 {
		t.Fatalf("%d rounds, want 2", len(res.Rounds))
	}
	r0, r1 := res.Rounds[0], res.Rounds[1]
	if r0.Ratio != r0.Single/r0.Raw || res.Ratio != (r0.Ratio+r1.Ratio)/2 || res.Batched != (r0.Batched+r1.Batched)/2 {
		t.Fatalf("rounds %+v, result %+v: want the medians", res.Rounds, res)
	}
	for _, l := range []Latency{res.Latency, res.Passivated} {
		if l.Samples == 0 || l.P99 < l.P50 || l.P50 <= 0 {
			t.Fatalf("latency = %+v, passivated %+v", res.Latency, res.Passivated)
		}
	}
	if res.Raw <= 0 || res.Single <= 0 || res.Batched <= 0 || res.Ratio <= 0 {
		t.Fatalf("result = %+v", res)
	}
	if !regexp.MustCompile(`^custos-bench: raw=\d+ single=\d+ ratio=\d+\.\d\d batched=\d+ p99_ms=\d+\.\d$`).MatchString(res.Summary()) {
		t.Fatalf("summary line %q", res.Summary())
	}
	sc := res.Scale
	if sc.Twins != 20 || sc.PeakRSS < sc.ResidentRSS || sc.ResidentRSS <= 0 || sc.BaseRSS <= 0 || sc.CPUPerReading <= 0 || sc.Readings < 20 {
		t.Fatalf("scale = %+v", sc)
	}
	// The scale line's p99 is the scale fleet's own latency, every reading
	// of the probe seen.
	if l := sc.Latency; l.Samples == 0 || l.P99 < l.P50 || l.P50 <= 0 || l.Rate <= 0 {
		t.Fatalf("scale latency = %+v", l)
	}
	if want := fmt.Sprintf(" p99_ms=%.1f", float64(sc.Latency.P99.Microseconds())/1e3); !strings.HasSuffix(res.ScaleSummary(), want) {
		t.Fatalf("scale line %q, want it to end with %q", res.ScaleSummary(), want)
	}
	if !regexp.MustCompile(`^custos-scale: twins=20 rss_bytes=\d+ bytes_per_twin=-?\d+ cpu_per_reading_us=\d+\.\d p99_ms=\d+\.\d$`).MatchString(res.ScaleSummary()) {
		t.Fatalf("scale line %q", res.ScaleSummary())
	}
	if line := (Result{Raw: 1, Single: 1, Ratio: 1, Batched: 1}).Summary(); strings.Contains(line, "p99_ms") {
		t.Errorf("summary without a latency measurement %q", line)
	}
}

// TestBurstTwin: the scale phase's traffic reaches every twin once per
// round, gateway by gateway.
func TestBurstTwin(t *testing.T) {
	for _, twins := range []int{1, 49, 50, 1000, 1234, 100_000} {
		seen := make([]int, twins)
		for i := range 2 * twins {
			seen[burstTwin(i, twins)]++
		}
		for k, n := range seen {
			if n != 2 {
				t.Fatalf("%d twins: twin %d got %d readings in two rounds, want 2", twins, k, n)
			}
		}
	}
}

// TestRunPostgres runs the bench with the PostgreSQL store for every custos
// run (single and batched both start on empty tables: fresh schemas) and with
// the PostgreSQL figures, and checks the extra summary line and that the
// schemas are dropped.
func TestRunPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several NATS servers and runtimes")
	}
	url := pgtest.URL(t)
	ctx := context.Background()
	benchSchemas := func() int {
		db, err := pg.Open(ctx, url, pg.WithoutMigrations(), pg.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'bench\_%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := benchSchemas()
	res, err := Run(ctx, Config{Dir: t.TempDir(), Twins: 20, Messages: 1000, BatchedMessages: 50, BatchReadings: 10,
		Store: url, Postgres: url, StoreTime: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Single <= 0 || res.Batched <= 0 || res.PGSingle <= 0 || res.PGRows <= 0 || res.PGRowsParallel <= 0 || res.PGWriters < 2 {
		t.Fatalf("result = %+v", res)
	}
	line := res.PostgresSummary()
	if !regexp.MustCompile(`^custos-bench-postgres: single=\d+ embedded=\d+ ratio=\d+\.\d\d store_rows=\d+ store_rows_\d+w=\d+$`).MatchString(line) {
		t.Fatalf("postgres summary line %q", line)
	}
	if after := benchSchemas(); after != before {
		t.Errorf("%d bench schemas before the run, %d after: not dropped", before, after)
	}
	if (Result{Single: 1}).PostgresSummary() != "" {
		t.Error("PostgresSummary without PostgreSQL figures is not empty")
	}
}

// TestStateOf checks the latency subscriber's reading of a state message
// against the runtime's own twin JSON, with a view and a custodian holding
// the text the parser looks for.
func TestStateOf(t *testing.T) {
	tw := &twin.Twin{ID: "L-42", Kind: "pallet", Custodian: `x,"seq":7`, Status: "ok", Seq: 12345,
		View: json.RawMessage(`{"seq":9,"a":[1,2]}`), Children: []string{`c,"seq":8`}}
	id, seq, ok := stateOf(bus.StateSubject(tw.ID), tw.AppendJSON(nil))
	if !ok || id != "L-42" || seq != 12345 {
		t.Fatalf("stateOf = %s, %d, %v; want L-42, 12345, true", id, seq, ok)
	}
	for _, subject := range []string{"custos.twin.L-42.alert", "custos.twin.L-42", "custos.alerts.L-42.state"} {
		if _, _, ok := stateOf(subject, tw.AppendJSON(nil)); ok {
			t.Errorf("stateOf(%q) ok", subject)
		}
	}
	if _, _, ok := stateOf("custos.twin.L-42.state", []byte(`{"twin":"L-42"}`)); ok {
		t.Error("stateOf without a seq ok")
	}
}

// TestStoredFleet: the stored-fleet phase writes its twins into the store
// (and their state into the bucket), restarts the daemon on them, and
// sends readings each to a different stored twin while the runtime keeps at
// most MaxResident in memory (a pass runs every 10 s, and once more at the
// end).
func TestStoredFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two daemons")
	}
	for _, retention := range []time.Duration{0, time.Hour} {
		res, err := Run(context.Background(), Config{Dir: t.TempDir(), StoreTwins: 3000, Messages: 1500, MaxResident: 500, StateRetention: retention, Log: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		f := res.Fleet
		if f == nil || f.Twins != 3000 || f.Readings != 1500 || f.Loads != 1500 || f.Resident > 500 || f.Resident == 0 || f.CPUPerReading <= 0 || f.Restart <= 0 || f.PeakRSS <= 0 {
			t.Fatalf("retention %v: fleet = %+v", retention, f)
		}
		// Without a retention every stored twin has its key; with one,
		// only those the readings changed (all within the hour).
		if keys := map[time.Duration]uint64{0: 3000, time.Hour: 1500}[retention]; f.BucketKeys != keys {
			t.Fatalf("retention %v: %d keys in the bucket, want %d", retention, f.BucketKeys, keys)
		}
		// The reference fleet: 1,000 twins, the readings in two rounds
		// (every twin passivated between them).
		if r := f.Ref; r == nil || r.Twins != refTwins || r.Readings != 1500 || r.Loads != 1500 || r.CPUPerReading <= 0 || r.BucketKeys != 1000 {
			t.Fatalf("retention %v: reference = %+v", retention, f.Ref)
		}
		if res.Raw != 0 || res.Scale.Twins != 0 {
			t.Fatalf("retention %v: other phases ran: %+v", retention, res)
		}
		if !regexp.MustCompile(`^custos-scale: twins=3000 rss_bytes=\d+ bytes_per_twin=\d+ cpu_per_reading_us=\d+\.\d p99_ms=0 stored=true max_resident=500 restart_s=\d+\.\d\d$`).MatchString(f.FleetSummary()) {
			t.Fatalf("fleet line %q", f.FleetSummary())
		}
	}
}

func TestMedians(t *testing.T) {
	r := Result{Rounds: []Round{
		{Raw: 100, Single: 40, Batched: 9, Ratio: 0.40},
		{Raw: 60, Single: 30, Batched: 7, Ratio: 0.50},
		{Raw: 80, Single: 36, Batched: 8, Ratio: 0.45},
	}}
	r.medians()
	// The ratio is the median of each round's own, not 36/80.
	if r.Raw != 80 || r.Single != 36 || r.Batched != 8 || r.Ratio != 0.45 {
		t.Fatalf("medians %+v", r)
	}
	if got := r.roundsLine(); got != "ratio 0.40 0.50 0.45 (median 0.45), batched 9 7 8 (median 8)" {
		t.Fatalf("rounds line %q", got)
	}
	if median(nil) != 0 || median([]float64{3, 1}) != 2 {
		t.Fatal("median of none or two")
	}
}
