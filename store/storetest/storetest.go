// Package storetest is the conformance suite for implementations of
// [twin.Store]. Every backend (store/embedded, store/pg) runs it from its own
// tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) (twin.Store, storetest.Reopen) {
//			dir := t.TempDir()
//			s, err := embedded.Open(dir)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s, func(t *testing.T) twin.Store {
//				s, err := embedded.Open(dir)
//				if err != nil {
//					t.Fatal(err)
//				}
//				return s
//			}
//		})
//	}
//
// # What a store must do
//
// The suite pins down what the doc comments of [twin.Store] leave open:
//
//   - Twin returns an error wrapping [twin.ErrNotFound] for an unknown id.
//   - Commit is atomic: all of a batch (twins, records, alerts) is visible, or
//     none of it. A batch holding a twin, record or alert whose twin id is not
//     valid ([twin.ValidID]) is refused with an error wrapping
//     [twin.ErrInvalidID] and writes nothing. Commit with a cancelled context
//     returns an error and writes nothing.
//   - A snapshot replaces the previous one wholesale: no field of an older
//     snapshot survives (timers, children, view, state, stream seq). If a batch
//     holds several snapshots of one twin, the last one wins.
//   - Every field round-trips exactly: byte slices (State, View, Params,
//     Record.Event) byte for byte — so View and Params are not stored as
//     PostgreSQL jsonb, which rewrites them — empty and nil byte slices being
//     equal; times to the nanosecond (compared with time.Time.Equal; the
//     location is not kept).
//   - Re-committing the same batch (same keys, same values) is not an error
//     and creates no duplicate in any listing.
//   - Twins lists in byte order of id (PostgreSQL: COLLATE "C"), only ids
//     greater than After, at most Limit (0 means 100), filtered by Status,
//     Kind and Custodian when set (all set filters must match). Filters
//     follow snapshot changes: a twin whose status changed is listed under
//     its new status only.
//   - History returns one twin's records in ascending seq, only seq >
//     AfterSeq, only From <= Time < To (a zero bound is open), at most Limit
//     (0 means 100). An unknown twin has an empty history, not an error.
//   - Alerts for one twin come in ascending N, only N > AfterN, From <= Time <
//     To, at most Limit (0 means 100). Alerts of all twins (Twin == "") come
//     newest first: descending Time, then descending twin id, then
//     descending N; AfterN is ignored there.
//   - After Close, opening the same data again reads everything back.
//   - Readers running during commits never see part of a batch (the
//     "Hammer" subtest; run it with -race).
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

// Reopen opens again the data of a store that the suite has closed.
type Reopen func(t *testing.T) twin.Store

// Opener returns a new, empty store private to the calling (sub)test, and a
// [Reopen] that opens the same data again once the store has been closed.
// It should remove its data in t.Cleanup. The suite closes every store it
// is given (also on failure), so an Opener need not.
type Opener func(t *testing.T) (twin.Store, Reopen)

// Run runs the whole conformance suite as subtests of t.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"NotFound", testNotFound},
		{"RoundTrip", testRoundTrip},
		{"TimePrecision", testTimePrecision},
		{"SnapshotReplaced", testSnapshotReplaced},
		{"LastSnapshotInBatchWins", testLastInBatchWins},
		{"BatchAtomicInvalidID", testInvalidID},
		{"CancelledContext", testCancelled},
		{"Idempotent", testIdempotent},
		{"HistoryOrder", testHistoryOrder},
		{"HistoryFilters", testHistoryFilters},
		{"AlertsOneTwin", testAlertsOneTwin},
		{"AlertsAllTwins", testAlertsAll},
		{"TwinsListing", testTwinsListing},
		{"TwinsFilters", testTwinsFilters},
		{"TwinsFiltersFollowChanges", testTwinsFilterChanges},
		{"EventTimeFields", testEventTimeFields},
		{"TwinsStale", testTwinsStale},
		{"Reopen", testReopen},
		{"Hammer", testHammer},
		{"Fence", testFence},
		{"TimerIndex", testTimerIndex},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &harness{t: t}
			h.s, h.reopen = open(t)
			if h.s == nil {
				t.Fatal("storetest: Opener returned a nil store")
			}
			t.Cleanup(func() {
				if !h.closed {
					h.s.Close()
				}
			})
			tc.fn(t, h)
		})
	}
}

// harness holds the store under test and tracks whether it is closed.
type harness struct {
	t      *testing.T
	s      twin.Store
	reopen Reopen
	closed bool
}

func (h *harness) commit(b *twin.Batch) {
	h.t.Helper()
	if err := h.s.Commit(context.Background(), b); err != nil {
		h.t.Fatalf("Commit: %v", err)
	}
}

func (h *harness) reopenStore() {
	h.t.Helper()
	h.closed = true
	if err := h.s.Close(); err != nil {
		h.t.Fatalf("Close: %v", err)
	}
	h.s = h.reopen(h.t)
	h.closed = false
}

// base is a microsecond-aligned time so that backends storing microseconds
// would pass every subtest except TimePrecision.
var base = time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC)

var module = twin.Keccak256([]byte("storetest module"))

// fixture is one twin with its records and alerts, built with a real digest
// chain and canonical event encodings.
type fixture struct {
	snap    *twin.Twin
	records []twin.Record
	alerts  []twin.Alert
}

// spec describes a fixture to build.
type spec struct {
	id, kind, status, custodian string
	records                     int
	alertEvery                  int           // an alert on every n-th record (0: none)
	start                       time.Time     // time of record 1 (zero: base)
	step                        time.Duration // time between records (zero: 1 min)
	streamBase                  uint64
}

func build(sp spec) *fixture {
	if sp.start.IsZero() {
		sp.start = base
	}
	if sp.step == 0 {
		sp.step = time.Minute
	}
	if sp.kind == "" {
		sp.kind = "pallet"
	}
	if sp.status == "" {
		sp.status = twin.StatusCreated
	}
	f := &fixture{}
	h := twin.NewHasher()
	var digest twin.Hash
	var state []byte
	var last time.Time
	for seq := uint64(1); seq <= uint64(sp.records); seq++ {
		at := sp.start.Add(time.Duration(seq-1) * sp.step)
		ev := twin.Event{
			Kind: twin.KindReading, Type: twin.TypeTemperature, Time: at, Seq: seq,
			Value: 2 + float64(seq%70)/10, Fields: []string{"t1", "CEL"},
		}
		if seq == 1 {
			ev = twin.Event{Kind: twin.KindCreate, Time: at, Seq: seq,
				Fields: []string{sp.kind, `{"min_c":2,"max_c":8}`, sp.custodian, ""}}
		}
		enc, _ := ev.MarshalBinary()
		state = fmt.Appendf(nil, "state of %s after %d", sp.id, seq)
		eh, sh := h.Sum(enc), h.Sum(state)
		digest = h.Next(digest, sp.id, seq, eh, sh, module)
		f.records = append(f.records, twin.Record{
			Twin: sp.id, Seq: seq, StreamSeq: sp.streamBase + seq, Time: at, RecordTime: at.Add(90 * time.Second),
			Kind: ev.Kind, Event: enc, EventHash: eh, StateHash: sh, Module: module, Digest: digest,
		})
		if sp.alertEvery > 0 && seq%uint64(sp.alertEvery) == 0 {
			f.alerts = append(f.alerts, twin.Alert{
				Twin: sp.id, N: uint64(len(f.alerts) + 1), Seq: seq, Severity: twin.SeverityWarning,
				Code: "excursion", Message: fmt.Sprintf("%s: reading %d out of band", sp.id, seq), Time: at,
			})
		}
		last = at
	}
	f.snap = &twin.Twin{
		ID: sp.id, Kind: sp.kind, Status: sp.status, Custodian: sp.custodian,
		Contract: twin.ContractRef{Name: "coldchain", Version: "1.0.0", SHA256: module},
		Params:   json.RawMessage(`{"min_c":2,"max_c":8}`),
		Seq:      uint64(sp.records), Digest: digest, Alerts: uint64(len(f.alerts)),
		View:  json.RawMessage(fmt.Sprintf(`{"seq":%d,"ok":true}`, sp.records)),
		State: state, StreamSeq: sp.streamBase + uint64(sp.records),
		Created: sp.start, Updated: last, Watermark: last,
	}
	if sp.records > 1 {
		f.snap.LastReading, f.snap.Lag = last, 90*time.Second
	}
	return f
}

