package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/custos-dev/custos/twin"
)

var (
	_ twin.Store      = (*DB)(nil)
	_ twin.TimerIndex = (*DB)(nil)
)

// defaultLimit applies when a query's Limit is zero or negative.
const defaultLimit = 100

// DB is the embedded store. It is safe for concurrent use. Commits of
// disjoint sets of twins run concurrently and share WAL syncs; a commit
// waits for any commit in flight that writes one of its twins (the
// secondary indexes are maintained from the previous snapshot). Reads run
// concurrently with each other and with commits.
type DB struct {
	pdb *pebble.DB
	log *slog.Logger

	// life guards pdb against Close: every operation holds it for reading.
	life   sync.RWMutex
	closed bool

	// commitMu guards the fields below. A commit holds it while it builds
	// its pebble batch and again once the batch is durable, but not while
	// the WAL syncs: commits of disjoint twins overlap and share syncs,
	// while a commit touching a twin of a batch in flight waits for it
	// (index maintenance reads the previous snapshot's indexed fields).
	commitMu sync.Mutex
	settled  *sync.Cond          // broadcast when a batch leaves inflight
	inflight map[string]struct{} // twins of batches being written
	key, val []byte              // scratch space for keys and values
	last     map[string]int      // scratch: last index of each twin in a batch
	known    map[string]indexed  // indexed fields of recently committed twins
	maxKnown int

	dir     string
	minFree uint64
	free    func(dir string) (uint64, error)
	failed  error // set once a commit panicked in pebble; every commit returns it
}

// pendingIndexed is a snapshot written by a commit in flight.
type pendingIndexed struct {
	id   string
	x    indexed
	same bool // the indexed fields were left as they were (Batch.Same)
}

// defaultMaxKnown bounds DB.known; past it the map starts over (a miss only
// costs a point read). 256 Ki entries are some tens of MiB.
const defaultMaxKnown = 1 << 18

// Option configures Open. Options validate their argument and make Open
// fail if it is out of range.
type Option func(*options) error

type options struct {
	log       *slog.Logger
	cacheSize int64
	memtable  uint64
	minFree   uint64
	free      func(dir string) (uint64, error)
	fs        vfs.FS
}

// WithFS makes the store use fs instead of the operating system's files (a
// test seam: a filesystem that fails writes with ENOSPC).
func WithFS(fs vfs.FS) Option {
	return func(o *options) error {
		if fs == nil {
			return errors.New("nil fs")
		}
		o.fs = fs
		return nil
	}
}

// WithMinFree sets the free space in bytes the store keeps in reserve
// (default 64 MiB): below it, Open and Commit fail with ErrDiskFull instead
// of letting pebble hit "no space left on device" in its WAL, which it
// cannot recover from. 0 turns the check off.
func WithMinFree(n uint64) Option {
	return func(o *options) error {
		o.minFree = n
		return nil
	}
}

// WithFreeSpace replaces the measure of free space (statfs of the
// directory) with f: a test seam for the disk-full cycle.
func WithFreeSpace(f func(dir string) (uint64, error)) Option {
	return func(o *options) error {
		if f == nil {
			return errors.New("nil free-space function")
		}
		o.free = f
		return nil
	}
}

// WithLogger sends pebble's log lines to l at debug level (errors at error
// level). The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("nil logger")
		}
		o.log = l
		return nil
	}
}

// WithCacheSize sets the size in bytes of the block cache (default 64 MiB).
func WithCacheSize(n int64) Option {
	return func(o *options) error {
		if n < 1<<20 {
			return fmt.Errorf("cache size %d: want at least 1 MiB", n)
		}
		o.cacheSize = n
		return nil
	}
}

// WithMemTableSize sets the size in bytes of a memtable (default 64 MiB).
// Larger memtables mean fewer flushes during ingest.
func WithMemTableSize(n int) Option {
	return func(o *options) error {
		if n < 1<<20 || n > 1<<30 {
			return fmt.Errorf("memtable size %d: want 1 MiB to 1 GiB", n)
		}
		o.memtable = uint64(n)
		return nil
	}
}

