package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// NodesBucket is the KV bucket of cluster members: key = node id, put by
// the node every TTL/3, gone TTL after its last heartbeat (the bucket's
// MaxAge).
const NodesBucket = "custos_nodes"

// PartitionLease is the lease key of partition p in bucket custos_cluster.
func PartitionLease(p int) string { return "partition." + strconv.Itoa(p) }

// PartitionsConfig configures Partitions.
type PartitionsConfig struct {
	JS jetstream.JetStream
	// Leases is the bucket custos_cluster (EnsureBucket).
	Leases jetstream.KeyValue
	// Node names this node: stable and unique in the cluster.
	Node string
	// Partitions of the input stream (the same on every node).
	Partitions int
	// TTL of the partition leases and of membership (default 6 s). A node
	// that misses renewals for a TTL loses its partitions; others take them
	// after they have seen the lease unchanged for a TTL and a tenth.
	TTL time.Duration
	// Replicas of the members bucket.
	Replicas int
	// Fence raises the store's fence of a partition to the lease's token
	// (pg.DB.AdvanceFence). It runs before the node reads anything of the
	// partition, so a former owner can no longer commit it.
	Fence func(ctx context.Context, p int, token uint64) error
	// Acquired runs after a partition is taken and fenced (load its twins'
	// processing-time timers); Released after it is given up or lost (drop
	// them). Both optional.
	Acquired func(ctx context.Context, p int)
	Released func(p int)
	// WaitReleased returns once ingest no longer consumes p
	// (bus.Bus.WaitReleased); a partition is released only then.
	WaitReleased func(ctx context.Context, p int) error
	Registry     prometheus.Registerer // optional
	Logger       *slog.Logger
}

// Partitions balances the input partitions over the live nodes with leases:
// every node aims at ceil(partitions/live nodes), takes free partitions
// (never-held, released, or expired) while below, and gives up extras when
// above. It implements bus.Ownership. See docs/cluster.md.
type Partitions struct {
	cfg     PartitionsConfig
	log     *slog.Logger
	holder  *Holder
	nodes   jetstream.KeyValue
	changed chan struct{}

	mu     sync.Mutex
	owned  map[int]uint64    // partition → fence, fenced in the store
	lostAt map[int]time.Time // owned partitions whose lease ended, since when
	live   int

	fencedCommits atomic.Uint64
	moves         atomic.Uint64
}

// NewPartitions validates cfg, creates the members bucket and returns the
// balancer. Call Run.
func NewPartitions(ctx context.Context, cfg PartitionsConfig) (*Partitions, error) {
	if cfg.JS == nil || cfg.Leases == nil || cfg.Fence == nil || cfg.WaitReleased == nil {
		return nil, errors.New("cluster partitions: JS, Leases, Fence and WaitReleased are required")
	}
	if cfg.Partitions <= 0 {
		return nil, fmt.Errorf("cluster partitions: %d partitions", cfg.Partitions)
	}
	if !validNode(cfg.Node) {
		return nil, fmt.Errorf("cluster node id %q: want 1–64 characters of [A-Za-z0-9_-]", cfg.Node)
	}
	if cfg.TTL == 0 {
		cfg.TTL = 6 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h, err := NewHolder(cfg.Leases, cfg.Node, cfg.TTL, cfg.Logger)
	if err != nil {
		return nil, err
	}
	nodes, err := cfg.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      NodesBucket,
		Description: "custos cluster members: key = node id, kept by heartbeats",
		History:     1,
		TTL:         cfg.TTL,
		Storage:     jetstream.FileStorage,
		Replicas:    max(cfg.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("kv %s: %w", NodesBucket, err)
	}
	m := &Partitions{cfg: cfg, log: cfg.Logger.With("node", cfg.Node), holder: h, nodes: nodes,
		changed: make(chan struct{}, 1), owned: map[int]uint64{}, lostAt: map[int]time.Time{}}
	if cfg.Registry != nil {
		m.register(cfg.Registry)
	}
	return m, nil
}

func validNode(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Owned returns the partitions held and fenced, with their fence tokens.
// A partition whose lease has ended is not among them (ingest must not
// recreate its consumer), though ingest may still be finishing what it
// holds of it (see balance).
func (m *Partitions) Owned() map[int]uint64 {
	held := m.holder.Held()
	m.mu.Lock()
	defer m.mu.Unlock()
	o := maps.Clone(m.owned)
	for p := range o {
		if _, lost := m.lostAt[p]; lost {
			delete(o, p)
		} else if _, ok := held[PartitionLease(p)]; !ok {
			delete(o, p)
		}
	}
	return o
}

// Changed receives a value when Owned may have changed.
func (m *Partitions) Changed() <-chan struct{} { return m.changed }

// Live is the number of live nodes seen at the last heartbeat.
func (m *Partitions) Live() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.live
}

func (m *Partitions) signal() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// Fenced gives p up at once: the store refused a commit for it.
func (m *Partitions) Fenced(p int) {
	m.fencedCommits.Add(1)
	m.mu.Lock()
	_, ok := m.owned[p]
	delete(m.owned, p)
	delete(m.lostAt, p)
	m.mu.Unlock()
	if !ok {
		return
	}
	m.signal()
	if m.cfg.Released != nil {
		m.cfg.Released(p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.TTL/3)
	defer cancel()
	if err := m.holder.Release(ctx, PartitionLease(p)); err != nil {
		m.log.Warn("release fenced partition", "partition", p, "err", err)
	}
}

// FencedCommits counts commits the store refused by fence.
func (m *Partitions) FencedCommits() uint64 { return m.fencedCommits.Load() }

// Run heartbeats, renews the leases and balances the partitions every
// TTL/3 until ctx is done; then it gives up every partition (once ingest
// has stopped consuming it) and leaves.
func (m *Partitions) Run(ctx context.Context) error {
	// Renewals have a loop of their own: balancing may wait (for ingest to
	// let a partition go) longer than a lease may go unrenewed.
	rctx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		tk := time.NewTicker(m.cfg.TTL / 3)
		defer tk.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-tk.C:
				m.holder.Renew(rctx)
			}
		}
	}()
	defer func() {
		stopRenew()
		<-renewed
	}()
	tick := time.NewTicker(m.cfg.TTL / 3)
	defer tick.Stop()
	for {
		m.balance(ctx)
		select {
		case <-ctx.Done():
			m.leave()
			return nil
		case <-tick.C:
		}
	}
}

