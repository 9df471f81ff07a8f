// Package bench measures custos end to end against raw JetStream on the same
// machine in the same run, for `custos bench` and `make bench`. Absolute
// numbers depend on the machine; the ratio is what to compare.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/natsrv"
	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

// Config sizes a run.
type Config struct {
	Dir             string // scratch directory (default: a temp dir, removed after)
	Twins           int    // twins readings are spread over (default 1000)
	Messages        int    // single-reading messages (default 200,000)
	BatchedMessages int    // messages of BatchReadings readings (default 20,000)
	BatchReadings   int    // readings per batched message (default 50)
	Store           string // "" embedded, or a postgres:// URL (each run in a fresh schema, dropped after)
	// Postgres, a postgres:// URL, adds to the run the single-reading figure
	// of custos on PostgreSQL, next to the one on Store, and the history
	// records/s the PostgreSQL store sustains alone (one writer, then one
	// per CPU). Each measurement uses a fresh schema, dropped after.
	Postgres string
	// StoreTime is how long each store-alone measurement lasts (default 3 s).
	StoreTime time.Duration
	// LatencyFor is how long to publish at half the single rate while
	// measuring reading → state latency (default 3 s; negative: skip).
	LatencyFor time.Duration
	// ScaleOnly runs only the fleet-scale phase (memory per twin, CPU per
	// reading with Twins twins).
	ScaleOnly bool
	// HeapProfile, if set, is where the scale phase writes a heap profile
	// with every twin resident.
	HeapProfile string
	// ScaleCPUProfile, if set, is where the scale phase writes CPU profiles
	// of its readings to resident twins (with "."+twins appended).
	ScaleCPUProfile string
	// InputRetention and PurgeApplied are the daemons' (app.Config):
	// how long stream CUSTOS_INPUT keeps input.
	InputRetention time.Duration
	PurgeApplied   bool
	// DuplicateWindow is the daemons' (0: their default, 2 min).
	DuplicateWindow time.Duration
	// StateRetention is the daemons' (app.Config): a twin's key leaves the
	// bucket once it has not changed for this long; 0 keeps all.
	StateRetention time.Duration
	// MaxResident is the daemons' cap on resident twins (0: the runtime's
	// default, 2,000,000).
	MaxResident int
	// StoreTwins, if > 0, makes the run the stored-fleet phase alone: that
	// many twins in the store, none resident, Messages readings each to a
	// different one (storeFleet).
	StoreTwins int
	// Rounds is how many times raw, single and batched run, alternated
	// (default 1); the result holds their medians.
	Rounds int
	Log    io.Writer

	// cacheDir is the compilation cache the run's daemons share, so that
	// only the first compiles the built-in contracts (set by Run).
	cacheDir string
}

// Result of one run. Rates are per second.
type Result struct {
	Raw         float64 // raw JetStream publish+consume, messages/s (median of Rounds)
	Single      float64 // custos, one reading per message, readings/s (median of Rounds)
	Batched     float64 // custos, BatchReadings per message, readings/s (median of Rounds)
	Ratio       float64 // Single / Raw of the same round (median of Rounds)
	Rounds      []Round // each round's figures, in the order they ran
	MessageSize int     // bytes of one single-reading message
	Latency     Latency // at half the single rate (unless Config.LatencyFor < 0)
	Scale       Scale   // fleet scale: memory per twin, CPU per reading
	Fleet       *Fleet  // the stored fleet (Config.StoreTwins), else nil
	// Passivated is the latency of readings each to a different passivated
	// twin (loaded from the store first), at a low rate, after Latency.
	Passivated Latency

	// With Config.Postgres:
	PGSingle       float64 // custos on PostgreSQL, one reading per message, readings/s
	PGRows         float64 // PostgreSQL store alone, one writer, history records/s
	PGRowsParallel float64 // PostgreSQL store alone, PGWriters writers, history records/s
	PGWriters      int
}

// Round is one run of raw, single and batched, back to back.
type Round struct {
	Raw, Single, Batched, Ratio float64
}

// medians sets Raw, Single, Batched and Ratio to the medians over Rounds.
// Ratio is the median of each round's own ratio, not the ratio of the
// medians: a round's raw and single ran minutes apart at most.
func (r *Result) medians() {
	pick := func(f func(Round) float64) float64 {
		v := make([]float64, len(r.Rounds))
		for i, rd := range r.Rounds {
			v[i] = f(rd)
		}
		return median(v)
	}
	r.Raw = pick(func(rd Round) float64 { return rd.Raw })
	r.Single = pick(func(rd Round) float64 { return rd.Single })
	r.Batched = pick(func(rd Round) float64 { return rd.Batched })
	r.Ratio = pick(func(rd Round) float64 { return rd.Ratio })
}

