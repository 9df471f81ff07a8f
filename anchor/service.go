package anchor

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/custos-dev/custos/anchor/merkle"
	"github.com/custos-dev/custos/twin"
)

// Head is the latest digest of a twin after a durable commit.
type Head = twin.Head

// HeadSource lists twin heads in id order, starting after the id after, at
// most limit of them; an empty result ends the listing. The runtime
// implements it over twin.Store.Twins. The service reads it once at start to
// find twins that changed after the last epoch was cut (a crash between a
// commit and the next epoch loses nothing).
type HeadSource func(ctx context.Context, after string, limit int) ([]Head, error)

// RecordSource returns a twin's history records with fromSeq <= seq <=
// toSeq in seq order. The runtime implements it over twin.Store.History.
type RecordSource func(ctx context.Context, twin string, fromSeq, toSeq uint64) ([]twin.Record, error)

// Config configures a Service. Backend, Contract, SignerKey and Store are
// required.
type Config struct {
	Backend Backend
	// ChainID, if not zero, must match the endpoint's eth_chainId (Run
	// fails otherwise).
	ChainID  uint64
	Contract common.Address
	// SignerKey signs the EIP-712 roots (the runtime's identity).
	SignerKey *ecdsa.PrivateKey
	// SenderKey pays gas (a relayer wallet); nil means SignerKey.
	SenderKey *ecdsa.PrivateKey
	Store     Store
	Heads     HeadSource // optional; see HeadSource
	// HeadsChanged: Heads lists only twins changed since their last cut
	// (anchor/pgstore's ChangedHeads), so their cut seqs are not read again.
	HeadsChanged bool
	// Rescan, if not zero, re-reads Heads this often while Run runs: in a
	// cluster the anchoring leader learns this way of the commits of the
	// other nodes (docs/cluster.md, "Anchoring in a cluster").
	Rescan  time.Duration
	Records RecordSource // required for Proof

	Interval      time.Duration // epoch interval; default 10 s
	MaxLeaves     int           // cut an epoch early at this many changed twins; default 100,000
	Confirmations uint64        // blocks including the anchor's; default 1
	FeeCap        *big.Int      // max fee per gas in wei; default 500 gwei
	StuckAfter    time.Duration // re-submit with bumped fees after; default 60 s
	Poll          time.Duration // chain polling period; default 1 s
	MaxBackoff    time.Duration // longest wait between retries while the RPC fails; default 30 s
	// FinalityDepth: confirmed epochs whose block is fewer than this many
	// blocks below the head are re-checked (receipt present, block
	// canonical, root stored) and re-anchored if their anchor vanished;
	// default 64 (two Ethereum epochs).
	FinalityDepth uint64
	RecheckEvery  time.Duration // re-check period; default 30 s (and once at start)
	Logger        *slog.Logger
}

func (c *Config) validate() error {
	switch {
	case c.Backend == nil:
		return fmt.Errorf("%w: no chain backend", ErrConfig)
	case c.Contract == (common.Address{}):
		return fmt.Errorf("%w: no contract address", ErrConfig)
	case c.SignerKey == nil:
		return fmt.Errorf("%w: no signer key", ErrConfig)
	case c.Store == nil:
		return fmt.Errorf("%w: no store", ErrConfig)
	}
	if c.SenderKey == nil {
		c.SenderKey = c.SignerKey
	}
	if c.Interval <= 0 {
		c.Interval = 10 * time.Second
	}
	if c.MaxLeaves <= 0 {
		c.MaxLeaves = 100_000
	}
	if c.Confirmations == 0 {
		c.Confirmations = 1
	}
	if c.FeeCap == nil {
		c.FeeCap = big.NewInt(500e9)
	}
	if c.StuckAfter <= 0 {
		c.StuckAfter = time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.FinalityDepth == 0 {
		c.FinalityDepth = 64
	}
	if c.RecheckEvery <= 0 {
		c.RecheckEvery = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Service cuts epochs, anchors them and serves proofs. Observe and Proof
// are safe for concurrent use with Run.
type Service struct {
	cfg    Config
	log    *slog.Logger
	signer common.Address
	sender common.Address

	mu       sync.Mutex
	operator common.Address // TwinAnchor's owner, read at start
	recheck  Recheck
	pending  map[string]Head
	flush    bool
	chainID  *big.Int
	trees    map[uint64]*merkle.Tree // small cache of recent epochs' trees
	kick     chan struct{}
}

// New validates cfg and returns a Service; call Run to start it.
var _ twin.Anchorer = (*Service)(nil)

func New(cfg Config) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Service{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "anchor"),
		signer:  crypto.PubkeyToAddress(cfg.SignerKey.PublicKey),
		sender:  crypto.PubkeyToAddress(cfg.SenderKey.PublicKey),
		pending: make(map[string]Head),
		trees:   make(map[uint64]*merkle.Tree),
		kick:    make(chan struct{}, 1),
	}, nil
}

// Signer is the address whose EIP-712 signature anchors the roots.
func (s *Service) Signer() common.Address { return s.signer }

// Contract is the TwinAnchor address.
func (s *Service) Contract() common.Address { return s.cfg.Contract }

// Operator is TwinAnchor's owner as read when Run started and at every
// re-check (zero before Run asked).
func (s *Service) Operator() common.Address {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.operator
}

// ChainID is the endpoint's chain id once Run has asked it (0 before).
func (s *Service) ChainID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chainID == nil {
		return 0
	}
	return s.chainID.Uint64()
}