func batchOf(fs ...*fixture) *twin.Batch {
	b := &twin.Batch{}
	for _, f := range fs {
		b.Twins = append(b.Twins, f.snap)
		b.Records = append(b.Records, f.records...)
		b.Alerts = append(b.Alerts, f.alerts...)
	}
	return b
}

func ctx() context.Context { return context.Background() }

// equalTwin reports the first difference between two snapshots, or "".
func diffTwin(got, want *twin.Twin) string {
	var d []string
	chk := func(ok bool, field string, g, w any) {
		if !ok {
			d = append(d, fmt.Sprintf("%s: got %v, want %v", field, g, w))
		}
	}
	chk(got.ID == want.ID, "ID", got.ID, want.ID)
	chk(got.Kind == want.Kind, "Kind", got.Kind, want.Kind)
	chk(got.Contract == want.Contract, "Contract", got.Contract, want.Contract)
	chk(bytes.Equal(got.Params, want.Params), "Params", string(got.Params), string(want.Params))
	chk(got.Parent == want.Parent, "Parent", got.Parent, want.Parent)
	chk(slices.Equal(got.Children, want.Children), "Children", got.Children, want.Children)
	chk(got.Custodian == want.Custodian, "Custodian", got.Custodian, want.Custodian)
	chk(got.Status == want.Status, "Status", got.Status, want.Status)
	chk(got.Seq == want.Seq, "Seq", got.Seq, want.Seq)
	chk(bytes.Equal(got.View, want.View), "View", string(got.View), string(want.View))
	chk(got.Digest == want.Digest, "Digest", got.Digest, want.Digest)
	chk(got.Alerts == want.Alerts, "Alerts", got.Alerts, want.Alerts)
	chk(got.Created.Equal(want.Created), "Created", got.Created, want.Created)
	chk(got.Updated.Equal(want.Updated), "Updated", got.Updated, want.Updated)
	chk(bytes.Equal(got.State, want.State), "State", got.State, want.State)
	chk(got.StreamSeq == want.StreamSeq, "StreamSeq", got.StreamSeq, want.StreamSeq)
	chk(slices.EqualFunc(got.Timers, want.Timers, func(a, b twin.Timer) bool {
		return a.Name == b.Name && a.At.Equal(b.At) && a.Processing == b.Processing
	}), "Timers", got.Timers, want.Timers)
	chk(got.Watermark.Equal(want.Watermark), "Watermark", got.Watermark, want.Watermark)
	chk(got.LastReading.Equal(want.LastReading), "LastReading", got.LastReading, want.LastReading)
	chk(got.Lag == want.Lag, "Lag", got.Lag, want.Lag)
	chk(got.Lateness == want.Lateness, "Lateness", got.Lateness, want.Lateness)
	chk(slices.EqualFunc(got.Buffered, want.Buffered, func(a, b twin.Buffered) bool {
		ea, _ := a.Event.MarshalBinary()
		eb, _ := b.Event.MarshalBinary()
		return a.StreamSeq == b.StreamSeq && bytes.Equal(ea, eb)
	}), "Buffered", got.Buffered, want.Buffered)
	return strings.Join(d, "; ")
}

func diffRecord(got, want twin.Record) string {
	switch {
	case got.Twin != want.Twin || got.Seq != want.Seq:
		return fmt.Sprintf("key: got %s/%d, want %s/%d", got.Twin, got.Seq, want.Twin, want.Seq)
	case got.StreamSeq != want.StreamSeq:
		return fmt.Sprintf("StreamSeq: got %d, want %d", got.StreamSeq, want.StreamSeq)
	case !got.Time.Equal(want.Time):
		return fmt.Sprintf("Time: got %v, want %v", got.Time, want.Time)
	case !got.RecordTime.Equal(want.RecordTime):
		return fmt.Sprintf("RecordTime: got %v, want %v", got.RecordTime, want.RecordTime)
	case got.Late != want.Late:
		return fmt.Sprintf("Late: got %v, want %v", got.Late, want.Late)
	case got.Failure != want.Failure || got.FailureDetail != want.FailureDetail:
		return fmt.Sprintf("Failure: got %q (%q), want %q (%q)", got.Failure, got.FailureDetail, want.Failure, want.FailureDetail)
	case got.Kind != want.Kind:
		return fmt.Sprintf("Kind: got %v, want %v", got.Kind, want.Kind)
	case !bytes.Equal(got.Event, want.Event):
		return "Event bytes differ"
	case got.EventHash != want.EventHash || got.StateHash != want.StateHash ||
		got.Module != want.Module || got.Digest != want.Digest:
		return "hashes differ"
	}
	return ""
}

func diffAlert(got, want twin.Alert) string {
	if got.Twin != want.Twin || got.N != want.N || got.Seq != want.Seq || got.Severity != want.Severity ||
		got.Code != want.Code || got.Message != want.Message || !got.Time.Equal(want.Time) {
		return fmt.Sprintf("got %+v, want %+v", got, want)
	}
	return ""
}

func (h *harness) wantTwin(want *twin.Twin) {
	h.t.Helper()
	got, err := h.s.Twin(ctx(), want.ID)
	if err != nil {
		h.t.Fatalf("Twin(%q): %v", want.ID, err)
	}
	if d := diffTwin(got, want); d != "" {
		h.t.Fatalf("Twin(%q): %s", want.ID, d)
	}
}

func (h *harness) history(q twin.HistoryQuery) []twin.Record {
	h.t.Helper()
	rs, err := h.s.History(ctx(), q)
	if err != nil {
		h.t.Fatalf("History(%+v): %v", q, err)
	}
	return rs
}

func (h *harness) alertsOf(q twin.AlertQuery) []twin.Alert {
	h.t.Helper()
	as, err := h.s.Alerts(ctx(), q)
	if err != nil {
		h.t.Fatalf("Alerts(%+v): %v", q, err)
	}
	return as
}

