package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/cluster"
	"github.com/custos-dev/custos/internal/cluster/natstest"
	"github.com/custos-dev/custos/twin"
)

// startNodes starts n custos nodes in process on a NATS cluster of three
// in-process servers (R3) and one PostgreSQL schema.
func startNodes(t *testing.T, n, partitions int) []*app.App {
	t.Helper()
	store := pgSchemaURL(t)
	servers := natstest.Start(t, 3)
	nodes := make([]*app.App, n)
	t.Cleanup(func() {
		for _, a := range nodes {
			if a != nil {
				a.Close()
			}
		}
	})
	for i := range nodes {
		a, err := app.Start(context.Background(), app.Config{
			Data: t.TempDir(), NATSURL: servers.URL(), HTTP: "127.0.0.1:0", Logger: quietLogger(), CacheDir: testCache(),
			MaxFutureSkew: -1, Store: store,
			Cluster: &app.ClusterConfig{Node: fmt.Sprintf("node-%d", i+1), Partitions: partitions, LeaseTTL: 2 * time.Second},
		})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = a
	}
	return nodes
}

// partitionsSettled reports whether every partition has an owner.
func partitionsSettled(nodes []*app.App, total int) bool {
	n := 0
	for _, a := range nodes {
		n += len(a.ClusterState().Partitions)
	}
	return n == total
}

// Through any node of a 3-node cluster: a module deployed on one node runs
// twins created through another; creates and events get their result (200
// with the twin) whichever node owns the twin; the SSE stream of a third
// node carries the state changes; /readyz shows each node's leases.
func TestClusterHTTPThroughAnyNode(t *testing.T) {
	nodes := startNodes(t, 3, 6)
	deadline := time.Now().Add(30 * time.Second)
	for !partitionsSettled(nodes, 6) {
		if time.Now().After(deadline) {
			t.Fatal("partitions not all owned")
		}
		time.Sleep(100 * time.Millisecond)
	}
	wasm, err := os.ReadFile("../../wasm-policies/coldchain/assemblyscript/coldchain.wasm")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+nodes[0].HTTPAddr+"/v1/policies?name=coldchain-as&version=2.0.0", bytes.NewReader(wasm))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("deploy: %d", resp.StatusCode)
	}

	// SSE on node 3 from now on.
	sse, err := http.Get("http://" + nodes[2].HTTPAddr + "/v1/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer sse.Body.Close()
	seen := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(sse.Body)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "data:") {
				seen <- line
			}
		}
	}()

	// owner is the node that owns id's partition; a partition can be
	// between owners for a moment (a lease renewed late under -race and CI
	// load moves it), so it waits for one.
	owner := func(id string) *app.App {
		p := cluster.PartitionOf(id, 6)
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			for _, a := range nodes {
				for _, ps := range a.ClusterState().Partitions {
					if ps.Partition == p {
						return a
					}
				}
			}
		}
		t.Fatalf("no owner of %s for 20 s", id)
		return nil
	}
	// A refusal through a node that does not own the twin can only come
	// from the owner's result (the store fallback knows only success).
	refusedRemote := 0
	ids := []string{"A-1", "A-2", "A-3", "A-4", "A-5", "A-6", "A-7", "A-8"}
	for i, id := range ids {
		via := nodes[i%3]
		code, body := httpDo(t, via, "POST", "/v1/twins", map[string]any{
			"id": id, "kind": "pallet", "policy": "coldchain-as", "version": "2.0.0", "params": json.RawMessage(`{"min_c":2,"max_c":8}`),
			"custodian": "factory", "ts": "2030-01-01T00:00:00Z",
		})
		if code != http.StatusCreated {
			t.Fatalf("create %s through %s: %d %s", id, via.Config.Cluster.Node, code, body)
		}
		// An event through the next node: its result comes from the owner.
		via = nodes[(i+1)%3]
		code, body = httpDo(t, via, "POST", "/v1/twins/"+id+"/events", map[string]any{
			"type": "custody", "to": "carrier-" + id, "ts": "2030-01-01T00:01:00Z",
		})
		var tw twin.Twin
		if code != http.StatusOK || json.Unmarshal(body, &tw) != nil || tw.Custodian != "carrier-"+id || tw.Seq != 2 {
			t.Fatalf("custody of %s through %s: %d %s", id, via.Config.Cluster.Node, code, body)
		}
		// A refusal by the runtime comes back as such (an upgrade to the
		// module the twin runs: only the runtime refuses it).
		code, body = httpDo(t, nodes[(i+2)%3], "POST", "/v1/twins/"+id+"/events", map[string]any{
			"type": "upgrade", "policy": "coldchain-as", "version": "2.0.0",
		})
		if code != http.StatusBadRequest || !strings.Contains(string(body), "already runs module") {
			t.Fatalf("upgrade of %s to its own module: %d %s", id, code, body)
		}
		if owner(id) != nodes[(i+2)%3] {
			refusedRemote++
		}
	}
	if refusedRemote == 0 {
		t.Fatal("no request went through a node that does not own its twin")
	}
	// Every twin's custody change reaches node 3's stream, whoever owns it.
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	timeout := time.After(20 * time.Second)
	for len(want) > 0 {
		select {
		case line := <-seen:
			for id := range want {
				if strings.Contains(line, `"carrier-`+id+`"`) {
					delete(want, id)
				}
			}
		case <-timeout:
			t.Fatalf("node 3's stream missed %v", want)
		}
	}
	// /readyz names each node's partitions (6 in all, none twice).
	owned := map[float64]string{}
	for _, a := range nodes {
		code, body := httpDo(t, a, "GET", "/readyz", nil)
		var r struct {
			Status  string `json:"status"`
			Cluster struct {
				Node       string `json:"node"`
				Partitions []struct {
					Partition float64 `json:"partition"`
					Fence     uint64  `json:"fence"`
				} `json:"partitions"`
			} `json:"cluster"`
		}
		if code != 200 || json.Unmarshal(body, &r) != nil || r.Cluster.Node != a.Config.Cluster.Node {
			t.Fatalf("readyz of %s: %d %s", a.Config.Cluster.Node, code, body)
		}
		for _, p := range r.Cluster.Partitions {
			if prev, dup := owned[p.Partition]; dup || p.Fence == 0 {
				t.Fatalf("partition %v on %s and %s (fence %d)", p.Partition, prev, r.Cluster.Node, p.Fence)
			}
			owned[p.Partition] = r.Cluster.Node
		}
	}
	if len(owned) != 6 {
		t.Fatalf("readyz shows partitions %v", owned)
	}
}
