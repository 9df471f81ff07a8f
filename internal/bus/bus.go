// Package bus connects the twin runtime to NATS JetStream: it declares the
// public streams, bucket and subjects, consumes the input stream in batches,
// hands them to the runtime, publishes state, alerts and dead letters, and
// acknowledges input only after its effects are durable.
package bus

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/custos-dev/custos/internal/cluster"
	"github.com/custos-dev/custos/internal/metrics"
	"github.com/custos-dev/custos/twin"
)

// Public names (see docs/interfaces.md). Changing them breaks users.
const (
	StreamInput  = "CUSTOS_INPUT"
	StreamAlerts = "CUSTOS_ALERTS"
	StreamDLQ    = "CUSTOS_DLQ"
	Bucket       = "custos_twins"
	Consumer     = "custos-runtime"

	TelemetryPrefix = "custos.telemetry."
	CommandPrefix   = "custos.command."
	TimerPrefix     = "custos.timer."
	DLQPrefix       = "custos.dlq."
	// TenantPrefix starts the subjects of a tenant's input as custos sees
	// it (custos.tenant.<tenant>.telemetry|command.<twin>) and the copies of
	// its twins' state and alerts (custos.tenant.<tenant>.twin.<twin>.state|alert);
	// see internal/natsrv and docs/security.md.
	TenantPrefix = "custos.tenant."

	// Headers on dead letters.
	HeaderReason  = "Custos-Reason"
	HeaderError   = "Custos-Error"
	HeaderSubject = "Custos-Subject"
	HeaderSeq     = "Custos-Stream-Seq"
	HeaderIndex   = "Custos-Event-Index"
)

// StateSubject is where a twin's state changes are published.
func StateSubject(id string) string { return "custos.twin." + id + ".state" }

// AlertSubject is where a twin's alerts are published (kept in CUSTOS_ALERTS).
func AlertSubject(id string) string { return "custos.twin." + id + ".alert" }

// ReasonForbidden dead-letters input a tenant's user sent for a twin outside
// the tenant.
const ReasonForbidden twin.Reason = "forbidden"

// ReasonFuture dead-letters readings dated further in the future than
// Config.MaxFutureSkew.
const ReasonFuture twin.Reason = "future_time"

// Config configures a Bus.
type Config struct {
	Conn    *nats.Conn
	JS      jetstream.JetStream
	Runtime *twin.Runtime
	Store   twin.Store // for re-emitting effects of redelivered inputs
	Metrics *metrics.Metrics
	Logger  *slog.Logger

	// BatchSize is the most input messages processed as one batch (default 1000).
	BatchSize int
	// MaxMessageBytes caps one input message (default 64 KiB); larger ones are
	// dead-lettered as too_large.
	MaxMessageBytes int
	// DuplicateWindow of the input stream for Nats-Msg-Id (default 2 min).
	DuplicateWindow time.Duration
	// Replicas for the streams and bucket (default 1).
	Replicas int
	// StateInterval coalesces KV writes: a twin's state is written to bucket
	// custos_twins at most once per interval (its latest state), while
	// custos.twin.<id>.state carries every batch's state at once. Input is
	// acknowledged only after the KV write that covers it. Default 100 ms;
	// negative writes KV on every batch.
	StateInterval time.Duration
	// OnCommit, if set, is called after each durable batch (for anchoring).
	OnCommit func(*twin.Outcome)
	// Tenants whose users reach custos through tenant accounts: their input
	// arrives with the tenant in the subject and is refused for other twins,
	// and the state and alerts of their twins are copied to them.
	Tenants []string
	// MaxFutureSkew dead-letters (future_time) readings dated more than this
	// after the time JetStream stored them. 0: 24 h; negative: no limit.
	MaxFutureSkew time.Duration
	// InputRetention, if positive, is the input stream's MaxAge: input is
	// removed this long after it was stored, applied or not (the history
	// in the store keeps every applied event). 0 keeps all input. The
	// duplicate window is then at most this long.
	InputRetention time.Duration
	// StateRetention, if positive, is the KV bucket's TTL: a twin's key is
	// removed this long after its last put, i.e. once the twin has not
	// changed for that long, and comes back with its next change. The
	// removal leaves a marker (Nats-Marker-Reason: MaxAge) that watchers see
	// as a purge of the key, kept for stateMarkerTTL. 0 keeps every twin's
	// latest state. For fleets larger than memory: every key costs the NATS
	// server an index entry whether or not the twin is active.
	StateRetention time.Duration
	// PurgeApplied removes input from the input stream once the consumer
	// of custos that reads it has acknowledged it (applied durably, its state in the
	// bucket, its alerts and dead letters published) and DuplicateWindow
	// has passed since it arrived: the stream then holds only input not yet
	// applied or recent, and its per-subject index no longer grows with the
	// fleet. Checked every PurgeInterval.
	// Other readers of the stream see only what custos has not applied yet.
	PurgeApplied bool
	// Partitions > 0 partitions the input stream for a cluster
	// (docs/cluster.md): its subject transform stores custos.<kind>.<twin>
	// as custos.<kind>.<partition>.<twin>, and the bus consumes only the
	// partitions Ownership gives this node, one durable consumer each. 0:
	// one node and one consumer, as always. Every node of a deployment must
	// use the same number; Setup refuses another.
	Partitions int
	// Ownership is required with Partitions.
	Ownership Ownership
}

// Ownership says which input partitions this node consumes (cluster mode;
// internal/cluster implements it with leases).
type Ownership interface {
	// Owned returns the partitions this node holds, each with its fence
	// token (the commit carries it, see twin.Batch.Fences).
	Owned() map[int]uint64
	// Changed receives a value whenever Owned may have changed.
	Changed() <-chan struct{}
	// Fenced says that the store refused a commit for partition p (a newer
	// owner exists): the node gives p up at once.
	Fenced(p int)
}

// Bus is the NATS side of the runtime.
type Bus struct {
	cfg  Config
	log  *slog.Logger
	nc   *nats.Conn
	js   jetstream.JetStream
	cons jetstream.Consumer

	// tokens are the partitions consumed by the current run of consume,
	// with their fence tokens (nil without partitions); set before its
	// goroutines start.
	tokens map[int]uint64
	runs   uint64 // runs of consume with partitions (consumer names)

	puts kvPuts

	mu        sync.Mutex
	consuming map[int]uint64 // partitions consumed now (for WaitReleased)
	ready     bool
	lastErr   error // why ingest last stopped (cleared when it consumes again)
	pubErr    error // the last publication that failed for good (cleared by one that succeeds)
}

