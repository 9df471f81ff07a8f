package embedded

import (
	"context"
	"testing"

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
