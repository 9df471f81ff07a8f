// Package cluster holds what custos nodes share to act as one: leases in a
// replicated JetStream KV bucket, with the bucket revision at acquisition as
// the fence token.
//
// # Leases
//
// A lease is one key of the bucket custos_cluster (History 1). Its value
// names the holder, a random token of this tenure, the TTL and, for people
// reading it, the holder's idea of when it expires. The rules:
//
//   - Acquire: Create the key (absent or deleted), or take over a lease
//     whose revision this claimant has itself seen unchanged for the
//     holder's TTL plus a tenth (Update with that revision). No clocks are
//     compared across machines: each side measures durations on its own
//     monotonic clock.
//   - Renew: Update with the last revision, every TTL/3, for every lease a
//     Holder has, in one loop.
//   - Fence: the revision written at acquisition. Revisions are the bucket
//     stream's sequence, so a later acquisition of the same lease always has
//     a higher fence; renewals keep the fence.
//   - Lost: a renewal refused (revision mismatch), or the TTL passed since
//     the last successful renewal was SENT. The holder stops at that point,
//     which is never later than the moment a claimant may take over (the
//     claimant starts its TTL after it RECEIVED the revision the holder
//     sent). A process paused past its TTL finds its leases lost when it
//     resumes; the store refuses its writes by fence in the meantime.
//   - Release: Delete with the last revision, so a lease already taken over
//     is not released by its former holder.
//
// A renewal whose reply is lost may still have been written; the next
// renewal then meets a revision mismatch, reads the key, and keeps the lease
// if it still carries this tenure's token.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the KV bucket of leases.
const Bucket = "custos_cluster"

var (
	// ErrHeld is returned by TryAcquire when another holder has the lease
	// (or this claimant has not yet seen it unchanged for its TTL).
	ErrHeld = errors.New("lease held")
	// ErrLost is the cause of a lease's end when it was not released: a
	// renewal was refused or the TTL ran out without one.
	ErrLost = errors.New("lease lost")
	// errReleased is the cause of a lease's end after Release.
	errReleased = errors.New("lease released")
)

// EnsureBucket creates or updates the lease bucket with the given replicas
// (1 or 3 in practice) and returns it.
func EnsureBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	if replicas < 1 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:       Bucket,
		Description:  "custos leases (partition owners, anchoring leader)",
		History:      1,
		Replicas:     replicas,
		Storage:      jetstream.FileStorage,
		MaxValueSize: 1024,
	})
	if err != nil {
		return nil, fmt.Errorf("lease bucket: %w", err)
	}
	return kv, nil
}

// value is what a lease key holds.
type value struct {
	Holder string `json:"holder"`
	// Token is random per tenure: a holder recognises its own writes by it.
	Token string `json:"token"`
	TTLms int64  `json:"ttl_ms"`
	// Expires is the holder's wall clock plus TTL at the renewal; for
	// people only, never compared by custos.
	Expires time.Time `json:"expires"`
}

// Lease is one lease held by a Holder. Its methods are safe for concurrent
// use.
type Lease struct {
	name  string
	fence uint64
	token string
	done  chan struct{}

	mu     sync.Mutex
	rev    uint64    // revision of the last write of ours seen
	sentAt time.Time // when the last successful renewal was sent (monotonic)
	timer  *time.Timer
	cause  error // set once done is closed
}

// Name is the lease's key.
func (l *Lease) Name() string { return l.name }

// Fence is the revision written at acquisition: higher for every later
// tenure of this lease, by any holder.
func (l *Lease) Fence() uint64 { return l.fence }

// Done is closed when the lease ends (lost or released).
func (l *Lease) Done() <-chan struct{} { return l.done }

// Err is nil while the lease is held, then ErrLost (wrapped with the
// reason) or an error saying it was released.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause
}

// end closes the lease once with cause.
func (l *Lease) end(cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cause != nil {
		return
	}
	l.cause = cause
	if l.timer != nil {
		l.timer.Stop()
	}
	close(l.done)
}

// Holder holds leases in one bucket under one name (the node), renews them
// all in one loop (Run), and remembers what it saw of other holders' leases
// to judge their expiry. Its methods are safe for concurrent use.
type Holder struct {
	kv  jetstream.KeyValue
	id  string
	ttl time.Duration
	log *slog.Logger

	mu   sync.Mutex
	held map[string]*Lease
	seen map[string]sighting
}

// sighting is a revision of someone else's lease and when this claimant
// first received it.
type sighting struct {
	rev uint64
	at  time.Time
	ttl time.Duration
}

// NewHolder returns a Holder named id (a node name: stable and unique in the
// cluster) for leases with the given TTL.
func NewHolder(kv jetstream.KeyValue, id string, ttl time.Duration, log *slog.Logger) (*Holder, error) {
	if id == "" {
		return nil, errors.New("lease holder: empty id")
	}
	if ttl < 30*time.Millisecond {
		return nil, fmt.Errorf("lease holder: ttl %v too short", ttl)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Holder{kv: kv, id: id, ttl: ttl, log: log,
		held: map[string]*Lease{}, seen: map[string]sighting{}}, nil
}

// ID is the holder's name.
func (h *Holder) ID() string { return h.id }

// TTL is the holder's lease TTL.
func (h *Holder) TTL() time.Duration { return h.ttl }

// Held returns the leases held now, by name.
func (h *Holder) Held() map[string]*Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := make(map[string]*Lease, len(h.held))
	for k, l := range h.held {
		m[k] = l
	}
	return m
}

