package bus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/custos-dev/custos/internal/cluster"
	"github.com/custos-dev/custos/twin"
)

// Metadata of the input stream (see docs/cluster.md).
const (
	// MetaPartitions records the number of partitions of a partitioned
	// input stream; nodes started with another number refuse to start.
	MetaPartitions = "custos_partitions"
	// MetaPartitionedAfter is the stream sequence up to which the
	// single-node consumer had acknowledged everything when the stream was
	// partitioned: partition consumers start after it.
	MetaPartitionedAfter = "custos_partitioned_after"
)

// PartitionConsumer is the name of the durable consumer of partition p
// created by the owner holding fence token fence, in its run-th run of
// ingest. A name is never used twice: a former owner's (or an earlier
// run's) pulls and late acknowledgements, which JetStream does not fence,
// address a consumer that no longer exists instead of acknowledging input
// the current one has not applied.
func PartitionConsumer(p int, fence, run uint64) string {
	return partitionConsumerPrefix(p) + strconv.FormatUint(fence, 10) + "-" + strconv.FormatUint(run, 10)
}

func partitionConsumerPrefix(p int) string { return Consumer + "-p" + strconv.Itoa(p) + "-" }

// ErrPartitions is wrapped by Setup's refusals about partitions (a node
// started with another number than the stream's, …): not worth retrying.
var ErrPartitions = errors.New("partitions")

// errRebalance ends a run of consume when the owned partitions changed.
var errRebalance = errors.New("partitions changed")

// partitionInput makes sc, the input stream's configuration, agree with
// the stream as it exists: the same number of partitions (0: none), or, for
// a single-node stream becoming partitioned, one whose single-node consumer
// has nothing left unacknowledged.
func (b *Bus) partitionInput(ctx context.Context, sc *jetstream.StreamConfig) error {
	n := b.cfg.Partitions
	have, after := 0, uint64(0)
	s, err := b.js.Stream(ctx, StreamInput)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		return fmt.Errorf("stream %s: %w", StreamInput, err)
	default:
		md := s.CachedInfo().Config.Metadata
		if v, ok := md[MetaPartitions]; ok {
			if have, err = strconv.Atoi(v); err != nil {
				return fmt.Errorf("stream %s: metadata %s=%q: not a number", StreamInput, MetaPartitions, v)
			}
		}
		after, _ = strconv.ParseUint(md[MetaPartitionedAfter], 10, 64)
	}
	switch {
	case have == n:
	case have > 0 && n == 0:
		return fmt.Errorf("%w: stream %s is partitioned (%d partitions, a cluster's): start with --cluster --partitions %d", ErrPartitions, StreamInput, have, have)
	case have > 0:
		return fmt.Errorf("%w: stream %s has %d partitions, this node was started with %d: every node of a cluster uses the same number (it is fixed when the cluster is first started)", ErrPartitions, StreamInput, have, n)
	case s != nil:
		// A single node's stream becomes a cluster's. Input still
		// unacknowledged in the old subject shape would be seen by no
		// partition consumer: refuse until the single node has drained it.
		c, err := b.js.Consumer(ctx, StreamInput, Consumer)
		switch {
		case errors.Is(err, jetstream.ErrConsumerNotFound):
		case err != nil:
			return fmt.Errorf("consumer %s: %w", Consumer, err)
		default:
			info, err := c.Info(ctx)
			if err != nil {
				return fmt.Errorf("consumer %s: %w", Consumer, err)
			}
			if info.NumPending > 0 || info.NumAckPending > 0 {
				return fmt.Errorf("%w: stream %s holds %d input messages not yet applied by the single-node runtime: run custos without --cluster until they are, then start the cluster", ErrPartitions, StreamInput, info.NumPending+uint64(info.NumAckPending))
			}
			after = info.AckFloor.Stream
		}
	}
	if n == 0 {
		return nil
	}
	src, dest := cluster.InputTransform(n)
	sc.SubjectTransform = &jetstream.SubjectTransformConfig{Source: src, Destination: dest}
	// One token after the prefix only: a client publishing a stored shape
	// (custos.telemetry.<p>.<twin>) directly would bypass the partitioning.
	sc.Subjects = []string{TelemetryPrefix + "*", CommandPrefix + "*", TimerPrefix + "*"}
	if len(b.cfg.Tenants) > 0 {
		// Partitioned before they reach the stream, by the account mapping
		// of custos's account (cluster.TenantInputMapping).
		sc.Subjects = append(sc.Subjects, TenantPrefix+"*.telemetry.*.*", TenantPrefix+"*.command.*.*")
	}
	sc.Metadata = map[string]string{MetaPartitions: strconv.Itoa(n), MetaPartitionedAfter: strconv.FormatUint(after, 10)}
	if have == 0 && s != nil {
		b.log.Info("input stream partitioned", "partitions", n, "after_seq", after)
		if err := b.js.DeleteConsumer(ctx, StreamInput, Consumer); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("consumer %s: delete: %w", Consumer, err)
		}
	}
	return nil
}