// median of v (the mean of the middle two for an even count). It sorts v
// in place.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// roundsLine lists each round's ratio and batched rate and the medians.
func (r Result) roundsLine() string {
	var b strings.Builder
	b.WriteString("ratio")
	for _, rd := range r.Rounds {
		fmt.Fprintf(&b, " %.2f", rd.Ratio)
	}
	fmt.Fprintf(&b, " (median %.2f), batched", r.Ratio)
	for _, rd := range r.Rounds {
		fmt.Fprintf(&b, " %.0f", rd.Batched)
	}
	fmt.Fprintf(&b, " (median %.0f)", r.Batched)
	return b.String()
}

// Summary is the one-line summary `make bench` ends with; p99_ms (the p99
// of Latency, in milliseconds) is left out when latency was not measured.
func (r Result) Summary() string {
	line := fmt.Sprintf("custos-bench: raw=%.0f single=%.0f ratio=%.2f batched=%.0f", r.Raw, r.Single, r.Ratio, r.Batched)
	if r.Latency.Samples > 0 {
		line += fmt.Sprintf(" p99_ms=%.1f", float64(r.Latency.P99.Microseconds())/1000)
	}
	return line
}

// PostgresSummary is the line printed before Summary when the run measured
// PostgreSQL (Config.Postgres), "" otherwise: custos single-reading
// readings/s on PostgreSQL, the same on the embedded store (Single), their
// ratio, and the history records/s of the store alone with one writer and
// with PGWriters.
func (r Result) PostgresSummary() string {
	if r.PGSingle == 0 {
		return ""
	}
	return fmt.Sprintf("custos-bench-postgres: single=%.0f embedded=%.0f ratio=%.2f store_rows=%.0f store_rows_%dw=%.0f",
		r.PGSingle, r.Single, r.PGSingle/r.Single, r.PGRows, r.PGWriters, r.PGRowsParallel)
}

