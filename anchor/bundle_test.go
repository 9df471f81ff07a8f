package anchor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/custos-dev/custos/anchor/merkle"
	"github.com/custos-dev/custos/twin"
)

// offlineBundle builds a valid bundle for one twin in a tree of n leaves
// (no chain fields checked offline besides the signature).
func offlineBundle(tb testing.TB, n, links int) *Bundle {
	tb.Helper()
	key, _ := crypto.GenerateKey()
	ls := make([]merkle.Leaf, n)
	for i := range ls {
		ls[i] = merkle.Leaf{Twin: fmt.Sprintf("pallet-%07d", i), Seq: 9, Digest: twin.Keccak256([]byte(fmt.Sprint(i)))}
	}
	id := "shipment-0042"
	var prev twin.Hash
	b := &Bundle{Format: BundleFormat, Twin: id, ChainID: 11155111, Contract: common.Address{0xaa}, Operator: common.Address{0xbb}, Epoch: 7, Count: uint32(n)}
	var chain []Link
	for s := uint64(1); s <= uint64(links)+2; s++ {
		l := Link{Seq: s, EventHash: twin.Keccak256([]byte{byte(s)}), StateHash: twin.Keccak256([]byte{byte(s), 1}), Module: twin.Keccak256([]byte("m"))}
		l.Digest = twin.NextDigest(prev, id, s, l.EventHash, l.StateHash, l.Module)
		if s == 3 {
			b.Prev = prev
		}
		prev = l.Digest
		chain = append(chain, l)
	}
	b.Links = chain[2:]
	b.Seq, b.Digest = b.Links[0].Seq, b.Links[0].Digest
	last := b.Links[len(b.Links)-1]
	ls[n/2] = merkle.Leaf{Twin: id, Seq: last.Seq, Digest: last.Digest}
	tr := merkle.Build(ls)
	b.LeafHash = ls[n/2].Hash()
	b.Path, _ = tr.Proof(b.LeafHash)
	b.Root = tr.Root()
	b.Signature, _ = SignAnchor(key, Domain{ChainID: big.NewInt(11155111), Contract: b.Contract}, b.Epoch, b.Root, b.Count)
	b.Signer = crypto.PubkeyToAddress(key.PublicKey)
	b.Tx, b.Block = common.Hash{1}, 1234567
	if r := VerifyOffline(b); !r.OK() {
		tb.Fatalf("fixture does not verify:\n%s", r)
	}
	return b
}

// TestBundleSize1M reports the size of a proof from a 1,000,000-leaf tree.
func TestBundleSize1M(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1M-leaf tree")
	}
	b := offlineBundle(t, 1_000_000, 1)
	js, _ := json.Marshal(b)
	t.Logf("1M leaves: Merkle path %d hashes = %d bytes binary; whole JSON bundle (1 link) %d bytes", len(b.Path), 32*len(b.Path), len(js))
	if 32*len(b.Path) > 1024 {
		t.Fatalf("Merkle proof %d bytes > 1 KiB", 32*len(b.Path))
	}
	c, err := withEvent(b).MarshalCompact()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1M leaves: compact bundle with the event %d bytes", len(c))
	if len(c) > 1024 {
		t.Fatalf("compact proof bundle %d bytes > 1 KiB", len(c))
	}
	if got, err := ReadCompact(c); err != nil || !VerifyOffline(got).OK() {
		t.Fatalf("compact 1M bundle: %v", err)
	}
}

func BenchmarkVerifyOffline1M(b *testing.B) {
	bd := offlineBundle(b, 1_000_000, 1)
	b.ResetTimer()
	for b.Loop() {
		if !VerifyOffline(bd).OK() {
			b.Fatal("fails")
		}
	}
}

// FuzzBundle: decoding and verifying arbitrary bundle JSON never panics and
// never accepts a bundle that differs from a valid one in a hashed field.
func FuzzBundle(f *testing.F) {
	b := offlineBundle(f, 64, 2)
	js, _ := json.Marshal(b)
	f.Add(js)
	f.Add([]byte(`{"format":"custos-proof/1","twin":"a","seq":1,"links":[]}`))
	f.Add([]byte(`{"format":"custos-proof/1","twin":"a","seq":1,"links":[{"seq":1}],"signature":"0x00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Bundle
		if json.Unmarshal(data, &c) != nil {
			return
		}
		r := VerifyOffline(&c)
		if !r.OK() || c.Root != b.Root || c.Signer != b.Signer || c.Twin != b.Twin {
			return
		}
		// Under the same signed root, only the real history can verify: the
		// anchored (seq, digest) and every claimed link must be the original.
		last, want := c.Links[len(c.Links)-1], b.Links[len(b.Links)-1]
		if last.Seq != want.Seq || last.Digest != want.Digest {
			t.Fatalf("forged leaf accepted: seq %d digest %s", last.Seq, last.Digest)
		}
		for _, l := range c.Links {
			if i := int(l.Seq - b.Links[0].Seq); i >= 0 && i < len(b.Links) && l != b.Links[i] {
				t.Fatalf("forged link accepted: %+v", l)
			}
		}
	})
}

// TestBundleFailureRecord: a failure record in the links is recomputed with
// its failure kind (twin.NextFailureDigest); without it the chain breaks.
// The compact form has no room for it and refuses.
func TestBundleFailureRecord(t *testing.T) {
	b := offlineBundle(t, 8, 3)
	prev := b.Prev
	for i := range b.Links {
		l := &b.Links[i]
		if i == 1 {
			l.Failure = twin.FailureFuel
		}
		l.Digest = twin.NextFailureDigest(prev, b.Twin, l.Seq, l.EventHash, l.StateHash, l.Module, l.Failure)
		prev = l.Digest
	}
	b.Digest = b.Links[0].Digest
	chainOK := func() bool {
		for _, c := range VerifyOffline(b).Checks {
			if c.Name == CheckDigestChain {
				return c.OK
			}
		}
		return false
	}
	if !chainOK() {
		t.Fatalf("chain with a failure record does not verify:\n%s", VerifyOffline(b))
	}
	if _, err := b.MarshalCompact(); err == nil {
		t.Fatal("compact form accepted a failure record")
	}
	b.Links[1].Failure = ""
	if chainOK() {
		t.Fatal("chain verifies without the failure kind")
	}
}

// FuzzReadBundle: JSON bundles are untrusted input; reading and the offline
// checks must never panic.
func FuzzReadBundle(f *testing.F) {
	b := offlineBundle(f, 8, 2)
	js, _ := json.Marshal(b)
	f.Add(js)
	f.Add([]byte(`{"format":"custos-proof/2","event":null}`))
	f.Add([]byte(`{"format":"custos-proof/2","links":[{"seq":1}],"seq":1,"twin":"a","signature":"0x00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadBundle(bytes.NewReader(data))
		if err != nil {
			return
		}
		VerifyOffline(got)
	})
}
