// Package app wires the custos daemon together: NATS (embedded or external),
// the store, the contract host, the twin runtime, the ingest bus and the HTTP
// API. `custos run`, the examples, the end-to-end tests and `make bench` all
// start the runtime through it, so they exercise the same code.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/internal/bus"
	"github.com/custos-dev/custos/internal/cluster"
	"github.com/custos-dev/custos/internal/epcis/exchange"
	"github.com/custos-dev/custos/internal/httpapi"
	"github.com/custos-dev/custos/internal/metrics"
	"github.com/custos-dev/custos/internal/modstore"
	"github.com/custos-dev/custos/internal/natsrv"
	"github.com/custos-dev/custos/store/embedded"
	"github.com/custos-dev/custos/store/pg"
	"github.com/custos-dev/custos/twin"
)

// Config configures the daemon. The zero value of each field is a sensible
// default except Data.
type Config struct {
	Data       string // data directory (JetStream, embedded store, compilation cache)
	NATSListen string // embedded NATS client listener; "-" for none
	NATSURL    string // external NATS instead of the embedded server
	// NATSUsers is a users file for the embedded server ("PUBLIC_NKEY ROLE
	// [tenant=T] [twins=…]" per line, see natsrv.ParseUsers); Users adds
	// more (tests). The local admin (AdminCreds) is always one.
	NATSUsers string
	Users     []natsrv.User
	// NATSCreds authenticates custos to an external NATS server (an nkey
	// seed or a JWT .creds file); NATSCA is that server's CA (PEM).
	NATSCreds string
	NATSCA    string
	// TLSCert and TLSKey (PEM files), if set, make the embedded NATS server
	// and the HTTP API serve TLS only.
	TLSCert, TLSKey string
	// MaxFutureSkew: readings dated more than this after their arrival are
	// dead-lettered (future_time). 0: 24 h; negative: no limit.
	MaxFutureSkew time.Duration
	// InputRetention removes input from stream CUSTOS_INPUT this long after
	// it was stored (applied or not); 0 keeps it all (bus.Config).
	InputRetention time.Duration
	// PurgeApplied removes input from CUSTOS_INPUT once custos has applied
	// and acknowledged it (bus.Config).
	PurgeApplied bool
	// StateRetention removes a twin's key from bucket custos_twins once the
	// twin has not changed for this long (bus.Config); 0 keeps all.
	StateRetention time.Duration
	// DuplicateWindow of the input, alert and dead-letter streams for
	// Nats-Msg-Id (default 2 min; at most InputRetention).
	DuplicateWindow time.Duration
	// EmbeddedOptions configure the embedded store (tests: a simulated full disk).
	EmbeddedOptions []embedded.Option
	// HTTPBodyTimeout bounds the time to receive a request body (default 30 s).
	HTTPBodyTimeout time.Duration
	HTTP            string // HTTP API listen address; "-" for none
	// AuthTokens is a token file ("TOKEN read|admin [TENANT]" per line) for
	// the HTTP API. Without it the API serves only a loopback HTTP address.
	AuthTokens string
	Store      string // "" = embedded under Data; postgres://… = PostgreSQL
	// HistoryRetention deletes history records older than this (by event
	// time) in the background; 0 keeps history forever. PostgreSQL store only.
	HistoryRetention time.Duration

	Shards int
	// MaxResident caps the twins kept in memory (0: twin.Config's default,
	// 2,000,000); beyond it the least frequently heard from are passivated
	// and loaded from the store by their next event.
	MaxResident int
	// IdleAfter passivates twins no event touched for this long (0:
	// twin.Config's default, 10 min).
	IdleAfter       time.Duration
	BatchSize       int
	MaxMessageBytes int
	// ContractFuel is the per-call fuel budget (0: contracts.DefaultFuel).
	ContractFuel uint64
	// ContractWatchdog is the wall-clock backstop that quarantines a
	// module (0: contracts.DefaultWatchdog).
	ContractWatchdog time.Duration
	ContractPages    uint32
	// ContractMaxOutput caps one contract output in bytes (0: the host's default).
	ContractMaxOutput int
	// CacheDir keeps compiled contracts between starts (default Data/wazero-cache).
	CacheDir string
	// Anchor turns anchoring on (nil: off).
	Anchor *AnchorConfig
	// Cluster runs this daemon as a node of a cluster (nil: single node).
	Cluster *ClusterConfig

	Logger *slog.Logger
}