func (c *Config) defaults() {
	if c.LatencyFor == 0 {
		c.LatencyFor = 3 * time.Second
	}
	if c.Twins <= 0 {
		c.Twins = 1000
	}
	if c.Messages <= 0 {
		c.Messages = 200_000
	}
	if c.BatchedMessages <= 0 {
		c.BatchedMessages = 20_000
	}
	if c.BatchReadings <= 0 {
		c.BatchReadings = 50
	}
	if c.Rounds <= 0 {
		c.Rounds = 1
	}
	if c.StoreTime <= 0 {
		c.StoreTime = 3 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// coldchain is the built-in coldchain version new twins get (created with
// policy "coldchain" and no version), which the bench's twins run as a
// user's would.
func coldchain(ctx context.Context, a *app.App) (twin.ContractRef, error) {
	return a.Host.Resolve(ctx, builtin.Coldchain().Name, "")
}

// daemon is the configuration of the daemons the run starts: data in dir,
// in-process NATS only, no HTTP.
func (c *Config) daemon(dir, store string) app.Config {
	return app.Config{Data: dir, CacheDir: c.cacheDir, NATSListen: "-", HTTP: "-", Store: store,
		MaxFutureSkew:  -1, // readings are dated 2030
		InputRetention: c.InputRetention, PurgeApplied: c.PurgeApplied, DuplicateWindow: c.DuplicateWindow, StateRetention: c.StateRetention,
		MaxResident: c.MaxResident, Logger: c.daemonLog()}
}

// daemonLog is the logger of the daemons the bench starts: their warnings
// and errors (a stopped ingest, failed publications) go to the bench's
// output, so that a run that stalls says why.
func (c *Config) daemonLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(c.Log, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

var base = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// single returns message i of the single-reading workload: in-band
// temperatures with excursions now and then, so alerts are raised too.
func single(i int, rng *rand.Rand) []byte {
	v := 5 + rng.NormFloat64()*2
	ts := base.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
	return []byte(`{"ts":"` + ts + `","sensor":"t1","type":"temperature","value":` + strconv.FormatFloat(v, 'f', 2, 64) + `,"unit":"CEL"}`)
}

func batched(i, n int, rng *rand.Rand) []byte {
	b := []byte(`{"readings":[`)
	for k := 0; k < n; k++ {
		if k > 0 {
			b = append(b, ',')
		}
		ts := base.Add(time.Duration(i*n+k) * time.Second).Format(time.RFC3339)
		b = append(b, `{"ts":"`+ts+`","sensor":"t1","type":"temperature","value":`+strconv.FormatFloat(5+rng.NormFloat64()*2, 'f', 2, 64)+`}`...)
	}
	return append(b, "]}"...)
}

// Run measures raw JetStream, then custos with single and batched messages.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.defaults()
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "custos-bench-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	cfg.cacheDir = filepath.Join(dir, "wazero-cache")
	var res Result
	res.MessageSize = len(single(0, rand.New(rand.NewPCG(1, 1))))
	var err error
	if cfg.StoreTwins > 0 {
		var f Fleet
		pprof.Do(ctx, pprof.Labels("phase", "stored"), func(ctx context.Context) { f, err = storeFleet(ctx, filepath.Join(dir, "stored"), cfg) })
		if err != nil {
			return res, fmt.Errorf("stored fleet: %w", err)
		}
		res.Fleet = &f
		return res, nil
	}
	fmt.Fprintf(cfg.Log, "custos scale: %d twins created, one reading each, then readings in gateway bursts\n", cfg.Twins)
	// Each phase runs under a pprof label (phase=scale, raw, single,
	// batched, latency, postgres) that the goroutines it starts inherit
	// (daemons, NATS servers), so a profile of the run splits by phase:
	// go tool pprof -tagfocus phase=batched.
	phase := func(name string, f func(context.Context) error) error {
		var err error
		pprof.Do(ctx, pprof.Labels("phase", name), func(ctx context.Context) { err = f(ctx) })
		return err
	}
	if err = phase("scale", func(ctx context.Context) (err error) {
		res.Scale, err = scale(ctx, filepath.Join(dir, "scale"), cfg)
		return err
	}); err != nil {
		return res, fmt.Errorf("scale: %w", err)
	}
	if cfg.ScaleOnly {
		res.Scale.PeakRSS = PeakRSS()
		return res, nil
	}
	// Raw, single and batched run Rounds times, alternated, each in a
	// fresh directory: on a shared machine the speed drifts between runs,
	// and the ratio of a raw run and a single run next to it is steadier
	// than either rate.
	for r := range cfg.Rounds {
		var rd Round
		sub := func(name string) string {
			if cfg.Rounds == 1 {
				return filepath.Join(dir, name)
			}
			return filepath.Join(dir, fmt.Sprintf("%s-%d", name, r+1))
		}
		// A phase's data is removed once it is measured (unless the
		// directory is the caller's): the next phases should not share the
		// disk with the write-back of the last ones' gigabyte (three rounds
		// with their data kept: a latency p99 of 480 ms; removed: 90 ms).
		done := func(name string) {
			if cfg.Dir == "" {
				os.RemoveAll(sub(name))
			}
		}
		if cfg.Rounds > 1 {
			fmt.Fprintf(cfg.Log, "round %d of %d\n", r+1, cfg.Rounds)
		}
		fmt.Fprintf(cfg.Log, "raw JetStream: %d messages of %d bytes, publish+consume, file storage\n", cfg.Messages, res.MessageSize)
		if err = phase("raw", func(ctx context.Context) (err error) {
			rd.Raw, err = raw(ctx, sub("raw"), cfg)
			return err
		}); err != nil {
			return res, fmt.Errorf("raw: %w", err)
		}
		done("raw")
		fmt.Fprintf(cfg.Log, "  %.0f msgs/s\n", rd.Raw)
		fmt.Fprintf(cfg.Log, "custos single: %d messages, 1 reading each, %d twins, coldchain contract\n", cfg.Messages, cfg.Twins)
		if err = phase("single", func(ctx context.Context) (err error) {
			rd.Single, err = custos(ctx, sub("single"), cfg, cfg.Store, cfg.Messages, 1)
			return err
		}); err != nil {
			return res, fmt.Errorf("single: %w", err)
		}
		done("single")
		fmt.Fprintf(cfg.Log, "  %.0f readings/s\n", rd.Single)
		fmt.Fprintf(cfg.Log, "custos batched: %d messages, %d readings each, %d twins\n", cfg.BatchedMessages, cfg.BatchReadings, cfg.Twins)
		if err = phase("batched", func(ctx context.Context) (err error) {
			rd.Batched, err = custos(ctx, sub("batched"), cfg, cfg.Store, cfg.BatchedMessages, cfg.BatchReadings)
			return err
		}); err != nil {
			return res, fmt.Errorf("batched: %w", err)
		}
		done("batched")
		fmt.Fprintf(cfg.Log, "  %.0f readings/s\n", rd.Batched)
		rd.Ratio = rd.Single / rd.Raw
		res.Rounds = append(res.Rounds, rd)
	}
	res.medians()
	if cfg.Rounds > 1 {
		fmt.Fprintf(cfg.Log, "medians of %d rounds: %s\n", cfg.Rounds, res.roundsLine())
	}
	if cfg.LatencyFor >= 0 {
		fmt.Fprintf(cfg.Log, "custos latency: reading published → state on custos.twin.<id>.state, at half the single rate, %s\n", cfg.LatencyFor)
		var lat [2]Latency
		if err := phase("latency", func(ctx context.Context) (err error) {
			lat, err = latency(ctx, filepath.Join(dir, "latency"), cfg, res.Single/2)
			return err
		}); err != nil {
			return res, fmt.Errorf("latency: %w", err)
		}
		res.Latency, res.Passivated = lat[0], lat[1]
		fmt.Fprintf(cfg.Log, "  %s\n  every twin passivated, each reading to another: %s\n", res.Latency, res.Passivated)
	}
	if cfg.Postgres != "" {
		if err := phase("postgres", func(ctx context.Context) error {
			return runPostgres(ctx, filepath.Join(dir, "pg"), cfg, &res)
		}); err != nil {
			return res, fmt.Errorf("postgres: %w", err)
		}
	}
	res.Scale.PeakRSS = PeakRSS()
	return res, nil
}

// runPostgres adds the PostgreSQL figures to res.
func runPostgres(ctx context.Context, dir string, cfg Config, res *Result) error {
	if !isPostgres(cfg.Postgres) {
		return fmt.Errorf("%q is not a postgres:// URL", redact(cfg.Postgres))
	}
	var err error
	fmt.Fprintf(cfg.Log, "custos single on PostgreSQL: %d messages, 1 reading each, %d twins\n", cfg.Messages, cfg.Twins)
	if res.PGSingle, err = custos(ctx, dir, cfg, cfg.Postgres, cfg.Messages, 1); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Log, "  %.0f readings/s (%.2f × the embedded store's %.0f)\n", res.PGSingle, res.PGSingle/res.Single, res.Single)
	res.PGWriters = max(runtime.GOMAXPROCS(0), 2)
	fmt.Fprintf(cfg.Log, "PostgreSQL store alone: commits of %d history records over %d twins, %v\n",
		storeTwins*storePerTwin, storeTwins, cfg.StoreTime)
	if res.PGRows, err = storeRows(ctx, cfg.Postgres, 1, cfg.StoreTime); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Log, "  1 writer:  %.0f history records/s\n", res.PGRows)
	if res.PGRowsParallel, err = storeRows(ctx, cfg.Postgres, res.PGWriters, cfg.StoreTime); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Log, "  %d writers: %.0f history records/s\n", res.PGWriters, res.PGRowsParallel)
	return nil
}