// leave releases every partition once ingest no longer consumes it, and the
// membership.
func (m *Partitions) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.TTL/2)
	defer cancel()
	parts := slices.Sorted(maps.Keys(m.Owned()))
	m.mu.Lock()
	clear(m.owned)
	m.mu.Unlock()
	m.signal()
	for _, p := range parts {
		if err := m.cfg.WaitReleased(ctx, p); err != nil {
			// The next owner fences it before reading anything.
			m.log.Warn("leaving: ingest still consumes a partition; releasing it anyway (fenced)", "partition", p)
		}
		rctx, cancel := context.WithTimeout(context.Background(), m.cfg.TTL/3)
		m.holder.Release(rctx, PartitionLease(p))
		cancel()
	}
	dctx, cancel := context.WithTimeout(context.Background(), m.cfg.TTL/3)
	defer cancel()
	m.nodes.Delete(dctx, m.cfg.Node)
}

// balance is one round: heartbeat, forget lost leases, then give up extras
// or take free partitions.
func (m *Partitions) balance(ctx context.Context) {
	if _, err := m.nodes.Put(ctx, m.cfg.Node, []byte(strconv.Itoa(len(m.Owned())))); err != nil {
		if ctx.Err() == nil {
			m.log.Warn("cluster heartbeat", "err", err)
		}
		return
	}
	live := 1
	// A listing ends when its watcher reports the initial values done,
	// which a stream changing leaders can delay: bounded, so a round
	// cannot stall the balancer (it counts what was listed, at least itself).
	lctx, cancel := context.WithTimeout(ctx, m.cfg.TTL)
	defer cancel()
	if lister, err := m.nodes.ListKeys(lctx); err == nil {
		n := 0
		for k := range lister.Keys() {
			_ = k
			n++
		}
		live = max(n, 1)
	}
	m.mu.Lock()
	m.live = live
	m.mu.Unlock()

	// Leases that ended without our releasing them. Ingest goes on with
	// what it holds for one more TTL: the store's fence refuses its commits
	// once the next owner has fenced the partition (and ingest then gives
	// the partition up at once, see Fenced), and a commit before that is
	// one the next owner will read. Consumers of a partition taken over are
	// gone, so no new input comes.
	held := m.holder.Held()
	for p := range m.Owned() {
		if _, ok := held[PartitionLease(p)]; ok {
			continue
		}
		m.mu.Lock()
		at, seen := m.lostAt[p]
		if !seen {
			m.lostAt[p] = time.Now()
		}
		m.mu.Unlock()
		if seen && time.Since(at) >= m.cfg.TTL {
			m.lost(p)
		}
	}
	target := (m.cfg.Partitions + live - 1) / live
	owned := m.Owned()
	switch {
	case len(owned) > target:
		m.release(ctx, m.extras(owned, len(owned)-target))
	case len(owned) < target:
		m.acquire(ctx, target-len(owned), owned)
	}
}

// lost forgets a partition whose lease ended.
func (m *Partitions) lost(p int) {
	m.mu.Lock()
	_, ok := m.owned[p]
	delete(m.owned, p)
	delete(m.lostAt, p)
	m.mu.Unlock()
	if ok {
		m.log.Warn("partition lost (lease not renewed in time)", "partition", p)
		m.moves.Add(1)
		m.signal()
		if m.cfg.Released != nil {
			m.cfg.Released(p)
		}
	}
}

