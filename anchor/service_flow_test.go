package anchor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/twin"
)

// TestAnchorAndProve: epochs land on the simulated chain, proofs of leaf
// and non-leaf seqs verify against the chain alone, and tampering with any
// field fails with the check that catches it.
func TestAnchorAndProve(t *testing.T) {
	r := newRig(t, 2)
	stopMine := r.chain.AutoMine(30 * time.Millisecond)
	defer stopMine()
	s, _ := r.start(t)
	ctx := context.Background()
	ids := twinIDs(40)

	s.Observe(r.hist.apply(ids, 3)) // seq 1..3, leaf seq 3
	s.Flush()
	e1 := r.waitEpoch(t, 1, "confirmed", confirmed)
	s.Observe(r.hist.apply(ids[:10], 2)) // seq 4..5 for ten twins
	s.Flush()
	e2 := r.waitEpoch(t, 2, "confirmed", confirmed)
	if e1.Count != 40 || e2.Count != 10 {
		t.Fatalf("counts %d, %d", e1.Count, e2.Count)
	}
	t.Logf("gas per anchor: epoch 1 (40 leaves) %d, epoch 2 (10 leaves) %d", e1.GasUsed, e2.GasUsed)

	if _, err := s.Proof(ctx, "pallet-000", 6); !errors.Is(err, anchor.ErrNotAnchored) {
		t.Fatalf("proof beyond the anchored seq: %v", err)
	}
	for _, tc := range []struct {
		twin         string
		seq          uint64
		epoch, links int
	}{
		{"pallet-007", 1, 1, 3},
		{"pallet-007", 3, 1, 1},
		{"pallet-007", 4, 2, 2},
		{"pallet-007", 5, 2, 1},
		{"pallet-030", 2, 1, 2},
	} {
		b, err := s.Proof(ctx, tc.twin, tc.seq)
		if err != nil {
			t.Fatalf("%s/%d: %v", tc.twin, tc.seq, err)
		}
		if b.Epoch != uint64(tc.epoch) || len(b.Links) != tc.links {
			t.Fatalf("%s/%d: epoch %d with %d links", tc.twin, tc.seq, b.Epoch, len(b.Links))
		}
		js, _ := json.Marshal(b)
		var back anchor.Bundle
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		rep, err := anchor.Verify(ctx, r.chain.Client, &back, r.pin())
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("%s/%d does not verify:\n%s", tc.twin, tc.seq, rep)
		}
	}

	b, err := s.Proof(ctx, "pallet-007", 2)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(b)
	t.Logf("bundle for a leaf two links away: %d bytes JSON, Merkle path %d bytes", len(js), 32*len(b.Path))

	flip := func(h twin.Hash) twin.Hash { h[31] ^= 1; return h }
	tests := []struct {
		name   string
		tamper func(b *anchor.Bundle)
		check  string
	}{
		{"event bytes", func(b *anchor.Bundle) { b.Event = append(hexutil.Bytes(nil), append(b.Event, 'x')...) }, anchor.CheckEvent},
		{"event hash", func(b *anchor.Bundle) { b.Links[0].EventHash = flip(b.Links[0].EventHash); b.Event = nil }, anchor.CheckDigestChain},
		{"state hash", func(b *anchor.Bundle) { b.Links[1].StateHash = flip(b.Links[1].StateHash) }, anchor.CheckDigestChain},
		{"module", func(b *anchor.Bundle) { b.Links[0].Module = flip(b.Links[0].Module) }, anchor.CheckDigestChain},
		{"prev digest", func(b *anchor.Bundle) { b.Prev = flip(b.Prev) }, anchor.CheckDigestChain},
		{"claimed digest", func(b *anchor.Bundle) { b.Digest = flip(b.Digest) }, anchor.CheckDigestChain},
		{"link dropped", func(b *anchor.Bundle) { b.Links = b.Links[:1] }, anchor.CheckLeaf},
		{"leaf", func(b *anchor.Bundle) { b.LeafHash = flip(b.LeafHash) }, anchor.CheckLeaf},
		{"path", func(b *anchor.Bundle) { b.Path[2] = flip(b.Path[2]) }, anchor.CheckMerkle},
		{"path truncated", func(b *anchor.Bundle) { b.Path = b.Path[:len(b.Path)-1] }, anchor.CheckMerkle},
		{"root", func(b *anchor.Bundle) { b.Root = flip(b.Root) }, anchor.CheckMerkle},
		{"signature", func(b *anchor.Bundle) { b.Signature[5] ^= 1 }, anchor.CheckSignature},
		{"epoch", func(b *anchor.Bundle) { b.Epoch = 2 }, anchor.CheckSignature},
		{"count", func(b *anchor.Bundle) { b.Count++ }, anchor.CheckSignature},
		{"signer", func(b *anchor.Bundle) { b.Signer = common.Address{1} }, anchor.CheckSignature},
		{"contract", func(b *anchor.Bundle) { b.Contract = common.Address{2} }, anchor.CheckSignature},
		{"chain id", func(b *anchor.Bundle) { b.ChainID = 1 }, anchor.CheckSignature},
		{"operator", func(b *anchor.Bundle) { b.Operator = common.Address{4} }, anchor.CheckPinned},
		{"format", func(b *anchor.Bundle) { b.Format = "custos-proof/0" }, anchor.CheckFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c anchor.Bundle
			if err := json.Unmarshal(js, &c); err != nil {
				t.Fatal(err)
			}
			tc.tamper(&c)
			rep, err := anchor.Verify(ctx, r.chain.Client, &c, r.pin())
			if err != nil {
				t.Fatal(err)
			}
			f := rep.Failed()
			if f == nil {
				t.Fatalf("tampered bundle verifies:\n%s", rep)
			}
			if f.Name != tc.check {
				t.Fatalf("first failure %q (%s), want %q", f.Name, f.Detail, tc.check)
			}
			if !errors.Is(rep.Err(), anchor.ErrProofInvalid) {
				t.Fatal("Err does not wrap ErrProofInvalid")
			}
		})
	}

	// A signature re-signed by another key for the same root (the bundle's
	// signer changed consistently) passes offline but not on chain.
	var c anchor.Bundle
	_ = json.Unmarshal(js, &c)
	other, _ := cryptoGenerateKey()
	c.Signature, _ = anchor.SignAnchor(other, anchor.Domain{ChainID: r.chain.ChainID, Contract: c.Contract}, c.Epoch, c.Root, c.Count)
	c.Signer = cryptoAddress(other)
	rep, err := anchor.Verify(ctx, r.chain.Client, &c, r.pin())
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Failed(); f == nil || f.Name != anchor.CheckSigner || !strings.Contains(f.Detail, c.Signer.Hex()) {
		t.Fatalf("re-signed bundle: %v", rep)
	}

	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Epochs != 2 || st.LastConfirmed != 2 || st.Unconfirmed != 0 || st.PendingTwins != 0 {
		t.Fatalf("status %+v", st)
	}
	if !bytes.Contains(js, []byte(`"format":"custos-proof/2"`)) {
		t.Fatal("bundle format missing")
	}
}