// New validates cfg and returns a Bus. Call Setup, then Run.
func New(cfg Config) (*Bus, error) {
	if cfg.Conn == nil || cfg.JS == nil || cfg.Runtime == nil || cfg.Store == nil {
		return nil, errors.New("bus: Conn, JS, Runtime and Store are required")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 64 << 10
	}
	if cfg.DuplicateWindow <= 0 {
		cfg.DuplicateWindow = 2 * time.Minute
	}
	if cfg.InputRetention < 0 {
		return nil, errors.New("bus: negative InputRetention")
	}
	if cfg.InputRetention > 0 {
		cfg.DuplicateWindow = min(cfg.DuplicateWindow, cfg.InputRetention)
	}
	if cfg.StateRetention < 0 {
		return nil, errors.New("bus: negative StateRetention")
	}
	if cfg.StateRetention > 0 && cfg.StateRetention < time.Second {
		return nil, errors.New("bus: StateRetention below 1 s")
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.MaxFutureSkew == 0 {
		cfg.MaxFutureSkew = 24 * time.Hour
	}
	if cfg.StateInterval == 0 {
		cfg.StateInterval = 100 * time.Millisecond
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Partitions < 0 || cfg.Partitions > 0 && cfg.Ownership == nil {
		return nil, errors.New("bus: Partitions needs Ownership")
	}
	return &Bus{cfg: cfg, log: cfg.Logger, nc: cfg.Conn, js: cfg.JS}, nil
}

// Setup creates or updates the streams and the KV bucket. It is
// idempotent. The durable consumer is (re)created by Run.
func (b *Bus) Setup(ctx context.Context) error {
	input := jetstream.StreamConfig{
		Name:        StreamInput,
		Description: "custos input: telemetry, commands and timers of all twins",
		Subjects: []string{TelemetryPrefix + ">", CommandPrefix + ">", TimerPrefix + ">",
			TenantPrefix + "*.telemetry.*", TenantPrefix + "*.command.*"},
		Storage:    jetstream.FileStorage,
		Duplicates: b.cfg.DuplicateWindow,
		Replicas:   b.cfg.Replicas,
		MaxMsgSize: int32(b.cfg.MaxMessageBytes) * 4,
		MaxAge:     b.cfg.InputRetention,
	}
	if err := b.partitionInput(ctx, &input); err != nil {
		return err
	}
	streams := []jetstream.StreamConfig{input, {
		Name:        StreamAlerts,
		Description: "custos alerts raised on twins",
		Subjects:    []string{"custos.twin.*.alert"},
		Storage:     jetstream.FileStorage,
		Duplicates:  b.cfg.DuplicateWindow,
		Replicas:    b.cfg.Replicas,
	}, {
		Name:        StreamDLQ,
		Description: "custos rejected input, with the reason in headers",
		Subjects:    []string{DLQPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Duplicates:  b.cfg.DuplicateWindow,
		Replicas:    b.cfg.Replicas,
		MaxAge:      30 * 24 * time.Hour,
	}}
	for _, sc := range streams {
		if _, err := b.js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("stream %s: %w", sc.Name, err)
		}
	}
	kvc := jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "custos twin state, key = twin id",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
		TTL:         b.cfg.StateRetention,
	}
	if b.cfg.StateRetention > 0 {
		kvc.LimitMarkerTTL = min(stateMarkerTTL, b.cfg.StateRetention)
	} else if kv, err := b.js.KeyValue(ctx, Bucket); err == nil {
		// A stream's message TTLs, once allowed, cannot be disallowed:
		// a bucket that had a retention keeps its markers' setting.
		if st, err := kv.Status(ctx); err == nil {
			kvc.LimitMarkerTTL = st.LimitMarkerTTL()
		}
	}
	if _, err := b.js.CreateOrUpdateKeyValue(ctx, kvc); err != nil {
		return fmt.Errorf("kv %s: %w", Bucket, err)
	}
	return nil
}

// stateMarkerTTL is how long the marker of a key removed by StateRetention
// stays in the bucket (at most StateRetention): a watcher that is away
// longer misses the removal, but no longer finds the key either.
const stateMarkerTTL = 5 * time.Minute

// resetConsumer (re)creates the durable consumer so that delivery starts
// right after its acknowledgement floor. Messages delivered to an earlier
// incarnation but never acknowledged (a crash, a failed batch) therefore come
// again first and in stream order, instead of after AckWait and behind newer
// ones — which AckAll would then acknowledge unseen.
func (b *Bus) resetConsumer(ctx context.Context) error {
	cons, floor, err := b.resetDurable(ctx, Consumer, nil, 0)
	if err != nil {
		return err
	}
	s, err := b.js.Stream(ctx, StreamInput)
	if err != nil {
		return fmt.Errorf("stream %s: %w", StreamInput, err)
	}
	b.checkRetained(floor, s.CachedInfo().State.FirstSeq)
	b.cons = cons
	return nil
}

// resetDurable deletes the durable consumers olds and creates name right
// after the highest of their acknowledgement floors (or after seq after,
// if higher), delivering the subjects of filter (all if empty). It returns
// that floor.
func (b *Bus) resetDurable(ctx context.Context, name string, filter []string, after uint64, olds ...string) (jetstream.Consumer, uint64, error) {
	if len(olds) == 0 {
		olds = []string{name}
	}
	cfg := jetstream.ConsumerConfig{
		Durable:        name,
		FilterSubjects: filter,
		Description:    "custos runtime",
		AckPolicy:      jetstream.AckAllPolicy,
		AckWait:        5 * time.Minute,
		MaxAckPending:  max(b.cfg.BatchSize*8, 65536),
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		MaxDeliver:     -1,
	}
	floor := after
	for _, o := range olds {
		old, err := b.js.Consumer(ctx, StreamInput, o)
		switch {
		case err == nil:
			info, err := old.Info(ctx)
			if err != nil {
				return nil, 0, fmt.Errorf("consumer %s: %w", o, err)
			}
			if err := b.js.DeleteConsumer(ctx, StreamInput, o); err != nil {
				return nil, 0, fmt.Errorf("consumer %s: delete: %w", o, err)
			}
			floor = max(floor, consumerFloor(info))
		case errors.Is(err, jetstream.ErrConsumerNotFound):
		default:
			return nil, 0, fmt.Errorf("consumer %s: %w", o, err)
		}
	}
	if floor > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = floor + 1
	}
	cons, err := b.js.CreateConsumer(ctx, StreamInput, cfg)
	if err != nil {
		return nil, 0, fmt.Errorf("consumer %s: %w", name, err)
	}
	return cons, floor, nil
}

