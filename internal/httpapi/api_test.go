package httpapi_test

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

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func cacheDir() string { return filepath.Join(os.TempDir(), "custos-test-wazero-cache") }

// env is a running custos (real NATS, store, contracts) and a client.
type env struct {
	t    *testing.T
	a    *app.App
	base string
	js   jetstream.JetStream
}

func startEnv(t *testing.T, tokens string) *env {
	t.Helper()
	cfg := app.Config{Data: t.TempDir(), NATSListen: "127.0.0.1:0", HTTP: "127.0.0.1:0", Logger: quiet(), CacheDir: cacheDir()}
	if tokens != "" {
		cfg.AuthTokens = filepath.Join(t.TempDir(), "tokens")
		if err := os.WriteFile(cfg.AuthTokens, []byte(tokens), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, err := app.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	nc, err := nats.Connect(a.NATS.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	return &env{t: t, a: a, base: "http://" + a.HTTPAddr, js: js}
}

// do sends a request; body may be a string (sent as is) or a value (JSON).
func (e *env) do(token, method, path string, body any) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewReader(js)
	}
	req, _ := http.NewRequest(method, e.base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

func (e *env) create(token, id, kind, custodian string) {
	e.t.Helper()
	code, _, body := e.do(token, "POST", "/v1/twins", map[string]any{"id": id, "kind": kind, "policy": "coldchain",
		"params": json.RawMessage(`{"min_c":2,"max_c":8,"excursion_budget_s":1800}`), "custodian": custodian, "ts": "2026-11-25T09:00:00Z"})
	if code != http.StatusCreated {
		e.t.Fatalf("create %s: %d %s", id, code, body)
	}
}

func (e *env) reading(id, ts string, v float64) {
	e.t.Helper()
	msg := fmt.Sprintf(`{"ts":%q,"sensor":"t1","type":"temperature","value":%g,"unit":"CEL"}`, ts, v)
	if _, err := e.js.Publish(context.Background(), "custos.telemetry."+id, []byte(msg)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) waitTwin(id string, cond func(*twin.Twin) bool) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		tw, err := e.a.Store.Twin(context.Background(), id)
		if err == nil && cond(tw) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("twin %s: condition not reached (%+v, %v)", id, tw, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fleet creates five twins: PAL-1 and PAL-2 (pallets, PAL-2 with an
// excursion and so alerts), CASE-1..3 (cases), PAL-1 handed to carrier-1.
func (e *env) fleet(token string) {
	e.t.Helper()
	e.create(token, "PAL-1", "pallet", "factory")
	e.create(token, "PAL-2", "pallet", "factory")
	for i := 1; i <= 3; i++ {
		e.create(token, fmt.Sprintf("CASE-%d", i), "case", "factory")
	}
	if code, _, body := e.do(token, "POST", "/v1/twins/PAL-1/events", `{"type":"custody","to":"carrier-1","ts":"2026-11-25T09:30:00Z"}`); code != 200 {
		e.t.Fatalf("custody: %d %s", code, body)
	}
	for i, v := range []float64{5, 5.5, 6} {
		e.reading("PAL-1", fmt.Sprintf("2026-11-25T10:%02d:00Z", i*10), v)
	}
	e.reading("PAL-2", "2026-11-25T10:00:00Z", 5)
	e.reading("PAL-2", "2026-11-25T10:10:00Z", 9.5)
	e.reading("PAL-2", "2026-11-25T10:20:00Z", 6)
	e.waitTwin("PAL-1", func(t *twin.Twin) bool { return t.Seq >= 5 })
	e.waitTwin("PAL-2", func(t *twin.Twin) bool { return t.Alerts >= 2 && t.Seq >= 4 })
}

type apiErr struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// check is one request and what must come back.
type check struct {
	name   string
	method string
	path   string
	body   any
	token  string
	status int
	code   string                   // error code, for error answers
	want   func(*testing.T, []byte) // more checks on the body
}

func run(t *testing.T, e *env, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			code, hdr, body := e.do(c.token, c.method, c.path, c.body)
			if code != c.status {
				t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, code, c.status, body)
			}
			if c.code != "" || code >= 400 {
				if ct := hdr.Get("Content-Type"); ct != "application/json" {
					t.Errorf("error Content-Type %q, want application/json", ct)
				}
				var ae apiErr
				if err := json.Unmarshal(body, &ae); err != nil || ae.Error == "" || ae.Code != c.code {
					t.Fatalf("error body %s: want code %q with a message", body, c.code)
				}
			}
			if c.want != nil {
				c.want(t, body)
			}
		})
	}
}

func ids(t *testing.T, body []byte) []string {
	t.Helper()
	var l struct {
		Twins []twin.Twin `json:"twins"`
		Next  string      `json:"next"`
	}
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tw := range l.Twins {
		out = append(out, tw.ID)
	}
	return out
}

func wantIDs(want ...string) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		if got := ids(t, body); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("twins %v, want %v", got, want)
		}
	}
}

