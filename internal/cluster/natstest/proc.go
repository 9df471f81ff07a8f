package natstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is one nats-server child process: its config file (ports, store
// directory, routes) stays, so a restart is the same server with the same
// store.
type proc struct {
	name    string
	conf    string
	log     string
	client  int // client port
	monitor int // monitoring port
	cmd     *exec.Cmd
	done    chan struct{}
}

// StartProcs starts n clustered nats-server processes (binary bin, named
// s1…sn) on loopback with random ports, each with a config file and a
// JetStream store directory of its own, and waits until JetStream has a
// meta leader; they are stopped at the end of the test.
func StartProcs(t testing.TB, n int, bin string) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	name := fmt.Sprintf("custos-test-%d", time.Now().UnixNano())
	ports := freePorts(t, 3*n)
	var routes []string
	for i := 0; i < n; i++ {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+i]))
	}
	dir := t.TempDir()
	t.Cleanup(c.Shutdown)
	for i := 0; i < n; i++ {
		p := &proc{name: fmt.Sprintf("s%d", i+1), client: ports[i], monitor: ports[2*n+i]}
		sd := filepath.Join(dir, p.name)
		if err := os.MkdirAll(sd, 0o755); err != nil {
			t.Fatal(err)
		}
		p.conf = filepath.Join(dir, p.name+".conf")
		p.log = filepath.Join(dir, p.name+".log")
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream { store_dir: %q }
cluster {
  name: %s
  listen: 127.0.0.1:%d
  routes: [ %s ]
}
`, p.name, p.client, p.monitor, sd, name, ports[n+i], strings.Join(routes, ", "))
		if err := os.WriteFile(p.conf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		c.procs = append(c.procs, p)
		c.bin = bin
		c.start(i)
	}
	for i := range c.procs {
		c.waitClient(i)
	}
	c.WaitJetStream()
	return c
}

// start starts process i (without waiting for it).
func (c *Cluster) start(i int) {
	p := c.procs[i]
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	fmt.Fprintf(f, "---- start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(c.bin, "-c", p.conf)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		c.t.Fatalf("nats server %s: %v", p.name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(f, "---- exit %s: %v\n", time.Now().Format(time.RFC3339Nano), err)
		f.Close()
		close(p.done)
	}()
}

// waitClient waits until process i accepts client connections.
func (c *Cluster) waitClient(i int) {
	c.t.Helper()
	p := c.procs[i]
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p.client), time.Second)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-p.done:
			c.t.Fatalf("nats server %s exited:\n%s", p.name, tail(p.log, 20))
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("nats server %s not ready: %v\n%s", p.name, err, tail(p.log, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill kills server i with SIGKILL (it writes nothing more, flushes
// nothing) and waits for it to be gone. Only for servers that are
// processes (StartProcs).
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	if c.procs == nil {
		c.t.Fatal("natstest: Kill needs servers that are processes (StartProcs)")
	}
	c.signal(i, syscall.SIGKILL)
}

func (c *Cluster) signal(i int, sig syscall.Signal) {
	p := c.procs[i]
	if p.cmd == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		c.t.Errorf("nats server %s did not exit on %v; killing it", p.name, sig)
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Name returns the server name of server i (s1…sn), as JetStream reports
// leaders and peers.
func (c *Cluster) Name(i int) string { return fmt.Sprintf("s%d", i+1) }

// Index returns the index of the server named name (-1 if none).
func (c *Cluster) Index(name string) int {
	for i := 0; i < c.N(); i++ {
		if c.Name(i) == name {
			return i
		}
	}
	return -1
}

// N is the number of servers, running or not.
func (c *Cluster) N() int {
	if c.procs != nil {
		return len(c.procs)
	}
	return len(c.Servers)
}

// MetaLeader asks the monitoring endpoint of server i (/jsz) for the
// JetStream meta leader's name. Only for servers that are processes.
func (c *Cluster) MetaLeader(i int) (string, error) {
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get("http://127.0.0.1:" + strconv.Itoa(c.procs[i].monitor) + "/jsz")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var v struct {
		Meta struct {
			Leader string `json:"leader"`
		} `json:"meta_cluster"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return "", err
	}
	return v.Meta.Leader, nil
}

// Log returns the last lines of server i's log (processes only).
func (c *Cluster) Log(i int, lines int) string {
	if c.procs == nil {
		return ""
	}
	return tail(c.procs[i].log, lines)
}

func tail(file string, lines int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// shutdownProcs stops every process gracefully (SIGTERM), SIGKILL after
// 10 s.
func (c *Cluster) shutdownProcs() {
	for _, p := range c.procs {
		if p.cmd != nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range c.procs {
		if p.cmd == nil {
			continue
		}
		select {
		case <-p.done:
		case <-ctx.Done():
			p.cmd.Process.Kill()
			<-p.done
		}
	}
}