func (h *harness) twins(q twin.TwinQuery) []*twin.Twin {
	h.t.Helper()
	ts, err := h.s.Twins(ctx(), q)
	if err != nil {
		h.t.Fatalf("Twins(%+v): %v", q, err)
	}
	return ts
}

func wantRecords(t *testing.T, what string, got, want []twin.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d records (%s), want %d (%s)", what, len(got), seqs(got), len(want), seqs(want))
	}
	for i := range got {
		if d := diffRecord(got[i], want[i]); d != "" {
			t.Fatalf("%s: record %d: %s", what, i, d)
		}
	}
}

func seqs(rs []twin.Record) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s/%d", r.Twin, r.Seq)
	}
	return b.String()
}

func wantAlerts(t *testing.T, what string, got, want []twin.Alert) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d alerts (%s), want %d (%s)", what, len(got), alertKeys(got), len(want), alertKeys(want))
	}
	for i := range got {
		if d := diffAlert(got[i], want[i]); d != "" {
			t.Fatalf("%s: alert %d: %s", what, i, d)
		}
	}
}

func alertKeys(as []twin.Alert) string {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s/%d", a.Twin, a.N)
	}
	return b.String()
}

func ids(ts []*twin.Twin) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func testNotFound(t *testing.T, h *harness) {
	_, err := h.s.Twin(ctx(), "nope")
	if !errors.Is(err, twin.ErrNotFound) {
		t.Fatalf("Twin on empty store: got %v, want ErrNotFound", err)
	}
	h.commit(batchOf(build(spec{id: "there", records: 2})))
	for _, id := range []string{"nope", "ther", "there-", "THERE"} {
		if _, err := h.s.Twin(ctx(), id); !errors.Is(err, twin.ErrNotFound) {
			t.Fatalf("Twin(%q): got %v, want ErrNotFound", id, err)
		}
	}
	if _, err := h.s.Twin(ctx(), "there"); err != nil {
		t.Fatalf("Twin(there): %v", err)
	}
	if rs := h.history(twin.HistoryQuery{Twin: "ther"}); len(rs) != 0 {
		t.Fatalf("History of unknown twin: got %d records", len(rs))
	}
	if as := h.alertsOf(twin.AlertQuery{Twin: "nope"}); len(as) != 0 {
		t.Fatalf("Alerts of unknown twin: got %d", len(as))
	}
	if ts := h.twins(twin.TwinQuery{After: "there"}); len(ts) != 0 {
		t.Fatalf("Twins after the last id: got %v", ids(ts))
	}
}

func testRoundTrip(t *testing.T, h *harness) {
	f := build(spec{id: "pallet-1", custodian: "acme logistics", status: twin.StatusInTransit, records: 5, alertEvery: 2})
	f.snap.Parent = "container_7"
	f.snap.Children = []string{"case-1", "case-2", "case-3"}
	f.snap.Timers = []twin.Timer{{Name: "silence", At: base.Add(time.Hour)}, {Name: "budget", At: base.Add(2 * time.Hour)}}
	f.snap.State = append([]byte{0, 1, 2, 0xff}, f.snap.State...)
	h.commit(batchOf(f))
	h.wantTwin(f.snap)
	rs := h.history(twin.HistoryQuery{Twin: "pallet-1"})
	wantRecords(t, "History", rs, f.records)
	for _, r := range rs {
		var ev twin.Event
		if err := ev.UnmarshalBinary(r.Event); err != nil {
			t.Fatalf("record %d: event bytes do not decode: %v", r.Seq, err)
		}
		if ev.Seq != r.Seq || !ev.Time.Equal(r.Time) || ev.Kind != r.Kind {
			t.Fatalf("record %d: event %+v does not match record", r.Seq, ev)
		}
		if twin.Keccak256(r.Event) != r.EventHash {
			t.Fatalf("record %d: event hash mismatch", r.Seq)
		}
	}
	// The chain re-verifies from what was stored.
	var d twin.Hash
	for _, r := range rs {
		d = twin.NextDigest(d, r.Twin, r.Seq, r.EventHash, r.StateHash, r.Module)
		if d != r.Digest {
			t.Fatalf("record %d: digest chain broken", r.Seq)
		}
	}
	wantAlerts(t, "Alerts", h.alertsOf(twin.AlertQuery{Twin: "pallet-1"}), f.alerts)

	// Empty optional fields round-trip as empty.
	g := build(spec{id: "bare", records: 1})
	g.snap.Params, g.snap.View, g.snap.State, g.snap.Custodian = nil, nil, nil, ""
	g.snap.Created, g.snap.Updated = time.Time{}, time.Time{}
	h.commit(batchOf(g))
	h.wantTwin(g.snap)

	// An empty batch is fine.
	h.commit(&twin.Batch{})
}

func testTimePrecision(t *testing.T, h *harness) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	f := build(spec{id: "ns", records: 3, alertEvery: 1, start: start, step: time.Nanosecond + time.Second})
	f.snap.Timers = []twin.Timer{{Name: "t", At: start.Add(7)}}
	h.commit(batchOf(f))
	h.wantTwin(f.snap)
	wantRecords(t, "History", h.history(twin.HistoryQuery{Twin: "ns"}), f.records)
	wantAlerts(t, "Alerts", h.alertsOf(twin.AlertQuery{Twin: "ns"}), f.alerts)
	// A time before 1970 and one in a non-UTC location.
	old := time.Date(1960, 5, 6, 7, 8, 9, 10, time.FixedZone("X", 3600))
	g := build(spec{id: "old", records: 1, start: old})
	h.commit(batchOf(g))
	h.wantTwin(g.snap)
	wantRecords(t, "History(old)", h.history(twin.HistoryQuery{Twin: "old"}), g.records)
}

func testSnapshotReplaced(t *testing.T, h *harness) {
	f := build(spec{id: "p", custodian: "a", records: 3})
	f.snap.Children = []string{"c1", "c2"}
	f.snap.Timers = []twin.Timer{{Name: "silence", At: base.Add(time.Hour)}}
	f.snap.Parent = "parent"
	h.commit(batchOf(f))
	h.wantTwin(f.snap)

	g := build(spec{id: "p", custodian: "b", status: twin.StatusDelivered, records: 6, streamBase: 1000})
	g.snap.Params, g.snap.View, g.snap.Children, g.snap.Timers, g.snap.Parent = nil, nil, nil, nil, ""
	g.snap.State = []byte("x")
	h.commit(&twin.Batch{Twins: []*twin.Twin{g.snap}, Records: g.records[3:]})
	h.wantTwin(g.snap)
	if got := h.history(twin.HistoryQuery{Twin: "p"}); len(got) != 6 {
		t.Fatalf("History: got %d records, want 6", len(got))
	}
}

