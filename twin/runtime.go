package twin

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Runtime. Store and Contracts are required.
type Config struct {
	Store     Store
	Contracts ContractHost
	// Shards is the number of single-writer shards; default GOMAXPROCS.
	Shards int
	// IdleAfter passivates resident twins not touched for this long
	// (default 10 minutes). Passivated twins are reloaded from the store on
	// their next event.
	IdleAfter time.Duration
	// MaxResident caps twins kept in memory across all shards (default
	// 2,000,000); beyond it the least frequently touched are passivated,
	// and of equally frequent ones the last loaded (shard.evict).
	MaxResident int
	// CompactAfter packs resident twins not touched for this long into
	// their compact in-memory form (default 5 s; negative: never). They
	// stay resident: their next event unpacks them without a store read.
	CompactAfter time.Duration
	Logger       *slog.Logger
	// Results, if set, receives the result of every command input
	// (creates, events, upgrades; not readings) once its batch is durable,
	// in stream order, from the goroutine that calls Commit. A cluster
	// passes them on to the node that took the request (see Notify).
	Results func(seq uint64, res Result)
}

// Runtime applies inputs to twins. Twins are records owned by a fixed set of
// shards; a twin always maps to the same shard, so its events apply one at a
// time, in order, by one writer. Process is called by one ingest loop at a
// time; reads go to the Store.
type Runtime struct {
	cfg    Config
	log    *slog.Logger
	seed   maphash.Seed
	shards []*shard

	mu     sync.Mutex // serializes Apply (and Evict, Passivate)
	cmu    sync.Mutex // serializes Commit
	broken atomic.Bool
	// committed is the number of the last committed Apply; twins touched by
	// later ones are ahead of the store and must not be passivated.
	committed atomic.Uint64
	timers    *timerQueue
	waiters   waiters

	stats struct {
		applied, duplicates, rejected, contractErrors, loads, passivated, batches atomic.Uint64
	}
}

// Result says what happened to one Input.
type Result struct {
	// Err is set when the whole input was refused (unknown twin, twin
	// exists, …). Nothing changed.
	Err *InputError
	// Duplicate: the input had been applied before (a redelivery); skipped.
	Duplicate bool
	// Failed lists events of the input that were not applied (contract
	// failure or refusal); the others were.
	Failed []FailedEvent
	// Seq is the twin's sequence number after the input.
	Seq uint64
}

// FailedEvent is one event of an input that was not applied.
type FailedEvent struct {
	Index int
	Err   *InputError
}

// StateUpdate is the new public state of a twin after a batch: the JSON
// value for KV bucket custos_twins and subject custos.twin.<id>.state.
type StateUpdate struct {
	Twin   string
	Seq    uint64
	Digest Hash
	JSON   []byte
	// Prev is the input stream sequence of the state this one replaces (the
	// twin's StreamSeq before the batch; 0 for a twin the batch created).
	// States published in input order lie in that order wherever they are
	// kept, so a publisher can write a batch of them in Prev order and
	// replace old values in the order they were written (bus: KV puts).
	Prev uint64
}

// Outcome is what one Process call did, once durable.
type Outcome struct {
	Results []Result      // parallel to the inputs
	States  []StateUpdate // one per twin changed in the batch
	Alerts  []Alert       // in order per twin
}

