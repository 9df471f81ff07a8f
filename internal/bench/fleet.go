package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/bus"
	"github.com/custos-dev/custos/twin"
)

// Fleet is what the stored-fleet phase measured: a daemon whose store
// holds Twins twins, none of them resident at start, fed readings that
// each go to a different twin, with at most MaxResident twins in memory.
type Fleet struct {
	Twins       int
	MaxResident int
	// Seeded is how long writing the twins into the store and the bucket
	// took (not a figure of the daemon: see storeFleet).
	Seeded time.Duration
	// Restart is the time from starting the daemon on the seeded data to
	// ingest consuming.
	Restart time.Duration
	// BaseRSS is the resident set of a fresh daemon with an empty store,
	// ReadyRSS that of the daemon started on the seeded data once ready,
	// each after a forced GC that returns free memory to the OS;
	// BytesPerTwin is (ReadyRSS − BaseRSS) / Twins: what a stored twin
	// that is not resident costs in memory.
	BaseRSS, ReadyRSS int64
	BytesPerTwin      int64
	// Readings went each to a different twin of the store (spread over all
	// of them); CPUPerReading is the whole process's CPU time per reading,
	// Rate their readings/s, until all were acknowledged (their state in
	// the bucket).
	Readings      int
	CPUPerReading time.Duration
	GCShare       float64
	Rate          float64
	// Resident is the runtime's resident twins after the readings and a
	// passivation pass; Loads how many twins it loaded from the store for
	// them (one per reading: the worst case).
	Resident int
	Loads    uint64
	// BucketKeys is how many keys bucket custos_twins holds after the
	// readings: every twin's, or with a state retention those changed
	// within it.
	BucketKeys uint64
	// PeakRSS is the process's peak resident set (VmHWM) from the restart
	// to the end of the readings.
	PeakRSS int64
	// Ref is the same measured with refTwins stored twins in the same run
	// (at most 20,000 readings, in rounds: every twin passivated between
	// them), for ratios; nil when Twins ≤ refTwins.
	Ref *Fleet
}

// FleetSummary is the stored-fleet line of `custos bench --store-twins`.
func (f Fleet) FleetSummary() string {
	return fmt.Sprintf("custos-scale: twins=%d rss_bytes=%d bytes_per_twin=%d cpu_per_reading_us=%.1f p99_ms=0 stored=true max_resident=%d restart_s=%.2f",
		f.Twins, f.PeakRSS, f.BytesPerTwin, us(f.CPUPerReading), f.MaxResident, f.Restart.Seconds())
}

// seedChunk is how many twins one seeding step creates and commits.
const seedChunk = 10_000

