// Package natsrv runs the embedded NATS server with JetStream that custos
// uses when no external server is given.
package natsrv

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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
}

// Server is a running embedded NATS server.
type Server struct {
	*server.Server
}

// Start starts the server and waits until it accepts connections.
func Start(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("natsrv: no directory")
	}
	opts := &server.Options{
		ServerName: "custos",
		JetStream:  true,
		StoreDir:   cfg.Dir,
		NoSigs:     true,
		MaxPayload: cfg.MaxPayload,
		// JetStream sync policy: the runtime acknowledges input only after its
		// own store commit, so JetStream's default flush interval is enough.
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
	return &Server{s}, nil
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
