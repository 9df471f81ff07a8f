// Package sim is a cold-chain fleet simulator for custos: shipments of
// pallets of cases of vaccines, moved by refrigerated trucks whose doors
// open at stops, with one reefer failure, and custody passing producer →
// carrier → distributor → pharmacy. It creates the twins and sends the
// custody and status commands over the HTTP API, and publishes sensor
// readings over NATS like the trucks' loggers would. `custos sim` and
// `make demo` run it to fill the dashboard.
package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config configures a simulation. Zero fields take the defaults shown.
type Config struct {
	API     string // custos HTTP API base URL (http://127.0.0.1:8080)
	NATSURL string // NATS server (nats://127.0.0.1:4222)
	// NATSOptions authenticate to it (custos run writes the local admin's
	// key under --data: natsrv.CredsOption(data + "/nats-admin.nk")).
	NATSOptions []nats.Option
	Token       string // bearer token with admin scope, if the API wants one

	Prefix    string        // twin id prefix ("SHP")
	Shipments int           // shipments (3)
	Pallets   int           // pallets per shipment (2)
	Cases     int           // cases per pallet (3)
	Journey   time.Duration // simulated length of each journey (12 h)
	Step      time.Duration // simulated time between readings (5 min)
	// Wall is how long the whole simulation takes in real time (20 s);
	// simulated time ends at the moment the simulation started, so the
	// dashboard shows a journey that just finished.
	Wall time.Duration
	// ReeferFailure makes one truck's refrigeration fail long enough to
	// spend the excursion budget (on by default; NoReeferFailure turns it off).
	NoReeferFailure bool
	Seed            uint64

	// Progress, if set, receives a progress bar (carriage returns).
	Progress io.Writer
	// Client is the HTTP client (default: 30 s timeout).
	Client *http.Client
}

// Stats is what a simulation did.
type Stats struct {
	Twins       int
	Readings    int
	Commands    int
	Compromised []string // twins whose truck's reefer failed
}

// Parties in the chain of custody.
var (
	Producer     = "acme-pharma"
	Carriers     = []string{"northfreight", "coolways", "polar-logistics"}
	Distributors = []string{"medidist-east", "medidist-west"}
	Pharmacies   = []string{"pharmacy-oak-st", "pharmacy-harbour", "pharmacy-central", "pharmacy-riverside"}
)

// Params are the coldchain contract parameters of every twin: 2–8 °C, 30
// minutes of excursion in total.
const Params = `{"min_c":2,"max_c":8,"excursion_budget_s":1800}`

type shipment struct {
	id                             string
	pallets                        []string
	cases                          []string
	carrier, distributor, pharmacy string
	failAt                         int // step of the reefer failure, -1 for none
	doors                          map[int]bool
	temp                           float64
}

func (s *shipment) all() []string {
	return append(append([]string{s.id}, s.pallets...), s.cases...)
}

func (c *Config) defaults() {
	if c.API == "" {
		c.API = "http://127.0.0.1:8080"
	}
	c.API = strings.TrimRight(c.API, "/")
	if c.NATSURL == "" {
		c.NATSURL = "nats://127.0.0.1:4222"
	}
	if c.Prefix == "" {
		c.Prefix = "SHP"
	}
	if c.Shipments <= 0 {
		c.Shipments = 3
	}
	if c.Pallets <= 0 {
		c.Pallets = 2
	}
	if c.Cases < 0 {
		c.Cases = 0
	} else if c.Cases == 0 {
		c.Cases = 3
	}
	if c.Journey <= 0 {
		c.Journey = 12 * time.Hour
	}
	if c.Step <= 0 {
		c.Step = 5 * time.Minute
	}
	if c.Wall <= 0 {
		c.Wall = 20 * time.Second
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 30 * time.Second}
	}
}

