// Package embedded is the default anchor.Store: epochs, leaves, per-twin
// cut marks and nonces in a pebble database under a directory. Every write
// is one synced pebble batch, so a crash leaves either all of it or none.
package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/merkle"
	"github.com/custos-dev/custos/twin"
)

// Key layout (all integers big-endian):
//
//	e <epoch:8>               → Epoch JSON
//	u <epoch:8>               → "" while the epoch is not confirmed or failed
//	l <epoch:8> <twin>        → seq:8 digest:32      (an epoch's leaves)
//	t <twin> 0x00 <seq:8>     → epoch:8              (a twin's leaves by seq)
//	c <twin>                  → seq:8                (highest seq cut)
//	n <address:20>            → next nonce:8
//	m                         → last epoch:8
const (
	pEpoch      = 'e'
	pUnfinished = 'u'
	pLeaf       = 'l'
	pTwinLeaf   = 't'
	pCut        = 'c'
	pNonce      = 'n'
	kLast       = "m"
)

// DB is a pebble-backed anchor.Store.
type DB struct {
	db *pebble.DB
}

var _ anchor.Store = (*DB)(nil)

// Open opens (creating if needed) the store in dir.
func Open(dir string) (*DB, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLog{}})
	if err != nil {
		return nil, fmt.Errorf("open anchor store: %w", err)
	}
	return &DB{db: db}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func key(p byte, parts ...[]byte) []byte {
	k := []byte{p}
	for _, x := range parts {
		k = append(k, x...)
	}
	return k
}

func twinLeafKey(id string, seq uint64) []byte {
	return key(pTwinLeaf, []byte(id), []byte{0}, u64(seq))
}

func putEpoch(b *pebble.Batch, e *anchor.Epoch) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := b.Set(key(pEpoch, u64(e.Number)), v, nil); err != nil {
		return err
	}
	uk := key(pUnfinished, u64(e.Number))
	if e.State == anchor.StateConfirmed || e.State == anchor.StateFailed {
		return b.Delete(uk, nil)
	}
	return b.Set(uk, nil, nil)
}

