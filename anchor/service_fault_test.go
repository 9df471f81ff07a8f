package anchor_test

import (
	"context"
	"testing"
	"time"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/embedded"
)

// TestRestartBetweenSendAndConfirm: the first service persists the epoch and
// its signed transaction but dies before the node sees it (and, in a second
// epoch, after the node has it but before it is mined). A new service on
// the same store neither loses nor duplicates either epoch.
func TestRestartBetweenSendAndConfirm(t *testing.T) {
	r := newRig(t, 1)
	ctx := context.Background()
	ids := twinIDs(20)

	// Life 1: no blocks are produced. Epoch 1's broadcast is lost; epoch 2's
	// reaches the pool.
	s1, stop1 := r.start(t)
	r.backend.dropSends.Store(true)
	s1.Observe(r.hist.apply(ids, 2))
	s1.Flush()
	e1 := r.waitEpoch(t, 1, "sent", func(e *anchor.Epoch) bool { return e.State == anchor.StateSent })
	r.backend.dropSends.Store(false)
	s1.Observe(r.hist.apply(ids[:5], 1))
	s1.Flush()
	e2 := r.waitEpoch(t, 2, "sent", func(e *anchor.Epoch) bool { return e.State == anchor.StateSent })
	time.Sleep(100 * time.Millisecond)
	stop1()

	// Twins changed after the last cut but never observed before the crash
	// are recovered from the HeadSource.
	r.hist.apply(ids[10:12], 1)

	// Life 2: same store directory, reopened.
	if err := r.store.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := embedded.Open(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	r.store = st
	r.cfg.Store = st
	stopMine := r.chain.AutoMine(30 * time.Millisecond)
	defer stopMine()
	s2, _ := r.start(t)
	f1 := r.waitEpoch(t, 1, "confirmed", confirmed)
	f2 := r.waitEpoch(t, 2, "confirmed", confirmed)
	s2.Flush()
	f3 := r.waitEpoch(t, 3, "confirmed", confirmed)
	if f3.Count != 2 {
		t.Fatalf("recovered epoch has %d leaves, want 2", f3.Count)
	}
	if f1.Tx != e1.Txs[0].Hash || f2.Tx != e2.Txs[0].Hash || len(f1.Txs) != 1 || len(f2.Txs) != 1 {
		t.Fatalf("epochs re-signed instead of re-sent: %v/%v, %v/%v", f1.Tx, e1.Txs, f2.Tx, e2.Txs)
	}
	for ep := uint64(1); ep <= 3; ep++ {
		if n := r.anchoredLogs(t, ep); n != 1 {
			t.Fatalf("epoch %d anchored %d times", ep, n)
		}
	}
	nonce, err := r.chain.Client.NonceAt(ctx, r.sender.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if nonce != 3 {
		t.Fatalf("relayer sent %d transactions, want 3", nonce)
	}
	b, err := s2.Proof(ctx, "pallet-011", 3)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := anchor.Verify(ctx, r.chain.Client, b, r.pin()); err != nil || !rep.OK() {
		t.Fatalf("proof after restart: %v\n%s", err, rep)
	}
}

// TestRPCOutage: while every RPC call fails, epochs are still cut and
// persisted; nothing is lost and each is anchored once when the RPC is back.
func TestRPCOutage(t *testing.T) {
	r := newRig(t, 1)
	stopMine := r.chain.AutoMine(30 * time.Millisecond)
	defer stopMine()
	s, _ := r.start(t)
	ids := twinIDs(10)
	s.Observe(r.hist.apply(ids, 1))
	s.Flush()
	r.waitEpoch(t, 1, "confirmed", confirmed)

	r.backend.down.Store(true)
	for i := range 3 {
		s.Observe(r.hist.apply(ids[i:], 1))
		s.Flush()
		r.waitEpoch(t, uint64(i+2), "cut", func(*anchor.Epoch) bool { return true })
	}
	time.Sleep(300 * time.Millisecond) // several failed rounds with backoff
	st, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Epochs != 4 || st.Unconfirmed != 3 || st.LastConfirmed != 1 {
		t.Fatalf("during the outage: %+v", st)
	}
	r.backend.down.Store(false)
	for ep := uint64(2); ep <= 4; ep++ {
		r.waitEpoch(t, ep, "confirmed", confirmed)
		if n := r.anchoredLogs(t, ep); n != 1 {
			t.Fatalf("epoch %d anchored %d times", ep, n)
		}
	}
}

// TestReorgReanchors: the block holding an anchor is reorged away before it
// has enough confirmations; the service notices and the epoch ends up
// anchored on the new canonical chain.
func TestReorgReanchors(t *testing.T) {
	r := newRig(t, 3)
	ctx := context.Background()
	s, _ := r.start(t)
	s.Observe(r.hist.apply(twinIDs(5), 1))
	s.Flush()
	r.waitEpoch(t, 1, "sent", func(e *anchor.Epoch) bool { return e.State == anchor.StateSent })
	// "sent" is persisted just before the broadcast: seal until the
	// anchor is in a block.
	for deadline := time.Now().Add(30 * time.Second); ; {
		n, err := r.chain.Client.PendingTransactionCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("anchor never broadcast")
		}
		time.Sleep(10 * time.Millisecond)
	}
	parent, err := r.chain.Client.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.chain.Commit()
	mined := r.waitEpoch(t, 1, "mined", func(e *anchor.Epoch) bool { return e.Block != 0 })
	if mined.State == anchor.StateConfirmed {
		t.Fatal("confirmed with too few confirmations")
	}

	// Reorg: a sibling chain from the parent without the anchor becomes
	// canonical (the pool is emptied so the old transaction is not simply
	// re-mined by the node on its own).
	if err := r.chain.Fork(parent.Hash()); err != nil {
		t.Fatal(err)
	}
	r.chain.Sim.Rollback()
	r.chain.Commit()
	r.chain.Commit()
	if a, err := anchor.RootOf(ctx, r.chain.Client, r.chain.Contract, r.signer.addr, 1); err != nil || !a.IsZero() {
		t.Fatalf("anchor still on chain after the reorg: %+v %v", a, err)
	}
	stopMine := r.chain.AutoMine(30 * time.Millisecond)
	defer stopMine()
	e := r.waitEpoch(t, 1, "confirmed", confirmed)
	if e.BlockHash == mined.BlockHash {
		t.Fatal("confirmed in the reorged block")
	}
	h, err := r.chain.Client.HeaderByNumber(ctx, e.BlockNumberBig())
	if err != nil || h.Hash() != e.BlockHash {
		t.Fatalf("confirmed block not canonical: %v", err)
	}
	if n := r.anchoredLogs(t, 1); n != 1 {
		t.Fatalf("epoch anchored %d times on the canonical chain", n)
	}
}

// TestStuckTransactionBumped: a transaction not mined within StuckAfter is
// replaced (same nonce) with fees raised by 12.5 %; exactly one lands.
func TestStuckTransactionBumped(t *testing.T) {
	r := newRig(t, 1)
	r.cfg.StuckAfter = 100 * time.Millisecond
	s, _ := r.start(t)
	s.Observe(r.hist.apply(twinIDs(3), 1))
	s.Flush()
	e := r.waitEpoch(t, 1, "re-submitted", func(e *anchor.Epoch) bool { return len(e.Txs) >= 2 })
	a, b := e.Txs[0], e.Txs[1]
	if a.Nonce != b.Nonce || b.FeeCap.ToInt().Cmp(a.FeeCap.ToInt()) <= 0 || b.TipCap.ToInt().Cmp(a.TipCap.ToInt()) <= 0 {
		t.Fatalf("replacement %+v of %+v", b, a)
	}
	stopMine := r.chain.AutoMine(30 * time.Millisecond)
	defer stopMine()
	e = r.waitEpoch(t, 1, "confirmed", confirmed)
	if e.Tx == a.Hash {
		t.Fatal("the replaced transaction was mined")
	}
	if n := r.anchoredLogs(t, 1); n != 1 {
		t.Fatalf("anchored %d times", n)
	}
}