// New returns a Runtime.
func New(cfg Config) (*Runtime, error) {
	if cfg.Store == nil {
		return nil, errors.New("twin runtime: no store")
	}
	if cfg.Contracts == nil {
		return nil, errors.New("twin runtime: no contract host")
	}
	if cfg.Shards <= 0 {
		cfg.Shards = runtime.GOMAXPROCS(0)
	}
	if cfg.IdleAfter <= 0 {
		cfg.IdleAfter = 10 * time.Minute
	}
	if cfg.MaxResident <= 0 {
		cfg.MaxResident = 2_000_000
	}
	if cfg.CompactAfter == 0 {
		cfg.CompactAfter = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Runtime{cfg: cfg, log: cfg.Logger, seed: maphash.MakeSeed(), timers: newTimerQueue()}
	r.waiters.init()
	for i := 0; i < cfg.Shards; i++ {
		r.shards = append(r.shards, &shard{rt: r, twins: make(map[string]*resident), cold: newColdTable(),
			refIndex: make(map[ContractRef]uint64), hasher: NewHasher()})
	}
	return r, nil
}

func (r *Runtime) shardOf(id string) *shard {
	return r.shards[maphash.String(r.seed, id)%uint64(len(r.shards))]
}

// Process applies a batch of inputs, in order per twin, commits the result
// to the store in one atomic write and returns what changed. If it returns an
// error nothing of the batch is durable and the twins it touched are dropped
// from memory (reloaded from the store next time); the caller should deliver
// the same inputs again.
func (r *Runtime) Process(ctx context.Context, in []Input) (*Outcome, error) {
	st, err := r.Apply(ctx, in)
	if err == nil {
		var out *Outcome
		if out, err = r.Commit(ctx, st); err == nil {
			return out, nil
		}
	}
	r.Evict()
	return nil, err
}

// Step is a batch applied in memory but not yet durable. Commit it, in the
// order the steps were applied, or drop it after calling Evict.
type Step struct {
	no    uint64 // Apply number
	in    []Input
	out   *Outcome
	batch Batch
}

// SetFences attaches to the step the fence tokens of the partitions its
// input came from (see Batch.Fences); Commit hands them to the store.
func (st *Step) SetFences(f map[int]uint64) { st.batch.Fences = f }

// ErrNeedsEvict is returned by Apply after an Apply or Commit failed: the
// twins in memory may be ahead of the store, so the caller must Evict and
// deliver the unacknowledged input again.
var ErrNeedsEvict = errors.New("twin runtime: a batch failed; Evict before applying more")

// Apply applies a batch of inputs to the twins in memory, in order per
// twin, and returns the step to commit. Apply of the next batch may run
// while the previous step is being committed: that is how ingest overlaps
// CPU work with the store's sync.
func (r *Runtime) Apply(ctx context.Context, in []Input) (*Step, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken.Load() {
		return nil, ErrNeedsEvict
	}
	st := &Step{in: in, out: &Outcome{Results: make([]Result, len(in))}}
	r.stats.batches.Add(1)
	now := time.Now()
	active := 0
	for _, s := range r.shards {
		s.reset(now)
	}
	st.no = r.shards[0].batchNo
	total := 0
	for i := range in {
		s := r.shardOf(in[i].Twin)
		if len(s.inputs) == 0 {
			active++
		}
		s.inputs = append(s.inputs, i)
		s.events += len(in[i].Events)
		total += len(in[i].Events)
	}
	// One allocation each for the step's records and event bytes, a slice
	// of it per shard (capped, so a shard that outgrows its part moves out
	// rather than into its neighbour's): per shard and per step they were 9 %
	// of all the bytes ingest allocated.
	//
	// Each shard's part has room for records beyond its events (event-time
	// timers that fire add one each): a shard that outgrew its part made
	// the step gather every shard's records into a new slice.
	rooms := 0
	for _, s := range r.shards {
		if s.events > 0 {
			s.room = recordRoom(s.events)
			rooms += s.room
		}
	}
	recs := make([]Record, rooms)
	arena := make([]byte, 0, arenaPerEvent*total)
	off, aoff := 0, 0
	for _, s := range r.shards {
		s.records = recs[off : off : off+s.room]
		s.arena = arena[arenaPerEvent*aoff : arenaPerEvent*aoff : arenaPerEvent*(aoff+s.events)]
		off += s.room
		aoff += s.events
	}
	if active == 1 || len(in) <= inlineInputs {
		for _, s := range r.shards {
			if len(s.inputs) > 0 {
				s.run(ctx, in, st.out.Results)
			}
		}
	} else {
		var wg sync.WaitGroup
		for _, s := range r.shards {
			if len(s.inputs) == 0 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.run(ctx, in, st.out.Results)
			}()
		}
		wg.Wait()
	}
	b := &st.batch
	moved := false
	for _, s := range r.shards {
		if s.err != nil {
			r.broken.Store(true)
			return nil, s.err
		}
		for _, res := range s.changed {
			// A copy: the next Apply mutates the twin while this one commits.
			b.Twins = append(b.Twins, res.t.Clone())
			t := res.t
			b.Same = append(b.Same, !res.fresh && res.before == indexedOf(t))
			res.fresh = false
		}
		if cap(s.records) != s.room {
			moved = true // outgrew its part of recs (more timers fired than it had room for)
		}
		b.Alerts = append(b.Alerts, s.alerts...)
		st.out.States = append(st.out.States, s.states...)
		st.out.Alerts = append(st.out.Alerts, s.alerts...)
	}
	// The shards' records, in shard order, in one slice: moved down within
	// recs (each part starts at or after where it goes) unless one moved out.
	n := 0
	if moved { // one allocation of the right size, not append's doublings
		for _, s := range r.shards {
			n += len(s.records)
		}
		b.Records, n = make([]Record, 0, n), 0
	}
	for _, s := range r.shards {
		if moved {
			b.Records = append(b.Records, s.records...)
		} else {
			n += copy(recs[n:], s.records)
		}
		s.done()
	}
	if !moved {
		b.Records = recs[:n:n]
	}
	return st, nil
}

// recordRoom is the room for records a shard gets in a step of events
// events: its events and, for timers that fire, half as many again plus a
// few (a variable for tests).
var recordRoom = func(events int) int { return events + events/2 + 8 }

// arenaPerEvent is the room for an event's canonical encoding reserved per
// event of a step (a reading takes ~40 bytes; a larger one grows its
// shard's arena).
const arenaPerEvent = 64

// inlineInputs is the largest batch whose shards run one after the other
// on the caller's goroutine: for a few inputs, waking a goroutine per shard
// costs more than it saves.
const inlineInputs = 8

// Commit makes a step durable in one atomic store write and returns its
// outcome. Steps must be committed in the order they were applied. If it
// fails, nothing of the step is durable and the runtime refuses to Apply
// until Evict is called.
func (r *Runtime) Commit(ctx context.Context, st *Step) (*Outcome, error) {
	if err := r.CommitAll(ctx, []*Step{st}); err != nil {
		return nil, err
	}
	return st.out, nil
}

// CommitAll makes several steps durable in one atomic store write, so that
// they share one sync (a group commit): the ingest loop applies batches
// while the store syncs the previous write, and commits whatever piled up
// meanwhile at once. Steps must be given, and committed, in the order they
// were applied; Step.Outcome returns what each did. If it fails, nothing of
// any of the steps is durable and the runtime refuses to Apply until Evict
// is called.
func (r *Runtime) CommitAll(ctx context.Context, sts []*Step) error {
	if len(sts) == 0 {
		return nil
	}
	r.cmu.Lock()
	defer r.cmu.Unlock()
	if r.broken.Load() {
		return ErrNeedsEvict
	}
	b := &sts[0].batch
	if len(sts) > 1 {
		b = mergeBatches(sts)
	}
	if len(b.Twins) > 0 || len(b.Records) > 0 || len(b.Alerts) > 0 {
		if err := r.cfg.Store.Commit(ctx, b); err != nil {
			r.broken.Store(true)
			return fmt.Errorf("commit batch: %w", err)
		}
	}
	for _, t := range b.Twins {
		r.timers.set(t.ID, processingTimers(t.Timers))
	}
	r.committed.Store(sts[len(sts)-1].no)
	for _, st := range sts {
		out := st.out
		for i := range st.in {
			res := &out.Results[i]
			switch {
			case res.Duplicate:
				r.stats.duplicates.Add(1)
			case res.Err != nil:
				r.stats.rejected.Add(1)
			default:
				r.stats.applied.Add(1)
			}
		}
		r.waiters.done(st.in, out.Results)
		if r.cfg.Results != nil {
			for i := range st.in {
				if st.in[i].command() {
					r.cfg.Results(st.in[i].StreamSeq, out.Results[i])
				}
			}
		}
	}
	return nil
}

