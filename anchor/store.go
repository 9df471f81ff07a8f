package anchor

import (
	"context"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/custos-dev/custos/anchor/merkle"
)

// EpochState is where an epoch is in its life.
type EpochState string

// Epoch states.
const (
	// StateSigned: built, signed and persisted; no transaction yet.
	StateSigned EpochState = "signed"
	// StateSent: a transaction is persisted and broadcast, not yet confirmed.
	StateSent EpochState = "sent"
	// StateReanchoring: the epoch was confirmed, but a re-check found its
	// anchor gone (a reorg deeper than the confirmations, a chain that lost
	// blocks); it is being sent again.
	StateReanchoring EpochState = "reanchoring"
	// StateConfirmed: the anchor is in a block with enough confirmations.
	StateConfirmed EpochState = "confirmed"
	// StateFailed: the contract holds another root for this epoch; this
	// epoch can never be anchored (see ErrConflict).
	StateFailed EpochState = "failed"
)

// Epoch is one anchored (or to-be-anchored) Merkle root.
type Epoch struct {
	Number    uint64         `json:"epoch"`
	Root      common.Hash    `json:"root"`
	Count     uint32         `json:"count"`
	Signature hexutil.Bytes  `json:"signature"`
	Signer    common.Address `json:"signer"`
	ChainID   uint64         `json:"chain_id"`
	Contract  common.Address `json:"contract"`
	State     EpochState     `json:"state"`
	Created   time.Time      `json:"created"`
	// Txs are every transaction signed for this epoch, oldest first
	// (re-submissions with bumped fees, re-sends after a reorg).
	Txs []SentTx `json:"txs,omitempty"`
	// Where the anchor landed (once mined).
	Tx        common.Hash `json:"tx,omitempty"`
	Block     uint64      `json:"block,omitempty"`
	BlockHash common.Hash `json:"block_hash,omitempty"`
	GasUsed   uint64      `json:"gas_used,omitempty"`
	Confirmed time.Time   `json:"confirmed,omitzero"`
	Error     string      `json:"error,omitempty"`
}

// SentTx is one signed anchor transaction, persisted before it is broadcast.
type SentTx struct {
	Hash   common.Hash    `json:"hash"`
	From   common.Address `json:"from"`
	Nonce  uint64         `json:"nonce"`
	TipCap *hexutil.Big   `json:"tip_cap"`
	FeeCap *hexutil.Big   `json:"fee_cap"`
	Raw    hexutil.Bytes  `json:"raw"`
	Sent   time.Time      `json:"sent"`
}

func (t SentTx) tip() *big.Int { return (*big.Int)(t.TipCap) }
func (t SentTx) fee() *big.Int { return (*big.Int)(t.FeeCap) }

// Nonce is the next nonce the service will use for an account. The store
// is the nonce authority for the keys it sends from.
type Nonce struct {
	Account common.Address
	Next    uint64
}

// LeafRef locates a twin's leaf in an epoch.
type LeafRef struct {
	Epoch uint64
	Leaf  merkle.Leaf
}

// Store persists epochs, their leaves, the last anchored seq of each twin
// and nonces. Implementations: anchor/embedded (pebble). Every method is
// safe for concurrent use.
type Store interface {
	// CreateEpoch writes e (state signed) and its leaves atomically and
	// records each leaf's seq as the twin's last cut seq.
	CreateEpoch(ctx context.Context, e *Epoch, leaves []merkle.Leaf) error
	// UpdateEpoch overwrites e; if n is not nil it records the next nonce in
	// the same atomic write.
	UpdateEpoch(ctx context.Context, e *Epoch, n *Nonce) error
	// Epoch returns epoch number n or an error wrapping ErrNotFound.
	Epoch(ctx context.Context, n uint64) (*Epoch, error)
	// Epochs returns up to limit epochs with number > after, ascending.
	Epochs(ctx context.Context, after uint64, limit int) ([]*Epoch, error)
	// Unfinished returns the epochs not confirmed or failed, ascending.
	Unfinished(ctx context.Context) ([]*Epoch, error)
	// LastEpoch returns the highest epoch number, 0 if none.
	LastEpoch(ctx context.Context) (uint64, error)
	// Leaves returns an epoch's leaves.
	Leaves(ctx context.Context, epoch uint64) ([]merkle.Leaf, error)
	// LeavesFrom returns up to limit leaves of twin with seq >= seq, in seq
	// order, each with its epoch.
	LeavesFrom(ctx context.Context, twin string, seq uint64, limit int) ([]LeafRef, error)
	// CutSeq returns the highest seq of twin included in any epoch, 0 if
	// none.
	CutSeq(ctx context.Context, twin string) (uint64, error)
	// NextNonce returns the stored next nonce for account, 0 if none.
	NextNonce(ctx context.Context, account common.Address) (uint64, error)
	// Close releases the store.
	Close() error
}

// BlockNumberBig returns Block as a *big.Int (nil when not mined).
func (e *Epoch) BlockNumberBig() *big.Int {
	if e.Block == 0 {
		return nil
	}
	return new(big.Int).SetUint64(e.Block)
}
