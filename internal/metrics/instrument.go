package metrics

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/custos-dev/custos/twin"
)

// InstrumentStore returns s with the latency of every operation observed
// in custos_store_seconds{op}. It adds two clock reads and one histogram
// observation per call (well under a microsecond).
func (m *Metrics) InstrumentStore(s twin.Store) twin.Store {
	return &timedStore{Store: s, commit: m.StoreSeconds.WithLabelValues("commit"),
		twin: m.StoreSeconds.WithLabelValues("twin"), twins: m.StoreSeconds.WithLabelValues("twins"),
		history: m.StoreSeconds.WithLabelValues("history"), alerts: m.StoreSeconds.WithLabelValues("alerts")}
}

type timedStore struct {
	twin.Store
	commit, twin, twins, history, alerts prometheus.Observer
}

var _ twin.Store = (*timedStore)(nil)

func since(o prometheus.Observer, t0 time.Time) { o.Observe(time.Since(t0).Seconds()) }

func (s *timedStore) Twin(ctx context.Context, id string) (*twin.Twin, error) {
	defer since(s.twin, time.Now())
	return s.Store.Twin(ctx, id)
}

func (s *timedStore) Twins(ctx context.Context, q twin.TwinQuery) ([]*twin.Twin, error) {
	defer since(s.twins, time.Now())
	return s.Store.Twins(ctx, q)
}

func (s *timedStore) Commit(ctx context.Context, b *twin.Batch) error {
	defer since(s.commit, time.Now())
	return s.Store.Commit(ctx, b)
}

func (s *timedStore) History(ctx context.Context, q twin.HistoryQuery) ([]twin.Record, error) {
	defer since(s.history, time.Now())
	return s.Store.History(ctx, q)
}

func (s *timedStore) Alerts(ctx context.Context, q twin.AlertQuery) ([]twin.Alert, error) {
	defer since(s.alerts, time.Now())
	return s.Store.Alerts(ctx, q)
}

// TimerTwins passes through to the wrapped store's twin.TimerIndex when it
// has one.
func (s *timedStore) TimerTwins(ctx context.Context, after string, limit int) ([]twin.TwinTimers, error) {
	if ti, ok := s.Store.(twin.TimerIndex); ok {
		return ti.TimerTwins(ctx, after, limit)
	}
	return nil, errors.ErrUnsupported
}

// Ping passes through to the wrapped store when it has one (readiness).
func (s *timedStore) Ping(ctx context.Context) error {
	if p, ok := s.Store.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	return nil
}

// contractSample: one contract call in contractSample is timed. Timing
// every call cost ~190 ns (two clock reads and a histogram update) against
// calls of a few microseconds; a 1-in-8 sample keeps the histogram's shape
// for ~25 ns per call.
const contractSample = 8

// InstrumentContracts returns h with the latency of contract calls
// observed in custos_contract_call_seconds{call}, sampling one call in
// contractSample (the histogram's _count is therefore about 1/8 of the calls).
func (m *Metrics) InstrumentContracts(h twin.ContractHost) twin.ContractHost {
	return &timedHost{ContractHost: h, init: m.ContractSeconds.WithLabelValues("init"),
		apply: m.ContractSeconds.WithLabelValues("apply"), view: m.ContractSeconds.WithLabelValues("view")}
}

type timedHost struct {
	twin.ContractHost
	init, apply, view prometheus.Observer
}

var _ twin.ContractHost = (*timedHost)(nil)

func (h *timedHost) Contract(ctx context.Context, module twin.Hash) (twin.Contract, error) {
	c, err := h.ContractHost.Contract(ctx, module)
	if err != nil {
		return nil, err
	}
	tc := &timedContract{Contract: c, h: h}
	if m, ok := c.(twin.Migrator); ok {
		// Keep custos_migrate visible: the runtime upgrades twins only to
		// modules that are Migrators.
		return &timedMigrator{timedContract: tc, m: m}, nil
	}
	return tc, nil
}

type timedMigrator struct {
	*timedContract
	m twin.Migrator
}

func (c *timedMigrator) Migrate(ctx context.Context, call twin.Call, state, event []byte) (twin.Output, error) {
	return c.m.Migrate(ctx, call, state, event)
}

type timedContract struct {
	twin.Contract
	h *timedHost
}

func sampled() bool { return rand.Uint32()%contractSample == 0 }

func (c *timedContract) Init(ctx context.Context, call twin.Call, event []byte) (twin.Output, error) {
	defer since(c.h.init, time.Now()) // rare: always timed
	return c.Contract.Init(ctx, call, event)
}

func (c *timedContract) Apply(ctx context.Context, call twin.Call, state, event []byte) (twin.Output, error) {
	if !sampled() {
		return c.Contract.Apply(ctx, call, state, event)
	}
	defer since(c.h.apply, time.Now())
	return c.Contract.Apply(ctx, call, state, event)
}

func (c *timedContract) View(ctx context.Context, call twin.Call, state []byte) ([]byte, error) {
	if !sampled() {
		return c.Contract.View(ctx, call, state)
	}
	defer since(c.h.view, time.Now())
	return c.Contract.View(ctx, call, state)
}