// App is a running daemon.
type App struct {
	Config   Config
	NATS     *natsrv.Server // nil with an external server
	Conn     *nats.Conn
	JS       jetstream.JetStream
	Store    twin.Store
	Host     *contracts.Host
	Modules  *modstore.Deployer // deployed contract modules (custos policy deploy)
	Runtime  *twin.Runtime
	Bus      *bus.Bus
	Metrics  *metrics.Metrics
	API      *httpapi.Server
	HTTPAddr string // actual HTTP listen address
	// AdminCreds is the nkey seed file of the local admin (Data/nats-admin.nk),
	// made on first start; `custos` client subcommands read it by default.
	AdminCreds string
	Anchor     *anchor.Service // nil when anchoring is off
	Chain      *ChainConn      // the chain anchors go to (nil when off)

	// AnchorLeader runs anchoring in cluster mode (Anchor is then its
	// read-only service, for proofs and status).
	AnchorLeader *AnchorLeader

	EPCIS *exchange.Exchange // GS1 EPCIS 2.0 capture and export

	// Cluster mode only (nil otherwise): the lease bucket custos_cluster
	// and the partition balancer.
	Leases     jetstream.KeyValue
	Partitions *cluster.Partitions

	log     *slog.Logger
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	httpSrv *http.Server
	closers []func()
}