func testLastInBatchWins(t *testing.T, h *harness) {
	a := build(spec{id: "dup", status: twin.StatusCreated, custodian: "x", records: 1})
	b := build(spec{id: "dup", status: twin.StatusInTransit, custodian: "y", records: 2})
	c := build(spec{id: "dup", status: twin.StatusDelivered, custodian: "z", records: 3})
	h.commit(&twin.Batch{Twins: []*twin.Twin{a.snap, b.snap, c.snap}, Records: c.records})
	h.wantTwin(c.snap)
	for _, st := range []string{twin.StatusCreated, twin.StatusInTransit} {
		if ts := h.twins(twin.TwinQuery{Status: st}); len(ts) != 0 {
			t.Fatalf("Twins(Status=%s): got %v, want none", st, ids(ts))
		}
	}
	if ts := h.twins(twin.TwinQuery{Status: twin.StatusDelivered}); len(ts) != 1 {
		t.Fatalf("Twins(Status=delivered): got %v, want [dup]", ids(ts))
	}
	if ts := h.twins(twin.TwinQuery{Custodian: "y"}); len(ts) != 0 {
		t.Fatalf("Twins(Custodian=y): got %v, want none", ids(ts))
	}
}

func testInvalidID(t *testing.T, h *harness) {
	good := build(spec{id: "good", records: 2, alertEvery: 1})
	cases := []struct {
		name  string
		batch func() *twin.Batch
	}{
		{"twin", func() *twin.Batch {
			b := batchOf(good)
			bad := good.snap.Clone()
			bad.ID = "bad id"
			b.Twins = append(b.Twins, bad)
			return b
		}},
		{"record", func() *twin.Batch {
			b := batchOf(good)
			r := good.records[0]
			r.Twin = "bad/id"
			b.Records = append(b.Records, r)
			return b
		}},
		{"alert", func() *twin.Batch {
			b := batchOf(good)
			a := good.alerts[0]
			a.Twin = ""
			b.Alerts = append(b.Alerts, a)
			return b
		}},
		{"too long", func() *twin.Batch {
			b := batchOf(good)
			long := good.snap.Clone()
			long.ID = strings.Repeat("x", twin.MaxIDLen+1)
			b.Twins = append(b.Twins, long)
			return b
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := h.s.Commit(ctx(), tc.batch())
			if !errors.Is(err, twin.ErrInvalidID) {
				t.Fatalf("Commit: got %v, want ErrInvalidID", err)
			}
			if _, err := h.s.Twin(ctx(), "good"); !errors.Is(err, twin.ErrNotFound) {
				t.Fatalf("a refused batch left its twin behind (err %v)", err)
			}
			if rs := h.history(twin.HistoryQuery{Twin: "good"}); len(rs) != 0 {
				t.Fatalf("a refused batch left %d records", len(rs))
			}
			if as := h.alertsOf(twin.AlertQuery{}); len(as) != 0 {
				t.Fatalf("a refused batch left %d alerts", len(as))
			}
		})
	}
	// A maximal valid id is fine.
	long := build(spec{id: strings.Repeat("Az09_-", twin.MaxIDLen/6) + "zz", records: 1})
	h.commit(batchOf(long))
	h.wantTwin(long.snap)
}

func testCancelled(t *testing.T, h *harness) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	f := build(spec{id: "c", records: 2})
	if err := h.s.Commit(c, batchOf(f)); err == nil {
		t.Fatal("Commit with a cancelled context: got nil error")
	}
	if _, err := h.s.Twin(ctx(), "c"); !errors.Is(err, twin.ErrNotFound) {
		t.Fatalf("Commit with a cancelled context wrote the twin (err %v)", err)
	}
}

func testIdempotent(t *testing.T, h *harness) {
	fs := []*fixture{
		build(spec{id: "i1", records: 4, alertEvery: 2}),
		build(spec{id: "i2", records: 3, alertEvery: 1, start: base.Add(time.Second)}),
	}
	b := batchOf(fs...)
	for range 3 {
		h.commit(b)
	}
	for _, f := range fs {
		h.wantTwin(f.snap)
		wantRecords(t, "History("+f.snap.ID+")", h.history(twin.HistoryQuery{Twin: f.snap.ID}), f.records)
		wantAlerts(t, "Alerts("+f.snap.ID+")", h.alertsOf(twin.AlertQuery{Twin: f.snap.ID}), f.alerts)
	}
	if ts := h.twins(twin.TwinQuery{}); !slices.Equal(ids(ts), []string{"i1", "i2"}) {
		t.Fatalf("Twins: got %v", ids(ts))
	}
	if as := h.alertsOf(twin.AlertQuery{}); len(as) != 5 {
		t.Fatalf("Alerts(all): got %d (%s), want 5", len(as), alertKeys(as))
	}
	// Replaying part of the batch (a crash between two commits) is fine too.
	h.commit(&twin.Batch{Records: fs[0].records[1:3], Alerts: fs[1].alerts[:1]})
	wantRecords(t, "History(i1) after partial replay", h.history(twin.HistoryQuery{Twin: "i1"}), fs[0].records)
	if as := h.alertsOf(twin.AlertQuery{}); len(as) != 5 {
		t.Fatalf("Alerts(all) after partial replay: got %d, want 5", len(as))
	}
}

func testHistoryOrder(t *testing.T, h *harness) {
	// Ids that are prefixes of each other must not leak into each other.
	fs := []*fixture{
		build(spec{id: "a", records: 300}),
		build(spec{id: "a-", records: 3}),
		build(spec{id: "ab", records: 2}),
		build(spec{id: "A", records: 1}),
	}
	b := batchOf(fs...)
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(b.Records), func(i, j int) { b.Records[i], b.Records[j] = b.Records[j], b.Records[i] })
	h.commit(b)
	for _, f := range fs {
		got := h.history(twin.HistoryQuery{Twin: f.snap.ID, Limit: 1000})
		wantRecords(t, "History("+f.snap.ID+")", got, f.records)
	}
	// Seqs beyond 255 and 65535 sort numerically, not by bytes.
	big := build(spec{id: "big", records: 2})
	big.records[0].Seq, big.records[1].Seq = 256, 65536
	c := build(spec{id: "big", records: 1})
	c.records[0].Seq = 3
	h.commit(&twin.Batch{Records: append(big.records, c.records...)})
	got := h.history(twin.HistoryQuery{Twin: "big"})
	if len(got) != 3 || got[0].Seq != 3 || got[1].Seq != 256 || got[2].Seq != 65536 {
		t.Fatalf("History(big): got %s, want big/3,big/256,big/65536", seqs(got))
	}
}

func testHistoryFilters(t *testing.T, h *harness) {
	f := build(spec{id: "h", records: 150})
	other := build(spec{id: "h2", records: 5})
	h.commit(batchOf(f, other))
	at := func(seq int) time.Time { return base.Add(time.Duration(seq-1) * time.Minute) }
	r := f.records // r[i] has seq i+1
	cases := []struct {
		name string
		q    twin.HistoryQuery
		want []twin.Record
	}{
		{"default limit 100", twin.HistoryQuery{}, r[:100]},
		{"limit", twin.HistoryQuery{Limit: 7}, r[:7]},
		{"after seq", twin.HistoryQuery{AfterSeq: 140}, r[140:]},
		{"after seq + limit", twin.HistoryQuery{AfterSeq: 10, Limit: 5}, r[10:15]},
		{"after last", twin.HistoryQuery{AfterSeq: 150}, nil},
		{"from inclusive", twin.HistoryQuery{From: at(120)}, r[119:]},
		{"to exclusive", twin.HistoryQuery{To: at(4)}, r[:3]},
		{"from-to", twin.HistoryQuery{From: at(20), To: at(25)}, r[19:24]},
		{"from-to between records", twin.HistoryQuery{From: at(20).Add(time.Second), To: at(25).Add(time.Second)}, r[20:25]},
		{"from-to + after seq + limit", twin.HistoryQuery{From: at(20), To: at(60), AfterSeq: 30, Limit: 4}, r[30:34]},
		{"empty range", twin.HistoryQuery{From: at(30), To: at(30)}, nil},
		{"before everything", twin.HistoryQuery{To: base}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Twin = "h"
			wantRecords(t, tc.name, h.history(tc.q), tc.want)
		})
	}
	// Paging with AfterSeq visits every record once.
	var all []twin.Record
	for after := uint64(0); ; {
		page := h.history(twin.HistoryQuery{Twin: "h", AfterSeq: after, Limit: 40})
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
	wantRecords(t, "paged History", all, r)
}

