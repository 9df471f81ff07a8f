package embedded

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/custos-dev/custos/twin"
)

// TestBatchSame: snapshots marked Same (indexed fields as in the snapshot
// they replace) are written without index upkeep, and the index stays
// right; with a twin twice in a batch, Same is not used.
func TestBatchSame(t *testing.T) {
	ctx := context.Background()
	db := openT(t, t.TempDir())
	defer db.Close()
	db.maxKnown = 0 // no cache: a wrong index would show
	snap := func(seq uint64, status, custodian string) *twin.Twin {
		return &twin.Twin{ID: "PAL-1", Kind: "pallet", Status: status, Custodian: custodian, Seq: seq}
	}
	ids := func(q twin.TwinQuery) []string {
		ts, err := db.Twins(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tw := range ts {
			out = append(out, tw.ID)
		}
		return out
	}
	check := func(step string, wantSeq uint64, status, custodian string) {
		t.Helper()
		tw, err := db.Twin(ctx, "PAL-1")
		if err != nil || tw.Seq != wantSeq {
			t.Fatalf("%s: twin %+v, %v", step, tw, err)
		}
		for _, q := range []twin.TwinQuery{{Status: status}, {Custodian: custodian}, {Kind: "pallet"}} {
			if got := ids(q); len(got) != 1 {
				t.Errorf("%s: %+v finds %v", step, q, got)
			}
		}
		for _, q := range []twin.TwinQuery{{Status: "other"}, {Custodian: "other"}} {
			if got := ids(q); len(got) != 0 {
				t.Errorf("%s: %+v finds %v", step, q, got)
			}
		}
	}
	commit := func(b *twin.Batch) {
		t.Helper()
		if err := db.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	commit(&twin.Batch{Twins: []*twin.Twin{snap(1, "created", "a")}, Same: []bool{false}})
	check("created", 1, "created", "a")
	commit(&twin.Batch{Twins: []*twin.Twin{snap(2, "created", "a")}, Same: []bool{true}})
	check("same", 2, "created", "a")
	commit(&twin.Batch{Twins: []*twin.Twin{snap(3, "in_transit", "b")}, Same: []bool{false}})
	check("moved", 3, "in_transit", "b")
	// Twice in one batch: the last wins, compared with the stored one.
	commit(&twin.Batch{Twins: []*twin.Twin{snap(4, "delivered", "c"), snap(5, "delivered", "c")}, Same: []bool{false, true}})
	check("twice", 5, "delivered", "c")
}

// TestTimerIndex: the twins with processing-time timers are listed as
// commits come, survive a reopen, and a store from before the list gets it
// filled at open.
func TestTimerIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openT(t, dir)
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	snap := func(id string, timers ...twin.Timer) *twin.Twin {
		return &twin.Twin{ID: id, Kind: "pallet", Status: "created", Seq: 1, Timers: timers}
	}
	list := func(db *DB, after string, limit int) []string {
		t.Helper()
		tts, err := db.TimerTwins(ctx, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, tt := range tts {
			ids = append(ids, tt.ID)
		}
		return ids
	}
	processing := twin.Timer{Name: "silence", At: at, Processing: true}
	eventTime := twin.Timer{Name: "budget", At: at}
	if err := db.Commit(ctx, &twin.Batch{Twins: []*twin.Twin{
		snap("A", processing), snap("B", eventTime), snap("C"), snap("D", eventTime, processing), snap("E", processing),
	}}); err != nil {
		t.Fatal(err)
	}
	if got := list(db, "", 0); !slices.Equal(got, []string{"A", "D", "E"}) {
		t.Fatalf("timer twins = %v", got)
	}
	if got := list(db, "A", 1); !slices.Equal(got, []string{"D"}) {
		t.Fatalf("after A, limit 1: %v", got)
	}
	// A loses its timer, C gains one: not the same (Batch.Same), so the
	// list follows. E is marked the same: the store trusts the mark and
	// does not touch its entry (a runtime sets it only when the twin had
	// processing-time timers before exactly when it has them now).
	if err := db.Commit(ctx, &twin.Batch{Twins: []*twin.Twin{snap("A"), snap("C", processing), snap("E")}, Same: []bool{false, false, true}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"C", "D", "E"}
	if got := list(db, "", 0); !slices.Equal(got, want) {
		t.Fatalf("after changes: %v", got)
	}
	db.Close()
	db = openT(t, dir)
	if got := list(db, "", 0); !slices.Equal(got, want) {
		t.Fatalf("after reopen: %v", got)
	}
	// A store from before the list: no mark, no 'p' keys.
	pb := db.pdb.NewBatch()
	pb.Delete(metaTimerIndex, nil)
	pb.DeleteRange([]byte{spaceTimers}, []byte{spaceTimers + 1}, nil)
	if err := pb.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if got := list(db, "", 0); len(got) != 0 {
		t.Fatalf("after dropping the list: %v", got)
	}
	db.Close()
	db = openT(t, dir)
	defer db.Close()
	// Filled from the snapshots: E has no processing-time timer.
	if got := list(db, "", 0); !slices.Equal(got, []string{"C", "D"}) {
		t.Fatalf("filled at open: %v", got)
	}
}