// redact hides the password of a URL for messages.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}

// publisher is the bench's JetStream context for publishing: many
// publications in flight, and an acknowledgement that does not come within a
// minute (a publication refused by a permission, a stalled server) fails
// the run instead of hanging it.
func publisher(nc *nats.Conn) jetstream.JetStream {
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(65536), jetstream.WithPublishAsyncTimeout(time.Minute))
	return js
}

// publishAsync publishes n messages made by body(i) to subject(i) and
// returns when all are stored.
func publishAsync(ctx context.Context, js jetstream.JetStream, n int, subject func(int) string, body func(int) []byte) error {
	futures := make(chan jetstream.PubAckFuture, 8192)
	errc := make(chan error, 1)
	go func() {
		var first error
		for f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				if first == nil {
					first = err
				}
			}
		}
		errc <- first
	}()
	for i := 0; i < n; i++ {
		f, err := js.PublishAsync(subject(i), body(i))
		if err != nil {
			close(futures)
			<-errc
			return err
		}
		futures <- f
	}
	close(futures)
	return <-errc
}

// raw publishes and consumes Messages same-size messages through one file
// stream on an embedded server: the ceiling custos is compared with.
func raw(ctx context.Context, dir string, cfg Config) (float64, error) {
	srv, err := natsrv.Start(natsrv.Config{Dir: dir, Listen: "-"})
	if err != nil {
		return 0, err
	}
	defer srv.Stop()
	pubc, err := nats.Connect("", nats.InProcessServer(srv), srv.Internal())
	if err != nil {
		return 0, err
	}
	defer pubc.Close()
	subc, err := nats.Connect("", nats.InProcessServer(srv), srv.Internal())
	if err != nil {
		return 0, err
	}
	defer subc.Close()
	pjs := publisher(pubc)
	sjs, _ := jetstream.New(subc)
	if _, err := pjs.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute}); err != nil {
		return 0, err
	}
	cons, err := sjs.CreateConsumer(ctx, "RAW", jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckAllPolicy, MaxAckPending: 8000})
	if err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(1, 1))
	bodies := make([][]byte, 1024)
	for i := range bodies {
		bodies[i] = single(i, rng)
	}
	done := make(chan struct{})
	count := 0
	cc, err := cons.Consume(func(m jetstream.Msg) {
		count++
		if count%500 == 0 || count == cfg.Messages {
			m.Ack()
		}
		if count == cfg.Messages {
			close(done)
		}
	}, jetstream.PullMaxMessages(4000))
	if err != nil {
		return 0, err
	}
	defer cc.Stop()
	start, cpu0 := time.Now(), cpuTime()
	defer func() {
		fmt.Fprintf(cfg.Log, "  %.1f µs of CPU per message (whole process: publisher, server, consumer)\n",
			float64((cpuTime()-cpu0).Microseconds())/float64(cfg.Messages))
	}()
	if err := publishAsync(ctx, pjs, cfg.Messages, func(i int) string { return "raw.T-" + strconv.Itoa(i%cfg.Twins) },
		func(i int) []byte { return bodies[i%len(bodies)] }); err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		return 0, fmt.Errorf("raw consume timed out at %d", count)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return float64(cfg.Messages) / time.Since(start).Seconds(), nil
}