// Notify records the result of the command input at stream sequence seq
// applied by another runtime (the owner of the twin, in a cluster), for
// Wait.
func (r *Runtime) Notify(seq uint64, res Result) {
	r.waiters.notify(seq, res)
}

// mergeBatches returns the one store write of several steps: their records
// and alerts in order, and each twin's latest snapshot once (a store may
// refuse a twin twice in one write).
func mergeBatches(sts []*Step) *Batch {
	var (
		m    Batch
		last = make(map[string]int)
		n    int
	)
	for _, st := range sts {
		n += len(st.batch.Records)
	}
	m.Records = make([]Record, 0, n)
	for _, st := range sts {
		for j, t := range st.batch.Twins {
			// Same holds for the merged snapshot only if it held for every
			// step's (each is relative to the one before).
			same := j < len(st.batch.Same) && st.batch.Same[j]
			if i, ok := last[t.ID]; ok {
				m.Twins[i] = t
				m.Same[i] = m.Same[i] && same
				continue
			}
			last[t.ID] = len(m.Twins)
			m.Twins = append(m.Twins, t)
			m.Same = append(m.Same, same)
		}
		for p, tok := range st.batch.Fences {
			if m.Fences == nil {
				m.Fences = make(map[int]uint64)
			}
			m.Fences[p] = max(m.Fences[p], tok)
		}
		m.Records = append(m.Records, st.batch.Records...)
		m.Alerts = append(m.Alerts, st.batch.Alerts...)
	}
	return &m
}

// Outcome returns what the step did; it is durable once the step is
// committed.
func (st *Step) Outcome() *Outcome { return st.out }

// Wait blocks until the input at stream sequence seq has been processed (or
// ctx ends) and returns its result. It remembers the results of recent
// inputs, so it may be called after processing.
func (r *Runtime) Wait(ctx context.Context, seq uint64) (Result, error) {
	ch := r.waiters.wait(seq)
	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		r.waiters.cancel(seq, ch)
		return Result{}, ctx.Err()
	}
}

// Stats are counters since the runtime started.
type Stats struct {
	Applied, Duplicates, Rejected, ContractErrors uint64
	Loads, Passivated, Batches                    uint64
	Resident                                      int
	Timers                                        int
}

// Stats returns counters since start.
func (r *Runtime) Stats() Stats {
	st := Stats{
		Applied:        r.stats.applied.Load(),
		Duplicates:     r.stats.duplicates.Load(),
		Rejected:       r.stats.rejected.Load(),
		ContractErrors: r.stats.contractErrors.Load(),
		Loads:          r.stats.loads.Load(),
		Passivated:     r.stats.passivated.Load(),
		Batches:        r.stats.batches.Load(),
		Timers:         r.timers.len(),
	}
	for _, s := range r.shards {
		st.Resident += int(s.resident.Load())
	}
	return st
}

// MaxResident is the cap on twins kept in memory (Config.MaxResident, its
// default applied).
func (r *Runtime) MaxResident() int { return r.cfg.MaxResident }

// IdleAfter is how long a twin stays resident without an event (Config).
func (r *Runtime) IdleAfter() time.Duration { return r.cfg.IdleAfter }

// Passivate drops from memory twins idle for longer than IdleAfter, and the
// least frequently touched ones beyond MaxResident. It is called by the ingest
// loop between batches.
func (r *Runtime) Passivate(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	limit := r.cfg.MaxResident / len(r.shards)
	for _, s := range r.shards {
		s.compact(now.UnixNano())
		n += s.passivate(now.Add(-r.cfg.IdleAfter).UnixNano(), limit, r.committed.Load())
	}
	r.stats.passivated.Add(uint64(n))
	return n
}

// OverCap reports whether more twins are resident than MaxResident allows
// with a sixteenth more for the twins loaded between two passivations:
// time for Passivate, even if the last one was recent.
func (r *Runtime) OverCap() bool {
	n := 0
	for _, s := range r.shards {
		n += int(s.resident.Load())
	}
	return n > r.cfg.MaxResident+r.cfg.MaxResident/16
}

// Evict drops every twin from memory, so that the next events reload them
// from the store. Call it after a failed Apply or Commit, once no step of
// that run will be committed any more.
func (r *Runtime) Evict() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.shards {
		clear(s.twins)
		s.cold.clear()
		clear(s.queue)
		s.queue, s.qhead = s.queue[:0], 0
		s.resident.Store(0)
	}
	r.broken.Store(false)
}

// resident is a twin in memory.
type resident struct {
	t *Twin
	c Contract
	// set while an upgrade event is applied
	upgradeRef *ContractRef
	upgradeTo  Migrator
	lastUsed   int64  // unix ns of the batch that last touched it
	loaded     uint32 // shard.loads when it was loaded from the store or created
	batch      uint64
	view       bool // View must be recomputed
	viewOut    []byte
	// before holds the indexed fields as they were before the current batch
	// changed the twin (Batch.Same); fresh is set for a twin created by it.
	before indexedFields
	fresh  bool
	prev   uint64 // StreamSeq before the current batch (StateUpdate.Prev)
}

