// Package httpapi serves the custos HTTP API (/v1/...), health endpoints and
// /metrics. Every error is JSON {"error": "...", "code": "..."} with a
// fitting status.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/custos-dev/custos/internal/metrics"
	"github.com/custos-dev/custos/internal/web"
	"github.com/custos-dev/custos/twin"
)

// Commands publishes commands into the input stream.
type Commands interface {
	PublishCommand(ctx context.Context, id string, cmd *twin.Command) (uint64, error)
}

// Policies resolves and lists contract modules.
type Policies interface {
	Resolve(ctx context.Context, name, version string) (twin.ContractRef, error)
	Policies() []twin.ContractRef
}

// Config configures the API server.
type Config struct {
	Store    twin.Store
	Runtime  *twin.Runtime
	Commands Commands
	Policies Policies
	Conn     *nats.Conn // for /v1/stream
	Registry *prometheus.Registry
	// Ready reports whether ingest runs and the store answers (for /readyz).
	Ready func(ctx context.Context) error
	// Cluster, if set, gives this node's part of a cluster (leases held,
	// fences), shown as "cluster" in /readyz.
	Cluster func() any
	// Wait, if set, replaces Runtime.Wait for the result of a command input
	// (a cluster node waits for the twin's owner).
	Wait   func(ctx context.Context, id string, seq uint64) (twin.Result, error)
	Logger *slog.Logger
	// CommandTimeout bounds how long a create or event request waits for
	// the runtime to apply it (default 10 s).
	CommandTimeout time.Duration

	// Auth, if set, requires bearer tokens on everything but /healthz,
	// /readyz, /v1/openapi.json and the dashboard's static files. Without
	// it every request acts as admin: serve only on loopback (CheckListen).
	Auth *Tokens
	// Metrics, if set, counts requests (custos_http_requests_total, …).
	Metrics *metrics.Metrics
	// BodyTimeout bounds the time to receive a request body (default 30 s).
	BodyTimeout time.Duration
	// JS is the JetStream context for /v1/stream (default: from Conn).
	JS jetstream.JetStream

	// Proof returns the proof bundle (any JSON value) of a twin's digest
	// at seq. Nil: GET /v1/twins/{id}/proof answers 501 anchoring_disabled.
	// Errors wrapping ErrNotAnchored or twin.ErrNotFound answer 404.
	Proof func(ctx context.Context, twin string, seq uint64) (any, error)
	// Anchors returns the anchoring status (any JSON value) for
	// GET /v1/anchors. Nil: 501 anchoring_disabled.
	Anchors func(ctx context.Context) (any, error)
	// Verify checks a proof bundle against the chain and returns a report
	// (any JSON value) for POST /v1/verify. Nil: 501 anchoring_disabled.
	// An error wrapping ErrInvalidProof answers 400.
	Verify func(ctx context.Context, bundle json.RawMessage) (any, error)

	// Deploy validates, dry-runs, stores and registers a contract module for
	// POST /v1/policies?name=&version= (body: the wasm bytes). Errors
	// wrapping ErrInvalidModule answer 422, ErrConflict 409. Nil: 501.
	Deploy func(ctx context.Context, name, version string, wasm []byte) (any, error)
	// ListPolicies, if set, answers GET /v1/policies (with twin counts);
	// otherwise Policies.Policies() does.
	ListPolicies func(ctx context.Context) (any, error)
	// Module returns the bytes of a registered module (built-in or
	// deployed) by sha256, for GET /v1/policies/{sha256} (an auditor's
	// replay needs them). Errors wrapping twin.ErrUnknownPolicy answer
	// 404. Nil: 501.
	Module func(ctx context.Context, sha twin.Hash) ([]byte, error)
	// Upgrade resolves an upgrade request (policy "" = the twin's current
	// one, version "" = newest) to the command that moves the twin to that
	// module. Nil: upgrades answer 501.
	Upgrade func(ctx context.Context, twin, policy, version string) (*twin.Command, error)

	// Routes are further endpoints (pattern → handler, e.g. the EPCIS
	// exchange), served with the same authentication and metrics. POST
	// bodies under /v1/epcis/ may be up to MaxEPCISBody bytes.
	Routes map[string]http.HandlerFunc
}

// MaxEPCISBody caps the body of POST /v1/epcis/... (an EPCIS document).
const MaxEPCISBody = 64 << 20

// maxModule caps the body of POST /v1/policies.
const maxModule = 16 << 20

// Server is the HTTP API.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	js  jetstream.JetStream
}

