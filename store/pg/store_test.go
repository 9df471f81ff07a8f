package pg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

func TestTwinRoundTrip(t *testing.T) {
	db := openTest(t)
	full := sampleTwin("full", 7)
	minimal := &twin.Twin{ID: "minimal", Kind: "case", Status: twin.StatusCreated}
	emptyBytes := &twin.Twin{ID: "empty-bytes", Kind: "case", Status: twin.StatusCreated,
		Params: []byte{}, View: []byte{}, State: []byte{}, Children: []string{}, Timers: []twin.Timer{}}
	zeroTimer := sampleTwin("zero-timer", 1)
	zeroTimer.Timers = []twin.Timer{{Name: "cancelled"}}
	unicode := sampleTwin("unicode", 3)
	unicode.Custodian = "Spedition Müller – 東京"
	unicode.Params = []byte(`{"note":"°C"}`)
	tests := []struct {
		name string
		in   *twin.Twin
		want *twin.Twin
	}{
		{"every field", full, full},
		{"zero values", minimal, minimal},
		// Empty slices come back nil, as Twin.Clone makes them.
		{"empty slices", emptyBytes, emptyBytes.Clone()},
		{"zero timer time", zeroTimer, zeroTimer},
		{"non-ascii text", unicode, unicode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustCommit(t, db, &twin.Batch{Twins: []*twin.Twin{tt.in}})
			got, err := db.Twin(ctxT(t), tt.in.ID)
			if err != nil {
				t.Fatalf("Twin: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTwinNotFound(t *testing.T) {
	db := openTest(t)
	_, err := db.Twin(ctxT(t), "nope")
	if !errors.Is(err, twin.ErrNotFound) {
		t.Fatalf("Twin(nope) = %v, want ErrNotFound", err)
	}
}

func TestSnapshotReplaced(t *testing.T) {
	db := openTest(t)
	mustCommit(t, db, &twin.Batch{Twins: []*twin.Twin{sampleTwin("a", 1)}})
	next := sampleTwin("a", 2)
	next.Children = nil
	next.Timers = nil
	next.Status = twin.StatusDelivered
	mustCommit(t, db, &twin.Batch{Twins: []*twin.Twin{next}})
	got, err := db.Twin(ctxT(t), "a")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, next) {
		t.Errorf("got %+v\nwant %+v", got, next)
	}
}

func TestTwinsQuery(t *testing.T) {
	db := openTest(t)
	var b twin.Batch
	for i := range 10 {
		tw := sampleTwin(fmt.Sprintf("tw-%02d", i), uint64(i))
		tw.Status = []string{twin.StatusCreated, twin.StatusInTransit}[i%2]
		tw.Kind = []string{"pallet", "case", "shipment"}[i%3]
		tw.Custodian = fmt.Sprintf("carrier-%d", i%4)
		b.Twins = append(b.Twins, tw)
	}
	mustCommit(t, db, &b)
	ids := func(ts []*twin.Twin) string {
		var s []string
		for _, t := range ts {
			s = append(s, strings.TrimPrefix(t.ID, "tw-"))
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		name string
		q    twin.TwinQuery
		want string
	}{
		{"all", twin.TwinQuery{}, "00,01,02,03,04,05,06,07,08,09"},
		{"limit", twin.TwinQuery{Limit: 3}, "00,01,02"},
		{"after", twin.TwinQuery{After: "tw-07"}, "08,09"},
		{"after and limit", twin.TwinQuery{After: "tw-02", Limit: 2}, "03,04"},
		{"status", twin.TwinQuery{Status: twin.StatusInTransit}, "01,03,05,07,09"},
		{"kind", twin.TwinQuery{Kind: "shipment"}, "02,05,08"},
		{"custodian", twin.TwinQuery{Custodian: "carrier-1"}, "01,05,09"},
		{"status and kind", twin.TwinQuery{Status: twin.StatusCreated, Kind: "pallet"}, "00,06"},
		{"no match", twin.TwinQuery{Status: "closed"}, ""},
		{"sql in value is data", twin.TwinQuery{Kind: "x' OR '1'='1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Twins(ctxT(t), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if ids(got) != tt.want {
				t.Errorf("Twins(%+v) = %s, want %s", tt.q, ids(got), tt.want)
			}
		})
	}
	got, err := db.Twins(ctxT(t), twin.TwinQuery{After: "tw-04", Limit: 1})
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], b.Twins[5]) {
		t.Errorf("Twins after tw-04 = %+v, %v; want tw-05 in full", got, err)
	}
}

func TestTwinsDefaultLimit(t *testing.T) {
	db := openTest(t)
	var b twin.Batch
	for i := range 150 {
		b.Twins = append(b.Twins, &twin.Twin{ID: fmt.Sprintf("t%03d", i), Kind: "case", Status: "created"})
	}
	mustCommit(t, db, &b)
	got, err := db.Twins(ctxT(t), twin.TwinQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 {
		t.Errorf("Twins with Limit 0 returned %d, want 100", len(got))
	}
}

func TestHistoryQuery(t *testing.T) {
	db := openTest(t)
	var b twin.Batch
	// Committed out of order and interleaved with another twin.
	for _, seq := range []uint64{5, 1, 3, 2, 4, 6, 7, 8, 9, 10} {
		b.Records = append(b.Records, sampleRecord("h", seq), sampleRecord("other", seq))
	}
	mustCommit(t, db, &b)
	at := func(seq int) time.Time { return t0.Add(time.Duration(seq) * time.Second) }
	tests := []struct {
		name string
		q    twin.HistoryQuery
		want []uint64
	}{
		{"all", twin.HistoryQuery{Twin: "h"}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"after seq", twin.HistoryQuery{Twin: "h", AfterSeq: 7}, []uint64{8, 9, 10}},
		{"limit", twin.HistoryQuery{Twin: "h", Limit: 2}, []uint64{1, 2}},
		{"after and limit", twin.HistoryQuery{Twin: "h", AfterSeq: 2, Limit: 3}, []uint64{3, 4, 5}},
		{"from inclusive", twin.HistoryQuery{Twin: "h", From: at(8)}, []uint64{8, 9, 10}},
		{"to exclusive", twin.HistoryQuery{Twin: "h", To: at(3)}, []uint64{1, 2}},
		{"range", twin.HistoryQuery{Twin: "h", From: at(4), To: at(6)}, []uint64{4, 5}},
		{"range and after", twin.HistoryQuery{Twin: "h", AfterSeq: 4, From: at(2), To: at(7)}, []uint64{5, 6}},
		{"nanosecond bound", twin.HistoryQuery{Twin: "h", From: at(4).Add(1)}, []uint64{5, 6, 7, 8, 9, 10}},
		{"unknown twin", twin.HistoryQuery{Twin: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.History(ctxT(t), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			for _, r := range got {
				if r.Twin != tt.q.Twin {
					t.Errorf("record of twin %s in history of %s", r.Twin, tt.q.Twin)
				}
				if want := sampleRecord(r.Twin, r.Seq); !reflect.DeepEqual(r, want) {
					t.Errorf("record %d:\n got %+v\nwant %+v", r.Seq, r, want)
				}
				seqs = append(seqs, r.Seq)
			}
			if !reflect.DeepEqual(seqs, tt.want) {
				t.Errorf("History(%+v) seqs = %v, want %v", tt.q, seqs, tt.want)
			}
		})
	}
}

func TestAlertsQuery(t *testing.T) {
	db := openTest(t)
	var b twin.Batch
	// Twin a: alerts 1..4 at seconds 10, 20, 30, 40; twin b: 1..3 at 15, 25, 35.
	for n := uint64(1); n <= 4; n++ {
		b.Alerts = append(b.Alerts, sampleAlert("a", n, n*10))
	}
	for n := uint64(1); n <= 3; n++ {
		b.Alerts = append(b.Alerts, sampleAlert("b", n, n*10+5))
	}
	mustCommit(t, db, &b)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name string
		q    twin.AlertQuery
		want string // twin:n,...
	}{
		{"one twin", twin.AlertQuery{Twin: "a"}, "a1,a2,a3,a4"},
		{"after n", twin.AlertQuery{Twin: "a", AfterN: 2}, "a3,a4"},
		{"one twin limit", twin.AlertQuery{Twin: "b", Limit: 2}, "b1,b2"},
		{"one twin range", twin.AlertQuery{Twin: "a", From: at(20), To: at(40)}, "a2,a3"},
		{"all newest first", twin.AlertQuery{}, "a4,b3,a3,b2,a2,b1,a1"},
		{"all limit", twin.AlertQuery{Limit: 3}, "a4,b3,a3"},
		{"all range", twin.AlertQuery{From: at(15), To: at(30)}, "b2,a2,b1"},
		{"unknown twin", twin.AlertQuery{Twin: "c"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Alerts(ctxT(t), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, a := range got {
				if want := sampleAlert(a.Twin, a.N, a.Seq); !reflect.DeepEqual(a, want) {
					t.Errorf("alert:\n got %+v\nwant %+v", a, want)
				}
				s = append(s, fmt.Sprint(a.Twin, a.N))
			}
			if g := strings.Join(s, ","); g != tt.want {
				t.Errorf("Alerts(%+v) = %s, want %s", tt.q, g, tt.want)
			}
		})
	}
}

// batchOf returns a batch of nTwins twins with perTwin records and one
// alert each, starting after seq from.
func batchOf(prefix string, nTwins, perTwin int, from uint64) *twin.Batch {
	b := &twin.Batch{}
	for i := range nTwins {
		id := fmt.Sprintf("%s-%04d", prefix, i)
		last := from + uint64(perTwin)
		b.Twins = append(b.Twins, sampleTwin(id, last))
		for s := from + 1; s <= last; s++ {
			b.Records = append(b.Records, sampleRecord(id, s))
		}
		b.Alerts = append(b.Alerts, sampleAlert(id, last, last))
	}
	return b
}

func TestRecommitIsIdempotent(t *testing.T) {
	db := openTest(t)
	b := batchOf("r", 20, 5, 0)
	for range 3 {
		mustCommit(t, db, b)
	}
	if n := count(t, db, "twins"); n != 20 {
		t.Errorf("twins = %d, want 20", n)
	}
	if n := count(t, db, "history"); n != 100 {
		t.Errorf("history = %d, want 100", n)
	}
	if n := count(t, db, "alerts"); n != 20 {
		t.Errorf("alerts = %d, want 20", n)
	}
	got, err := db.Twin(ctxT(t), "r-0003")
	if err != nil || !reflect.DeepEqual(got, b.Twins[3]) {
		t.Errorf("after re-commits Twin = %+v, %v; want %+v", got, err, b.Twins[3])
	}
	h, err := db.History(ctxT(t), twin.HistoryQuery{Twin: "r-0003"})
	if err != nil || !reflect.DeepEqual(h, b.Records[15:20]) {
		t.Errorf("after re-commits History = %+v, %v", h, err)
	}
}

func TestDuplicateKeysInOneBatch(t *testing.T) {
	db := openTest(t)
	first, second := sampleTwin("d", 1), sampleTwin("d", 2)
	r1, r2 := sampleRecord("d", 1), sampleRecord("d", 1)
	r2.StreamSeq = 99
	a1, a2 := sampleAlert("d", 1, 1), sampleAlert("d", 1, 1)
	a2.Message = "second"
	mustCommit(t, db, &twin.Batch{
		Twins:   []*twin.Twin{first, second},
		Records: []twin.Record{r1, sampleRecord("d", 2), r2},
		Alerts:  []twin.Alert{a1, a2},
	})
	got, err := db.Twin(ctxT(t), "d")
	if err != nil || got.Seq != 2 {
		t.Errorf("Twin = %+v, %v; want the later snapshot (seq 2)", got, err)
	}
	h, err := db.History(ctxT(t), twin.HistoryQuery{Twin: "d"})
	if err != nil || len(h) != 2 || h[0].StreamSeq != 99 {
		t.Errorf("History = %+v, %v; want 2 records, the later seq 1", h, err)
	}
	al, err := db.Alerts(ctxT(t), twin.AlertQuery{Twin: "d"})
	if err != nil || len(al) != 1 || al[0].Message != "second" {
		t.Errorf("Alerts = %+v, %v; want the later alert 1", al, err)
	}
}

// TestCommitIsAtomic makes each of the writes of a Commit fail, on the COPY
// path and on the upsert path, and checks that nothing of the batch is
// visible afterwards.
func TestCommitIsAtomic(t *testing.T) {
	// PostgreSQL refuses NUL in text, and the trigger refuses seq 13: each
	// fails one statement after others of the same Commit have run.
	tests := []struct {
		name  string
		spoil func(b *twin.Batch)
	}{
		{"snapshot", func(b *twin.Batch) { b.Twins[4].Status = "nul \x00" }},
		{"history", func(b *twin.Batch) {}},
		{"alert", func(b *twin.Batch) { b.Alerts[4].Message = "nul \x00" }},
	}
	for _, mode := range []struct {
		name    string
		copyMin int
	}{{"copy", 0}, {"upsert", math.MaxInt}} {
		for _, tt := range tests {
			t.Run(mode.name+"/"+tt.name, func(t *testing.T) {
				db := openTest(t)
				db.copyMin = mode.copyMin
				mustCommit(t, db, batchOf("ok", 2, 2, 0))
				if tt.name == "history" {
					if _, err := db.pool.Exec(ctxT(t), `
CREATE FUNCTION refuse_13() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.seq = 13 THEN RAISE EXCEPTION 'refused seq 13'; END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER refuse_13 BEFORE INSERT ON history FOR EACH ROW EXECUTE FUNCTION refuse_13();`); err != nil {
						t.Fatal(err)
					}
				}
				bad := batchOf("bad", 5, 20, 0)
				tt.spoil(bad)
				if err := db.Commit(ctxT(t), bad); err == nil {
					t.Fatal("the spoiled Commit succeeded")
				}
				for table, want := range map[string]int{"twins": 2, "history": 4, "alerts": 2} {
					if n := count(t, db, table); n != want {
						t.Errorf("%s has %d rows after a failed commit, want %d", table, n, want)
					}
				}
				// The store is still usable.
				if _, err := db.pool.Exec(ctxT(t), "DROP TRIGGER IF EXISTS refuse_13 ON history"); err != nil {
					t.Fatal(err)
				}
				mustCommit(t, db, batchOf("bad", 5, 20, 0))
				if n := count(t, db, "history"); n != 104 {
					t.Errorf("history = %d, want 104", n)
				}
			})
		}
	}
}

func TestCommitEmptyBatch(t *testing.T) {
	db := openTest(t)
	for _, b := range []*twin.Batch{nil, {}} {
		if err := db.Commit(ctxT(t), b); err != nil {
			t.Errorf("Commit(%v) = %v", b, err)
		}
	}
	if err := db.Commit(ctxT(t), &twin.Batch{Twins: []*twin.Twin{nil}}); err == nil {
		t.Error("Commit of a nil twin succeeded")
	}
}

func TestCommitCancelledContext(t *testing.T) {
	db := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err := db.Commit(ctx, batchOf("c", 3, 3, 0))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with a cancelled ctx = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Commit with a cancelled ctx took %v", d)
	}
	if n := count(t, db, "history"); n != 0 {
		t.Errorf("history = %d after a cancelled commit", n)
	}
}

func TestOpenUnreachable(t *testing.T) {
	testURL(t)
	// Nothing listens on port 1 of the loopback address.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Open(ctx, "postgres://custos:custos@127.0.0.1:1/custos_test?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Open of an unreachable server took %v", d)
	}
}

func TestPing(t *testing.T) {
	db := openTest(t)
	if err := db.Ping(ctxT(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	db.Close()
	if err := db.Ping(ctxT(t)); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOptionsValidated(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
		want error
	}{
		{"schema with quote", WithSchema(`x"; DROP TABLE twins; --`), ErrInvalidSchema},
		{"schema upper case", WithSchema("Custos"), ErrInvalidSchema},
		{"schema empty", WithSchema(""), ErrInvalidSchema},
		{"schema leading digit", WithSchema("1abc"), ErrInvalidSchema},
		{"negative retention", WithRetention(Retention{Keep: -time.Hour}), ErrInvalidOption},
		{"zero conns", WithMaxConns(0), ErrInvalidOption},
		{"nil logger", WithLogger(nil), ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Options are checked before any connection is made.
			_, err := Open(context.Background(), "postgres://127.0.0.1:1/x", tt.opt)
			if !errors.Is(err, tt.want) {
				t.Errorf("Open = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestApplicationName(t *testing.T) {
	db := openTest(t)
	var name string
	if err := db.pool.QueryRow(ctxT(t), "SHOW application_name").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "custos" {
		t.Errorf("application_name = %q, want custos", name)
	}
	var path string
	if err := db.pool.QueryRow(ctxT(t), "SHOW search_path").Scan(&path); err != nil {
		t.Fatal(err)
	}
	if path != db.Schema() {
		t.Errorf("search_path = %q, want %q", path, db.Schema())
	}
}
