package clustertest_test

import (
	"os"
	"testing"
	"time"

	"github.com/custos-dev/custos/internal/cluster/clustertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	clustertest.Cleanup()
	os.Exit(code)
}

// TestCluster runs the failure scenarios one after another on one cluster
// of 3 NATS servers (R3) and 3 custos nodes on PostgreSQL, each with a
// workload of its own; after each, every twin of every workload so far
// must equal a single-node replay of the input stream (readings applied
// exactly once, same digest chains) and the dead letters be exactly the
// deliberately bad input.
func TestCluster(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	_, js := c.Connect()
	var ws []*clustertest.Workload
	run := func(name string, readings int, f func(t *testing.T, w *clustertest.Workload)) {
		if t.Failed() {
			return
		}
		w := clustertest.NewWorkload(name, 30, readings)
		ws = append(ws, w)
		t.Run(name, func(t *testing.T) {
			c.T = t
			f(t, w)
			c.WaitOwned(30 * time.Second)
			c.Verify(js, 60*time.Second, ws...)
		})
	}

	// (1) kill -9 one custos node mid-stream: its partitions move to the
	// others after the lease TTL.
	run("KillNode", 3000, func(t *testing.T, w *clustertest.Workload) {
		half := len(w.Msgs) / 2
		c.Publish(js, w, 0, half, 500*time.Millisecond)
		c.Nodes[1].Kill()
		c.Logf("killed %s mid-stream", c.Nodes[1].ID)
		c.Publish(js, w, half, len(w.Msgs), 500*time.Millisecond)
		c.WaitOwned(30 * time.Second)
		c.Nodes[1].Start()
		c.Logf("%s back", c.Nodes[1].ID)
	})

	// (2) freeze a node (SIGSTOP: no lease renewals) with input in hand
	// until its partitions have moved; thawed, its commits for them are
	// refused by the store's fence (custos_fenced_commits_total), it gives
	// them up, rejoins and owns partitions again.
	run("FreezeNode", 6000, func(t *testing.T, w *clustertest.Workload) {
		n := c.Nodes[2]
		fenced := n.Metric("custos_fenced_commits_total")
		third := len(w.Msgs) / 3
		c.Publish(js, w, 0, third, 300*time.Millisecond)
		// Freeze it in the middle of a burst: it has input in hand (applied,
		// not yet committed) that it will try to commit when thawed.
		frozen := make(chan struct{})
		go func() {
			defer close(frozen)
			time.Sleep(150 * time.Millisecond)
			n.Freeze()
		}()
		c.Publish(js, w, third, 2*third, 0)
		<-frozen
		c.WaitOwned(30 * time.Second) // the others took its partitions
		c.Logf("%s frozen; its partitions moved", n.ID)
		c.Publish(js, w, 2*third, len(w.Msgs), 300*time.Millisecond)
		n.Thaw()
		deadline := time.Now().Add(30 * time.Second)
		for n.Metric("custos_fenced_commits_total") <= fenced {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no commit refused by the fence after thawing\n%s", n.ID, n.Tail(40))
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Logf("%s thawed: %v commits refused by the fence", n.ID, n.Metric("custos_fenced_commits_total")-fenced)
		for n.Metric("custos_partitions_owned") < 1 {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not own partitions again\n%s", n.ID, n.Tail(40))
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Logf("%s owns partitions again", n.ID)
	})

	// (3) rolling restart of every custos node (graceful) while input flows.
	run("RollingRestart", 3000, func(t *testing.T, w *clustertest.Workload) {
		part := len(w.Msgs) / (len(c.Nodes) + 1)
		for i, n := range c.Nodes {
			c.Publish(js, w, i*part, (i+1)*part, 200*time.Millisecond)
			n.Stop()
			n.Start()
			c.Logf("%s restarted", n.ID)
		}
		c.Publish(js, w, len(c.Nodes)*part, len(w.Msgs), 200*time.Millisecond)
	})

	// (4) rolling restart of the NATS servers while input flows.
	run("RollingNATSRestart", 3000, func(t *testing.T, w *clustertest.Workload) {
		part := len(w.Msgs) / (len(c.NATS.Servers) + 1)
		for i := range c.NATS.Servers {
			c.Publish(js, w, i*part, (i+1)*part, 200*time.Millisecond)
			c.NATS.Stop(i)
			time.Sleep(500 * time.Millisecond)
			c.NATS.Start(i)
			c.NATS.WaitJetStream()
			c.Logf("nats server %d restarted", i+1)
		}
		c.Publish(js, w, len(c.NATS.Servers)*part, len(w.Msgs), 200*time.Millisecond)
	})
}
