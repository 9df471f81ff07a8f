// Package clustertest runs a custos cluster for tests: a NATS cluster of
// in-process servers (natstest, JetStream R3) and custos nodes as child
// processes (`custos run --cluster`, the binary built once per test
// process) on the shared PostgreSQL (CUSTOS_TEST_DATABASE, a fresh schema
// per cluster). It kills, freezes and restarts nodes and servers, publishes
// a workload and checks the outcome against a single-node replay of the
// input stream.
package clustertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/internal/cluster/natstest"
	"github.com/custos-dev/custos/store/pg"
	"github.com/custos-dev/custos/store/pg/pgtest"
)

// Options shape a cluster. Zero fields take the defaults.
type Options struct {
	Servers    int           // NATS servers (3)
	Nodes      int           // custos nodes (3)
	Partitions int           // input partitions (8)
	LeaseTTL   time.Duration // partition lease TTL (1.5 s)
	Batch      int           // --batch of each node (default of custos run)
	// NATSProcs runs the NATS servers as nats-server child processes (the
	// version pinned in go.mod, built once per test process), which can be
	// killed with SIGKILL, instead of in-process servers.
	NATSProcs bool
	// Args are more flags for every node (e.g. anchoring's).
	Args []string
}

// Cluster is a running test cluster.
type Cluster struct {
	T     testing.TB
	NATS  *natstest.Cluster
	Store string // postgres URL with the cluster's schema
	Nodes []*Node
	Opts  Options
	dir   string
	start time.Time
	// republished counts messages Publish had to send again.
	republished atomic.Int64
}

// Republished is how many messages Publish has had to send again (an
// error or no ack in time) so far.
func (c *Cluster) Republished() int64 { return c.republished.Load() }

// Logf logs with the time since the cluster started.
func (c *Cluster) Logf(format string, args ...any) {
	c.T.Helper()
	c.T.Logf("%6.2fs "+format, append([]any{time.Since(c.start).Seconds()}, args...)...)
}

// Node is one custos child process.
type Node struct {
	ID     string
	Dir    string
	HTTP   string // host:port of its HTTP API
	Log    string // file with its stderr
	cmd    *exec.Cmd
	done   chan struct{}
	c      *Cluster
	frozen atomic.Bool
}

var (
	buildOnce sync.Once
	binPath   string
	cacheDir  string // compiled built-in contracts, copied to each node
	buildErr  error

	natsOnce     sync.Once
	natsBin      string
	natsBuildErr error
)

// NATSBinary builds the nats-server pinned in go.mod once per process
// (from the module cache, next to the custos binary) and returns its path.
func NATSBinary(t testing.TB) string {
	t.Helper()
	dir := filepath.Dir(Binary(t))
	natsOnce.Do(func() {
		natsBin = filepath.Join(dir, "nats-server")
		out, err := exec.Command("go", "build", "-o", natsBin, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			natsBuildErr = fmt.Errorf("go build nats-server: %v\n%s", err, out)
		}
	})
	if natsBuildErr != nil {
		t.Fatal(natsBuildErr)
	}
	return natsBin
}

// Binary builds cmd/custos once per process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "custos-clustertest-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "custos")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/custos-dev/custos/cmd/custos").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		// Compile the built-in contracts once: nodes start from a copy of
		// this cache instead of compiling them three times at once.
		cacheDir = filepath.Join(dir, "wazero-cache")
		ctx := context.Background()
		h, err := contracts.NewHost(ctx, contracts.Config{CacheDir: cacheDir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			buildErr = err
			return
		}
		defer h.Close(ctx)
		_, buildErr = h.RegisterBuiltins(ctx)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Cleanup removes the built binary; call it from TestMain after m.Run.
func Cleanup() {
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}

// DatabaseURL returns CUSTOS_TEST_DATABASE, skipping the test without it
// (failing it when CI=true).
func DatabaseURL(t testing.TB) string {
	t.Helper()
	return pgtest.URL(t)
}

// Start starts the NATS cluster and the custos nodes, and waits until
// every partition is owned.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	base := DatabaseURL(t)
	bin := Binary(t)
	if o.Servers == 0 {
		o.Servers = 3
	}
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Partitions == 0 {
		o.Partitions = 8
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 1500 * time.Millisecond
	}
	_ = bin
	c := &Cluster{T: t, Opts: o, dir: t.TempDir(), start: time.Now()}
	if keep := os.Getenv("CUSTOS_CLUSTERTEST_DIR"); keep != "" {
		// Keep the nodes' data and logs for a look afterwards.
		c.dir = filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
		os.RemoveAll(c.dir)
	}
	t.Cleanup(func() { c.Logf("schema dropped") })
	store, drop := pg.FreshSchema(base, "cluster")
	t.Cleanup(drop)
	c.Store = store
	t.Cleanup(func() { c.Logf("NATS servers down") })
	if o.NATSProcs {
		c.NATS = natstest.StartProcs(t, o.Servers, NATSBinary(t))
		c.Logf("%d NATS server processes up", o.Servers)
	} else {
		c.NATS = natstest.Start(t, o.Servers)
		c.Logf("%d NATS servers up", o.Servers)
	}
	for i := 0; i < o.Nodes; i++ {
		n := &Node{ID: "n" + strconv.Itoa(i+1), Dir: filepath.Join(c.dir, "n"+strconv.Itoa(i+1)), HTTP: freeAddr(t, i), c: c}
		n.Log = filepath.Join(n.Dir, "stderr.log")
		c.Nodes = append(c.Nodes, n)
	}
	t.Cleanup(c.stopAll)
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.start()
		}()
	}
	wg.Wait()
	for _, n := range c.Nodes {
		n.WaitReady(60 * time.Second)
	}
	c.Logf("%d custos nodes ready", o.Nodes)
	c.WaitOwned(60 * time.Second)
	c.Logf("all %d partitions owned", o.Partitions)
	return c
}