// CreateEpoch implements anchor.Store.
func (d *DB) CreateEpoch(ctx context.Context, e *anchor.Epoch, leaves []merkle.Leaf) error {
	b := d.db.NewBatch()
	defer b.Close()
	if err := putEpoch(b, e); err != nil {
		return fmt.Errorf("create epoch: %w", err)
	}
	ek := u64(e.Number)
	val := make([]byte, 40)
	for _, l := range leaves {
		binary.BigEndian.PutUint64(val, l.Seq)
		copy(val[8:], l.Digest[:])
		if err := b.Set(key(pLeaf, ek, []byte(l.Twin)), val, nil); err != nil {
			return fmt.Errorf("create epoch: %w", err)
		}
		if err := b.Set(twinLeafKey(l.Twin, l.Seq), ek, nil); err != nil {
			return fmt.Errorf("create epoch: %w", err)
		}
		if err := b.Set(key(pCut, []byte(l.Twin)), u64(l.Seq), nil); err != nil {
			return fmt.Errorf("create epoch: %w", err)
		}
	}
	if err := b.Set([]byte(kLast), ek, nil); err != nil {
		return fmt.Errorf("create epoch: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("create epoch: %w", err)
	}
	return nil
}

// UpdateEpoch implements anchor.Store.
func (d *DB) UpdateEpoch(ctx context.Context, e *anchor.Epoch, n *anchor.Nonce) error {
	b := d.db.NewBatch()
	defer b.Close()
	if err := putEpoch(b, e); err != nil {
		return fmt.Errorf("update epoch: %w", err)
	}
	if n != nil {
		if err := b.Set(key(pNonce, n.Account[:]), u64(n.Next), nil); err != nil {
			return fmt.Errorf("update epoch: %w", err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("update epoch: %w", err)
	}
	return nil
}

func (d *DB) get(k []byte) ([]byte, error) {
	v, c, err := d.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, anchor.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return bytes.Clone(v), nil
}

// Epoch implements anchor.Store.
func (d *DB) Epoch(ctx context.Context, n uint64) (*anchor.Epoch, error) {
	v, err := d.get(key(pEpoch, u64(n)))
	if err != nil {
		return nil, fmt.Errorf("epoch %d: %w", n, err)
	}
	var e anchor.Epoch
	if err := json.Unmarshal(v, &e); err != nil {
		return nil, fmt.Errorf("epoch %d: %w", n, err)
	}
	return &e, nil
}

// Epochs implements anchor.Store.
func (d *DB) Epochs(ctx context.Context, after uint64, limit int) ([]*anchor.Epoch, error) {
	if limit <= 0 {
		limit = 100
	}
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: key(pEpoch, u64(after+1)), UpperBound: []byte{pEpoch + 1}})
	if err != nil {
		return nil, fmt.Errorf("epochs: %w", err)
	}
	defer it.Close()
	var out []*anchor.Epoch
	for it.First(); it.Valid() && len(out) < limit; it.Next() {
		var e anchor.Epoch
		if err := json.Unmarshal(it.Value(), &e); err != nil {
			return nil, fmt.Errorf("epochs: %w", err)
		}
		out = append(out, &e)
	}
	return out, it.Error()
}

// Unfinished implements anchor.Store.
func (d *DB) Unfinished(ctx context.Context) ([]*anchor.Epoch, error) {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pUnfinished}, UpperBound: []byte{pUnfinished + 1}})
	if err != nil {
		return nil, fmt.Errorf("unfinished: %w", err)
	}
	var ns []uint64
	for it.First(); it.Valid(); it.Next() {
		ns = append(ns, binary.BigEndian.Uint64(it.Key()[1:]))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("unfinished: %w", err)
	}
	out := make([]*anchor.Epoch, 0, len(ns))
	for _, n := range ns {
		e, err := d.Epoch(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// LastEpoch implements anchor.Store.
func (d *DB) LastEpoch(ctx context.Context) (uint64, error) {
	v, err := d.get([]byte(kLast))
	if errors.Is(err, anchor.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last epoch: %w", err)
	}
	return binary.BigEndian.Uint64(v), nil
}

// Leaves implements anchor.Store.
func (d *DB) Leaves(ctx context.Context, epoch uint64) ([]merkle.Leaf, error) {
	lo := key(pLeaf, u64(epoch))
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: key(pLeaf, u64(epoch+1))})
	if err != nil {
		return nil, fmt.Errorf("leaves: %w", err)
	}
	defer it.Close()
	var out []merkle.Leaf
	for it.First(); it.Valid(); it.Next() {
		v := it.Value()
		out = append(out, merkle.Leaf{Twin: string(it.Key()[len(lo):]), Seq: binary.BigEndian.Uint64(v), Digest: twin.Hash(v[8:40])})
	}
	return out, it.Error()
}

// LeavesFrom implements anchor.Store.
func (d *DB) LeavesFrom(ctx context.Context, id string, seq uint64, limit int) ([]anchor.LeafRef, error) {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: twinLeafKey(id, seq), UpperBound: key(pTwinLeaf, []byte(id), []byte{1})})
	if err != nil {
		return nil, fmt.Errorf("leaves of %s: %w", id, err)
	}
	defer it.Close()
	var out []anchor.LeafRef
	for it.First(); it.Valid() && len(out) < limit; it.Next() {
		k := it.Key()
		s := binary.BigEndian.Uint64(k[len(k)-8:])
		ep := binary.BigEndian.Uint64(it.Value())
		v, err := d.get(key(pLeaf, u64(ep), []byte(id)))
		if err != nil {
			return nil, fmt.Errorf("leaves of %s: epoch %d: %w", id, ep, err)
		}
		out = append(out, anchor.LeafRef{Epoch: ep, Leaf: merkle.Leaf{Twin: id, Seq: s, Digest: twin.Hash(v[8:40])}})
	}
	return out, it.Error()
}

// CutSeq implements anchor.Store.
func (d *DB) CutSeq(ctx context.Context, id string) (uint64, error) {
	v, err := d.get(key(pCut, []byte(id)))
	if errors.Is(err, anchor.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cut seq: %w", err)
	}
	return binary.BigEndian.Uint64(v), nil
}

// NextNonce implements anchor.Store.
func (d *DB) NextNonce(ctx context.Context, a common.Address) (uint64, error) {
	v, err := d.get(key(pNonce, a[:]))
	if errors.Is(err, anchor.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("nonce: %w", err)
	}
	return binary.BigEndian.Uint64(v), nil
}

// quietLog keeps pebble's informational lines (WAL replay, compactions) out
// of the runtime's output.
type quietLog struct{}

func (quietLog) Infof(string, ...any) {}

func (quietLog) Errorf(format string, args ...any) {
	log.Printf("pebble: "+format, args...)
}

func (quietLog) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
