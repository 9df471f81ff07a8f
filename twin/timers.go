package twin

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"
)

// timerQueue holds the pending processing-time timers of all twins,
// resident or not, in due order (event-time timers fire inline, by
// watermark, and are not in it). Entries are invalidated lazily: an entry counts only while the
// twin's current timer set still has that (name, at).
type timerQueue struct {
	mu      sync.Mutex
	byTwin  map[string][]Timer
	h       timerHeap
	firedAt map[timerKey]time.Time
}

type timerKey struct {
	twin, name string
	at         int64
}

type timerEntry struct {
	at   time.Time
	twin string
	name string
}

type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newTimerQueue() *timerQueue {
	return &timerQueue{byTwin: make(map[string][]Timer), firedAt: make(map[timerKey]time.Time)}
}

// set replaces the pending timers of a twin.
func (q *timerQueue) set(id string, timers []Timer) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(timers) == 0 {
		delete(q.byTwin, id)
		return
	}
	old := q.byTwin[id]
	q.byTwin[id] = append([]Timer(nil), timers...)
	for _, t := range timers {
		known := false
		for _, o := range old {
			if o.Name == t.Name && o.At.Equal(t.At) {
				known = true
				break
			}
		}
		if !known {
			heap.Push(&q.h, timerEntry{at: t.At, twin: id, name: t.Name})
		}
	}
}

func (q *timerQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, ts := range q.byTwin {
		n += len(ts)
	}
	return n
}

func (q *timerQueue) pending(e timerEntry) bool {
	for _, t := range q.byTwin[e.twin] {
		if t.Name == e.name && t.At.Equal(e.at) {
			return true
		}
	}
	return false
}

// refireAfter is how long a fired timer may stay unapplied before it is
// fired again (its publication is idempotent).
const refireAfter = 30 * time.Second

// due pops the timers due at now that should be fired.
func (q *timerQueue) due(now time.Time) []timerEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out, keep []timerEntry
	for q.h.Len() > 0 && !q.h[0].at.After(now) {
		e := heap.Pop(&q.h).(timerEntry)
		if !q.pending(e) {
			delete(q.firedAt, timerKey{e.twin, e.name, e.at.UnixNano()})
			continue
		}
		k := timerKey{e.twin, e.name, e.at.UnixNano()}
		if last, ok := q.firedAt[k]; ok && now.Sub(last) < refireAfter {
			keep = append(keep, e)
			continue
		}
		q.firedAt[k] = now
		out = append(out, e)
		keep = append(keep, e) // stays until the timer event is applied
	}
	for _, e := range keep {
		heap.Push(&q.h, e)
	}
	return out
}

// TimerSink publishes a fired processing-time timer into the twin's input
// stream (subject custos.timer.<twin>), idempotently for the same (twin,
// name, at).
type TimerSink func(ctx context.Context, twin string, t Timer) error

// RunTimers fires due processing-time timers through sink, by the server's
// clock, until ctx ends. The timer event
// goes through the input stream like any other, so a replay of the stream
// replays the timer too.
func (r *Runtime) RunTimers(ctx context.Context, tick time.Duration, sink TimerSink) error {
	if tick <= 0 {
		tick = 250 * time.Millisecond
	}
	tk := time.NewTicker(tick)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tk.C:
			for _, e := range r.timers.due(now) {
				if err := sink(ctx, e.twin, Timer{Name: e.name, At: e.at}); err != nil {
					r.log.Warn("fire timer", "twin", e.twin, "timer", e.name, "err", err)
				}
			}
		}
	}
}

// LoadTimers reads the pending timers of all twins from the store. It is
// called once at start, in the background: twins are loaded lazily, but
// their timers must fire even if no event arrives.
func (r *Runtime) LoadTimers(ctx context.Context) (int, error) {
	return r.LoadTimersWhere(ctx, nil)
}

