package clustertest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/store/embedded"
	"github.com/custos-dev/custos/store/pg"
	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

// Msg is one input message of a workload.
type Msg struct {
	Subject string
	Body    []byte
}

// Workload is a fleet's input: creates, then readings to random twins, and
// Bad deliberately invalid messages (dead letters) among them.
type Workload struct {
	Name  string // twin ids are <Name>-<n>
	Msgs  []Msg
	Twins []string
	Bad   int

	// Of a late workload (NewLateWorkload): the twins' allowed-lateness
	// window; how many readings arrive after a reading of their twin less
	// than Lateness later in event time (within the window: held back,
	// never LATE); the event times of those arriving after one at least
	// Lateness later (beyond it: the only readings that may be LATE).
	Lateness time.Duration
	InWindow int
	Beyond   map[time.Time]bool

	times []time.Time // event time of each message's readings (zero: none)
	twin  []string    // twin of each message
}

// NewWorkload builds the create commands of twins coldchain twins named
// <name>-<n> and readings readings (one in ten a batch of two), with one
// invalid message in the middle. Event times are fixed, so every replay
// gives the same digests.
func NewWorkload(name string, twins, readings int) *Workload {
	return newWorkload(name, twins, readings, 0)
}

func newWorkload(name string, twins, readings int, lateness time.Duration) *Workload {
	p := builtin.Coldchain()
	var late string
	if lateness > 0 {
		late = lateness.String()
	}
	ref := twin.ContractRef{Name: p.Name, Version: p.Version, SHA256: sha256.Sum256(p.Wasm)}
	w := &Workload{Name: name, Lateness: lateness}
	add := func(m Msg, id string, ts time.Time) {
		w.Msgs = append(w.Msgs, m)
		w.twin = append(w.twin, id)
		w.times = append(w.times, ts)
	}
	for i := 0; i < twins; i++ {
		id := fmt.Sprintf("%s-%d", name, i)
		cmd, _ := json.Marshal(twin.Command{Type: "create", TS: "2026-01-01T00:00:00Z", Kind: "case", Contract: &ref,
			Params: json.RawMessage(`{"min_c":2,"max_c":8,"excursion_budget_s":600}`), Lateness: late})
		add(Msg{"custos.command." + id, cmd}, id, time.Time{})
		w.Twins = append(w.Twins, id)
	}
	rng := rand.New(rand.NewPCG(13, 1))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < readings; i++ {
		if i == readings/2 {
			add(Msg{"custos.telemetry." + w.Twins[0], []byte(`{"ts": not json`)}, w.Twins[0], time.Time{})
			w.Bad++
		}
		id := w.Twins[rng.IntN(twins)]
		at := base.Add(time.Duration(i+1) * time.Minute)
		ts := at.Format(time.RFC3339)
		v := 5 + rng.NormFloat64()*3
		var body []byte
		if i%10 == 0 {
			body = fmt.Appendf(nil, `{"readings":[{"ts":%q,"sensor":"t1","type":"temperature","value":%.2f},{"ts":%q,"sensor":"d1","type":"door","value":%d}]}`,
				ts, v, ts, rng.IntN(2))
		} else {
			body = fmt.Appendf(nil, `{"ts":%q,"sensor":"t1","type":"temperature","value":%.2f}`, ts, v)
		}
		add(Msg{"custos.telemetry." + id, body}, id, at)
	}
	return w
}

// NewLateWorkload is NewWorkload (readings one minute apart in event time)
// with twins created with an allowed-lateness window of lateness (at
// least 10 minutes) and readings out of order: shuffled within blocks of
// consecutive readings spanning less than half the window, and one in 40
// moved 2.5 windows later in the stream (beyond the window). InWindow and
// Beyond say what that made of them per twin.
func NewLateWorkload(name string, twins, readings int, lateness time.Duration) *Workload {
	w := newWorkload(name, twins, readings, lateness)
	type item struct {
		m   Msg
		id  string
		at  time.Time
		key float64
	}
	var its []item
	for i := twins; i < len(w.Msgs); i++ {
		its = append(its, item{m: w.Msgs[i], id: w.twin[i], at: w.times[i]})
	}
	rng := rand.New(rand.NewPCG(13, 2))
	block := int(lateness/time.Minute) / 2
	for b := 0; b < len(its); b += block {
		e := min(b+block, len(its))
		rng.Shuffle(e-b, func(i, j int) { its[b+i], its[b+j] = its[b+j], its[b+i] })
	}
	shift := float64(5*lateness/time.Minute) / 2
	for i := range its {
		its[i].key = float64(i)
		if i%40 == 20 && !its[i].at.IsZero() {
			its[i].key += shift + 0.5
		}
	}
	slices.SortStableFunc(its, func(a, b item) int { return cmp.Compare(a.key, b.key) })
	w.Beyond = map[time.Time]bool{}
	high := map[string]time.Time{}
	for k, it := range its {
		i := twins + k
		w.Msgs[i], w.twin[i], w.times[i] = it.m, it.id, it.at
		if it.at.IsZero() {
			continue
		}
		switch h := high[it.id]; {
		case it.at.After(h):
			high[it.id] = it.at
		case h.Sub(it.at) < lateness:
			w.InWindow++
		default:
			w.Beyond[it.at] = true
		}
	}
	return w
}

