package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/twin"
)

func quietLogger() *slog.Logger {
	if os.Getenv("CUSTOS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testCache is a compilation cache shared by the tests of this package, so
// that each start does not compile the coldchain module again.
func testCache() string { return filepath.Join(os.TempDir(), "custos-test-wazero-cache") }

func start(t *testing.T, dir string) *app.App {
	t.Helper()
	return startWith(t, dir, nil)
}

// startWith starts the app with the test defaults, edited by edit. Tests
// date their readings in 2030 (no timer comes due by the wall clock), so
// the future-skew limit is off unless edit sets one.
func startWith(t *testing.T, dir string, edit func(*app.Config)) *app.App {
	t.Helper()
	cfg := app.Config{
		Data: dir, NATSListen: "127.0.0.1:0", HTTP: "127.0.0.1:0", Logger: quietLogger(), CacheDir: testCache(), MaxFutureSkew: -1,
	}
	if edit != nil {
		edit(&cfg)
	}
	a, err := app.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// client connects to the app from the outside, over TCP, like a device.
func client(t *testing.T, a *app.App) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(a.NATS.ClientURL(), a.AdminOption())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func httpDo(t *testing.T, a *app.App, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+a.HTTPAddr+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func createTwin(t *testing.T, a *app.App, id string, params string) {
	t.Helper()
	code, body := httpDo(t, a, "POST", "/v1/twins", map[string]any{
		"id": id, "kind": "pallet", "policy": "coldchain", "params": json.RawMessage(params), "custodian": "factory",
		"ts": "2026-11-25T09:59:00Z",
	})
	if code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", id, code, body)
	}
}

func reading(ts string, v float64) []byte {
	return fmt.Appendf(nil, `{"ts":%q,"sensor":"t1","type":"temperature","value":%g,"unit":"CEL"}`, ts, v)
}

func publish(t *testing.T, js jetstream.JetStream, subj string, body []byte, opts ...jetstream.PublishOpt) *jetstream.PubAck {
	t.Helper()
	ack, err := js.Publish(context.Background(), subj, body, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ack
}

// waitTwin polls the store until cond holds for twin id.
func waitTwin(t *testing.T, a *app.App, id string, cond func(*twin.Twin) bool) *twin.Twin {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		tw, err := a.Store.Twin(context.Background(), id)
		if err == nil && cond(tw) {
			return tw
		}
		if time.Now().After(deadline) {
			t.Fatalf("twin %s: condition not reached: %+v (err %v)", id, tw, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestColdChainEndToEnd(t *testing.T) {
	a := start(t, t.TempDir())
	defer a.Close()
	nc, js := client(t, a)

	alerts := make(chan *nats.Msg, 100)
	if _, err := nc.ChanSubscribe("custos.twin.PAL-1.alert", alerts); err != nil {
		t.Fatal(err)
	}
	states := make(chan *nats.Msg, 100)
	if _, err := nc.ChanSubscribe("custos.twin.PAL-1.state", states); err != nil {
		t.Fatal(err)
	}
	createTwin(t, a, "PAL-1", `{"min_c":2,"max_c":8,"excursion_budget_s":1800}`)

	// 10:00 5.1 °C; 10:10 9.5 °C (excursion starts); 10:30 still out; 10:45 back
	// in band after 35 min out: over the 30 min budget → compromised.
	publish(t, js, "custos.telemetry.PAL-1", reading("2026-11-25T10:00:00Z", 5.1))
	publish(t, js, "custos.telemetry.PAL-1", reading("2026-11-25T10:10:00Z", 9.5))
	publish(t, js, "custos.telemetry.PAL-1", []byte(`{"readings":[
		{"ts":"2026-11-25T10:30:00Z","sensor":"t1","type":"temperature","value":10.0},
		{"ts":"2026-11-25T10:30:00Z","sensor":"h1","type":"humidity","value":55}]}`))
	publish(t, js, "custos.telemetry.PAL-1", reading("2026-11-25T10:45:00Z", 6.0))

	tw := waitTwin(t, a, "PAL-1", func(tw *twin.Twin) bool { return tw.Seq >= 6 })
	if tw.Status != twin.StatusCompromised {
		t.Errorf("status = %s, want compromised", tw.Status)
	}
	var view struct {
		Temp     float64  `json:"temperature_c"`
		OutS     float64  `json:"time_out_of_band_s"`
		MKT      *float64 `json:"mkt_c"`
		Readings int      `json:"readings"`
	}
	if err := json.Unmarshal(tw.View, &view); err != nil {
		t.Fatalf("view %s: %v", tw.View, err)
	}
	if view.Temp != 6 || view.OutS != 35*60 || view.Readings != 4 || view.MKT == nil {
		t.Errorf("view = %s", tw.View)
	}

	// Alerts on NATS, in order.
	var codes []string
	timeout := time.After(10 * time.Second)
	for len(codes) < 3 {
		select {
		case m := <-alerts:
			var al twin.Alert
			if err := json.Unmarshal(m.Data, &al); err != nil {
				t.Fatal(err)
			}
			codes = append(codes, al.Code)
		case <-timeout:
			t.Fatalf("alerts so far: %v", codes)
		}
	}
	// budget_exceeded may come from the 10:40 budget timer or from the 10:45
	// reading, whichever the runtime sees first; both orders are lawful.
	got := strings.Join(codes, ",")
	if got != "excursion_started,budget_exceeded,excursion_ended" {
		t.Errorf("alerts = %s", got)
	}

	// KV bucket custos_twins, key PAL-1.
	kv, err := js.KeyValue(context.Background(), "custos_twins")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, err := kv.Get(context.Background(), "PAL-1")
		if err == nil {
			var kvTwin twin.Twin
			if err := json.Unmarshal(e.Value(), &kvTwin); err != nil {
				t.Fatal(err)
			}
			if kvTwin.Seq >= tw.Seq {
				if (kvTwin.Seq == tw.Seq && kvTwin.Digest != tw.Digest) || kvTwin.Status != twin.StatusCompromised || kvTwin.Custodian != "factory" {
					t.Errorf("kv twin = %+v", kvTwin)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kv never reached seq %d (err %v)", tw.Seq, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-states:
	case <-time.After(5 * time.Second):
		t.Error("nothing on custos.twin.PAL-1.state")
	}

	// HTTP: the twin, its alerts, its history.
	code, body := httpDo(t, a, "GET", "/v1/twins/PAL-1", nil)
	if code != 200 || !bytes.Contains(body, []byte(`"status":"compromised"`)) {
		t.Errorf("GET twin: %d %s", code, body)
	}
	code, body = httpDo(t, a, "GET", "/v1/twins/PAL-1/alerts", nil)
	if code != 200 || bytes.Count(body, []byte(`"code"`)) != 3 {
		t.Errorf("GET alerts: %d %s", code, body)
	}
	code, body = httpDo(t, a, "GET", "/v1/twins/PAL-1/history", nil)
	var hist struct {
		Records []struct {
			Seq   uint64          `json:"seq"`
			Kind  string          `json:"kind"`
			Event json.RawMessage `json:"event"`
		} `json:"records"`
	}
	if err := json.Unmarshal(body, &hist); err != nil || code != 200 || len(hist.Records) < int(tw.Seq) || hist.Records[0].Kind != "create" {
		t.Errorf("GET history: %d %s", code, body)
	}

	// Custody transfer through the events endpoint.
	code, body = httpDo(t, a, "POST", "/v1/twins/PAL-1/events", map[string]string{"type": "custody", "to": "carrier-1"})
	if code != 200 || !bytes.Contains(body, []byte(`"custodian":"carrier-1"`)) {
		t.Errorf("custody: %d %s", code, body)
	}
	// Errors are JSON with codes.
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"GET", "/v1/twins/NOPE", nil, 404, "not_found"},
		{"GET", "/v1/twins/bad.id", nil, 400, "invalid_id"},
		{"POST", "/v1/twins", map[string]any{"id": "PAL-1", "kind": "pallet", "policy": "coldchain"}, 409, "twin_exists"},
		{"POST", "/v1/twins", map[string]any{"id": "X", "kind": "pallet", "policy": "nosuch"}, 400, "unknown_policy"},
		{"POST", "/v1/twins", map[string]any{"id": "X", "kind": "pallet", "policy": "coldchain", "params": json.RawMessage(`{"min_c":9,"max_c":1}`)}, 422, "contract_rejected"},
		{"POST", "/v1/twins", map[string]any{"idd": "X"}, 400, "invalid_json"},
		{"POST", "/v1/twins/PAL-1/events", map[string]any{"type": "fly"}, 400, "invalid_command"},
		{"GET", "/v1/nothing", nil, 404, "not_found"},
	} {
		code, body := httpDo(t, a, tc.method, tc.path, tc.body)
		var e struct{ Error, Code string }
		json.Unmarshal(body, &e)
		if code != tc.status || e.Code != tc.code || e.Error == "" {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, code, body, tc.status, tc.code)
		}
	}
	if code, body := httpDo(t, a, "GET", "/metrics", nil); code != 200 || !bytes.Contains(body, []byte("custos_ingest_events_applied_total")) {
		t.Errorf("metrics: %d", code)
	}
	if code, _ := httpDo(t, a, "GET", "/readyz", nil); code != 200 {
		t.Errorf("readyz: %d", code)
	}
}

// TestMaxResidentMetric: /metrics shows the cap on resident twins next to
// the resident count, the configured one or the runtime's default.
func TestMaxResidentMetric(t *testing.T) {
	for _, c := range []struct {
		max  int
		want string
	}{{5000, "custos_twins_max_resident 5000\n"}, {0, "custos_twins_max_resident 2e+06\n"}} {
		a := startWith(t, t.TempDir(), func(cfg *app.Config) { cfg.MaxResident = c.max })
		_, body := httpDo(t, a, "GET", "/metrics", nil)
		a.Close()
		if !bytes.Contains(body, []byte(c.want)) {
			t.Errorf("max resident %d: want %q in /metrics:\n%s", c.max, c.want, grep(body, "custos_twins"))
		}
	}
}

func TestDeadLetters(t *testing.T) {
	a := start(t, t.TempDir())
	defer a.Close()
	nc, js := client(t, a)
	createTwin(t, a, "PAL-1", `{}`)
	dlq := make(chan *nats.Msg, 100)
	if _, err := nc.ChanSubscribe("custos.dlq.>", dlq); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		subject string
		body    []byte
		reason  string
	}{
		{"custos.telemetry.PAL-1", []byte(`{"ts": nope`), "invalid_json"},
		{"custos.telemetry.GHOST", reading("2026-11-25T10:00:00Z", 5), "unknown_twin"},
		{"custos.telemetry.PAL-1", []byte(`{"type":"radiation","value":3}`), "unknown_type"},
		{"custos.telemetry.PAL-1", []byte(`{"type":"temperature","value":1e400}`), "invalid_value"},
		{"custos.telemetry.PAL-1", append([]byte(`{"type":"temperature","value":1,"sensor":"`), append(bytes.Repeat([]byte("x"), 70<<10), `"}`...)...), "too_large"},
		{"custos.telemetry.PAL-1.extra", reading("2026-11-25T10:00:00Z", 5), "invalid_subject"},
	}
	for _, c := range cases {
		publish(t, js, c.subject, c.body)
	}
	// A good reading after all the bad ones is still applied.
	publish(t, js, "custos.telemetry.PAL-1", reading("2026-11-25T10:00:00Z", 5))
	waitTwin(t, a, "PAL-1", func(tw *twin.Twin) bool { return tw.Seq == 2 })

	got := map[string]*nats.Msg{}
	timeout := time.After(10 * time.Second)
	for len(got) < len(cases) {
		select {
		case m := <-dlq:
			got[m.Header.Get("Custos-Reason")] = m
		case <-timeout:
			t.Fatalf("dead letters so far: %v", got)
		}
	}
	for _, c := range cases {
		m := got[c.reason]
		if m == nil {
			t.Errorf("no dead letter for %s", c.reason)
			continue
		}
		if m.Subject != "custos.dlq."+c.reason || !bytes.Equal(m.Data, c.body) || m.Header.Get("Custos-Subject") != c.subject || m.Header.Get("Custos-Error") == "" {
			t.Errorf("%s: subject %s, header %v, payload kept %v", c.reason, m.Subject, m.Header, bytes.Equal(m.Data, c.body))
		}
	}
	// Dead letters are kept in a stream and counted.
	st, err := js.Stream(context.Background(), "CUSTOS_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(context.Background())
	if info.State.Msgs != uint64(len(cases)) {
		t.Errorf("CUSTOS_DLQ holds %d messages, want %d", info.State.Msgs, len(cases))
	}
	_, body := httpDo(t, a, "GET", "/metrics", nil)
	if !bytes.Contains(body, []byte(`custos_dlq_total{reason="unknown_twin"} 1`)) {
		t.Errorf("dlq metric missing:\n%s", grep(body, "custos_dlq"))
	}
}

func grep(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestDuplicatePublishIsIdempotent(t *testing.T) {
	a := start(t, t.TempDir())
	defer a.Close()
	_, js := client(t, a)
	createTwin(t, a, "PAL-1", `{}`)
	body := reading("2026-11-25T10:00:00Z", 5)
	publish(t, js, "custos.telemetry.PAL-1", body, jetstream.WithMsgID("dev-7:1"))
	ack := publish(t, js, "custos.telemetry.PAL-1", body, jetstream.WithMsgID("dev-7:1"))
	if !ack.Duplicate {
		t.Error("second publish with the same Nats-Msg-Id not flagged duplicate")
	}
	publish(t, js, "custos.telemetry.PAL-1", reading("2026-11-25T10:01:00Z", 5), jetstream.WithMsgID("dev-7:2"))
	waitTwin(t, a, "PAL-1", func(tw *twin.Twin) bool { return tw.Seq >= 3 })
	time.Sleep(100 * time.Millisecond) // a duplicate, if applied, would show by now
	tw := waitTwin(t, a, "PAL-1", func(*twin.Twin) bool { return true })
	if tw.Seq != 3 {
		t.Fatalf("seq = %d, want 3 (create + 2 distinct readings)", tw.Seq)
	}
}

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	a := start(t, dir)
	_, js := client(t, a)
	createTwin(t, a, "PAL-1", `{}`)
	publish(t, js, "custos.telemetry.PAL-1", reading("2026-11-25T10:00:00Z", 5))
	before := waitTwin(t, a, "PAL-1", func(tw *twin.Twin) bool { return tw.Seq == 2 })
	a.Close()

	a = start(t, dir)
	defer a.Close()
	_, js = client(t, a)
	publish(t, js, "custos.telemetry.PAL-1", reading("2026-11-25T10:01:00Z", 6))
	after := waitTwin(t, a, "PAL-1", func(tw *twin.Twin) bool { return tw.Seq == 3 })
	if after.Created != before.Created || after.Alerts != before.Alerts {
		t.Errorf("twin changed across restart: %+v vs %+v", before, after)
	}
	recs, err := a.Store.History(context.Background(), twin.HistoryQuery{Twin: "PAL-1"})
	if err != nil || len(recs) != 3 || recs[1].Digest != before.Digest {
		t.Fatalf("history after restart: %d records, %v", len(recs), err)
	}
}