// custos runs the daemon on store, creates the twins, then publishes n
// messages of per readings each and waits until every reading is applied and
// durable. A PostgreSQL store is used in a fresh schema, dropped after.
func custos(ctx context.Context, dir string, cfg Config, store string, n, per int) (float64, error) {
	if isPostgres(store) {
		var drop func()
		store, drop = freshSchema(store)
		defer drop()
	}
	a, err := app.Start(ctx, cfg.daemon(dir, store))
	if err != nil {
		return 0, err
	}
	defer a.Close()
	pubc, err := nats.Connect("", nats.InProcessServer(a.NATS), a.AdminOption())
	if err != nil {
		return 0, err
	}
	defer pubc.Close()
	js := publisher(pubc)
	ref, err := coldchain(ctx, a)
	if err != nil {
		return 0, err
	}
	for i := 0; i < cfg.Twins; i++ {
		cmd := &twin.Command{Type: "create", Kind: "pallet", Contract: &ref, TS: base.Format(time.RFC3339)}
		if _, err := a.Bus.PublishCommand(ctx, "T-"+strconv.Itoa(i), cmd); err != nil {
			return 0, err
		}
	}
	if err := waitApplied(ctx, a, uint64(cfg.Twins)); err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(1, 1))
	bodies := make([][]byte, 1024)
	for i := range bodies {
		if per == 1 {
			bodies[i] = single(i, rng)
		} else {
			bodies[i] = batched(i, per, rng)
		}
	}
	before := a.Runtime.Stats().Applied
	start, cpu0 := time.Now(), cpuTime()
	if err := publishAsync(ctx, js, n, func(i int) string { return "custos.telemetry.T-" + strconv.Itoa(i%cfg.Twins) },
		func(i int) []byte { return bodies[i%len(bodies)] }); err != nil {
		return 0, err
	}
	batches := a.Runtime.Stats().Batches
	if err := waitApplied(ctx, a, before+uint64(n)); err != nil {
		return 0, err
	}
	el := time.Since(start)
	st := a.Runtime.Stats()
	fmt.Fprintf(cfg.Log, "  %d batches, %.0f messages per batch on average, %.2fs, %.1f µs of CPU per message (whole process)\n",
		st.Batches-batches, float64(n)/float64(st.Batches-batches), el.Seconds(), float64((cpuTime()-cpu0).Microseconds())/float64(n))
	return float64(n*per) / el.Seconds(), nil
}

// waitApplied waits until the runtime has applied (durably) n inputs.
func waitApplied(ctx context.Context, a *app.App, n uint64) error {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		st := a.Runtime.Stats()
		if st.Applied+st.Rejected >= n {
			if st.Rejected > 0 {
				return fmt.Errorf("%d inputs rejected", st.Rejected)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("applied %d of %d inputs in 10 min (%d duplicates; ingest: %v)", st.Applied, n, st.Duplicates, a.Bus.Err())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// cpuTime is the CPU time (user + system) this process has used. On a
// shared machine it is steadier than wall time: compare µs of CPU per
// message between raw JetStream and custos.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