// preference orders partitions for this node (rendezvous hashing), so that
// nodes campaign for different partitions first.
func (m *Partitions) preference() []int {
	ps := make([]int, m.cfg.Partitions)
	score := make([]uint32, m.cfg.Partitions)
	for p := range ps {
		ps[p] = p
		h := fnv.New32a()
		h.Write([]byte(m.cfg.Node + "/" + strconv.Itoa(p)))
		score[p] = h.Sum32()
	}
	slices.SortFunc(ps, func(a, b int) int { return int(int64(score[a]) - int64(score[b])) })
	return ps
}

// extras picks n owned partitions to give up: the least preferred.
func (m *Partitions) extras(owned map[int]uint64, n int) []int {
	var out []int
	pref := m.preference()
	for i := len(pref) - 1; i >= 0 && len(out) < n; i-- {
		if _, ok := owned[pref[i]]; ok {
			out = append(out, pref[i])
		}
	}
	return out
}

// release gives up parts: ingest stops consuming them first, then their
// leases are deleted, so the next owner starts from what this node
// committed and acknowledged.
func (m *Partitions) release(ctx context.Context, parts []int) {
	m.mu.Lock()
	for _, p := range parts {
		delete(m.owned, p)
	}
	m.mu.Unlock()
	m.signal()
	wctx, cancel := context.WithTimeout(ctx, 5*m.cfg.TTL)
	defer cancel()
	for _, p := range parts {
		if err := m.cfg.WaitReleased(wctx, p); err != nil {
			// Release it anyway (kept, it would be neither owned nor
			// free): the next owner fences it before it reads anything,
			// so whatever this node still commits of it is refused.
			m.log.Warn("ingest did not stop consuming a partition in time; releasing it anyway (fenced)", "partition", p)
		}
		if m.cfg.Released != nil {
			m.cfg.Released(p)
		}
		if err := m.holder.Release(ctx, PartitionLease(p)); err != nil {
			m.log.Warn("release partition", "partition", p, "err", err)
		}
		m.moves.Add(1)
		m.log.Info("partition released", "partition", p)
	}
}

// acquire tries to take up to n partitions not owned, in preference order.
func (m *Partitions) acquire(ctx context.Context, n int, owned map[int]uint64) {
	got := 0
	for _, p := range m.preference() {
		if got == n || ctx.Err() != nil {
			break
		}
		if _, ok := owned[p]; ok {
			continue
		}
		name := PartitionLease(p)
		if _, ok := m.holder.Get(name); ok {
			continue // held but being released
		}
		l, err := m.holder.TryAcquire(ctx, name)
		if err != nil {
			if !errors.Is(err, ErrHeld) && ctx.Err() == nil {
				m.log.Warn("partition lease", "partition", p, "err", err)
			}
			continue
		}
		if err := m.cfg.Fence(ctx, p, l.Fence()); err != nil {
			m.log.Warn("partition taken but not fenced; giving it up", "partition", p, "fence", l.Fence(), "err", err)
			m.holder.Release(ctx, name)
			continue
		}
		if m.cfg.Acquired != nil {
			go m.cfg.Acquired(ctx, p)
		}
		m.mu.Lock()
		m.owned[p] = l.Fence()
		delete(m.lostAt, p)
		m.mu.Unlock()
		m.moves.Add(1)
		m.signal()
		got++
		m.log.Info("partition acquired", "partition", p, "fence", l.Fence())
	}
}

// Match returns a predicate for the twins of partition p.
func (m *Partitions) Match(p int) func(id string) bool {
	n := m.cfg.Partitions
	return func(id string) bool { return PartitionOf(id, n) == p }
}

// String describes the owned partitions ("0,3,7").
func (m *Partitions) String() string {
	var s []string
	for _, p := range slices.Sorted(maps.Keys(m.Owned())) {
		s = append(s, strconv.Itoa(p))
	}
	return strings.Join(s, ",")
}

func (m *Partitions) register(r prometheus.Registerer) {
	r.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "custos_partitions_owned", Help: "Input partitions this node owns (cluster mode)."},
			func() float64 { return float64(len(m.Owned())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "custos_partitions_total", Help: "Input partitions of the deployment (cluster mode)."},
			func() float64 { return float64(m.cfg.Partitions) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "custos_cluster_nodes", Help: "Live cluster nodes seen at the last heartbeat."},
			func() float64 { return float64(m.Live()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "custos_fenced_commits_total", Help: "Commits the store refused because another node had taken a partition (fence)."},
			func() float64 { return float64(m.fencedCommits.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "custos_partition_moves_total", Help: "Partitions this node acquired, released or lost."},
			func() float64 { return float64(m.moves.Load()) }),
		&fenceCollector{m: m, desc: prometheus.NewDesc("custos_partition_fence", "Fence token of each partition this node owns (the lease revision at acquisition).", []string{"partition"}, nil)},
	)
}

// fenceCollector exports custos_partition_fence{partition} for the owned
// partitions.
type fenceCollector struct {
	m    *Partitions
	desc *prometheus.Desc
}

func (c *fenceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *fenceCollector) Collect(ch chan<- prometheus.Metric) {
	for p, f := range c.m.Owned() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(f), strconv.Itoa(p))
	}
}