// TestProofHTTP serves a proof over HTTP and reads it back strictly.
func TestProofHTTP(t *testing.T) {
	r := newRig(t, 1)
	stopMine := r.chain.AutoMine(30 * time.Millisecond)
	defer stopMine()
	s, _ := r.start(t)
	s.Observe(r.hist.apply(twinIDs(3), 2))
	s.Flush()
	r.waitEpoch(t, 1, "confirmed", confirmed)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/twins/{id}/proof", anchor.ProofHandler(s))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tests := []struct {
		path   string
		status int
	}{
		{"/v1/twins/pallet-001/proof?seq=1", 200},
		{"/v1/twins/pallet-001/proof?seq=3", 404},
		{"/v1/twins/pallet-001/proof", 400},
		{"/v1/twins/bad.id/proof?seq=1", 400},
	}
	for _, tc := range tests {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: status %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
		if tc.status == 200 {
			b, err := anchor.ReadBundle(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if rep, err := anchor.Verify(context.Background(), r.chain.Client, b, r.pin()); err != nil || !rep.OK() {
				t.Fatalf("served proof: %v\n%s", err, rep)
			}
		}
		resp.Body.Close()
	}
	if _, err := anchor.ReadBundle(strings.NewReader(`{"format":"custos-proof/2","extra":1}`)); err == nil {
		t.Fatal("unknown field accepted")
	}
}

// TestChainIDMismatch: a configured chain id that the endpoint does not
// report stops Run with ErrConfig instead of signing for the wrong chain.
func TestChainIDMismatch(t *testing.T) {
	r := newRig(t, 1)
	r.cfg.ChainID = 11155111
	s, err := anchor.New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Run(ctx); !errors.Is(err, anchor.ErrConfig) {
		t.Fatalf("Run = %v, want ErrConfig", err)
	}
}

// TestEpochTriggers: an epoch is cut when MaxLeaves twins changed (without
// waiting for the interval), and the remainder when the interval elapses.
func TestEpochTriggers(t *testing.T) {
	r := newRig(t, 1)
	r.cfg.MaxLeaves = 5
	r.cfg.Interval = 700 * time.Millisecond
	stopMine := r.chain.AutoMine(30 * time.Millisecond)
	defer stopMine()
	s, _ := r.start(t)
	time.Sleep(50 * time.Millisecond) // let Run recover (no heads yet)
	start := time.Now()
	s.Observe(r.hist.apply(twinIDs(12), 1))
	e1 := r.waitEpoch(t, 1, "cut", func(*anchor.Epoch) bool { return true })
	e2 := r.waitEpoch(t, 2, "cut", func(*anchor.Epoch) bool { return true })
	early := time.Since(start)
	if e1.Count != 5 || e2.Count != 5 {
		t.Fatalf("full epochs of %d and %d leaves, want 5", e1.Count, e2.Count)
	}
	if _, err := r.store.Epoch(context.Background(), 3); err == nil && early < 500*time.Millisecond {
		t.Fatal("partial epoch cut before the interval")
	}
	e3 := r.waitEpoch(t, 3, "cut", func(*anchor.Epoch) bool { return true })
	if e3.Count != 2 {
		t.Fatalf("interval epoch has %d leaves, want 2", e3.Count)
	}
	if d := e3.Created.Sub(e1.Created); d < 500*time.Millisecond {
		t.Fatalf("interval epoch %v after the full ones, want about 700ms", d)
	}
}