// Open opens the store in directory dir, creating it if needed. Only one
// process may have a directory open at a time (pebble locks it).
func Open(dir string, opts ...Option) (*DB, error) {
	o := options{log: slog.Default(), cacheSize: 64 << 20, memtable: 64 << 20, minFree: 64 << 20, free: freeSpace, fs: vfs.Default}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("embedded open: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded open: %w", err)
	}
	if err := checkSpace(dir, o.minFree, o.free); err != nil {
		return nil, fmt.Errorf("embedded open: %w", err)
	}
	cache := pebble.NewCache(o.cacheSize)
	defer cache.Unref()
	po := &pebble.Options{
		// A write that hits "no space left on device" waits (every write
		// of the store does) until the reserve is free again, then is
		// retried; pebble would otherwise treat it as fatal.
		FS:                 vfs.OnDiskFull(o.fs, func() { waitForSpace(dir, o) }),
		Cache:              cache,
		MemTableSize:       o.memtable,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{o.log},
		// Two concurrent compactions at most on a small machine.
		CompactionConcurrencyRange: func() (int, int) { return 1, 2 },
		L0CompactionThreshold:      4,
		L0StopWritesThreshold:      24,
	}
	pdb, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("embedded open %s: %w", dir, err)
	}
	db := &DB{pdb: pdb, log: o.log, inflight: map[string]struct{}{}, last: map[string]int{},
		known: map[string]indexed{}, maxKnown: defaultMaxKnown, dir: dir, minFree: o.minFree, free: o.free}
	db.settled = sync.NewCond(&db.commitMu)
	if err := db.fillTimerIndex(); err != nil {
		pdb.Close()
		return nil, fmt.Errorf("embedded open %s: timer index: %w", dir, err)
	}
	return db, nil
}

// putTimerKey writes or deletes t's entry in the 'p' space.
func putTimerKey(pb *pebble.Batch, t *twin.Twin, key *[]byte) error {
	*key = timerKey((*key)[:0], t.ID)
	if t.HasProcessingTimer() {
		return pb.Set(*key, nil, nil)
	}
	return pb.Delete(*key, nil)
}

// fillTimerIndex lists the twins with processing-time timers in the 'p'
// space once, for a store written before that space existed: it reads
// every snapshot. A new store only gets the mark.
func (db *DB) fillTimerIndex() error {
	switch _, closer, err := db.pdb.Get(metaTimerIndex); {
	case err == nil:
		closer.Close()
		return nil
	case !errors.Is(err, pebble.ErrNotFound):
		return err
	}
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{spaceSnapshot}, UpperBound: []byte{spaceSnapshot + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	pb := db.pdb.NewBatch()
	defer func() { pb.Close() }()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		id := string(it.Key()[1:])
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		t, err := decodeSnapshot(id, v)
		if err != nil {
			return fmt.Errorf("twin %s: %w", id, err)
		}
		if t.HasProcessingTimer() {
			if err := pb.Set(timerKey(nil, id), nil, nil); err != nil {
				return err
			}
		}
		if n++; n%10_000 == 0 {
			if err := pb.Commit(pebble.NoSync); err != nil {
				return err
			}
			pb.Close()
			pb = db.pdb.NewBatch()
		}
	}
	if err := pb.Set(metaTimerIndex, nil, nil); err != nil {
		return err
	}
	if n > 0 {
		db.log.Info("embedded store: listed the twins with processing-time timers (once, for a store from before that list)", "twins", n)
	}
	return pb.Commit(pebble.Sync)
}

var _ twin.TimerIndex = (*DB)(nil)

// TimerTwins lists the twins with processing-time timers (a
// twin.TimerIndex): up to limit after after, in id order, each with its
// timers read from its snapshot.
func (db *DB) TimerTwins(ctx context.Context, after string, limit int) ([]twin.TwinTimers, error) {
	if err := db.enter(ctx); err != nil {
		return nil, fmt.Errorf("timer twins: %w", err)
	}
	defer db.life.RUnlock()
	lower := timerKey(nil, after)
	if after != "" {
		lower = append(lower, 0) // strictly after
	}
	it, err := db.pdb.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: []byte{spaceTimers + 1}})
	if err != nil {
		return nil, fmt.Errorf("timer twins: %w", err)
	}
	defer it.Close()
	var out []twin.TwinTimers
	for ok := it.First(); ok && len(out) < limitOf(limit); ok = it.Next() {
		id := string(it.Key()[1:])
		t, err := db.get(id)
		if errors.Is(err, twin.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("timer twins: %w", err)
		}
		out = append(out, twin.TwinTimers{ID: id, Timers: t.Timers})
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("timer twins: %w", err)
	}
	return out, nil
}