// storeFleet measures a fleet of cfg.StoreTwins twins that live in the
// store: the state of a fleet whose twins were created over months and
// have long been passivated, with input retention on (their input is no
// longer in CUSTOS_INPUT) and each twin's latest state in the KV bucket —
// or, with cfg.StateRetention, none in it (all of them quiet for longer
// than that: the bucket holds only the twins the readings change).
//
// Creating ten million twins through NATS would take hours here, so the
// twins are written by a second runtime on the daemon's own store — the
// same runtime code, contract and records as a create command's (each twin
// has its create record, snapshot and digest), minus the input stream —
// and (without cfg.StateRetention) each one's state JSON is put in bucket
// custos_twins as the daemon's KV publisher would. The daemon is then
// stopped and started again on that data (the figure that matters: ready
// with N twins stored), and
// cfg.Messages readings each go to a different twin, spread over the whole
// fleet (the worst case: every reading a store load; with more readings
// than twins, in rounds with every twin passivated between them), while
// the runtime keeps at most cfg.MaxResident twins in memory.
func storeFleet(ctx context.Context, dir string, cfg Config) (Fleet, error) {
	n := cfg.StoreTwins
	f := Fleet{Twins: n, MaxResident: cfg.MaxResident}
	acfg := cfg.daemon(dir, "")
	a, err := app.Start(ctx, acfg)
	if err != nil {
		return f, err
	}
	defer func() {
		if a != nil { // nil after a failed restart
			a.Close()
		}
	}()
	ref, err := coldchain(ctx, a)
	if err != nil {
		return f, err
	}
	f.BaseRSS = settledRSS()
	where := "the store and bucket " + bus.Bucket
	if cfg.StateRetention > 0 {
		where = "the store (not the bucket: --state-retention)"
	}
	fmt.Fprintf(cfg.Log, "custos stored fleet: %d twins written into %s, then the daemon restarted on them\n", n, where)
	start := time.Now()
	if err := seed(ctx, a, ref, n, cfg.StateRetention == 0, cfg.Log); err != nil {
		return f, fmt.Errorf("seed: %w", err)
	}
	f.Seeded = time.Since(start)
	fmt.Fprintf(cfg.Log, "  %d twins seeded in %.1fs\n", n, f.Seeded.Seconds())
	a.Close()

	// From here on the process's peak resident set is the daemon's.
	runtime.GC()
	resetPeakRSS()
	if a, f.Restart, err = startReady(ctx, acfg, 5*time.Minute); err != nil {
		return f, err
	}
	f.ReadyRSS = settledRSS()
	f.BytesPerTwin = max(f.ReadyRSS-f.BaseRSS, 0) / int64(n)
	if cfg.HeapProfile != "" {
		if err := writeHeapProfile(cfg.HeapProfile); err != nil {
			return f, err
		}
	}
	fmt.Fprintf(cfg.Log, "  restart: ready in %.2fs; RSS %d MiB (%d MiB with an empty store): %d bytes per stored twin\n",
		f.Restart.Seconds(), f.ReadyRSS>>20, f.BaseRSS>>20, f.BytesPerTwin)

	pubc, err := nats.Connect("", nats.InProcessServer(a.NATS), a.AdminOption())
	if err != nil {
		return f, err
	}
	defer pubc.Close()
	js := publisher(pubc)
	// Readings in rounds of at most one per twin, spread over the fleet;
	// between rounds (a fleet smaller than the readings) every twin is
	// passivated, so that each reading is a store load.
	f.Readings = cfg.Messages
	round := min(n, f.Readings)
	stride := n / round
	bodies := readingBodies()
	stop, err := cpuProfile(cfg.ScaleCPUProfile, "stored."+strconv.Itoa(n))
	if err != nil {
		return f, err
	}
	defer func() { stop() }()
	start, cpu0, gc0 := time.Now(), cpuTime(), gcCPU()
	for from := 0; from < f.Readings; from += round {
		if from > 0 {
			if err := waitAcked(ctx, js); err != nil { // all durable: all can go
				return f, err
			}
			a.Runtime.Passivate(time.Now().Add(100 * 365 * 24 * time.Hour))
		}
		k := min(round, f.Readings-from)
		if err := publishAsync(ctx, js, k, func(i int) string { return "custos.telemetry.F-" + strconv.Itoa(i*stride) },
			func(i int) []byte { return bodies[(from+i)%len(bodies)] }); err != nil {
			return f, err
		}
		if err := waitApplied(ctx, a, uint64(from+k)); err != nil {
			return f, err
		}
	}
	// Until acknowledged: the bucket holds the state of every reading.
	if err := waitAcked(ctx, js); err != nil {
		return f, err
	}
	cpu, gc := cpuTime()-cpu0, gcCPU()-gc0
	stop()
	f.Rate = float64(f.Readings) / time.Since(start).Seconds()
	f.CPUPerReading = cpu / time.Duration(f.Readings)
	if cpu > 0 {
		f.GCShare = gc.Seconds() / cpu.Seconds()
	}
	a.Runtime.Passivate(time.Now())
	st := a.Runtime.Stats()
	f.Resident, f.Loads = st.Resident, st.Loads
	f.PeakRSS = PeakRSS()
	kv, err := js.Stream(ctx, "KV_"+bus.Bucket)
	if err != nil {
		return f, err
	}
	f.BucketKeys = kv.CachedInfo().State.NumSubjects
	fmt.Fprintf(cfg.Log, "  %d readings, each to a different stored twin: %.1f µs of CPU per reading (garbage collection %.0f %% of it), %.0f readings/s; %d twins resident after (at most %d), %d keys in the bucket; peak RSS %d MiB\n",
		f.Readings, us(f.CPUPerReading), 100*f.GCShare, f.Rate, f.Resident, f.MaxResident, f.BucketKeys, f.PeakRSS>>20)
	if n <= refTwins {
		return f, nil
	}
	// The same with refTwins twins, for the ratio of the same run.
	pubc.Close()
	a.Close()
	rcfg := cfg
	rcfg.StoreTwins, rcfg.Messages, rcfg.ScaleCPUProfile, rcfg.HeapProfile = refTwins, min(cfg.Messages, 20_000), "", ""
	fmt.Fprintf(cfg.Log, "custos stored fleet, reference: ")
	rf, err := storeFleet(ctx, dir+"-ref", rcfg)
	if err != nil {
		return f, fmt.Errorf("reference: %w", err)
	}
	f.Ref = &rf
	fmt.Fprintf(cfg.Log, "  %d twins / %d twins, same run: CPU per reading to a stored twin %.2f×, restart %.2f×\n",
		n, refTwins, us(f.CPUPerReading)/us(rf.CPUPerReading), f.Restart.Seconds()/rf.Restart.Seconds())
	return f, nil
}

