// Package metrics holds the Prometheus metrics of the custos runtime, served
// on /metrics. Names are public (dashboards and alerts are built on them).
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is the set of runtime metrics, registered on its own registry.
type Metrics struct {
	Registry *prometheus.Registry

	Messages     prometheus.Counter     // input messages consumed
	Readings     prometheus.Counter     // events applied
	Duplicates   prometheus.Counter     // redeliveries skipped
	DLQ          *prometheus.CounterVec // dead-lettered input by reason
	Alerts       prometheus.Counter     // alerts raised
	BatchSize    prometheus.Histogram   // inputs per processed batch
	BatchSeconds prometheus.Histogram   // time to apply + commit a batch
	// PassivationSeconds is how long each passivation pass took: ingest
	// waits for it.
	PassivationSeconds prometheus.Histogram
	PublishErrors      prometheus.Counter
	// DeliveryGaps counts ingest restarts because a consumer's delivery
	// sequence skipped (input lost in transit, delivered again).
	DeliveryGaps prometheus.Counter
	// InputRemoved counts input messages removed from the input stream
	// (its retention) past the consumers' acknowledgement floor: at most
	// the input lost before it was applied.
	InputRemoved prometheus.Counter
	// InputPurgedBelow is the stream sequence below which applied input
	// was last purged (--input-retention applied; in a cluster the lowest
	// over the node's partitions).
	InputPurgedBelow prometheus.Gauge
	// PublishHealthy is 1 while publications (state to KV, alerts, dead
	// letters) succeed and 0 once one has failed for good (until one succeeds).
	PublishHealthy prometheus.Gauge

	// ContractSeconds is the latency of contract calls (init, apply or
	// view), observed by InstrumentContracts (apply and view sampled).
	ContractSeconds *prometheus.HistogramVec
	// ContractFuel is the fuel (metered instructions) each contract call
	// used, by entry point (init, apply, view, migrate).
	ContractFuel *prometheus.HistogramVec
	// ContractQuarantines counts modules quarantined by the watchdog.
	ContractQuarantines prometheus.Counter
	// StoreSeconds is the latency of store operations, observed by
	// InstrumentStore.
	StoreSeconds *prometheus.HistogramVec
	// HTTPRequests counts API requests by route pattern and status code.
	HTTPRequests *prometheus.CounterVec
	// HTTPSeconds is the latency of API requests by route pattern (streams
	// excluded).
	HTTPSeconds *prometheus.HistogramVec
	// StreamClients is the number of open /v1/stream connections.
	StreamClients prometheus.Gauge
}

// New returns registered metrics. funcs adds gauges computed at scrape
// time (resident twins, timers, …).
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: r,
		Messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "custos_ingest_messages_total", Help: "Input messages consumed from the input stream."}),
		Readings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "custos_ingest_events_applied_total", Help: "Events (readings, commands, timers) applied to twins."}),
		Duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "custos_ingest_duplicates_total", Help: "Redelivered inputs skipped because they were already applied."}),
		DLQ: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "custos_dlq_total", Help: "Inputs (or events of inputs) sent to custos.dlq.<reason>."}, []string{"reason"}),
		Alerts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "custos_alerts_total", Help: "Alerts raised by contracts and the runtime."}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "custos_ingest_batch_size", Help: "Input messages per processed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8)}),
		BatchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "custos_ingest_batch_seconds", Help: "Time to apply a batch and make it durable.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 3, 12)}),
		PassivationSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "custos_passivation_seconds", Help: "Time each passivation pass took (idle twins, and twins beyond --max-resident); ingest waits for it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 3, 11)}),
		PublishErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "custos_publish_errors_total", Help: "Failed publications of state, alerts or dead letters (retried)."}),
		InputRemoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "custos_ingest_input_removed_total", Help: "Input messages removed from stream CUSTOS_INPUT (--input-retention) past the consumers' acknowledgement floor: an upper bound of input lost unapplied (after a crash, applied but unacknowledged input counts too)."}),
		InputPurgedBelow: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "custos_ingest_input_purged_below", Help: "Stream sequence of CUSTOS_INPUT below which input applied and acknowledged was last removed (--input-retention applied; in a cluster the lowest over this node's partitions); 0 if none was."}),
		DeliveryGaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "custos_ingest_delivery_gaps_total", Help: "Ingest restarts because input delivered by JetStream never arrived (a gap in a consumer's delivery sequence); the lost input is delivered again."}),
		PublishHealthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "custos_publications_healthy", Help: "1 while publications of state, alerts and dead letters succeed; 0 after one failed for good (see /readyz for the reason)."}),
	}
	m.PublishHealthy.Set(1)
	m.ContractSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "custos_contract_call_seconds", Help: "Latency of contract calls (init, apply, view); apply and view are sampled 1 in 8.",
		Buckets: prometheus.ExponentialBuckets(1e-6, 3, 12)}, []string{"call"})
	m.ContractFuel = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "custos_contract_fuel", Help: "Fuel (metered WebAssembly instructions) used by each contract call, by entry point.",
		Buckets: prometheus.ExponentialBuckets(100, 4, 12)}, []string{"call"})
	m.ContractQuarantines = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "custos_contract_quarantines_total", Help: "Contract modules quarantined by the wall-clock watchdog."})
	m.StoreSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "custos_store_seconds", Help: "Latency of store operations (commit, twin, twins, history, alerts).",
		Buckets: prometheus.ExponentialBuckets(1e-5, 3, 12)}, []string{"op"})
	m.HTTPRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "custos_http_requests_total", Help: "HTTP API requests by route and status code."}, []string{"route", "code"})
	m.HTTPSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "custos_http_request_seconds", Help: "HTTP API request latency by route (streams excluded).",
		Buckets: prometheus.ExponentialBuckets(1e-4, 3, 10)}, []string{"route"})
	m.StreamClients = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "custos_http_stream_clients", Help: "Open /v1/stream (Server-Sent Events) connections."})
	r.MustRegister(m.Messages, m.Readings, m.Duplicates, m.DLQ, m.Alerts, m.BatchSize, m.BatchSeconds, m.PassivationSeconds, m.PublishErrors, m.DeliveryGaps, m.InputRemoved, m.InputPurgedBelow, m.PublishHealthy,
		m.ContractSeconds, m.ContractFuel, m.ContractQuarantines, m.StoreSeconds, m.HTTPRequests, m.HTTPSeconds, m.StreamClients)
	return m
}

// Gauge registers a gauge whose value is computed at scrape time.
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Counter registers a counter whose value is computed at scrape time.
func (m *Metrics) Counter(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}
