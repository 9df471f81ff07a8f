package anchor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/custos-dev/custos/anchor"
)

// TestRotationAndRevocation: the operator rotates the runtime key mid-stream;
// proofs signed before and after the rotation verify against the pinned
// operator; after the new key is revoked the contract refuses its anchors,
// a bundle it signs fails naming it, and a stranger's bundle fails naming
// the stranger.
func TestRotationAndRevocation(t *testing.T) {
	r := newRig(t, 1)
	stopMine := r.chain.AutoMine(20 * time.Millisecond)
	defer stopMine()
	ctx := context.Background()
	ids := twinIDs(6)

	s1, stop1 := r.start(t)
	s1.Observe(r.hist.apply(ids, 2))
	s1.Flush()
	r.waitEpoch(t, 1, "confirmed", confirmed)
	before, err := s1.Proof(ctx, ids[2], 1)
	if err != nil {
		t.Fatal(err)
	}
	if before.Operator != r.chain.Addr || before.Signer != r.signer.addr {
		t.Fatalf("bundle names operator %s signer %s", before.Operator, before.Signer)
	}
	stop1()

	// Rotate to key B from epoch 2; an epoch signed by A but not sent yet
	// is re-signed by B.
	bk, _ := cryptoGenerateKey()
	b := cryptoAddress(bk)
	if _, err := anchor.Rotate(ctx, r.chain.Client, r.chain.Key, r.chain.Contract, r.signer.addr, b, 2, nil); err != nil {
		t.Fatal(err)
	}
	if k, err := anchor.KeyOf(ctx, r.chain.Client, r.chain.Contract, r.signer.addr); err != nil || k.Until != 2 {
		t.Fatalf("old key after rotation: %+v %v", k, err)
	}
	r.cfg.SignerKey = bk
	s2, _ := r.start(t)
	s2.Observe(r.hist.apply(ids[:3], 1))
	s2.Flush()
	e2 := r.waitEpoch(t, 2, "confirmed", confirmed)
	if e2.Signer != b {
		t.Fatalf("epoch 2 signed by %s, want the new key %s", e2.Signer, b)
	}
	after, err := s2.Proof(ctx, ids[1], 3)
	if err != nil {
		t.Fatal(err)
	}
	for name, bd := range map[string]*anchor.Bundle{"before": before, "after": after} {
		rep, err := anchor.Verify(ctx, r.chain.Client, bd, r.pin())
		if err != nil || !rep.OK() {
			t.Fatalf("proof %s the rotation does not verify: %v\n%s", name, err, rep)
		}
	}
	// Pinning the single signer instead of the operator: only its bundles pass.
	if rep, _ := anchor.Verify(ctx, r.chain.Client, after, anchor.Pin{Signer: b, Contract: r.chain.Contract, ChainID: 1337}); !rep.OK() {
		t.Fatalf("signer-pinned verify:\n%s", rep)
	}
	if rep, _ := anchor.Verify(ctx, r.chain.Client, before, anchor.Pin{Signer: b, Contract: r.chain.Contract, ChainID: 1337}); rep.OK() || rep.Failed().Name != anchor.CheckPinned {
		t.Fatalf("bundle of another signer passes a signer pin:\n%s", rep)
	}
	// The old key can no longer anchor epoch 3.
	old := *after
	old.Epoch = 3
	old.Signature, _ = anchor.SignAnchor(r.signer.key, anchor.Domain{ChainID: r.chain.ChainID, Contract: r.chain.Contract}, 3, old.Root, old.Count)
	old.Signer = r.signer.addr
	if rep, _ := anchor.Verify(ctx, r.chain.Client, &old, r.pin()); rep.OK() || rep.Failed().Name != anchor.CheckSigner {
		t.Fatalf("rotated-out key's epoch 3 bundle:\n%s", rep)
	}

	// Revoke B: its next epoch is refused by the contract and never confirms.
	if _, err := anchor.Revoke(ctx, r.chain.Client, r.chain.Key, r.chain.Contract, b, nil); err != nil {
		t.Fatal(err)
	}
	s2.Observe(r.hist.apply(ids[:1], 1))
	s2.Flush()
	e3 := r.waitEpoch(t, 3, "refused", func(e *anchor.Epoch) bool { return strings.Contains(e.Error, "not authorised") })
	if e3.State == anchor.StateConfirmed {
		t.Fatal("revoked key anchored")
	}
	if e3.Signer != b {
		t.Fatalf("epoch 3 signed by %s", e3.Signer)
	}
	revoked := *after // the same leaf and root, signed by B for epoch 3
	revoked.Epoch = 3
	revoked.Signature, _ = anchor.SignAnchor(bk, anchor.Domain{ChainID: r.chain.ChainID, Contract: r.chain.Contract}, 3, after.Root, after.Count)
	rep, err := anchor.Verify(ctx, r.chain.Client, &revoked, r.pin())
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Failed(); f == nil || f.Name != anchor.CheckSigner || !strings.Contains(f.Detail, b.Hex()) || !strings.Contains(f.Detail, "revoked") {
		t.Fatalf("bundle signed by the revoked key after revocation:\n%s", rep)
	}
	// Its earlier anchor (epoch 2) still verifies.
	if rep, _ := anchor.Verify(ctx, r.chain.Client, after, r.pin()); !rep.OK() {
		t.Fatalf("revocation invalidated an earlier anchor:\n%s", rep)
	}

	// A stranger's bundle: same contract, its own key.
	sk, _ := cryptoGenerateKey()
	stranger := *before
	stranger.Signature, _ = anchor.SignAnchor(sk, anchor.Domain{ChainID: r.chain.ChainID, Contract: r.chain.Contract}, stranger.Epoch, stranger.Root, stranger.Count)
	stranger.Signer = cryptoAddress(sk)
	rep, _ = anchor.Verify(ctx, r.chain.Client, &stranger, r.pin())
	if f := rep.Failed(); f == nil || f.Name != anchor.CheckSigner || !strings.Contains(f.Detail, stranger.Signer.Hex()) {
		t.Fatalf("stranger's bundle:\n%s", rep)
	}
	// A stranger naming their own operator and contract fails the pin.
	stranger.Operator, stranger.Contract = stranger.Signer, common.Address{9}
	if rep, _ := anchor.Verify(ctx, r.chain.Client, &stranger, r.pin()); rep.Failed() == nil {
		t.Fatalf("stranger's own-contract bundle:\n%s", rep)
	}
	// Nothing pinned: refused with how to pin.
	if _, err := anchor.Verify(ctx, r.chain.Client, before, anchor.Pin{}); err == nil || !strings.Contains(err.Error(), "--operator") {
		t.Fatalf("verify with nothing pinned: %v", err)
	}
}

