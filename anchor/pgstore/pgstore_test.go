package pgstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/merkle"
	"github.com/custos-dev/custos/store/pg"
	"github.com/custos-dev/custos/store/pg/pgtest"
	"github.com/custos-dev/custos/twin"
)

// openDB opens store/pg in a fresh schema of CUSTOS_TEST_DATABASE (the
// migrations make the anchor tables); the schema is dropped at the end.
func openDB(t *testing.T) *pg.DB {
	t.Helper()
	url := pgtest.URL(t)
	url, drop := pg.FreshSchema(url, "t_pgstore")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := pg.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		drop()
	})
	return db
}

func leaf(id string, seq uint64) merkle.Leaf {
	return merkle.Leaf{Twin: id, Seq: seq, Digest: twin.Keccak256([]byte(id), []byte{byte(seq)})}
}

func epoch(n uint64) *anchor.Epoch {
	return &anchor.Epoch{Number: n, Root: common.Hash{byte(n)}, Count: 2, State: anchor.StateSigned, Created: time.Now().UTC().Truncate(time.Microsecond)}
}

func TestStoreReadsWhatItWrote(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	s := New(db.Pool(), 7, "node-1")
	if err := s.CreateEpoch(ctx, epoch(1), []merkle.Leaf{leaf("a", 3), leaf("ab", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEpoch(ctx, epoch(2), []merkle.Leaf{leaf("b", 2), leaf("a", 7)}); err != nil {
		t.Fatal(err)
	}
	e1 := epoch(1)
	e1.State, e1.Block, e1.Tx = anchor.StateConfirmed, 12, common.Hash{5}
	acct := common.Address{9}
	if err := s.UpdateEpoch(ctx, e1, &anchor.Nonce{Account: acct, Next: 5}); err != nil {
		t.Fatal(err)
	}
	r := New(db.Pool(), 0, "") // another node reads the same
	if n, _ := r.LastEpoch(ctx); n != 2 {
		t.Fatalf("last epoch %d", n)
	}
	got, err := r.Epoch(ctx, 1)
	if err != nil || got.State != anchor.StateConfirmed || got.Block != 12 || got.Tx != e1.Tx || !got.Created.Equal(e1.Created) {
		t.Fatalf("epoch 1: %+v %v", got, err)
	}
	if un, err := r.Unfinished(ctx); err != nil || len(un) != 1 || un[0].Number != 2 {
		t.Fatalf("unfinished %v %v", un, err)
	}
	if n, _ := r.NextNonce(ctx, acct); n != 5 {
		t.Fatalf("nonce %d", n)
	}
	if n, _ := r.NextNonce(ctx, common.Address{1}); n != 0 {
		t.Fatalf("unknown account nonce %d", n)
	}
	refs, err := r.LeavesFrom(ctx, "a", 1, 10)
	if err != nil || len(refs) != 2 || refs[0].Epoch != 1 || refs[0].Leaf != leaf("a", 3) || refs[1].Epoch != 2 || refs[1].Leaf != leaf("a", 7) {
		t.Fatalf("leaves of a: %+v %v", refs, err)
	}
	if refs, _ := r.LeavesFrom(ctx, "a", 8, 10); len(refs) != 0 {
		t.Fatalf("leaves of a from 8: %+v", refs)
	}
	if ls, err := r.Leaves(ctx, 2); err != nil || len(ls) != 2 || ls[0] != leaf("a", 7) || ls[1] != leaf("b", 2) {
		t.Fatalf("leaves of epoch 2 (twin order): %v %v", ls, err)
	}
	for id, want := range map[string]uint64{"a": 7, "ab": 1, "b": 2, "zz": 0} {
		if got, _ := r.CutSeq(ctx, id); got != want {
			t.Fatalf("cut seq of %s = %d, want %d", id, got, want)
		}
	}
	if es, err := r.Epochs(ctx, 1, 10); err != nil || len(es) != 1 || es[0].Number != 2 {
		t.Fatalf("epochs after 1: %v %v", es, err)
	}
	if _, err := r.Epoch(ctx, 3); !errors.Is(err, anchor.ErrNotFound) {
		t.Fatalf("missing epoch: %v", err)
	}
	if err := s.UpdateEpoch(ctx, epoch(9), nil); !errors.Is(err, anchor.ErrNotFound) {
		t.Fatalf("update of a missing epoch: %v", err)
	}
	if err := r.CreateEpoch(ctx, epoch(3), nil); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only store wrote: %v", err)
	}
	if err := s.CreateEpoch(ctx, epoch(4), nil); !errors.Is(err, ErrGap) {
		t.Fatalf("epoch 4 after 2: %v", err)
	}
	if err := s.CreateEpoch(ctx, epoch(2), nil); !errors.Is(err, ErrGap) {
		t.Fatalf("epoch 2 again: %v", err)
	}
	// A cut mark never moves back (a former leader's stale pending head).
	if err := s.CreateEpoch(ctx, epoch(3), []merkle.Leaf{leaf("a", 5)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.CutSeq(ctx, "a"); got != 7 {
		t.Fatalf("cut seq of a moved back to %d", got)
	}
}

// Once a leader with a higher fence has written, the former one writes
// nothing: no epoch, no update, no nonce; with writers racing, every
// accepted epoch is contiguous.
func TestStoreFence(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	old, cur := New(db.Pool(), 5, "node-1"), New(db.Pool(), 9, "node-2")
	if err := old.CreateEpoch(ctx, epoch(1), []merkle.Leaf{leaf("a", 1)}); err != nil {
		t.Fatal(err)
	}
	if f, h, err := old.Leader(ctx); err != nil || f != 5 || h != "node-1" {
		t.Fatalf("leader %d %q %v", f, h, err)
	}
	if err := cur.CreateEpoch(ctx, epoch(2), []merkle.Leaf{leaf("a", 2)}); err != nil {
		t.Fatal(err)
	}
	e1 := epoch(1)
	e1.State = anchor.StateSent
	if err := old.UpdateEpoch(ctx, e1, &anchor.Nonce{Account: common.Address{1}, Next: 3}); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale update: %v", err)
	}
	if err := old.CreateEpoch(ctx, epoch(3), []merkle.Leaf{leaf("a", 3)}); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale create: %v", err)
	}
	if n, _ := cur.NextNonce(ctx, common.Address{1}); n != 0 {
		t.Fatalf("a fenced nonce was written: %d", n)
	}
	if e, _ := cur.Epoch(ctx, 1); e.State != anchor.StateSigned {
		t.Fatalf("a fenced update was written: %s", e.State)
	}
	if f, h, _ := cur.Leader(ctx); f != 9 || h != "node-2" {
		t.Fatalf("leader %d %q", f, h)
	}
	// A new leader claims the store before anything else: the one before
	// is fenced from that moment.
	if err := New(db.Pool(), 10, "node-3").Claim(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cur.UpdateEpoch(ctx, epoch(2), nil); !errors.Is(err, ErrFenced) {
		t.Fatalf("update after a newer claim: %v", err)
	}
	if err := cur.Claim(ctx); !errors.Is(err, ErrFenced) {
		t.Fatalf("claim below the stored fence: %v", err)
	}

	// Leaders racing with rising fences: each tries the next epoch.
	var wg sync.WaitGroup
	for f := uint64(11); f < 21; f++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := New(db.Pool(), f, "racer")
			for i := 0; i < 5; i++ {
				last, err := s.LastEpoch(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				err = s.CreateEpoch(ctx, epoch(last+1), []merkle.Leaf{leaf("r", f*10+uint64(i))})
				if err != nil && !errors.Is(err, ErrFenced) && !errors.Is(err, ErrGap) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	es, err := cur.Epochs(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range es {
		if e.Number != uint64(i+1) {
			t.Fatalf("epochs not contiguous: %d at %d", e.Number, i)
		}
	}
	var maxFence int64
	if err := db.Pool().QueryRow(ctx, "SELECT max(fence) FROM anchor_epochs").Scan(&maxFence); err != nil {
		t.Fatal(err)
	}
	if f, _, _ := cur.Leader(ctx); int64(f) != maxFence || f < 10 {
		t.Fatalf("leader fence %d, highest epoch fence %d", f, maxFence)
	}
}

// ChangedHeads lists the twins whose seq is above their cut, from the
// twins table, in id order and by pages.
func TestStoreChangedHeads(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	s := New(db.Pool(), 1, "n")
	var b twin.Batch
	for i, id := range []string{"a", "b", "c", "d"} {
		b.Twins = append(b.Twins, &twin.Twin{ID: id, Kind: "shipment", Status: "created",
			Contract: twin.ContractRef{Name: "coldchain", Version: "1"}, Seq: uint64(i + 1),
			Digest: twin.Keccak256([]byte(id)), StreamSeq: uint64(i + 1)})
	}
	if err := db.Commit(ctx, &b); err != nil {
		t.Fatal(err)
	}
	// a is cut at its seq, b at an older one; c and d never.
	if err := s.CreateEpoch(ctx, epoch(1), []merkle.Leaf{{Twin: "a", Seq: 1}, {Twin: "b", Seq: 1}}); err != nil {
		t.Fatal(err)
	}
	var got []anchor.Head
	for after := ""; ; {
		hs, err := s.ChangedHeads(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) == 0 {
			break
		}
		got = append(got, hs...)
		after = hs[len(hs)-1].Twin
	}
	want := []anchor.Head{{Twin: "b", Seq: 2, Digest: twin.Keccak256([]byte("b"))}, {Twin: "c", Seq: 3, Digest: twin.Keccak256([]byte("c"))}, {Twin: "d", Seq: 4, Digest: twin.Keccak256([]byte("d"))}}
	if len(got) != len(want) {
		t.Fatalf("changed heads %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("head %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