// Connect connects a client to the NATS cluster (closed at the end of the
// test).
func (c *Cluster) Connect() (*nats.Conn, jetstream.JetStream) { return c.NATS.Connect() }

// Publish publishes w.Msgs[from:to] in order, each with Nats-Msg-Id
// "<name>:<index>" (so a re-send is idempotent), pacing them over d, and
// returns once all are stored. A message whose ack is an error, or has not
// come within 10 s of its chunk being sent (a server killed with the ack on
// its way), is sent again until stored.
func (c *Cluster) Publish(js jetstream.JetStream, w *Workload, from, to int, d time.Duration) {
	c.T.Helper()
	const chunk = 200
	n := to - from
	steps := max((n+chunk-1)/chunk, 1)
	pause := d / time.Duration(steps)
	for i := from; i < to; i += chunk {
		end := min(i+chunk, to)
		fs := make([]jetstream.PubAckFuture, end-i)
		for j := i; j < end; j++ {
			f, err := js.PublishAsync(w.Msgs[j].Subject, w.Msgs[j].Body, jetstream.WithMsgID(w.Name+":"+strconv.Itoa(j)))
			if err != nil {
				c.republish(js, w, j, err)
				continue
			}
			fs[j-i] = f
		}
		// One deadline for the chunk: once it has passed, every ack still
		// missing is re-sent at once, not waited for one after another.
		deadline := time.NewTimer(10 * time.Second)
		expired := false
		for k, f := range fs {
			if f == nil {
				continue
			}
			if expired {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					c.republish(js, w, i+k, err)
				default:
					c.republish(js, w, i+k, fmt.Errorf("no ack in 10s"))
				}
				continue
			}
			select {
			case <-f.Ok():
			case err := <-f.Err():
				// A server restarting: send it again (same id).
				c.republish(js, w, i+k, err)
			case <-deadline.C:
				expired = true
				c.republish(js, w, i+k, fmt.Errorf("no ack in 10s"))
			}
		}
		deadline.Stop()
		time.Sleep(pause)
	}
}