// Recheck is the outcome of the last re-check of confirmed epochs.
type Recheck struct {
	At          time.Time `json:"at,omitzero"`
	Head        uint64    `json:"head"`
	Checked     int       `json:"checked"`     // confirmed epochs within the finality depth
	Reanchoring []uint64  `json:"reanchoring"` // epochs whose anchor had vanished
	Error       string    `json:"error,omitempty"`
}

// Observe records the latest heads of twins after a durable commit. It never
// blocks on I/O.
func (s *Service) Observe(heads []Head) {
	s.mu.Lock()
	for _, h := range heads {
		if p, ok := s.pending[h.Twin]; !ok || h.Seq > p.Seq {
			s.pending[h.Twin] = h
		}
	}
	full := len(s.pending) >= s.cfg.MaxLeaves
	s.mu.Unlock()
	if full {
		s.wake()
	}
}

// Flush asks Run to cut an epoch of whatever is pending now.
func (s *Service) Flush() {
	s.mu.Lock()
	s.flush = true
	s.mu.Unlock()
	s.wake()
}

func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run cuts and anchors epochs until ctx ends. RPC failures are retried with
// backoff and never lose an epoch; Run returns only ctx's error or a store
// failure.
func (s *Service) Run(ctx context.Context) error {
	backoff := s.cfg.Poll
	retry := func(what string, err error) error {
		s.log.Warn("anchor: "+what+" failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, s.cfg.MaxBackoff)
		return nil
	}
	for {
		err := s.Connect(ctx)
		if err == nil {
			break
		}
		if errors.Is(err, ErrConfig) {
			return err
		}
		if err := retry("chain id and operator", err); err != nil {
			return err
		}
	}
	if k, err := KeyOf(ctx, s.cfg.Backend, s.cfg.Contract, s.signer); err == nil && k.Until == 0 {
		s.log.Warn("anchor: the operator has not authorised this runtime's signer key; anchors will be refused until it does (custos anchor authorize)",
			"signer", s.signer, "operator", s.Operator(), "contract", s.cfg.Contract)
	}
	if s.cfg.Heads != nil {
		// The Heads source has everything committed: start from it alone
		// (what was observed in an earlier Run may have been cut since, by
		// another leader of a cluster).
		s.mu.Lock()
		clear(s.pending)
		s.mu.Unlock()
	}
	for s.cfg.Heads != nil {
		err := s.recoverHeads(ctx)
		if err == nil {
			break
		}
		if err := retry("recover heads", err); err != nil {
			return err
		}
	}
	backoff = s.cfg.Poll
	lastCut, lastScan := time.Now(), time.Now()
	var lastCheck time.Time
	for {
		if s.cfg.Rescan > 0 && time.Since(lastScan) >= s.cfg.Rescan {
			if err := s.recoverHeads(ctx); err != nil {
				var se *storeError
				if errors.As(err, &se) {
					return err
				}
				s.log.Warn("anchor: re-reading heads failed; will retry", "err", err)
			} else {
				lastScan = time.Now()
			}
		}
		if time.Since(lastCheck) >= s.cfg.RecheckEvery {
			if err := s.recheckConfirmed(ctx); err != nil {
				var se *storeError
				if errors.As(err, &se) {
					return err
				}
				s.log.Warn("anchor: re-check of confirmed epochs failed; will retry", "err", err)
			} else {
				lastCheck = time.Now()
			}
		}
		s.mu.Lock()
		all := s.flush || (len(s.pending) > 0 && time.Since(lastCut) >= s.cfg.Interval)
		full := len(s.pending) >= s.cfg.MaxLeaves
		s.flush = false
		s.mu.Unlock()
		if all || full {
			if err := s.cut(ctx, all); err != nil {
				return err
			}
			lastCut = time.Now()
		}
		wait := s.cfg.Poll
		if err := s.advance(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var se *storeError
			if errors.As(err, &se) {
				return err
			}
			s.log.Warn("anchor: chain step failed; will retry", "err", err, "in", backoff)
			wait = backoff
			backoff = min(backoff*2, s.cfg.MaxBackoff)
		} else {
			backoff = s.cfg.Poll
		}
		if d := s.cfg.Interval - time.Since(lastCut); d > 0 && d < wait {
			wait = d
		}
		if d := s.cfg.Rescan - time.Since(lastScan); s.cfg.Rescan > 0 && d > 0 && d < wait {
			wait = d
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.kick:
		case <-time.After(wait):
		}
	}
}

// Connect asks the chain for its id (checked against Config.ChainID) and
// TwinAnchor for its operator, once. Run does it (and retries); a node of a
// cluster that serves proofs without running the service calls it itself.
//
// # Errors
//
// ErrConfig for a chain id other than the configured one; RPC errors.
func (s *Service) Connect(ctx context.Context) error {
	id, err := s.cfg.Backend.ChainID(ctx)
	if err != nil {
		return fmt.Errorf("chain id: %w", err)
	}
	if s.cfg.ChainID != 0 && id.Uint64() != s.cfg.ChainID {
		return fmt.Errorf("%w: endpoint chain id %d, configured %d", ErrConfig, id, s.cfg.ChainID)
	}
	owner, err := Owner(ctx, s.cfg.Backend, s.cfg.Contract)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.chainID, s.operator = id, owner
	s.mu.Unlock()
	return nil
}

// storeError marks failures of the anchor store, which stop Run.
type storeError struct{ err error }

func (e *storeError) Error() string { return "anchor store: " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

func storeErr(err error) error {
	if err == nil {
		return nil
	}
	return &storeError{err}
}

func (s *Service) recoverHeads(ctx context.Context) error {
	after, n := "", 0
	for {
		hs, err := s.cfg.Heads(ctx, after, 1000)
		if err != nil {
			return fmt.Errorf("list heads: %w", err)
		}
		if len(hs) == 0 {
			break
		}
		var changed []Head
		for _, h := range hs {
			if s.cfg.HeadsChanged {
				changed = append(changed, h)
				continue
			}
			cut, err := s.cfg.Store.CutSeq(ctx, h.Twin)
			if err != nil {
				return storeErr(err)
			}
			if h.Seq > cut {
				changed = append(changed, h)
			}
		}
		n += len(changed)
		s.Observe(changed)
		after = hs[len(hs)-1].Twin
	}
	if n > 0 {
		s.log.Info("anchor: twins changed since the last epoch", "twins", n)
	}
	return nil
}

func (s *Service) domain() Domain {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Domain{ChainID: s.chainID, Contract: s.cfg.Contract}
}

// cut builds, signs and persists epochs from the pending heads: full epochs
// of MaxLeaves twins, and, if all, a last partial one.
func (s *Service) cut(ctx context.Context, all bool) error {
	for {
		s.mu.Lock()
		if len(s.pending) == 0 || (!all && len(s.pending) < s.cfg.MaxLeaves) {
			s.mu.Unlock()
			return nil
		}
		heads := make([]Head, 0, min(len(s.pending), s.cfg.MaxLeaves))
		for _, h := range s.pending {
			heads = append(heads, h)
		}
		slices.SortFunc(heads, func(a, b Head) int { return strings.Compare(a.Twin, b.Twin) })
		heads = heads[:min(len(heads), s.cfg.MaxLeaves)]
		for _, h := range heads {
			delete(s.pending, h.Twin)
		}
		s.mu.Unlock()

		err := s.cutOne(ctx, heads)
		if err != nil {
			s.Observe(heads) // keep them for the next attempt
			return err
		}
	}
}

func (s *Service) cutOne(ctx context.Context, heads []Head) error {
	leaves := make([]merkle.Leaf, len(heads))
	for i, h := range heads {
		leaves[i] = merkle.Leaf{Twin: h.Twin, Seq: h.Seq, Digest: h.Digest}
	}
	start := time.Now()
	tree := merkle.Build(leaves)
	last, err := s.cfg.Store.LastEpoch(ctx)
	if err != nil {
		return storeErr(err)
	}
	d := s.domain()
	e := &Epoch{
		Number: last + 1, Root: common.Hash(tree.Root()), Count: uint32(len(leaves)),
		Signer: s.signer, ChainID: d.ChainID.Uint64(), Contract: d.Contract, State: StateSigned, Created: time.Now().UTC(),
	}
	e.Signature, err = SignAnchor(s.cfg.SignerKey, d, e.Number, tree.Root(), e.Count)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.CreateEpoch(ctx, e, leaves); err != nil {
		return storeErr(err)
	}
	s.cacheTree(e.Number, tree)
	s.log.Info("anchor: epoch cut", "epoch", e.Number, "leaves", e.Count, "root", e.Root, "build", time.Since(start))
	return nil
}

func (s *Service) cacheTree(n uint64, t *merkle.Tree) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.trees) >= 4 {
		oldest := n
		for k := range s.trees {
			oldest = min(oldest, k)
		}
		delete(s.trees, oldest)
	}
	s.trees[n] = t
}