// checkSpace returns an error wrapping ErrDiskFull when dir's filesystem
// has less than minFree bytes free.
func checkSpace(dir string, minFree uint64, free func(string) (uint64, error)) error {
	if minFree == 0 {
		return nil
	}
	n, err := free(dir)
	if err != nil {
		return fmt.Errorf("free space of %s: %w", dir, err)
	}
	if n < minFree {
		return fmt.Errorf("%w: %s has %d MiB free, the store keeps %d MiB in reserve; free some space",
			ErrDiskFull, dir, n>>20, minFree>>20)
	}
	return nil
}

// waitForSpace blocks until dir has the reserve free again (at least
// 64 MiB when the reserve check is off), polling once a second. Pebble
// calls it when a write failed with ENOSPC, with all writes held.
func waitForSpace(dir string, o options) {
	need := max(o.minFree, 64<<20)
	o.log.Error("embedded store: no space left on device; writes wait until space is freed", "dir", dir, "need_mib", need>>20)
	for {
		if n, err := o.free(dir); err == nil && n >= need {
			o.log.Info("embedded store: space is back; writes resume", "dir", dir, "free_mib", n>>20)
			return
		}
		time.Sleep(spacePoll)
	}
}

// spacePoll is how often a store waiting for disk space looks again.
var spacePoll = time.Second

// Ping reports whether the store can take commits: not failed, and the
// disk not full (for /readyz).
func (db *DB) Ping(ctx context.Context) error {
	db.commitMu.Lock()
	failed := db.failed
	db.commitMu.Unlock()
	if failed != nil {
		return failed
	}
	return checkSpace(db.dir, db.minFree, db.free)
}

// pebbleLogger adapts slog to pebble's Logger.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble")
	panic("pebble: " + msg)
}

// Close flushes nothing (every commit is already durable) and releases the
// directory. Calling it again returns nil; other methods then return
// ErrClosed.
func (db *DB) Close() error {
	db.life.Lock()
	defer db.life.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	if err := db.pdb.Close(); err != nil {
		return fmt.Errorf("embedded close: %w", err)
	}
	return nil
}

// enter takes the read side of life; the caller must call db.life.RUnlock.
func (db *DB) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.life.RLock()
	if db.closed {
		db.life.RUnlock()
		return ErrClosed
	}
	return nil
}

func validIDs(b *twin.Batch) error {
	for _, t := range b.Twins {
		if !twin.ValidID(t.ID) {
			return fmt.Errorf("twin %q: %w", t.ID, twin.ErrInvalidID)
		}
	}
	for i := range b.Records {
		if id := b.Records[i].Twin; !twin.ValidID(id) {
			return fmt.Errorf("record of %q: %w", id, twin.ErrInvalidID)
		}
	}
	for i := range b.Alerts {
		if id := b.Alerts[i].Twin; !twin.ValidID(id) {
			return fmt.Errorf("alert of %q: %w", id, twin.ErrInvalidID)
		}
	}
	return nil
}

// Commit writes b in one pebble batch, synced to the WAL before it returns.
// Nothing of b is visible to readers, nor after a crash, unless all of it is.
// If b holds several snapshots of one twin, the last one wins.
func (db *DB) Commit(ctx context.Context, b *twin.Batch) error {
	if len(b.Fences) > 0 {
		// One process owns an embedded store: there is nothing to fence,
		// and a cluster needs a shared store (PostgreSQL).
		return errors.New("commit: the embedded store does not fence partitions (a cluster needs the postgres store)")
	}
	if err := validIDs(b); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := db.enter(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	defer db.life.RUnlock()

	if err := checkSpace(db.dir, db.minFree, db.free); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	pb := db.pdb.NewBatch(pebble.WithMaxRetainedSizeBytes(maxRetainedBatch))
	defer pb.Close()
	db.commitMu.Lock()
	if db.failed != nil {
		db.commitMu.Unlock()
		return fmt.Errorf("commit: %w", db.failed)
	}
	for db.busy(b) {
		db.settled.Wait()
	}
	written, err := db.fill(pb, b)
	if err != nil {
		db.commitMu.Unlock()
		return fmt.Errorf("commit: %w", err)
	}
	for _, w := range written {
		db.inflight[w.id] = struct{}{}
	}
	db.commitMu.Unlock()

	// Checked once more: a batch built for a cancelled caller is not written.
	err = ctx.Err()
	if err == nil && !pb.Empty() {
		err = db.commitBatch(pb)
	}

	db.commitMu.Lock()
	if len(db.known)+len(written) > db.maxKnown {
		clear(db.known)
	}
	for _, w := range written {
		delete(db.inflight, w.id)
		if err == nil {
			if !w.same {
				db.known[w.id] = w.x
			}
		} else {
			delete(db.known, w.id) // unknown whether it was written: read it next time
		}
	}
	db.settled.Broadcast()
	db.commitMu.Unlock()
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// maxRetainedBatch is the largest write buffer a pebble batch keeps for
// its next use. Pebble's default, 1 MiB, is less than a group commit under
// load writes (tens of MiB with 50-reading messages), so each such commit
// grew a fresh buffer by doubling: 11 % of all the bytes a bench run
// allocated, and the copies. A group is bounded (internal/bus), so is this.
const maxRetainedBatch = 64 << 20

// commitBatch commits pb durably. Pebble treats a failed WAL write (a full
// disk the reserve did not cover) as fatal and panics through its logger;
// the panic is turned into ErrFailed here, so the process stays up, says
// why on /readyz, and acknowledges nothing more.
func (db *DB) commitBatch(pb *pebble.Batch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrFailed, r)
			db.commitMu.Lock()
			db.failed = err
			db.commitMu.Unlock()
		}
	}()
	return pb.Commit(pebble.Sync)
}