// seed creates n coldchain twins F-0 … F-<n-1> in a's store with a runtime
// of their own (the daemon's does not see them until it loads them) and
// (if bucket) puts each one's state in the KV bucket, seedChunk at a time.
func seed(ctx context.Context, a *app.App, ref twin.ContractRef, n int, bucket bool, log io.Writer) error {
	rt, err := twin.New(twin.Config{Store: a.Store, Contracts: a.Host, Logger: a.Config.Logger})
	if err != nil {
		return err
	}
	// The bucket is written by custos's own user only: the daemon's
	// connection, idle meanwhile (nothing is published to the daemon).
	js := publisher(a.Conn)
	cmd := palletCreate(ref)
	in := make([]twin.Input, 0, seedChunk)
	last := time.Now()
	for from := 0; from < n; from += seedChunk {
		in = in[:0]
		for i := from; i < min(from+seedChunk, n); i++ {
			x, err := cmd.Input("F-"+strconv.Itoa(i), base)
			if err != nil {
				return err
			}
			in = append(in, *x)
		}
		out, err := rt.Process(ctx, in)
		if err != nil {
			return err
		}
		for _, r := range out.Results {
			if r.Err != nil {
				return r.Err
			}
		}
		states := out.States
		if !bucket {
			states = nil
		}
		if err := publishAsync(ctx, js, len(states), func(i int) string { return "$KV." + bus.Bucket + "." + states[i].Twin },
			func(i int) []byte { return states[i].JSON }); err != nil {
			return fmt.Errorf("kv: %w", err)
		}
		rt.Passivate(time.Now().Add(100 * 365 * 24 * time.Hour))
		if time.Since(last) > 30*time.Second {
			last = time.Now()
			fmt.Fprintf(log, "  … %d twins seeded\n", from+len(in))
		}
	}
	return nil
}

// readingBodies are the single readings the scale phases send, in turn.
func readingBodies() [][]byte {
	rng := rand.New(rand.NewPCG(5, 6))
	bodies := make([][]byte, 1024)
	for i := range bodies {
		bodies[i] = single(i, rng)
	}
	return bodies
}

// resetPeakRSS resets the process's VmHWM to its current resident set
// (Linux: "5" to /proc/self/clear_refs); elsewhere it does nothing.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}
