package anchor_test

import (
	"context"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/embedded"
)

// gethRPC returns the URL of a `geth --dev` JSON-RPC endpoint
// (anchor/ci-geth.sh starts one). Without it the test skips, or fails when
// CI=true.
func gethRPC(t *testing.T) string {
	u := os.Getenv("CUSTOS_TEST_GETH_RPC")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CUSTOS_TEST_GETH_RPC is not set; CI must start geth --dev (anchor/ci-geth.sh)")
		}
		t.Skip("CUSTOS_TEST_GETH_RPC not set; run: eval \"$(anchor/ci-geth.sh)\"")
	}
	return u
}

// TestGethDev anchors through a real geth --dev node over JSON-RPC: a
// relayer funded from geth's unlocked dev account pays gas, the runtime key
// signs, the proof verifies against geth alone and tampering fails.
func TestGethDev(t *testing.T) {
	url := gethRPC(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rc, err := rpc.DialContext(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	client := ethclient.NewClient(rc)

	relayer, _ := crypto.GenerateKey()
	raddr := crypto.PubkeyToAddress(relayer.PublicKey)
	var accounts []common.Address
	if err := rc.CallContext(ctx, &accounts, "eth_accounts"); err != nil || len(accounts) == 0 {
		t.Fatalf("eth_accounts: %v %v", accounts, err)
	}
	var fundTx common.Hash
	if err := rc.CallContext(ctx, &fundTx, "eth_sendTransaction", map[string]any{
		"from": accounts[0], "to": raddr, "value": (*hexutil.Big)(new(big.Int).Mul(big.NewInt(10), big.NewInt(1e18))),
	}); err != nil {
		t.Fatalf("fund relayer: %v", err)
	}
	if _, err := anchor.WaitMined(ctx, client, fundTx); err != nil {
		t.Fatal(err)
	}
	signer, _ := crypto.GenerateKey()
	contract, _, err := anchor.Deploy(ctx, client, relayer, nil, raddr, crypto.PubkeyToAddress(signer.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	pin := anchor.Pin{Operator: raddr, Contract: contract, ChainID: 1337}

	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hist := newHistory()
	s, err := anchor.New(anchor.Config{
		Backend: client, Contract: contract, SignerKey: signer, SenderKey: relayer, Store: st,
		Records: hist.records, Heads: hist.heads, Poll: 50 * time.Millisecond, Confirmations: 1,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	defer func() { stop(); <-done }()

	ids := twinIDs(100)
	s.Observe(hist.apply(ids, 2))
	s.Flush()
	var b *anchor.Bundle
	for b == nil {
		b, err = s.Proof(ctx, "pallet-042", 1)
		if err != nil && !errors.Is(err, anchor.ErrNotAnchored) {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatal("epoch never confirmed on geth")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e, err := st.Epoch(ctx, b.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("geth --dev: epoch %d (%d leaves) in block %d, gas used %d", e.Number, e.Count, e.Block, e.GasUsed)
	rep, err := anchor.Verify(ctx, client, b, pin)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("proof does not verify on geth:\n%s", rep)
	}
	// A second epoch: the steady-state cost of an anchor on geth.
	s.Observe(hist.apply(ids[:7], 1))
	s.Flush()
	var e2 *anchor.Epoch
	for e2 == nil || e2.State != anchor.StateConfirmed {
		if ctx.Err() != nil {
			t.Fatal("second epoch never confirmed on geth")
		}
		time.Sleep(50 * time.Millisecond)
		e2, _ = st.Epoch(ctx, 2)
	}
	t.Logf("geth --dev: epoch 2 (%d leaves) gas used %d", e2.Count, e2.GasUsed)
	if e2.GasUsed > anchor.MaxAnchorGas || e.GasUsed > anchor.MaxAnchorGas {
		t.Fatalf("anchors cost %d and %d gas on geth, above the %d budget", e.GasUsed, e2.GasUsed, anchor.MaxAnchorGas)
	}

	b.Links[0].StateHash[0] ^= 1
	rep, err = anchor.Verify(ctx, client, b, pin)
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Failed(); f == nil || f.Name != anchor.CheckDigestChain {
		t.Fatalf("tampered state hash: %v", rep)
	}
}