// advance moves every unfinished epoch one step forward.
func (s *Service) advance(ctx context.Context) error {
	es, err := s.cfg.Store.Unfinished(ctx)
	if err != nil {
		return storeErr(err)
	}
	for _, e := range es {
		if err := s.step(ctx, e); err != nil {
			return fmt.Errorf("epoch %d: %w", e.Number, err)
		}
	}
	return nil
}

func (s *Service) step(ctx context.Context, e *Epoch) error {
	switch e.State {
	case StateSigned:
		return s.send(ctx, e, nil)
	case StateSent, StateReanchoring:
		return s.track(ctx, e)
	}
	return nil
}

// send signs a new transaction for e (a replacement of prev with bumped
// fees when prev is not nil), persists it and broadcasts it.
func (s *Service) send(ctx context.Context, e *Epoch, prev *SentTx) error {
	b := s.cfg.Backend
	if e.Signer != s.signer && prev == nil {
		// Signed by an earlier runtime key (rotated): this key signs it now.
		if done, err := s.adoptExisting(ctx, e); err != nil || done {
			return err
		}
		sig, err := SignAnchor(s.cfg.SignerKey, s.domain(), e.Number, twin.Hash(e.Root), e.Count)
		if err != nil {
			return err
		}
		s.log.Info("anchor: re-signing epoch with the current key", "epoch", e.Number, "was", e.Signer, "now", s.signer)
		e.Signer, e.Signature = s.signer, sig
	}
	r, vs := splitSig(e.Signature)
	data := abiTwinAnchor.PackAnchor(e.Number, e.Root, e.Count, r, vs)
	gas, err := b.EstimateGas(ctx, ethereum.CallMsg{From: s.sender, To: &s.cfg.Contract, Data: data})
	if err != nil {
		// A revert here usually means the epoch is already anchored.
		if done, aerr := s.adoptExisting(ctx, e); aerr != nil || done {
			return aerr
		}
		err = RevertReason(err)
		if msg := err.Error(); errors.Is(err, ErrUnauthorized) && e.Error != msg {
			e.Error = msg
			if serr := s.cfg.Store.UpdateEpoch(ctx, e, nil); serr != nil {
				return storeErr(serr)
			}
		}
		return fmt.Errorf("estimate gas: %w", err)
	}
	e.Error = ""
	tip, fee, err := fees(ctx, b, s.cfg.FeeCap)
	if err != nil {
		return err
	}
	var nonce uint64
	var next *Nonce
	if prev != nil {
		nonce = prev.Nonce
		tip = maxBig(tip, bump(prev.tip()))
		fee = maxBig(fee, bump(prev.fee()))
		if fee.Cmp(s.cfg.FeeCap) > 0 {
			fee = new(big.Int).Set(s.cfg.FeeCap)
		}
		if tip.Cmp(fee) > 0 {
			tip = new(big.Int).Set(fee)
		}
		if fee.Cmp(prev.fee()) <= 0 {
			s.log.Warn("anchor: transaction stuck at the fee cap", "epoch", e.Number, "tx", prev.Hash, "fee_cap", s.cfg.FeeCap)
			return s.rebroadcast(ctx, *prev)
		}
	} else {
		stored, err := s.cfg.Store.NextNonce(ctx, s.sender)
		if err != nil {
			return storeErr(err)
		}
		onChain, err := b.NonceAt(ctx, s.sender, nil)
		if err != nil {
			return fmt.Errorf("nonce: %w", err)
		}
		nonce = max(stored, onChain)
		next = &Nonce{Account: s.sender, Next: nonce + 1}
	}
	d := s.domain()
	tx, err := types.SignNewTx(s.cfg.SenderKey, types.LatestSignerForChainID(d.ChainID), &types.DynamicFeeTx{
		ChainID: d.ChainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: fee, Gas: gas * 5 / 4, To: &s.cfg.Contract, Data: data,
	})
	if err != nil {
		return fmt.Errorf("sign tx: %w", err)
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode tx: %w", err)
	}
	st := SentTx{Hash: tx.Hash(), From: s.sender, Nonce: nonce, TipCap: (*hexutil.Big)(tip), FeeCap: (*hexutil.Big)(fee), Raw: raw, Sent: time.Now().UTC()}
	e.Txs = append(e.Txs, st)
	if e.State != StateReanchoring {
		e.State = StateSent
	}
	if err := s.cfg.Store.UpdateEpoch(ctx, e, next); err != nil { // persisted before it is sent
		return storeErr(err)
	}
	s.log.Info("anchor: sending", "epoch", e.Number, "tx", st.Hash, "nonce", nonce, "tip", tip, "fee_cap", fee, "replaces", prev != nil)
	return s.rebroadcast(ctx, st)
}

