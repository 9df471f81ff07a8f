package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/cluster/natstest"
)

// bucket starts a 3-server cluster and returns the lease bucket (R3) as
// seen through n separate connections.
func bucket(t *testing.T, n int) (*natstest.Cluster, []jetstream.KeyValue) {
	t.Helper()
	c := natstest.Start(t, 3)
	var kvs []jetstream.KeyValue
	for i := 0; i < n; i++ {
		_, js := c.Connect()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		kv, err := EnsureBucket(ctx, js, 3)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		kvs = append(kvs, kv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := kvs[0].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas; r != 3 {
		t.Fatalf("bucket replicas %d, want 3", r)
	}
	return c, kvs
}

func holder(t *testing.T, kv jetstream.KeyValue, id string, ttl time.Duration) *Holder {
	t.Helper()
	h, err := NewHolder(kv, id, ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Three nodes campaign for one lease; holders are stopped one by one, one
// by cancelling (release) and one by losing its NATS connection (no more
// renewals). At no moment do two runs overlap, every run sees a higher
// fence than the one before, and a new holder takes over each time.
func TestClusterLeaseOneHolderAtATimeFailover(t *testing.T) {
	const ttl = 600 * time.Millisecond
	c, _ := bucket(t, 1)
	type node struct {
		cancel context.CancelFunc
		close  func()
		done   chan error
	}
	var (
		inside  atomic.Int32
		overlap atomic.Bool
		mu      sync.Mutex
		fences  []uint64
		holders []string
	)
	nodes := map[string]*node{}
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("node-%d", i)
		nc, js := c.Connect()
		kv, err := js.KeyValue(ctx, Bucket)
		if err != nil {
			t.Fatal(err)
		}
		nctx, cancel := context.WithCancel(ctx)
		n := &node{cancel: cancel, close: nc.Close, done: make(chan error, 1)}
		nodes[id] = n
		go func() {
			n.done <- Hold(nctx, kv, "anchor", id, ttl, func(ctx context.Context, fence uint64) error {
				if inside.Add(1) != 1 {
					overlap.Store(true)
				}
				mu.Lock()
				fences = append(fences, fence)
				holders = append(holders, id)
				mu.Unlock()
				<-ctx.Done()
				inside.Add(-1)
				return ctx.Err()
			})
		}()
	}
	current := func(after int) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(holders)
			var h string
			if n > after {
				h = holders[n-1]
			}
			mu.Unlock()
			if h != "" {
				return h
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no holder after %d tenures", after)
		return ""
	}
	first := current(0)
	// Graceful: the holder's context ends, it releases, another takes over.
	start := time.Now()
	nodes[first].cancel()
	if err := <-nodes[first].done; err != nil {
		t.Fatalf("hold returned %v", err)
	}
	second := current(1)
	t.Logf("released by %s, taken by %s after %v", first, second, time.Since(start))
	if second == first {
		t.Fatalf("same holder %s", first)
	}
	// Failure: the holder's connection goes; it must stop by its TTL and
	// the third node take over only after a full TTL of no renewals.
	start = time.Now()
	nodes[second].close()
	third := current(2)
	took := time.Since(start)
	t.Logf("%s lost its connection, %s took over after %v", second, third, took)
	if third == second || third == first {
		t.Fatalf("holder %s after %s, %s", third, first, second)
	}
	if took < ttl {
		t.Fatalf("took over after %v, before the TTL %v", took, ttl)
	}
	time.Sleep(ttl) // let the lost holder's run notice, had it not
	if overlap.Load() {
		t.Fatal("two holders ran at once")
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(fences); i++ {
		if fences[i] <= fences[i-1] {
			t.Fatalf("fences %v do not increase", fences)
		}
	}
	for _, n := range nodes {
		n.cancel()
	}
}

// A renewal carrying a revision that is no longer the key's is refused and
// ends the lease; the lease also ends by itself when the TTL runs out
// without renewals, and a claimant may not take it before it has seen the
// same revision for the TTL.
func TestClusterLeaseStaleRenewalAndExpiry(t *testing.T) {
	const ttl = 400 * time.Millisecond
	_, kvs := bucket(t, 2)
	ctx := context.Background()
	a := holder(t, kvs[0], "a", 5*time.Second)
	la, err := a.TryAcquire(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	// Someone else moves the revision on (as a takeover would).
	e, err := kvs[1].Get(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := kvs[1].Update(ctx, "p1", []byte(`{"holder":"x","token":"t","ttl_ms":5000}`), e.Revision())
	if err != nil {
		t.Fatal(err)
	}
	if rev <= la.Fence() {
		t.Fatalf("revision %d not above fence %d", rev, la.Fence())
	}
	a.Renew(ctx)
	select {
	case <-la.Done():
	default:
		t.Fatal("lease still held after a refused renewal")
	}
	if !errors.Is(la.Err(), ErrLost) {
		t.Fatalf("err %v, want ErrLost", la.Err())
	}
	if _, ok := a.Get("p1"); ok {
		t.Fatal("holder still lists the lost lease")
	}
	// Releasing a lost lease must not delete the new holder's key.
	if err := a.Release(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	if e, err := kvs[1].Get(ctx, "p1"); err != nil || e.Revision() != rev {
		t.Fatalf("key after stale release: %v %v", e, err)
	}

	// Expiry without renewals: b holds p2 and never renews.
	b := holder(t, kvs[0], "b", ttl)
	lb, err := b.TryAcquire(ctx, "p2")
	if err != nil {
		t.Fatal(err)
	}
	got := time.Now()
	c := holder(t, kvs[1], "c", ttl)
	if _, err := c.TryAcquire(ctx, "p2"); !errors.Is(err, ErrHeld) {
		t.Fatalf("claimant got %v, want ErrHeld", err)
	}
	sighted := time.Now()
	select {
	case <-lb.Done():
		if d := time.Since(got); d > ttl+100*time.Millisecond {
			t.Fatalf("lease ended %v after acquisition, ttl %v", d, ttl)
		}
	case <-time.After(2 * ttl):
		t.Fatal("lease not ended by its TTL")
	}
	if _, err := c.TryAcquire(ctx, "p2"); !errors.Is(err, ErrHeld) {
		t.Fatalf("claimant took over %v after its sighting: %v", time.Since(sighted), err)
	}
	time.Sleep(ttl + ttl/10 - time.Since(sighted) + 10*time.Millisecond)
	lc, err := c.TryAcquire(ctx, "p2")
	if err != nil {
		t.Fatalf("claimant after a TTL: %v", err)
	}
	if lc.Fence() <= lb.Fence() {
		t.Fatalf("fence %d not above %d", lc.Fence(), lb.Fence())
	}
	// Renewals keep the lease past its TTL and keep the fence.
	stop, cancel := context.WithCancel(ctx)
	runDone := make(chan error)
	go func() { runDone <- c.Run(stop) }()
	time.Sleep(3 * ttl)
	if lc.Err() != nil {
		t.Fatalf("renewed lease ended: %v", lc.Err())
	}
	if l, _ := c.Get("p2"); l.Fence() != lc.Fence() {
		t.Fatal("fence changed on renewal")
	}
	cancel()
	<-runDone
	// Run released it on the way out: a new claimant, on another server,
	// creates it as soon as that server has applied the delete (under
	// load, a replica can apply it a few hundred milliseconds late) —
	// before a takeover could happen: that needs 1.1 × TTL after the
	// claimant first sees the lease held, and its first sighting is after
	// this deadline's start.
	d := holder(t, kvs[0], "d", ttl)
	deadline := time.Now().Add(ttl)
	for {
		_, err := d.TryAcquire(ctx, "p2")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrHeld) || time.Now().After(deadline) {
			t.Fatalf("after release: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Many holders race TryAcquire on the same free key: exactly one wins.
func TestClusterLeaseRace(t *testing.T) {
	_, kvs := bucket(t, 3)
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		name := fmt.Sprintf("race-%d", round)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 6; i++ {
			h := holder(t, kvs[i%3], fmt.Sprintf("h%d", i), time.Second)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := h.TryAcquire(ctx, name)
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, ErrHeld):
					t.Errorf("try acquire: %v", err)
				}
			}()
		}
		wg.Wait()
		if w := wins.Load(); w != 1 {
			t.Fatalf("round %d: %d winners", round, w)
		}
	}
}
