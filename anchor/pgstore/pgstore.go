// Package pgstore is the anchor.Store of a cluster: epochs, leaves, cut
// marks and nonces in PostgreSQL, in the same database and schema as the
// twins they anchor (store/pg creates the tables, migration 0004), with
// every write fenced by the anchoring leader's lease.
//
// # Fencing
//
// A Store is opened for one fence: the revision of lease "anchor" (see
// internal/cluster) at the moment this node became the anchoring leader.
// Each write transaction first raises anchor_leader.fence to its own fence
// and is refused (ErrFenced) when a higher one is stored: once a newer
// leader has written anything, a former one — paused, cut off, not yet aware
// that its lease ran out — can write nothing more, neither an epoch nor a
// transaction nor a nonce. The row lock on anchor_leader orders the writers,
// so CreateEpoch's check that epochs stay contiguous (ErrGap) sees every
// earlier epoch.
//
// Why pgx here and not only under store/: the anchor.Store interface is
// made of go-ethereum types, and the confinement rule keeps those out of
// store/; this package is the adapter between the two, as anchor/embedded is
// for pebble.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/merkle"
	"github.com/custos-dev/custos/twin"
)

var (
	// ErrFenced: a leader with a higher fence has written; this store's
	// writes are refused for good.
	ErrFenced = errors.New("anchor store fenced by a newer leader")
	// ErrGap: the epoch written is not the one after the last stored.
	ErrGap = errors.New("epochs must be contiguous")
	// ErrReadOnly: the store was opened without a fence.
	ErrReadOnly = errors.New("anchor store opened read-only")
)

// Store is an anchor.Store over a pgx pool whose search_path reaches the
// custos tables (a store/pg DB's Pool). Safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	fence  uint64
	holder string
}

var _ anchor.Store = (*Store)(nil)

// New returns the store written by holder with fence (> 0); fence 0 makes a
// read-only store (for nodes that only serve proofs and status).
func New(pool *pgxpool.Pool, fence uint64, holder string) *Store {
	return &Store{pool: pool, fence: fence, holder: holder}
}

// Fence is the fence this store writes with.
func (s *Store) Fence() uint64 { return s.fence }

// Close implements anchor.Store; the pool belongs to the caller.
func (s *Store) Close() error { return nil }

// write runs f in a transaction that first passes the fence.
func (s *Store) write(ctx context.Context, what string, f func(tx pgx.Tx) error) error {
	if s.fence == 0 {
		return fmt.Errorf("%s: %w", what, ErrReadOnly)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var got int64
		err := tx.QueryRow(ctx, `INSERT INTO anchor_leader (id, fence, holder) VALUES (1, $1, $2)
ON CONFLICT (id) DO UPDATE SET fence = EXCLUDED.fence, holder = EXCLUDED.holder,
	since = CASE WHEN anchor_leader.fence = EXCLUDED.fence THEN anchor_leader.since ELSE now() END
WHERE anchor_leader.fence <= EXCLUDED.fence
RETURNING fence`, int64(s.fence), s.holder).Scan(&got)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w (fence %d)", ErrFenced, s.fence)
		}
		if err != nil {
			return err
		}
		return f(tx)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Claim records this store's fence as the leader's, writing nothing else:
// a new leader calls it first, so that from then on a former leader's
// writes are refused.
//
// # Errors
//
// ErrFenced when a higher fence has written.
func (s *Store) Claim(ctx context.Context) error {
	return s.write(ctx, "claim anchor store", func(pgx.Tx) error { return nil })
}

// CreateEpoch implements anchor.Store.
func (s *Store) CreateEpoch(ctx context.Context, e *anchor.Epoch, leaves []merkle.Leaf) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("create epoch: %w", err)
	}
	return s.write(ctx, "create epoch", func(tx pgx.Tx) error {
		var last int64
		if err := tx.QueryRow(ctx, "SELECT COALESCE(max(epoch), 0) FROM anchor_epochs").Scan(&last); err != nil {
			return err
		}
		if uint64(last)+1 != e.Number {
			return fmt.Errorf("%w: epoch %d after %d", ErrGap, e.Number, last)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO anchor_epochs (epoch, state, fence, body) VALUES ($1, $2, $3, $4)",
			int64(e.Number), string(e.State), int64(s.fence), body); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"anchor_leaves"}, []string{"epoch", "twin", "seq", "digest"},
			pgx.CopyFromSlice(len(leaves), func(i int) ([]any, error) {
				l := leaves[i]
				return []any{int64(e.Number), l.Twin, int64(l.Seq), l.Digest[:]}, nil
			}))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO anchor_cuts (twin, seq) SELECT twin, seq FROM anchor_leaves WHERE epoch = $1
ON CONFLICT (twin) DO UPDATE SET seq = GREATEST(anchor_cuts.seq, EXCLUDED.seq)`, int64(e.Number))
		return err
	})
}

// UpdateEpoch implements anchor.Store.
func (s *Store) UpdateEpoch(ctx context.Context, e *anchor.Epoch, n *anchor.Nonce) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("update epoch: %w", err)
	}
	return s.write(ctx, "update epoch", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "UPDATE anchor_epochs SET state = $2, fence = $3, body = $4 WHERE epoch = $1",
			int64(e.Number), string(e.State), int64(s.fence), body)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("epoch %d: %w", e.Number, anchor.ErrNotFound)
		}
		if n == nil {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO anchor_nonces (account, next) VALUES ($1, $2)
ON CONFLICT (account) DO UPDATE SET next = EXCLUDED.next`, n.Account[:], int64(n.Next))
		return err
	})
}