func (s *Service) rebroadcast(ctx context.Context, st SentTx) error {
	var tx types.Transaction
	if err := tx.UnmarshalBinary(st.Raw); err != nil {
		return fmt.Errorf("decode stored tx: %w", err)
	}
	if err := s.cfg.Backend.SendTransaction(ctx, &tx); err != nil && !benignSendError(err) {
		return fmt.Errorf("send tx %s: %w", st.Hash, err)
	}
	return nil
}

// benignSendError: the node already has the transaction, or its nonce was
// used (track() then finds out by whom).
func benignSendError(err error) bool {
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "already known") || strings.Contains(m, "nonce too low") ||
		strings.Contains(m, "already imported") || strings.Contains(m, "replacement transaction underpriced")
}

func bump(x *big.Int) *big.Int {
	y := new(big.Int).Mul(x, big.NewInt(1125))
	y.Div(y, big.NewInt(1000))
	return y.Add(y, big.NewInt(1))
}

func maxBig(a, b *big.Int) *big.Int {
	if a.Cmp(b) >= 0 {
		return a
	}
	return b
}

// track follows e's transactions until the anchor is confirmed.
func (s *Service) track(ctx context.Context, e *Epoch) error {
	b := s.cfg.Backend
	hashes := make([]common.Hash, 0, len(e.Txs)+1)
	for i := len(e.Txs) - 1; i >= 0; i-- {
		hashes = append(hashes, e.Txs[i].Hash)
	}
	if e.Tx != (common.Hash{}) && !slices.Contains(hashes, e.Tx) {
		hashes = append(hashes, e.Tx)
	}
	var rc *types.Receipt
	for _, h := range hashes {
		r, err := b.TransactionReceipt(ctx, h)
		if errors.Is(err, ethereum.NotFound) || (err == nil && r == nil) {
			continue
		}
		if err != nil {
			return fmt.Errorf("receipt: %w", err)
		}
		rc = r
		break
	}
	if rc == nil {
		return s.notMined(ctx, e)
	}
	if rc.Status != types.ReceiptStatusSuccessful {
		// Reverted: someone anchored this epoch already, or we ran out of gas.
		if done, err := s.adoptExisting(ctx, e); err != nil || done {
			return err
		}
		s.log.Warn("anchor: transaction reverted; sending a new one", "epoch", e.Number, "tx", rc.TxHash)
		return s.send(ctx, e, nil)
	}
	changed := e.Tx != rc.TxHash || e.BlockHash != rc.BlockHash
	if changed {
		e.Tx, e.Block, e.BlockHash, e.GasUsed = rc.TxHash, rc.BlockNumber.Uint64(), rc.BlockHash, rc.GasUsed
		s.log.Info("anchor: mined", "epoch", e.Number, "tx", e.Tx, "block", e.Block, "gas", e.GasUsed)
	}
	if ok, err := s.confirmed(ctx, e); err != nil {
		return err
	} else if ok {
		e.State, e.Confirmed = StateConfirmed, time.Now().UTC()
		s.log.Info("anchor: confirmed", "epoch", e.Number, "block", e.Block, "confirmations", s.cfg.Confirmations)
		changed = true
	}
	if changed {
		return storeErr(s.cfg.Store.UpdateEpoch(ctx, e, nil))
	}
	return nil
}