// TestRecheckReanchorsVanishedEpoch: an epoch already confirmed is reorged
// away (deeper than the confirmations, within the finality depth); the
// periodic re-check notices, marks it re-anchoring, sends it again, and the
// proof fetched before the loss verifies again.
func TestRecheckReanchorsVanishedEpoch(t *testing.T) {
	r := newRig(t, 1)
	r.cfg.RecheckEvery = 50 * time.Millisecond
	ctx := context.Background()
	s, _ := r.start(t)
	s.Observe(r.hist.apply(twinIDs(4), 1))
	s.Flush()
	// Seal blocks until one holds the anchor.
	for deadline := time.Now().Add(30 * time.Second); ; {
		r.chain.Commit()
		time.Sleep(20 * time.Millisecond)
		if got, err := r.store.Epoch(ctx, 1); err == nil && got.Block != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("epoch 1 never mined")
		}
	}
	e := r.waitEpoch(t, 1, "confirmed", confirmed)
	ah, err := r.chain.Client.HeaderByNumber(ctx, e.BlockNumberBig())
	if err != nil {
		t.Fatal(err)
	}
	parent := ah.ParentHash // the block before the anchor's
	b, err := s.Proof(ctx, "pallet-001", 1)
	if err != nil {
		t.Fatal(err)
	}
	if rep, _ := anchor.Verify(ctx, r.chain.Client, b, r.pin()); !rep.OK() {
		t.Fatalf("proof before the loss:\n%s", rep)
	}

	// The chain loses the block: a longer sibling without the anchor wins.
	if err := r.chain.Fork(parent); err != nil {
		t.Fatal(err)
	}
	r.chain.Sim.Rollback()
	// Checked before the sibling grows: the service re-sends the anchor as
	// soon as its re-check sees the loss (every 50 ms here), and the next
	// block sealed could hold it again.
	if rep, _ := anchor.Verify(ctx, r.chain.Client, b, r.pin()); rep.OK() {
		t.Fatal("proof verifies while its anchor is gone")
	}
	r.chain.Commit()
	r.chain.Commit()
	r.waitEpoch(t, 1, "re-anchoring", func(e *anchor.Epoch) bool { return e.State == anchor.StateReanchoring })
	st, err := s.Status(ctx)
	if err != nil || st.Reanchoring != 1 || st.Recheck.At.IsZero() {
		t.Fatalf("status while re-anchoring: %+v %v", st, err)
	}
	stopMine := r.chain.AutoMine(20 * time.Millisecond)
	defer stopMine()
	again := r.waitEpoch(t, 1, "confirmed again", confirmed)
	if again.BlockHash == e.BlockHash {
		t.Fatal("confirmed in the lost block")
	}
	if rep, _ := anchor.Verify(ctx, r.chain.Client, b, r.pin()); !rep.OK() {
		t.Fatalf("proof fetched before the loss does not verify after re-anchoring:\n%s", rep)
	}
	if n := r.anchoredLogs(t, 1); n != 1 {
		t.Fatalf("epoch anchored %d times on the canonical chain", n)
	}
}
