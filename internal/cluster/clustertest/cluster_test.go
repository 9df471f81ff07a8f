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
		t.Run(name, func(t *testing.T) {
			ws = append(ws, w)
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
		const rounds = 3
		chunk := len(w.Msgs) / (rounds + 1)
		// Freeze it, then publish: the server delivers its partitions'
		// input to its pending pull requests, into its socket. Once its
		// partitions have moved (and been fenced by their new owners), thaw
		// it: it reads that input, applies it to the twins it still holds
		// and tries to commit, which the fence refuses. (Up to three rounds,
		// in case a round found it without a pull request pending.)
		round := 0
		for ; round < rounds; round++ {
			c.Publish(js, w, round*chunk, round*chunk+chunk/4, 200*time.Millisecond)
			n.Freeze()
			c.Publish(js, w, round*chunk+chunk/4, (round+1)*chunk, 0)
			c.WaitOwned(30 * time.Second) // the others took its partitions
			c.Logf("%s frozen; its partitions moved", n.ID)
			n.Thaw()
			deadline := time.Now().Add(3 * time.Second)
			for n.Metric("custos_fenced_commits_total") <= fenced && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if n.Metric("custos_fenced_commits_total") > fenced {
				break
			}
			c.Logf("%s thawed with nothing to commit; again", n.ID)
			c.WaitOwned(30 * time.Second)
		}
		if round == rounds {
			t.Fatalf("%s: no commit refused by the fence after %d freezes\n%s", n.ID, rounds, n.Tail(40))
		}
		c.Logf("%s thawed: %v commits refused by the fence", n.ID, n.Metric("custos_fenced_commits_total")-fenced)
		c.Publish(js, w, (round+1)*chunk, len(w.Msgs), 300*time.Millisecond)
		deadline := time.Now().Add(30 * time.Second)
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