// indexedFields are what stores index of a twin (Batch.Same): three
// fields, and whether it has processing-time timers.
type indexedFields struct {
	status, kind, custodian string
	processing              bool
}

func indexedOf(t *Twin) indexedFields {
	return indexedFields{status: t.Status, kind: t.Kind, custodian: t.Custodian, processing: t.HasProcessingTimer()}
}

// shard owns a subset of the twins.
type shard struct {
	rt    *Runtime
	twins map[string]*resident // hot
	// cold holds the packed twins (resident.go): resident, not hot.
	cold *coldTable
	// queue lists hot twins in the order they were last touched or loaded,
	// from qhead on, with the lastUsed they had then: compact packs those
	// idle for CompactAfter. A twin touched again has a later entry too.
	queue    []queued
	qhead    int
	refs     []contractEntry // contract refs of packed twins
	packBuf  []byte
	refIndex map[ContractRef]uint64
	profiles profileTable // what packed twins share (resident.go)
	// sketch counts touches of the shard's twins, resident or not, once
	// the shard has had more twins than its share of MaxResident (nil
	// before); loads counts twins loaded from the store or created.
	sketch   *freqSketch
	loads    uint32
	resident atomic.Int64
	hasher   *Hasher
	json     []byte // scratch for a twin's JSON, copied out at its size
	batchNo  uint64
	now      int64

	// per batch
	inputs  []int
	events  int // of inputs
	room    int // capacity of records as Apply sized it
	arena   []byte
	changed []*resident
	records []Record
	alerts  []Alert
	states  []StateUpdate
	err     error
}

func (s *shard) reset(now time.Time) {
	s.batchNo++
	s.now = now.UnixNano()
	s.inputs = s.inputs[:0]
	// Records and the event bytes they point into belong to the step until
	// it is committed, so each step gets its own, sized by Apply for its
	// inputs (a small batch does not pay for the largest one).
	s.events, s.room = 0, 0
	s.arena = nil
	clear(s.changed)
	s.changed = s.changed[:0]
	s.records = nil
	s.alerts = nil // handed to the Outcome
	s.states = nil // handed to the Outcome
	s.err = nil
}

func (s *shard) done() {
	clear(s.changed)
	s.changed = s.changed[:0]
}

func (s *shard) passivate(before int64, limit int, committed uint64) int {
	n := 0
	for id, res := range s.twins {
		if res.batch > committed {
			continue // changed by a step not yet durable
		}
		if res.lastUsed < before {
			delete(s.twins, id)
			n++
		}
	}
	var idle []string // packed only once durable (compact)
	s.cold.each(func(id, p []byte) {
		if packedLastUsed(p) < before {
			idle = append(idle, string(id))
		}
	})
	for _, id := range idle {
		s.cold.delete(id)
		n++
	}
	if over := len(s.twins) + s.cold.len() - limit; over > 0 {
		if s.sketch == nil {
			s.sketch = newFreqSketch(limit)
		}
		n += s.evict(over, committed)
	}
	s.storeResident()
	return n
}

// evict passivates up to over durable resident twins: the least frequently
// touched first (the shard's sketch, which remembers twins that were
// passivated too), and of equally frequent ones those loaded last. So in a
// fleet larger than the cap that reports in turn, the twins resident stay
// and those loaded to apply a reading go again (evicting the least recently
// used would evict exactly the twins that report next); and a burst of
// twins heard from once does not evict those heard from all the time.
// docs/rationale.md, "Why does passivation evict the least frequent twins,
// not the least recently used?".
func (s *shard) evict(over int, committed uint64) int {
	// A twin's rank: its frequency (0–15), then its load age in 256
	// buckets, youngest first. Every twin ranked below cut goes, and the
	// youngest of those ranked cut, sorted by exact age: in a fleet
	// reporting in turn every twin is as frequent as every other, and only
	// the boundary bucket is sorted.
	shift := max(bits.Len32(s.loads)-8, 0)
	rank := func(h uint64, loaded uint32) int {
		return int(s.sketch.estimate(h))<<8 | min(int((s.loads-loaded)>>shift), 255)
	}
	var hist [16 << 8]int
	for id, res := range s.twins {
		if res.batch <= committed {
			hist[rank(s.sketch.hash(id), res.loaded)]++
		}
	}
	// The packed twins' ranks, by slot, for the second pass: hashing every
	// id and reading the sketch again would cost as much as this pass.
	ranks := make([]uint16, len(s.cold.slots))
	for i, e := range s.cold.slots {
		if e != nil {
			r := rank(s.sketch.hashBytes(entryID(e)), packedLoaded(packedOf(e)))
			ranks[i] = uint16(r)
			hist[r]++
		}
	}
	cut, below := 0, 0
	for cut < len(hist) && below+hist[cut] < over {
		below += hist[cut]
		cut++
	}
	type candidate struct {
		id  string
		age uint32 // loads since it was loaded
	}
	var drop []string
	var edge []candidate
	for id, res := range s.twins {
		if res.batch > committed {
			continue
		}
		switch r := rank(s.sketch.hash(id), res.loaded); {
		case r < cut:
			drop = append(drop, id)
		case r == cut:
			edge = append(edge, candidate{id, s.loads - res.loaded})
		}
	}
	for i, e := range s.cold.slots {
		if e == nil {
			continue
		}
		switch r := int(ranks[i]); {
		case r < cut:
			drop = append(drop, string(entryID(e)))
		case r == cut:
			edge = append(edge, candidate{string(entryID(e)), s.loads - packedLoaded(packedOf(e))})
		}
	}
	slices.SortFunc(edge, func(a, b candidate) int { return cmp.Compare(a.age, b.age) })
	for _, c := range edge[:min(max(over-len(drop), 0), len(edge))] {
		drop = append(drop, c.id)
	}
	for _, id := range drop {
		delete(s.twins, id)
		s.cold.delete(id)
	}
	return len(drop)
}

