package bus

import (
	"context"
	"log/slog"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/custos-dev/custos/internal/cluster"
	"github.com/custos-dev/custos/internal/cluster/natstest"
	"github.com/custos-dev/custos/internal/metrics"
)

func inputStream(t *testing.T, js jetstream.JetStream, md map[string]string, n int) jetstream.Stream {
	t.Helper()
	ctx := context.Background()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: StreamInput, Subjects: []string{"in.*"}, Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := js.Publish(ctx, "in.t"+strconv.Itoa(i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// purging starts purgeApplied (every 10 ms) on a single-node bus over
// the input stream of 10 messages, whose consumer has been delivered the
// first fetch of them and acknowledged up to ack; it returns the stream.
func purging(t *testing.T, cfg Config, fetch int, ack uint64) jetstream.Stream {
	t.Helper()
	nc, _ := natstest.Single(t)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	s := inputStream(t, js, nil, 10)
	cfg.BatchSize = 10
	b := &Bus{js: js, log: slog.New(slog.DiscardHandler), cfg: cfg}
	cons, _, err := b.resetDurable(ctx, Consumer, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	b.cons = cons
	msgs, err := cons.Fetch(fetch)
	if err != nil {
		t.Fatal(err)
	}
	for m := range msgs.Messages() {
		if md, _ := m.Metadata(); md.Sequence.Stream == ack {
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	prev := PurgeInterval
	PurgeInterval = 10 * time.Millisecond
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); b.purgeApplied(pctx) }()
	t.Cleanup(func() { cancel(); <-done; PurgeInterval = prev })
	return s
}

// TestPurgeApplied: --input-retention applied removes the input custos has
// acknowledged, with the subjects it alone held, and keeps what it has not:
// input delivered but not acknowledged (a crash now would deliver it
// again) stays in the stream.
func TestPurgeApplied(t *testing.T) {
	m := metrics.New()
	s := purging(t, Config{Metrics: m}, 8, 6) // delivered up to 8, acknowledged up to 6
	ctx := context.Background()

	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st := info.State
		if st.FirstSeq > 1 {
			if st.FirstSeq != 7 || st.Msgs != 4 || st.NumSubjects != 4 {
				t.Fatalf("after the purge: first %d, %d messages, %d subjects; want 7, 4 (7-10, unacknowledged), 4", st.FirstSeq, st.Msgs, st.NumSubjects)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("acknowledged input not purged")
		}
	}
	if got := testutil.ToFloat64(m.InputPurgedBelow); got != 7 {
		t.Fatalf("custos_ingest_input_purged_below = %v, want 7", got)
	}
	time.Sleep(5 * PurgeInterval) // nothing more acknowledged: nothing more purged
	if info, err := s.Info(ctx); err != nil || info.State.Msgs != 4 {
		t.Fatalf("%v, %+v: unacknowledged input purged", err, info.State)
	}
}

// TestPurgeAppliedKeepsDuplicateWindow: applied input stays in the stream
// for the duplicate window after it arrived, so that the stream still
// recognises a re-send of it after a restart of the server (which rebuilds
// its Nats-Msg-Id window from the messages it holds); then it goes.
func TestPurgeAppliedKeepsDuplicateWindow(t *testing.T) {
	const window = 600 * time.Millisecond
	started := time.Now()
	s := purging(t, Config{Metrics: metrics.New(), DuplicateWindow: window}, 10, 10)
	ctx := context.Background()
	for {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			if el := time.Since(started); el < window {
				t.Fatalf("applied input purged %v after it arrived, within the duplicate window (%v)", el, window)
			}
			return
		}
		if time.Since(started) > 5*time.Second {
			t.Fatalf("applied input not purged after the duplicate window: %+v", info.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAppliedFloorsPartitions: in a cluster a node purges each partition it
// owns below that partition's floor, the highest of its consumers' (a
// consumer left behind by a previous owner may lag), a partition no node
// has consumed yet counting as the sequence the stream was partitioned
// after; and the whole stream below that sequence. Partitions are
// independent: one without new input does not hold back another's purge.
func TestAppliedFloorsPartitions(t *testing.T) {
	nc, _ := natstest.Single(t)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	s := inputStream(t, js, map[string]string{MetaPartitions: "4", MetaPartitionedAfter: "2"}, 20)
	b := &Bus{js: js, cfg: Config{Partitions: 4}, tokens: map[int]uint64{0: 1, 1: 2, 2: 1}} // not 3
	consumer := func(name string, start uint64) {
		t.Helper()
		if _, err := js.CreateConsumer(ctx, StreamInput, jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckAllPolicy,
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: start}); err != nil {
			t.Fatal(err)
		}
	}
	want := func(floors ...uint64) {
		t.Helper()
		got, err := b.appliedFloors(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		w := map[string]uint64{"": 2}
		for p, f := range floors {
			w[cluster.PartitionFilter(p)], w[cluster.TenantPartitionFilter(p)] = f, f
		}
		if !maps.Equal(got, w) {
			t.Fatalf("applied floors\n%v\nwant\n%v", got, w)
		}
	}
	want(2, 2, 2) // no partition consumed yet
	consumer(PartitionConsumer(0, 1, 1), 11)
	consumer(PartitionConsumer(1, 1, 1), 6)
	consumer(PartitionConsumer(1, 2, 1), 16) // partition 1's later owner
	consumer(PartitionConsumer(3, 1, 1), 19) // not owned here
	consumer("someone-else", 20)             // not custos's: ignored
	want(10, 15, 2)
	consumer(PartitionConsumer(2, 1, 1), 9)
	want(10, 15, 8)
}

// TestPurgeAppliedResendAfterServerRestart: the reason for the window. A
// reading applied (acknowledged) and then re-sent with the same
// Nats-Msg-Id after the NATS server was stopped and started again (the window is rebuilt on every start, graceful or not), within
// the duplicate window, is still recognised as a duplicate: the restarted
// server rebuilds its window from the messages the stream holds, and the
// purge has kept the reading there.
func TestPurgeAppliedResendAfterServerRestart(t *testing.T) {
	dir := t.TempDir()
	startServer := func() (*server.Server, jetstream.JetStream) {
		nc, s := natstest.SingleAt(t, dir)
		js, _ := jetstream.New(nc)
		return s, js
	}
	const window = 3 * time.Second
	ctx := context.Background()
	srv, js := startServer()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: StreamInput, Subjects: []string{"in.*"}, Duplicates: window}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "in.t", []byte("x"), jetstream.WithMsgID("r-1")); err != nil {
		t.Fatal(err)
	}
	b := &Bus{js: js, log: slog.New(slog.DiscardHandler), cfg: Config{BatchSize: 10, Metrics: metrics.New(), DuplicateWindow: window}}
	cons, _, err := b.resetDurable(ctx, Consumer, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	b.cons = cons
	msgs, err := cons.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range msgs.Messages() {
		if err := m.DoubleAck(ctx); err != nil { // applied
			t.Fatal(err)
		}
	}
	defer func(d time.Duration) { PurgeInterval = d }(PurgeInterval)
	PurgeInterval = 10 * time.Millisecond
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); b.purgeApplied(pctx) }()
	time.Sleep(200 * time.Millisecond) // twenty purge ticks
	cancel()
	<-done

	srv.Shutdown() // the server goes down and comes back on the same store
	srv.WaitForShutdown()
	_, js = startServer()
	ack, err := js.Publish(ctx, "in.t", []byte("x"), jetstream.WithMsgID("r-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Duplicate {
		t.Fatalf("re-send after the restart stored again as seq %d: the applied reading was purged within the duplicate window", ack.Sequence)
	}
}
