package bus

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/cluster/natstest"
)

// TestResetDurableKeepsStartWithoutAcks: a consumer created after an
// acknowledgement floor and reset again before it acknowledged anything
// (a restart, a rebalance) starts where it did, not at the stream's
// beginning (JetStream reports such a consumer's floor as 0).
func TestResetDurableKeepsStartWithoutAcks(t *testing.T) {
	// Clustered (R3), where JetStream reports the floor as 0: a single
	// server reports the sequence before the start.
	c := natstest.Start(t, 3)
	_, js := c.Connect()
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: StreamInput, Subjects: []string{"in.*"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := js.Publish(ctx, "in.x", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	b := &Bus{js: js, cfg: Config{BatchSize: 10}}
	// First run: acknowledges up to seq 6.
	cons, _, err := b.resetDurable(ctx, "c-1", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := cons.Fetch(6)
	if err != nil {
		t.Fatal(err)
	}
	var last jetstream.Msg
	for m := range msgs.Messages() {
		last = m
	}
	if err := last.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	// Second run starts after 6 and acknowledges nothing; the third must
	// start after 6 too.
	for _, name := range []string{"c-2", "c-3"} {
		prev := map[string]string{"c-2": "c-1", "c-3": "c-2"}[name]
		cons, _, err = b.resetDurable(ctx, name, nil, 0, prev, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || info.Config.OptStartSeq != 7 {
			t.Fatalf("%s starts %v at %d, want by_start_sequence at 7", name, info.Config.DeliverPolicy, info.Config.OptStartSeq)
		}
	}
	msgs, err = cons.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range msgs.Messages() {
		if md, _ := m.Metadata(); md.Sequence.Stream != 7 {
			t.Fatalf("first delivery after two resets: seq %d, want 7", md.Sequence.Stream)
		}
	}
}
