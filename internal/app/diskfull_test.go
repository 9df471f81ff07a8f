package app_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/bus"
	"github.com/custos-dev/custos/store/embedded"
	"github.com/custos-dev/custos/twin"
)

// The disk-full cycle on the embedded store, with the free space the store
// measures injected: under the reserve ingest stops without a panic,
// /readyz says why, nothing is acknowledged; when space returns ingest
// resumes by itself and every reading is applied once. Starting on a full
// disk fails with a clear message.
func TestDiskFullCycle(t *testing.T) {
	var free atomic.Uint64
	free.Store(1 << 40)
	dir := t.TempDir()
	opt := embedded.WithFreeSpace(func(string) (uint64, error) { return free.Load(), nil })
	a := startWith(t, dir, func(c *app.Config) { c.EmbeddedOptions = []embedded.Option{opt} })
	createTwin(t, a, "PAL-1", `{"min_c":2,"max_c":8,"excursion_budget_s":1800}`)
	_, js := client(t, a)
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	send := func(from, n int) {
		for i := from; i < from+n; i++ {
			publish(t, js, bus.TelemetryPrefix+"PAL-1", reading(base.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), 5))
		}
	}
	send(0, 10)
	waitTwin(t, a, "PAL-1", func(tw *twin.Twin) bool { return tw.Seq == 11 })

	free.Store(1 << 20) // 1 MiB: under the 64 MiB reserve
	send(10, 20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := httpDo(t, a, "GET", "/readyz", nil)
		if code == 503 && strings.Contains(string(body), "disk full") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz on a full disk: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if tw, _ := a.Store.Twin(context.Background(), "PAL-1"); tw.Seq != 11 {
		t.Errorf("seq %d on a full disk, want 11", tw.Seq)
	}

	free.Store(1 << 40)
	tw := waitTwin(t, a, "PAL-1", func(tw *twin.Twin) bool { return tw.Seq >= 31 })
	if tw.Seq != 31 {
		t.Errorf("seq %d after space returned, want 31", tw.Seq)
	}
	deadline = time.Now().Add(10 * time.Second)
	for code, body := httpDo(t, a, "GET", "/readyz", nil); code != 200; code, body = httpDo(t, a, "GET", "/readyz", nil) {
		if time.Now().After(deadline) {
			t.Fatalf("readyz after space returned: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	recs, err := a.Store.History(context.Background(), twin.HistoryQuery{Twin: "PAL-1", Limit: 100})
	if err != nil || len(recs) != 31 {
		t.Fatalf("history: %d records, %v", len(recs), err)
	}
	a.Close()

	free.Store(1 << 20)
	_, err = app.Start(context.Background(), app.Config{Data: dir, NATSListen: "-", HTTP: "-", Logger: quietLogger(),
		CacheDir: testCache(), EmbeddedOptions: []embedded.Option{opt}})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("start on a full disk: %v", err)
	}
	t.Log(err)
}
