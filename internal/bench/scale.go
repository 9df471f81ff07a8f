package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/bus"
	"github.com/custos-dev/custos/twin"
)

// Scale is what the fleet-scale phase of a run measured: memory per
// resident twin, CPU per reading, restart, with Config.Twins twins.
type Scale struct {
	Twins int
	// BaseRSS and ResidentRSS are the process's resident set (VmRSS) after a
	// forced GC that returns free memory to the OS: before the twins are
	// created, and with every twin created and holding the state of one
	// reading (all resident).
	BaseRSS, ResidentRSS int64
	// BytesPerTwin is (ResidentRSS − BaseRSS) / Twins.
	BytesPerTwin int64
	// CPUPerReading is the whole process's CPU time per reading while
	// Readings readings, in gateway bursts over all twins, are applied to
	// resident twins.
	CPUPerReading time.Duration
	Readings      int
	// LoadsPerReading is the store loads per reading meanwhile: 0 with
	// every twin resident; with more twins than --max-resident, how well
	// passivation chose the twins it kept.
	LoadsPerReading float64
	// GCShare is the part of that CPU time the garbage collector took
	// (runtime/metrics /cpu/classes/gc/total, an estimate by the runtime).
	GCShare float64
	// Latency is reading → state on custos.twin.<id>.state at half the
	// rate of those bursts, each reading to another twin as long as
	// there are twins enough (scaleLatency).
	Latency Latency
	// Restart is the time from starting the daemon again on the same data
	// (after a clean stop) to ingest consuming (what /readyz reports).
	Restart time.Duration
	// CPUPerColdReading is the CPU time per reading of the first reading of
	// ColdReadings twins after the restart: none is resident, so each is
	// loaded from the store (the worst case: every reading to a different,
	// passivated twin). ColdRate is their readings/s.
	CPUPerColdReading time.Duration
	ColdReadings      int
	ColdRate          float64
	// Ref is the same measured with refTwins twins in the same run, for
	// ratios (nil when Twins ≤ refTwins).
	Ref *Scale
	// PeakRSS is the process's peak resident set (VmHWM) at the end of the
	// run: every phase, not only this one.
	PeakRSS int64
}

// refTwins is the fleet the scale phase compares a large one with.
const refTwins = 1000

// compactAfter is the runtime's default twin.Config.CompactAfter.
const compactAfter = 5 * time.Second

// ScaleSummary is the fleet-scale line of `custos bench`.
func (r Result) ScaleSummary() string {
	s := r.Scale
	return fmt.Sprintf("custos-scale: twins=%d rss_bytes=%d bytes_per_twin=%d cpu_per_reading_us=%.1f p99_ms=%.1f",
		s.Twins, s.PeakRSS, s.BytesPerTwin, us(s.CPUPerReading), float64(s.Latency.P99.Microseconds())/1e3)
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// scale measures cfg.Twins twins and, for a larger fleet, refTwins twins
// the same way, and logs the ratios.
func scale(ctx context.Context, dir string, cfg Config) (Scale, error) {
	s, err := scaleAt(ctx, filepath.Join(dir, "fleet"), cfg, cfg.Twins)
	if err != nil || cfg.Twins <= refTwins {
		return s, err
	}
	fmt.Fprintf(cfg.Log, "custos scale, reference: %d twins, same readings\n", refTwins)
	ref, err := scaleAt(ctx, filepath.Join(dir, "ref"), cfg, refTwins)
	if err != nil {
		return s, err
	}
	s.Ref = &ref
	fmt.Fprintf(cfg.Log, "  %d twins / %d twins, same run: CPU per reading %.2f×, p99 latency %.2f×, per first reading after restart %.2f×, restart %.2f×\n",
		s.Twins, refTwins, us(s.CPUPerReading)/us(ref.CPUPerReading), us(s.Latency.P99)/us(ref.Latency.P99),
		us(s.CPUPerColdReading)/us(ref.CPUPerColdReading), s.Restart.Seconds()/ref.Restart.Seconds())
	return s, nil
}

// scaleAt creates n twins on a fresh daemon, gives each one reading (so all
// are resident with a contract state and view) and measures the resident
// set per twin; then it sends readings in bursts of gatewayBurst
// consecutive twins, every twin in turn (the realistic shape: every twin
// reports every few minutes, a gateway forwards its twins' readings
// together) and measures CPU per reading; then it restarts the daemon and
// measures the time to ready and the first reading of many twins.
func scaleAt(ctx context.Context, dir string, cfg Config, n int) (Scale, error) {
	s := Scale{Twins: n}
	acfg := cfg.daemon(dir, "")
	a, err := app.Start(ctx, acfg)
	if err != nil {
		return s, err
	}
	defer func() {
		if a != nil { // nil after a failed restart
			a.Close()
		}
	}()
	pubc, err := nats.Connect("", nats.InProcessServer(a.NATS), a.AdminOption())
	if err != nil {
		return s, err
	}
	js := publisher(pubc)
	ref, err := coldchain(ctx, a)
	if err != nil {
		return s, err
	}
	s.BaseRSS = settledRSS()

	create, err := json.Marshal(palletCreate(ref))
	if err != nil {
		return s, err
	}
	start := time.Now()
	if err := publishAsync(ctx, js, n, func(i int) string { return "custos.command.S-" + strconv.Itoa(i) },
		func(int) []byte { return create }); err != nil {
		return s, err
	}
	if err := waitApplied(ctx, a, uint64(n)); err != nil {
		return s, err
	}
	fmt.Fprintf(cfg.Log, "  %d twins created in %.1fs\n", n, time.Since(start).Seconds())
	bodies := readingBodies()
	if err := publishAsync(ctx, js, n, func(i int) string { return "custos.telemetry.S-" + strconv.Itoa(i) },
		func(i int) []byte { return bodies[i%len(bodies)] }); err != nil {
		return s, err
	}
	if err := waitApplied(ctx, a, uint64(2*n)); err != nil {
		return s, err
	}
	// A fleet at rest: what was touched last is packed too, as it would be
	// CompactAfter later.
	time.Sleep(compactAfter)
	a.Runtime.Passivate(time.Now())
	st := a.Runtime.Stats()
	s.ResidentRSS = settledRSS()
	s.BytesPerTwin = (s.ResidentRSS - s.BaseRSS) / int64(n)
	if cfg.HeapProfile != "" && n == cfg.Twins {
		if err := writeHeapProfile(cfg.HeapProfile); err != nil {
			return s, err
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	perTwin := strconv.FormatInt(s.BytesPerTwin, 10) + " bytes per twin"
	if s.BytesPerTwin < 0 {
		// After a large phase the process still holds memory it is
		// returning (RSS before > after): the difference says nothing.
		perTwin, s.BytesPerTwin = "bytes per twin not measured (RSS still falling from the phase before)", 0
	}
	fmt.Fprintf(cfg.Log, "  RSS %d MiB before, %d MiB with %d twins resident (%d timers pending): %s; Go heap in use %d MiB, RSS outside the Go runtime %d MiB\n",
		s.BaseRSS>>20, s.ResidentRSS>>20, st.Resident, st.Timers, perTwin, ms.HeapInuse>>20, max(s.ResidentRSS-int64(ms.Sys-ms.HeapReleased), 0)>>20)

	// CPU per reading: every twin reports, in gateway bursts. Readings
	// first, not measured, until two GC cycles have run, bring the process
	// to its steady state: settledRSS has just returned all free memory to
	// the operating system, and without them the measured readings would
	// pay for faulting in and zeroing the pages a long-running daemon
	// reuses — more of them the larger the fleet's heap.
	s.Readings = max(cfg.Messages/5, 1)
	burst := func(from int) error {
		return publishAsync(ctx, js, s.Readings, func(i int) string { return "custos.telemetry.S-" + strconv.Itoa(burstTwin(from+i, n)) },
			func(i int) []byte { return bodies[(from+i+7)%len(bodies)] })
	}
	before, from := st.Applied, 0
	for gc0 := gcCycles(); from < 10*s.Readings && (from == 0 || gcCycles() < gc0+2); from += s.Readings {
		if err := burst(from); err != nil {
			return s, err
		}
		before += uint64(s.Readings)
		if err := waitApplied(ctx, a, before); err != nil {
			return s, err
		}
	}
	fmt.Fprintf(cfg.Log, "  %d readings first, not measured, to reach a steady state (two GC cycles)\n", from)
	stop, err := cpuProfile(cfg.ScaleCPUProfile, strconv.Itoa(n))
	if err != nil {
		return s, err
	}
	defer func() { stop() }()
	start, cpu0, gc0, loads0 := time.Now(), cpuTime(), gcCPU(), a.Runtime.Stats().Loads
	if err := burst(from); err != nil {
		return s, err
	}
	if err := waitApplied(ctx, a, before+uint64(s.Readings)); err != nil {
		return s, err
	}
	cpu, gc := cpuTime()-cpu0, gcCPU()-gc0
	s.CPUPerReading = cpu / time.Duration(s.Readings)
	s.LoadsPerReading = float64(a.Runtime.Stats().Loads-loads0) / float64(s.Readings)
	if cpu > 0 {
		s.GCShare = gc.Seconds() / cpu.Seconds()
	}
	stop()
	rate := float64(s.Readings) / time.Since(start).Seconds()
	fmt.Fprintf(cfg.Log, "  %d readings in bursts of %d twins: %.1f µs of CPU per reading (garbage collection %.0f %% of it), %.0f readings/s, %.2f store loads per reading\n",
		s.Readings, gatewayBurst, us(s.CPUPerReading), 100*s.GCShare, rate, s.LoadsPerReading)
	acked := time.Now()
	if err := waitAcked(ctx, js); err != nil {
		return s, err
	}
	fmt.Fprintf(cfg.Log, "  input acknowledged %.1fs after the last reading was applied (KV writes stored)\n", time.Since(acked).Seconds())

	// Latency with the pipeline drained (the bursts' KV writes stored): a
	// steady rate, not the bursts' backlog.
	k := 0
	if s.Latency, k, err = scaleLatency(ctx, a, js, n, from+s.Readings, rate/2, cfg.LatencyFor); err != nil {
		return s, fmt.Errorf("latency: %w", err)
	}
	fmt.Fprintf(cfg.Log, "  %s, over %d twins\n", s.Latency, k)

	// Restart on the same data, then the first reading of many twins. A
	// clean stop: input acknowledged first (what is not is redelivered and
	// re-emitted at start, the crash-recovery path measured elsewhere).
	if err := waitAcked(ctx, js); err != nil {
		return s, err
	}
	pubc.Close()
	a.Close()
	if a, s.Restart, err = startReady(ctx, acfg, time.Minute); err != nil {
		return s, err
	}
	if pubc, err = nats.Connect("", nats.InProcessServer(a.NATS), a.AdminOption()); err != nil {
		return s, err
	}
	defer pubc.Close()
	js = publisher(pubc)
	s.ColdReadings = min(n, 20_000)
	if stop, err = cpuProfile(cfg.ScaleCPUProfile, "cold."+strconv.Itoa(n)); err != nil {
		return s, err
	}
	start, cpu0 = time.Now(), cpuTime()
	if err := publishAsync(ctx, js, s.ColdReadings, func(i int) string { return "custos.telemetry.S-" + strconv.Itoa(i*(n/s.ColdReadings)) },
		func(i int) []byte { return bodies[(i+11)%len(bodies)] }); err != nil {
		return s, err
	}
	if err := waitApplied(ctx, a, uint64(s.ColdReadings)); err != nil {
		return s, err
	}
	s.CPUPerColdReading = (cpuTime() - cpu0) / time.Duration(s.ColdReadings)
	stop()
	s.ColdRate = float64(s.ColdReadings) / time.Since(start).Seconds()
	fmt.Fprintf(cfg.Log, "  restart: ready in %.2fs; first readings of %d twins (each loaded from the store): %.1f µs of CPU per reading, %.0f readings/s\n",
		s.Restart.Seconds(), s.ColdReadings, us(s.CPUPerColdReading), s.ColdRate)
	return s, nil
}

// scaleLatency measures reading → state among the n twins of the scale
// phase at rate for d, in the bursts' order from reading from on (each
// gateway's twins together): readings go to the next k = min(n, rate·d)
// twins of that order in turn, so with a large fleet each goes to another
// twin and with a small one each twin gets several. It returns the
// latency and k.
//
// The order matters at a large fleet: the same rate scattered over a
// million twins saturates the daemon under a memory limit (the KV bucket
// reads a 4 MB block to remove each scattered key's previous value),
// while in the order a fleet reports it does not (docs/performance.md,
// "Latency at fleet scale").
func scaleLatency(ctx context.Context, a *app.App, js jetstream.JetStream, n, from int, rate float64, d time.Duration) (Latency, int, error) {
	k := min(n, max(1, int(rate*d.Seconds())))
	ids, base := make([]string, 0, k), make([]uint64, 0, k)
	taken := make(map[int]bool, k)
	for i := from; len(ids) < k; i++ {
		t := burstTwin(i, n)
		if taken[t] {
			continue // a round boundary: the twin is already in
		}
		taken[t] = true
		id := "S-" + strconv.Itoa(t)
		tw, err := a.Store.Twin(ctx, id)
		if err != nil {
			return Latency{}, 0, fmt.Errorf("twin %s: %w", id, err)
		}
		ids, base = append(ids, id), append(base, tw.Seq)
	}
	subc, err := nats.Connect("", nats.InProcessServer(a.NATS), a.AdminOption())
	if err != nil {
		return Latency{}, 0, err
	}
	defer subc.Close()
	bodies := readingBodies()
	p, err := newProbe(subc, js, ids, base, func(m int) []byte { return bodies[(m+13)%len(bodies)] })
	if err != nil {
		return Latency{}, 0, err
	}
	defer p.close()
	l, err := p.measure(rate, d, math.MaxInt)
	if err == nil && l.Samples < p.n {
		err = fmt.Errorf("states of %d of %d readings seen", l.Samples, p.n)
	}
	return l, k, err
}

// palletCreate is the create command of the scale phases' twins, made as
// a fleet's pallets are: the same params and first custodian for all
// (docs/interfaces.md, the coldchain policy).
func palletCreate(ref twin.ContractRef) *twin.Command {
	return &twin.Command{Type: "create", Kind: "pallet", Contract: &ref, TS: base.Format(time.RFC3339),
		Params: json.RawMessage(`{"min_c":2,"max_c":8,"excursion_budget_s":1800}`), Custodian: "factory"}
}

// startReady starts the daemon on acfg's data and waits until ingest
// consumes (what /readyz checks), at most within; it returns the daemon
// and the time that took.
func startReady(ctx context.Context, acfg app.Config, within time.Duration) (*app.App, time.Duration, error) {
	start := time.Now()
	a, err := app.Start(ctx, acfg)
	if err != nil {
		return nil, 0, fmt.Errorf("restart: %w", err)
	}
	for !a.Bus.Ready() || a.Bus.Err() != nil {
		if time.Since(start) > within {
			err := fmt.Errorf("restart: not ready after %v: %v", time.Since(start), a.Bus.Err())
			a.Close()
			return nil, 0, err
		}
		time.Sleep(time.Millisecond)
	}
	return a, time.Since(start), nil
}

// gatewayBurst is how many consecutive twins' readings a gateway forwards
// together in the scale phase.
const gatewayBurst = 50

// burstTwin is the twin of reading i: gateways (blocks of gatewayBurst
// twins) take turns in a scrambled order, each sending one reading of each
// of its twins, so every twin reports once per round.
func burstTwin(i, twins int) int {
	round, k := i/twins, i%twins
	full := twins / gatewayBurst // whole gateways; the rest report in place
	if k >= full*gatewayBurst {
		return k
	}
	m := 7919 // g → g·m + round (mod full) is a permutation for m prime to full
	for gcd(m, full) != 1 {
		m += 2
	}
	return (k/gatewayBurst*m+round)%full*gatewayBurst + k%gatewayBurst
}

// gcCPU is the CPU time the garbage collector has used so far, as the
// runtime estimates it (marking, assists, idle marking, pauses).
func gcCPU() time.Duration {
	sm := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(sm)
	if sm[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return time.Duration(sm[0].Value.Float64() * float64(time.Second))
}

// gcCycles is how many garbage collections the process has completed.
func gcCycles() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// settledRSS collects garbage, returns free memory to the OS and reads the
// resident set: the memory the process holds for what is live.
func settledRSS() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	return procStatus("VmRSS")
}

// PeakRSS is the process's peak resident set so far (VmHWM), 0 where
// /proc is not available.
func PeakRSS() int64 { return procStatus("VmHWM") }

// procStatus reads a "kB" field of /proc/self/status in bytes.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok || string(k) != field {
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
		if err != nil {
			return 0
		}
		return n << 10
	}
	return 0
}

// cpuProfile starts a CPU profile written to path.suffix and returns the
// function that ends it; with path "" it does nothing.
func cpuProfile(path, suffix string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path + "." + suffix)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	done := false
	return func() { // idempotent: also deferred for the error returns
		if !done {
			done = true
			pprof.StopCPUProfile()
			f.Close()
		}
	}, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}

// waitAcked waits until the runtime has acknowledged all of its input.
func waitAcked(ctx context.Context, js jetstream.JetStream) error {
	// Acknowledgements wait for the KV writes, which for a large fleet
	// under load can take minutes (docs/performance.md).
	deadline := time.Now().Add(10 * time.Minute)
	for {
		st, err := js.Stream(ctx, bus.StreamInput)
		if err != nil {
			return err
		}
		c, err := st.Consumer(ctx, bus.Consumer)
		if err != nil {
			return err
		}
		ci, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if ci.AckFloor.Stream >= st.CachedInfo().State.LastSeq {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("input acknowledged up to %d of %d", ci.AckFloor.Stream, st.CachedInfo().State.LastSeq)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