// Start starts everything and returns once ingest is running.
func Start(ctx context.Context, cfg Config) (a *App, err error) {
	if cfg.Data == "" {
		return nil, errors.New("no data directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(cfg.Data, "wazero-cache")
	}
	a = &App{Config: cfg, log: cfg.Logger, Metrics: metrics.New()}
	started := a // the error returns below set a to nil
	defer func() {
		if err != nil {
			started.Close()
			a = nil
		}
	}()
	var tokens *httpapi.Tokens
	if cfg.AuthTokens != "" {
		if tokens, err = httpapi.LoadTokens(cfg.AuthTokens); err != nil {
			return nil, err
		}
	}
	if cfg.HTTP != "" && cfg.HTTP != "-" {
		if err := httpapi.CheckListen(cfg.HTTP, tokens); err != nil {
			return nil, err
		}
	}
	if err := cfg.checkCluster(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}

	// Store (first: on a full disk it says so before anything else writes).
	switch {
	case cfg.HistoryRetention < 0:
		return nil, fmt.Errorf("history retention %v: negative", cfg.HistoryRetention)
	case cfg.Store == "" && cfg.HistoryRetention > 0:
		return nil, errors.New("history retention needs the postgres store; the embedded store keeps history forever")
	case cfg.Store == "":
		db, err := embedded.Open(filepath.Join(cfg.Data, "store"), cfg.EmbeddedOptions...)
		if err != nil {
			return nil, fmt.Errorf("embedded store: %w", err)
		}
		a.Store = db
	case strings.HasPrefix(cfg.Store, "postgres://") || strings.HasPrefix(cfg.Store, "postgresql://"):
		opts := []pg.Option{pg.WithLogger(cfg.Logger), pg.WithRetention(pg.Retention{Keep: cfg.HistoryRetention})}
		if cfg.Cluster != nil {
			opts = append(opts, pg.WithSessionTimeouts(cfg.Cluster.sessionTimeout()))
		}
		db, err := pg.Open(ctx, cfg.Store, opts...)
		if err != nil {
			return nil, fmt.Errorf("postgres store: %w", err)
		}
		a.Store = db
	default:
		return nil, fmt.Errorf("store %q: want empty (embedded) or a postgres:// URL", cfg.Store)
	}
	st := a.Store
	a.closers = append(a.closers, func() { st.Close() })

	var tlsConf *tls.Config
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	// NATS.
	var tenants []string
	if cfg.NATSURL == "" {
		users := cfg.Users
		if cfg.NATSUsers != "" {
			more, err := natsrv.LoadUsers(cfg.NATSUsers)
			if err != nil {
				return nil, err
			}
			users = append(users, more...)
		}
		a.AdminCreds = filepath.Join(cfg.Data, "nats-admin.nk")
		admin, err := natsrv.LocalAdminKey(a.AdminCreds)
		if err != nil {
			return nil, fmt.Errorf("local nats admin: %w", err)
		}
		users = append(users, natsrv.User{Nkey: admin, Role: natsrv.RoleAdmin})
		tenants = natsrv.Tenants(users)
		if tlsConf == nil && cfg.NATSListen != "" && cfg.NATSListen != "-" && !loopback(cfg.NATSListen) {
			a.log.Warn("NATS listens off loopback without TLS: nkey authentication holds, but traffic is readable on the network (see docs/security.md)", "listen", cfg.NATSListen)
		}
		nc := natsrv.Config{Dir: filepath.Join(cfg.Data, "nats"), Listen: cfg.NATSListen, Users: users, TLS: tlsConf}
		if cc := cfg.Cluster; cc != nil {
			nc.Partitions = cc.Partitions
			nc.ServerName, nc.ClusterName, nc.ClusterListen, nc.Routes = cc.Node, cc.Name, cc.Listen, cc.Routes
		}
		a.NATS, err = natsrv.Start(nc)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, a.NATS.Stop)
		a.Conn, err = connectInProcess(a.NATS, a.log)
	} else {
		opts := []nats.Option{nats.Name("custos"), nats.MaxReconnects(-1)}
		if cfg.NATSCreds != "" {
			o, err := natsrv.CredsOption(cfg.NATSCreds)
			if err != nil {
				return nil, err
			}
			opts = append(opts, o)
		}
		if cfg.NATSCA != "" {
			opts = append(opts, nats.RootCAs(cfg.NATSCA))
		}
		a.Conn, err = nats.Connect(cfg.NATSURL, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	conn := a.Conn
	a.closers = append(a.closers, func() { conn.Drain(); conn.Close() })
	// An asynchronous publication whose acknowledgement is lost (a stream
	// leader changing in a cluster) fails after a while instead of never:
	// the bus re-sends it (same Nats-Msg-Id) and acknowledges input only
	// after it is stored.
	a.JS, err = jetstream.New(a.Conn, jetstream.WithPublishAsyncMaxPending(65536), jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if cfg.Cluster != nil {
		if err := waitJetStream(ctx, a.JS, a.log); err != nil {
			return nil, err
		}
	}

	// Contracts.
	a.Host, err = contracts.NewHost(ctx, contracts.Config{
		CacheDir:       cfg.CacheDir,
		Fuel:           cfg.ContractFuel,
		Watchdog:       cfg.ContractWatchdog,
		MaxMemoryPages: cfg.ContractPages,
		MaxOutputBytes: cfg.ContractMaxOutput,
		Logger:         cfg.Logger,
		OnCall: func(c contracts.CallStats) {
			a.Metrics.ContractFuel.WithLabelValues(c.Entry).Observe(float64(c.Fuel))
		},
		OnQuarantine: func(string, string) { a.Metrics.ContractQuarantines.Inc() },
	})
	if err != nil {
		return nil, fmt.Errorf("contract host: %w", err)
	}
	host := a.Host
	a.closers = append(a.closers, func() { host.Close(context.Background()) })
	if _, err := a.Host.RegisterBuiltins(ctx); err != nil {
		return nil, fmt.Errorf("built-in policies: %w", err)
	}
	// Deployed modules survive restarts: re-register them before the
	// runtime applies any event (twins load their module by sha256).
	var mods *modstore.Store
	if err := a.declare(ctx, "module store", func() (err error) {
		mods, err = modstore.Open(ctx, a.JS, modstore.WithReplicas(a.replicas()))
		return err
	}); err != nil {
		return nil, err
	}
	a.Modules = &modstore.Deployer{Host: a.Host, Modules: mods, Twins: a.Store, Logger: cfg.Logger}
	if err := a.declare(ctx, "deployed policies", func() error { _, err := a.Modules.Restore(ctx); return err }); err != nil {
		return nil, fmt.Errorf("deployed policies: %w", err)
	}

	// Anchoring.
	if cfg.Anchor != nil {
		if err := a.startAnchoring(ctx); err != nil {
			return nil, fmt.Errorf("anchoring: %w", err)
		}
	}

	// Runtime and bus.
	rc := twin.Config{Store: a.Metrics.InstrumentStore(a.Store), Contracts: a.Metrics.InstrumentContracts(a.Modules),
		Shards: cfg.Shards, MaxResident: cfg.MaxResident, IdleAfter: cfg.IdleAfter, Logger: cfg.Logger}
	if cfg.Cluster != nil {
		rc.Results = a.publishResult
	}
	a.Runtime, err = twin.New(rc)
	if err != nil {
		return nil, err
	}
	if cfg.Cluster != nil {
		if err := a.subscribeResults(); err != nil {
			return nil, fmt.Errorf("cluster: command results: %w", err)
		}
	}
	bc := bus.Config{
		Conn: a.Conn, JS: a.JS, Runtime: a.Runtime, Store: a.Store, Metrics: a.Metrics, Logger: cfg.Logger,
		BatchSize: cfg.BatchSize, MaxMessageBytes: cfg.MaxMessageBytes,
		OnCommit: a.onCommit, Tenants: tenants, MaxFutureSkew: cfg.MaxFutureSkew, InputRetention: cfg.InputRetention, PurgeApplied: cfg.PurgeApplied, DuplicateWindow: cfg.DuplicateWindow,
		StateRetention: cfg.StateRetention,
	}
	if cfg.Cluster != nil {
		if err := a.startCluster(ctx); err != nil {
			return nil, err
		}
		bc.Partitions, bc.Ownership, bc.Replicas = cfg.Cluster.Partitions, a.Partitions, a.replicas()
	}
	a.Bus, err = bus.New(bc)
	if err != nil {
		return nil, err
	}
	if err := a.setupBus(ctx); err != nil {
		return nil, err
	}
	a.registerGauges()
	if a.EPCIS, err = exchange.New(ctx, exchange.Config{Conn: a.Conn, JS: a.JS, Store: a.Store, Runtime: a.Runtime,
		Policies: a.Modules, Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	if err := a.EPCIS.Subscribe(); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.EPCIS.Close)

	runCtx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.goRun("ingest", func() error { return a.Bus.Run(runCtx) })
	if a.AnchorLeader != nil {
		a.goRun("anchor", func() error { return a.AnchorLeader.Run(runCtx) })
	} else if a.Anchor != nil {
		a.goRun("anchor", func() error { return a.Anchor.Run(runCtx) })
	}
	a.goRun("timers", func() error { return a.Runtime.RunTimers(runCtx, 0, a.Bus.FireTimer) })
	if a.Partitions != nil {
		// Timers are loaded per partition as the node takes them.
		a.goRun("partitions", func() error { return a.Partitions.Run(runCtx) })
	} else {
		a.goRun("load timers", func() error {
			n, err := a.Runtime.LoadTimers(runCtx)
			if err == nil && n > 0 {
				a.log.Info("pending timers loaded", "timers", n)
			}
			return err
		})
	}

	// HTTP.
	hc := httpapi.Config{
		Store: a.Store, Runtime: a.Runtime, Commands: a.Bus, Policies: a.Modules, Conn: a.Conn,
		Registry: a.Metrics.Registry, Ready: a.ready, Logger: cfg.Logger,
		JS: a.JS, Auth: tokens, Metrics: a.Metrics, Routes: a.EPCIS.Routes(), BodyTimeout: cfg.HTTPBodyTimeout,
	}
	a.anchorHooks(&hc)
	a.moduleHooks(&hc)
	if cfg.Cluster != nil {
		hc.Wait = a.waitResult
		hc.Cluster = func() any { return a.ClusterState() }
	}
	a.API = httpapi.New(hc)
	if cfg.HTTP != "" && cfg.HTTP != "-" {
		ln, err := net.Listen("tcp", cfg.HTTP)
		if err != nil {
			return nil, fmt.Errorf("http listen: %w", err)
		}
		a.HTTPAddr = ln.Addr().String()
		a.httpSrv = httpapi.NewHTTPServer(a.API)
		srv := a.httpSrv
		if tlsConf != nil {
			srv.TLSConfig = tlsConf
			ln = tls.NewListener(ln, tlsConf)
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("http", "err", err)
			}
		}()
	}
	// Wait until ingest consumes.
	deadline := time.Now().Add(10 * time.Second)
	for !a.Bus.Ready() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return a, nil
}

func (a *App) goRun(name string, f func() error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := f(); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error(name, "err", err)
		}
	}()
}

// AdminOption returns the NATS client option of the local admin (embedded
// server only).
func (a *App) AdminOption() nats.Option {
	o, err := natsrv.CredsOption(a.AdminCreds)
	if err != nil {
		return func(*nats.Options) error { return err }
	}
	return o
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

type pinger interface{ Ping(context.Context) error }

func (a *App) ready(ctx context.Context) error {
	if a.Conn == nil || !a.Conn.IsConnected() {
		return errors.New("nats: not connected")
	}
	if err := a.Bus.Err(); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if p, ok := a.Store.(pinger); ok {
		if err := p.Ping(ctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	return nil
}

func (a *App) registerGauges() {
	m, rt := a.Metrics, a.Runtime
	m.Gauge("custos_twins_resident", "Twins held in memory by the shards.", func() float64 { return float64(rt.Stats().Resident) })
	m.Gauge("custos_twins_max_resident", "The cap on twins held in memory (--max-resident); beyond it the least frequently heard from are passivated.", func() float64 { return float64(rt.MaxResident()) })
	m.Counter("custos_twins_passivated_total", "Twins dropped from memory: idle for --idle-after, or beyond --max-resident.", func() float64 { return float64(rt.Stats().Passivated) })
	m.Counter("custos_twins_loaded_total", "Twins loaded from the store into memory.", func() float64 { return float64(rt.Stats().Loads) })
	m.Gauge("custos_timers_pending", "Processing-time timers set by contracts and not yet applied (event-time timers fire inline).", func() float64 { return float64(rt.Stats().Timers) })
	m.Counter("custos_contract_errors_total", "Contract calls that trapped, timed out or returned bad output.", func() float64 { return float64(rt.Stats().ContractErrors) })
}

// Close stops ingest and the HTTP server and releases everything. It does
// not wait for anything beyond the current batch.
func (a *App) Close() {
	if a.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		a.httpSrv.Shutdown(ctx)
		cancel()
	}
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// connectInProcess connects to the embedded server. Right after a crash the
// server may still be recovering JetStream when it accepts connections, and
// the first handshake can time out ("no servers available"): try for up to
// 30 s before giving up.
func connectInProcess(s *natsrv.Server, log *slog.Logger) (*nats.Conn, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		nc, err := nats.Connect("", nats.InProcessServer(s), s.Internal(), nats.Name("custos"), nats.MaxReconnects(-1))
		if err == nil || !errors.Is(err, nats.ErrNoServers) || time.Now().After(deadline) {
			return nc, err
		}
		log.Info("embedded NATS server not answering yet; retrying", "err", err)
		time.Sleep(200 * time.Millisecond)
	}
}