func (s *shard) storeResident() { s.resident.Store(int64(len(s.twins) + s.cold.len())) }

// queued is an entry of shard.queue.
type queued struct {
	res      *resident
	lastUsed int64
}

// enqueue records that res was touched or loaded (at res.lastUsed).
func (s *shard) enqueue(res *resident) {
	s.queue = append(s.queue, queued{res, res.lastUsed})
}

// compact packs the hot twins not touched since before now − CompactAfter
// and not changed by a step that is not durable yet (so that passivate may
// drop any packed twin).
func (s *shard) compact(now int64) {
	after := s.rt.cfg.CompactAfter
	if after < 0 {
		return
	}
	limit, committed := now-after.Nanoseconds(), s.rt.committed.Load()
	for s.qhead < len(s.queue) {
		q := s.queue[s.qhead]
		if q.lastUsed >= limit || q.res.batch > committed {
			break // later entries are newer
		}
		s.queue[s.qhead] = queued{}
		s.qhead++
		res := q.res
		if res.lastUsed != q.lastUsed || res.upgradeTo != nil || s.twins[res.t.ID] != res {
			continue // touched again since (a later entry), or gone
		}
		s.cold.put(s.pack(res))
		delete(s.twins, res.t.ID)
	}
	if s.qhead > len(s.queue)/2 && s.qhead > 1024 {
		n := copy(s.queue, s.queue[s.qhead:])
		clear(s.queue[n:])
		s.queue, s.qhead = s.queue[:n], 0
	}
}

// load returns the resident twin id, loading it from the store if needed;
// nil if it does not exist.
func (s *shard) load(ctx context.Context, id string) (*resident, error) {
	if res, ok := s.twins[id]; ok {
		return res, nil
	}
	if p := s.cold.get(id); p != nil {
		res, err := s.unpack(id, p)
		if err != nil {
			return nil, err
		}
		s.cold.delete(id)
		res.lastUsed = s.now
		s.twins[id] = res
		s.enqueue(res)
		return res, nil
	}
	t, err := s.rt.cfg.Store.Twin(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load twin %s: %w", id, err)
	}
	c, err := s.rt.cfg.Contracts.Contract(ctx, t.Contract.SHA256)
	if err != nil {
		return nil, fmt.Errorf("load twin %s contract %s: %w", id, t.Contract.SHA256, err)
	}
	s.rt.stats.loads.Add(1)
	t.Kind, t.Status, t.Custodian = intern(t.Kind), intern(t.Status), intern(t.Custodian)
	s.loads++
	res := &resident{t: t, c: c, lastUsed: s.now, loaded: s.loads}
	s.twins[id] = res
	s.enqueue(res)
	s.storeResident()
	return res, nil
}

func (s *shard) run(ctx context.Context, in []Input, results []Result) {
	for _, i := range s.inputs {
		if err := s.apply(ctx, &in[i], &results[i]); err != nil {
			s.err = err
			return
		}
	}
	for _, res := range s.changed {
		if err := s.publishable(ctx, res); err != nil {
			s.err = err
			return
		}
	}
	s.compact(s.now)
	s.storeResident()
}

// touch marks res as changed in this batch.
func (s *shard) touch(res *resident) {
	if res.lastUsed != s.now {
		res.lastUsed = s.now
		s.enqueue(res)
	}
	if res.batch != s.batchNo {
		res.batch = s.batchNo
		s.changed = append(s.changed, res)
		if s.sketch != nil {
			s.sketch.add(s.sketch.hash(res.t.ID))
		}
	}
}

func (s *shard) apply(ctx context.Context, in *Input, result *Result) error {
	res, err := s.load(ctx, in.Twin)
	if err != nil {
		return err
	}
	if res != nil && res.batch != s.batchNo { // not changed yet by this batch
		res.before = indexedOf(res.t)
		res.prev = res.t.StreamSeq
	}
	if res != nil && in.StreamSeq != 0 && in.StreamSeq <= res.t.StreamSeq {
		result.Duplicate = true
		result.Seq = res.t.Seq
		return nil
	}
	if in.Create != nil {
		if res != nil {
			result.Err = Rejectf(ReasonTwinExists, "twin %s already exists", in.Twin)
			return nil
		}
		return s.create(ctx, in, result)
	}
	if res == nil {
		result.Err = Rejectf(ReasonUnknownTwin, "no twin %s", in.Twin)
		return nil
	}
	t := res.t
	if t.Status == StatusClosed {
		result.Err = Rejectf(ReasonTwinClosed, "twin %s is closed", in.Twin)
		return nil
	}
	if in.Upgrade != nil {
		return s.upgrade(ctx, res, in, result)
	}
	for i := range in.Events {
		e := &in.Events[i]
		if e.Kind == KindTimer {
			if in.Due.IsZero() {
				// A timer event without a due time is a request to bring
				// event time to e.Time (how a tool without a watermark of
				// its own fires event-time timers): they fire inline.
				s.fireDue(ctx, res, e.Time)
				continue
			}
			if !t.timerDue(e.Field(0), in.Due, true) {
				// Not a pending processing-time timer: cancelled or moved
				// since it fired, or not custos's (event-time timers fire
				// inline, by watermark). Nothing to apply, but said (a dead
				// letter), not dropped; it moves no clock.
				result.Failed = append(result.Failed, FailedEvent{Index: i,
					Err: Rejectf(ReasonTimerNotSet, "twin %s has no processing-time timer %q due at %s", t.ID, truncate(e.Field(0), 64), in.Due.Format(time.RFC3339Nano))})
				continue
			}
			// ParseTimer made it [name, "processing"].
		}
		if ierr := s.receive(ctx, res, e, in.StreamSeq); ierr != nil {
			result.Failed = append(result.Failed, FailedEvent{Index: i, Err: ierr})
		}
	}
	t.StreamSeq = in.StreamSeq
	s.touch(res)
	result.Seq = t.Seq
	return nil
}

