package devchain_test

import (
	"context"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/devchain"
	"github.com/custos-dev/custos/anchor/embedded"
	"github.com/custos-dev/custos/twin"
)

// TestPersistsAcrossRestart deploys TwinAnchor, anchors an epoch through
// the service, closes everything, reopens the same directory and verifies
// the proof over HTTP JSON-RPC against the reopened chain.
func TestPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	c, err := devchain.Open(devchain.Config{Dir: filepath.Join(dir, "chain"), Listen: "127.0.0.1:0", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := crypto.GenerateKey()
	contract, _, err := anchor.Deploy(ctx, c.Client(), c.DevKey(), nil, c.DevAddress(), crypto.PubkeyToAddress(signer.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	st, err := embedded.Open(filepath.Join(dir, "anchors"))
	if err != nil {
		t.Fatal(err)
	}
	ev := []byte("event")
	rec := twin.Record{Twin: "case-1", Seq: 1, Event: ev, EventHash: twin.Keccak256(ev), StateHash: twin.Keccak256([]byte("s")), Module: twin.Keccak256([]byte("m"))}
	rec.Digest = twin.NextDigest(twin.Hash{}, rec.Twin, 1, rec.EventHash, rec.StateHash, rec.Module)
	s, err := anchor.New(anchor.Config{
		Backend: c.Client(), Contract: contract, SignerKey: signer, SenderKey: c.DevKey(), Store: st,
		Records: func(context.Context, string, uint64, uint64) ([]twin.Record, error) { return []twin.Record{rec}, nil },
		Poll:    20 * time.Millisecond, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	s.Observe([]anchor.Head{{Twin: rec.Twin, Seq: 1, Digest: rec.Digest}})
	s.Flush()
	var b *anchor.Bundle
	for b == nil {
		b, err = s.Proof(ctx, "case-1", 1)
		if err != nil && !errors.Is(err, anchor.ErrNotAnchored) {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatal("never anchored")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	<-done
	st.Close()
	head := c.Head()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c2, err := devchain.Open(devchain.Config{Dir: filepath.Join(dir, "chain"), Listen: "127.0.0.1:0", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Head() < head {
		t.Fatalf("head %d after reopening, was %d", c2.Head(), head)
	}
	if c2.DevAddress() != crypto.PubkeyToAddress(c.DevKey().PublicKey) {
		t.Fatal("dev key not persisted")
	}
	if c2.URL() == "" {
		t.Fatal("no HTTP endpoint")
	}
	rpc, err := ethclient.DialContext(ctx, c2.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	rep, err := anchor.Verify(ctx, rpc, b, anchor.Pin{Operator: c.DevAddress(), Contract: contract, ChainID: devchain.ChainID})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("proof does not verify after restart:\n%s", rep)
	}
	t.Logf("verified over %s after restart:\n%s", c2.URL(), rep)
}

// TestIdleSealsNothing: a transaction seals a block and Trail empty ones
// after it; then the idle chain seals nothing.
func TestIdleSealsNothing(t *testing.T) {
	c, err := devchain.Open(devchain.Config{Dir: t.TempDir(), Period: 20 * time.Millisecond, Trail: 2,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(200 * time.Millisecond)
	if h := c.Head(); h != 0 {
		t.Fatalf("idle new chain sealed %d blocks", h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	k, _ := crypto.GenerateKey()
	if err := c.Fund(ctx, crypto.PubkeyToAddress(k.PublicKey), big.NewInt(1)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if h := c.Head(); h != 3 {
		t.Fatalf("head %d after one transaction and a trail of 2, want 3", h)
	}
	time.Sleep(300 * time.Millisecond)
	if h := c.Head(); h != 3 {
		t.Fatalf("idle chain kept sealing: head %d", h)
	}
}