// Get returns the lease name if this holder has it.
func (h *Holder) Get(name string) (*Lease, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.held[name]
	return l, ok
}

func (h *Holder) encode(token string) []byte {
	b, _ := json.Marshal(value{Holder: h.id, Token: token, TTLms: h.ttl.Milliseconds(),
		Expires: time.Now().Add(h.ttl).UTC().Truncate(time.Millisecond)})
	return b
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TryAcquire takes the lease name without waiting: it creates the key if
// it is absent, or takes it over if this holder has seen the same revision
// of it for the TTL written in it plus a tenth. Call it again (every TTL/3,
// say) to campaign. It returns the held lease if this holder already has it.
//
// # Errors
//
// ErrHeld when another holder has the lease; other errors are NATS's.
func (h *Holder) TryAcquire(ctx context.Context, name string) (*Lease, error) {
	if l, ok := h.Get(name); ok {
		return l, nil
	}
	token := newToken()
	sent := time.Now()
	e, err := h.kv.Get(ctx, name)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		sent = time.Now()
		rev, err := h.kv.Create(ctx, name, h.encode(token))
		if err != nil {
			return h.afterFailedWrite(ctx, name, token, sent, err)
		}
		return h.install(name, token, rev, sent), nil
	case err != nil:
		return nil, fmt.Errorf("lease %s: %w", name, err)
	}
	var v value
	_ = json.Unmarshal(e.Value(), &v) // an unreadable value is someone else's
	seenAt := time.Now()
	ttl := time.Duration(v.TTLms) * time.Millisecond
	if ttl < h.ttl {
		ttl = h.ttl
	}
	h.mu.Lock()
	s, ok := h.seen[name]
	if !ok || s.rev != e.Revision() {
		h.seen[name] = sighting{rev: e.Revision(), at: seenAt, ttl: ttl}
		h.mu.Unlock()
		return nil, fmt.Errorf("lease %s: %w by %s", name, ErrHeld, v.Holder)
	}
	h.mu.Unlock()
	if time.Since(s.at) < s.ttl+s.ttl/10 {
		return nil, fmt.Errorf("lease %s: %w by %s", name, ErrHeld, v.Holder)
	}
	sent = time.Now()
	rev, err := h.kv.Update(ctx, name, h.encode(token), e.Revision())
	if err != nil {
		return h.afterFailedWrite(ctx, name, token, sent, err)
	}
	h.log.Info("lease taken over", "lease", name, "from", v.Holder, "fence", rev)
	return h.install(name, token, rev, sent), nil
}

// afterFailedWrite handles a refused or unanswered acquisition: the write
// may have happened (lost reply), in which case the key carries our token.
func (h *Holder) afterFailedWrite(ctx context.Context, name, token string, sent time.Time, werr error) (*Lease, error) {
	if errors.Is(werr, jetstream.ErrKeyExists) || errors.Is(werr, jetstream.ErrKeyRevisionMismatch) {
		return nil, fmt.Errorf("lease %s: %w", name, ErrHeld)
	}
	if e, err := h.kv.Get(ctx, name); err == nil && h.ours(e, token) {
		return h.install(name, token, e.Revision(), sent), nil
	}
	return nil, fmt.Errorf("lease %s: %w", name, werr)
}

func (h *Holder) install(name, token string, rev uint64, sent time.Time) *Lease {
	l := &Lease{name: name, fence: rev, token: token, done: make(chan struct{}), rev: rev, sentAt: sent}
	l.timer = time.AfterFunc(h.ttl-time.Since(sent), func() { h.drop(l, fmt.Errorf("%w: ttl ran out without a renewal", ErrLost)) })
	h.mu.Lock()
	h.held[name] = l
	delete(h.seen, name)
	h.mu.Unlock()
	h.log.Info("lease acquired", "lease", name, "holder", h.id, "fence", rev)
	return l
}

// drop ends l and forgets it.
func (h *Holder) drop(l *Lease, cause error) {
	h.mu.Lock()
	if h.held[l.name] == l {
		delete(h.held, l.name)
	}
	h.mu.Unlock()
	if l.Err() == nil && !errors.Is(cause, errReleased) {
		h.log.Warn("lease lost", "lease", l.name, "holder", h.id, "fence", l.fence, "reason", cause)
	}
	l.end(cause)
}

// Renew renews every lease held, concurrently, once. Leases whose renewal
// is refused end with ErrLost; a renewal that fails otherwise is retried by
// the next call while the TTL lasts.
func (h *Holder) Renew(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range h.Held() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.renew(ctx, l)
		}()
	}
	wg.Wait()
}

