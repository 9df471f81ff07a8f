package bench

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/twin"
)

// Latency is the time from publishing a reading to seeing the twin's new
// state on custos.twin.<id>.state, at a steady publishing rate.
type Latency struct {
	Rate          float64 // readings/s offered
	P50, P99, Max time.Duration
	Samples       int
}

func (l Latency) String() string {
	return fmt.Sprintf("latency at %.0f readings/s: p50=%s p99=%s max=%s (%d readings)",
		l.Rate, l.P50.Round(10*time.Microsecond), l.P99.Round(10*time.Microsecond), l.Max.Round(10*time.Microsecond), l.Samples)
}

// latency publishes single readings at rate for d over twins and measures
// publish → state-visible-on-NATS for each; then passivates every twin and
// measures the same at a low rate (passivatedRate, each reading to a
// different passivated twin).
func latency(ctx context.Context, dir string, cfg Config, rate float64) ([2]Latency, error) {
	var none [2]Latency
	twins, d := cfg.Twins, cfg.LatencyFor
	a, err := app.Start(ctx, cfg.daemon(dir, ""))
	if err != nil {
		return none, err
	}
	defer a.Close()
	pubc, err := nats.Connect("", nats.InProcessServer(a.NATS), a.AdminOption())
	if err != nil {
		return none, err
	}
	defer pubc.Close()
	subc, err := nats.Connect("", nats.InProcessServer(a.NATS), a.AdminOption())
	if err != nil {
		return none, err
	}
	defer subc.Close()
	js := publisher(pubc)
	ref, err := coldchain(ctx, a)
	if err != nil {
		return none, err
	}
	for i := 0; i < twins; i++ {
		cmd := &twin.Command{Type: "create", Kind: "pallet", Contract: &ref, TS: base.Format(time.RFC3339)}
		if _, err := a.Bus.PublishCommand(ctx, "L-"+strconv.Itoa(i), cmd); err != nil {
			return none, err
		}
	}
	if err := waitApplied(ctx, a, uint64(twins)); err != nil {
		return none, err
	}

	ids := make([]string, twins)
	for i := range ids {
		ids[i] = "L-" + strconv.Itoa(i)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	p, err := newProbe(subc, js, ids, nil, func(n int) []byte { return single(n, rng) })
	if err != nil {
		return none, err
	}
	defer p.close()
	var res [2]Latency
	if res[0], err = p.measure(rate, d, math.MaxInt); err != nil {
		return res, err
	}
	if err := waitApplied(ctx, a, uint64(twins+p.n)); err != nil {
		return res, err
	}
	// Every twin passivated (idle "forever"): each reading below goes to a
	// twin that must be loaded from the store first.
	a.Runtime.Passivate(time.Now().Add(100 * 365 * 24 * time.Hour))
	if r := a.Runtime.Stats().Resident; r != 0 {
		return res, fmt.Errorf("%d twins still resident after passivating all", r)
	}
	res[1], err = p.measure(passivatedRate, d, twins)
	return res, err
}

// probe measures the latency from publishing a reading to seeing its twin's
// new state on custos.twin.<id>.state: reading n goes to twin ids[n mod
// len(ids)], and the k-th reading of twin i (from 0) is visible with the
// first state whose seq is at least base[i] + k + 1.
type probe struct {
	js    jetstream.JetStream
	ids   []string
	body  func(n int) []byte
	index map[string]int // twin id → its index in ids
	sub   *nats.Subscription
	n     int // readings published so far

	mu   sync.Mutex
	base []uint64      // each twin's seq before the probe
	sent [][]time.Time // sent[i][k]: when the k-th reading of twin i was published
	seen []int         // readings of each twin already seen
	lats []time.Duration
}

// newProbe subscribes nc to the twins' states; base is each twin's seq
// before the probe (nil: 1, only created).
func newProbe(nc *nats.Conn, js jetstream.JetStream, ids []string, base []uint64, body func(n int) []byte) (*probe, error) {
	p := &probe{js: js, ids: ids, body: body, index: make(map[string]int, len(ids)), base: base,
		sent: make([][]time.Time, len(ids)), seen: make([]int, len(ids))}
	if p.base == nil {
		p.base = make([]uint64, len(ids))
		for i := range p.base {
			p.base[i] = 1
		}
	}
	for i, id := range ids {
		p.index[id] = i
	}
	sub, err := nc.Subscribe("custos.twin.*.state", func(m *nats.Msg) {
		now := time.Now()
		id, seq, ok := stateOf(m.Subject, m.Data)
		if !ok {
			return
		}
		i, ok := p.index[id]
		if !ok {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for k := p.seen[i]; k < len(p.sent[i]) && p.base[i]+uint64(k)+1 <= seq; k++ {
			p.lats = append(p.lats, now.Sub(p.sent[i][k]))
			p.seen[i] = k + 1
		}
	})
	if err != nil {
		return nil, err
	}
	p.sub = sub
	return p, nil
}

func (p *probe) close() { p.sub.Unsubscribe() }

// measure publishes at rate for d (at most limit readings) and returns the
// latencies of those readings, waiting up to 30 s for the last states.
func (p *probe) measure(rate float64, d time.Duration, limit int) (Latency, error) {
	p.mu.Lock()
	p.lats = p.lats[:0]
	p.mu.Unlock()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start, first := time.Now(), p.n
	for now := range tick.C {
		if now.Sub(start) > d || p.n-first >= limit {
			break
		}
		due := first + min(int(rate*now.Sub(start).Seconds()), limit)
		for ; p.n < due; p.n++ {
			i := p.n % len(p.ids)
			p.mu.Lock()
			p.sent[i] = append(p.sent[i], time.Now())
			p.mu.Unlock()
			if _, err := p.js.PublishAsync("custos.telemetry."+p.ids[i], p.body(p.n)); err != nil {
				return Latency{}, err
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.mu.Lock()
		got := len(p.lats)
		p.mu.Unlock()
		if got >= p.n-first || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.lats) == 0 {
		return Latency{}, fmt.Errorf("no state seen for %d readings", p.n-first)
	}
	slices.Sort(p.lats)
	q := func(f float64) time.Duration { return p.lats[min(len(p.lats)-1, int(f*float64(len(p.lats))))] }
	return Latency{Rate: rate, P50: q(0.50), P99: q(0.99), Max: p.lats[len(p.lats)-1], Samples: len(p.lats)}, nil
}

// passivatedRate is the low rate at which latency to passivated twins is
// measured.
const passivatedRate = 200

// stateOf reads the twin id from a state message's subject and its seq
// from the body without decoding the JSON: on two cores the measuring
// subscriber competes with the daemon it measures. In a twin's JSON
// (twin/json.go) "seq" is a top-level field before any that could hold the
// text ,"seq": outside a string.
func stateOf(subject string, data []byte) (id string, seq uint64, ok bool) {
	id, found := strings.CutPrefix(subject, "custos.twin.")
	if id, ok = strings.CutSuffix(id, ".state"); !found || !ok {
		return "", 0, false
	}
	k := bytes.Index(data, []byte(`,"seq":`))
	if k < 0 {
		return "", 0, false
	}
	rest := data[k+len(`,"seq":`):]
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	seq, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	return id, seq, err == nil
}
