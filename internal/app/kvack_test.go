package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/custos-dev/custos/internal/bus"
)

// TestAcknowledgedInputIsInBucket checks the rule the KV flush keeps while
// it paces its writes: an input is acknowledged only once the bucket holds
// its twin's state as of that input (or later). While a fleet's readings
// stream in, it samples the consumer's acknowledgement floor and then the
// bucket; afterwards, knowing which twin each stream sequence went to, every
// sample must show each twin at least at the seq its acknowledged inputs
// reached.
func TestAcknowledgedInputIsInBucket(t *testing.T) {
	const twins, readings, window = 200, 20000, 25
	a := start(t, t.TempDir())
	defer a.Close()
	_, js := client(t, a)
	ctx := context.Background()
	msgs := workload(twins, 0)
	last := publishAll(t, js, msgs) // the creates: twin seq 1
	waitAcked(t, js, last)
	kv, err := js.KeyValue(ctx, bus.Bucket)
	if err != nil {
		t.Fatal(err)
	}

	type sample struct {
		floor uint64
		seqs  map[string]uint64
	}
	var samples []sample
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-done:
				return
			default:
			}
			// A window of the fleet per sample (rotating), so that samples
			// are many even when the race detector slows every Get.
			s := sample{floor: ackFloor(t, js), seqs: map[string]uint64{}}
			from := len(samples) * window % twins
			for i := from; i < from+window; i++ {
				id := fmt.Sprintf("C-%d", i%twins)
				e, err := kv.Get(ctx, id)
				if errors.Is(err, jetstream.ErrKeyNotFound) {
					s.seqs[id] = 0 // not in the bucket: seq 0
					continue
				}
				if err != nil {
					continue // not sampled
				}
				var st struct{ Seq uint64 }
				if json.Unmarshal(e.Value(), &st) == nil {
					s.seqs[id] = st.Seq
				}
			}
			samples = append(samples, s)
		}
	}()

	// Readings in order per twin, spread over the fleet, published in
	// bursts so that batches touch many twins.
	ofSeq := map[uint64]string{} // stream seq → twin
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	futures := make([]jetstream.PubAckFuture, 0, 500)
	ids := make([]string, 0, 500)
	for i := 0; i < readings; i++ {
		id := fmt.Sprintf("C-%d", (i*7919)%twins)
		body := reading(base.Add(time.Duration(i)*time.Second).Format(time.RFC3339), 5)
		f, err := js.PublishAsync("custos.telemetry."+id, body)
		if err != nil {
			t.Fatal(err)
		}
		futures, ids = append(futures, f), append(ids, id)
		if len(futures) == cap(futures) || i == readings-1 {
			for k, f := range futures {
				select {
				case ack := <-f.Ok():
					ofSeq[ack.Sequence] = ids[k]
				case err := <-f.Err():
					t.Fatal(err)
				case <-time.After(time.Minute):
					t.Fatal("no publish acknowledgement in a minute")
				}
			}
			futures, ids = futures[:0], ids[:0]
			time.Sleep(2 * time.Millisecond)
		}
	}
	var lastSeq uint64
	for s := range ofSeq {
		lastSeq = max(lastSeq, s)
	}
	waitAcked(t, js, lastSeq)
	close(done)
	<-sampled

	seqs := make([]uint64, 0, len(ofSeq))
	for s := range ofSeq {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	checked := 0
	for _, s := range samples {
		if s.floor <= last {
			continue
		}
		want := map[string]uint64{} // twin seq: 1 (create) + readings acknowledged
		for _, q := range seqs {
			if q > s.floor {
				break
			}
			want[ofSeq[q]]++
		}
		for id, n := range want {
			got, sampled := s.seqs[id]
			if !sampled {
				continue // not in this sample's window
			}
			if got < 1+n {
				t.Fatalf("acknowledged up to stream seq %d, but the bucket has %s at seq %d, not %d", s.floor, id, got, 1+n)
			}
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("only %d samples taken while input was being acknowledged", checked)
	}
	t.Logf("%d samples checked", checked)

	// KV puts carry no Nats-Msg-Id (bus.sendKV): the bucket's duplicate
	// window must not hold an entry per put.
	st, err := js.Stream(ctx, "KV_"+bus.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(ctx, "$KV."+bus.Bucket+".C-0")
	if err != nil {
		t.Fatal(err)
	}
	if id := m.Header.Get(jetstream.MsgIDHeader); id != "" {
		t.Fatalf("KV put of C-0 carries Nats-Msg-Id %q", id)
	}
}

// TestFailedKVPutResentAsNewest makes the bucket refuse puts for a moment
// (its maximum message size below a state's), so that the puts of the first
// readings fail, then sends newer readings once the bucket accepts puts
// again, before the failed puts' first re-send is due. Re-sending the failed
// put as it was would leave the bucket at the older state; re-sending the
// twin's newest put leaves it at the newest. Ingest must not have restarted
// for it: the runtime's durable consumer is the one created at start.
func TestFailedKVPutResentAsNewest(t *testing.T) {
	const twins = 10
	a := start(t, t.TempDir())
	defer a.Close()
	_, js := client(t, a)
	ctx := context.Background()
	waitAcked(t, js, publishAll(t, js, workload(twins, 0)))
	cons, err := js.Consumer(ctx, bus.StreamInput, bus.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	created := cons.CachedInfo().Created
	st, err := js.Stream(ctx, "KV_"+bus.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	limit := func(size int32) {
		cfg := st.CachedInfo().Config
		cfg.MaxMsgSize = size
		if _, err := a.JS.UpdateStream(ctx, cfg); err != nil { // custos's own user: the admin may not change streams
			t.Fatalf("max msg size %d: %v", size, err)
		}
	}
	readings := func(min int) uint64 {
		var last uint64
		for i := range twins {
			ts := time.Date(2030, 1, 1, 0, min, 0, 0, time.UTC).Format(time.RFC3339)
			last = publish(t, js, fmt.Sprintf("custos.telemetry.C-%d", i), reading(ts, 5)).Sequence
		}
		return last
	}

	errs0 := testutil.ToFloat64(a.Metrics.PublishErrors)
	limit(16)
	readings(1) // seq 2: these puts fail
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(a.Metrics.PublishErrors) == errs0 {
		if time.Now().After(deadline) {
			t.Fatal("no KV put failed while the bucket refused them")
		}
		time.Sleep(time.Millisecond)
	}
	limit(-1)
	waitAcked(t, js, readings(2)) // seq 3, stored before the first re-send (100 ms after the failure)

	kv, err := js.KeyValue(ctx, bus.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	for i := range twins {
		id := fmt.Sprintf("C-%d", i)
		e, err := kv.Get(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		var v struct{ Seq uint64 }
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			t.Fatal(err)
		}
		if v.Seq != 3 {
			t.Errorf("bucket has %s at seq %d, want its newest state, seq 3", id, v.Seq)
		}
	}
	if info, err := cons.Info(ctx); err != nil {
		t.Fatal(err)
	} else if !info.Created.Equal(created) {
		t.Error("ingest restarted (its consumer was created again) for a KV put that failed for a moment")
	}
}