// Run runs a simulation to the end (or until ctx is done).
func Run(ctx context.Context, cfg Config) (*Stats, error) {
	cfg.defaults()
	nc, err := nats.Connect(cfg.NATSURL, append([]nats.Option{nats.Name("custos sim")}, cfg.NATSOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("sim: connect nats %s: %w", cfg.NATSURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	steps := int(cfg.Journey / cfg.Step)
	end := time.Now().UTC().Truncate(time.Second)
	start := end.Add(-cfg.Journey)
	at := func(step int) time.Time { return start.Add(time.Duration(step) * cfg.Step) }
	st := &Stats{}

	// The fleet.
	var ships []*shipment
	for i := range cfg.Shipments {
		s := &shipment{
			id:          fmt.Sprintf("%s-%03d", cfg.Prefix, i+1),
			carrier:     Carriers[i%len(Carriers)],
			distributor: Distributors[i%len(Distributors)],
			pharmacy:    Pharmacies[i%len(Pharmacies)],
			failAt:      -1,
			doors:       map[int]bool{},
			temp:        4.5 + rng.Float64(),
		}
		for p := range cfg.Pallets {
			pid := fmt.Sprintf("%s-P%d", s.id, p+1)
			s.pallets = append(s.pallets, pid)
			for c := range cfg.Cases {
				s.cases = append(s.cases, fmt.Sprintf("%s-C%d", pid, c+1))
			}
		}
		// Two or three stops where the driver opens the doors.
		for k := 0; k < 2+rng.IntN(2); k++ {
			s.doors[steps/5+rng.IntN(steps*3/5)] = true
		}
		ships = append(ships, s)
	}
	if !cfg.NoReeferFailure && len(ships) > 0 {
		f := ships[min(1, len(ships)-1)]
		f.failAt = steps * 2 / 5
		st.Compromised = f.all()
	}

	// Create the twins: cases, pallets and shipments, then load them.
	for _, s := range ships {
		ts := at(0).Add(-10 * time.Minute)
		if err := cfg.create(ctx, s.id, "shipment", "", ts); err != nil {
			return st, err
		}
		for pi, p := range s.pallets {
			if err := cfg.create(ctx, p, "pallet", s.id, ts); err != nil {
				return st, err
			}
			cases := s.cases[pi*cfg.Cases : (pi+1)*cfg.Cases]
			for _, c := range cases {
				if err := cfg.create(ctx, c, "case", p, ts); err != nil {
					return st, err
				}
			}
			if len(cases) > 0 {
				if err := cfg.command(ctx, p, map[string]any{"type": "aggregate", "children": cases, "ts": stamp(ts.Add(time.Minute))}); err != nil {
					return st, err
				}
				st.Commands++
			}
		}
		if err := cfg.command(ctx, s.id, map[string]any{"type": "aggregate", "children": s.pallets, "ts": stamp(ts.Add(2 * time.Minute))}); err != nil {
			return st, err
		}
		st.Commands++
		st.Twins += len(s.all())
	}

	// Custody handoffs: producer → carrier at the start, carrier →
	// distributor at 60 %, distributor → pharmacy at 85 %, delivered at the end.
	handoffs := map[int]func(s *shipment) []map[string]any{
		1: func(s *shipment) []map[string]any {
			return []map[string]any{{"type": "custody", "to": s.carrier}, {"type": "status", "status": "in_transit"}}
		},
		steps * 3 / 5:   func(s *shipment) []map[string]any { return []map[string]any{{"type": "custody", "to": s.distributor}} },
		steps * 17 / 20: func(s *shipment) []map[string]any { return []map[string]any{{"type": "custody", "to": s.pharmacy}} },
		steps:           func(s *shipment) []map[string]any { return []map[string]any{{"type": "status", "status": "delivered"}} },
	}

	tick := cfg.Wall / time.Duration(steps+1)
	next := time.Now()
	for step := 0; step <= steps; step++ {
		ts := at(step)
		for _, s := range ships {
			if h := handoffs[step]; h != nil {
				for _, cmd := range h(s) {
					for _, id := range s.all() {
						c := map[string]any{}
						for k, v := range cmd {
							c[k] = v
						}
						c["ts"] = stamp(ts.Add(-time.Second))
						if err := cfg.command(ctx, id, c); err != nil {
							return st, err
						}
						st.Commands++
					}
				}
			}
			n, err := s.publish(ctx, js, rng, step, ts)
			st.Readings += n
			if err != nil {
				return st, err
			}
		}
		cfg.progress(step, steps, st)
		next = next.Add(tick)
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(time.Until(next)):
		}
	}
	if cfg.Progress != nil {
		fmt.Fprintln(cfg.Progress)
	}
	return st, nil
}

// publish sends one step's readings of a shipment: the truck's logger
// (temperature, humidity, door) on the shipment, and a temperature per
// pallet and case around the truck's air temperature.
func (s *shipment) publish(ctx context.Context, js jetstream.JetStream, rng *rand.Rand, step int, ts time.Time) (int, error) {
	// The truck's air: a reefer holds ~5 °C; doors open for one step
	// warm it by 2–4 °C; a failed reefer warms 0.6 °C per step up to 15 °C
	// for 14 steps (70 min at 5 min steps), then a repair.
	target := 5.0
	door := 0.0
	switch {
	case s.failAt >= 0 && step >= s.failAt && step < s.failAt+14:
		target = math.Min(15, s.temp+0.9)
	case s.doors[step]:
		target = s.temp + 2 + 2*rng.Float64()
		door = 1
	}
	s.temp += (target-s.temp)*0.6 + rng.NormFloat64()*0.12
	read := func(sensor string, v float64) map[string]any {
		return map[string]any{"ts": stamp(ts), "sensor": sensor, "type": "temperature", "value": round(v), "unit": "CEL"}
	}
	n := 0
	send := func(id string, readings ...map[string]any) error {
		b, _ := json.Marshal(map[string]any{"readings": readings})
		_, err := js.Publish(ctx, "custos.telemetry."+id, b, jetstream.WithMsgID(fmt.Sprintf("sim:%s:%d", id, step)))
		n += len(readings)
		if err != nil {
			return fmt.Errorf("sim: publish %s: %w", id, err)
		}
		return nil
	}
	truck := []map[string]any{read("air", s.temp),
		{"ts": stamp(ts), "sensor": "rh", "type": "humidity", "value": round(55 + rng.NormFloat64()*3), "unit": "%RH"},
		{"ts": stamp(ts), "sensor": "door", "type": "door", "value": door}}
	if err := send(s.id, truck...); err != nil {
		return n, err
	}
	// Pallets and cases lag the air a little (thermal mass).
	for _, id := range append(append([]string(nil), s.pallets...), s.cases...) {
		v := s.temp - 0.3 + rng.NormFloat64()*0.1
		if err := send(id, read("logger", v)); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (c *Config) create(ctx context.Context, id, kind, parent string, ts time.Time) error {
	body := map[string]any{"id": id, "kind": kind, "policy": "coldchain", "params": json.RawMessage(Params),
		"custodian": Producer, "ts": stamp(ts)}
	if parent != "" {
		body["parent"] = parent
	}
	code, resp, err := c.do(ctx, "POST", "/v1/twins", body)
	if err != nil {
		return err
	}
	if code == http.StatusConflict {
		return fmt.Errorf("sim: twin %s already exists (use another --prefix, or a fresh --data)", id)
	}
	if code != http.StatusCreated {
		return fmt.Errorf("sim: create %s: %d %s", id, code, resp)
	}
	return nil
}

func (c *Config) command(ctx context.Context, id string, cmd map[string]any) error {
	code, resp, err := c.do(ctx, "POST", "/v1/twins/"+id+"/events", cmd)
	if err != nil {
		return err
	}
	if code == http.StatusConflict && bytes.Contains(resp, []byte(`"twin_compromised"`)) {
		return nil // a compromised shipment stays compromised when delivered
	}
	if code != http.StatusOK && code != http.StatusAccepted {
		return fmt.Errorf("sim: %v on %s: %d %s", cmd["type"], id, code, resp)
	}
	return nil
}

func (c *Config) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.API+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("sim: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return resp.StatusCode, data, errors.New("sim: the API refused the token: pass an admin token with --token (or CUSTOS_TOKEN)")
	}
	return resp.StatusCode, bytes.TrimSpace(data), nil
}

func (c *Config) progress(step, steps int, st *Stats) {
	if c.Progress == nil {
		return
	}
	const width = 30
	done := width * (step + 1) / (steps + 1)
	fmt.Fprintf(c.Progress, "\r[%s%s] %3d%%  step %d/%d  %d twins  %d readings  %d commands ",
		strings.Repeat("█", done), strings.Repeat("·", width-done), 100*(step+1)/(steps+1), step+1, steps+1, st.Twins, st.Readings, st.Commands)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func round(v float64) float64 { return math.Round(v*100) / 100 }