// busy reports whether a twin of b is in a batch being written. Called with
// commitMu held.
func (db *DB) busy(b *twin.Batch) bool {
	if len(db.inflight) == 0 {
		return false
	}
	for _, t := range b.Twins {
		if _, ok := db.inflight[t.ID]; ok {
			return true
		}
	}
	return false
}

// fill puts the writes of b into pb and returns the snapshots it wrote.
// Called with commitMu held.
func (db *DB) fill(pb *pebble.Batch, b *twin.Batch) ([]pendingIndexed, error) {
	written := make([]pendingIndexed, 0, len(b.Twins))
	dups := false
	if len(b.Twins) > 1 {
		clear(db.last)
		for i, t := range b.Twins {
			if _, ok := db.last[t.ID]; ok {
				dups = true
			}
			db.last[t.ID] = i
		}
	}
	same := len(b.Same) == len(b.Twins) && !dups // with dups, Same compares with the one before in b
	for i, t := range b.Twins {
		if dups && db.last[t.ID] != i {
			continue
		}
		if same && b.Same[i] {
			// Indexed fields and the timer mark as they were: no index
			// upkeep, no 'p' key write, and no read of the old snapshot (a
			// point read per twin when DB.known misses, as it does for most
			// twins of a large fleet).
			db.key = snapshotKey(db.key[:0], t.ID)
			db.val = appendSnapshot(db.val[:0], t)
			if err := pb.Set(db.key, db.val, nil); err != nil {
				return nil, err
			}
			written = append(written, pendingIndexed{id: t.ID, same: true})
			continue
		}
		if err := putTimerKey(pb, t, &db.key); err != nil {
			return nil, err
		}
		x, err := db.putSnapshot(pb, t)
		if err != nil {
			return nil, err
		}
		written = append(written, pendingIndexed{id: t.ID, x: x})
	}
	for i := range b.Records {
		r := &b.Records[i]
		db.key = seqKey(db.key[:0], spaceHistory, r.Twin, r.Seq)
		db.val = appendRecord(db.val[:0], r)
		if err := pb.Set(db.key, db.val, nil); err != nil {
			return nil, err
		}
	}
	for i := range b.Alerts {
		a := &b.Alerts[i]
		db.key = seqKey(db.key[:0], spaceAlert, a.Twin, a.N)
		db.val = appendAlert(db.val[:0], a)
		if err := pb.Set(db.key, db.val, nil); err != nil {
			return nil, err
		}
		db.key = alertTimeKey(db.key[:0], a.Time, a.Twin, a.N)
		if err := pb.Set(db.key, nil, nil); err != nil {
			return nil, err
		}
	}
	return written, nil
}

