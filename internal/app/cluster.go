package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/bus"
	"github.com/custos-dev/custos/internal/cluster"
	"github.com/custos-dev/custos/store/pg"
)

// ClusterConfig runs the daemon as one node of a cluster (docs/cluster.md):
// the input stream is partitioned, each partition owned by one node at a
// time through a lease, commits fenced in PostgreSQL.
type ClusterConfig struct {
	// Node names this node: stable, unique in the cluster, [A-Za-z0-9_-].
	// It is also the embedded NATS server's name.
	Node string
	// Partitions of the input stream, fixed for the deployment (every
	// node the same; a node started with another number refuses to start).
	Partitions int
	// Replicas of the streams and buckets: 0 means 3 when the NATS cluster
	// has at least three servers, else 1.
	Replicas int
	// LeaseTTL of partition leases and membership (default 6 s).
	LeaseTTL time.Duration
	// Listen and Routes cluster the embedded NATS server with the other
	// nodes' (host:port of this server's route listener, and nats://host:port
	// of the others'); empty with an external NATS (Config.NATSURL).
	Listen string
	Routes []string
	// Name of the NATS cluster of embedded servers (default "custos").
	Name string
}

// sessionTimeout bounds a PostgreSQL transaction of a paused node (it
// holds its partitions' fence rows): four lease TTLs, at least 5 s.
func (cc *ClusterConfig) sessionTimeout() time.Duration {
	ttl := cc.LeaseTTL
	if ttl == 0 {
		ttl = 6 * time.Second
	}
	return max(4*ttl, 5*time.Second)
}

// DefaultPartitions is the number of partitions when none is given: enough
// to spread over a dozen nodes, few enough that a partition holds many twins.
const DefaultPartitions = 16

// checkCluster validates the cluster configuration before anything starts.
func (c *Config) checkCluster() error {
	cc := c.Cluster
	if cc == nil {
		return nil
	}
	switch {
	case cc.Node == "":
		return errors.New("cluster: a node id is required (--node-id)")
	case c.Store == "":
		return errors.New("cluster: the embedded store cannot be shared or fenced; a cluster needs the postgres store (--store postgres://…)")
	case cc.Partitions < 1 || cc.Partitions > 1024:
		return fmt.Errorf("cluster: %d partitions: want 1–1024", cc.Partitions)
	case c.NATSURL != "" && (cc.Listen != "" || len(cc.Routes) > 0):
		return errors.New("cluster: --cluster-listen/--cluster-routes cluster the embedded NATS server; with --nats-url the external servers are the cluster")
	}
	return nil
}

// replicas is the replica count for streams and buckets.
func (a *App) replicas() int {
	cc := a.Config.Cluster
	switch {
	case cc == nil:
		return 1
	case cc.Replicas > 0:
		return cc.Replicas
	}
	servers := map[string]bool{}
	for _, u := range a.Conn.Servers() {
		servers[u] = true
	}
	for _, u := range a.Conn.DiscoveredServers() {
		servers[u] = true
	}
	if len(servers) >= 3 || len(cc.Routes) >= 2 {
		return 3
	}
	return 1
}

// startCluster creates the lease bucket and the partition balancer (before
// the bus, which takes its ownership from it).
func (a *App) startCluster(ctx context.Context) error {
	db, ok := a.Store.(*pg.DB)
	if !ok {
		return errors.New("cluster: the store does not fence (postgres needed)")
	}
	err := a.declare(ctx, "lease bucket", func() (err error) {
		a.Leases, err = cluster.EnsureBucket(ctx, a.JS, a.replicas())
		return err
	})
	if err != nil {
		return err
	}
	return a.declare(ctx, "partitions", func() (err error) {
		a.Partitions, err = a.newPartitions(ctx, db)
		return err
	})
}

func (a *App) newPartitions(ctx context.Context, db *pg.DB) (*cluster.Partitions, error) {
	cc := a.Config.Cluster
	p, err := cluster.NewPartitions(ctx, cluster.PartitionsConfig{
		JS: a.JS, Leases: a.Leases, Node: cc.Node, Partitions: cc.Partitions, TTL: cc.LeaseTTL, Replicas: a.replicas(),
		Fence: db.AdvanceFence,
		Acquired: func(ctx context.Context, p int) {
			n, err := a.Runtime.LoadTimersWhere(ctx, a.Partitions.Match(p))
			if err != nil && ctx.Err() == nil {
				a.log.Warn("partition timers", "partition", p, "err", err)
			} else if n > 0 {
				a.log.Info("partition timers loaded", "partition", p, "timers", n)
			}
		},
		Released:     func(p int) { a.Runtime.DropTimers(a.Partitions.Match(p)) },
		WaitReleased: func(ctx context.Context, p int) error { return a.Bus.WaitReleased(ctx, p) },
		Registry:     a.Metrics.Registry,
		Logger:       a.log,
	})
	return p, err
}

// waitJetStream waits until clustered JetStream answers (a meta leader is
// elected, which needs a quorum of the servers up), up to two minutes.
func waitJetStream(ctx context.Context, js jetstream.JetStream, log *slog.Logger) error {
	deadline := time.Now().Add(2 * time.Minute)
	for said := false; ; {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("cluster: jetstream not available: %w", err)
		}
		if !said {
			log.Info("waiting for the NATS cluster's JetStream (a quorum of servers)", "err", err)
			said = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// setupBus declares the streams and buckets. Nodes of a cluster starting
// together race to create the same replicated streams, which can time out
// while the servers agree: a node retries for a minute.
func (a *App) setupBus(ctx context.Context) error {
	return a.declare(ctx, "streams", func() error { return a.Bus.Setup(ctx) })
}

// declare runs f, which creates or updates JetStream streams or buckets.
// Nodes of a cluster starting together race to create the same replicated
// ones, which can time out while the servers agree: in a cluster, f is
// retried for a minute.
func (a *App) declare(ctx context.Context, what string, f func() error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := f()
		if err == nil || a.Config.Cluster == nil || time.Now().After(deadline) || ctx.Err() != nil || errors.Is(err, bus.ErrPartitions) {
			return err
		}
		a.log.Info("jetstream setup: retrying", "what", what, "err", err)
		time.Sleep(500 * time.Millisecond)
	}
}
