package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/bus"
	"github.com/custos-dev/custos/twin"
)

// The faults of issue 12 that misled: each request is refused with the
// status and code a client can act on.
func TestFaultsRefused(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	os.WriteFile(tokens, []byte("admin-token-0123456789 admin\nacme-token-0123456789 admin acme\n"), 0o600)
	a := startWith(t, filepath.Join(dir, "data"), func(c *app.Config) {
		c.AuthTokens = tokens
		c.HTTPBodyTimeout = 300 * time.Millisecond
	})
	defer a.Close()
	do := func(token, method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+a.HTTPAddr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const admin, acme = "admin-token-0123456789", "acme-token-0123456789"
	create := func(token, id, extra string) (int, string) {
		return do(token, "POST", "/v1/twins", `{"id":"`+id+`","kind":"pallet","policy":"coldchain","params":{"min_c":2,"max_c":8,"excursion_budget_s":1800},"ts":"2026-11-25T09:59:00Z"`+extra+`}`)
	}
	for _, id := range []string{"PAL-1", "CASE-1", "beta-PAL"} {
		if code, body := create(admin, id, ""); code != 201 {
			t.Fatalf("create %s: %d %s", id, code, body)
		}
	}
	if code, body := create(acme, "acme-PAL", ""); code != 201 {
		t.Fatalf("create acme-PAL: %d %s", code, body)
	}
	_, js := client(t, a)
	publish(t, js, bus.TelemetryPrefix+"PAL-1", reading("2026-11-25T10:00:00Z", 30))
	// The budget (30 min) runs out at 10:30 in event time: the next reading
	// after it fires the budget timer first.
	publish(t, js, bus.TelemetryPrefix+"PAL-1", reading("2026-11-25T10:31:00Z", 30))
	waitTwin(t, a, "PAL-1", func(tw *twin.Twin) bool { return tw.Status == twin.StatusCompromised })

	for _, tt := range []struct {
		name, token, method, path, body string
		code                            int
		errCode                         string
	}{
		{"trailing garbage", admin, "POST", "/v1/twins", `{"id":"X-1","kind":"pallet","policy":"coldchain"} garbage`, 400, "invalid_json"},
		{"two values", admin, "POST", "/v1/twins/CASE-1/events", `{"type":"custody","to":"a"}{"type":"custody","to":"b"}`, 400, "invalid_json"},
		{"status bogus", admin, "POST", "/v1/twins/CASE-1/events", `{"type":"status","status":"bogus"}`, 400, "invalid_command"},
		{"status compromised", admin, "POST", "/v1/twins/CASE-1/events", `{"type":"status","status":"compromised"}`, 400, "invalid_command"},
		{"in_transit on compromised", admin, "POST", "/v1/twins/PAL-1/events", `{"type":"status","status":"in_transit","ts":"2026-11-25T10:05:00Z"}`, 409, "twin_compromised"},
		{"aggregate unknown child", admin, "POST", "/v1/twins/PAL-1/events", `{"type":"aggregate","children":["NOPE-1"]}`, 422, "unknown_twin"},
		{"aggregate other tenant's child", acme, "POST", "/v1/twins/acme-PAL/events", `{"type":"aggregate","children":["beta-PAL"]}`, 403, "forbidden"},
		{"parent does not exist", admin, "POST", "/v1/twins", `{"id":"C-9","kind":"case","policy":"coldchain","parent":"NOPE-1"}`, 422, "unknown_twin"},
		{"parent of another tenant", acme, "POST", "/v1/twins", `{"id":"acme-C","kind":"case","policy":"coldchain","parent":"beta-PAL"}`, 403, "forbidden"},
		{"proof format zzz", admin, "GET", "/v1/twins/CASE-1/proof?format=zzz", "", 400, "invalid_query"},
	} {
		code, body := do(tt.token, tt.method, tt.path, tt.body)
		var e struct{ Code string }
		json.Unmarshal([]byte(body), &e)
		if code != tt.code || e.Code != tt.errCode {
			t.Errorf("%s: %d %s, want %d %s", tt.name, code, body, tt.code, tt.errCode)
		}
	}
	// The legitimate ones still work.
	if code, body := do(admin, "POST", "/v1/twins/CASE-1/events", `{"type":"status","status":"in_transit"}`); code != 200 {
		t.Errorf("status in_transit: %d %s", code, body)
	}
	if code, body := create(admin, "CASE-2", `,"parent":"PAL-1"`); code != 201 {
		t.Errorf("create with parent: %d %s", code, body)
	}
	if code, body := do(admin, "POST", "/v1/twins/PAL-1/events", `{"type":"aggregate","children":["CASE-1"]}`); code != 200 {
		t.Errorf("aggregate: %d %s", code, body)
	}

	// A slow body (one byte at a time, never complete) is cut off.
	conn, err := net.Dial("tcp", a.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/twins HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", admin)
	t0 := time.Now()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		for range 20 {
			time.Sleep(100 * time.Millisecond)
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("slow body: %v", err)
	}
	if resp.StatusCode != 400 || time.Since(t0) > 3*time.Second {
		t.Errorf("slow body: %d after %v", resp.StatusCode, time.Since(t0))
	}
}

// Readings dated beyond the future-skew limit and timers custos did not
// set are dead-lettered with their reason, not applied and not dropped.
func TestFutureReadingsAndForeignTimersDeadLettered(t *testing.T) {
	a := startWith(t, t.TempDir(), func(c *app.Config) { c.MaxFutureSkew = 24 * time.Hour })
	defer a.Close()
	createTwin(t, a, "PAL-1", `{"min_c":2,"max_c":8,"excursion_budget_s":1800}`)
	_, js := client(t, a)
	ctx := context.Background()
	now := time.Now().UTC()
	publish(t, js, bus.TelemetryPrefix+"PAL-1", reading("2100-01-01T00:00:00Z", 5))
	publish(t, js, bus.TelemetryPrefix+"PAL-1", reading(now.Add(time.Hour).Format(time.RFC3339), 5))
	// Only custos may publish timers; the internal connection stands in for
	// one that got through anyway (an external NATS server, say).
	if _, err := a.JS.Publish(ctx, bus.TimerPrefix+"PAL-1", []byte(`{"name":"forged","at":"2026-11-25T10:00:00Z"}`)); err != nil {
		t.Fatal(err)
	}
	tw := waitTwin(t, a, "PAL-1", func(tw *twin.Twin) bool { return tw.Seq == 2 })
	dlq, err := js.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	for _, reason := range []twin.Reason{bus.ReasonFuture, twin.ReasonTimerNotSet} {
		deadline := time.Now().Add(5 * time.Second)
		for countDLQ(t, dlq, bus.DLQPrefix+string(reason)) != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("no dead letter %s", reason)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if tw.Seq != 2 {
		t.Errorf("seq %d, want 2 (create and the reading an hour ahead)", tw.Seq)
	}
}

// When publications fail for good (a stream gone), /readyz and
// custos_publications_healthy say so with the reason, nothing is
// acknowledged, and both recover once the stream is back.
func TestReadyzOnFailingPublications(t *testing.T) {
	a := start(t, t.TempDir())
	defer a.Close()
	ctx := context.Background()
	_, js := client(t, a)
	// Only custos can delete its streams: this is custos's own connection.
	if err := a.JS.DeleteStream(ctx, bus.StreamDLQ); err != nil {
		t.Fatal(err)
	}
	publish(t, js, bus.TelemetryPrefix+"NOPE-1", reading("2026-11-25T10:00:00Z", 5)) // unknown twin: a dead letter
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := httpDo(t, a, "GET", "/readyz", nil)
		if code == 503 && strings.Contains(string(body), "publications failing") && strings.Contains(string(body), "custos.dlq.unknown_twin") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, body := httpDo(t, a, "GET", "/metrics", nil); !strings.Contains(string(body), "custos_publications_healthy 0") {
		t.Error("custos_publications_healthy is not 0")
	}
	if err := a.Bus.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		code, body := httpDo(t, a, "GET", "/readyz", nil)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after the stream is back: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	dlq, _ := js.Stream(ctx, bus.StreamDLQ)
	if n := countDLQ(t, dlq, bus.DLQPrefix+string(twin.ReasonUnknownTwin)); n != 1 {
		t.Errorf("%d dead letters, want the one that failed before", n)
	}
}