// putSnapshot writes t and moves its index entries if an indexed field
// changed. The previous values come from DB.known or else from the stored
// snapshot, of which only the first few bytes are decoded.
func (db *DB) putSnapshot(pb *pebble.Batch, t *twin.Twin) (indexed, error) {
	x := indexed{t.Status, t.Kind, t.Custodian}
	db.key = snapshotKey(db.key[:0], t.ID)
	old, ok := db.known[t.ID]
	fresh := !ok
	var v []byte
	var closer io.Closer
	var err error
	if fresh {
		v, closer, err = db.pdb.Get(db.key)
	}
	switch {
	case !fresh:
	case err == nil:
		old, err = decodeIndexed(v)
		closer.Close()
		if err != nil {
			return x, fmt.Errorf("twin %s: %w", t.ID, err)
		}
		fresh = false
	case errors.Is(err, pebble.ErrNotFound):
	default:
		return x, fmt.Errorf("twin %s: %w", t.ID, err)
	}
	db.val = appendSnapshot(db.val[:0], t)
	if err := pb.Set(db.key, db.val, nil); err != nil {
		return x, err
	}
	for _, f := range [...]struct {
		field    byte
		old, new string
	}{
		{fieldStatus, old.status, t.Status},
		{fieldKind, old.kind, t.Kind},
		{fieldCustodian, old.custodian, t.Custodian},
	} {
		if !fresh && f.old == f.new {
			continue
		}
		if !fresh && f.old != "" {
			db.key = append(indexPrefix(db.key[:0], f.field, f.old), t.ID...)
			if err := pb.Delete(db.key, nil); err != nil {
				return x, err
			}
		}
		if f.new != "" {
			db.key = append(indexPrefix(db.key[:0], f.field, f.new), t.ID...)
			if err := pb.Set(db.key, nil, nil); err != nil {
				return x, err
			}
		}
	}
	return x, nil
}

// Twin returns the latest committed snapshot of id.
func (db *DB) Twin(ctx context.Context, id string) (*twin.Twin, error) {
	if err := db.enter(ctx); err != nil {
		return nil, fmt.Errorf("twin %s: %w", id, err)
	}
	defer db.life.RUnlock()
	t, err := db.get(id)
	if err != nil {
		return nil, fmt.Errorf("twin %s: %w", id, err)
	}
	return t, nil
}

