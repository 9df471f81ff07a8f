package main

import (
	"strings"
	"time"

	"github.com/custos-dev/custos/internal/app"
)

// clusterFlags are the flags of `custos run` for a node of a cluster
// (docs/cluster.md).
type clusterFlags struct {
	on         *bool
	node       *string
	partitions *int
	replicas   *int
	leaseTTL   *time.Duration
	listen     *string
	routes     *string
	name       *string
}

func addClusterFlags(fs *flagSet) clusterFlags {
	return clusterFlags{
		on:         fs.Bool("cluster", false, "run as one node of a cluster: the input stream is partitioned, each partition owned by one node at a time (leases in KV bucket custos_cluster), commits fenced in PostgreSQL; needs --store postgres://… and --node-id (see docs/cluster.md)"),
		node:       fs.String("node-id", "", "with --cluster: this node's name, unique and stable in the cluster ([A-Za-z0-9_-]; also the embedded NATS server's name)"),
		partitions: fs.Int("partitions", app.DefaultPartitions, "with --cluster: input partitions, the same on every node and fixed once the cluster has started (a node given another number refuses to start)"),
		replicas:   fs.Int("replicas", 0, "with --cluster: replicas of the streams and buckets; 0 means 3 when the NATS cluster has at least three servers, else 1"),
		leaseTTL:   fs.Duration("lease-ttl", 6*time.Second, "with --cluster: a node that cannot renew its leases for this long loses its partitions to the others (failover time is about 1.1 × this)"),
		listen:     fs.String("cluster-listen", "", "with --cluster and the embedded NATS server: host:port where it accepts routes from the other nodes' servers"),
		routes:     fs.String("cluster-routes", "", "with --cluster-listen: comma-separated nats://host:port of the other nodes' route listeners (JetStream then runs clustered; give all of them)"),
		name:       fs.String("cluster-name", "custos", "with --cluster-listen: the NATS cluster's name (the same on every node)"),
	}
}

// config returns the cluster configuration, nil without --cluster.
func (c clusterFlags) config() *app.ClusterConfig {
	if !*c.on {
		if *c.listen != "" || *c.routes != "" || *c.node != "" {
			fatalf("--node-id, --cluster-listen and --cluster-routes need --cluster")
		}
		return nil
	}
	var routes []string
	for _, r := range strings.Split(*c.routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			routes = append(routes, r)
		}
	}
	return &app.ClusterConfig{Node: *c.node, Partitions: *c.partitions, Replicas: *c.replicas, LeaseTTL: *c.leaseTTL,
		Listen: *c.listen, Routes: routes, Name: *c.name}
}