// checkRetained reports input removed from the stream (by InputRetention,
// or by hand) after floor, the lowest acknowledgement floor of this run's
// consumers, and before first, the stream's first sequence: it may never
// have been applied, and cannot be any more. The error log and
// custos_ingest_input_removed_total say how many, an upper bound: input
// applied but not yet acknowledged when ingest stopped (a crash) counts
// too, and so, with partitions, does other partitions' input above this
// floor.
//
// With PurgeApplied the gap is expected and is no loss: custos purges only
// below acknowledgement floors it has read from the server, and a NATS
// server killed without a clean stop can come back with a consumer's older,
// lower floor (consumer state is written to disk lazily) while the purge
// stands. That is logged at Info and not counted.
func (b *Bus) checkRetained(floor, first uint64) {
	if first <= floor+1 {
		return
	}
	n := first - floor - 1
	if b.cfg.PurgeApplied {
		b.log.Info("input below the stream's first sequence was purged after it was applied (--input-retention applied); the consumer's acknowledgement floor is older than the purge (a NATS restart)",
			"floor", floor, "first", first)
		return
	}
	b.cfg.Metrics.InputRemoved.Add(float64(n))
	b.log.Error("input removed from the stream before it was applied (input retention shorter than ingest was stopped)",
		"first_removed", floor+1, "last_removed", first-1, "messages", n, "partitioned", b.cfg.Partitions > 0)
}

// PurgeInterval is how often PurgeApplied removes applied input.
var PurgeInterval = time.Second

// purgeApplied removes, every PurgeInterval until ctx ends, the input this
// node's consumers, or in a cluster each partition's, have acknowledged
// and that arrived at least DuplicateWindow ago. A
// failure is logged and tried again at the next tick: input left in the
// stream costs space, not correctness.
func (b *Bus) purgeApplied(ctx context.Context) {
	t := time.NewTicker(PurgeInterval)
	defer t.Stop()
	var (
		below map[string]uint64 // filter ("" for all) → purged below this sequence
		marks []seqMark         // the stream's last sequence at each tick of the duplicate window
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, err := b.js.Stream(ctx, StreamInput)
		var floors map[string]uint64
		if err == nil {
			floors, err = b.appliedFloors(ctx, s)
		}
		if err == nil && below == nil {
			below = make(map[string]uint64, len(floors))
		}
		// Input stays for the duplicate window after it arrived: after a
		// restart of the NATS server the stream rebuilds its Nats-Msg-Id
		// window from the messages it holds, so a re-send (its first
		// acknowledgement lost in the crash) of input already applied and
		// purged would be stored, and applied, again.
		var old uint64
		if err == nil {
			now := time.Now()
			marks = append(marks, seqMark{now, s.CachedInfo().State.LastSeq})
			for len(marks) > 1 && now.Sub(marks[1].at) >= b.cfg.DuplicateWindow {
				marks = marks[1:]
			}
			if now.Sub(marks[0].at) >= b.cfg.DuplicateWindow {
				old = marks[0].seq
			}
		}
		for filter, floor := range floors {
			floor = min(floor, old)
			// Nothing to remove, no call: a purge, even of nothing, also
			// moves the stream's consumers up to its first sequence. (A
			// partition's filtered first sequence is not known without a
			// costly lookup: there only a purge below 1 is skipped, and the
			// pull expiry bounds what such a move can cost.)
			if err != nil || floor == 0 || floor+1 <= below[filter] || filter == "" && floor+1 <= s.CachedInfo().State.FirstSeq {
				continue
			}
			opts := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSequence(floor + 1)}
			if filter != "" {
				opts = append(opts, jetstream.WithPurgeSubject(filter))
			}
			if err = s.Purge(ctx, opts...); err == nil {
				below[filter] = floor + 1
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				b.log.Warn("purge applied input", "err", err)
			}
			continue
		}
		// The lowest over the partitions (the whole stream's "below the
		// partitioning" is lower still, and says nothing), or the node's.
		parts := maps.Clone(below)
		if len(parts) > 1 {
			delete(parts, "")
		}
		if len(parts) > 0 {
			b.cfg.Metrics.InputPurgedBelow.Set(float64(slices.Min(slices.Collect(maps.Values(parts)))))
		}
	}
}

// seqMark is the stream's last sequence at a time.
type seqMark struct {
	at  time.Time
	seq uint64
}

// appliedFloors says, per subject filter of the input stream ("" for the
// whole stream), the stream sequence up to which custos has acknowledged
// the input it matches. One node: its consumer's floor, for the whole
// stream. A cluster: for each partition this node owns (both filters of
// its input, direct and tenants'), the highest floor of the partition's
// consumers, or, if none has consumed it yet, the sequence the stream was
// partitioned after (floors only rise: a partition's next consumer starts
// from its predecessors' floor); and that sequence for the whole stream,
// whose input up to it the single node had applied before the cluster
// started. Partitions are purged each by its own filter, by their owner: a
// partition without new input keeps its floor where its last input was
// and must not hold back the others.
func (b *Bus) appliedFloors(ctx context.Context, s jetstream.Stream) (map[string]uint64, error) {
	if b.cfg.Partitions == 0 {
		info, err := b.cons.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("consumer %s: %w", Consumer, err)
		}
		return map[string]uint64{"": consumerFloor(info)}, nil
	}
	after, _ := strconv.ParseUint(s.CachedInfo().Config.Metadata[MetaPartitionedAfter], 10, 64)
	floors := make(map[int]uint64, len(b.tokens))
	for p := range b.tokens {
		floors[p] = after
	}
	lister := s.ListConsumers(ctx)
	for info := range lister.Info() {
		for p, f := range floors {
			if strings.HasPrefix(info.Name, partitionConsumerPrefix(p)) {
				floors[p] = max(f, consumerFloor(info))
			}
		}
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("stream %s: consumers: %w", StreamInput, err)
	}
	out := make(map[string]uint64, 2*len(floors)+1)
	out[""] = after
	for p, f := range floors {
		out[cluster.PartitionFilter(p)] = f
		out[cluster.TenantPartitionFilter(p)] = f
	}
	return out, nil
}

