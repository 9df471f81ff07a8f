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
	// runW runs scenario f on workload w, then Verify, then check (if any).
	runW := func(w *clustertest.Workload, f, check func(t *testing.T, w *clustertest.Workload)) {
		if t.Failed() {
			return
		}
		t.Run(w.Name, func(t *testing.T) {
			c.T = t
			f(t, w) // a skipped scenario published nothing: not verified
			ws = append(ws, w)
			c.WaitOwned(30 * time.Second)
			c.Verify(js, 60*time.Second, ws...)
			c.Logf("ingest restarts on a delivery gap so far: %v", c.DeliveryGaps())
			if check != nil {
				check(t, w)
			}
		})
	}
	run := func(name string, readings int, f func(t *testing.T, w *clustertest.Workload)) {
		runW(clustertest.NewWorkload(name, 30, readings), f, nil)
	}

	// (1) kill -9 one custos node mid-stream: its partitions move to the
	// others after the lease TTL.
	// killMidStream publishes half of w, kills -9 node n, publishes the
	// rest, waits until the others own every partition and restarts n.
	killMidStream := func(w *clustertest.Workload, n *clustertest.Node) {
		half := len(w.Msgs) / 2
		c.Publish(js, w, 0, half, 500*time.Millisecond)
		n.Kill()
		c.Logf("killed %s mid-stream", n.ID)
		c.Publish(js, w, half, len(w.Msgs), 500*time.Millisecond)
		c.WaitOwned(30 * time.Second)
		n.Start()
		c.Logf("%s back", n.ID)
	}
	run("KillNode", 3000, func(t *testing.T, w *clustertest.Workload) {
		killMidStream(w, c.Nodes[1])
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

	// (5) late and out-of-order input while a node is killed (kill -9)
	// and restarted: twins with an allowed-lateness window of 2 h, readings
	// (one minute apart) shuffled within blocks of an hour, one in 40
	// arriving 5 h late in the stream. The held-back readings of the killed
	// node's twins were committed with them: their new owner must release
	// them exactly as the single-node replay does (Verify compares the
	// held-back readings too, and the LATE flag of every record).
	runW(clustertest.NewLateWorkload("LateKillNode", 30, 3000, 2*time.Hour), func(t *testing.T, w *clustertest.Workload) {
		if w.InWindow == 0 || len(w.Beyond) == 0 {
			t.Fatalf("workload: %d readings out of order within the window, %d beyond it; want some of each", w.InWindow, len(w.Beyond))
		}
		c.Logf("%d readings out of order within the window, %d beyond it", w.InWindow, len(w.Beyond))
		killMidStream(w, c.Nodes[0])
	}, func(t *testing.T, w *clustertest.Workload) {
		// Readings out of order within the window were held back and
		// applied in event-time order: none is LATE. Only some of those
		// beyond it are, and some must be (or the window was not tried).
		late, records := c.LateRecords(w)
		for _, at := range late {
			if !w.Beyond[at] {
				t.Errorf("record at %s is LATE: its reading arrived within the lateness window", at.Format(time.RFC3339))
			}
		}
		if len(late) == 0 {
			t.Errorf("no LATE record among %d: the readings beyond the window were not late", records)
		}
		c.Logf("%d LATE records of %d, all of readings beyond the window (%d event times)", len(late), records, len(w.Beyond))
	})
}

// TestClusterKillNATS kills -9 (SIGKILL) a NATS server of the cluster, the
// leader of the input stream, while readings are being published, on a
// cluster of its own whose 3 NATS servers are nats-server processes: the
// rest of the input is published (the publisher re-sends what was not
// acknowledged), the server restarts with the same config and store and
// catches up; every twin must equal a single-node replay of the input
// stream and the dead letters be exactly the deliberately bad input.
// SteadyState kills it while no partition moves; DuringPartitionMove while
// a custos node leaves and the others create consumers for its partitions.
func TestClusterKillNATS(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{NATSProcs: true})
	_, js := c.Connect()
	killLeader := func(t *testing.T, w *clustertest.Workload, during func()) {
		third := len(w.Msgs) / 3
		c.Publish(js, w, 0, third, 300*time.Millisecond)
		victim, leader := c.InputLeader(js)
		meta, _ := c.NATS.MetaLeader((victim + 1) % c.NATS.N())
		c.Logf("input stream leader %s, meta leader %s", leader, meta)
		// Kill it once the next third is being published.
		killed := make(chan struct{})
		go func() {
			defer close(killed)
			time.Sleep(150 * time.Millisecond)
			if during != nil {
				during()
			}
			c.NATS.Kill(victim)
		}()
		republished := c.Republished()
		c.Publish(js, w, third, 2*third, 600*time.Millisecond)
		<-killed
		c.Logf("killed nats server %s (SIGKILL) mid-stream; %d messages re-sent", leader, c.Republished()-republished)
		if _, now := c.InputLeader(js); now == leader {
			t.Fatalf("input stream leader still %s after it was killed", leader)
		}
		c.Publish(js, w, 2*third, len(w.Msgs), 300*time.Millisecond)
		c.NATS.Start(victim)
		c.NATS.WaitJetStream()
		c.WaitInputReplica(js, leader, 30*time.Second)
		c.Logf("nats server %s back, its replica of the input stream current", leader)
	}
	var ws []*clustertest.Workload
	t.Run("SteadyState", func(t *testing.T) {
		c.T = t
		w := clustertest.NewWorkload("KillNATS", 30, 3000)
		ws = append(ws, w)
		c.WaitBalanced(30 * time.Second)
		killLeader(t, w, nil)
		c.WaitOwned(30 * time.Second)
		c.Verify(js, 60*time.Second, ws...)
		c.Logf("ingest restarts on a delivery gap so far: %v", c.DeliveryGaps())
	})
	if t.Failed() {
		return
	}
	t.Run("DuringPartitionMove", func(t *testing.T) {
		c.T = t
		w := clustertest.NewWorkload("KillNATSMove", 30, 3000)
		ws = append(ws, w)
		c.WaitBalanced(30 * time.Second)
		n := c.Nodes[2]
		// The node leaves gracefully (releasing its partitions at once) as
		// the server is killed: the others create consumers for them then.
		stopped := make(chan struct{})
		killLeader(t, w, func() {
			go func() {
				defer close(stopped)
				n.Stop()
			}()
		})
		<-stopped
		c.WaitOwned(30 * time.Second)
		n.Start()
		c.WaitOwned(30 * time.Second)
		c.Verify(js, 60*time.Second, ws...)
		c.Logf("ingest restarts on a delivery gap so far: %v", c.DeliveryGaps())
	})
}
