package clustertest_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/devchain"
	"github.com/custos-dev/custos/anchor/pgstore"
	"github.com/custos-dev/custos/internal/cluster/clustertest"
	"github.com/custos-dev/custos/store/pg"
)

// TestClusterKillAnchorLeader: three nodes anchor to one chain (a dev chain
// over JSON-RPC, the runtime key in a keystore); kill -9 the anchoring
// leader mid-stream (killAnchorLeader).
func TestClusterKillAnchorLeader(t *testing.T) {
	clustertest.DatabaseURL(t)
	args, dev, pin := clustertest.Anchoring(t)
	c := clustertest.Start(t, clustertest.Options{Args: args})
	_, js := c.Connect()
	killAnchorLeader(t, c, js, clustertest.NewWorkload("anchor", 12, 800), dev, pin)
}

// killAnchorLeader is scenario (5) on a cluster started with
// clustertest.Anchoring's flags: publish half of w, kill -9 the anchoring
// leader once an epoch is cut, publish the rest. Another node takes the
// anchor lease with a higher fence; every reading is applied exactly once;
// in the end every twin is anchored, epochs are contiguous and confirmed,
// and the proof of every twin's head, asked of any running node, verifies
// against the chain with the operator pinned. The killed node is started
// again at the end.
func killAnchorLeader(t *testing.T, c *clustertest.Cluster, js jetstream.JetStream, w *clustertest.Workload, dev *devchain.Chain, pin anchor.Pin) {
	ctx := context.Background()
	leader := func(not *clustertest.Node) *clustertest.Node {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			var found []*clustertest.Node
			for _, n := range c.Nodes {
				if n != not && n.Running() && n.Metric("custos_anchor_leader") == 1 {
					found = append(found, n)
				}
			}
			if len(found) > 1 {
				t.Fatalf("%s and %s both anchor", found[0].ID, found[1].ID)
			}
			if len(found) == 1 {
				return found[0]
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no anchoring leader\n%s", c.Logs(30))
		return nil
	}
	db, err := pg.Open(ctx, c.Store, pg.WithoutMigrations())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := pgstore.New(db.Pool(), 0, "")
	began := time.Now()
	epochs, _ := st.LastEpoch(ctx)

	half := len(w.Msgs) / 2
	c.Publish(js, w, 0, half, time.Second)
	first := leader(nil)
	fence1 := first.Metric("custos_anchor_fence")
	for deadline := time.Now().Add(30 * time.Second); ; {
		if n, _ := st.LastEpoch(ctx); n > epochs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no epoch before the kill\n%s", c.Logs(30))
		}
		time.Sleep(100 * time.Millisecond)
	}
	first.Kill()
	t.Logf("%v: killed the anchoring leader %s (fence %v)", time.Since(began), first.ID, fence1)
	c.Publish(js, w, half, len(w.Msgs), time.Second)
	second := leader(first)
	if f := second.Metric("custos_anchor_fence"); f <= fence1 {
		t.Fatalf("new leader's fence %v, killed one's %v", f, fence1)
	}
	t.Logf("%s anchors now (fence %v)", second.ID, second.Metric("custos_anchor_fence"))
	c.WaitOwned(30 * time.Second)
	c.Verify(js, 60*time.Second, w)

	// Everything is anchored and confirmed in the end: no twin above its
	// cut, no unfinished epoch.
	for deadline := time.Now().Add(60 * time.Second); ; {
		hs, err1 := st.ChangedHeads(ctx, "", 10)
		un, err2 := st.Unfinished(ctx)
		if err1 == nil && err2 == nil && len(hs) == 0 && len(un) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all anchored: %d twins changed, %d epochs unfinished (%v %v)\n%s", len(hs), len(un), err1, err2, c.Logs(30))
		}
		time.Sleep(200 * time.Millisecond)
	}
	es, err := st.Epochs(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range es {
		if e.Number != uint64(i+1) || e.State != anchor.StateConfirmed {
			t.Fatalf("epoch %d at %d: %s", e.Number, i+1, e.State)
		}
	}
	t.Logf("%v: %d epochs, contiguous and confirmed", time.Since(began), len(es))
	var via []*clustertest.Node
	for _, n := range c.Nodes {
		if n.Running() {
			via = append(via, n)
		}
	}
	for i, id := range w.Twins {
		tw, err := db.Twin(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		n := via[i%len(via)]
		resp, err := http.Get("http://" + n.HTTP + "/v1/twins/" + id + "/proof?seq=" + strconv.FormatUint(tw.Seq, 10))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("proof of %s seq %d from %s: %d %s", id, tw.Seq, n.ID, resp.StatusCode, body)
		}
		b, err := anchor.ReadBundle(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := anchor.Verify(ctx, dev.Client(), b, pin)
		if err != nil || !rep.OK() {
			t.Fatalf("proof of %s seq %d from %s: %v\n%s", id, tw.Seq, n.ID, err, rep)
		}
	}
	first.Start()
}
