package twin

import (
	"context"
	"time"
)

// Store persists twins, their history and their alerts. Implementations:
// store/embedded (the default, no server) and store/pg (PostgreSQL).
//
// Commit is the only write. Everything in one Batch becomes durable
// together or not at all; the runtime acknowledges input only after Commit
// returns nil. Re-committing records with the same keys (a replay after a
// crash) overwrites them with identical values and is not an error.
type Store interface {
	// Twin returns the latest committed snapshot of a twin, or an error
	// wrapping ErrNotFound.
	Twin(ctx context.Context, id string) (*Twin, error)
	// Twins lists committed twins in id order.
	Twins(ctx context.Context, q TwinQuery) ([]*Twin, error)
	// Commit writes b atomically and durably.
	Commit(ctx context.Context, b *Batch) error
	// History returns a twin's applied events in seq order.
	History(ctx context.Context, q HistoryQuery) ([]Record, error)
	// Alerts returns a twin's alerts in order (all twins' if q.Twin is "").
	Alerts(ctx context.Context, q AlertQuery) ([]Alert, error)
	// Close releases the store.
	Close() error
}

// TimerIndex is implemented by stores that index the twins whose snapshot
// holds processing-time timers: LoadTimers then reads only those twins at
// start instead of every twin of the store.
type TimerIndex interface {
	// TimerTwins returns up to limit twins, in id order, after after, with
	// their timers: every twin whose snapshot holds processing-time timers
	// (and maybe some that no longer do); an error wrapping
	// errors.ErrUnsupported if the store cannot tell (LoadTimers then
	// lists every twin). One call reads a whole page: for a store behind a
	// network (PostgreSQL) a round trip per twin would cost more than
	// listing every twin once most twins have such timers.
	TimerTwins(ctx context.Context, after string, limit int) ([]TwinTimers, error)
}

// TwinTimers is a twin's id and its pending timers.
type TwinTimers struct {
	ID     string
	Timers []Timer
}

// Batch is one atomic write.
type Batch struct {
	Twins   []*Twin  // new snapshots, replacing the old ones
	Records []Record // history records to add
	Alerts  []Alert  // alerts to add
	// Fences, in a cluster, maps each partition whose input the batch
	// applied to the fence token the committing node holds for it. A store
	// that fences (PostgreSQL) writes nothing and returns a *FencedError
	// when it has seen a higher token for one of them, and otherwise records
	// the tokens in the same transaction. Nil outside a cluster.
	Fences map[int]uint64
	// Same, if not nil, parallels Twins: Same[i] says that Twins[i] has the
	// Status, Kind and Custodian of the snapshot it replaces (the twin is
	// not new), and has processing-time timers if and only if that snapshot
	// had (TimerIndex). A store that indexes those may skip their upkeep
	// (and the read of the old snapshot it would take); others ignore it.
	Same []bool
}

// Reset empties b for reuse, keeping its capacity.
func (b *Batch) Reset() {
	clear(b.Twins)
	b.Twins = b.Twins[:0]
	b.Same = b.Same[:0]
	b.Records = b.Records[:0]
	b.Alerts = b.Alerts[:0]
	b.Fences = nil
}

// TwinQuery selects twins. Zero fields do not filter.
type TwinQuery struct {
	After     string // cursor: only ids > After
	Limit     int    // 0 means 100
	Status    string
	Kind      string
	Custodian string
	// StaleBefore, if set, keeps only twins whose data is older: their
	// DataTime is before it (e.g. now − 3 h for "no data for 3 hours").
	StaleBefore time.Time
}

// Match reports whether t passes the filters of q other than After and Limit.
func (q *TwinQuery) Match(t *Twin) bool {
	return (q.Status == "" || t.Status == q.Status) && (q.Kind == "" || t.Kind == q.Kind) &&
		(q.Custodian == "" || t.Custodian == q.Custodian) &&
		(q.StaleBefore.IsZero() || t.DataTime().Before(q.StaleBefore))
}

// HistoryQuery selects history records of one twin.
type HistoryQuery struct {
	Twin     string
	AfterSeq uint64    // only seq > AfterSeq
	From, To time.Time // event time range; zero = open
	Limit    int       // 0 means 100
}

// AlertQuery selects alerts.
type AlertQuery struct {
	Twin     string    // "" = all twins (newest first)
	AfterN   uint64    // only alert numbers > AfterN (one twin)
	From, To time.Time // event time range; zero = open
	Limit    int       // 0 means 100
}