// epochs runs query (selecting body) and decodes the epochs.
func (s *Store) epochs(ctx context.Context, query string, args ...any) ([]*anchor.Epoch, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var out []*anchor.Epoch
	var body []byte
	_, err = pgx.ForEachRow(rows, []any{&body}, func() error {
		var e anchor.Epoch
		if err := json.Unmarshal(body, &e); err != nil {
			return err
		}
		out = append(out, &e)
		return nil
	})
	return out, err
}

// Epoch implements anchor.Store.
func (s *Store) Epoch(ctx context.Context, n uint64) (*anchor.Epoch, error) {
	es, err := s.epochs(ctx, "SELECT body FROM anchor_epochs WHERE epoch = $1", int64(n))
	switch {
	case err != nil:
		return nil, fmt.Errorf("epoch %d: %w", n, err)
	case len(es) == 0:
		return nil, fmt.Errorf("epoch %d: %w", n, anchor.ErrNotFound)
	}
	return es[0], nil
}

// Epochs implements anchor.Store.
func (s *Store) Epochs(ctx context.Context, after uint64, limit int) ([]*anchor.Epoch, error) {
	if limit <= 0 {
		limit = 100
	}
	es, err := s.epochs(ctx, "SELECT body FROM anchor_epochs WHERE epoch > $1 ORDER BY epoch LIMIT $2", int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("epochs: %w", err)
	}
	return es, nil
}

// Unfinished implements anchor.Store.
func (s *Store) Unfinished(ctx context.Context) ([]*anchor.Epoch, error) {
	es, err := s.epochs(ctx, "SELECT body FROM anchor_epochs WHERE state NOT IN ('confirmed', 'failed') ORDER BY epoch")
	if err != nil {
		return nil, fmt.Errorf("unfinished: %w", err)
	}
	return es, nil
}

// LastEpoch implements anchor.Store.
func (s *Store) LastEpoch(ctx context.Context) (uint64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT COALESCE(max(epoch), 0) FROM anchor_epochs").Scan(&n); err != nil {
		return 0, fmt.Errorf("last epoch: %w", err)
	}
	return uint64(n), nil
}

// Leaves implements anchor.Store.
func (s *Store) Leaves(ctx context.Context, epoch uint64) ([]merkle.Leaf, error) {
	rows, err := s.pool.Query(ctx, "SELECT twin, seq, digest FROM anchor_leaves WHERE epoch = $1 ORDER BY twin", int64(epoch))
	if err != nil {
		return nil, fmt.Errorf("leaves: %w", err)
	}
	hs, err := scanHeads(rows)
	if err != nil {
		return nil, fmt.Errorf("leaves: %w", err)
	}
	out := make([]merkle.Leaf, len(hs))
	for i, h := range hs {
		out[i] = merkle.Leaf(h)
	}
	return out, nil
}

// scanHeads reads rows of (twin, seq, digest).
func scanHeads(rows pgx.Rows) ([]anchor.Head, error) {
	var out []anchor.Head
	var (
		id  string
		seq int64
		d   []byte
	)
	_, err := pgx.ForEachRow(rows, []any{&id, &seq, &d}, func() error {
		out = append(out, anchor.Head{Twin: id, Seq: uint64(seq), Digest: twin.Hash(d)})
		return nil
	})
	return out, err
}

// LeavesFrom implements anchor.Store.
func (s *Store) LeavesFrom(ctx context.Context, id string, seq uint64, limit int) ([]anchor.LeafRef, error) {
	rows, err := s.pool.Query(ctx, "SELECT epoch, seq, digest FROM anchor_leaves WHERE twin = $1 AND seq >= $2 ORDER BY seq, epoch LIMIT $3",
		id, int64(seq), limit)
	if err != nil {
		return nil, fmt.Errorf("leaves of %s: %w", id, err)
	}
	var out []anchor.LeafRef
	var (
		ep, sq int64
		d      []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&ep, &sq, &d}, func() error {
		out = append(out, anchor.LeafRef{Epoch: uint64(ep), Leaf: merkle.Leaf{Twin: id, Seq: uint64(sq), Digest: twin.Hash(d)}})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("leaves of %s: %w", id, err)
	}
	return out, nil
}

// CutSeq implements anchor.Store.
func (s *Store) CutSeq(ctx context.Context, id string) (uint64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT seq FROM anchor_cuts WHERE twin = $1", id).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cut seq: %w", err)
	}
	return uint64(n), nil
}

// NextNonce implements anchor.Store.
func (s *Store) NextNonce(ctx context.Context, a common.Address) (uint64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT next FROM anchor_nonces WHERE account = $1", a[:]).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("nonce: %w", err)
	}
	return uint64(n), nil
}

// ChangedHeads is an anchor.HeadSource that lists, in id order after the id
// after, the heads of twins whose seq is above their last cut: what the
// anchoring leader has still to anchor, whichever node committed it. It
// reads the twins table of store/pg in the same schema.
func (s *Store) ChangedHeads(ctx context.Context, after string, limit int) ([]anchor.Head, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.id, t.seq, t.digest FROM twins t LEFT JOIN anchor_cuts c ON c.twin = t.id
WHERE t.id > $1 AND t.seq > COALESCE(c.seq, 0) ORDER BY t.id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("changed heads: %w", err)
	}
	out, err := scanHeads(rows)
	if err != nil {
		return nil, fmt.Errorf("changed heads: %w", err)
	}
	return out, nil
}

// Leader returns the stored fence and holder of the anchoring leader (0, ""
// before any write).
func (s *Store) Leader(ctx context.Context) (uint64, string, error) {
	var (
		f int64
		h string
	)
	err := s.pool.QueryRow(ctx, "SELECT fence, holder FROM anchor_leader WHERE id = 1").Scan(&f, &h)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("anchor leader: %w", err)
	}
	return uint64(f), h, nil
}
