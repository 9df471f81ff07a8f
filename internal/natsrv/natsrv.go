// Package natsrv runs the embedded NATS server with JetStream that custos
// uses when no external server is given.
package natsrv

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/custos-dev/custos/internal/cluster"
)

// Config configures the embedded server.
type Config struct {
	// Dir is where JetStream keeps its files.
	Dir string
	// Listen is host:port for clients (devices, the nats CLI). Empty or
	// "-" means no network listener: in-process clients only.
	Listen string
	// MaxPayload in bytes (default 1 MiB).
	MaxPayload int32
	// Users may connect with their nkeys, with their role's permissions.
	// Authentication is always on: a client without a known key is refused.
	Users []User
	// TLS, if set, is required of every client connection.
	TLS *tls.Config
	// ServerName names the server (default "custos"); in a cluster, unique.
	ServerName string
	// ClusterListen (host:port), if set, clusters this server with the
	// servers at Routes (nats://host:port of their cluster listeners) as
	// cluster ClusterName (default "custos"): JetStream becomes clustered.
	ClusterListen string
	Routes        []string
	ClusterName   string
	// Partitions, in a custos cluster, partitions the input of tenants'
	// users as the input stream's subject transform partitions everyone
	// else's (cluster.TenantInputMapping). 0: not partitioned.
	Partitions int
}

// Server is a running embedded NATS server.
type Server struct {
	*server.Server
	internal nkeys.KeyPair // custos's own user, made at start
}

// Internal returns the client option that authenticates custos's own
// in-process connection (role custos: no restrictions).
func (s *Server) Internal() nats.Option {
	pub, _ := s.internal.PublicKey()
	return nats.Nkey(pub, s.internal.Sign)
}

// Start starts the server and waits until it accepts connections.
func Start(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("natsrv: no directory")
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "custos"
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		JetStream:  true,
		StoreDir:   cfg.Dir,
		NoSigs:     true,
		MaxPayload: cfg.MaxPayload,
		// JetStream sync policy: the runtime acknowledges input only after its
		// own store commit, so JetStream's default flush interval is enough.
	}
	internal, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("natsrv: %w", err)
	}
	ipub, _ := internal.PublicKey()
	opts.Nkeys = []*server.NkeyUser{{Nkey: ipub}}
	tenants := map[string]*server.Account{}
	for _, u := range cfg.Users {
		if err := u.validate(); err != nil {
			return nil, fmt.Errorf("natsrv: user: %w", err)
		}
		nu := &server.NkeyUser{Nkey: u.Nkey, Permissions: permissions(u)}
		if u.Tenant != "" {
			acc := tenants[u.Tenant]
			if acc == nil {
				acc = server.NewAccount(TenantAccount(u.Tenant))
				tenants[u.Tenant] = acc
				opts.Accounts = append(opts.Accounts, acc)
			}
			nu.Account = acc
		}
		opts.Nkeys = append(opts.Nkeys, nu)
	}
	if cfg.TLS != nil {
		opts.TLS, opts.TLSConfig, opts.TLSTimeout = true, cfg.TLS, 2
	}
	if cfg.ClusterListen != "" {
		if err := clusterOpts(opts, cfg); err != nil {
			return nil, fmt.Errorf("natsrv: %w", err)
		}
	}
	if opts.MaxPayload == 0 {
		opts.MaxPayload = 1 << 20
	}
	if cfg.Listen == "" || cfg.Listen == "-" {
		opts.DontListen = true
	} else {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("natsrv: listen %q: %w", cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("natsrv: listen port %q: %w", port, err)
		}
		opts.Host, opts.Port = host, p
		if p == 0 {
			opts.Port = server.RANDOM_PORT
		} else {
			// The server only logs a failed listen and then never becomes
			// ready; say what is wrong at once instead.
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return nil, fmt.Errorf("natsrv: %w (another NATS server or custos running? use --nats-listen)", err)
			}
			ln.Close()
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsrv: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, errors.New("natsrv: server not ready after 30s")
	}
	if len(tenants) > 0 {
		if err := linkTenants(s, tenants, cfg.Partitions); err != nil {
			s.Shutdown()
			return nil, fmt.Errorf("natsrv: %w", err)
		}
	}
	return &Server{Server: s, internal: internal}, nil
}

// linkTenants connects each tenant's account to custos's (the global
// account, which holds the streams): the tenant's telemetry and commands go
// to custos.tenant.<tenant>.telemetry|command.<twin> (a service import, so
// JetStream's publish acknowledgement finds its way back), and the copies
// custos publishes on custos.tenant.<tenant>.twin.<twin>.state|alert reach
// the tenant as custos.twin.<twin>.state|alert (a stream import).
func linkTenants(s *server.Server, tenants map[string]*server.Account, partitions int) error {
	g := s.GlobalAccount()
	// With accounts configured the server enables JetStream only on those
	// that ask; custos's streams live in the global account.
	if err := g.EnableJetStream(nil, nil); err != nil {
		return fmt.Errorf("jetstream on the global account: %w", err)
	}
	if partitions > 0 {
		for _, kind := range []string{"telemetry", "command"} {
			src, dest := cluster.TenantInputMapping(partitions, kind)
			if err := g.AddMapping(src, dest); err != nil {
				return fmt.Errorf("tenant input mapping %s: %w", kind, err)
			}
		}
	}
	for t, acc := range tenants {
		acc, err := s.LookupAccount(acc.Name)
		if err != nil {
			return err
		}
		in := TenantPrefix + t + "."
		for _, kind := range []string{"telemetry", "command"} {
			if err := g.AddServiceExport(in+kind+".*", []*server.Account{acc}); err != nil {
				return fmt.Errorf("tenant %s: export %s: %w", t, kind, err)
			}
			if err := acc.AddServiceImport(g, "custos."+kind+".*", in+kind+".*"); err != nil {
				return fmt.Errorf("tenant %s: import %s: %w", t, kind, err)
			}
		}
		if err := g.AddStreamExport(in+"twin.>", []*server.Account{acc}); err != nil {
			return fmt.Errorf("tenant %s: export state: %w", t, err)
		}
		if err := acc.AddMappedStreamImport(g, in+"twin.*.*", "custos.twin.{{wildcard(1)}}.{{wildcard(2)}}"); err != nil {
			return fmt.Errorf("tenant %s: import state: %w", t, err)
		}
	}
	return nil
}

// URL is the client URL of the network listener ("" if none).
func (s *Server) URL() string {
	if s.Addr() == nil {
		return ""
	}
	return s.ClientURL()
}

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
}

// clusterOpts sets the route listener and routes of a clustered server.
func clusterOpts(opts *server.Options, cfg Config) error {
	host, port, err := net.SplitHostPort(cfg.ClusterListen)
	if err != nil {
		return fmt.Errorf("cluster listen %q: %w", cfg.ClusterListen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("cluster listen port %q: %w", port, err)
	}
	name := cfg.ClusterName
	if name == "" {
		name = "custos"
	}
	opts.Cluster = server.ClusterOpts{Name: name, Host: host, Port: p}
	if cfg.TLS != nil {
		opts.Cluster.TLSConfig, opts.Cluster.TLSTimeout = cfg.TLS, 2
	}
	for _, r := range cfg.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return fmt.Errorf("cluster route %q: want nats://host:port", r)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}