func (db *DB) get(id string) (*twin.Twin, error) {
	if !twin.ValidID(id) {
		return nil, twin.ErrNotFound
	}
	v, closer, err := db.pdb.Get(snapshotKey(make([]byte, 0, 1+len(id)), id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, twin.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return decodeSnapshot(id, v)
}

func limitOf(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}

// Twins lists twins in id order. Without filters it scans snapshots from
// After; with filters it scans the index of one of them (custodian, else
// kind, else status: the likely most selective) and checks the others on
// the snapshot.
func (db *DB) Twins(ctx context.Context, q twin.TwinQuery) ([]*twin.Twin, error) {
	if err := db.enter(ctx); err != nil {
		return nil, fmt.Errorf("twins: %w", err)
	}
	defer db.life.RUnlock()
	out, err := db.twins(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("twins: %w", err)
	}
	return out, nil
}

func (db *DB) twins(ctx context.Context, q twin.TwinQuery) ([]*twin.Twin, error) {
	limit := limitOf(q.Limit)
	var prefix []byte
	switch {
	case q.Custodian != "":
		prefix = indexPrefix(nil, fieldCustodian, q.Custodian)
	case q.Kind != "":
		prefix = indexPrefix(nil, fieldKind, q.Kind)
	case q.Status != "":
		prefix = indexPrefix(nil, fieldStatus, q.Status)
	default:
		prefix = []byte{spaceSnapshot}
	}
	lower := append(append([]byte(nil), prefix...), q.After...)
	if q.After != "" {
		lower = append(lower, 0) // strictly after
	}
	it, err := db.pdb.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	indexScan := prefix[0] == spaceIndex
	out := make([]*twin.Twin, 0, min(limit, 64))
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		id := string(it.Key()[len(prefix):])
		var t *twin.Twin
		if indexScan {
			t, err = db.get(id)
			if errors.Is(err, twin.ErrNotFound) {
				continue // an index entry without snapshot: ignore it
			}
		} else {
			var v []byte
			if v, err = it.ValueAndErr(); err == nil {
				t, err = decodeSnapshot(id, v)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("twin %s: %w", id, err)
		}
		// Checks every filter, the scanned one too, so that a stale index
		// entry could never list a twin under a value it no longer has.
		if !q.Match(t) {
			continue
		}
		out = append(out, t)
	}
	return out, it.Error()
}

func inRange(t, from, to time.Time) bool {
	return (from.IsZero() || !t.Before(from)) && (to.IsZero() || t.Before(to))
}

// History returns one twin's records in seq order. AfterSeq seeks; the time
// range is checked record by record (event times need not grow with seq).
func (db *DB) History(ctx context.Context, q twin.HistoryQuery) ([]twin.Record, error) {
	if err := db.enter(ctx); err != nil {
		return nil, fmt.Errorf("history %s: %w", q.Twin, err)
	}
	defer db.life.RUnlock()
	if !twin.ValidID(q.Twin) || q.AfterSeq == math.MaxUint64 {
		return nil, nil
	}
	limit := limitOf(q.Limit)
	prefix := twinPrefix(nil, spaceHistory, q.Twin)
	it, err := db.pdb.NewIterWithContext(ctx, &pebble.IterOptions{
		LowerBound: seqKey(nil, spaceHistory, q.Twin, q.AfterSeq+1),
		UpperBound: prefixEnd(prefix),
	})
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", q.Twin, err)
	}
	defer it.Close()
	out := make([]twin.Record, 0, min(limit, 128))
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+8 {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("history %s: %w", q.Twin, err)
		}
		seq := beUint64(k[len(prefix):])
		r, err := decodeRecord(q.Twin, seq, v)
		if err != nil {
			return nil, fmt.Errorf("history %s seq %d: %w", q.Twin, seq, err)
		}
		if inRange(r.Time, q.From, q.To) {
			out = append(out, r)
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("history %s: %w", q.Twin, err)
	}
	return out, nil
}

// Alerts returns one twin's alerts by ascending N, or, when q.Twin is "",
// every twin's alerts newest first (descending time, twin id, N) from the
// time index.
func (db *DB) Alerts(ctx context.Context, q twin.AlertQuery) ([]twin.Alert, error) {
	if err := db.enter(ctx); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	defer db.life.RUnlock()
	var out []twin.Alert
	var err error
	if q.Twin == "" {
		out, err = db.allAlerts(ctx, q)
	} else {
		out, err = db.twinAlerts(ctx, q)
	}
	if err != nil {
		return nil, fmt.Errorf("alerts %s: %w", q.Twin, err)
	}
	return out, nil
}

func (db *DB) twinAlerts(ctx context.Context, q twin.AlertQuery) ([]twin.Alert, error) {
	if !twin.ValidID(q.Twin) || q.AfterN == math.MaxUint64 {
		return nil, nil
	}
	limit := limitOf(q.Limit)
	prefix := twinPrefix(nil, spaceAlert, q.Twin)
	it, err := db.pdb.NewIterWithContext(ctx, &pebble.IterOptions{
		LowerBound: seqKey(nil, spaceAlert, q.Twin, q.AfterN+1),
		UpperBound: prefixEnd(prefix),
	})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []twin.Alert
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+8 {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		n := beUint64(k[len(prefix):])
		a, err := decodeAlert(q.Twin, n, v)
		if err != nil {
			return nil, fmt.Errorf("n %d: %w", n, err)
		}
		if inRange(a.Time, q.From, q.To) {
			out = append(out, a)
		}
	}
	return out, it.Error()
}

func (db *DB) allAlerts(ctx context.Context, q twin.AlertQuery) ([]twin.Alert, error) {
	limit := limitOf(q.Limit)
	opts := &pebble.IterOptions{
		LowerBound: []byte{spaceAlertsTime},
		UpperBound: []byte{spaceAlertsTime + 1},
	}
	if !q.From.IsZero() {
		opts.LowerBound = beAppend([]byte{spaceAlertsTime}, timeOrder(q.From))
	}
	if !q.To.IsZero() {
		opts.UpperBound = beAppend([]byte{spaceAlertsTime}, timeOrder(q.To))
	}
	it, err := db.pdb.NewIterWithContext(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []twin.Alert
	var key []byte
	for ok := it.Last(); ok && len(out) < limit; ok = it.Prev() {
		id, n, ok := parseAlertTimeKey(it.Key())
		if !ok {
			continue
		}
		key = seqKey(key[:0], spaceAlert, id, n)
		v, closer, err := db.pdb.Get(key)
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		a, err := decodeAlert(id, n, v)
		closer.Close()
		if err != nil {
			return nil, fmt.Errorf("%s n %d: %w", id, n, err)
		}
		// An alert re-committed with another time leaves a stale entry.
		if timeOrder(a.Time) != beUint64(it.Key()[1:9]) {
			continue
		}
		out = append(out, a)
	}
	return out, it.Error()
}