// maxInlineTimers bounds the event-time timers fired before one event (a
// contract that keeps setting timers in the past cannot stall its shard);
// the rest fire before the next event.
const maxInlineTimers = 1000

// receive takes one event of an input: a reading is held back by the twin's
// allowed-lateness window if it has one; any other event first releases the
// held-back readings at or before its time. Then it is applied.
func (s *shard) receive(ctx context.Context, res *resident, e *Event, streamSeq uint64) *InputError {
	t := res.t
	if t.Lateness > 0 && e.Kind == KindReading {
		t.Buffered = append(t.Buffered, Buffered{StreamSeq: streamSeq, Event: cloneEvent(e)})
		high := t.Watermark
		for i := range t.Buffered {
			if t.Buffered[i].Event.Time.After(high) {
				high = t.Buffered[i].Event.Time
			}
		}
		s.release(ctx, res, high.Add(-t.Lateness))
		return nil
	}
	if len(t.Buffered) > 0 {
		s.release(ctx, res, e.Time)
	}
	return s.step(ctx, res, e, streamSeq)
}

// release applies the buffered readings with event time ≤ upTo, in (event
// time, arrival) order. Their inputs were acknowledged when buffered, so a
// failure is only logged (and alerted or recorded like any other).
func (s *shard) release(ctx context.Context, res *resident, upTo time.Time) {
	t := res.t
	var due []Buffered
	keep := t.Buffered[:0:0]
	for _, b := range t.Buffered {
		if b.Event.Time.After(upTo) {
			keep = append(keep, b)
		} else {
			due = append(due, b)
		}
	}
	if len(due) == 0 {
		return
	}
	t.Buffered = keep
	if len(t.Buffered) == 0 {
		t.Buffered = nil
	}
	slices.SortStableFunc(due, func(a, b Buffered) int { return a.Event.Time.Compare(b.Event.Time) })
	for i := range due {
		if ierr := s.step(ctx, res, &due[i].Event, due[i].StreamSeq); ierr != nil {
			s.rt.log.Warn("buffered reading not applied", "twin", t.ID, "stream_seq", due[i].StreamSeq, "err", ierr)
		}
	}
}

func cloneEvent(e *Event) Event {
	c := *e
	c.Fields = slices.Clone(e.Fields)
	return c
}

// step applies one event in event time: the event-time timers due at or
// before it fire first, then the event, flagged LATE if it is older than the
// watermark. A processing-time timer event neither fires event-time timers
// nor moves the watermark: it is on the server's clock.
func (s *shard) step(ctx context.Context, res *resident, e *Event, streamSeq uint64) *InputError {
	if e.processingTimer() {
		return s.applyEvent(ctx, res, e, streamSeq)
	}
	s.fireDue(ctx, res, e.Time)
	return s.applyEvent(ctx, res, e, streamSeq)
}

// fireDue fires the event-time timers due at or before upTo, in (due, name)
// order, each as its own event at its due time.
func (s *shard) fireDue(ctx context.Context, res *resident, upTo time.Time) {
	t := res.t
	for range maxInlineTimers {
		tm, ok := t.nextEventTimer(upTo)
		if !ok {
			return
		}
		e := Event{Kind: KindTimer, Time: tm.At, Fields: []string{tm.Name, ClockEvent}}
		if ierr := s.applyEvent(ctx, res, &e, 0); ierr != nil {
			// It fired; the contract failed or refused it. It is gone
			// either way, or it would fire again forever.
			t.removeTimer(tm.Name)
		}
	}
}

// nextEventTimer returns the earliest event-time timer due at or before
// upTo, by (due, name).
func (t *Twin) nextEventTimer(upTo time.Time) (Timer, bool) {
	var best Timer
	found := false
	for _, tm := range t.Timers {
		if tm.Processing || tm.At.IsZero() || tm.At.After(upTo) {
			continue
		}
		if !found || tm.At.Before(best.At) || (tm.At.Equal(best.At) && tm.Name < best.Name) {
			best, found = tm, true
		}
	}
	return best, found
}

// upgrade moves a twin to another module through the new module's
// custos_migrate.
func (s *shard) upgrade(ctx context.Context, res *resident, in *Input, result *Result) error {
	if len(in.Events) != 1 || in.Events[0].Kind != KindUpgrade {
		result.Err = Rejectf(ReasonInvalidCommand, "upgrade input must hold one upgrade event")
		return nil
	}
	if in.Upgrade.SHA256 == res.t.Contract.SHA256 {
		result.Err = Rejectf(ReasonInvalidCommand, "twin %s already runs module %s", in.Twin, in.Upgrade.SHA256)
		return nil
	}
	c, err := s.rt.cfg.Contracts.Contract(ctx, in.Upgrade.SHA256)
	if err != nil {
		if errors.Is(err, ErrUnknownPolicy) {
			result.Err = Rejectf(ReasonUnknownPolicy, "%v", err)
			return nil
		}
		return fmt.Errorf("upgrade twin %s: %w", in.Twin, err)
	}
	m, ok := c.(Migrator)
	if !ok {
		result.Err = Rejectf(ReasonInvalidCommand, "module %s has no custos_migrate", in.Upgrade.SHA256)
		return nil
	}
	res.upgradeRef, res.upgradeTo = in.Upgrade, m
	seq := res.t.Seq
	if len(res.t.Buffered) > 0 {
		s.release(ctx, res, in.Events[0].Time)
	}
	ierr := s.step(ctx, res, &in.Events[0], in.StreamSeq)
	res.upgradeRef, res.upgradeTo = nil, nil
	if ierr != nil {
		result.Err = ierr
		if res.t.Seq != seq { // timers fired, or a failure record
			res.t.StreamSeq = in.StreamSeq
			s.touch(res)
		}
		result.Seq = res.t.Seq
		return nil
	}
	res.t.StreamSeq = in.StreamSeq
	s.touch(res)
	result.Seq = res.t.Seq
	return nil
}