// confirmed reports whether e's block is canonical, deep enough, and the
// contract holds e's root.
func (s *Service) confirmed(ctx context.Context, e *Epoch) (bool, error) {
	b := s.cfg.Backend
	head, err := b.BlockNumber(ctx)
	if err != nil {
		return false, fmt.Errorf("head: %w", err)
	}
	if head+1 < e.Block+s.cfg.Confirmations {
		return false, nil
	}
	h, err := b.HeaderByNumber(ctx, new(big.Int).SetUint64(e.Block))
	if err != nil {
		return false, fmt.Errorf("header %d: %w", e.Block, err)
	}
	if h.Hash() != e.BlockHash {
		return false, nil // reorged; the next track() sees the receipt move or vanish
	}
	root, err := RootOf(ctx, b, s.cfg.Contract, e.Signer, e.Number)
	if err != nil {
		return false, err
	}
	return root == twin.Hash(e.Root), nil
}

// notMined handles an epoch none of whose transactions has a receipt.
func (s *Service) notMined(ctx context.Context, e *Epoch) error {
	b := s.cfg.Backend
	if e.Block != 0 {
		s.log.Warn("anchor: reorg dropped the anchor; re-anchoring", "epoch", e.Number, "tx", e.Tx, "block", e.Block)
		e.Tx, e.Block, e.BlockHash, e.GasUsed = common.Hash{}, 0, common.Hash{}, 0
		if err := s.cfg.Store.UpdateEpoch(ctx, e, nil); err != nil {
			return storeErr(err)
		}
	}
	last := e.Txs[len(e.Txs)-1]
	latest, err := b.NonceAt(ctx, s.sender, nil)
	if err != nil {
		return fmt.Errorf("nonce: %w", err)
	}
	if latest > last.Nonce {
		// Our nonce was consumed, by none of our transactions for e.
		if done, err := s.adoptExisting(ctx, e); err != nil || done {
			return err
		}
		s.log.Warn("anchor: nonce used by another transaction; sending anew", "epoch", e.Number, "nonce", last.Nonce)
		return s.send(ctx, e, nil)
	}
	if _, _, err := b.TransactionByHash(ctx, last.Hash); errors.Is(err, ethereum.NotFound) {
		s.log.Info("anchor: transaction not known to the node; re-broadcasting", "epoch", e.Number, "tx", last.Hash)
		if err := s.rebroadcast(ctx, last); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("transaction: %w", err)
	}
	if time.Since(last.Sent) >= s.cfg.StuckAfter {
		return s.send(ctx, e, &last)
	}
	return nil
}