// consumerFloor is the stream sequence up to which a consumer has handled
// its input: its acknowledgement floor, or, for one created at a start
// sequence that has acknowledged nothing yet (JetStream then reports a
// floor of 0), the sequence before its start. Without the second, a restart
// before the first acknowledgement would start the next consumer from the
// beginning of the stream.
func consumerFloor(info *jetstream.ConsumerInfo) uint64 {
	floor := info.AckFloor.Stream
	if info.Config.DeliverPolicy == jetstream.DeliverByStartSequencePolicy && info.Config.OptStartSeq > 0 {
		floor = max(floor, info.Config.OptStartSeq-1)
	}
	return floor
}

// Ready reports whether the ingest loop is consuming.
func (b *Bus) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ready
}

// Err says why ingest is not consuming (nil while it is).
func (b *Bus) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ready {
		if b.pubErr != nil {
			return fmt.Errorf("publications failing: %w", b.pubErr)
		}
		return nil
	}
	if b.lastErr != nil {
		return b.lastErr
	}
	return errors.New("not consuming")
}

func (b *Bus) setReady(v bool) {
	b.mu.Lock()
	b.ready = v
	if v {
		b.lastErr = nil
	}
	b.mu.Unlock()
}

// Run consumes the input stream until ctx ends. A failed batch (store
// unavailable, …) is retried with backoff from the first unacknowledged
// message; nothing is acknowledged before it is durable.
func (b *Bus) Run(ctx context.Context) error {
	const minBackoff = 100 * time.Millisecond
	backoff := minBackoff
	for {
		start := time.Now()
		err := b.consume(ctx)
		b.mu.Lock()
		b.ready, b.lastErr = false, err
		b.mu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errDeliveryGap) {
			// Lost in transit (a NATS server went away): start again at
			// once from the acknowledgement floors.
			b.log.Warn("input lost in transit; ingest restarts from the acknowledgement floor", "err", err)
			b.cfg.Metrics.DeliveryGaps.Inc()
			b.cfg.Runtime.Evict()
			continue
		}
		if errors.Is(err, errRebalance) {
			// Partitions moved: restart at once on the new set, from the
			// acknowledgement floors, with nothing of the old run in memory.
			b.log.Info("partitions changed; ingest restarts on the partitions owned now")
			b.cfg.Runtime.Evict()
			continue
		}
		if time.Since(start) > 10*time.Second {
			backoff = minBackoff // it had been running fine: retry at once
		}
		b.log.Error("ingest stopped; restarting", "err", err, "in", backoff)
		b.cfg.Runtime.Evict()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// inflight collects the publications of a batch, to await them before its
// input is acknowledged.
type inflight struct {
	acks    []jetstream.Msg // acknowledged (AckAll, one per consumer) once the publications are stored
	futures []jetstream.PubAckFuture
	retry   []*nats.Msg // publications, by future index, for re-sending
}

func (b *Bus) consume(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	in := make(chan jetstream.Msg, b.cfg.BatchSize*4)
	stop, err := b.startConsumers(ctx, func(m jetstream.Msg) {
		select {
		case in <- m:
		case <-ctx.Done():
		}
	})
	defer stop()
	if err != nil {
		return err
	}
	b.setReady(true)
	if b.cfg.Ownership != nil {
		g.Go(func() error { return b.watchOwnership(ctx) })
	}
	if b.cfg.PurgeApplied {
		g.Go(func() error { b.purgeApplied(ctx); return nil })
	}

	// Three stages, each in order: apply (this goroutine's loop), commit,
	// publish+ack. The applier takes what has arrived, never waiting for a
	// full batch, and goes on applying while the store syncs; the committer
	// writes every step applied meanwhile in one store write (one sync).
	// Sparse input thus makes small batches committed at once, load makes
	// large ones; at most maxAhead batches wait applied but not durable.
	steps := make(chan *processed, maxAhead)
	work := make(chan *processed, maxAhead)
	g.Go(func() error { return b.applier(ctx, in, steps) })
	g.Go(func() error {
		defer close(work)
		return b.committer(ctx, steps, work)
	})
	g.Go(func() error { return b.publisher(ctx, work) })
	return g.Wait()
}

// applier collects batches from in and applies them.
func (b *Bus) applier(ctx context.Context, in <-chan jetstream.Msg, steps chan<- *processed) error {
	defer close(steps)
	var (
		batch     []jetstream.Msg
		pas       = passivation{rt: b.cfg.Runtime, last: time.Now(), observe: b.cfg.Metrics.PassivationSeconds.Observe}
		delivered = &deliveries{last: map[string]uint64{}}
	)
	// Passivation runs between batches and, when input stops, on this
	// ticker, so a daemon whose devices fall silent still lets go of
	// its idle twins.
	tick := time.NewTicker(pas.every())
	defer tick.Stop()
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			pas.maybe(now)
			continue
		case m := <-in:
			batch = append(batch, m)
		}
	fill:
		for len(batch) < b.cfg.BatchSize {
			select {
			case m := <-in:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		p := &processed{start: time.Now(), msgs: append([]jetstream.Msg(nil), batch...)}
		if err := b.parse(p, batch, delivered); err != nil {
			return err // nothing of this batch applied: the run restarts
		}
		st, err := b.cfg.Runtime.Apply(ctx, p.inputs)
		if err != nil {
			return err
		}
		p.step = st
		b.cfg.Metrics.BatchSize.Observe(float64(len(batch)))
		b.cfg.Metrics.Messages.Add(float64(len(batch)))
		select {
		case steps <- p:
		case <-ctx.Done():
			return ctx.Err()
		}
		pas.maybe(time.Now())
	}
}

// passivateEvery is how often the applier passivates idle twins, and twins
// beyond the cap unless the cap is exceeded sooner (twin.Runtime.OverCap).
// With an idle time shorter than 40 s, passes run every quarter of it.
const passivateEvery = 10 * time.Second

// passivation decides when the applier runs a passivation pass. A pass
// holds the runtime, so ingest waits for it (tens of milliseconds per
// 100,000 resident twins): passes run every passivateEvery, and sooner once
// the twins loaded meanwhile have taken the resident count well over the
// cap — but never more often than once a second nor than ten times the
// last pass took, so passes take at most a tenth of ingest's time.
type passivation struct {
	rt   passivator
	last time.Time     // when the last pass was due
	took time.Duration // how long it took
	// observe, if set, gets each pass's duration in seconds.
	observe func(float64)
}

// passivator is what passivation needs of a *twin.Runtime.
type passivator interface {
	IdleAfter() time.Duration
	OverCap() bool
	Passivate(now time.Time) int
}

func (p *passivation) every() time.Duration {
	return min(passivateEvery, max(p.rt.IdleAfter()/4, 10*time.Millisecond))
}

func (p *passivation) maybe(now time.Time) {
	since := now.Sub(p.last)
	if since < p.every() && (since < max(time.Second, 10*p.took) || !p.rt.OverCap()) {
		return
	}
	p.last = now
	start := time.Now()
	p.rt.Passivate(now)
	p.took = time.Since(start)
	if p.observe != nil {
		p.observe(p.took.Seconds())
	}
}

// maxAhead bounds the batches applied and waiting to be committed (each of
// at most Config.BatchSize messages). It is large because sparse input makes
// batches of one or two messages, and all those applied while the store
// syncs should go into the next write. One write takes whole batches while
// they hold fewer than 4 × BatchSize events in all (always at least one
// batch): messages of 50 readings are not grouped into writes of
// 200,000 records, larger than pebble takes into a memtable.
const maxAhead = 64

// committer commits the applied steps in order, all those waiting in one
// store write, and hands them to the publisher.
func (b *Bus) committer(ctx context.Context, steps <-chan *processed, work chan<- *processed) error {
	var (
		group []*processed
		sts   []*twin.Step
	)
	for p := range steps {
		group, sts = append(group[:0], p), append(sts[:0], p.step)
		n := p.events
	take:
		for n < 4*b.cfg.BatchSize {
			select {
			case q, ok := <-steps:
				if !ok {
					break take
				}
				group, sts = append(group, q), append(sts, q.step)
				n += q.events
			default:
				break take
			}
		}
		for _, p := range group {
			p.step.SetFences(p.fences)
		}
		if err := b.cfg.Runtime.CommitAll(ctx, sts); err != nil {
			b.fenced(err)
			return err
		}
		// State goes out as soon as it is durable, not behind the
		// publisher's KV flushes and JetStream publications.
		for _, p := range group {
			p.out, p.step = p.step.Outcome(), nil
			for _, st := range p.out.States {
				if err := b.nc.Publish(StateSubject(st.Twin), st.JSON); err != nil {
					b.cfg.Metrics.PublishErrors.Inc()
				}
				b.copyToTenants(st.Twin, "state", st.JSON)
			}
		}
		for _, p := range group {
			b.cfg.Metrics.BatchSeconds.Observe(time.Since(p.start).Seconds())
			if b.cfg.OnCommit != nil {
				b.cfg.OnCommit(p.out)
			}
			select {
			case work <- p:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		clear(group)
		clear(sts)
	}
	return nil
}

// processed is a batch on its way through the stages.
type processed struct {
	start     time.Time
	msgs      []jetstream.Msg
	last      map[string]jetstream.Msg // the last message of each consumer
	fences    map[int]uint64           // partitions of the batch, with their fence tokens
	inputs    []twin.Input
	inputMsgs []jetstream.Msg // the message of each input (for dead letters)
	events    int             // events of the inputs
	dead      []dead
	step      *twin.Step
	out       *twin.Outcome
}

// quietFlush is how long input must have been quiet for the KV writes to
// go out before StateInterval is up: a quiet system is not delayed by the
// interval, while steady input, even sparse, is coalesced.
const quietFlush = 10 * time.Millisecond

// publisher publishes the effects of processed batches, in order, while the
// ingest loop applies the next ones. It coalesces KV writes (StateInterval)
// and acknowledges input (AckAll) only once the KV write covering it is
// stored, so every acknowledged input has its state in the bucket.
func (b *Bus) publisher(ctx context.Context, work <-chan *processed) error {
	// Publishing never waits for JetStream's acknowledgements: a second
	// goroutine awaits them in order and then acknowledges the input, so a
	// KV flush in flight does not delay the next batch's state messages.
	acks := make(chan *inflight, 64)
	ackErr := make(chan error, 1)
	go func() { ackErr <- b.acker(ctx, acks) }()
	defer func() {
		close(acks)
		<-ackErr
	}()
	kv := make(map[string]twin.StateUpdate)
	var puts []twin.StateUpdate
	b.puts.mu.Lock()
	b.puts.newest = map[string]*nats.Msg{} // forgets puts of an earlier run, which failed
	b.puts.mu.Unlock()
	flushed, unflushed, lastWork := time.Now(), 0, time.Now()
	last := map[string]jetstream.Msg{}
	fl := &inflight{}
	finish := func(flush bool) error {
		if flush {
			// In the order of the values they replace: the bucket removes
			// each key's previous value, reading the block that holds it
			// unless cached, and for a large fleet those lie in old blocks
			// whose caches the server drops (at each GC cycle). In this
			// order each block is read once per flush, not once per put
			// (docs/performance.md, "KV puts in the order of what they
			// replace").
			puts = puts[:0]
			for _, st := range kv {
				puts = append(puts, st)
			}
			slices.SortFunc(puts, func(x, y twin.StateUpdate) int { return cmp.Compare(x.Prev, y.Prev) })
			for _, st := range puts {
				b.sendKV(ctx, fl, st.Twin, st.JSON)
			}
			clear(kv)
			flushed, unflushed = time.Now(), 0
			for _, m := range last {
				fl.acks = append(fl.acks, m)
			}
			clear(last)
		}
		select {
		case acks <- fl:
		case err := <-ackErr:
			ackErr <- err
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
		fl = &inflight{}
		return nil
	}
	for {
		var idle <-chan time.Time
		if unflushed > 0 {
			wait := min(b.cfg.StateInterval-time.Since(flushed), quietFlush-time.Since(lastWork))
			idle = time.After(max(wait, 0))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-ackErr:
			ackErr <- err
			return err
		case <-idle:
			if err := finish(true); err != nil {
				return err
			}
		case p, ok := <-work:
			if !ok {
				return nil
			}
			b.publish(ctx, fl, kv, p)
			unflushed += len(p.msgs)
			for c, m := range p.last {
				last[c] = m
			}
			lastWork = time.Now()
			// Flush when the interval is up or much is pending; else when
			// input has been quiet for quietFlush (the idle timer above).
			due := b.cfg.StateInterval < 0 || time.Since(flushed) >= b.cfg.StateInterval || unflushed >= 8*b.cfg.BatchSize
			if err := finish(due); err != nil {
				return err
			}
		}
	}
}

// acker awaits each batch's publications in order and acknowledges the
// input covered by a KV flush (AckAll on its last message). On a failure it
// acknowledges nothing more: the consumer restarts at its ack floor.
func (b *Bus) acker(ctx context.Context, acks <-chan *inflight) error {
	for fl := range acks {
		for i, f := range fl.futures {
			if err := b.await(ctx, f, fl.retry[i]); err != nil {
				b.setPubErr(err)
				// Return at once, so the publisher learns of it and ingest
				// restarts; what is still queued is never acknowledged.
				go func() {
					for range acks {
					}
				}()
				return err
			}
		}
		if len(fl.futures) > 0 {
			b.setPubErr(nil)
		}
		for _, m := range fl.acks {
			if err := m.Ack(); err != nil {
				b.log.Warn("ack", "err", err)
			}
		}
	}
	return nil
}

// await waits for one publication, re-sending it a few times if it fails:
// the same message (same Nats-Msg-Id, so idempotent), or for a KV put the
// newest put of its twin (sendKV).
func (b *Bus) await(ctx context.Context, f jetstream.PubAckFuture, m *nats.Msg) error {
	for attempt := 0; ; attempt++ {
		select {
		case <-f.Ok():
			b.stored(m)
			return nil
		case err := <-f.Err():
			b.cfg.Metrics.PublishErrors.Inc()
			if attempt >= 5 {
				return fmt.Errorf("publish %s: %w", m.Subject, err)
			}
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond) // the first re-send at once: failures come in bursts, awaited one by one
			nm, nf, perr := b.resend(m)
			if perr != nil {
				return fmt.Errorf("publish %s: %w", m.Subject, perr)
			}
			m, f = nm, nf
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setPubErr records whether publications fail (nil: the last batch's all
// succeeded). Bus.Err reports it, so /readyz does, and
// custos_publications_healthy follows it.
func (b *Bus) setPubErr(err error) {
	b.mu.Lock()
	was := b.pubErr
	b.pubErr = err
	b.mu.Unlock()
	if err == nil && was == nil {
		return // healthy and was: nothing to tell (every batch passes here)
	}
	if err != nil {
		b.cfg.Metrics.PublishHealthy.Set(0)
	} else {
		b.cfg.Metrics.PublishHealthy.Set(1)
	}
}

// dead is an input to dead-letter.
type dead struct {
	msg   jetstream.Msg
	seq   uint64
	index int // event index, -1 for the whole message
	err   *twin.InputError
}

// parse turns the batch's messages into p's inputs; unparseable ones become
// dead letters. It returns an errDeliveryGap, and nothing of the batch may
// be applied, when a consumer's delivery sequence skips.
func (b *Bus) parse(p *processed, batch []jetstream.Msg, delivered *deliveries) error {
	p.last = make(map[string]jetstream.Msg, 1)
	for _, m := range batch {
		md, err := m.Metadata()
		if err != nil {
			b.log.Warn("message without metadata", "subject", m.Subject(), "err", err)
			delivered.lost()
			continue
		}
		if err := delivered.next(md.Consumer, md.Sequence.Consumer, md.Sequence.Stream); err != nil {
			return err
		}
		p.last[md.Consumer] = m
		var part int
		in, ierr := b.parseInput(m, md, &part)
		if t, ok := b.tokens[part]; ok {
			if p.fences == nil {
				p.fences = make(map[int]uint64, 1)
			}
			p.fences[part] = t
		}
		if ierr != nil {
			p.dead = append(p.dead, dead{msg: m, seq: md.Sequence.Stream, index: -1, err: ierr})
			continue
		}
		in.StreamSeq = md.Sequence.Stream
		p.inputs = append(p.inputs, in)
		p.events += len(in.Events)
		p.inputMsgs = append(p.inputMsgs, m)
	}
	return nil
}

// errDeliveryGap ends a run of consume when a consumer's delivery sequence
// is not the one after the last: messages were delivered but never reached
// this process (in flight through a NATS server that went away). Applying
// what follows would be wrong twice over: a later input of a twin would
// make the lost one a "duplicate" when it comes again (twins skip stream
// sequences at or below their own), and the AckAll of a later message
// would acknowledge the lost ones unseen. The run stops before applying
// anything after the gap; the next run recreates the consumer after its
// acknowledgement floor, so the lost messages come again, in order.
var errDeliveryGap = errors.New("consumer delivery sequence skipped")

// deliveries follows the delivery sequence of each consumer of a run.
// Every run creates its consumers afresh, so each counts 1, 2, 3, ….
type deliveries struct {
	last map[string]uint64 // each consumer's last delivery sequence
	// resync: a message's metadata could not be read, so its consumer and
	// delivery sequence are unknown; the next delivery of each consumer is
	// taken as it comes (else the same message, delivered again after the
	// restart, would end every run).
	resync bool
}

// next records delivery dseq (of stream message sseq) by consumer and
// returns an errDeliveryGap unless it is the one after the last.
func (d *deliveries) next(consumer string, dseq, sseq uint64) error {
	prev, seen := d.last[consumer]
	if want := prev + 1; dseq != want && (seen || !d.resync) {
		return fmt.Errorf("%w: consumer %s delivered %d (stream seq %d) after %d", errDeliveryGap, consumer, dseq, sseq, prev)
	}
	d.last[consumer] = dseq
	return nil
}

// lost notes a delivery whose consumer and sequence are unknown.
func (d *deliveries) lost() {
	clear(d.last)
	d.resync = true
}

// parseInput parses one message and sets *part to its partition (-1
// without partitions).
func (b *Bus) parseInput(m jetstream.Msg, md *jetstream.MsgMetadata, part *int) (twin.Input, *twin.InputError) {
	subj := m.Subject()
	data := m.Data()
	var cat, id, tenant string
	if rest, ok := strings.CutPrefix(subj, TenantPrefix); ok {
		// custos.tenant.<tenant>.<kind>.<twin>: the tenant account's user
		// published custos.<kind>.<twin>.
		tenant, rest, _ = strings.Cut(rest, ".")
		subj = "custos." + rest
	}
	switch {
	case strings.HasPrefix(subj, TelemetryPrefix):
		cat, id = "telemetry", subj[len(TelemetryPrefix):]
	case strings.HasPrefix(subj, CommandPrefix):
		cat, id = "command", subj[len(CommandPrefix):]
	case strings.HasPrefix(subj, TimerPrefix):
		cat, id = "timer", subj[len(TimerPrefix):]
	}
	*part = -1
	if b.cfg.Partitions > 0 {
		// Stored as custos.<kind>.<partition>.<twin> by the stream's
		// subject transform.
		ps, rest, _ := strings.Cut(id, ".")
		p, err := strconv.Atoi(ps)
		if err != nil || p != cluster.PartitionOf(rest, b.cfg.Partitions) {
			return twin.Input{}, twin.Rejectf(twin.ReasonInvalidSubject, "subject %q is not in the partition of its twin", subj)
		}
		*part, id = p, rest
	}
	if !twin.ValidID(id) {
		return twin.Input{}, twin.Rejectf(twin.ReasonInvalidSubject, "subject %q does not name a valid twin id", subj)
	}
	if tenant != "" && (cat == "timer" || !strings.HasPrefix(id, tenant+"-")) {
		return twin.Input{}, twin.Rejectf(ReasonForbidden, "tenant %s may not send %s for twin %s", tenant, cat, id)
	}
	if len(data) > b.cfg.MaxMessageBytes {
		return twin.Input{}, twin.Rejectf(twin.ReasonTooLarge, "message of %d bytes exceeds %d", len(data), b.cfg.MaxMessageBytes)
	}
	var (
		evs []twin.Event
		err error
	)
	switch cat {
	case "telemetry":
		evs, err = twin.ParseTelemetry(data, md.Timestamp)
		if err == nil && b.cfg.MaxFutureSkew > 0 {
			limit := md.Timestamp.Add(b.cfg.MaxFutureSkew)
			for _, ev := range evs {
				if ev.Time.After(limit) {
					return twin.Input{}, twin.Rejectf(ReasonFuture, "reading dated %s, more than %v after it arrived (%s)",
						ev.Time.UTC().Format(time.RFC3339), b.cfg.MaxFutureSkew, md.Timestamp.UTC().Format(time.RFC3339))
				}
			}
		}
	case "timer":
		var in *twin.Input
		in, err = twin.ParseTimer(id, data, md.Timestamp)
		if err == nil {
			return *in, nil
		}
	case "command":
		var in *twin.Input
		in, err = twin.ParseCommand(id, data, md.Timestamp)
		if err == nil {
			return *in, nil
		}
	}
	if err != nil {
		var ie *twin.InputError
		if errors.As(err, &ie) {
			return twin.Input{}, ie
		}
		return twin.Input{}, twin.Rejectf(twin.ReasonInvalidJSON, "%v", err)
	}
	return twin.Input{Twin: id, Events: evs}, nil
}

// publish sends the batch's effects: dead letters, state (KV) and alerts.
// Publications other than KV puts carry Nats-Msg-Id so re-sending is
// idempotent.
func (b *Bus) publish(ctx context.Context, fl *inflight, kv map[string]twin.StateUpdate, p *processed) {
	inputs, out, dl := p.inputs, p.out, p.dead
	m := b.cfg.Metrics
	for i := range out.Results {
		res := &out.Results[i]
		if res.Err == nil && len(res.Failed) == 0 && !res.Duplicate {
			continue
		}
		msg, seq := p.inputMsgs[i], inputs[i].StreamSeq
		switch {
		case res.Duplicate:
			m.Duplicates.Inc()
			b.reemit(ctx, fl, kv, inputs[i].Twin, seq)
		case res.Err != nil:
			dl = append(dl, dead{msg: msg, seq: seq, index: -1, err: res.Err})
		default:
			for _, f := range res.Failed {
				dl = append(dl, dead{msg: msg, seq: seq, index: f.Index, err: f.Err})
			}
		}
	}
	for _, d := range dl {
		m.DLQ.WithLabelValues(string(d.err.Reason)).Inc()
		msg := nats.NewMsg(DLQPrefix + string(d.err.Reason))
		msg.Header.Set(HeaderReason, string(d.err.Reason))
		msg.Header.Set(HeaderError, d.err.Detail)
		msg.Header.Set(HeaderSeq, strconv.FormatUint(d.seq, 10))
		id := "dlq:" + strconv.FormatUint(d.seq, 10)
		if d.index >= 0 {
			msg.Header.Set(HeaderIndex, strconv.Itoa(d.index))
			id += ":" + strconv.Itoa(d.index)
		}
		if d.msg != nil {
			msg.Header.Set(HeaderSubject, d.msg.Subject())
			msg.Data = d.msg.Data()
		}
		msg.Header.Set(jetstream.MsgIDHeader, id)
		b.send(ctx, fl, msg)
		b.log.Debug("dead letter", "reason", d.err.Reason, "seq", d.seq, "detail", d.err.Detail)
	}
	for _, st := range out.States {
		if was, ok := kv[st.Twin]; ok {
			st.Prev = was.Prev // the value the flush replaces in the bucket
		}
		kv[st.Twin] = st // custos.twin.<id>.state: published by the committer
	}
	for i := range out.Alerts {
		b.sendAlert(ctx, fl, &out.Alerts[i])
	}
	applied := 0
	for i := range out.Results {
		if r := &out.Results[i]; r.Err == nil && !r.Duplicate {
			applied += len(inputs[i].Events) - len(r.Failed)
		}
	}
	m.Readings.Add(float64(applied))
	m.Alerts.Add(float64(len(out.Alerts)))
}

// kvPrefix is the subject prefix of the bucket's keys.
const kvPrefix = "$KV." + Bucket + "."

// sendKV writes a twin's state to the bucket. Unlike the other
// publications it carries no Nats-Msg-Id: a put of the latest state needs
// no deduplication (writing it twice leaves the same value), and the
// bucket's duplicate window would otherwise hold an entry per put for two
// minutes — at fleet scale, millions of them (docs/performance.md, "KV puts
// without a message id"). A failed put is therefore not re-sent as it was
// (it could land after a newer put of the same twin and leave the bucket
// stale) but as the twin's newest put (kvPuts).
func (b *Bus) sendKV(ctx context.Context, fl *inflight, id string, js []byte) {
	msg := &nats.Msg{Subject: kvPrefix + id, Data: js}
	b.puts.mu.Lock()
	defer b.puts.mu.Unlock()
	b.puts.newest[id] = msg
	b.send(ctx, fl, msg)
}

// kvPuts remembers, per twin, the newest KV put sent and not yet confirmed.
// Puts are sent under mu, and so are re-sends, always of the twin's newest
// put: whatever order the attempts land in, the last one carries the
// newest state.
type kvPuts struct {
	mu     sync.Mutex
	newest map[string]*nats.Msg
}

// resend publishes m again after it failed. A KV put is re-sent as the
// newest put of its twin, which it returns.
func (b *Bus) resend(m *nats.Msg) (*nats.Msg, jetstream.PubAckFuture, error) {
	id, ok := strings.CutPrefix(m.Subject, kvPrefix)
	if !ok {
		f, err := b.js.PublishMsgAsync(m)
		return m, f, err
	}
	b.puts.mu.Lock()
	defer b.puts.mu.Unlock()
	if n := b.puts.newest[id]; n != nil {
		m = n
	} else {
		b.puts.newest[id] = m
	}
	f, err := b.js.PublishMsgAsync(m)
	return m, f, err
}

// stored forgets a confirmed KV put, unless a newer one of its twin was sent.
func (b *Bus) stored(m *nats.Msg) {
	id, ok := strings.CutPrefix(m.Subject, kvPrefix)
	if !ok {
		return
	}
	b.puts.mu.Lock()
	if b.puts.newest[id] == m {
		delete(b.puts.newest, id)
	}
	b.puts.mu.Unlock()
}

func (b *Bus) sendAlert(ctx context.Context, fl *inflight, a *twin.Alert) {
	js := a.AppendJSON(make([]byte, 0, 160))
	msg := &nats.Msg{Subject: AlertSubject(a.Twin), Data: js,
		Header: nats.Header{jetstream.MsgIDHeader: {a.Twin + ":a" + strconv.FormatUint(a.N, 10)}}}
	b.send(ctx, fl, msg)
	b.copyToTenants(a.Twin, "alert", js)
}

// copyToTenants publishes a twin's state or alert to each tenant the twin
// belongs to (custos.tenant.<tenant>.twin.<id>.<kind>, seen by the tenant's
// users as custos.twin.<id>.<kind>).
func (b *Bus) copyToTenants(id, kind string, data []byte) {
	for _, t := range b.cfg.Tenants {
		if strings.HasPrefix(id, t+"-") {
			if err := b.nc.Publish(TenantPrefix+t+".twin."+id+"."+kind, data); err != nil {
				b.cfg.Metrics.PublishErrors.Inc()
			}
		}
	}
}

func (b *Bus) send(ctx context.Context, fl *inflight, msg *nats.Msg) {
	f, err := b.js.PublishMsgAsync(msg)
	// Too many publications pending: wait until the server has acknowledged
	// them (backpressure), rather than count this one failed — the acker
	// would re-send each such failure in turn after a pause.
	for errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
		select {
		case <-b.js.PublishAsyncComplete():
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			err = ctx.Err()
			continue
		}
		f, err = b.js.PublishMsgAsync(msg)
	}
	if err != nil {
		b.cfg.Metrics.PublishErrors.Inc()
		f = failed(err)
	}
	fl.futures = append(fl.futures, f)
	fl.retry = append(fl.retry, msg)
}

// reemit re-publishes the effects of an input applied before a crash whose
// publications may not have gone out: the twin's current state and the
// alerts raised by the events of that input. The alerts' Nats-Msg-Id makes
// them a no-op when they had been published within the duplicate window;
// the state is put again as it is now (a KV put needs no deduplication).
func (b *Bus) reemit(ctx context.Context, fl *inflight, kv map[string]twin.StateUpdate, id string, streamSeq uint64) {
	lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t, err := b.cfg.Store.Twin(lctx, id)
	if err != nil {
		b.log.Warn("re-emit: load twin", "twin", id, "err", err)
		return
	}
	if js, err := json.Marshal(t); err == nil {
		kv[t.ID] = twin.StateUpdate{Twin: t.ID, Seq: t.Seq, Digest: t.Digest, JSON: js}
		if err := b.nc.Publish(StateSubject(t.ID), js); err != nil {
			b.cfg.Metrics.PublishErrors.Inc()
		}
		b.copyToTenants(t.ID, "state", js)
	}
	after := uint64(0)
	if t.Seq > 1000 {
		after = t.Seq - 1000
	}
	recs, err := b.cfg.Store.History(lctx, twin.HistoryQuery{Twin: id, AfterSeq: after, Limit: 1000})
	if err != nil {
		return
	}
	var lo, hi uint64
	for _, r := range recs {
		if r.StreamSeq == streamSeq {
			if lo == 0 {
				lo = r.Seq
			}
			hi = r.Seq
		}
	}
	if lo == 0 {
		return
	}
	alerts, err := b.cfg.Store.Alerts(lctx, twin.AlertQuery{Twin: id, Limit: 10000})
	if err != nil {
		return
	}
	for i := range alerts {
		if a := &alerts[i]; a.Seq >= lo && a.Seq <= hi {
			b.sendAlert(ctx, fl, a)
		}
	}
}

type failedFuture struct {
	err chan error
}

func failed(err error) jetstream.PubAckFuture {
	f := &failedFuture{err: make(chan error, 1)}
	f.err <- err
	return f
}

func (f *failedFuture) Ok() <-chan *jetstream.PubAck { return nil }
func (f *failedFuture) Err() <-chan error            { return f.err }
func (f *failedFuture) Msg() *nats.Msg               { return nil }

// PublishCommand publishes a command for a twin into the input stream and
// returns its stream sequence; Runtime.Wait gives its result.
func (b *Bus) PublishCommand(ctx context.Context, id string, cmd *twin.Command) (uint64, error) {
	data, err := json.Marshal(cmd)
	if err != nil {
		return 0, err
	}
	ack, err := b.js.Publish(ctx, CommandPrefix+id, data)
	if err != nil {
		return 0, fmt.Errorf("publish command: %w", err)
	}
	return ack.Sequence, nil
}

// FireTimer publishes a due timer into the input stream (a twin.TimerSink).
func (b *Bus) FireTimer(ctx context.Context, id string, t twin.Timer) error {
	data, err := json.Marshal(twin.TimerFired{Name: t.Name, At: t.At})
	if err != nil {
		return err
	}
	_, err = b.js.Publish(ctx, TimerPrefix+id, data,
		jetstream.WithMsgID("timer:"+id+":"+t.Name+":"+strconv.FormatInt(t.At.UnixNano(), 10)))
	return err
}