// freeAddr is a loopback address for node i's HTTP API: from
// CUSTOS_TEST_PORT_BASE+i if set (engineers share a machine), else a free
// ephemeral port.
func freeAddr(t testing.TB, i int) string {
	if b, err := strconv.Atoi(os.Getenv("CUSTOS_TEST_PORT_BASE")); err == nil {
		return "127.0.0.1:" + strconv.Itoa(b+i)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Args returns the command line of node n (without the binary).
func (n *Node) Args() []string {
	o := n.c.Opts
	args := []string{"run", "--cluster", "--node-id", n.ID, "--partitions", strconv.Itoa(o.Partitions),
		"--lease-ttl", o.LeaseTTL.String(), "--nats-url", n.c.NATS.URL(), "--store", n.c.Store,
		"--data", n.Dir, "--http", n.HTTP, "--anchor=false", "--log-level", "debug"}
	if o.Batch > 0 {
		args = append(args, "--batch", strconv.Itoa(o.Batch))
	}
	return append(args, o.Args...)
}

func (n *Node) start() {
	t := n.c.T
	if err := os.MkdirAll(n.Dir, 0o755); err != nil {
		t.Error(err)
		return
	}
	if err := os.CopyFS(filepath.Join(n.Dir, "wazero-cache"), os.DirFS(cacheDir)); err != nil && !errors.Is(err, fs.ErrExist) {
		t.Error(err)
		return
	}
	f, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	fmt.Fprintf(f, "---- start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(Binary(t), n.Args()...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Errorf("node %s: %v", n.ID, err)
		return
	}
	n.cmd, n.done = cmd, make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(f, "---- exit %s: %v (%s)\n", time.Now().Format(time.RFC3339Nano), err, cmd.ProcessState)
		f.Close()
		close(n.done)
	}()
}

// Start starts the node again (after Kill or Stop).
func (n *Node) Start() {
	n.start()
	n.WaitReady(60 * time.Second)
}

// Running reports whether the node's process is running.
func (n *Node) Running() bool {
	if n.done == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Kill kills the node with SIGKILL (no shutdown of anything) and waits.
func (n *Node) Kill() { n.signal(syscall.SIGKILL) }

// Stop stops the node gracefully (SIGTERM) and waits.
func (n *Node) Stop() { n.signal(syscall.SIGTERM) }

func (n *Node) signal(sig syscall.Signal) {
	if !n.Running() {
		return
	}
	n.cmd.Process.Signal(sig)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		n.c.T.Errorf("node %s did not exit on %v; killing it", n.ID, sig)
		n.cmd.Process.Kill()
		<-n.done
	}
}

// Freeze stops the node's process (SIGSTOP): it renews no lease and
// commits nothing until Thaw.
func (n *Node) Freeze() {
	n.cmd.Process.Signal(syscall.SIGSTOP)
	n.frozen.Store(true)
}

// Thaw resumes a frozen node (SIGCONT).
func (n *Node) Thaw() {
	n.cmd.Process.Signal(syscall.SIGCONT)
	n.frozen.Store(false)
}

// WaitReady waits until the node's /readyz answers 200.
func (n *Node) WaitReady(d time.Duration) {
	t := n.c.T
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get("http://" + n.HTTP + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) || !n.Running() {
			t.Fatalf("node %s not ready (running %v): %v\n%s", n.ID, n.Running(), err, n.Tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Metrics scrapes the node's /metrics: name{labels} → value.
func (n *Node) Metrics() (map[string]float64, error) {
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + n.HTTP + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			m[line[:i]] = v
		}
	}
	return m, sc.Err()
}

// Metric returns one value of the node's /metrics (-1 if unavailable).
func (n *Node) Metric(name string) float64 {
	m, err := n.Metrics()
	if err != nil {
		return -1
	}
	v, ok := m[name]
	if !ok {
		return -1
	}
	return v
}

// Tail returns the last lines of the node's log.
func (n *Node) Tail(lines int) string {
	f, err := os.Open(n.Log)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// Owned sums custos_partitions_owned over the running nodes, and says how
// many running nodes answered.
func (c *Cluster) Owned() (owned, nodes int) {
	for _, n := range c.Nodes {
		if !n.Running() || n.frozen.Load() {
			continue
		}
		if v := n.Metric("custos_partitions_owned"); v >= 0 {
			owned += int(v)
			nodes++
		}
	}
	return owned, nodes
}

// WaitOwned waits until the running nodes own every partition between
// them, each exactly once (the partitions' fences are distinct per owner).
func (c *Cluster) WaitOwned(d time.Duration) {
	c.T.Helper()
	deadline := time.Now().Add(d)
	for {
		if owned, _ := c.Owned(); owned == c.Opts.Partitions {
			return
		}
		if time.Now().After(deadline) {
			owned, nodes := c.Owned()
			c.T.Fatalf("%d of %d partitions owned by %d nodes after %v", owned, c.Opts.Partitions, nodes, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Logs returns the tails of every node's log (for failure messages).
func (c *Cluster) Logs(lines int) string {
	var b strings.Builder
	for _, n := range c.Nodes {
		fmt.Fprintf(&b, "==== %s\n%s\n", n.ID, n.Tail(lines))
	}
	return b.String()
}

func (c *Cluster) stopAll() {
	defer c.Logf("nodes stopped")
	for _, n := range c.Nodes {
		if n.Running() {
			if n.frozen.Load() {
				n.Thaw()
			}
			n.Kill()
		}
	}
	if c.T.Failed() {
		c.T.Logf("node logs:\n%s", c.Logs(40))
		for i := 0; i < c.NATS.N(); i++ {
			if l := c.NATS.Log(i, 30); l != "" {
				c.T.Logf("nats server %s log:\n%s", c.NATS.Name(i), l)
			}
		}
	}
}

// InputLeader returns the index and name of the NATS server leading the
// input stream (CUSTOS_INPUT), waiting up to 30 s for one to be elected.
func (c *Cluster) InputLeader(js jetstream.JetStream) (int, string) {
	c.T.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var leader string
		st, err := js.Stream(ctx, "CUSTOS_INPUT")
		if err == nil {
			var info *jetstream.StreamInfo
			if info, err = st.Info(ctx); err == nil && info.Cluster != nil {
				leader = info.Cluster.Leader
			}
		}
		cancel()
		if i := c.NATS.Index(leader); i >= 0 {
			return i, leader
		}
		if time.Now().After(deadline) {
			c.T.Fatalf("no leader of the input stream after 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitInputReplica waits until NATS server name leads the input stream or
// holds a current replica of it.
func (c *Cluster) WaitInputReplica(js jetstream.JetStream, name string, d time.Duration) {
	c.T.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := js.Stream(ctx, "CUSTOS_INPUT")
		if err == nil {
			var info *jetstream.StreamInfo
			if info, err = st.Info(ctx); err == nil && info.Cluster != nil {
				if info.Cluster.Leader == name {
					cancel()
					return
				}
				for _, r := range info.Cluster.Replicas {
					if r.Name == name && r.Current {
						cancel()
						return
					}
				}
				err = fmt.Errorf("leader %s, replicas %+v", info.Cluster.Leader, info.Cluster.Replicas)
			}
		}
		cancel()
		if time.Now().After(deadline) {
			c.T.Fatalf("nats server %s has no current replica of the input stream after %v: %v", name, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitBalanced waits until the running nodes own every partition between
// them and each owns at least one: no partition is moving (a node started
// last takes its share some seconds after the first owned them all).
func (c *Cluster) WaitBalanced(d time.Duration) {
	c.T.Helper()
	deadline := time.Now().Add(d)
	for {
		owned, nodes, least := 0, 0, c.Opts.Partitions
		for _, n := range c.Nodes {
			if !n.Running() || n.frozen.Load() {
				continue
			}
			v := n.Metric("custos_partitions_owned")
			if v < 0 {
				break
			}
			owned += int(v)
			nodes++
			least = min(least, int(v))
		}
		if owned == c.Opts.Partitions && least > 0 && nodes > 0 {
			return
		}
		if time.Now().After(deadline) {
			c.T.Fatalf("partitions not balanced after %v: %d owned by %d nodes, the least %d", d, owned, nodes, least)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// DeliveryGaps sums custos_ingest_delivery_gaps_total over the running
// nodes (a node started again counts from 0).
func (c *Cluster) DeliveryGaps() float64 {
	var n float64
	for _, node := range c.Nodes {
		if node.Running() {
			n += node.Metric("custos_ingest_delivery_gaps_total")
		}
	}
	return n
}