// adoptExisting checks the contract: if it already holds e's root, it
// records the anchoring transaction (found by its event) and reports done;
// if it holds another root, e fails for good.
func (s *Service) adoptExisting(ctx context.Context, e *Epoch) (bool, error) {
	b := s.cfg.Backend
	root, err := RootOf(ctx, b, s.cfg.Contract, e.Signer, e.Number)
	if err != nil {
		return false, err
	}
	switch {
	case root.IsZero():
		return false, nil
	case root != twin.Hash(e.Root):
		e.State = StateFailed
		e.Error = fmt.Sprintf("%v: contract holds %s", ErrConflict, root)
		s.log.Error("anchor: epoch conflicts with the chain", "epoch", e.Number, "ours", e.Root, "chain", root)
		return true, storeErr(s.cfg.Store.UpdateEpoch(ctx, e, nil))
	}
	lg, _, err := FindAnchoredLog(ctx, b, s.cfg.Contract, e.Signer, e.Number, 0, 0)
	if err != nil {
		return false, err
	}
	e.Tx, e.Block, e.BlockHash = lg.TxHash, lg.BlockNumber, lg.BlockHash
	if e.State != StateReanchoring {
		e.State = StateSent
	}
	if ok, err := s.confirmed(ctx, e); err != nil {
		return false, err
	} else if ok {
		e.State, e.Confirmed = StateConfirmed, time.Now().UTC()
	}
	s.log.Info("anchor: epoch already anchored on chain", "epoch", e.Number, "tx", e.Tx, "block", e.Block)
	return true, storeErr(s.cfg.Store.UpdateEpoch(ctx, e, nil))
}

// Status summarises anchoring.
type Status struct {
	ChainID       uint64         `json:"chain_id"`
	Contract      common.Address `json:"contract"`
	Signer        common.Address `json:"signer"`
	Operator      common.Address `json:"operator"` // TwinAnchor's owner: what auditors pin
	Sender        common.Address `json:"sender"`
	Epochs        uint64         `json:"epochs"`         // epochs cut so far
	PendingTwins  int            `json:"pending_twins"`  // changed twins not in an epoch yet
	Unconfirmed   int            `json:"unconfirmed"`    // epochs signed or sent, not confirmed
	Failed        int            `json:"failed"`         // epochs that conflict with the chain
	Reanchoring   int            `json:"reanchoring"`    // epochs whose confirmed anchor vanished, being sent again
	FinalityDepth uint64         `json:"finality_depth"` // confirmed epochs this close to the head are re-checked
	Recheck       Recheck        `json:"recheck"`        // the last re-check
	LastConfirmed uint64         `json:"last_confirmed"` // highest confirmed epoch among the recent ones
	Lag           time.Duration  `json:"lag"`            // age of the oldest unconfirmed epoch
	Recent        []*Epoch       `json:"recent"`         // the last epochs, newest last
}