func (s *shard) create(ctx context.Context, in *Input, result *Result) error {
	if len(in.Events) != 1 || in.Events[0].Kind != KindCreate {
		result.Err = Rejectf(ReasonInvalidCommand, "create input must hold one create event")
		return nil
	}
	c, err := s.rt.cfg.Contracts.Contract(ctx, in.Create.SHA256)
	if err != nil {
		if errors.Is(err, ErrUnknownPolicy) {
			result.Err = Rejectf(ReasonUnknownPolicy, "%v", err)
			return nil
		}
		return fmt.Errorf("create twin %s: %w", in.Twin, err)
	}
	e := &in.Events[0]
	t := &Twin{
		ID:        in.Twin,
		Kind:      intern(e.Field(0)),
		Contract:  s.refs[s.contractIndex(*in.Create, c)].ref, // one copy of its strings per shard
		Params:    json.RawMessage(e.Field(1)),
		Custodian: intern(e.Field(2)),
		Parent:    e.Field(3),
		Status:    StatusCreated,
		Created:   e.Time,
		Lateness:  in.Lateness,
	}
	s.loads++
	res := &resident{t: t, c: c, fresh: true, loaded: s.loads}
	if ierr := s.applyEvent(ctx, res, e, in.StreamSeq); ierr != nil {
		result.Err = ierr
		return nil
	}
	t.StreamSeq = in.StreamSeq
	s.twins[t.ID] = res
	s.touch(res)
	result.Seq = t.Seq
	return nil
}

// applyEvent runs the contract on e and, if it succeeds, applies the output
// to the twin, extends the digest chain and records history and alerts. If
// the contract fails deterministically (ContractError.Deterministic), the
// event still takes the next seq and a failure record: nothing else of the
// twin changes. streamSeq is the input stream sequence e came from (0 for an
// event-time timer fired inline).
func (s *shard) applyEvent(ctx context.Context, res *resident, e *Event, streamSeq uint64) *InputError {
	t := res.t
	e.Seq = t.Seq + 1
	if e.Kind == KindCustody {
		e.Fields[0] = t.Custodian
	}
	if e.Kind == KindUpgrade {
		e.Fields[0], e.Fields[1] = t.Contract.SHA256.Hex(), t.Contract.Version
	}
	e.Flags &^= EventLate
	if !e.processingTimer() && e.Time.Before(t.Watermark) {
		e.Flags |= EventLate
	}
	start := len(s.arena)
	s.arena, _ = e.AppendBinary(s.arena)
	enc := s.arena[start:len(s.arena):len(s.arena)]
	call := Call{Twin: t.ID, Seq: e.Seq, Time: e.Time}
	var out Output
	var err error
	switch e.Kind {
	case KindCreate:
		out, err = res.c.Init(ctx, call, enc)
	case KindUpgrade:
		out, err = res.upgradeTo.Migrate(ctx, call, t.State, enc)
	default:
		out, err = res.c.Apply(ctx, call, t.State, enc)
	}
	now := time.Unix(0, s.now).UTC()
	if err != nil && ctx.Err() != nil {
		// Cancelled: ingest is stopping, which is no verdict on the input.
		// The step fails (Apply returns the error, nothing is committed)
		// and the input comes again, instead of being refused, or a
		// reading dropped with a contract_failed alert.
		if s.err == nil {
			s.err = fmt.Errorf("twin %s: %w", t.ID, ctx.Err())
		}
		s.arena = s.arena[:start]
		return Rejectf(ReasonContractFailed, "cancelled")
	}
	if err != nil {
		s.rt.stats.contractErrors.Add(1)
		var ce *ContractError
		msg := err.Error()
		if errors.As(err, &ce) {
			msg = ce.Kind + ": " + fmt.Sprint(ce.Err)
		}
		if e.Kind == KindCreate {
			s.arena = s.arena[:start]
			return Rejectf(ReasonContractFailed, "%s", msg)
		}
		seq := t.Seq
		if ce != nil && ce.Deterministic() {
			// A failure record: the event takes its seq, the state stays.
			s.record(t, e, enc, streamSeq, now, ce.Kind, truncate(msg, 300))
			seq = t.Seq
		} else {
			s.arena = s.arena[:start]
		}
		s.alert(t, seq, e.Time, SeverityCritical, "contract_failed",
			fmt.Sprintf("event %s at seq %d not applied: %s", e.Kind, e.Seq, truncate(msg, 300)))
		return Rejectf(ReasonContractFailed, "%s", msg)
	}
	if out.Reject != "" {
		s.arena = s.arena[:start]
		return Rejectf(ReasonContractRefused, "%s", truncate(out.Reject, 300))
	}
	// Lifecycle effects the runtime owns.
	switch e.Kind {
	case KindCustody:
		t.Custodian = intern(e.Field(1))
	case KindStatus:
		if st := e.Field(0); t.Status != StatusCompromised || st == StatusClosed {
			t.Status = st
		}
	case KindAggregate:
		for _, ch := range e.Fields {
			if !slices.Contains(t.Children, ch) {
				t.Children = append(t.Children, ch)
			}
		}
	case KindDisaggregate:
		t.Children = slices.DeleteFunc(t.Children, func(ch string) bool { return slices.Contains(e.Fields, ch) })
	case KindTimer:
		t.removeTimer(e.Field(0))
	case KindUpgrade:
		// From this event on, the new module evaluates the twin's events;
		// the digest of this event already commits to it.
		t.Contract, res.c = *res.upgradeRef, res.upgradeTo.(Contract)
	}
	t.State = out.State
	if out.Status != "" && t.Status != StatusClosed {
		t.Status = out.Status
	}
	for _, op := range out.Timers {
		t.setTimer(op, now)
	}
	s.record(t, e, enc, streamSeq, now, "", "")
	for _, a := range out.Alerts {
		s.alert(t, t.Seq, e.Time, a.Severity, a.Code, a.Message)
	}
	if out.View != nil {
		res.viewOut, res.view = out.View, false
	} else {
		res.view = true
	}
	return nil
}