// LoadTimersWhere is LoadTimers for the twins whose id match accepts (all
// if match is nil): in a cluster, a node that takes a partition loads the
// timers of that partition's twins.
func (r *Runtime) LoadTimersWhere(ctx context.Context, match func(id string) bool) (int, error) {
	if ti, ok := r.cfg.Store.(TimerIndex); ok {
		n, err := r.loadIndexedTimers(ctx, ti, match)
		if !errors.Is(err, errors.ErrUnsupported) {
			return n, err
		}
	}
	after, n := "", 0
	for {
		page, err := r.cfg.Store.Twins(ctx, TwinQuery{After: after, Limit: 1000})
		if err != nil {
			return n, err
		}
		for _, t := range page {
			if match != nil && !match(t.ID) {
				continue
			}
			if pt := processingTimers(t.Timers); len(pt) > 0 {
				r.timers.set(t.ID, pt)
				n += len(pt)
			}
		}
		if len(page) < 1000 {
			return n, nil
		}
		after = page[len(page)-1].ID
	}
}

// DropTimers forgets the pending processing-time timers of the twins whose
// id match accepts: in a cluster, a node that gives up a partition stops
// firing its timers (the new owner loads them).
func (r *Runtime) DropTimers(match func(id string) bool) int {
	q := r.timers
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for id, ts := range q.byTwin {
		if match(id) {
			n += len(ts)
			delete(q.byTwin, id) // heap entries lapse: no longer pending
		}
	}
	return n
}

// loadIndexedTimers is LoadTimers over the twins a TimerIndex lists.
func (r *Runtime) loadIndexedTimers(ctx context.Context, ti TimerIndex, match func(id string) bool) (int, error) {
	after, n := "", 0
	for {
		page, err := ti.TimerTwins(ctx, after, 1000)
		if err != nil {
			return n, err
		}
		for _, t := range page {
			if match != nil && !match(t.ID) {
				continue
			}
			if pt := processingTimers(t.Timers); len(pt) > 0 {
				r.timers.set(t.ID, pt)
				n += len(pt)
			}
		}
		if len(page) < 1000 {
			return n, nil
		}
		after = page[len(page)-1].ID
	}
}

// waiters lets callers wait for the result of an input by stream sequence.
type waiters struct {
	mu     sync.Mutex
	wait_  map[uint64][]chan Result
	recent map[uint64]Result
	order  []uint64
}

const recentResults = 8192

func (w *waiters) init() {
	w.wait_ = make(map[uint64][]chan Result)
	w.recent = make(map[uint64]Result)
}

func (w *waiters) wait(seq uint64) chan Result {
	ch := make(chan Result, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if res, ok := w.recent[seq]; ok {
		ch <- res
		return ch
	}
	w.wait_[seq] = append(w.wait_[seq], ch)
	return ch
}

func (w *waiters) cancel(seq uint64, ch chan Result) {
	w.mu.Lock()
	defer w.mu.Unlock()
	chs := w.wait_[seq]
	for i, c := range chs {
		if c == ch {
			chs = append(chs[:i], chs[i+1:]...)
			break
		}
	}
	if len(chs) == 0 {
		delete(w.wait_, seq)
	} else {
		w.wait_[seq] = chs
	}
}

// done records results of inputs that someone may wait for: creates and
// other commands (not readings, which nobody waits for).
func (w *waiters) done(in []Input, results []Result) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range in {
		if in[i].command() {
			w.deliver(in[i].StreamSeq, results[i])
		}
	}
}

// notify records one result applied elsewhere.
func (w *waiters) notify(seq uint64, res Result) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deliver(seq, res)
}

// deliver must be called with w.mu held.
func (w *waiters) deliver(seq uint64, res Result) {
	for _, ch := range w.wait_[seq] {
		ch <- res
	}
	delete(w.wait_, seq)
	if _, ok := w.recent[seq]; !ok {
		w.order = append(w.order, seq)
	}
	w.recent[seq] = res
	if len(w.order) > recentResults {
		delete(w.recent, w.order[0])
		w.order = w.order[1:]
	}
}

func (in *Input) command() bool {
	if in.Create != nil {
		return true
	}
	for i := range in.Events {
		if k := in.Events[i].Kind; k != KindReading && k != KindTimer {
			return true
		}
	}
	return false
}