// Status reports the state of anchoring.
func (s *Service) Status(ctx context.Context) (*Status, error) {
	st := &Status{Contract: s.cfg.Contract, Signer: s.signer, Sender: s.sender, FinalityDepth: s.cfg.FinalityDepth}
	s.mu.Lock()
	st.Operator, st.Recheck = s.operator, s.recheck
	st.PendingTwins = len(s.pending)
	if s.chainID != nil {
		st.ChainID = s.chainID.Uint64()
	}
	s.mu.Unlock()
	last, err := s.cfg.Store.LastEpoch(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	st.Epochs = last
	un, err := s.cfg.Store.Unfinished(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	st.Unconfirmed = len(un)
	for _, e := range un {
		if e.State == StateReanchoring {
			st.Reanchoring++
		}
	}
	if len(un) > 0 {
		st.Lag = time.Since(un[0].Created)
	}
	recent, err := s.cfg.Store.Epochs(ctx, last-min(last, 10), 10)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	for _, e := range recent {
		e.Txs = nil // keep the summary small
		switch e.State {
		case StateConfirmed:
			st.LastConfirmed = max(st.LastConfirmed, e.Number)
		case StateFailed:
			st.Failed++
		}
	}
	st.Recent = recent
	return st, nil
}

// Proof returns a bundle proving twin's digest at seq, from the first
// confirmed epoch that anchored the twin at seq or later. It returns an
// error wrapping ErrNotAnchored if there is none yet.
func (s *Service) Proof(ctx context.Context, twinID string, seq uint64) (*Bundle, error) {
	if s.cfg.Records == nil {
		return nil, fmt.Errorf("%w: no record source", ErrConfig)
	}
	if seq == 0 {
		return nil, fmt.Errorf("proof: seq must be >= 1: %w", ErrNotFound)
	}
	var ref *LeafRef
	var e *Epoch
	from := seq
	for ref == nil {
		refs, err := s.cfg.Store.LeavesFrom(ctx, twinID, from, 64)
		if err != nil {
			return nil, fmt.Errorf("proof: %w", err)
		}
		if len(refs) == 0 {
			return nil, fmt.Errorf("proof: %s seq %d: %w", twinID, seq, ErrNotAnchored)
		}
		for i := range refs {
			ep, err := s.cfg.Store.Epoch(ctx, refs[i].Epoch)
			if err != nil {
				return nil, fmt.Errorf("proof: %w", err)
			}
			if ep.State == StateConfirmed {
				ref, e = &refs[i], ep
				break
			}
		}
		from = refs[len(refs)-1].Leaf.Seq + 1
	}
	tree, err := s.tree(ctx, e.Number)
	if err != nil {
		return nil, fmt.Errorf("proof: %w", err)
	}
	path, ok := tree.Proof(ref.Leaf.Hash())
	if !ok {
		return nil, fmt.Errorf("proof: leaf of %s seq %d missing from epoch %d tree", twinID, ref.Leaf.Seq, e.Number)
	}
	lo := seq
	if seq > 1 {
		lo = seq - 1
	}
	recs, err := s.cfg.Records(ctx, twinID, lo, ref.Leaf.Seq)
	if err != nil {
		return nil, fmt.Errorf("proof: records: %w", err)
	}
	b := &Bundle{
		Format: BundleFormat, Twin: twinID, Seq: seq, LeafHash: ref.Leaf.Hash(), Path: path,
		Root: twin.Hash(e.Root), Epoch: e.Number, Count: e.Count, Signature: e.Signature, Signer: e.Signer,
		Operator: s.Operator(), ChainID: e.ChainID, Contract: e.Contract, Tx: e.Tx, Block: e.Block,
	}
	want := lo
	for _, r := range recs {
		if r.Seq != want {
			return nil, fmt.Errorf("proof: history of %s has seq %d where %d was expected", twinID, r.Seq, want)
		}
		want++
		if r.Seq < seq {
			b.Prev = r.Digest
			continue
		}
		if r.Seq == seq {
			b.Digest = r.Digest
			b.Event = r.Event
		}
		b.Links = append(b.Links, Link{Seq: r.Seq, EventHash: r.EventHash, StateHash: r.StateHash, Module: r.Module, Failure: r.Failure, Digest: r.Digest})
	}
	if want != ref.Leaf.Seq+1 {
		return nil, fmt.Errorf("proof: history of %s ends at seq %d before the anchored seq %d", twinID, want-1, ref.Leaf.Seq)
	}
	if b.Links[len(b.Links)-1].Digest != ref.Leaf.Digest {
		return nil, fmt.Errorf("proof: history of %s seq %d disagrees with the anchored digest", twinID, ref.Leaf.Seq)
	}
	return b, nil
}

func (s *Service) tree(ctx context.Context, n uint64) (*merkle.Tree, error) {
	s.mu.Lock()
	t := s.trees[n]
	s.mu.Unlock()
	if t != nil {
		return t, nil
	}
	ls, err := s.cfg.Store.Leaves(ctx, n)
	if err != nil {
		return nil, err
	}
	t = merkle.Build(ls)
	if t == nil {
		return nil, fmt.Errorf("epoch %d has no leaves", n)
	}
	s.cacheTree(n, t)
	return t, nil
}

// recheckConfirmed re-checks the confirmed epochs whose block is within
// FinalityDepth of the head (or above it: the chain lost blocks): the
// receipt must still be in the recorded, canonical block and the contract
// must hold the root. An epoch failing that goes back to StateReanchoring
// and is tracked and re-sent like a new one.
func (s *Service) recheckConfirmed(ctx context.Context) error {
	rc := Recheck{At: time.Now().UTC()}
	err := s.recheckInto(ctx, &rc)
	if err != nil {
		rc.Error = err.Error()
	}
	s.mu.Lock()
	s.recheck = rc
	s.mu.Unlock()
	return err
}

func (s *Service) recheckInto(ctx context.Context, rc *Recheck) error {
	head, err := s.cfg.Backend.BlockNumber(ctx)
	if err != nil {
		return fmt.Errorf("head: %w", err)
	}
	rc.Head = head
	if owner, err := Owner(ctx, s.cfg.Backend, s.cfg.Contract); err == nil { // ownership may have been handed over
		s.mu.Lock()
		s.operator = owner
		s.mu.Unlock()
	}
	last, err := s.cfg.Store.LastEpoch(ctx)
	if err != nil {
		return storeErr(err)
	}
	const maxEpochs = 1000 // per re-check, newest first
	for n := last; n >= 1 && n+maxEpochs > last; n-- {
		e, err := s.cfg.Store.Epoch(ctx, n)
		if err != nil {
			return storeErr(err)
		}
		if e.State != StateConfirmed {
			continue
		}
		if e.Block+s.cfg.FinalityDepth <= head {
			break // final; so are the older ones
		}
		rc.Checked++
		ok, why, err := s.stillAnchored(ctx, e)
		if err != nil {
			return fmt.Errorf("epoch %d: %w", n, err)
		}
		if ok {
			continue
		}
		s.log.Warn("anchor: a confirmed anchor vanished from the chain; re-anchoring", "epoch", n, "tx", e.Tx, "block", e.Block, "why", why)
		e.State, e.Confirmed, e.Error = StateReanchoring, time.Time{}, "re-anchoring: "+why
		if err := s.cfg.Store.UpdateEpoch(ctx, e, nil); err != nil {
			return storeErr(err)
		}
		rc.Reanchoring = append(rc.Reanchoring, n)
	}
	if len(rc.Reanchoring) > 0 {
		s.wake()
	}
	return nil
}

// stillAnchored reports whether e's anchor is where it was confirmed.
func (s *Service) stillAnchored(ctx context.Context, e *Epoch) (bool, string, error) {
	b := s.cfg.Backend
	r, err := b.TransactionReceipt(ctx, e.Tx)
	if errors.Is(err, ethereum.NotFound) || (err == nil && r == nil) {
		return false, fmt.Sprintf("transaction %s not found", e.Tx), nil
	}
	if err != nil {
		return false, "", fmt.Errorf("receipt: %w", err)
	}
	if r.BlockHash != e.BlockHash {
		return false, fmt.Sprintf("transaction now in block %d %s, confirmed in %s", r.BlockNumber, r.BlockHash, e.BlockHash), nil
	}
	h, err := b.HeaderByNumber(ctx, new(big.Int).SetUint64(e.Block))
	if errors.Is(err, ethereum.NotFound) {
		return false, fmt.Sprintf("block %d not found", e.Block), nil
	}
	if err != nil {
		return false, "", fmt.Errorf("header %d: %w", e.Block, err)
	}
	if h.Hash() != e.BlockHash {
		return false, fmt.Sprintf("block %d is now %s, confirmed as %s", e.Block, h.Hash(), e.BlockHash), nil
	}
	root, err := RootOf(ctx, b, s.cfg.Contract, e.Signer, e.Number)
	if err != nil {
		return false, "", err
	}
	if root != twin.Hash(e.Root) {
		return false, fmt.Sprintf("contract holds root %s", root), nil
	}
	return true, "", nil
}