// record gives e (encoded as enc) its seq in t's history: it moves the
// twin's clocks, extends the digest chain (with the failure kind for a
// failure record, NextFailureDigest) and appends the record.
func (s *shard) record(t *Twin, e *Event, enc []byte, streamSeq uint64, now time.Time, failure, detail string) {
	s.advance(t, e, now)
	eh := s.hasher.Sum(enc)
	sh := s.hasher.Sum(t.State)
	t.Digest = s.hasher.NextFailure(t.Digest, t.ID, t.Seq, eh, sh, t.Contract.SHA256, failure)
	s.records = append(s.records, Record{
		Twin: t.ID, Seq: t.Seq, StreamSeq: streamSeq, Time: e.Time, RecordTime: now, Kind: e.Kind, Event: enc,
		Late: e.Late(), Failure: failure, FailureDetail: detail,
		EventHash: eh, StateHash: sh, Module: t.Contract.SHA256, Digest: t.Digest,
	})
}

// advance gives e its seq and moves the twin's clocks: the watermark (not
// for a processing-time timer) and the freshness of its data.
func (s *shard) advance(t *Twin, e *Event, now time.Time) {
	t.Seq = e.Seq
	t.Updated = e.Time
	// The create event does not move the watermark: registering a twin
	// today for a logger that started four days ago is not data, and its
	// readings are not late.
	if !e.processingTimer() && e.Kind != KindCreate && e.Time.After(t.Watermark) {
		t.Watermark = e.Time
	}
	if e.Kind == KindReading {
		if e.Time.After(t.LastReading) {
			t.LastReading = e.Time
		}
		t.Lag = now.Sub(e.Time)
	}
}

func (s *shard) alert(t *Twin, seq uint64, at time.Time, sev, code, msg string) {
	t.Alerts++
	s.alerts = append(s.alerts, Alert{Twin: t.ID, N: t.Alerts, Seq: seq, Severity: sev, Code: code, Message: msg, Time: at})
}

// publishable computes the view and the public JSON of a changed twin.
func (s *shard) publishable(ctx context.Context, res *resident) error {
	t := res.t
	switch {
	case res.view:
		v, err := res.c.View(ctx, Call{Twin: t.ID, Seq: t.Seq, Time: t.Updated}, t.State)
		if err != nil {
			s.rt.log.Warn("contract view failed", "twin", t.ID, "seq", t.Seq, "err", err)
			v = nil
		}
		t.View, res.view = viewJSON(v), false
	case res.viewOut != nil:
		t.View, res.viewOut = viewJSON(res.viewOut), nil
	}
	s.json = t.AppendJSON(s.json[:0])
	s.states = append(s.states, StateUpdate{Twin: t.ID, Seq: t.Seq, Digest: t.Digest, JSON: bytes.Clone(s.json), Prev: res.prev})
	return nil
}

// viewJSON keeps a contract's view on one line (it goes into line-based
// formats such as Server-Sent Events). Validity is the host's promise (see
// Contract.View), so it is not checked again on this hot path.
func viewJSON(v []byte) json.RawMessage {
	if len(v) == 0 {
		return nil
	}
	if bytes.ContainsAny(v, "\n\r") {
		var c bytes.Buffer
		if json.Compact(&c, v) != nil {
			return nil
		}
		v = c.Bytes()
	}
	return json.RawMessage(v)
}

func (t *Twin) timerDue(name string, at time.Time, processing bool) bool {
	for _, tm := range t.Timers {
		if tm.Name == name && tm.At.Equal(at) && tm.Processing == processing {
			return true
		}
	}
	return false
}

func (t *Twin) removeTimer(name string) {
	t.Timers = slices.DeleteFunc(t.Timers, func(tm Timer) bool { return tm.Name == name })
}

// setTimer applies one timer op of a contract's output: set (or move) an
// event-time timer, set a processing-time timer Delay after now (the record
// time), or cancel (At and Delay zero).
func (t *Twin) setTimer(op Timer, now time.Time) {
	t.removeTimer(op.Name)
	at := op.At
	if op.Processing && op.Delay > 0 {
		at = now.Add(op.Delay)
	}
	if !at.IsZero() {
		t.Timers = append(t.Timers, Timer{Name: op.Name, At: at.UTC(), Processing: op.Processing})
	}
}

// processingTimers returns the processing-time timers of ts: the ones the
// server's clock fires.
func processingTimers(ts []Timer) []Timer {
	var out []Timer
	for _, tm := range ts {
		if tm.Processing {
			out = append(out, tm)
		}
	}
	return out
}