// pullExpiry bounds each pull request of ingest's consumers, and with it
// (heartbeats every half of it, missing after two) how long a pull request
// the server no longer holds goes unnoticed: the client then issues a new
// one. nats.go's default, 30 s, let such a loss stall ingest for 30 s
// (docs/rationale.md, "Why are purges sent only when they remove
// something?"); the cost is one pull request per 5 s per idle consumer.
const pullExpiry = 5 * time.Second

// startConsumers (re)creates the consumers of this run, the single one or
// one per owned partition, each from its acknowledgement floor, and
// consumes them into handle. stop stops them all (also after an error).
func (b *Bus) startConsumers(ctx context.Context, handle func(jetstream.Msg)) (stop func(), err error) {
	var ccs []jetstream.ConsumeContext
	stop = func() {
		for _, cc := range ccs {
			cc.Stop()
		}
		b.mu.Lock()
		b.consuming = nil
		b.mu.Unlock()
	}
	errs := jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		b.log.Debug("consume", "err", err)
	})
	if b.cfg.Partitions == 0 {
		if err := b.resetConsumer(ctx); err != nil {
			return stop, err
		}
		cc, err := b.cons.Consume(handle, jetstream.PullMaxMessages(b.cfg.BatchSize*4), jetstream.PullExpiry(pullExpiry), errs)
		if err != nil {
			return stop, fmt.Errorf("consume: %w", err)
		}
		ccs = append(ccs, cc)
		return stop, nil
	}
	owned := b.cfg.Ownership.Owned()
	b.tokens = owned
	b.runs++
	run := b.runs
	if len(owned) == 0 {
		return stop, nil
	}
	s, err := b.js.Stream(ctx, StreamInput)
	if err != nil {
		return stop, fmt.Errorf("stream %s: %w", StreamInput, err)
	}
	after, _ := strconv.ParseUint(s.CachedInfo().Config.Metadata[MetaPartitionedAfter], 10, 64)
	var names []string
	lister := s.ConsumerNames(ctx)
	for name := range lister.Name() {
		names = append(names, name)
	}
	if err := lister.Err(); err != nil {
		return stop, fmt.Errorf("stream %s: consumers: %w", StreamInput, err)
	}
	// Reset the consumers concurrently: each is a round of the stream's
	// replicas, and a rebalance waits for all of them.
	parts := slices.Sorted(maps.Keys(owned))
	conss := make([]jetstream.Consumer, len(parts))
	floors := make([]uint64, len(parts))
	var g errgroup.Group
	for i, p := range parts {
		g.Go(func() error {
			name := PartitionConsumer(p, owned[p], run)
			olds := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return !strings.HasPrefix(n, partitionConsumerPrefix(p)) })
			cons, floor, err := b.resetDurable(ctx, name, []string{cluster.PartitionFilter(p), cluster.TenantPartitionFilter(p)}, after, append(olds, name)...)
			if err != nil {
				return fmt.Errorf("partition %d: %w", p, err)
			}
			conss[i], floors[i] = cons, floor
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return stop, err
	}
	b.checkRetained(slices.Min(floors), s.CachedInfo().State.FirstSeq)
	pull := max(b.cfg.BatchSize*4/len(owned), 256)
	for i, cons := range conss {
		cc, err := cons.Consume(handle, jetstream.PullMaxMessages(pull), jetstream.PullExpiry(pullExpiry), errs)
		if err != nil {
			return stop, fmt.Errorf("partition %d: consume: %w", parts[i], err)
		}
		ccs = append(ccs, cc)
	}
	b.mu.Lock()
	b.consuming = owned
	b.mu.Unlock()
	return stop, nil
}

// watchOwnership ends the run (errRebalance) when the owned partitions or
// their tokens change.
func (b *Bus) watchOwnership(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.cfg.Ownership.Changed():
			if !maps.Equal(b.cfg.Ownership.Owned(), b.tokens) {
				return errRebalance
			}
		}
	}
}

// fenced tells Ownership about a commit the store refused for a partition.
func (b *Bus) fenced(err error) {
	var fe *twin.FencedError
	if b.cfg.Ownership != nil && errors.As(err, &fe) {
		b.log.Warn("commit fenced: another node owns the partition now; giving it up", "partition", fe.Partition, "token", fe.Token, "current", fe.Current)
		b.cfg.Ownership.Fenced(fe.Partition)
	}
}

// Consuming returns the partitions consumed now, with their fence tokens.
func (b *Bus) Consuming() map[int]uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.consuming)
}

// WaitReleased returns once ingest no longer consumes partition p: its
// consumer is stopped and no batch of it is being applied or committed
// any more (a node gives a partition up only then).
func (b *Bus) WaitReleased(ctx context.Context, p int) error {
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	for {
		b.mu.Lock()
		_, busy := b.consuming[p]
		b.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tk.C:
		}
	}
}
