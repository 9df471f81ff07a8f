package bus

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/cluster/natstest"
	"github.com/custos-dev/custos/internal/metrics"
)

// TestSendWaitsWhileTooManyPending: when the server acknowledges
// publications more slowly than they are sent, send waits for room
// (backpressure) instead of counting a publication failed — each failure
// costs the acker a re-send, one after the other. Here one publication may
// be pending at a time, each is acknowledged 300 ms after it arrives
// (longer than the client waits for room before it refuses one), and other
// publishers on the same connection compete for the slot for 6 s. The code
// before waited once (up to 5 s) and then counted the publication failed.
func TestSendWaitsWhileTooManyPending(t *testing.T) {
	// A subscriber plays the stream, acknowledging late.
	nc, _ := natstest.Single(t)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1))
	if err != nil {
		t.Fatal(err)
	}
	var seq sync.Mutex
	n := 0
	if _, err := nc.Subscribe("slow.>", func(m *nats.Msg) {
		seq.Lock()
		n++
		ack := []byte(`{"stream":"S","seq":` + strconv.Itoa(n) + `}`)
		seq.Unlock()
		time.AfterFunc(300*time.Millisecond, func() { _ = m.Respond(ack) })
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var others sync.WaitGroup
	stop := time.Now().Add(6 * time.Second) // longer than the 5 s the code before waited, once
	for range 4 {
		others.Go(func() {
			for time.Now().Before(stop) {
				_, _ = js.PublishAsync("slow.other", []byte("x"))
			}
		})
	}

	b := &Bus{js: js, cfg: Config{Metrics: metrics.New()}}
	fl := &inflight{}
	for range 4 {
		b.send(ctx, fl, &nats.Msg{Subject: "slow.kv", Data: []byte("x")})
	}
	others.Wait()
	for i, f := range fl.futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatalf("publication %d failed: %v", i, err)
		case <-ctx.Done():
			t.Fatalf("publication %d: no acknowledgement", i)
		}
	}
}
