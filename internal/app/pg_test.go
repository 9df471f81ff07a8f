package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/store/pg"
	"github.com/custos-dev/custos/store/pg/pgtest"
	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

// pgURL returns the test database URL from CUSTOS_TEST_DATABASE; without it
// the test skips on a laptop and fails in CI.
func pgURL(t *testing.T) string {
	t.Helper()
	return pgtest.URL(t)
}

// pgSchemaURL returns the test database URL with a fresh schema
// (custos_schema parameter), dropped when the test ends, after everything
// the test registers later has been cleaned up.
func pgSchemaURL(t *testing.T) string {
	t.Helper()
	url := pgURL(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "t_app_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := pg.Open(ctx, url, pg.WithoutMigrations(), pg.WithLogger(quietLogger()))
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer db.Close()
		if _, err := db.Pool().Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + pg.SchemaParam + "=" + schema
}

// startPG starts the runtime on the PostgreSQL store at url, with input
// batches of at most batch messages.
func startPG(t *testing.T, url string, batch int) *app.App {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Start(ctx, app.Config{
		Data: t.TempDir(), NATSListen: "127.0.0.1:0", HTTP: "127.0.0.1:0", Store: url, BatchSize: batch,
		Logger: quietLogger(), CacheDir: testCache(), MaxFutureSkew: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// replay runs msgs from scratch on the embedded store and returns the
// runtime, for comparison.
func replay(t *testing.T, msgs []pubMsg) *app.App {
	t.Helper()
	ref := start(t, t.TempDir())
	t.Cleanup(ref.Close)
	_, js := client(t, ref)
	waitAcked(t, js, publishAll(t, js, msgs))
	return ref
}

// sameAsReplay checks that every twin of the workload msgs (twins create
// commands first) is identical in got and in want: snapshot, the whole
// history record by record, and alerts. Digests do not depend on the store,
// so a PostgreSQL run and an embedded replay must agree exactly.
func sameAsReplay(t *testing.T, got, want twin.Store, msgs []pubMsg, twins int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	perTwin := map[string]uint64{}
	for _, m := range msgs[twins:] {
		perTwin[strings.TrimPrefix(m.subject, "custos.telemetry.")] += uint64(1 + bytes.Count(m.body, []byte(`"door"`)))
	}
	for i := 0; i < twins; i++ {
		id := fmt.Sprintf("C-%d", i)
		g, err := got.Twin(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		w, err := want.Twin(ctx, id)
		if err != nil {
			t.Fatalf("%s in replay: %v", id, err)
		}
		if n := 1 + perTwin[id] + inlineTimers(ctx, t, got, id); g.Seq != n {
			t.Errorf("%s: seq %d, want %d (with event-time timers): readings lost or applied twice", id, g.Seq, n)
		}
		if g.Seq != w.Seq || g.Digest != w.Digest || !bytes.Equal(g.State, w.State) || g.Status != w.Status ||
			g.Alerts != w.Alerts || !bytes.Equal(g.View, w.View) || !g.Updated.Equal(w.Updated) {
			t.Errorf("%s differs from replay:\n got    seq %d digest %s status %s alerts %d\n replay seq %d digest %s status %s alerts %d",
				id, g.Seq, g.Digest, g.Status, g.Alerts, w.Seq, w.Digest, w.Status, w.Alerts)
		}
		gh, err := got.History(ctx, twin.HistoryQuery{Twin: id, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		wh, err := want.History(ctx, twin.HistoryQuery{Twin: id, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		if len(gh) != len(wh) || uint64(len(gh)) != g.Seq {
			t.Errorf("%s: %d history records, replay has %d, seq %d", id, len(gh), len(wh), g.Seq)
		} else {
			for k := range gh {
				a, b := gh[k], wh[k]
				if a.Seq != b.Seq || a.Digest != b.Digest || a.EventHash != b.EventHash || a.StateHash != b.StateHash ||
					!a.Time.Equal(b.Time) || !bytes.Equal(a.Event, b.Event) || a.Late != b.Late || a.Failure != b.Failure ||
					a.StreamSeq != b.StreamSeq || a.RecordTime.IsZero() {
					t.Errorf("%s: history record %d differs from replay: seq %d digest %s, replay seq %d digest %s",
						id, k, a.Seq, a.Digest, b.Seq, b.Digest)
					break
				}
			}
		}
		ga, err := got.Alerts(ctx, twin.AlertQuery{Twin: id, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		wa, _ := want.Alerts(ctx, twin.AlertQuery{Twin: id, Limit: 100000})
		if len(ga) != len(wa) {
			t.Errorf("%s: %d alerts, %d in replay", id, len(ga), len(wa))
			continue
		}
		for k := range ga {
			if ga[k].N != wa[k].N || ga[k].Seq != wa[k].Seq || ga[k].Code != wa[k].Code || !ga[k].Time.Equal(wa[k].Time) {
				t.Errorf("%s: alert %d differs from replay: %+v vs %+v", id, k, ga[k], wa[k])
			}
		}
	}
}

// TestPostgresMatchesReplay runs a workload on the PostgreSQL store and on
// the embedded one: every twin, history record and alert must be the same.
func TestPostgresMatchesReplay(t *testing.T) {
	const twins, readings = 10, 600
	url := pgSchemaURL(t)
	msgs := workload(twins, readings)
	a := startPG(t, url, 0)
	t.Cleanup(a.Close)
	_, js := client(t, a)
	waitAcked(t, js, publishAll(t, js, msgs))
	if code, body := httpDo(t, a, "GET", "/readyz", nil); code != http.StatusOK {
		t.Errorf("/readyz = %d %s on a healthy PostgreSQL", code, body)
	}
	sameAsReplay(t, a.Store, replay(t, msgs).Store, msgs, twins)
}

// TestHistoryRetentionConfig: retention is a PostgreSQL feature; asking the
// embedded store for it, or a negative one, is refused at start.
func TestHistoryRetentionConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		keep time.Duration
		want string
	}{
		{"embedded store", time.Hour, "postgres store"},
		{"negative", -time.Hour, "negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := app.Start(context.Background(), app.Config{Data: t.TempDir(), NATSListen: "-", HTTP: "-",
				HistoryRetention: tt.keep, Logger: quietLogger(), CacheDir: testCache()})
			if err == nil {
				a.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestPostgresHistoryRetention: a runtime started with HistoryRetention
// deletes the history older than it (by event time) from PostgreSQL and
// keeps newer history and every snapshot.
func TestPostgresHistoryRetention(t *testing.T) {
	url := pgSchemaURL(t)
	p := builtin.Coldchain()
	ref := twin.ContractRef{Name: p.Name, Version: p.Version, SHA256: sha256.Sum256(p.Wasm)}
	var msgs []pubMsg
	for _, tw := range []struct{ id, day string }{{"OLD-1", "2020-01-01"}, {"NEW-1", "2030-01-01"}} {
		cmd, _ := json.Marshal(twin.Command{Type: "create", TS: tw.day + "T00:00:00Z", Kind: "case", Contract: &ref,
			Params: json.RawMessage(`{"min_c":2,"max_c":8}`)})
		msgs = append(msgs, pubMsg{"custos.command." + tw.id, cmd})
		for i := range 5 {
			msgs = append(msgs, pubMsg{"custos.telemetry." + tw.id, reading(fmt.Sprintf("%sT00:%02d:00Z", tw.day, i+1), 5)})
		}
	}
	a := startPG(t, url, 0)
	_, js := client(t, a)
	waitAcked(t, js, publishAll(t, js, msgs))
	a.Close()

	// What the first run left (timers of OLD-1 may have fired too).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := pg.Open(ctx, url, pg.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	old, err := db.Twin(ctx, "OLD-1")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if old.Seq < 6 {
		t.Fatalf("OLD-1 at seq %d after the first run, want at least 6", old.Seq)
	}

	b, err := app.Start(ctx, app.Config{Data: t.TempDir(), NATSListen: "-", HTTP: "-", Store: url,
		HistoryRetention: 24 * time.Hour, Logger: quietLogger(), CacheDir: testCache(), MaxFutureSkew: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		recs, err := b.Store.History(ctx, twin.HistoryQuery{Twin: "OLD-1", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 || recs[0].Seq > old.Seq {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OLD-1 still has %d records up to seq %d from 2020, 20 s after a start with 24 h retention", len(recs), old.Seq)
		}
	}
	if tw, err := b.Store.Twin(ctx, "OLD-1"); err != nil || tw.Seq < old.Seq {
		t.Errorf("OLD-1 snapshot after pruning: %+v, %v", tw, err)
	}
	recs, err := b.Store.History(ctx, twin.HistoryQuery{Twin: "NEW-1", Limit: 1000})
	if err != nil || len(recs) != 6 {
		t.Errorf("NEW-1 (2030) history after pruning: %d records, %v; want all 6", len(recs), err)
	}
}

// pgCluster is the "version name" of the local cluster that the restart
// test stops and starts (as in store/pg).
func pgCluster() []string {
	if c := os.Getenv("CUSTOS_TEST_PG_CLUSTER"); c != "" {
		return strings.Fields(c)
	}
	return []string{"15", "main"}
}

func pgctl(args ...string) error {
	out, err := exec.Command("pg_ctlcluster", append(pgCluster(), args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctlcluster %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// pgRestartAllowed skips a test that stops the shared PostgreSQL server
// unless CUSTOS_TEST_PG_RESTART=1: `go test ./...` runs packages in
// parallel, and other packages' PostgreSQL tests would fail while it is
// down. `make test` runs these tests afterwards, alone, with the variable
// set, so CI runs them. Without a database or pg_ctlcluster they skip on a
// laptop and fail in CI.
func pgRestartAllowed(t *testing.T) {
	t.Helper()
	if os.Getenv("CUSTOS_TEST_PG_RESTART") != "1" {
		t.Skip("stops the shared PostgreSQL server; runs with CUSTOS_TEST_PG_RESTART=1 (make test does, after the other tests)")
	}
	pgURL(t)
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pg_ctlcluster not found: %v", err)
		}
		t.Skipf("pg_ctlcluster not found (%v): the test stops and starts a local cluster", err)
	}
}

// floorOf is the consumer's ack floor, like ackFloor, but it retries
// failed reads instead of returning 0: while the store is down the bus
// recreates the consumer on every retry, and a read can fall in between.
func floorOf(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var c jetstream.Consumer
		var info *jetstream.ConsumerInfo
		if c, err = js.Consumer(ctx, "CUSTOS_INPUT", "custos-runtime"); err == nil {
			info, err = c.Info(ctx)
		}
		cancel()
		if err == nil {
			return info.AckFloor.Stream
		}
	}
	t.Fatalf("reading the ack floor: %v", err)
	return 0
}

// readyz returns the status and body of GET /readyz.
func readyz(t *testing.T, a *app.App) (int, string) {
	t.Helper()
	code, body := httpDo(t, a, "GET", "/readyz", nil)
	return code, string(body)
}

// TestPostgresServerRestartMatchesReplay stops PostgreSQL while the runtime
// is part-way through a stream, publishes more while it is down, and starts
// it again. While it is down: /readyz says not ready, and the input ack
// floor does not move (JetStream keeps the readings). Afterwards: ingest
// resumes by itself, everything is acknowledged, and every twin, history
// record and alert equals a from-scratch replay on the embedded store, so
// nothing was lost or applied twice.
func TestPostgresServerRestartMatchesReplay(t *testing.T) {
	pgRestartAllowed(t)
	const twins, readings = 20, 4000
	url := pgSchemaURL(t)
	t.Cleanup(func() {
		// Whatever happened, leave the server running (before the schema is dropped).
		if err := pgctl("start"); err != nil && !strings.Contains(err.Error(), "already running") {
			t.Errorf("restarting PostgreSQL: %v", err)
		}
	})
	msgs := workload(twins, readings)
	split := twins + readings*3/5 // published before the stop; the rest while PostgreSQL is down

	// Small batches: slow enough that the stop lands mid-stream.
	a := startPG(t, url, 8)
	t.Cleanup(a.Close)
	_, js := client(t, a)
	if code, body := readyz(t, a); code != http.StatusOK {
		t.Fatalf("/readyz = %d %s before the stop", code, body)
	}
	first := publishFrom(t, js, msgs[:split], 0)
	deadline := time.Now().Add(60 * time.Second)
	for ackFloor(t, js) < first/4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := pgctl("stop", "-m", "fast"); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	atStop := floorOf(t, js)
	t.Logf("PostgreSQL stopped at ack floor %d of %d published", atStop, first)
	if atStop >= first {
		t.Fatalf("runtime finished (%d/%d) before PostgreSQL stopped; slow it down", atStop, first)
	}

	// /readyz reports it.
	for {
		code, body := readyz(t, a)
		if code == http.StatusServiceUnavailable {
			t.Logf("/readyz %d after %v: %s", code, time.Since(stopped).Round(time.Millisecond), strings.TrimSpace(body))
			break
		}
		if time.Since(stopped) > 10*time.Second {
			t.Fatalf("/readyz still %d %s 10 s after PostgreSQL stopped", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// JetStream takes the rest of the workload while the store is down.
	last := publishFrom(t, js, msgs[split:], split)

	// Batches committed before the stop may still be acknowledged for a
	// moment; after that the floor must stand still while the store is down.
	// /readyz must say not ready all along (the reason changes as ingest
	// restarts: "ingest: not consuming", then "store: pg ping: …").
	time.Sleep(500 * time.Millisecond)
	floor := floorOf(t, js)
	reasons := map[string]int{}
	for hold := time.Now(); time.Since(hold) < 2*time.Second; time.Sleep(100 * time.Millisecond) {
		code, body := readyz(t, a)
		if code != http.StatusServiceUnavailable {
			t.Errorf("/readyz = %d %s while PostgreSQL is down", code, body)
		}
		reason, _, _ := strings.Cut(strings.TrimPrefix(body, `{"error":"`), ":")
		reasons[reason]++
		if f := floorOf(t, js); f != floor {
			t.Fatalf("ack floor moved from %d to %d while PostgreSQL was down", floor, f)
		}
	}
	if floor >= first {
		t.Errorf("ack floor %d: input acknowledged up to the end of what was published before the stop (%d)", floor, first)
	}
	t.Logf("down for %v: ack floor held at %d of %d; /readyz reasons %v", time.Since(stopped).Round(time.Millisecond), floor, last, reasons)

	starting := time.Now()
	if err := pgctl("start"); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	waitAcked(t, js, last)
	t.Logf("all %d acknowledged %v after pg_ctlcluster start began (it took %v to return)", last,
		time.Since(starting).Round(time.Millisecond), restarted.Sub(starting).Round(time.Millisecond))
	for {
		code, body := readyz(t, a)
		if code == http.StatusOK {
			break
		}
		if time.Since(restarted) > 20*time.Second {
			t.Fatalf("/readyz still %d %s 20 s after PostgreSQL started", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}

	sameAsReplay(t, a.Store, replay(t, msgs).Store, msgs, twins)
}

// inlineTimers counts the event-time timer records of a twin: they fire
// inline, by watermark, and take seqs of their own.
func inlineTimers(ctx context.Context, t *testing.T, st twin.Store, id string) uint64 {
	t.Helper()
	recs, err := st.History(ctx, twin.HistoryQuery{Twin: id, Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	n := uint64(0)
	for _, r := range recs {
		if r.Kind == twin.KindTimer {
			n++
		}
	}
	return n
}