// maxBody caps request bodies.
const maxBody = 1 << 20

// New returns the API handler.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 30 * time.Second
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 10 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), js: cfg.JS}
	if s.js == nil && cfg.Conn != nil {
		s.js, _ = jetstream.New(cfg.Conn)
	}
	s.handle("GET /v1/twins", s.listTwins)
	s.handle("POST /v1/twins", s.createTwin)
	s.handle("GET /v1/twins/{id}", s.getTwin)
	s.handle("POST /v1/twins/{id}/events", s.postEvent)
	s.handle("GET /v1/twins/{id}/events", s.lifecycle)
	s.handle("GET /v1/twins/{id}/history", s.history)
	s.handle("GET /v1/twins/{id}/alerts", s.alerts)
	s.handle("GET /v1/twins/{id}/proof", s.proof)
	s.handle("GET /v1/alerts", s.allAlerts)
	s.handle("GET /v1/policies", s.policies)
	s.handle("POST /v1/policies", s.deploy)
	s.handle("GET /v1/policies/{sha256}", s.module)
	s.handle("GET /v1/anchors", s.anchors)
	s.handle("POST /v1/verify", s.verify)
	s.handle("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openapiJSON)
	})
	s.handle("GET /v1/stream", s.stream)
	for pattern, h := range cfg.Routes {
		s.handle(pattern, h)
	}
	s.handle("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.handle("GET /readyz", s.readyz)
	if cfg.Registry != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	}
	assets := web.Handler()
	s.mux.Handle("GET /assets/", assets)
	s.mux.Handle("GET /favicon.ico", assets)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			assets.ServeHTTP(w, r)
			return
		}
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			r2 := r.Clone(r.Context())
			r2.Method = m
			if _, pat := s.mux.Handler(r2); pat != "" && pat != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" "+r.URL.Path+": allowed "+strings.Join(allow, ", "))
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s
}

// handle registers h under pattern, counted in the HTTP metrics under the
// pattern as route.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	m := s.cfg.Metrics
	if m == nil {
		s.mux.HandleFunc(pattern, h)
		return
	}
	route := pattern
	lat := m.HTTPSeconds.WithLabelValues(route)
	stream := strings.HasSuffix(pattern, "/v1/stream")
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(sw, r)
		m.HTTPRequests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		if !stream {
			lat.Observe(time.Since(t0).Seconds())
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) { w.code = code; w.ResponseWriter.WriteHeader(code) }
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r, ok := s.authorize(w, r)
	if !ok {
		return
	}
	limit := int64(maxBody)
	if r.Method == http.MethodPost && r.URL.Path == "/v1/policies" {
		limit = maxModule
	}
	if r.Method != http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/epcis/") {
		limit = MaxEPCISBody
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// A body must arrive within Config.BodyTimeout (a client sending one byte
		// every few seconds would otherwise hold the connection for ever).
		// Not a server-wide ReadTimeout: that would also end /v1/stream.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	}
	s.mux.ServeHTTP(w, r)
}

// NewHTTPServer returns the http.Server custos serves h with: headers within
// 10 s, request bodies within Config.BodyTimeout (see ServeHTTP), idle keep-alive
// connections closed after 2 minutes. No write timeout: /v1/stream is
// long-lived.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
}

type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: msg, Code: code})
}

// WriteJSON answers with v as JSON, for handlers in Config.Routes.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// WriteError answers with the API's error body {"error", "code"}.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	writeError(w, status, code, msg)
}

// storeError maps a store error to a response.
func (s *Server) storeError(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, twin.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", what+" not found")
		return
	}
	s.log.Error("store", "what", what, "err", err)
	writeError(w, http.StatusServiceUnavailable, "store_unavailable", "store: "+err.Error())
}

// decodeOne decodes exactly one JSON value from r into v, refusing unknown
// fields and anything but white space after the value.
func decodeOne(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the JSON value")
		}
		return fmt.Errorf("after the JSON value: %w", err)
	}
	return nil
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeOne(r.Body, v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d bytes", maxBody))
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid_json", "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func (s *Server) twinID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !twin.ValidID(id) {
		writeError(w, http.StatusBadRequest, "invalid_id", "twin ids are 1–128 characters of [A-Za-z0-9_-]")
		return "", false
	}
	if !PrincipalFrom(r.Context()).Sees(id) {
		writeError(w, http.StatusNotFound, "not_found", "twin "+id+" not found")
		return "", false
	}
	return id, true
}