func testAlertsOneTwin(t *testing.T, h *harness) {
	f := build(spec{id: "al", records: 240, alertEvery: 2}) // 120 alerts, N 1..120
	g := build(spec{id: "al-x", records: 4, alertEvery: 1})
	h.commit(batchOf(f, g))
	a := f.alerts // a[i] has N i+1, record seq 2(i+1)
	at := func(n int) time.Time { return base.Add(time.Duration(2*n-1) * time.Minute) }
	cases := []struct {
		name string
		q    twin.AlertQuery
		want []twin.Alert
	}{
		{"default limit 100", twin.AlertQuery{}, a[:100]},
		{"limit", twin.AlertQuery{Limit: 3}, a[:3]},
		{"after n", twin.AlertQuery{AfterN: 115}, a[115:]},
		{"after n + limit", twin.AlertQuery{AfterN: 50, Limit: 2}, a[50:52]},
		{"from inclusive", twin.AlertQuery{From: at(118)}, a[117:]},
		{"to exclusive", twin.AlertQuery{To: at(3)}, a[:2]},
		{"from-to", twin.AlertQuery{From: at(10), To: at(13)}, a[9:12]},
		{"from-to + after n", twin.AlertQuery{From: at(10), To: at(20), AfterN: 15}, a[15:19]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Twin = "al"
			wantAlerts(t, tc.name, h.alertsOf(tc.q), tc.want)
		})
	}
	wantAlerts(t, "Alerts(al-x)", h.alertsOf(twin.AlertQuery{Twin: "al-x"}), g.alerts)
}

func testAlertsAll(t *testing.T, h *harness) {
	// Three twins whose alerts interleave in time, with ties.
	x := build(spec{id: "x", records: 6, alertEvery: 1, step: 2 * time.Minute})                               // 0,2,4,6,8,10
	y := build(spec{id: "y", records: 4, alertEvery: 1, step: 3 * time.Minute})                               // 0,3,6,9
	z := build(spec{id: "z", records: 2, alertEvery: 1, step: 10 * time.Minute, start: base.Add(-time.Hour)}) // -60,-50
	// Two alerts of x at the same time as its last one.
	last := x.alerts[len(x.alerts)-1]
	for i := range 2 {
		extra := last
		extra.N = last.N + uint64(i) + 1
		extra.Code = "extra"
		x.alerts = append(x.alerts, extra)
	}
	h.commit(batchOf(x, y))
	h.commit(batchOf(z))

	var want []twin.Alert
	for _, f := range []*fixture{x, y, z} {
		want = append(want, f.alerts...)
	}
	slices.SortFunc(want, func(a, b twin.Alert) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		if c := strings.Compare(b.Twin, a.Twin); c != 0 {
			return c
		}
		return int(b.N) - int(a.N)
	})
	m := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	between := func(from, to time.Time) []twin.Alert {
		var out []twin.Alert
		for _, a := range want {
			if !a.Time.Before(from) && a.Time.Before(to) {
				out = append(out, a)
			}
		}
		return out
	}
	cases := []struct {
		name string
		q    twin.AlertQuery
		want []twin.Alert
	}{
		{"all newest first", twin.AlertQuery{}, want},
		{"limit", twin.AlertQuery{Limit: 4}, want[:4]},
		{"from-to", twin.AlertQuery{From: m(3), To: m(9)}, between(m(3), m(9))},
		{"to", twin.AlertQuery{To: m(0)}, between(m(-100), m(0))},
		{"from + limit", twin.AlertQuery{From: m(4), Limit: 2}, between(m(4), m(100))[:2]},
		{"after n is ignored", twin.AlertQuery{AfterN: 1000}, want},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantAlerts(t, tc.name, h.alertsOf(tc.q), tc.want)
		})
	}
}

func testTwinsListing(t *testing.T, h *harness) {
	var all []string
	b := &twin.Batch{}
	for i := range 130 {
		id := fmt.Sprintf("tw-%03d", i)
		if i%10 == 0 {
			id = fmt.Sprintf("TW_%d", i) // upper case sorts first in byte order
		}
		all = append(all, id)
		b.Twins = append(b.Twins, build(spec{id: id, records: 1}).snap)
	}
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(b.Twins), func(i, j int) { b.Twins[i], b.Twins[j] = b.Twins[j], b.Twins[i] })
	h.commit(b)
	slices.Sort(all)

	if got := ids(h.twins(twin.TwinQuery{})); !slices.Equal(got, all[:100]) {
		t.Fatalf("Twins default limit: got %d ids %v…", len(got), got[:min(5, len(got))])
	}
	if got := ids(h.twins(twin.TwinQuery{Limit: 500})); !slices.Equal(got, all) {
		t.Fatalf("Twins(Limit 500): got %v, want %v", got, all)
	}
	if got := ids(h.twins(twin.TwinQuery{After: "tw-051", Limit: 3})); !slices.Equal(got, []string{"tw-052", "tw-053", "tw-054"}) {
		t.Fatalf("Twins(After tw-051): got %v", got)
	}
	if got := ids(h.twins(twin.TwinQuery{After: "tw-05", Limit: 2})); !slices.Equal(got, []string{"tw-051", "tw-052"}) {
		t.Fatalf("Twins(After tw-05, not an id): got %v", got)
	}
	var paged []string
	for after := ""; ; {
		page := ids(h.twins(twin.TwinQuery{After: after, Limit: 17}))
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1]
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("paged Twins: got %d ids, want %d", len(paged), len(all))
	}
	// Listed snapshots are whole.
	f := build(spec{id: "tw-999", records: 3})
	f.snap.Timers = []twin.Timer{{Name: "x", At: base}}
	f.snap.Children = []string{"k"}
	h.commit(batchOf(f))
	got := h.twins(twin.TwinQuery{After: "tw-998"})
	if len(got) != 1 {
		t.Fatalf("Twins(After tw-998): got %v", ids(got))
	}
	if d := diffTwin(got[0], f.snap); d != "" {
		t.Fatalf("listed snapshot: %s", d)
	}
}

