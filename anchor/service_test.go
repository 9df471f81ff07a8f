package anchor_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/embedded"
	"github.com/custos-dev/custos/anchor/internal/simchain"
	"github.com/custos-dev/custos/twin"
)

// history is an in-memory digest chain per twin, built with twin.NextDigest
// exactly as the runtime does; it feeds the service's HeadSource and
// RecordSource.
type history struct {
	mu   sync.Mutex
	recs map[string][]twin.Record
}

func newHistory() *history { return &history{recs: map[string][]twin.Record{}} }

// apply appends n events to each twin and returns the new heads.
func (h *history) apply(twins []string, n int) []anchor.Head {
	h.mu.Lock()
	defer h.mu.Unlock()
	var heads []anchor.Head
	for _, id := range twins {
		rs := h.recs[id]
		for range n {
			var prev twin.Hash
			if len(rs) > 0 {
				prev = rs[len(rs)-1].Digest
			}
			seq := uint64(len(rs) + 1)
			ev := fmt.Appendf(nil, "event %s %d", id, seq)
			r := twin.Record{Twin: id, Seq: seq, Event: ev, EventHash: twin.Keccak256(ev),
				StateHash: twin.Keccak256(fmt.Appendf(nil, "state %d", seq)), Module: twin.Keccak256([]byte("module"))}
			r.Digest = twin.NextDigest(prev, id, seq, r.EventHash, r.StateHash, r.Module)
			rs = append(rs, r)
		}
		h.recs[id] = rs
		last := rs[len(rs)-1]
		heads = append(heads, anchor.Head{Twin: id, Seq: last.Seq, Digest: last.Digest})
	}
	return heads
}

func (h *history) records(ctx context.Context, id string, from, to uint64) ([]twin.Record, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []twin.Record
	for _, r := range h.recs[id] {
		if r.Seq >= from && r.Seq <= to {
			out = append(out, r)
		}
	}
	return out, nil
}

func (h *history) heads(ctx context.Context, after string, limit int) ([]anchor.Head, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for id := range h.recs {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []anchor.Head
	for _, id := range ids[:min(len(ids), limit)] {
		r := h.recs[id][len(h.recs[id])-1]
		out = append(out, anchor.Head{Twin: id, Seq: r.Seq, Digest: r.Digest})
	}
	return out, nil
}

// flaky wraps a backend: down makes every call fail as if the RPC endpoint
// were unreachable; dropSends makes SendTransaction fail before the node
// sees the transaction (a crash between persisting and broadcasting).
type flaky struct {
	b         anchor.Backend
	down      atomic.Bool
	dropSends atomic.Bool
	sends     atomic.Int64
}

var errDown = errors.New("dial tcp 127.0.0.1:8545: connect: connection refused")

func (f *flaky) err() error {
	if f.down.Load() {
		return errDown
	}
	return nil
}
func (f *flaky) ChainID(ctx context.Context) (*big.Int, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.b.ChainID(ctx)
}
func (f *flaky) BlockNumber(ctx context.Context) (uint64, error) {
	if err := f.err(); err != nil {
		return 0, err
	}
	return f.b.BlockNumber(ctx)
}
func (f *flaky) HeaderByNumber(ctx context.Context, n *big.Int) (*types.Header, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.b.HeaderByNumber(ctx, n)
}
func (f *flaky) TransactionByHash(ctx context.Context, h common.Hash) (*types.Transaction, bool, error) {
	if err := f.err(); err != nil {
		return nil, false, err
	}
	return f.b.TransactionByHash(ctx, h)
}
func (f *flaky) TransactionReceipt(ctx context.Context, h common.Hash) (*types.Receipt, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.b.TransactionReceipt(ctx, h)
}
func (f *flaky) SendTransaction(ctx context.Context, tx *types.Transaction) error {
	if err := f.err(); err != nil {
		return err
	}
	if f.dropSends.Load() {
		return errDown
	}
	f.sends.Add(1)
	return f.b.SendTransaction(ctx, tx)
}
func (f *flaky) NonceAt(ctx context.Context, a common.Address, n *big.Int) (uint64, error) {
	if err := f.err(); err != nil {
		return 0, err
	}
	return f.b.NonceAt(ctx, a, n)
}
func (f *flaky) PendingNonceAt(ctx context.Context, a common.Address) (uint64, error) {
	if err := f.err(); err != nil {
		return 0, err
	}
	return f.b.PendingNonceAt(ctx, a)
}
func (f *flaky) SuggestGasTipCap(ctx context.Context) (*big.Int, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.b.SuggestGasTipCap(ctx)
}
func (f *flaky) EstimateGas(ctx context.Context, m ethereum.CallMsg) (uint64, error) {
	if err := f.err(); err != nil {
		return 0, err
	}
	return f.b.EstimateGas(ctx, m)
}
func (f *flaky) CallContract(ctx context.Context, m ethereum.CallMsg, n *big.Int) ([]byte, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.b.CallContract(ctx, m, n)
}
func (f *flaky) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.b.FilterLogs(ctx, q)
}

