// Package natstest starts a NATS cluster with JetStream for tests: each
// server on loopback with random ports, its own store directory, routes to
// every server; in-process servers (Start) or nats-server child processes
// (StartProcs), which can be killed with SIGKILL.
package natstest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a running set of clustered servers.
type Cluster struct {
	Servers []*server.Server // in-process servers (Start)
	opts    []*server.Options
	procs   []*proc // server processes (StartProcs)
	bin     string  // their nats-server binary
	t       testing.TB
}

// Start starts n clustered servers (named s1…sn) and waits until JetStream
// has a meta leader; they are shut down at the end of the test.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	name := fmt.Sprintf("custos-test-%d", time.Now().UnixNano())
	// Every server needs its routes at start (JetStream refuses a clustered
	// server without them), so the route ports are chosen first.
	var routes []*url.URL
	ports := freePorts(t, n)
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	for i := 0; i < n; i++ {
		o := &server.Options{
			ServerName: fmt.Sprintf("s%d", i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			NoSigs:     true,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			Cluster: server.ClusterOpts{
				Name: name,
				Host: "127.0.0.1",
				Port: ports[i],
			},
			Routes: routes,
		}
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatalf("nats server %d: %v", i+1, err)
		}
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("nats server %d not ready", i+1)
		}
		c.Servers = append(c.Servers, s)
		c.opts = append(c.opts, o)
	}
	t.Cleanup(c.Shutdown)
	c.WaitJetStream()
	return c
}

// URL is the comma-separated client URLs of all servers (for nats.Connect).
func (c *Cluster) URL() string {
	var u []string
	for _, p := range c.procs {
		u = append(u, "nats://127.0.0.1:"+strconv.Itoa(p.client))
	}
	for _, s := range c.Servers {
		if s != nil {
			u = append(u, s.ClientURL())
		}
	}
	return strings.Join(u, ",")
}

// Connect connects to the cluster; the connection is closed at the end of
// the test.
func (c *Cluster) Connect() (*nats.Conn, jetstream.JetStream) {
	c.t.Helper()
	nc, err := nats.Connect(c.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		c.t.Fatalf("connect: %v", err)
	}
	c.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// WaitJetStream waits until the cluster answers JetStream requests.
func (c *Cluster) WaitJetStream() {
	c.t.Helper()
	nc, err := nats.Connect(c.URL())
	if err != nil {
		c.t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("jetstream not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePorts returns n loopback ports free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ps []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		ls = append(ls, l)
		ps = append(ps, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ps
}

// Shutdown stops every server.
func (c *Cluster) Shutdown() {
	c.shutdownProcs()
	for _, s := range c.Servers {
		if s != nil {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}
}

// Single starts one in-process server with JetStream, not clustered, and
// returns a connection to it; both end with the test.
func Single(t testing.TB) (*nats.Conn, *server.Server) {
	t.Helper()
	return SingleAt(t, t.TempDir())
}

// SingleAt is Single with its JetStream store in dir: a server started
// again on the same dir (after Shutdown) recovers the streams.
func SingleAt(t testing.TB, dir string) (*nats.Conn, *server.Server) {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(s.Shutdown)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc, s
}