func testTwinsFilters(t *testing.T, h *harness) {
	type row struct{ id, kind, status, custodian string }
	rows := []row{
		{"a1", "pallet", twin.StatusCreated, "acme"},
		{"a2", "pallet", twin.StatusInTransit, "acme"},
		{"a3", "case", twin.StatusInTransit, "acme"},
		{"b1", "pallet", twin.StatusInTransit, "bolt"},
		{"b2", "case", twin.StatusDelivered, "bolt"},
		{"b3", "shipment", twin.StatusInTransit, ""},
		{"c1", "pallet", twin.StatusInTransit, "acme inc"},
		{"c2", "pallet", twin.StatusInTransit, "acm"},
	}
	b := &twin.Batch{}
	for _, r := range rows {
		b.Twins = append(b.Twins, build(spec{id: r.id, kind: r.kind, status: r.status, custodian: r.custodian, records: 1}).snap)
	}
	h.commit(b)
	cases := []struct {
		name string
		q    twin.TwinQuery
		want []string
	}{
		{"status", twin.TwinQuery{Status: twin.StatusInTransit}, []string{"a2", "a3", "b1", "b3", "c1", "c2"}},
		{"kind", twin.TwinQuery{Kind: "case"}, []string{"a3", "b2"}},
		{"custodian exact", twin.TwinQuery{Custodian: "acme"}, []string{"a1", "a2", "a3"}},
		{"status + kind", twin.TwinQuery{Status: twin.StatusInTransit, Kind: "pallet"}, []string{"a2", "b1", "c1", "c2"}},
		{"all three", twin.TwinQuery{Status: twin.StatusInTransit, Kind: "pallet", Custodian: "acme"}, []string{"a2"}},
		{"status + after", twin.TwinQuery{Status: twin.StatusInTransit, After: "a3"}, []string{"b1", "b3", "c1", "c2"}},
		{"status + after + limit", twin.TwinQuery{Status: twin.StatusInTransit, After: "a2", Limit: 2}, []string{"a3", "b1"}},
		{"kind + limit", twin.TwinQuery{Kind: "pallet", Limit: 1}, []string{"a1"}},
		{"no match", twin.TwinQuery{Status: twin.StatusClosed}, nil},
		{"no match combined", twin.TwinQuery{Kind: "case", Custodian: "nobody"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := h.twins(tc.q)
			if !slices.Equal(ids(got), tc.want) {
				t.Fatalf("Twins(%+v): got %v, want %v", tc.q, ids(got), tc.want)
			}
			for _, tw := range got {
				if (tc.q.Status != "" && tw.Status != tc.q.Status) || (tc.q.Kind != "" && tw.Kind != tc.q.Kind) ||
					(tc.q.Custodian != "" && tw.Custodian != tc.q.Custodian) {
					t.Fatalf("Twins(%+v): %s does not match (%s %s %s)", tc.q, tw.ID, tw.Status, tw.Kind, tw.Custodian)
				}
			}
		})
	}
}

func testTwinsFilterChanges(t *testing.T, h *harness) {
	f := build(spec{id: "m", kind: "pallet", status: twin.StatusCreated, custodian: "acme", records: 1})
	h.commit(batchOf(f))
	steps := []struct{ kind, status, custodian string }{
		{"pallet", twin.StatusInTransit, "acme"},
		{"pallet", twin.StatusInTransit, "bolt"},
		{"container", twin.StatusInTransit, "bolt"},
		{"container", twin.StatusCreated, ""},
		{"pallet", twin.StatusCreated, "acme"}, // back to the start
	}
	seen := map[string][]string{"status": {twin.StatusCreated}, "kind": {"pallet"}, "custodian": {"acme"}}
	for i, st := range steps {
		s := f.snap.Clone()
		s.Kind, s.Status, s.Custodian, s.Seq = st.kind, st.status, st.custodian, uint64(i+2)
		h.commit(&twin.Batch{Twins: []*twin.Twin{s}})
		seen["status"] = append(seen["status"], st.status)
		seen["kind"] = append(seen["kind"], st.kind)
		seen["custodian"] = append(seen["custodian"], st.custodian)
		for field, vals := range seen {
			for _, v := range vals {
				if v == "" {
					continue
				}
				q := twin.TwinQuery{}
				cur := ""
				switch field {
				case "status":
					q.Status, cur = v, st.status
				case "kind":
					q.Kind, cur = v, st.kind
				case "custodian":
					q.Custodian, cur = v, st.custodian
				}
				got := ids(h.twins(q))
				var want []string
				if v == cur {
					want = []string{"m"}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("step %d (%+v): Twins(%s=%q): got %v, want %v", i, st, field, v, got, want)
				}
			}
		}
	}
}

func testReopen(t *testing.T, h *harness) {
	f := build(spec{id: "r1", status: twin.StatusInTransit, custodian: "acme", records: 20, alertEvery: 5})
	f.snap.Timers = []twin.Timer{{Name: "silence", At: base.Add(time.Hour)}}
	f.snap.Children = []string{"c"}
	g := build(spec{id: "r2", status: twin.StatusCreated, records: 3, alertEvery: 3, start: base.Add(time.Hour)})
	h.commit(batchOf(f))
	h.commit(batchOf(g))
	h.reopenStore()
	h.wantTwin(f.snap)
	h.wantTwin(g.snap)
	wantRecords(t, "History(r1)", h.history(twin.HistoryQuery{Twin: "r1"}), f.records)
	wantAlerts(t, "Alerts(r1)", h.alertsOf(twin.AlertQuery{Twin: "r1"}), f.alerts)
	if got := ids(h.twins(twin.TwinQuery{Status: twin.StatusInTransit})); !slices.Equal(got, []string{"r1"}) {
		t.Fatalf("Twins(in_transit) after reopen: got %v", got)
	}
	all := h.alertsOf(twin.AlertQuery{})
	if len(all) != 5 || all[0].Twin != "r2" {
		t.Fatalf("Alerts(all) after reopen: got %s", alertKeys(all))
	}
	// The reopened store takes writes and keeps indexes right.
	s := f.snap.Clone()
	s.Status = twin.StatusDelivered
	h.commit(&twin.Batch{Twins: []*twin.Twin{s}})
	if got := ids(h.twins(twin.TwinQuery{Status: twin.StatusInTransit})); len(got) != 0 {
		t.Fatalf("Twins(in_transit) after a status change: got %v", got)
	}
	h.reopenStore()
	h.wantTwin(s)
}