func intParam(w http.ResponseWriter, r *http.Request, name string, def, max int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > max {
		writeError(w, http.StatusBadRequest, "invalid_query", fmt.Sprintf("%s must be an integer in 0..%d", name, max))
		return 0, false
	}
	return n, true
}

// window is the paging (limit, after) and time range (from, to) of a
// history or alerts request.
type window struct {
	limit    int
	after    uint64
	from, to time.Time
}

// windowParams reads ?limit= (default 100, at most 1000), ?after=, ?from=
// and ?to=, answering 400 on a bad value.
func windowParams(w http.ResponseWriter, r *http.Request) (window, bool) {
	var win window
	limit, ok := intParam(w, r, "limit", 100, 1000)
	if !ok {
		return win, false
	}
	if limit == 0 {
		limit = 100
	}
	after, ok := intParam(w, r, "after", 0, 1<<62)
	if !ok {
		return win, false
	}
	if win.from, ok = timeParam(w, r, "from"); !ok {
		return win, false
	}
	if win.to, ok = timeParam(w, r, "to"); !ok {
		return win, false
	}
	win.limit, win.after = limit, uint64(after)
	return win, true
}

func timeParam(w http.ResponseWriter, r *http.Request, name string) (time.Time, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_query", name+" must be an RFC 3339 time")
		return time.Time{}, false
	}
	return t, true
}