// republish sends message j again (same id) until it is stored, for up to
// a minute (a stream leader elected after its server was killed).
func (c *Cluster) republish(js jetstream.JetStream, w *Workload, j int, why error) {
	c.T.Helper()
	c.republished.Add(1)
	var err error
	for end := time.Now().Add(time.Minute); time.Now().Before(end); {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = js.Publish(ctx, w.Msgs[j].Subject, w.Msgs[j].Body, jetstream.WithMsgID(w.Name+":"+strconv.Itoa(j)))
		cancel()
		if err == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	c.T.Fatalf("publish %d: %v (first: %v)", j, err, why)
}

// Replay applies the input stream, as stored, from its first message, with
// one twin.Runtime on an embedded store in one process: the single-node
// reference. It returns that store (closed at the end of the test).
func (c *Cluster) Replay(js jetstream.JetStream) twin.Store {
	ref, _ := c.replay(js)
	return ref
}

// replay is Replay, also counting the stored messages by Nats-Msg-Id.
func (c *Cluster) replay(js jetstream.JetStream) (twin.Store, map[string]int) {
	c.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, "CUSTOS_INPUT")
	if err != nil {
		c.T.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		c.T.Fatal(err)
	}
	last := info.State.LastSeq
	oc, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		c.T.Fatal(err)
	}
	var inputs []twin.Input
	ids := map[string]int{}
	for seq, empty := uint64(0), 0; seq < last; {
		batch, err := oc.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			c.T.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			seq = md.Sequence.Stream
			got++
			if id := m.Headers().Get(jetstream.MsgIDHeader); id != "" {
				ids[id]++
			}
			if in, ok := parseStored(m.Subject(), m.Data(), md.Timestamp); ok {
				in.StreamSeq = seq
				inputs = append(inputs, in)
			}
		}
		if got > 0 {
			empty = 0
		} else if empty++; empty > 10 {
			c.T.Fatalf("replay: stream read stopped at %d of %d: %v", seq, last, batch.Error())
		}
	}
	host, err := contracts.NewHost(ctx, contracts.Config{CacheDir: cacheDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		c.T.Fatal(err)
	}
	c.T.Cleanup(func() { host.Close(context.Background()) })
	if _, err := host.RegisterBuiltins(ctx); err != nil {
		c.T.Fatal(err)
	}
	ref, err := embedded.Open(c.T.TempDir())
	if err != nil {
		c.T.Fatal(err)
	}
	c.T.Cleanup(func() { ref.Close() })
	rt, err := twin.New(twin.Config{Store: ref, Contracts: host, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		c.T.Fatal(err)
	}
	for i := 0; i < len(inputs); i += 500 {
		if _, err := rt.Process(ctx, inputs[i:min(i+500, len(inputs))]); err != nil {
			c.T.Fatal(err)
		}
	}
	return ref, ids
}

// parseStored parses a stored input message (custos.<kind>.<p>.<twin>) as
// the bus does; ok is false for a message the bus dead-letters.
func parseStored(subj string, data []byte, ts time.Time) (twin.Input, bool) {
	tok := strings.Split(subj, ".")
	if len(tok) != 4 {
		return twin.Input{}, false
	}
	kind, id := tok[1], tok[3]
	switch kind {
	case "telemetry":
		evs, err := twin.ParseTelemetry(data, ts)
		return twin.Input{Twin: id, Events: evs}, err == nil
	case "command":
		in, err := twin.ParseCommand(id, data, ts)
		if err != nil {
			return twin.Input{}, false
		}
		return *in, true
	case "timer":
		in, err := twin.ParseTimer(id, data, ts)
		if err != nil {
			return twin.Input{}, false
		}
		return *in, true
	}
	return twin.Input{}, false
}

// Verify checks that the input stream holds each message of the workloads
// once, waits (up to d) until the cluster has applied every input of the
// stream, then checks that the state and full history in PostgreSQL of
// each twin of the workloads equal the single-node replay's (so every
// reading was applied exactly once, in order: same count, same digest
// chain), and that the dead-letter stream holds exactly their Bad
// messages.
func (c *Cluster) Verify(js jetstream.JetStream, d time.Duration, ws ...*Workload) {
	c.T.Helper()
	w := &Workload{}
	for _, x := range ws {
		w.Twins = append(w.Twins, x.Twins...)
		w.Bad += x.Bad
	}
	ref, ids := c.replay(js)
	c.Logf("replayed on one node")
	// Every message published was stored once: none lost (after its ack)
	// or stored twice (a re-send) where the replay could not see it.
	for _, x := range ws {
		for j := range x.Msgs {
			if n := ids[x.Name+":"+strconv.Itoa(j)]; n != 1 {
				c.T.Errorf("message %s:%d stored %d times in the input stream, want once", x.Name, j, n)
			}
		}
	}
	ctx := context.Background()
	db, err := pg.Open(ctx, c.Store)
	if err != nil {
		c.T.Fatal(err)
	}
	defer db.Close()
	want := map[string]*twin.Twin{}
	for _, id := range w.Twins {
		t, err := ref.Twin(ctx, id)
		if err != nil {
			c.T.Fatalf("replay: %s: %v", id, err)
		}
		want[id] = t
	}
	deadline := time.Now().Add(d)
	for {
		behind := 0
		for _, id := range w.Twins {
			if t, err := db.Twin(ctx, id); err != nil || t.Seq < want[id].Seq || t.StreamSeq < want[id].StreamSeq {
				behind++
			}
		}
		if behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			c.logConsumers(js)
			c.T.Fatalf("%d of %d twins behind the replay after %v\n%s", behind, len(w.Twins), d, c.Logs(20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.Logf("cluster caught up with the replay")
	records := 0
	for _, id := range w.Twins {
		got, _ := db.Twin(ctx, id)
		wt := want[id]
		if got.Seq != wt.Seq || got.Digest != wt.Digest || !bytes.Equal(got.State, wt.State) || got.Alerts != wt.Alerts || got.StreamSeq != wt.StreamSeq {
			c.T.Errorf("%s: cluster seq %d digest %s alerts %d stream_seq %d; replay seq %d digest %s alerts %d stream_seq %d",
				id, got.Seq, got.Digest, got.Alerts, got.StreamSeq, wt.Seq, wt.Digest, wt.Alerts, wt.StreamSeq)
			continue
		}
		if !sameBuffered(got.Buffered, wt.Buffered) {
			c.T.Errorf("%s: %d readings held back by the lateness window in the cluster, %d in the replay (or others)", id, len(got.Buffered), len(wt.Buffered))
			continue
		}
		gh, err := db.History(ctx, twin.HistoryQuery{Twin: id, Limit: 1 << 20})
		if err != nil {
			c.T.Fatal(err)
		}
		wh, _ := ref.History(ctx, twin.HistoryQuery{Twin: id, Limit: 1 << 20})
		if len(gh) != len(wh) || uint64(len(gh)) != got.Seq {
			c.T.Errorf("%s: %d history records in the cluster, %d in the replay, seq %d", id, len(gh), len(wh), got.Seq)
			continue
		}
		for j := range gh {
			g, r := gh[j], wh[j]
			if g.Seq != uint64(j+1) || g.Digest != r.Digest || g.StreamSeq != r.StreamSeq || g.EventHash != r.EventHash || g.Failure != r.Failure || g.Late != r.Late {
				c.T.Errorf("%s record %d: seq %d stream_seq %d digest %s; replay seq %d stream_seq %d digest %s",
					id, j, g.Seq, g.StreamSeq, g.Digest, r.Seq, r.StreamSeq, r.Digest)
				break
			}
		}
		ga, _ := db.Alerts(ctx, twin.AlertQuery{Twin: id, Limit: 1 << 20})
		wa, _ := ref.Alerts(ctx, twin.AlertQuery{Twin: id, Limit: 1 << 20})
		if len(ga) != len(wa) {
			c.T.Errorf("%s: %d alerts in the cluster, %d in the replay", id, len(ga), len(wa))
		}
		records += len(gh)
	}
	// Dead letters are published after the commit of their batch (and
	// re-sent if a stream leader changed meanwhile): give them time. The
	// JetStream API itself can time out for a while after NATS servers
	// restarted (a leader election): ask again.
	var n uint64
	for end := time.Now().Add(30 * time.Second); ; {
		info, err := streamInfo(ctx, js, "CUSTOS_DLQ")
		if err == nil {
			n = info.State.Msgs
		}
		if err == nil && n >= uint64(w.Bad) || time.Now().After(end) {
			if err != nil {
				c.T.Fatal(err)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n != uint64(w.Bad) {
		c.T.Errorf("dead letters: %d, want %d (the deliberately bad input only)", n, w.Bad)
		c.logConsumers(js)
	}
	c.Logf("verified %d twins, %d records: equal to the single-node replay; %d dead letters", len(w.Twins), records, n)
}

// streamInfo asks JetStream for a stream's info.
func streamInfo(ctx context.Context, js jetstream.JetStream, name string) (*jetstream.StreamInfo, error) {
	st, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return st.Info(ctx)
}

// sameBuffered reports whether two twins hold back the same readings (the
// allowed-lateness window), from the same input messages, in the same order.
func sameBuffered(a, b []twin.Buffered) bool {
	return slices.EqualFunc(a, b, func(x, y twin.Buffered) bool {
		return x.StreamSeq == y.StreamSeq && x.Event.Time.Equal(y.Event.Time) && slices.Equal(x.Event.Fields, y.Event.Fields)
	})
}

// LateRecords returns the event times of the records of w's twins in the
// cluster's store flagged LATE, and how many records there are in all.
func (c *Cluster) LateRecords(w *Workload) (late []time.Time, records int) {
	c.T.Helper()
	ctx := context.Background()
	db, err := pg.Open(ctx, c.Store)
	if err != nil {
		c.T.Fatal(err)
	}
	defer db.Close()
	for _, id := range w.Twins {
		h, err := db.History(ctx, twin.HistoryQuery{Twin: id, Limit: 1 << 20})
		if err != nil {
			c.T.Fatal(err)
		}
		for _, r := range h {
			if r.Late {
				late = append(late, r.Time)
			}
		}
		records += len(h)
	}
	return late, records
}

// logConsumers logs the input stream's consumers (for failure messages).
func (c *Cluster) logConsumers(js jetstream.JetStream) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "CUSTOS_INPUT")
	if err != nil {
		c.T.Logf("input stream: %v", err)
		return
	}
	l := st.ListConsumers(ctx)
	for ci := range l.Info() {
		leader := ""
		if ci.Cluster != nil {
			leader = ci.Cluster.Leader
		}
		c.T.Logf("consumer %s (leader %q): filter %v ack floor %d delivered %d pending %d ack pending %d waiting %d",
			ci.Name, leader, ci.Config.FilterSubjects, ci.AckFloor.Stream, ci.Delivered.Stream, ci.NumPending, ci.NumAckPending, ci.NumWaiting)
	}
	if err := l.Err(); err != nil {
		c.T.Logf("consumers: %v", err)
	}
}
