package httpapi_test

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

type sse struct {
	event, id, data string
}

// sseClient reads Server-Sent Events from a stream.
type sseClient struct {
	t    *testing.T
	resp *http.Response
	ch   chan sse
}

func openStream(t *testing.T, e *env, query, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/v1/stream"+query, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("stream%s: %s %s", query, resp.Status, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{t: t, resp: resp, ch: make(chan sse, 1024)}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	go func() {
		defer close(c.ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" || ev.data != "" {
					c.ch <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return c
}

// next returns the next event of one of the given types (others skipped).
func (c *sseClient) next(types ...string) sse {
	c.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-c.ch:
			if !ok {
				c.t.Fatal("stream closed")
			}
			for _, ty := range types {
				if ev.event == ty {
					return ev
				}
			}
		case <-timeout:
			c.t.Fatalf("no %v event within 15 s", types)
		}
	}
}

func TestStream(t *testing.T) {
	e := startEnv(t, "")
	e.create("", "PAL-1", "pallet", "factory")
	e.create("", "PAL-2", "pallet", "factory")

	// State in KV is coalesced (100 ms): wait until PAL-1 is there.
	kv, err := e.js.KeyValue(context.Background(), "custos_twins")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := kv.Get(context.Background(), "PAL-1"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("PAL-1 not in KV: %v", err)
		}
	}

	// State: current values first, then "synced", then changes.
	st := openStream(t, e, "?twin=PAL-1&types=state", "")
	if h := st.next("hello"); !strings.Contains(h.data, `"types":["state"]`) || h.id != "" {
		t.Fatalf("hello %+v", h)
	}
	if s := st.next("state", "synced"); s.event != "state" || !strings.Contains(s.data, `"id":"PAL-1"`) {
		t.Fatalf("first event %+v, want PAL-1's current state", s)
	}
	st.next("synced")

	// Alerts from now on, with the stream sequence as id.
	al := openStream(t, e, "?types=alert", "")
	hello := al.next("hello")
	start, err := strconv.ParseUint(hello.id, 10, 64)
	if err != nil {
		t.Fatalf("hello id %q: %v", hello.id, err)
	}
	crit := openStream(t, e, "?types=alert&severity=critical&twin=PAL-2", "")
	crit.next("hello")

	e.reading("PAL-1", "2026-11-25T10:00:00Z", 9.5) // excursion_started (warning)
	s := st.next("state")
	if !strings.Contains(s.data, `"temperature_c":9.5`) || !strings.Contains(s.data, `"in_excursion":true`) {
		t.Fatalf("state change %s", s.data)
	}
	a1 := al.next("alert")
	if !strings.Contains(a1.data, `"code":"excursion_started"`) || !strings.Contains(a1.data, `"twin":"PAL-1"`) {
		t.Fatalf("alert %s", a1.data)
	}
	id1, _ := strconv.ParseUint(a1.id, 10, 64)
	if id1 <= start {
		t.Fatalf("alert id %d not after hello id %d", id1, start)
	}
	e.reading("PAL-1", "2026-11-25T10:10:00Z", 5) // excursion_ended (info)
	a2 := al.next("alert")
	if !strings.Contains(a2.data, `"code":"excursion_ended"`) {
		t.Fatalf("second alert %s", a2.data)
	}

	// Resume: reconnecting after the first alert gives the second again,
	// and reconnecting with the hello id gives both.
	re := openStream(t, e, "?types=alert", a1.id)
	if h := re.next("hello"); h.id != a1.id {
		t.Fatalf("resumed hello id %q, want %q", h.id, a1.id)
	}
	if r := re.next("alert"); r.id != a2.id || r.data != a2.data {
		t.Fatalf("resumed with %+v, want %+v", r, a2)
	}
	re2 := openStream(t, e, "?types=alert&last_event_id="+hello.id, "")
	if r := re2.next("alert"); r.id != a1.id {
		t.Fatalf("resumed from hello: %+v, want alert %s", r, a1.id)
	}

	// Severity and twin filters: PAL-2's warning is skipped, its critical
	// budget_exceeded comes through (40 min out of a 30 min budget).
	e.reading("PAL-2", "2026-11-25T10:00:00Z", 9.5)
	e.reading("PAL-2", "2026-11-25T10:40:00Z", 9.6)
	if c := crit.next("alert"); !strings.Contains(c.data, `"severity":"critical"`) || !strings.Contains(c.data, `"twin":"PAL-2"`) {
		t.Fatalf("critical stream got %s", c.data)
	}

	run(t, e, []check{
		{name: "bad types", method: "GET", path: "/v1/stream?types=gossip", status: 400, code: "invalid_query"},
		{name: "bad twin", method: "GET", path: "/v1/stream?twin=a.b", status: 400, code: "invalid_id"},
		{name: "bad severity", method: "GET", path: "/v1/stream?severity=loud", status: 400, code: "invalid_query"},
		{name: "bad resume", method: "GET", path: "/v1/stream?last_event_id=yesterday", status: 400, code: "invalid_query"},
		{name: "bad initial", method: "GET", path: "/v1/stream?initial=perhaps", status: 400, code: "invalid_query"},
	})
}
