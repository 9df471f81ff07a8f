package natstest

import (
	"net"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Stop shuts server i down (its files stay): gracefully (SIGTERM for a
// process).
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	if c.procs != nil {
		c.signal(i, syscall.SIGTERM)
		return
	}
	s := c.Servers[i]
	if s == nil {
		return
	}
	// The client port was random: keep it, so clients find the server again.
	if a, ok := s.Addr().(*net.TCPAddr); ok {
		c.opts[i].Port = a.Port
	}
	s.Shutdown()
	s.WaitForShutdown()
	c.Servers[i] = nil
}

// Start starts server i again, with its files, ports and routes.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	if c.procs != nil {
		c.start(i)
		c.waitClient(i)
		return
	}
	o := c.opts[i].Clone()
	s, err := server.NewServer(o)
	if err != nil {
		c.t.Fatalf("nats server %d: %v", i+1, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		c.t.Fatalf("nats server %d not ready", i+1)
	}
	c.Servers[i] = s
}