// rig is a service on the simulated chain with a pebble store.
type rig struct {
	chain   *simchain.Chain
	backend *flaky
	store   *embedded.DB
	dir     string
	hist    *history
	signer  *anchorKey
	sender  *anchorKey
	cfg     anchor.Config
}

type anchorKey struct {
	key  *ecdsa.PrivateKey
	addr common.Address
}

func newRig(t *testing.T, conf uint64) *rig {
	t.Helper()
	sk, _ := crypto.GenerateKey() // runtime key: signs, holds no ether
	rk, _ := crypto.GenerateKey() // relayer: pays gas
	raddr := crypto.PubkeyToAddress(rk.PublicKey)
	ch := simchain.New(t, raddr)
	ch.Authorize(t, crypto.PubkeyToAddress(sk.PublicKey))
	dir := t.TempDir()
	st, err := embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{chain: ch, backend: &flaky{b: ch.Client}, store: st, dir: dir, hist: newHistory(),
		signer: &anchorKey{sk, crypto.PubkeyToAddress(sk.PublicKey)}, sender: &anchorKey{rk, raddr}}
	t.Cleanup(func() { r.store.Close() })
	lvl := slog.LevelWarn
	if testing.Verbose() {
		lvl = slog.LevelInfo
	}
	r.cfg = anchor.Config{
		Backend: r.backend, Contract: ch.Contract, SignerKey: sk, SenderKey: rk, Store: st,
		Heads: r.hist.heads, Records: r.hist.records,
		Interval: time.Hour, MaxLeaves: 1000, Confirmations: conf, Poll: 20 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond, StuckAfter: time.Minute,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})),
	}
	return r
}

// start runs a service until the returned stop is called.
func (r *rig) start(t *testing.T) (*anchor.Service, func()) {
	t.Helper()
	s, err := anchor.New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return s, stop
}

func (r *rig) waitEpoch(t *testing.T, n uint64, what string, ok func(*anchor.Epoch) bool) *anchor.Epoch {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		e, err := r.store.Epoch(context.Background(), n)
		if err == nil && ok(e) {
			return e
		}
		time.Sleep(10 * time.Millisecond)
	}
	e, err := r.store.Epoch(context.Background(), n)
	t.Fatalf("epoch %d never %s: %+v %v", n, what, e, err)
	return nil
}

// pin is what an auditor of the rig's runtime pins: the operator (the
// chain's funded key, TwinAnchor's owner), the contract and the chain id.
func (r *rig) pin() anchor.Pin {
	return anchor.Pin{Operator: r.chain.Addr, Contract: r.chain.Contract, ChainID: r.chain.ChainID.Uint64()}
}

func confirmed(e *anchor.Epoch) bool { return e.State == anchor.StateConfirmed }

// anchoredLogs counts Anchored events for (signer, epoch) on the canonical chain.
func (r *rig) anchoredLogs(t *testing.T, epoch uint64) int {
	t.Helper()
	n := 0
	for from := uint64(0); ; {
		_, _, err := anchor.FindAnchoredLog(context.Background(), r.chain.Client, r.chain.Contract, r.signer.addr, epoch, from, 0)
		if errors.Is(err, ethereum.NotFound) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		logs, _ := r.chain.Client.FilterLogs(context.Background(), ethereum.FilterQuery{FromBlock: new(big.Int).SetUint64(from), Addresses: []common.Address{r.chain.Contract}})
		for _, l := range logs {
			if len(l.Topics) == 3 && l.Topics[1] == common.BytesToHash(r.signer.addr[:]) && new(big.Int).SetBytes(l.Topics[2][:]).Uint64() == epoch {
				n++
			}
		}
		return n
	}
}

func twinIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("pallet-%03d", i)
	}
	return ids
}

func cryptoGenerateKey() (*ecdsa.PrivateKey, error)    { return crypto.GenerateKey() }
func cryptoAddress(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }
