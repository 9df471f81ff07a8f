package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"

	"github.com/custos-dev/custos/internal/bench"
)

const benchUsage = `
custos bench — measure end-to-end ingest against raw JetStream, in one
process and one run, and print readings/s, the ratio, the latency from
publishing a reading to its state on custos.twin.<id>.state (at half the
single rate, then each reading to a passivated twin at 200/s), and a
summary line:

  custos-bench: raw=<msgs/s> single=<readings/s> ratio=<single/raw> batched=<readings/s> p99_ms=<ms>

where p99_ms is the 99th percentile of that latency at half the single rate.
With --rounds N (make bench: 3) raw, single and batched run N times,
alternated, and the line holds their medians, the ratio being the median
of each round's own single/raw: on a shared machine the speed drifts
from one run to the next, a ratio measured side by side much less.

It starts with a fleet-scale phase (--twins twins resident, memory per
twin, CPU per reading in gateway bursts, then reading → state latency at
half the bursts' rate, each reading to another twin while there are twins
enough, and restart; see docs/performance.md, "Fleet scale") and prints
before the summary:

  custos-scale: twins=<n> rss_bytes=<peak> bytes_per_twin=<n> cpu_per_reading_us=<n> p99_ms=<n>

where p99_ms is that fleet's latency (99th percentile).

With a PostgreSQL database (--postgres, by default $CUSTOS_BENCH_DATABASE or
$CUSTOS_TEST_DATABASE) the run also measures custos single on PostgreSQL and
the store alone, each in a fresh schema dropped after, and prints before it:

  custos-bench-postgres: single=<readings/s> embedded=<readings/s> ratio=<pg/embedded> store_rows=<records/s> store_rows_<n>w=<records/s>

With --store-twins N it measures instead a fleet of N twins in the store,
none resident: written straight into the daemon's store (and their state
into the bucket, unless --state-retention), the daemon restarted on them,
then --messages readings each to a different stored twin under
--max-resident, and the same with 1,000 stored twins for the ratio; it
prints only

  custos-scale: twins=<n> rss_bytes=<peak> bytes_per_twin=<n> cpu_per_reading_us=<n> p99_ms=0 stored=true max_resident=<n> restart_s=<s>

(see docs/performance.md, "A fleet in the store").

Warnings and errors of the daemons it starts (a stopped ingest, failed
publications) are printed as they happen, as log lines.

Usage:
  custos bench [flags]
`

func benchCmd(args []string) {
	fs := newFlags("bench", benchUsage)
	twins := fs.Int("twins", 1000, "twins the readings are spread over")
	msgs := fs.Int("messages", 200000, "single-reading messages")
	bmsgs := fs.Int("batched-messages", 20000, "batched messages")
	per := fs.Int("batch-readings", 50, "readings per batched message")
	store := fs.String("store", "", "store for custos: empty for embedded, or a postgres:// URL")
	postgres := fs.String("postgres", benchDatabase(), "also measure custos and the store alone on this PostgreSQL (postgres:// URL; default $CUSTOS_BENCH_DATABASE, else $CUSTOS_TEST_DATABASE; \"\" to skip)")
	dir := fs.String("dir", "", "scratch directory (default: a temporary one)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	heapprofile := fs.String("heapprofile", "", "write a heap profile, taken with every twin of the scale phase resident, to this file")
	scaleprofile := fs.String("scale-cpuprofile", "", "write CPU profiles of the scale phase's readings to resident twins to this file + \".<twins>\"")
	scaleOnly := fs.Bool("scale-only", false, "run only the fleet-scale phase (memory per twin, CPU per reading, the fleet's latency, restart)")
	blockprofile := fs.String("blockprofile", "", "write a blocking profile of the whole run to this file")
	allocprofile := fs.String("allocprofile", "", "write the allocations of the whole run (pprof allocs: go tool pprof -sample_index=alloc_space) to this file")
	inputRetention := fs.String("input-retention", "0", "the daemons' --input-retention (\"applied\", a duration, or 0 to keep all input)")
	dupWindow := fs.Duration("duplicate-window", 0, "the daemons' --duplicate-window (0: their default, 2 min)")
	stateRetention := fs.Duration("state-retention", 0, "the daemons' --state-retention (with --store-twins: the stored twins are then not in the bucket, as if all were quiet for longer)")
	maxResident := fs.Int("max-resident", 0, "the daemons' --max-resident (default: with --store-twins as custos run's, from GOMEMLIMIT if set; otherwise 2000000, so that the scale phase's twins all stay resident)")
	storeTwins := fs.Int("store-twins", 0, "instead of everything else, measure a fleet of this many twins in the store, none resident: restart time, memory, and --messages readings each to a different twin (docs/performance.md, \"A fleet in the store\")")
	rounds := fs.Int("rounds", 1, "run raw JetStream, custos single and custos batched this many times, alternated, and report their medians (the ratio: the median of each round's own)")
	fs.parse(args)
	if *maxResident < 0 || *storeTwins < 0 {
		fatalf("bench: --max-resident and --store-twins: want a positive number")
	}
	if *rounds < 1 {
		fatalf("bench: --rounds %d: want 1 or more", *rounds)
	}
	mem := memorySetting{goMem: math.MaxInt64}
	if v := os.Getenv("GOMEMLIMIT"); v != "" && v != "off" && *storeTwins > 0 {
		mem = memorySetting{goMem: debug.SetMemoryLimit(-1), source: "GOMEMLIMIT"}
	}
	retain, err := parseInputRetention(*inputRetention)
	if err != nil {
		fatalf("bench: --input-retention: %v", err)
	}
	if *allocprofile != "" {
		defer func() {
			f, err := os.Create(*allocprofile)
			if err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if *blockprofile != "" {
		runtime.SetBlockProfileRate(10000)
		defer func() {
			f, err := os.Create(*blockprofile)
			if err == nil {
				pprof.Lookup("block").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fatalf("bench: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("bench: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := bench.Run(ctx, bench.Config{Dir: *dir, Twins: *twins, Messages: *msgs, BatchedMessages: *bmsgs,
		BatchReadings: *per, Store: *store, Postgres: *postgres, Log: os.Stdout,
		HeapProfile: *heapprofile, ScaleOnly: *scaleOnly, ScaleCPUProfile: *scaleprofile,
		InputRetention: retain.age, PurgeApplied: retain.applied, DuplicateWindow: *dupWindow,
		StateRetention: *stateRetention, MaxResident: mem.maxResident(*maxResident), StoreTwins: *storeTwins, Rounds: *rounds})
	if err != nil {
		fatalf("bench: %v", err)
	}
	if res.Fleet != nil {
		fmt.Println(res.Fleet.FleetSummary())
		return
	}
	fmt.Println(res.ScaleSummary())
	if line := res.PostgresSummary(); line != "" {
		fmt.Println(line)
	}
	fmt.Println(res.Summary()) // the last line, whatever else is measured
}

// benchDatabase is the default of bench --postgres.
func benchDatabase() string {
	if url := os.Getenv("CUSTOS_BENCH_DATABASE"); url != "" {
		return url
	}
	return os.Getenv("CUSTOS_TEST_DATABASE")
}