// CreateRequest is the body of POST /v1/twins.
type CreateRequest struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	Policy    string          `json:"policy"`
	Version   string          `json:"version,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Custodian string          `json:"custodian,omitempty"`
	Parent    string          `json:"parent,omitempty"`
	// TS is the event time of the create (RFC 3339; default: now).
	TS string `json:"ts,omitempty"`
	// Lateness is the twin's allowed-lateness window, a Go duration ("10m").
	Lateness string `json:"lateness,omitempty"`
}

func (s *Server) createTwin(w http.ResponseWriter, r *http.Request) {
	var req CreateRequest
	if !decode(w, r, &req) {
		return
	}
	if !twin.ValidID(req.ID) {
		writeError(w, http.StatusBadRequest, "invalid_id", "id must be 1–128 characters of [A-Za-z0-9_-]")
		return
	}
	if !PrincipalFrom(r.Context()).Sees(req.ID) {
		writeError(w, http.StatusForbidden, "forbidden", "this token's tenant may only create twins named "+PrincipalFrom(r.Context()).Tenant+"-…")
		return
	}
	if req.Kind == "" {
		writeError(w, http.StatusBadRequest, "invalid_command", "kind is required (shipment, pallet, case, …)")
		return
	}
	if req.Policy == "" {
		writeError(w, http.StatusBadRequest, "invalid_command", "policy is required (e.g. \"coldchain\")")
		return
	}
	ctx := r.Context()
	if _, err := s.cfg.Store.Twin(ctx, req.ID); err == nil {
		writeError(w, http.StatusConflict, string(twin.ReasonTwinExists), "twin "+req.ID+" already exists")
		return
	} else if !errors.Is(err, twin.ErrNotFound) {
		s.storeError(w, "twin", err)
		return
	}
	if req.Parent != "" && !s.related(w, r, "parent", []string{req.Parent}) {
		return
	}
	ref, err := s.cfg.Policies.Resolve(ctx, req.Policy, req.Version)
	if err != nil {
		writeError(w, http.StatusBadRequest, string(twin.ReasonUnknownPolicy), err.Error())
		return
	}
	cmd := &twin.Command{Type: "create", TS: req.TS, Kind: req.Kind, Contract: &ref, Params: req.Params, Custodian: req.Custodian, Parent: req.Parent, Lateness: req.Lateness}
	if _, err := cmd.Input(req.ID, time.Now()); err != nil {
		writeInputError(w, err)
		return
	}
	s.command(w, r, req.ID, cmd, http.StatusCreated)
}

// related checks the twins a request names besides its own (a parent, the
// children to aggregate): each must exist and be the principal's to see.
// It answers 403 or 422 and returns false otherwise.
func (s *Server) related(w http.ResponseWriter, r *http.Request, what string, ids []string) bool {
	p := PrincipalFrom(r.Context())
	for _, id := range ids {
		if !twin.ValidID(id) {
			writeError(w, http.StatusBadRequest, "invalid_id", what+" "+truncate(id, 140)+": not a twin id")
			return false
		}
		if !p.Sees(id) {
			writeError(w, http.StatusForbidden, "forbidden", what+" "+id+" is not this token's tenant's")
			return false
		}
		if _, err := s.cfg.Store.Twin(r.Context(), id); errors.Is(err, twin.ErrNotFound) {
			writeError(w, http.StatusUnprocessableEntity, string(twin.ReasonUnknownTwin), what+" "+id+" does not exist")
			return false
		} else if err != nil {
			s.storeError(w, what+" "+id, err)
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func writeInputError(w http.ResponseWriter, err error) {
	var ie *twin.InputError
	if !errors.As(err, &ie) {
		writeError(w, http.StatusBadRequest, "invalid_command", err.Error())
		return
	}
	status := http.StatusBadRequest
	switch ie.Reason {
	case twin.ReasonTwinExists:
		status = http.StatusConflict
	case twin.ReasonUnknownTwin:
		status = http.StatusNotFound
	case twin.ReasonTwinClosed, twin.ReasonContractRefused, twin.ReasonContractFailed:
		status = http.StatusUnprocessableEntity
	case twin.ReasonTooLarge:
		status = http.StatusRequestEntityTooLarge
	}
	writeError(w, status, string(ie.Reason), ie.Detail)
}

// command publishes cmd, waits until the runtime applied it and answers
// with the twin.
func (s *Server) command(w http.ResponseWriter, r *http.Request, id string, cmd *twin.Command, okStatus int) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.CommandTimeout)
	defer cancel()
	seq, err := s.cfg.Commands.PublishCommand(ctx, id, cmd)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "nats_unavailable", err.Error())
		return
	}
	var res twin.Result
	if s.cfg.Wait != nil {
		res, err = s.cfg.Wait(ctx, id, seq)
	} else {
		res, err = s.cfg.Runtime.Wait(ctx, seq)
	}
	if err != nil {
		writeError(w, http.StatusAccepted, "pending", fmt.Sprintf("accepted as input %d but not applied within %s", seq, s.cfg.CommandTimeout))
		return
	}
	if res.Err != nil {
		writeInputError(w, res.Err)
		return
	}
	if len(res.Failed) > 0 {
		writeInputError(w, res.Failed[0].Err)
		return
	}
	t, err := s.cfg.Store.Twin(ctx, id)
	if err != nil {
		s.storeError(w, "twin", err)
		return
	}
	writeJSON(w, okStatus, t)
}

func (s *Server) getTwin(w http.ResponseWriter, r *http.Request) {
	id, ok := s.twinID(w, r)
	if !ok {
		return
	}
	t, err := s.cfg.Store.Twin(r.Context(), id)
	if err != nil {
		s.storeError(w, "twin "+id, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) postEvent(w http.ResponseWriter, r *http.Request) {
	id, ok := s.twinID(w, r)
	if !ok {
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d bytes", maxBody))
		return
	}
	var peek struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &peek) == nil && peek.Type == "upgrade" {
		s.upgrade(w, r, id, raw)
		return
	}
	var cmd twin.Command
	if !decodeBytes(w, raw, &cmd) {
		return
	}
	if cmd.Type == "create" {
		writeError(w, http.StatusBadRequest, "invalid_command", "create twins with POST /v1/twins")
		return
	}
	if _, err := cmd.Input(id, time.Now()); err != nil {
		writeInputError(w, err)
		return
	}
	cur, err := s.cfg.Store.Twin(r.Context(), id)
	if err != nil {
		s.storeError(w, "twin "+id, err)
		return
	}
	if cmd.Type == "status" && cur.Status == twin.StatusCompromised && cmd.Status != twin.StatusClosed {
		// The runtime records the event but keeps the status: say so
		// instead of a 200 that changes nothing.
		writeError(w, http.StatusConflict, "twin_compromised", "twin "+id+" is compromised (set by its contract, for good); status "+cmd.Status+" is not applied (close is)")
		return
	}
	if cmd.Type == "aggregate" && !s.related(w, r, "child", cmd.Children) {
		return
	}
	if cmd.Type == "disaggregate" {
		for _, ch := range cmd.Children {
			if !PrincipalFrom(r.Context()).Sees(ch) {
				writeError(w, http.StatusForbidden, "forbidden", "child "+ch+" is not this token's tenant's")
				return
			}
		}
	}
	s.command(w, r, id, &cmd, http.StatusOK)
}

func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	id, ok := s.twinID(w, r)
	if !ok {
		return
	}
	s.alertQuery(w, r, id)
}

func (s *Server) allAlerts(w http.ResponseWriter, r *http.Request) { s.alertQuery(w, r, "") }

func (s *Server) alertQuery(w http.ResponseWriter, r *http.Request, id string) {
	win, ok := windowParams(w, r)
	if !ok {
		return
	}
	if id != "" {
		if _, err := s.cfg.Store.Twin(r.Context(), id); err != nil {
			s.storeError(w, "twin "+id, err)
			return
		}
	}
	as, err := s.cfg.Store.Alerts(r.Context(), twin.AlertQuery{Twin: id, AfterN: win.after, From: win.from, To: win.to, Limit: win.limit})
	if err != nil {
		s.storeError(w, "alerts", err)
		return
	}
	if p := PrincipalFrom(r.Context()); p.Tenant != "" {
		kept := as[:0]
		for _, a := range as {
			if p.Sees(a.Twin) {
				kept = append(kept, a)
			}
		}
		as = kept
	}
	if as == nil {
		as = []twin.Alert{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": as})
}

func (s *Server) policies(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ListPolicies != nil {
		ps, err := s.cfg.ListPolicies(r.Context())
		if err != nil {
			s.storeError(w, "policies", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"policies": ps})
		return
	}
	ps := s.cfg.Policies.Policies()
	if ps == nil {
		ps = []twin.ContractRef{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": ps})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not_ready", err.Error())
			return
		}
	}
	if s.cfg.Cluster != nil {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "cluster": s.cfg.Cluster()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// decodeBytes decodes a JSON body already read, refusing unknown fields.
func decodeBytes(w http.ResponseWriter, b []byte, v any) bool {
	if err := decodeOne(bytes.NewReader(b), v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// UpgradeRequest is the body of an upgrade on POST /v1/twins/{id}/events.
type UpgradeRequest struct {
	Type    string `json:"type"`              // "upgrade"
	Policy  string `json:"policy,omitempty"`  // default: the twin's current policy
	Version string `json:"version,omitempty"` // default: the newest
	TS      string `json:"ts,omitempty"`
}

// upgrade moves a twin to another version of its contract (custos_migrate).
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, id string, raw []byte) {
	if s.cfg.Upgrade == nil {
		writeError(w, http.StatusNotImplemented, "upgrades_disabled", "this runtime does not deploy modules")
		return
	}
	var req UpgradeRequest
	if !decodeBytes(w, raw, &req) {
		return
	}
	cmd, err := s.cfg.Upgrade(r.Context(), id, req.Policy, req.Version)
	switch {
	case errors.Is(err, twin.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
		return
	case errors.Is(err, twin.ErrUnknownPolicy):
		writeError(w, http.StatusNotFound, string(twin.ReasonUnknownPolicy), err.Error())
		return
	case err != nil:
		writeInputError(w, err)
		return
	}
	cmd.TS = req.TS
	if _, err := cmd.Input(id, time.Now()); err != nil {
		writeInputError(w, err)
		return
	}
	s.command(w, r, id, cmd, http.StatusOK)
}

// module serves GET /v1/policies/{sha256}: the module's bytes.
func (s *Server) module(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Module == nil {
		writeError(w, http.StatusNotImplemented, "modules_disabled", "this runtime does not serve modules")
		return
	}
	var sha twin.Hash
	if err := sha.UnmarshalText([]byte(r.PathValue("sha256"))); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_path", "want GET /v1/policies/{sha256} with 64 hex digits")
		return
	}
	wasm, err := s.cfg.Module(r.Context(), sha)
	switch {
	case errors.Is(err, twin.ErrUnknownPolicy):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "module_unavailable", err.Error())
	default:
		w.Header().Set("Content-Type", "application/wasm")
		_, _ = w.Write(wasm)
	}
}

// deploy serves POST /v1/policies?name=&version= with the wasm as body.
func (s *Server) deploy(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Deploy == nil {
		writeError(w, http.StatusNotImplemented, "deploys_disabled", "this runtime does not deploy modules")
		return
	}
	name, version := r.URL.Query().Get("name"), r.URL.Query().Get("version")
	if name == "" || version == "" {
		writeError(w, http.StatusBadRequest, "invalid_query", "name and version are required: POST /v1/policies?name=coldchain&version=1.2.0")
		return
	}
	wasm, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("module over %d bytes", maxModule))
		return
	}
	ref, err := s.cfg.Deploy(r.Context(), name, version, wasm)
	switch {
	case errors.Is(err, ErrInvalidModule):
		writeError(w, http.StatusUnprocessableEntity, "invalid_module", err.Error())
	case errors.Is(err, ErrConflict):
		writeError(w, http.StatusConflict, "conflict", err.Error())
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "deploy_failed", err.Error())
	default:
		writeJSON(w, http.StatusCreated, ref)
	}
}
