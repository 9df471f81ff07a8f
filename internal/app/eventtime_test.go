package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

// TestLateUploadFourDaysOld is the logger read out four days late: a twin
// created, then 60 readings stamped four days ago, published in one burst.
// Judged on event time: seq 61 (create + readings), no timer fired by the
// server's clock in the middle of them, history monotonic in event time,
// stream_seq and record time filled, freshness visible (watermark, lag of
// about four days, listed by ?stale=3h).
func TestLateUploadFourDaysOld(t *testing.T) {
	a := start(t, t.TempDir())
	defer a.Close()
	_, js := client(t, a)
	ctx := context.Background()
	start := time.Now().UTC().Add(-4 * 24 * time.Hour).Truncate(time.Second)
	const n = 60

	upload := func(id string) []*twin.Record {
		for i := range n {
			ts := start.Add(time.Duration(i+1) * time.Minute).Format(time.RFC3339)
			publish(t, js, "custos.telemetry."+id, reading(ts, 4+float64(i%4)))
		}
		waitTwin(t, a, id, func(tw *twin.Twin) bool { return tw.StreamSeq > 0 && tw.Seq >= n+1 })
		time.Sleep(100 * time.Millisecond) // a stray timer would show up now
		recs, err := a.Store.History(ctx, twin.HistoryQuery{Twin: id, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != n+1 {
			t.Fatalf("%s: %d records, want %d (create + %d readings)", id, len(recs), n+1, n)
		}
		out := make([]*twin.Record, len(recs))
		for i := range recs {
			r := &recs[i]
			out[i] = r
			if r.Kind == twin.KindTimer {
				t.Fatalf("%s: a timer at seq %d among the readings", id, r.Seq)
			}
			if r.StreamSeq == 0 || r.RecordTime.IsZero() || r.RecordTime.Before(r.Time) {
				t.Fatalf("%s seq %d: stream seq %d, record time %v, event time %v", id, r.Seq, r.StreamSeq, r.RecordTime, r.Time)
			}
			if i > 0 && r.StreamSeq <= recs[i-1].StreamSeq {
				t.Fatalf("%s seq %d: stream seq %d not after %d", id, r.Seq, r.StreamSeq, recs[i-1].StreamSeq)
			}
		}
		return out
	}

	// Created when the logger started (ts given): in-order input, so a
	// history monotonic in event time with no late reading.
	code, body := httpDo(t, a, "POST", "/v1/twins", map[string]any{"id": "LOGGER-1", "kind": "pallet", "policy": "coldchain",
		"params": json.RawMessage(`{"min_c":2,"max_c":8}`), "ts": start.Format(time.RFC3339)})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	recs := upload("LOGGER-1")
	for i, r := range recs {
		if r.Late || (i > 0 && r.Time.Before(recs[i-1].Time)) {
			t.Fatalf("seq %d: late %v, time %v after %v", r.Seq, r.Late, r.Time, recs[max(i-1, 0)].Time)
		}
	}
	tw, _ := a.Store.Twin(ctx, "LOGGER-1")
	last := start.Add(n * time.Minute)
	if tw.Seq != n+1 || !tw.Watermark.Equal(last) || !tw.LastReading.Equal(last) ||
		tw.Lag < 4*24*time.Hour-n*time.Minute || tw.Lag > 4*24*time.Hour {
		t.Fatalf("twin seq %d watermark %v last reading %v lag %v", tw.Seq, tw.Watermark, tw.LastReading, tw.Lag)
	}

	// Created now (no ts), readings four days older: the same count, no
	// stray timer, and the same verdict as LOGGER-1. The create is
	// registration, not data: it does not move the watermark, so the
	// readings are in order, none LATE.
	code, body = httpDo(t, a, "POST", "/v1/twins", map[string]any{"id": "LOGGER-2", "kind": "pallet", "policy": "coldchain",
		"params": json.RawMessage(`{"min_c":2,"max_c":8}`)})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	recs2 := upload("LOGGER-2")
	for i, r := range recs2[1:] {
		if r.Late || (i > 0 && r.Time.Before(recs2[i].Time)) {
			t.Fatalf("LOGGER-2 seq %d: late %v, time %v", r.Seq, r.Late, r.Time)
		}
	}
	tw1, _ := a.Store.Twin(ctx, "LOGGER-1")
	tw2, _ := a.Store.Twin(ctx, "LOGGER-2")
	if string(tw1.View) != string(tw2.View) || tw1.Status != tw2.Status || tw1.Alerts != tw2.Alerts || !tw2.Watermark.Equal(tw1.Watermark) {
		t.Fatalf("created now vs at the logger's start: view %s / %s, status %s / %s, alerts %d / %d, watermark %v / %v",
			tw1.View, tw2.View, tw1.Status, tw2.Status, tw1.Alerts, tw2.Alerts, tw1.Watermark, tw2.Watermark)
	}

	// Freshness through the API: the twin JSON, the stale filter, history.
	code, body = httpDo(t, a, "GET", "/v1/twins/LOGGER-1", nil)
	var pub struct {
		Watermark   time.Time `json:"watermark"`
		LastReading time.Time `json:"last_reading"`
		Lag         int64     `json:"lag_ns"`
	}
	if code != 200 || json.Unmarshal(body, &pub) != nil || !pub.Watermark.Equal(last) || !pub.LastReading.Equal(last) || pub.Lag != int64(tw.Lag) {
		t.Fatalf("GET twin: %d %s", code, body)
	}
	code, body = httpDo(t, a, "GET", "/v1/twins?stale=3h", nil)
	var list struct{ Twins []struct{ ID string } }
	if code != 200 || json.Unmarshal(body, &list) != nil || len(list.Twins) != 2 {
		t.Fatalf("stale twins: %d %s", code, body)
	}
	code, body = httpDo(t, a, "GET", "/v1/twins?stale=200h", nil)
	if code != 200 || json.Unmarshal(body, &list) != nil || len(list.Twins) != 0 {
		t.Fatalf("twins stale for 200 h: %d %s", code, body)
	}
	code, body = httpDo(t, a, "GET", "/v1/twins/LOGGER-2/history?limit=2", nil)
	var hist struct {
		Records []struct {
			Seq       uint64    `json:"seq"`
			StreamSeq uint64    `json:"stream_seq"`
			TS        time.Time `json:"ts"`
			RecordTS  time.Time `json:"record_ts"`
			Late      bool      `json:"late"`
		} `json:"records"`
	}
	if code != 200 || json.Unmarshal(body, &hist) != nil || len(hist.Records) != 2 || hist.Records[1].StreamSeq == 0 ||
		hist.Records[1].RecordTS.IsZero() || hist.Records[1].Late {
		t.Fatalf("history: %d %s", code, body)
	}
	// The KV value carries the two clocks too.
	kv, err := js.KeyValue(ctx, "custos_twins")
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "LOGGER-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(e.Value(), &pub); err != nil || !pub.Watermark.Equal(last) || pub.Lag == 0 {
		t.Fatalf("KV value %s", e.Value())
	}
}
