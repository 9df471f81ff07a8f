package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/bus"
)

// TestStateRetention: with --state-retention a twin's key leaves bucket
// custos_twins once the twin has not changed for that long — a watcher
// sees the key purged — while GET /v1/twins/<id> still answers from the
// store; the twin's next change puts the key back. Started again without a
// retention on the same data, the bucket keeps its keys.
func TestStateRetention(t *testing.T) {
	const keep = 2 * time.Second
	dir := t.TempDir()
	a := startWith(t, dir, func(c *app.Config) { c.StateRetention = keep })
	_, js := client(t, a)
	ctx := context.Background()
	msgs := workload(1, 2) // create C-0, then two readings of it

	kv, err := js.KeyValue(ctx, bus.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := kv.Status(ctx); err != nil || st.TTL() != keep || st.LimitMarkerTTL() != keep {
		t.Fatalf("bucket status %v: TTL and marker TTL want %v", err, keep)
	}
	w, err := kv.Watch(ctx, "C-0", jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// next is the watcher's next entry of C-0 (a put or the removal).
	next := func(within time.Duration) jetstream.KeyValueEntry {
		t.Helper()
		select {
		case e := <-w.Updates():
			return e
		case <-time.After(within):
			t.Fatalf("no update of C-0 in %v", within)
			return nil
		}
	}
	seqOf := func(e jetstream.KeyValueEntry) uint64 {
		t.Helper()
		var st struct{ Seq uint64 }
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			t.Fatalf("bucket value %q: %v", e.Value(), err)
		}
		return st.Seq
	}

	waitAcked(t, js, publishFrom(t, js, msgs[:2], 0)) // create and a reading
	code, body := httpDo(t, a, "GET", "/v1/twins/C-0", nil)
	var tw struct{ Seq uint64 }
	if err := json.Unmarshal(body, &tw); code != http.StatusOK || err != nil || tw.Seq < 2 {
		t.Fatalf("GET /v1/twins/C-0: %d %s", code, body)
	}
	seq := tw.Seq // the reading's, and the timers' it fired
	var put jetstream.KeyValueEntry
	for put == nil || put.Operation() == jetstream.KeyValuePut && seqOf(put) < seq {
		put = next(10 * time.Second)
	}
	if put.Operation() != jetstream.KeyValuePut || seqOf(put) != seq {
		t.Fatalf("first updates: %v seq %d, want the put of seq %d", put.Operation(), seqOf(put), seq)
	}
	putAt := time.Now()

	// Nothing changes the twin: its key goes, a retention after its put.
	gone := next(keep + 10*time.Second)
	if gone.Operation() != jetstream.KeyValuePurge {
		t.Fatalf("after the retention: %v, want the key purged", gone.Operation())
	}
	if el := time.Since(putAt); el < keep-200*time.Millisecond {
		t.Fatalf("key removed %v after its put, before the retention (%v)", el, keep)
	}
	if _, err := kv.Get(ctx, "C-0"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("get after the retention: %v, want key not found", err)
	}
	code, body = httpDo(t, a, "GET", "/v1/twins/C-0", nil)
	if err := json.Unmarshal(body, &tw); code != http.StatusOK || err != nil || tw.Seq != seq {
		t.Fatalf("GET /v1/twins/C-0 after the retention: %d %s, want seq %d", code, body, seq)
	}

	// Its next change puts it back.
	waitAcked(t, js, publishFrom(t, js, msgs[2:], 2))
	back := next(10 * time.Second)
	if back.Operation() != jetstream.KeyValuePut || seqOf(back) <= seq {
		t.Fatalf("after a new reading: %v, want a put after seq %d", back.Operation(), seq)
	}
	seq = seqOf(back)
	w.Stop()
	a.Close()

	// Without a retention the bucket keeps every key again.
	a = start(t, dir)
	defer a.Close()
	_, js = client(t, a)
	kv, err = js.KeyValue(ctx, bus.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := kv.Status(ctx); err != nil || st.TTL() != 0 {
		t.Fatalf("bucket status %v: TTL %v, want none", err, st.TTL())
	}
	time.Sleep(keep + 2*time.Second)
	if e, err := kv.Get(ctx, "C-0"); err != nil || seqOf(e) != seq {
		t.Fatalf("without a retention: %v, want C-0 at seq %d", err, seq)
	}
}
