package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/internal/app"
)

const runUsage = `
custos run — start the runtime.

On embedded defaults it needs nothing installed: it starts an embedded NATS
server with JetStream (files under --data, clients on --nats-listen), the
embedded store (under --data), and the HTTP API on --http. Devices publish
readings to custos.telemetry.<twin>; twin state is in KV bucket custos_twins.

Usage:
  custos run [flags]
`

func runCmd(args []string) {
	fs := newFlags("run", runUsage)
	data := fs.String("data", "./custos-data", "data directory (JetStream files, embedded store, compilation cache)")
	natsListen := fs.String("nats-listen", "127.0.0.1:4222", "address where the embedded NATS server accepts clients (\"-\" for in-process only)")
	natsURL := fs.String("nats-url", "", "use this external NATS server (JetStream enabled) instead of the embedded one")
	httpAddr := fs.String("http", "127.0.0.1:8080", "HTTP API address (\"-\" to disable)")
	natsUsers := fs.String("nats-users", "", "file of NATS users of the embedded server, one \"PUBLIC_NKEY admin|operator|dashboard|device [tenant=T] [twins=ID,…]\" per line (custos nkey makes keys); the local admin's key is always written to --data/nats-admin.nk")
	natsCreds := fs.String("nats-creds", "", "with --nats-url: custos's credentials there (an nkey seed or a JWT .creds file)")
	natsCA := fs.String("nats-ca", "", "with --nats-url: CA certificate (PEM) of the NATS server")
	tlsCert := fs.String("tls-cert", "", "certificate (PEM) for TLS on the embedded NATS server and the HTTP API")
	tlsKey := fs.String("tls-key", "", "private key (PEM) of --tls-cert")
	futureSkew := fs.Duration("max-future-skew", 24*time.Hour, "readings dated more than this after they arrive go to custos.dlq.future_time; negative: no limit")
	authTokens := fs.String("auth-tokens", "", "file of HTTP bearer tokens, one \"TOKEN read|admin [TENANT]\" per line (required when --http is not loopback)")
	inputRetention := fs.String("input-retention", "0", "how long stream CUSTOS_INPUT keeps input: \"applied\": until custos has applied and acknowledged it and the 2 min duplicate window has passed (the stream holds only input not yet applied or recent; recommended for large fleets); a duration, e.g. 168h: that long after it arrived, applied or not; 0: for ever (the stream grows by every reading). The store's history keeps every applied event either way")
	dupWindow := fs.Duration("duplicate-window", 2*time.Minute, "how long the input, alert and dead-letter streams remember a Nats-Msg-Id, so that a re-send with the same id is stored once (at most --input-retention; with --input-retention applied, input is kept at least this long)")
	stateRetention := fs.Duration("state-retention", 0, "remove a twin's key from KV bucket custos_twins once the twin has not changed for this long (watchers see a purge; its next change puts it back; GET /v1/twins/<id> always answers from the store), e.g. 24h; 0: the bucket keeps every twin's latest state. For fleets larger than memory: each key costs the NATS server memory, active or not")
	store := fs.String("store", "", "store: empty for the embedded store under --data, or a postgres:// URL")
	retention := fs.Duration("history-retention", 0, "delete history records older than this, by event time (e.g. 720h); 0 keeps them forever; postgres store only")
	shards := fs.Int("shards", 0, "twin shards (default: number of CPUs)")
	maxResident := fs.Int("max-resident", 0, "most twins kept in memory; beyond it the least frequently heard from are passivated, of equally frequent ones the last loaded (checked every 10 s, with or without input, and within a second once a sixteenth over, or ten times the last pass if that is longer) and loaded from the store by their next event (default: one per 2 KiB of the memory limit, e.g. 786432 for 1.5GiB; 2000000 without a limit)")
	idleAfter := fs.Duration("idle-after", 10*time.Minute, "passivate twins no event touched for this long")
	batch := fs.Int("batch", 1000, "most input messages applied and committed as one batch")
	maxMsg := fs.Int("max-message-bytes", 64<<10, "largest input message accepted; larger ones go to custos.dlq.too_large")
	lim := addContractLimitFlags(fs)
	chain := addChainFlags(fs, true)
	cl := addClusterFlags(fs)
	memLimit := fs.String("memory-limit", "auto", "memory this process may use, e.g. 1536MiB or 1.5GiB: the Go heap is held to 80 % of it (runtime/debug.SetMemoryLimit); \"auto\": the container's (cgroup) limit, if any; \"off\": none; GOMEMLIMIT, if set, wins")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	fs.parse(args)

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		fatalf("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	var h slog.Handler
	switch *logFormat {
	case "text":
		h = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})
	case "json":
		h = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})
	default:
		fatalf("--log-format %q: want text or json", *logFormat)
	}
	log := slog.New(h)
	slog.SetDefault(log)
	retain, err := parseInputRetention(*inputRetention)
	if err != nil {
		fatalf("--input-retention: %v", err)
	}
	if *stateRetention < 0 || *stateRetention > 0 && *stateRetention < time.Second {
		fatalf("--state-retention %v: want 0 or at least 1s", *stateRetention)
	}
	if *dupWindow <= 0 {
		fatalf("--duplicate-window %v: want a positive duration", *dupWindow)
	}
	mem, err := setMemoryLimit(*memLimit, log)
	if err != nil {
		fatalf("%v", err)
	}
	if *maxResident < 0 {
		fatalf("--max-resident %d: want a positive number of twins (0: from the memory limit)", *maxResident)
	}
	if *idleAfter <= 0 {
		fatalf("--idle-after %v: want a positive duration", *idleAfter)
	}
	resident := mem.maxResident(*maxResident)
	log.Info("memory", "limit", mem.limit, "go_limit", mem.goMem, "source", mem.source, "max_resident", resident)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, app.Config{
		Data: *data, NATSListen: *natsListen, NATSURL: *natsURL, NATSUsers: *natsUsers, NATSCreds: *natsCreds, NATSCA: *natsCA,
		TLSCert: *tlsCert, TLSKey: *tlsKey, MaxFutureSkew: *futureSkew, InputRetention: retain.age, PurgeApplied: retain.applied, DuplicateWindow: *dupWindow, StateRetention: *stateRetention, HTTP: *httpAddr, AuthTokens: *authTokens, Store: *store, HistoryRetention: *retention,
		Shards: *shards, MaxResident: resident, IdleAfter: *idleAfter, BatchSize: *batch, MaxMessageBytes: *maxMsg,
		ContractFuel: *lim.fuel, ContractWatchdog: *lim.watchdog, ContractPages: uint32(*lim.pages), ContractMaxOutput: *lim.maxOut, Anchor: chain.config(), Logger: log,
		Cluster: cl.config(),
	})
	if err != nil {
		fatalf("start: %v", err)
	}
	natsWhere := *natsURL
	if natsWhere == "" {
		natsWhere = "embedded"
		if a.NATS.URL() != "" {
			natsWhere += ", clients at " + a.NATS.URL()
		}
		natsWhere += "\n  nats creds " + a.AdminCreds + "  (local admin; custos publish/sim read it by default, nats CLI: --nkey " + a.AdminCreds + ")"
	}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	chainWhere := "off (--anchor=false)"
	if a.Anchor != nil {
		st, _ := a.Anchor.Status(ctx)
		chainWhere = fmt.Sprintf("chain %d", a.Chain.ChainID)
		if a.Chain.Dev != nil {
			chainWhere = fmt.Sprintf("embedded dev chain %d", a.Chain.ChainID)
			if a.Chain.Dev.URL() != "" {
				chainWhere += ", JSON-RPC at " + a.Chain.Dev.URL()
			}
		}
		if st != nil {
			chainWhere += ", TwinAnchor " + st.Contract.Hex() + ", every " + chain.config().Interval.String()
		}
	}
	storeWhere := "embedded (" + *data + "/store)"
	if *store != "" {
		storeWhere = "postgres"
	}
	if a.Partitions != nil {
		natsWhere += fmt.Sprintf("\n  cluster    node %s, %d partitions (owned now: %q; /metrics custos_partition_fence)", *cl.node, *cl.partitions, a.Partitions.String())
	}
	fmt.Fprintf(os.Stderr, `custos %s running
  data       %s
  nats       %s
  store      %s
  http       %s://%s  (dashboard /, API /v1/twins, metrics /metrics)
  anchors    %s
  memory     %s; at most %d twins resident
  telemetry  publish readings to custos.telemetry.<twin>
  state      KV bucket custos_twins, subjects custos.twin.<twin>.state / .alert
Stop with Ctrl-C.
`, version, *data, natsWhere, storeWhere, scheme, a.HTTPAddr, chainWhere, mem, resident)
	<-ctx.Done()
	log.Info("stopping")
	a.Close()
}

// contractLimits are the contract host's limits, as flags shared by
// `custos run` and `custos policy test` (same names, same defaults), so
// that a test runs a contract under the limits the runtime applies.
type contractLimits struct {
	fuel     *uint64
	watchdog *time.Duration
	maxOut   *int
	pages    *int
}

func addContractLimitFlags(fs *flagSet) contractLimits {
	return contractLimits{
		fuel:     fs.Uint64("contract-fuel", contracts.DefaultFuel, "fuel (metered WebAssembly instructions) per contract call; a module's custos.fuel section overrides it"),
		watchdog: fs.Duration("contract-watchdog", contracts.DefaultWatchdog, "wall-clock backstop: a contract call running longer quarantines its module (never decides an event)"),
		maxOut:   fs.Int("contract-max-output", contracts.DefaultMaxOutputBytes, "largest contract output in bytes"),
		pages:    fs.Int("contract-memory-pages", contracts.DefaultMaxMemoryPages, "memory cap per contract instance in 64 KiB pages"),
	}
}

func (l contractLimits) config() contracts.Config {
	return contracts.Config{Fuel: *l.fuel, Watchdog: *l.watchdog, MaxOutputBytes: *l.maxOut, MaxMemoryPages: uint32(*l.pages)}
}
