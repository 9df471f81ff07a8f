package embedded

import (
	"context"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/merkle"
	"github.com/custos-dev/custos/twin"
)

func TestStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := db.LastEpoch(ctx); n != 0 {
		t.Fatalf("last epoch %d in an empty store", n)
	}
	leaf := func(id string, seq uint64) merkle.Leaf {
		return merkle.Leaf{Twin: id, Seq: seq, Digest: twin.Keccak256([]byte(id), []byte{byte(seq)})}
	}
	e1 := &anchor.Epoch{Number: 1, Root: common.Hash{1}, Count: 2, State: anchor.StateSigned}
	e2 := &anchor.Epoch{Number: 2, Root: common.Hash{2}, Count: 2, State: anchor.StateSigned}
	if err := db.CreateEpoch(ctx, e1, []merkle.Leaf{leaf("a", 3), leaf("ab", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateEpoch(ctx, e2, []merkle.Leaf{leaf("a", 7), leaf("b", 2)}); err != nil {
		t.Fatal(err)
	}
	acct := common.Address{9}
	e1.State = anchor.StateConfirmed
	if err := db.UpdateEpoch(ctx, e1, &anchor.Nonce{Account: acct, Next: 5}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(dir) // everything below survives a reopen
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, _ := db.LastEpoch(ctx); n != 2 {
		t.Fatalf("last epoch %d", n)
	}
	un, err := db.Unfinished(ctx)
	if err != nil || len(un) != 1 || un[0].Number != 2 {
		t.Fatalf("unfinished %v %v", un, err)
	}
	if n, _ := db.NextNonce(ctx, acct); n != 5 {
		t.Fatalf("nonce %d", n)
	}
	if n, _ := db.NextNonce(ctx, common.Address{1}); n != 0 {
		t.Fatalf("unknown account nonce %d", n)
	}
	tests := []struct {
		twin   string
		seq    uint64
		epochs []uint64
		seqs   []uint64
	}{
		{"a", 1, []uint64{1, 2}, []uint64{3, 7}},
		{"a", 4, []uint64{2}, []uint64{7}},
		{"a", 8, nil, nil},
		{"ab", 1, []uint64{1}, []uint64{1}}, // "a" must not see "ab"'s leaves
		{"b", 1, []uint64{2}, []uint64{2}},
		{"c", 1, nil, nil},
	}
	for _, tc := range tests {
		refs, err := db.LeavesFrom(ctx, tc.twin, tc.seq, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != len(tc.epochs) {
			t.Fatalf("%s/%d: %d refs, want %d", tc.twin, tc.seq, len(refs), len(tc.epochs))
		}
		for i, r := range refs {
			if r.Epoch != tc.epochs[i] || r.Leaf != leaf(tc.twin, tc.seqs[i]) {
				t.Fatalf("%s/%d: ref %d = %+v", tc.twin, tc.seq, i, r)
			}
		}
	}
	for id, want := range map[string]uint64{"a": 7, "ab": 1, "b": 2, "zz": 0} {
		if got, _ := db.CutSeq(ctx, id); got != want {
			t.Fatalf("cut seq of %s = %d, want %d", id, got, want)
		}
	}
	ls, err := db.Leaves(ctx, 2)
	if err != nil || len(ls) != 2 || ls[0] != leaf("a", 7) || ls[1] != leaf("b", 2) {
		t.Fatalf("leaves %v %v", ls, err)
	}
	es, err := db.Epochs(ctx, 1, 10)
	if err != nil || len(es) != 1 || es[0].Number != 2 {
		t.Fatalf("epochs after 1: %v %v", es, err)
	}
	if _, err := db.Epoch(ctx, 3); !errors.Is(err, anchor.ErrNotFound) {
		t.Fatalf("missing epoch: %v", err)
	}
}