// testHammer runs writers and readers at once. Each writer owns some twins
// and commits one event per twin per batch, with one alert every third
// event. Readers check that whatever they see is a whole batch: a snapshot
// at seq n has exactly n records visible after it, its digest is that of
// record n, and its alert count matches the alerts visible.
func testHammer(t *testing.T, h *harness) {
	const (
		writers        = 3
		twinsPerWriter = 4
		batches        = 25
		readers        = 3
	)
	var done atomic.Bool
	var wg, rg sync.WaitGroup
	errc := make(chan error, writers+readers)
	twinID := func(w, i int) string { return fmt.Sprintf("hm-%d-%d", w, i) }
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fx := make([]*fixture, twinsPerWriter)
			for i := range fx {
				fx[i] = build(spec{id: twinID(w, i), records: batches, alertEvery: 3, custodian: fmt.Sprint("w", w)})
			}
			for n := 1; n <= batches; n++ {
				b := &twin.Batch{}
				for _, f := range fx {
					s := f.snap.Clone()
					r := f.records[n-1]
					s.Seq, s.Digest, s.StreamSeq, s.Updated = uint64(n), r.Digest, r.StreamSeq, r.Time
					s.Alerts = uint64(n / 3)
					s.Status = []string{twin.StatusCreated, twin.StatusInTransit}[n%2]
					b.Twins = append(b.Twins, s)
					b.Records = append(b.Records, r)
					if n%3 == 0 {
						b.Alerts = append(b.Alerts, f.alerts[n/3-1])
					}
				}
				if err := h.s.Commit(ctx(), b); err != nil {
					errc <- fmt.Errorf("writer %d batch %d: %w", w, n, err)
					return
				}
			}
		}()
	}
	for r := range readers {
		rg.Add(1)
		go func() {
			defer rg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			last := map[string]uint64{}
			for iter := 0; !done.Load() || iter < 20; iter++ {
				id := twinID(rng.IntN(writers), rng.IntN(twinsPerWriter))
				s, err := h.s.Twin(ctx(), id)
				if errors.Is(err, twin.ErrNotFound) {
					continue
				}
				if err != nil {
					errc <- fmt.Errorf("reader: Twin: %w", err)
					return
				}
				if s.Seq < last[id] {
					errc <- fmt.Errorf("reader: %s went back from seq %d to %d", id, last[id], s.Seq)
					return
				}
				last[id] = s.Seq
				if s.Status != []string{twin.StatusCreated, twin.StatusInTransit}[s.Seq%2] {
					errc <- fmt.Errorf("reader: %s seq %d has status %s", id, s.Seq, s.Status)
					return
				}
				rs, err := h.s.History(ctx(), twin.HistoryQuery{Twin: id, Limit: 1000})
				if err != nil {
					errc <- fmt.Errorf("reader: History: %w", err)
					return
				}
				if uint64(len(rs)) < s.Seq || rs[s.Seq-1].Digest != s.Digest {
					errc <- fmt.Errorf("reader: %s snapshot at seq %d but %d records visible (or digest differs)", id, s.Seq, len(rs))
					return
				}
				as, err := h.s.Alerts(ctx(), twin.AlertQuery{Twin: id})
				if err != nil {
					errc <- fmt.Errorf("reader: Alerts: %w", err)
					return
				}
				if uint64(len(as)) < s.Alerts {
					errc <- fmt.Errorf("reader: %s snapshot counts %d alerts, %d visible", id, s.Alerts, len(as))
					return
				}
				if iter%5 == 0 {
					ts, err := h.s.Twins(ctx(), twin.TwinQuery{Status: twin.StatusInTransit, Limit: 1000})
					if err != nil {
						errc <- fmt.Errorf("reader: Twins: %w", err)
						return
					}
					for _, tw := range ts {
						if tw.Status != twin.StatusInTransit {
							errc <- fmt.Errorf("reader: Twins(in_transit) listed %s with status %s", tw.ID, tw.Status)
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	rg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for w := range writers {
		for i := range twinsPerWriter {
			id := twinID(w, i)
			s, err := h.s.Twin(ctx(), id)
			if err != nil {
				t.Fatalf("Twin(%s): %v", id, err)
			}
			if s.Seq != batches {
				t.Fatalf("Twin(%s): seq %d, want %d", id, s.Seq, batches)
			}
			if rs := h.history(twin.HistoryQuery{Twin: id}); len(rs) != batches {
				t.Fatalf("History(%s): %d records, want %d", id, len(rs), batches)
			}
		}
	}
	if as := h.alertsOf(twin.AlertQuery{Limit: 1000}); len(as) != writers*twinsPerWriter*(batches/3) {
		t.Fatalf("Alerts(all): got %d, want %d", len(as), writers*twinsPerWriter*(batches/3))
	}
}

// testEventTimeFields: the fields of the two clocks, late and failure
// records, processing-time timers, the allowed-lateness window and its
// buffered events round-trip, also after a reopen.
func testEventTimeFields(t *testing.T, h *harness) {
	f := build(spec{id: "late-1", records: 4})
	// Record 3 arrived late; record 4 is a failure record: the state is
	// unchanged, the digest commits to the failure kind.
	r3 := &f.records[2]
	r3.Late = true
	var ev twin.Event
	if err := ev.UnmarshalBinary(r3.Event); err != nil {
		t.Fatal(err)
	}
	ev.Flags = twin.EventLate
	r3.Event, _ = ev.MarshalBinary()
	r3.EventHash = twin.Keccak256(r3.Event)
	r3.Digest = twin.NextDigest(f.records[1].Digest, r3.Twin, r3.Seq, r3.EventHash, r3.StateHash, r3.Module)
	r4 := &f.records[3]
	r4.StateHash = r3.StateHash
	r4.Failure, r4.FailureDetail = twin.FailureFuel, "fuel: 10000000 instructions exhausted"
	r4.Digest = r4.Link(r3.Digest)
	f.snap.Digest = r4.Digest
	f.snap.Timers = []twin.Timer{{Name: "excursion", At: base.Add(time.Hour)}, {Name: "no_data", At: base.Add(15 * time.Minute), Processing: true}}
	f.snap.Lateness = 10 * time.Minute
	f.snap.Buffered = []twin.Buffered{
		{StreamSeq: 7, Event: twin.Event{Kind: twin.KindReading, Type: twin.TypeTemperature, Time: base.Add(2 * time.Hour), Value: 4.5, Fields: []string{"t1", "CEL"}}},
		{StreamSeq: 9, Event: twin.Event{Kind: twin.KindReading, Type: twin.TypeDoor, Time: base.Add(2*time.Hour - time.Minute), Value: 1, Fields: []string{"door", ""}}},
	}
	h.commit(batchOf(f))
	check := func(when string) {
		h.wantTwin(f.snap)
		rs := h.history(twin.HistoryQuery{Twin: "late-1"})
		wantRecords(t, when+": History", rs, f.records)
		var d twin.Hash
		for _, r := range rs {
			if d = r.Link(d); d != r.Digest {
				t.Fatalf("%s: record %d: digest chain broken", when, r.Seq)
			}
		}
		var got twin.Event
		if err := got.UnmarshalBinary(rs[2].Event); err != nil || !got.Late() {
			t.Fatalf("%s: late event: %v late=%v", when, err, got.Late())
		}
	}
	check("committed")
	// The failure kind is in the digest: another kind breaks the chain.
	if r4.Link(r3.Digest) == twin.NextFailureDigest(r3.Digest, r4.Twin, r4.Seq, r4.EventHash, r4.StateHash, r4.Module, twin.FailureTrap) ||
		r4.Link(r3.Digest) == twin.NextDigest(r3.Digest, r4.Twin, r4.Seq, r4.EventHash, r4.StateHash, r4.Module) {
		t.Fatal("failure kind not in the digest")
	}
	h.reopenStore()
	check("reopened")
	// Emptying the buffer and the window round-trips as empty.
	f.snap.Buffered, f.snap.Lateness = nil, 0
	h.commit(&twin.Batch{Twins: []*twin.Twin{f.snap}})
	h.wantTwin(f.snap)
}

// testTwinsStale: StaleBefore keeps twins whose newest reading (or, without
// readings, creation) is older than it, combined with the other filters.
func testTwinsStale(t *testing.T, h *harness) {
	fresh := build(spec{id: "fresh", records: 3, start: base.Add(10 * time.Hour)})
	old := build(spec{id: "old", records: 3, start: base})
	bare := build(spec{id: "bare", records: 1, start: base.Add(time.Hour)}) // no reading: creation counts
	late := build(spec{id: "late", records: 3, start: base.Add(10 * time.Hour), status: twin.StatusInTransit})
	late.snap.LastReading = base.Add(2 * time.Hour) // its logger has not been read out
	h.commit(batchOf(fresh, old, bare, late))
	cut := base.Add(5 * time.Hour)
	if got := ids(h.twins(twin.TwinQuery{StaleBefore: cut})); !slices.Equal(got, []string{"bare", "late", "old"}) {
		t.Fatalf("stale: got %v", got)
	}
	if got := ids(h.twins(twin.TwinQuery{StaleBefore: cut, Status: twin.StatusInTransit})); !slices.Equal(got, []string{"late"}) {
		t.Fatalf("stale in transit: got %v", got)
	}
	if got := ids(h.twins(twin.TwinQuery{StaleBefore: cut, After: "bare", Limit: 1})); !slices.Equal(got, []string{"late"}) {
		t.Fatalf("stale paged: got %v", got)
	}
	if got := ids(h.twins(twin.TwinQuery{StaleBefore: base})); len(got) != 0 {
		t.Fatalf("stale before everything: got %v", got)
	}
}

// Fencer is a store that fences cluster partitions (store/pg): see
// twin.Batch.Fences.
type Fencer interface {
	AdvanceFence(ctx context.Context, partition int, token uint64) error
}

// testFence: a batch carrying a fence token lower than one the store has
// seen writes nothing and fails with twin.ErrFenced; tokens advance; a
// snapshot never moves a twin backwards. Stores that do not fence refuse a
// fenced batch.
func testFence(t *testing.T, h *harness) {
	f := build(spec{id: "fenced", records: 5})
	b := batchOf(f)
	b.Fences = map[int]uint64{3: 10, 4: 2}
	fs, ok := h.s.(Fencer)
	if !ok {
		if err := h.s.Commit(ctx(), b); err == nil {
			t.Fatal("a store that does not fence committed a fenced batch")
		}
		return
	}
	h.commit(b)
	h.wantTwin(f.snap)
	if err := fs.AdvanceFence(ctx(), 3, 12); err != nil {
		t.Fatalf("AdvanceFence: %v", err)
	}
	if err := fs.AdvanceFence(ctx(), 3, 11); !errors.Is(err, twin.ErrFenced) {
		t.Fatalf("AdvanceFence below the fence: %v, want ErrFenced", err)
	}
	g := build(spec{id: "fenced", records: 8})
	stale := &twin.Batch{Twins: []*twin.Twin{g.snap}, Records: g.records[5:], Fences: map[int]uint64{4: 2, 3: 10}}
	err := h.s.Commit(ctx(), stale)
	var fe *twin.FencedError
	if !errors.As(err, &fe) || !errors.Is(err, twin.ErrFenced) {
		t.Fatalf("stale commit: %v, want a *twin.FencedError", err)
	}
	if fe.Partition != 3 || fe.Token != 10 || fe.Current != 12 {
		t.Errorf("FencedError %+v, want partition 3 token 10 current 12", *fe)
	}
	h.wantTwin(f.snap) // nothing of the stale batch
	if got := h.history(twin.HistoryQuery{Twin: "fenced"}); len(got) != 5 {
		t.Fatalf("History after a fenced commit: %d records, want 5", len(got))
	}
	stale.Fences = map[int]uint64{3: 12}
	h.commit(stale)
	h.wantTwin(g.snap)
	// An older snapshot of the twin (a former owner's) does not replace a
	// newer one.
	h.commit(&twin.Batch{Twins: []*twin.Twin{f.snap}, Fences: map[int]uint64{3: 13}})
	h.wantTwin(g.snap)
	if err := fs.AdvanceFence(ctx(), 3, 12); !errors.Is(err, twin.ErrFenced) {
		t.Fatalf("the commit with token 13 did not advance the fence: %v", err)
	}
}

// testTimerIndex: a store that implements [twin.TimerIndex] lists exactly
// the twins whose latest snapshot holds a processing-time timer, in id
// order, paged, following every change and a reopen.
func testTimerIndex(t *testing.T, h *harness) {
	if _, ok := h.s.(twin.TimerIndex); !ok {
		t.Skip("store has no timer index")
	}
	at := base.Add(time.Hour)
	processing := twin.Timer{Name: "silence", At: at, Processing: true}
	eventTime := twin.Timer{Name: "budget", At: at}
	snap := func(id string, seq uint64, timers ...twin.Timer) *twin.Twin {
		f := build(spec{id: id, status: twin.StatusCreated, records: 1})
		f.snap.Seq, f.snap.Timers = seq, timers
		return f.snap
	}
	list := func(after string, limit int) []string {
		t.Helper()
		tts, err := h.s.(twin.TimerIndex).TimerTwins(ctx(), after, limit)
		if err != nil {
			t.Fatalf("TimerTwins: %v", err)
		}
		var ids []string
		for _, tt := range tts {
			ids = append(ids, tt.ID)
			want, err := h.s.Twin(ctx(), tt.ID)
			if err != nil {
				t.Fatalf("Twin %s: %v", tt.ID, err)
			}
			if !slices.EqualFunc(tt.Timers, want.Timers, func(a, b twin.Timer) bool {
				return a.Name == b.Name && a.At.Equal(b.At) && a.Processing == b.Processing
			}) {
				t.Errorf("TimerTwins gives %s timers %+v, its snapshot %+v", tt.ID, tt.Timers, want.Timers)
			}
		}
		return ids
	}
	h.commit(&twin.Batch{Twins: []*twin.Twin{
		snap("a", 1, processing), snap("b", 1, eventTime), snap("c", 1),
		snap("d", 1, eventTime, processing), snap("e", 1, processing),
	}})
	if got := list("", 0); !slices.Equal(got, []string{"a", "d", "e"}) {
		t.Fatalf("timer twins: %v, want [a d e]", got)
	}
	if got := list("a", 1); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("after a, limit 1: %v, want [d]", got)
	}
	if got := list("e", 10); len(got) != 0 {
		t.Fatalf("after e: %v, want none", got)
	}
	// a loses its timer, c gains one, d keeps only its event-time timer.
	h.commit(&twin.Batch{Twins: []*twin.Twin{snap("a", 2, eventTime), snap("c", 2, processing), snap("d", 2, eventTime)}})
	want := []string{"c", "e"}
	if got := list("", 0); !slices.Equal(got, want) {
		t.Fatalf("after changes: %v, want %v", got, want)
	}
	h.reopenStore()
	if got := list("", 0); !slices.Equal(got, want) {
		t.Fatalf("after reopen: %v, want %v", got, want)
	}
}
