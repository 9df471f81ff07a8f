package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/pgstore"
	"github.com/custos-dev/custos/internal/cluster"
	"github.com/custos-dev/custos/store/pg"
	"github.com/custos-dev/custos/twin"
)

// AnchorLease is the lease whose holder is the anchoring leader.
const AnchorLease = "anchor"

// AnchorLeader runs anchoring in a cluster (docs/cluster.md, "Anchoring in
// a cluster"): the anchor service runs only on the node holding lease
// "anchor", over anchor/pgstore fenced by that lease's fence, and finds
// what to anchor in the shared twins table (pgstore.ChangedHeads, re-read
// every epoch interval) besides the heads this node commits itself. Every
// node keeps a read-only service over the same store for proofs, status and
// verification.
type AnchorLeader struct {
	cfg    anchor.Config // template: Store, Heads set per tenure
	db     *pg.DB
	holder *cluster.Holder
	log    *slog.Logger
	reader *anchor.Service

	mu    sync.Mutex
	lead  *anchor.Service // nil unless this node leads
	fence uint64          // of the current or last tenure
}

// NewAnchorLeader returns the anchoring of a cluster node: cfg without
// Store or Heads, the shared PostgreSQL store, and this node's holder of
// the anchor lease (a Holder of its own: Hold renews the lease).
func NewAnchorLeader(cfg anchor.Config, db *pg.DB, holder *cluster.Holder) (*AnchorLeader, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rcfg := cfg
	rcfg.Store = pgstore.New(db.Pool(), 0, holder.ID())
	reader, err := anchor.New(rcfg)
	if err != nil {
		return nil, err
	}
	return &AnchorLeader{cfg: cfg, db: db, holder: holder, log: cfg.Logger, reader: reader}, nil
}

// Reader is the read-only service (proofs, status, the operator pin).
func (l *AnchorLeader) Reader() *anchor.Service { return l.reader }

// Leading reports whether this node is the anchoring leader now, and the
// fence of its current (or last) tenure.
func (l *AnchorLeader) Leading() (bool, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lead != nil, l.fence
}

// Observe passes heads this node committed to the service when it leads
// (the heads of other nodes come from the twins table); else it drops them.
func (l *AnchorLeader) Observe(heads []twin.Head) {
	l.mu.Lock()
	svc := l.lead
	l.mu.Unlock()
	if svc != nil {
		svc.Observe(heads)
	}
}

// Status is the leader's status when this node leads, else the reader's,
// with who leads.
func (l *AnchorLeader) Status(ctx context.Context) (*ClusterAnchorStatus, error) {
	l.mu.Lock()
	svc, fence := l.lead, l.fence
	l.mu.Unlock()
	leading := svc != nil
	if svc == nil {
		svc = l.reader
	}
	st, err := svc.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := &ClusterAnchorStatus{Status: st, Node: l.holder.ID(), Leading: leading}
	if leading {
		out.Fence = fence
	}
	ro := pgstore.New(l.db.Pool(), 0, "")
	if f, h, err := ro.Leader(ctx); err == nil {
		out.Leader, out.LeaderFence = h, f
	}
	return out, nil
}

// ClusterAnchorStatus is GET /v1/anchors in a cluster: the anchor status
// and the anchoring leader.
type ClusterAnchorStatus struct {
	*anchor.Status
	Node        string `json:"node"`                   // this node
	Leading     bool   `json:"leading"`                // this node anchors
	Fence       uint64 `json:"fence,omitempty"`        // its fence, when leading
	Leader      string `json:"leader,omitempty"`       // the last leader that wrote the store
	LeaderFence uint64 `json:"leader_fence,omitempty"` // and its fence
}

// Run connects the reader to the chain, then campaigns for the anchor
// lease until ctx is done, running the anchor service while it holds it.
// A tenure ends when the lease is lost or the store refuses the fence;
// the node then campaigns again.
func (l *AnchorLeader) Run(ctx context.Context) error {
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		err := l.reader.Connect(ctx)
		if err == nil {
			break
		}
		if errors.Is(err, anchor.ErrConfig) {
			return err
		}
		l.log.Warn("anchor: chain not reachable; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	for ctx.Err() == nil {
		err := l.holder.Hold(ctx, AnchorLease, l.tenure)
		if err != nil && ctx.Err() == nil {
			l.log.Warn("anchor: tenure ended", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(l.holder.TTL()):
			}
		}
	}
	return nil
}

// tenure runs the anchor service as leader with fence.
func (l *AnchorLeader) tenure(ctx context.Context, fence uint64) error {
	st := pgstore.New(l.db.Pool(), fence, l.holder.ID())
	if err := st.Claim(ctx); err != nil {
		return err
	}
	cfg := l.cfg
	cfg.Store, cfg.Heads, cfg.HeadsChanged = st, st.ChangedHeads, true
	if cfg.Rescan <= 0 {
		cfg.Rescan = cfg.Interval
	}
	svc, err := anchor.New(cfg)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.lead, l.fence = svc, fence
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.lead = nil
		l.mu.Unlock()
	}()
	l.log.Info("anchor: leading", "node", l.holder.ID(), "fence", fence)
	err = svc.Run(ctx)
	if ctx.Err() != nil {
		l.log.Info("anchor: no longer leading", "node", l.holder.ID(), "fence", fence)
		return nil
	}
	return err
}

// startClusterAnchoring sets up anchoring on a cluster node: the anchor
// lease in custos_cluster (the TTL of the partition leases), the fenced
// PostgreSQL anchor store, and a read-only service for proofs and status.
func (a *App) startClusterAnchoring(ctx context.Context, cfg anchor.Config) error {
	db, ok := a.Store.(*pg.DB)
	if !ok {
		return errors.New("cluster: anchoring needs the postgres store")
	}
	var kv jetstream.KeyValue
	if err := a.declare(ctx, "lease bucket", func() (err error) {
		kv, err = cluster.EnsureBucket(ctx, a.JS, a.replicas())
		return err
	}); err != nil {
		return err
	}
	ttl := a.Config.Cluster.LeaseTTL
	if ttl <= 0 {
		ttl = 6 * time.Second
	}
	h, err := cluster.NewHolder(kv, a.Config.Cluster.Node, ttl, a.log)
	if err != nil {
		return err
	}
	if a.AnchorLeader, err = NewAnchorLeader(cfg, db, h); err != nil {
		return err
	}
	a.Anchor = a.AnchorLeader.Reader()
	a.anchorGauges()
	m, l := a.Metrics, a.AnchorLeader
	m.Gauge("custos_anchor_leader", "1 when this node is the anchoring leader (holds lease anchor), else 0.", func() float64 {
		if ok, _ := l.Leading(); ok {
			return 1
		}
		return 0
	})
	m.Gauge("custos_anchor_fence", "Fence of this node's current or last tenure as anchoring leader (0: never led).", func() float64 {
		_, f := l.Leading()
		return float64(f)
	})
	a.log.Info("anchoring (cluster: on the holder of lease anchor)", "chain_id", a.Chain.ChainID, "contract", cfg.Contract.Hex(), "signer", a.Anchor.Signer().Hex())
	return nil
}
