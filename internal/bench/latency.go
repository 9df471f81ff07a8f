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

	// sent[twin][k] is when the k-th reading of that twin was published; it
	// becomes visible with the state whose seq is k+2 (create is seq 1).
	var (
		mu   sync.Mutex
		sent = make([][]time.Time, twins)
		seen = make([]int, twins) // readings of each twin already seen
		lats []time.Duration
	)
	sub, err := subc.Subscribe("custos.twin.*.state", func(m *nats.Msg) {
		now := time.Now()
		i, seq, ok := stateOf(m.Subject, m.Data)
		if !ok || i >= twins || seq < 2 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for k := seen[i]; k < len(sent[i]) && uint64(k+2) <= seq; k++ {
			lats = append(lats, now.Sub(sent[i][k]))
			seen[i] = k + 1
		}
	})
	if err != nil {
		return none, err
	}
	defer sub.Unsubscribe()

	rng := rand.New(rand.NewPCG(3, 4))
	n := 0
	// measure publishes at rate for d (at most limit readings) and returns
	// the latencies of those readings.
	measure := func(rate float64, d time.Duration, limit int) (Latency, error) {
		mu.Lock()
		lats = lats[:0]
		mu.Unlock()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		start, first := time.Now(), n
		for now := range tick.C {
			if now.Sub(start) > d || n-first >= limit {
				break
			}
			due := first + min(int(rate*now.Sub(start).Seconds()), limit)
			for ; n < due; n++ {
				i := n % twins
				mu.Lock()
				sent[i] = append(sent[i], time.Now())
				mu.Unlock()
				if _, err := js.PublishAsync("custos.telemetry.L-"+strconv.Itoa(i), single(n, rng)); err != nil {
					return Latency{}, err
				}
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			got := len(lats)
			mu.Unlock()
			if got >= n-first || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(lats) == 0 {
			return Latency{}, fmt.Errorf("no state seen for %d readings", n-first)
		}
		slices.Sort(lats)
		q := func(p float64) time.Duration { return lats[min(len(lats)-1, int(p*float64(len(lats))))] }
		return Latency{Rate: rate, P50: q(0.50), P99: q(0.99), Max: lats[len(lats)-1], Samples: len(lats)}, nil
	}
	var res [2]Latency
	if res[0], err = measure(rate, d, math.MaxInt); err != nil {
		return res, err
	}
	if err := waitApplied(ctx, a, uint64(twins+n)); err != nil {
		return res, err
	}
	// Every twin passivated (idle "forever"): each reading below goes to a
	// twin that must be loaded from the store first.
	a.Runtime.Passivate(time.Now().Add(100 * 365 * 24 * time.Hour))
	if r := a.Runtime.Stats().Resident; r != 0 {
		return res, fmt.Errorf("%d twins still resident after passivating all", r)
	}
	res[1], err = measure(passivatedRate, d, twins)
	return res, err
}

// passivatedRate is the low rate at which latency to passivated twins is
// measured.
const passivatedRate = 200

// stateOf reads the twin number i of "L-<i>" from a state message's subject
// and its seq from the body without decoding the JSON: on two cores the
// measuring subscriber competes with the daemon it measures. In a twin's
// JSON (twin/json.go) "seq" is a top-level field before any that could hold
// the text ,"seq": outside a string.
func stateOf(subject string, data []byte) (i int, seq uint64, ok bool) {
	id, found := strings.CutPrefix(subject, "custos.twin.L-")
	if !found {
		return 0, 0, false
	}
	i, err := strconv.Atoi(strings.TrimSuffix(id, ".state"))
	if err != nil || i < 0 {
		return 0, 0, false
	}
	k := bytes.Index(data, []byte(`,"seq":`))
	if k < 0 {
		return 0, 0, false
	}
	rest := data[k+len(`,"seq":`):]
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	seq, err = strconv.ParseUint(string(rest[:n]), 10, 64)
	return i, seq, err == nil
}