func contains(subs ...string) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		for _, s := range subs {
			if !bytes.Contains(body, []byte(s)) {
				t.Errorf("body lacks %q: %.400s", s, body)
			}
		}
	}
}

func lacks(subs ...string) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		for _, s := range subs {
			if bytes.Contains(body, []byte(s)) {
				t.Errorf("body has %q: %.400s", s, body)
			}
		}
	}
}

func records(t *testing.T, body []byte) (kinds []string, next string) {
	t.Helper()
	var p struct {
		Records []struct {
			Kind string `json:"kind"`
			Seq  uint64 `json:"seq"`
		} `json:"records"`
		Next string `json:"next"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Records {
		kinds = append(kinds, r.Kind)
	}
	return kinds, p.Next
}

func wantKinds(want ...string) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		if got, _ := records(t, body); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("record kinds %v, want %v", got, want)
		}
	}
}

func TestEndpoints(t *testing.T) {
	e := startEnv(t, "")
	e.fleet("")
	big := `{"id":"BIG","kind":"pallet","policy":"coldchain","params":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}`
	run(t, e, []check{
		// Twins: list, filters, pagination.
		{name: "list", method: "GET", path: "/v1/twins", status: 200, want: wantIDs("CASE-1", "CASE-2", "CASE-3", "PAL-1", "PAL-2")},
		{name: "list kind", method: "GET", path: "/v1/twins?kind=pallet", status: 200, want: wantIDs("PAL-1", "PAL-2")},
		{name: "list custodian", method: "GET", path: "/v1/twins?custodian=carrier-1", status: 200, want: wantIDs("PAL-1")},
		{name: "list status", method: "GET", path: "/v1/twins?status=created&kind=case", status: 200, want: wantIDs("CASE-1", "CASE-2", "CASE-3")},
		{name: "list has alerts", method: "GET", path: "/v1/twins?has_alerts=true", status: 200, want: wantIDs("PAL-2")},
		{name: "list has no alerts", method: "GET", path: "/v1/twins?has_alerts=false&limit=2", status: 200, want: func(t *testing.T, b []byte) {
			wantIDs("CASE-1", "CASE-2")(t, b)
			contains(`"next":"CASE-2"`)(t, b)
		}},
		{name: "list page 2", method: "GET", path: "/v1/twins?limit=2&after=CASE-2", status: 200, want: func(t *testing.T, b []byte) {
			wantIDs("CASE-3", "PAL-1")(t, b)
			contains(`"next":"PAL-1"`)(t, b)
		}},
		{name: "list last page", method: "GET", path: "/v1/twins?limit=2&after=PAL-1", status: 200, want: func(t *testing.T, b []byte) {
			wantIDs("PAL-2")(t, b)
			lacks(`"next"`)(t, b)
		}},
		{name: "list bad limit", method: "GET", path: "/v1/twins?limit=5000", status: 400, code: "invalid_query"},
		{name: "list bad limit text", method: "GET", path: "/v1/twins?limit=ten", status: 400, code: "invalid_query"},
		{name: "list bad has_alerts", method: "GET", path: "/v1/twins?has_alerts=maybe", status: 400, code: "invalid_query"},
		// The fleet's data is from 2026-11-25: stale by 3 h (for a test run
		// after that day), not by a million hours.
		{name: "list stale", method: "GET", path: "/v1/twins?stale=3h&kind=pallet", status: 200, want: wantIDs("PAL-1", "PAL-2")},
		{name: "list not stale", method: "GET", path: "/v1/twins?stale=1000000h", status: 200, want: wantIDs()},
		{name: "list bad stale", method: "GET", path: "/v1/twins?stale=-3h", status: 400, code: "invalid_query"},
		{name: "list bad cursor", method: "GET", path: "/v1/twins?after=a.b", status: 400, code: "invalid_query"},

		// Create.
		{name: "create", method: "POST", path: "/v1/twins", body: `{"id":"PAL-9","kind":"pallet","policy":"coldchain","custodian":"factory"}`, status: 201,
			want: contains(`"id":"PAL-9"`, `"status":"created"`, `"seq":1`)},
		{name: "create again", method: "POST", path: "/v1/twins", body: `{"id":"PAL-9","kind":"pallet","policy":"coldchain"}`, status: 409, code: "twin_exists"},
		{name: "create bad json", method: "POST", path: "/v1/twins", body: `{"id":`, status: 400, code: "invalid_json"},
		{name: "create unknown field", method: "POST", path: "/v1/twins", body: `{"id":"X","kind":"pallet","policy":"coldchain","colour":"red"}`, status: 400, code: "invalid_json"},
		{name: "create bad id", method: "POST", path: "/v1/twins", body: `{"id":"a b","kind":"pallet","policy":"coldchain"}`, status: 400, code: "invalid_id"},
		{name: "create no kind", method: "POST", path: "/v1/twins", body: `{"id":"X","policy":"coldchain"}`, status: 400, code: "invalid_command"},
		{name: "create unknown policy", method: "POST", path: "/v1/twins", body: `{"id":"X","kind":"pallet","policy":"nope"}`, status: 400, code: "unknown_policy"},
		{name: "create too large", method: "POST", path: "/v1/twins", body: big, status: 413, code: "too_large"},

		// One twin.
		{name: "get", method: "GET", path: "/v1/twins/PAL-1", status: 200, want: contains(`"custodian":"carrier-1"`, `"temperature_c":6`)},
		{name: "get missing", method: "GET", path: "/v1/twins/NOPE", status: 404, code: "not_found"},
		{name: "get bad id", method: "GET", path: "/v1/twins/a.b", status: 400, code: "invalid_id"},

		// Commands.
		{name: "event custody", method: "POST", path: "/v1/twins/CASE-1/events", body: `{"type":"custody","to":"carrier-2","ts":"2026-11-25T09:40:00Z"}`, status: 200,
			want: contains(`"custodian":"carrier-2"`)},
		{name: "event status", method: "POST", path: "/v1/twins/CASE-1/events", body: `{"type":"status","status":"in_transit","ts":"2026-11-25T09:41:00Z"}`, status: 200,
			want: contains(`"status":"in_transit"`)},
		{name: "event bad type", method: "POST", path: "/v1/twins/CASE-1/events", body: `{"type":"teleport"}`, status: 400, code: "invalid_command"},
		{name: "event create", method: "POST", path: "/v1/twins/CASE-1/events", body: `{"type":"create"}`, status: 400, code: "invalid_command"},
		{name: "event unknown twin", method: "POST", path: "/v1/twins/NOPE/events", body: `{"type":"close"}`, status: 404, code: "not_found"},
		{name: "event bad json", method: "POST", path: "/v1/twins/CASE-1/events", body: `[]`, status: 400, code: "invalid_json"},

		// Custody and lifecycle events.
		{name: "lifecycle", method: "GET", path: "/v1/twins/PAL-1/events", status: 200, want: func(t *testing.T, b []byte) {
			wantKinds("create", "custody")(t, b)
			contains(`"from":"factory"`, `"to":"carrier-1"`)(t, b)
		}},
		{name: "lifecycle page", method: "GET", path: "/v1/twins/PAL-1/events?limit=1", status: 200, want: func(t *testing.T, b []byte) {
			wantKinds("create")(t, b)
			contains(`"next":"1"`)(t, b)
		}},
		{name: "lifecycle missing", method: "GET", path: "/v1/twins/NOPE/events", status: 404, code: "not_found"},

		// History by time range and kind.
		{name: "history", method: "GET", path: "/v1/twins/PAL-1/history", status: 200, want: wantKinds("create", "custody", "reading", "reading", "reading")},
		{name: "history readings", method: "GET", path: "/v1/twins/PAL-1/history?kind=reading", status: 200, want: wantKinds("reading", "reading", "reading")},
		{name: "history range", method: "GET", path: "/v1/twins/PAL-1/history?from=2026-11-25T10:05:00Z&to=2026-11-25T10:15:00Z", status: 200,
			want: func(t *testing.T, b []byte) {
				wantKinds("reading")(t, b)
				contains(`"value":5.5`, `"event_hash":"0x`, `"digest":"0x`)(t, b)
			}},
		{name: "history after", method: "GET", path: "/v1/twins/PAL-1/history?after=3&limit=1", status: 200, want: func(t *testing.T, b []byte) {
			wantKinds("reading")(t, b)
			contains(`"seq":4`, `"next":"4"`)(t, b)
		}},
		{name: "history bad kind", method: "GET", path: "/v1/twins/PAL-1/history?kind=teleport", status: 400, code: "invalid_query"},
		{name: "history bad from", method: "GET", path: "/v1/twins/PAL-1/history?from=yesterday", status: 400, code: "invalid_query"},
		{name: "history to before from", method: "GET", path: "/v1/twins/PAL-1/history?from=2026-11-25T11:00:00Z&to=2026-11-25T10:00:00Z", status: 400, code: "invalid_query"},
		{name: "history missing", method: "GET", path: "/v1/twins/NOPE/history", status: 404, code: "not_found"},

		// Alerts.
		{name: "alerts", method: "GET", path: "/v1/twins/PAL-2/alerts", status: 200, want: contains(`"code":"excursion_started"`, `"code":"excursion_ended"`, `"n":2`)},
		{name: "alerts range", method: "GET", path: "/v1/twins/PAL-2/alerts?from=2026-11-25T10:15:00Z", status: 200, want: func(t *testing.T, b []byte) {
			contains(`"excursion_ended"`)(t, b)
			lacks(`"excursion_started"`)(t, b)
		}},
		{name: "alerts none", method: "GET", path: "/v1/twins/PAL-1/alerts", status: 200, want: contains(`"alerts":[]`)},
		{name: "alerts bad after", method: "GET", path: "/v1/twins/PAL-2/alerts?after=-1", status: 400, code: "invalid_query"},
		{name: "alerts missing", method: "GET", path: "/v1/twins/NOPE/alerts", status: 404, code: "not_found"},
		{name: "all alerts", method: "GET", path: "/v1/alerts", status: 200, want: contains(`"twin":"PAL-2"`)},

		// Policies, anchoring (not wired here), description, health, metrics.
		{name: "policies", method: "GET", path: "/v1/policies", status: 200, want: contains(`"name":"coldchain"`, `"sha256":"0x`)},
		{name: "proof disabled", method: "GET", path: "/v1/twins/PAL-1/proof?seq=2", status: 501, code: "anchoring_disabled"},
		{name: "anchors disabled", method: "GET", path: "/v1/anchors", status: 501, code: "anchoring_disabled"},
		{name: "verify disabled", method: "POST", path: "/v1/verify", body: `{}`, status: 501, code: "anchoring_disabled"},
		{name: "openapi", method: "GET", path: "/v1/openapi.json", status: 200, want: contains(`"openapi": "3.1.0"`, `"/v1/stream"`)},
		{name: "healthz", method: "GET", path: "/healthz", status: 200, want: contains(`"ok"`)},
		{name: "readyz", method: "GET", path: "/readyz", status: 200, want: contains(`"ready"`)},
		{name: "metrics", method: "GET", path: "/metrics", status: 200, want: contains(
			"custos_http_requests_total{code=\"200\",route=\"GET /v1/twins\"}", "custos_contract_call_seconds_bucket{call=\"apply\"",
			"custos_store_seconds_bucket{op=\"commit\"", "custos_ingest_events_applied_total", "custos_twins_resident")},
		{name: "dashboard", method: "GET", path: "/", status: 200, want: contains("<title>custos", "/assets/app.js")},
		{name: "dashboard js", method: "GET", path: "/assets/app.js", status: 200, want: contains("EventSource")},
		{name: "no such asset", method: "GET", path: "/assets/nope.js", status: 404, code: "not_found"},
		{name: "unknown endpoint", method: "GET", path: "/v2/things", status: 404, code: "not_found"},
		{name: "wrong method", method: "DELETE", path: "/v1/twins/PAL-1", status: 405, code: "method_not_allowed"},
	})
}
