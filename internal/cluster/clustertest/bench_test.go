package clustertest_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/cluster/clustertest"
)

// BenchmarkClusterNodes measures a cluster of 1, 2 and 3 custos nodes on
// one 3-server NATS cluster (R3) and the shared PostgreSQL: readings/s end
// to end, CPU per applied event in each node, and, with 3 nodes, how long
// the partitions take to move after a node is killed and after it joins
// again. Everything runs on this one machine: see docs/performance.md for
// what that can and cannot show.
//
//	go test -run '^$' -bench ClusterNodes -benchtime 1x ./internal/cluster/clustertest/
func BenchmarkClusterNodes(b *testing.B) {
	twins, readings := 2000, 60000
	if testing.Short() {
		twins, readings = 200, 6000
	}
	for _, nodes := range []int{1, 2, 3} {
		b.Run("nodes="+strconv.Itoa(nodes), func(b *testing.B) {
			for range b.N {
				benchNodes(b, nodes, twins, readings)
			}
		})
	}
}

func benchNodes(b *testing.B, nodes, twins, readings int) {
	c := clustertest.Start(b, clustertest.Options{Nodes: nodes, Partitions: 12, LeaseTTL: 3 * time.Second, Args: []string{"--log-level", "info"}})
	_, js := c.Connect()
	w := clustertest.NewWorkload("B", twins, readings)
	// The creates first, so the timed part is readings only.
	c.Publish(js, w, 0, twins, 0)
	// Applied events are counted in the store (history records): the
	// nodes' counters miss a batch whose publications a restart cut off.
	u, err := url.Parse(c.Store)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	schema := q.Get("custos_schema")
	q.Del("custos_schema")
	u.RawQuery = q.Encode()
	db, err := pgx.Connect(context.Background(), u.String())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close(context.Background())
	applied := func() (n float64) {
		var k int64
		if err := db.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{schema, "history"}.Sanitize()).Scan(&k); err != nil {
			b.Fatal(err)
		}
		return float64(k)
	}
	waitApplied := func(want float64, d time.Duration) {
		deadline := time.Now().Add(d)
		for applied() < want {
			if time.Now().After(deadline) {
				b.Fatalf("%v of %v events applied after %v\n%s\n%s", applied(), want, d, consumers(js), c.Logs(20))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitApplied(float64(twins), time.Minute)
	cpu0 := make([]time.Duration, nodes)
	ev0 := make([]float64, nodes)
	for i, nd := range c.Nodes {
		cpu0[i], _ = nd.CPU()
		ev0[i] = nd.Metric("custos_ingest_events_applied_total")
	}
	total := float64(w.Events())
	b.ResetTimer()
	start := time.Now()
	publishFast(b, c, js, w, twins, len(w.Msgs))
	published := time.Since(start)
	waitApplied(total, 5*time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	rate := (total - float64(twins)) / elapsed.Seconds()
	b.ReportMetric(rate, "readings/s")
	var cpuAll time.Duration
	for i, nd := range c.Nodes {
		cpu, _ := nd.CPU()
		ev := nd.Metric("custos_ingest_events_applied_total") - ev0[i]
		d := cpu - cpu0[i]
		cpuAll += d
		per := 0.0
		if ev > 0 {
			per = float64(d.Microseconds()) / ev
		}
		b.ReportMetric(per, "cpu_us/event_"+nd.ID)
		b.Logf("%s: %.0f events, %v CPU, %.1f µs CPU per event", nd.ID, ev, d, per)
	}
	b.ReportMetric(float64(cpuAll.Microseconds())/(total-float64(twins)), "cpu_us/event_all")
	fmt.Printf("custos-cluster: nodes=%d readings_per_s=%.0f cpu_us_per_event=%.1f publish_s=%.2f applied_s=%.2f\n", nodes, rate,
		float64(cpuAll.Microseconds())/(total-float64(twins)), published.Seconds(), elapsed.Seconds())
	if nodes < 3 {
		return
	}
	// Rebalancing: kill -9 one node; time until the other two own every
	// partition. Then start it again; time until it owns its share.
	victim := c.Nodes[2]
	t0 := time.Now()
	victim.Kill()
	c.WaitOwned(time.Minute)
	died := time.Since(t0)
	t1 := time.Now()
	victim.Start()
	share := float64(c.Opts.Partitions / nodes)
	for victim.Metric("custos_partitions_owned") < share {
		if time.Since(t1) > time.Minute {
			b.Fatalf("%s owns %v partitions a minute after joining\n%s", victim.ID, victim.Metric("custos_partitions_owned"), victim.Tail(30))
		}
		time.Sleep(20 * time.Millisecond)
	}
	joined := time.Since(t1)
	c.WaitOwned(time.Minute)
	b.ReportMetric(died.Seconds(), "s_rebalance_after_kill")
	b.ReportMetric(joined.Seconds(), "s_rebalance_after_join")
	fmt.Printf("custos-cluster-rebalance: lease_ttl=%v after_kill_s=%.2f after_join_s=%.2f\n", c.Opts.LeaseTTL, died.Seconds(), joined.Seconds())
}

// publishFast publishes w.Msgs[from:to] with up to 2,048 publications in
// flight (Cluster.Publish waits for every 200), so the publisher is not what
// the benchmark measures; failed ones are sent again with the same id.
func publishFast(b *testing.B, c *clustertest.Cluster, js jetstream.JetStream, w *clustertest.Workload, from, to int) {
	const window = 2048
	type sent struct {
		i int
		f jetstream.PubAckFuture
	}
	var inflight []sent
	wait := func(keep int) {
		for len(inflight) > keep {
			s := inflight[0]
			inflight = inflight[1:]
			select {
			case <-s.f.Ok():
			case <-s.f.Err():
				c.Publish(js, w, s.i, s.i+1, 0)
			case <-time.After(30 * time.Second):
				c.Publish(js, w, s.i, s.i+1, 0)
			}
		}
	}
	for i := from; i < to; i++ {
		f, err := js.PublishAsync(w.Msgs[i].Subject, w.Msgs[i].Body, jetstream.WithMsgID("w:"+strconv.Itoa(i)))
		if err != nil {
			b.Fatalf("publish %d: %v", i, err)
		}
		inflight = append(inflight, sent{i, f})
		if len(inflight) >= window {
			wait(window / 2)
		}
	}
	wait(0)
}

// consumers describes the input stream's consumers (for a stall's report).
func consumers(js jetstream.JetStream) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var sb strings.Builder
	st, err := js.Stream(ctx, "CUSTOS_INPUT")
	if err != nil {
		return err.Error()
	}
	if info, err := st.Info(ctx); err == nil {
		fmt.Fprintf(&sb, "stream: msgs %d first %d last %d\n", info.State.Msgs, info.State.FirstSeq, info.State.LastSeq)
	}
	l := st.ListConsumers(ctx)
	for ci := range l.Info() {
		fmt.Fprintf(&sb, "consumer %s filters %v start %v/%d: delivered %d ackfloor %d pending %d ackpending %d waiting %d\n",
			ci.Name, append(ci.Config.FilterSubjects, ci.Config.FilterSubject), ci.Config.DeliverPolicy, ci.Config.OptStartSeq,
			ci.Delivered.Stream, ci.AckFloor.Stream, ci.NumPending, ci.NumAckPending, ci.NumWaiting)
	}
	if err := l.Err(); err != nil {
		fmt.Fprintf(&sb, "list: %v\n", err)
	}
	return sb.String()
}