func (h *Holder) renew(ctx context.Context, l *Lease) {
	l.mu.Lock()
	rev, deadline := l.rev, l.sentAt.Add(h.ttl)
	l.mu.Unlock()
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	sent := time.Now()
	nrev, err := h.kv.Update(ctx, l.name, h.encode(l.token), rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		// Our previous renewal may have been written without our hearing
		// of it: the key then still carries our token.
		if e, gerr := h.kv.Get(ctx, l.name); gerr == nil && h.ours(e, l.token) {
			nrev, err = h.kv.Update(ctx, l.name, h.encode(l.token), e.Revision())
		}
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			h.drop(l, fmt.Errorf("%w: renewal refused (revision moved on)", ErrLost))
			return
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("lease renewal failed", "lease", l.name, "err", err)
		}
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cause != nil {
		return
	}
	l.rev, l.sentAt = nrev, sent
	l.timer.Reset(h.ttl - time.Since(sent))
}

// Release gives up the lease name (Delete with our last revision: a lease
// already taken over is left alone). Releasing a lease not held is a no-op.
func (h *Holder) Release(ctx context.Context, name string) error {
	l, ok := h.Get(name)
	if !ok {
		return nil
	}
	h.drop(l, errReleased)
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	err := h.kv.Delete(ctx, name, jetstream.LastRevision(rev))
	// A renewal whose reply we did not wait for (its context ended) may
	// have been written, so the revision moved on while the key is still
	// ours. Read it back and delete at that revision; a read served by a
	// replica that has not applied the renewal yet gives the older
	// revision, so a mismatch is retried until the key is no longer ours or
	// ctx ends — giving up would leave the lease held for a whole TTL.
	for errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		e, gerr := h.kv.Get(ctx, name)
		if errors.Is(gerr, jetstream.ErrKeyNotFound) || (gerr == nil && !h.ours(e, l.token)) {
			return nil // deleted, or taken over: nothing of ours to release
		}
		if gerr != nil {
			err = gerr
			break
		}
		err = h.kv.Delete(ctx, name, jetstream.LastRevision(e.Revision()))
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("release lease %s: %w", name, ctx.Err())
			case <-time.After(releaseRetry):
			}
		}
	}
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// releaseRetry is the pause between attempts of a release whose revision
// moved on.
const releaseRetry = 20 * time.Millisecond

// ours reports whether e was written by this holder in the tenure token.
func (h *Holder) ours(e jetstream.KeyValueEntry, token string) bool {
	var v value
	return json.Unmarshal(e.Value(), &v) == nil && v.Holder == h.id && v.Token == token
}

// Run renews the held leases every TTL/3 until ctx is done, then releases
// them all (with a short timeout of its own).
func (h *Holder) Run(ctx context.Context) error {
	t := time.NewTicker(h.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.Background(), h.ttl/3)
			defer cancel()
			for name := range h.Held() {
				if err := h.Release(rctx, name); err != nil {
					h.log.Warn("lease release", "err", err)
				}
			}
			return nil
		case <-t.C:
			h.Renew(ctx)
		}
	}
}

// Hold campaigns for the lease name (every TTL/4) and runs run while it is
// held, with the fence token; run's ctx is cancelled as soon as the lease is
// lost (a renewal refused, or the TTL passed since the last renewal was
// sent), and Hold campaigns again once run has returned. Hold returns when
// ctx is done (nil), or with run's error when run returns while the lease
// is still held (the lease is then released; a nil error ends Hold too).
func Hold(ctx context.Context, kv jetstream.KeyValue, name, holder string, ttl time.Duration, run func(ctx context.Context, fence uint64) error) error {
	h, err := NewHolder(kv, holder, ttl, nil)
	if err != nil {
		return err
	}
	return h.Hold(ctx, name, run)
}

// Hold is the package's Hold on this Holder: the lease is renewed by Hold
// itself, so do not also call Run for it.
func (h *Holder) Hold(ctx context.Context, name string, run func(ctx context.Context, fence uint64) error) error {
	poll := time.NewTicker(h.ttl / 4)
	defer poll.Stop()
	for {
		l, err := h.TryAcquire(ctx, name)
		if err == nil {
			if err := h.runHeld(ctx, l, run); !errors.Is(err, ErrLost) {
				return err
			}
		} else if !errors.Is(err, ErrHeld) && ctx.Err() == nil {
			h.log.Warn("lease campaign", "lease", name, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		}
	}
}

// runHeld runs run under l, renewing it, and returns ErrLost if the lease
// ended under run, else run's error (after releasing the lease).
func (h *Holder) runHeld(ctx context.Context, l *Lease, run func(ctx context.Context, fence uint64) error) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(h.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-l.Done():
				cancel()
				return
			case <-t.C:
				h.renew(rctx, l)
			}
		}
	}()
	err := run(rctx, l.Fence())
	cancel()
	<-stopped
	if lerr := l.Err(); lerr != nil {
		return lerr
	}
	relctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), h.ttl/3)
	defer rcancel()
	if rerr := h.Release(relctx, l.name); rerr != nil {
		h.log.Warn("lease release", "err", rerr)
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}
