// Package policytest runs a contract module offline exactly as the runtime
// does — twin.Runtime on contracts.Host with the default limits, over an
// in-memory store — and reports, event by event, the states, digests,
// statuses, alerts and views it produced. It is what `custos policy test`
// runs, and a golden-file test runner for integrators' CI.
//
// # Events file
//
// JSON Lines; blank lines and lines starting with # or // are skipped. Each
// line is one of:
//
//   - a reading, as devices publish it on custos.telemetry.<twin>:
//     {"ts":"2026-11-25T10:00:00Z","type":"temperature","value":9.5}
//     or a batch {"readings":[…]} (each reading is applied as its own event);
//   - {"command":{…}}: a command as on custos.command.<twin> or
//     POST /v1/twins/{id}/events (custody, status, close, aggregate,
//     disaggregate);
//   - {"upgrade":{"module":"v2.wasm","version":"2.0.0"}}: deploy another
//     module (path relative to Config.Dir) under the same name and move the
//     twin to it through custos_migrate;
//   - {"advance":"2026-11-25T12:00:00Z"}: let time pass (fires the due timers).
//
// The twin is created before the first line with Config.Params. Timers the
// contract sets fire, in order, before the first event at or after their
// time (and on "advance"), as the runtime's timer wheel would deliver them.
// A reading without "ts" gets the time of the previous event.
//
// # Output
//
// One [Line] per event, as JSON Lines; see [Compare] for how an expected
// file is matched.
package policytest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/twin"
)

// Config describes the twin under test.
type Config struct {
	Module    []byte          // the contract module (wasm bytes)
	Name      string          // policy name (default "policy")
	Version   string          // version (default "0.0.0-test")
	Twin      string          // twin id (default "twin-1")
	Kind      string          // twin kind (default "pallet")
	Params    json.RawMessage // contract params (default {})
	Custodian string
	Parent    string
	// Start is the create time; default: the time of the first event that
	// has one, else 2026-01-01T00:00:00Z.
	Start time.Time
	// Dir is where modules named by upgrade lines are read from.
	Dir string
	// Host configures the contract host; the zero value is the runtime's
	// defaults (same limits as `custos run`: fuel, memory pages, output).
	Host contracts.Config
	// Trusted registers the module as the runtime registers its built-in
	// policies; the default is a deployment (validation, dry run). Both
	// are metered with the same fuel budget.
	Trusted bool
}

// Line is what one event did.
type Line struct {
	Line      int             `json:"line"` // line of the events file (0: the create event)
	Seq       uint64          `json:"seq"`  // the twin's seq after the event
	Kind      string          `json:"kind"` // event kind (create, reading, timer, custody, …)
	Type      string          `json:"type,omitempty"`
	Time      time.Time       `json:"ts"`
	StateHash *twin.Hash      `json:"state_hash,omitempty"`
	Digest    *twin.Hash      `json:"digest,omitempty"`
	Status    string          `json:"status"`
	Alerts    []Alert         `json:"alerts,omitempty"`
	View      json.RawMessage `json:"view,omitempty"`
	// Fuel is the fuel the event's contract calls used (views excluded).
	Fuel uint64 `json:"fuel,omitempty"`
	// Failure is the kind of a contract failure (twin.Failure*: fuel,
	// memory, trap, …), if the contract failed on the event.
	Failure string `json:"failure,omitempty"`
	// Error says why the event was not applied (reason: detail).
	Error string `json:"error,omitempty"`
}

// Alert is an alert an event raised.
type Alert struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// ErrBadEvents: the events file has a line that is not one of the forms in
// the package doc.
var ErrBadEvents = errors.New("bad events file")

// Run creates the twin and applies every line of events to it, and
// returns one Line per event. Events the runtime refuses (invalid input,
// contract rejection or failure) are Lines with Error set, as the runtime
// would send them to the dead-letter subject; a module that fails
// validation or the dry run is an error wrapping contracts.ErrInvalidModule.
func Run(ctx context.Context, cfg Config, events io.Reader) ([]Line, error) {
	if cfg.Name == "" {
		cfg.Name = "policy"
	}
	if cfg.Version == "" {
		cfg.Version = "0.0.0-test"
	}
	if cfg.Twin == "" {
		cfg.Twin = "twin-1"
	}
	if cfg.Kind == "" {
		cfg.Kind = "pallet"
	}
	if cfg.Host.Logger == nil {
		cfg.Host.Logger = slog.New(slog.DiscardHandler)
	}
	lines, err := readEvents(events)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg}
	hostCfg := cfg.Host
	onCall := hostCfg.OnCall
	hostCfg.OnCall = func(c contracts.CallStats) {
		if c.Entry != "view" {
			r.fuel.Add(c.Fuel)
		}
		if c.Kind != "" {
			r.kind.Store(&c.Kind)
		}
		if onCall != nil {
			onCall(c)
		}
	}
	host, err := contracts.NewHost(ctx, hostCfg)
	if err != nil {
		return nil, err
	}
	defer host.Close(context.WithoutCancel(ctx))
	register := host.Deploy
	if cfg.Trusted {
		register = host.RegisterTrusted
	}
	ref, err := register(ctx, cfg.Name, cfg.Version, cfg.Module)
	if err != nil {
		return nil, err
	}
	st := newMemStore()
	rt, err := twin.New(twin.Config{Store: st, Contracts: host, Shards: 1, Logger: cfg.Host.Logger})
	if err != nil {
		return nil, err
	}
	r.rt, r.st, r.host = rt, st, host
	start := cfg.Start
	if start.IsZero() {
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, l := range lines {
			if t, ok := l.firstTime(); ok {
				start = t
				break
			}
		}
	}
	r.last = start.UTC()
	create := twin.Command{Type: "create", Kind: cfg.Kind, Contract: &ref, Params: cfg.Params, Custodian: cfg.Custodian, Parent: cfg.Parent}
	in, err := create.Input(cfg.Twin, r.last)
	if err != nil {
		return nil, fmt.Errorf("create twin: %w", err)
	}
	if err := r.process(ctx, 0, *in); err != nil {
		return nil, err
	}
	if r.out[0].Error != "" {
		return r.out, nil // the contract refused its params: nothing else can apply
	}
	for _, l := range lines {
		if err := r.line(ctx, l); err != nil {
			return r.out, err
		}
	}
	return r.out, nil
}

type runner struct {
	cfg  Config
	rt   *twin.Runtime
	st   *memStore
	host *contracts.Host
	seq  uint64 // input stream sequence
	last time.Time
	out  []Line
	fuel atomic.Uint64          // fuel used by the current input's calls
	kind atomic.Pointer[string] // failure kind of its last failed call
}

// eventLine is one parsed line of the events file.
type eventLine struct {
	n   int
	raw []byte
	env struct {
		Command json.RawMessage `json:"command"`
		Upgrade *struct {
			Module  string `json:"module"`
			Version string `json:"version"`
		} `json:"upgrade"`
		Advance string `json:"advance"`
		TS      string `json:"ts"`
	}
}

func (l *eventLine) firstTime() (time.Time, bool) {
	ts := l.env.TS
	if ts == "" && l.env.Advance == "" && l.env.Command == nil && l.env.Upgrade == nil {
		var b struct {
			Readings []struct {
				TS string `json:"ts"`
			} `json:"readings"`
		}
		if json.Unmarshal(l.raw, &b) == nil && len(b.Readings) > 0 {
			ts = b.Readings[0].TS
		}
	}
	if ts == "" && l.env.Command != nil {
		var c struct {
			TS string `json:"ts"`
		}
		_ = json.Unmarshal(l.env.Command, &c)
		ts = c.TS
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	return t.UTC(), err == nil
}

func readEvents(r io.Reader) ([]eventLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var out []eventLine
	n := 0
	for sc.Scan() {
		n++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' || bytes.HasPrefix(b, []byte("//")) {
			continue
		}
		l := eventLine{n: n, raw: append([]byte(nil), b...)}
		if err := json.Unmarshal(b, &l.env); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadEvents, n, err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

func (r *runner) line(ctx context.Context, l eventLine) error {
	id := r.cfg.Twin
	switch {
	case l.env.Advance != "":
		t, err := time.Parse(time.RFC3339Nano, l.env.Advance)
		if err != nil {
			return fmt.Errorf("%w: line %d: advance: %v", ErrBadEvents, l.n, err)
		}
		return r.fireTimers(ctx, l.n, t.UTC())
	case l.env.Upgrade != nil:
		u := l.env.Upgrade
		if u.Module == "" || u.Version == "" {
			return fmt.Errorf("%w: line %d: upgrade needs module and version", ErrBadEvents, l.n)
		}
		path := u.Module
		if !filepath.IsAbs(path) {
			path = filepath.Join(r.cfg.Dir, path)
		}
		wasm, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("line %d: upgrade: %w", l.n, err)
		}
		ref, err := r.host.Deploy(ctx, r.cfg.Name, u.Version, wasm)
		if err != nil {
			return fmt.Errorf("line %d: upgrade: %w", l.n, err)
		}
		in, err := (&twin.Command{Type: "upgrade", Contract: &ref}).Input(id, r.last)
		if err != nil {
			return fmt.Errorf("line %d: upgrade: %w", l.n, err)
		}
		return r.process(ctx, l.n, *in)
	case l.env.Command != nil:
		in, err := twin.ParseCommand(id, l.env.Command, r.last)
		if err != nil {
			r.refused(ctx, l.n, "command", err)
			return nil
		}
		if err := r.fireTimers(ctx, l.n, in.Events[0].Time); err != nil {
			return err
		}
		return r.process(ctx, l.n, *in)
	}
	evs, err := twin.ParseTelemetry(l.raw, r.last)
	if err != nil {
		r.refused(ctx, l.n, "reading", err)
		return nil
	}
	for _, e := range evs {
		if err := r.fireTimers(ctx, l.n, e.Time); err != nil {
			return err
		}
		if err := r.process(ctx, l.n, twin.Input{Twin: id, Events: []twin.Event{e}}); err != nil {
			return err
		}
	}
	return nil
}

// refused records a line the runtime would not even parse.
func (r *runner) refused(ctx context.Context, n int, kind string, err error) {
	l := Line{Line: n, Kind: kind, Time: r.last, Error: err.Error()}
	if t, err := r.st.Twin(ctx, r.cfg.Twin); err == nil {
		l.Seq, l.Status = t.Seq, t.Status
	}
	r.out = append(r.out, l)
}

// fireTimers applies the twin's timers due at or before t, earliest first.
func (r *runner) fireTimers(ctx context.Context, n int, t time.Time) error {
	for {
		tw, err := r.st.Twin(ctx, r.cfg.Twin)
		if err != nil {
			return nil // not created
		}
		timers := slices.Clone(tw.Timers)
		slices.SortStableFunc(timers, func(a, b twin.Timer) int { return a.At.Compare(b.At) })
		if len(timers) == 0 || timers[0].At.After(t) {
			return nil
		}
		tm := timers[0]
		in := twin.Input{Twin: r.cfg.Twin, Events: []twin.Event{{Kind: twin.KindTimer, Time: tm.At, Fields: []string{tm.Name}}}}
		before := len(r.out)
		if err := r.process(ctx, n, in); err != nil {
			return err
		}
		if len(r.out) == before || r.out[len(r.out)-1].Error != "" {
			return nil // not applied: stop rather than loop
		}
	}
}

// process applies one input (of one event) and records its Line.
func (r *runner) process(ctx context.Context, n int, in twin.Input) error {
	r.seq++
	in.StreamSeq = r.seq
	prev, _ := r.st.Twin(ctx, r.cfg.Twin)
	var prevSeq uint64
	if prev != nil {
		prevSeq = prev.Seq
	}
	e := in.Events[0]
	l := Line{Line: n, Kind: e.Kind.String(), Time: e.Time}
	if e.Kind == twin.KindReading {
		l.Type = e.Type.String()
	}
	r.fuel.Store(0)
	r.kind.Store(nil)
	out, err := r.rt.Process(ctx, []twin.Input{in})
	if err != nil {
		return fmt.Errorf("line %d: %w", n, err)
	}
	l.Fuel = r.fuel.Load()
	res := out.Results[0]
	switch {
	case res.Err != nil:
		l.Error = res.Err.Error()
	case len(res.Failed) > 0:
		l.Error = res.Failed[0].Err.Error()
	}
	if l.Error != "" {
		if k := r.kind.Load(); k != nil {
			l.Failure = *k
		}
	}
	if !res.Duplicate && e.Time.After(r.last) && l.Error == "" {
		r.last = e.Time
	}
	t, err := r.st.Twin(ctx, r.cfg.Twin)
	if err == nil {
		l.Seq, l.Status, l.View = t.Seq, t.Status, t.View
		if t.Seq > prevSeq {
			recs, err := r.st.History(ctx, twin.HistoryQuery{Twin: t.ID, AfterSeq: prevSeq, Limit: 1})
			if err != nil {
				return err
			}
			if len(recs) == 1 {
				sh, d := recs[0].StateHash, recs[0].Digest
				l.StateHash, l.Digest = &sh, &d
			}
		}
	}
	for _, a := range out.Alerts {
		l.Alerts = append(l.Alerts, Alert{Severity: a.Severity, Code: a.Code, Message: a.Message})
	}
	r.out = append(r.out, l)
	return nil
}

// WriteLines writes lines as JSON Lines.
func WriteLines(w io.Writer, lines []Line) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range lines {
		if err := enc.Encode(&lines[i]); err != nil {
			return err
		}
	}
	return nil
}

// ReadLines reads a file written by WriteLines (an expected file).
func ReadLines(r io.Reader) ([]map[string]json.RawMessage, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var out []map[string]json.RawMessage
	n := 0
	for sc.Scan() {
		n++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("expected file line %d: %w", n, err)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// alwaysCompared are the fields an expected line is checked for even when
// it omits them (absent means none): an expected file that forgets an alert
// must not pass.
var alwaysCompared = []string{"seq", "kind", "status", "alerts", "error"}

// Compare checks got against an expected file and returns the differences,
// one readable sentence each (none: they match). Every field present in an
// expected line must be equal (JSON values compared after normalising);
// seq, kind, status, alerts and error are compared even when absent from
// it. So a golden file may leave out digest and state_hash (which change
// with the module's bytes, since the digest commits to its sha256) or view.
func Compare(got []Line, want []map[string]json.RawMessage) []string {
	var diffs []string
	for i := 0; i < max(len(got), len(want)); i++ {
		if i >= len(want) {
			diffs = append(diffs, fmt.Sprintf("event %d (line %d, %s): not expected (the expected file has %d events)", i+1, got[i].Line, got[i].Kind, len(want)))
			continue
		}
		if i >= len(got) {
			diffs = append(diffs, fmt.Sprintf("event %d: expected %s, but the run produced only %d events", i+1, compact(mustJSON(want[i])), len(got)))
			continue
		}
		var g map[string]json.RawMessage
		_ = json.Unmarshal(mustJSON(got[i]), &g)
		keys := make([]string, 0, len(want[i])+len(alwaysCompared))
		for k := range want[i] {
			keys = append(keys, k)
		}
		for _, k := range alwaysCompared {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			gv, wv := norm(g[k]), norm(want[i][k])
			if gv != wv {
				diffs = append(diffs, fmt.Sprintf("event %d (line %d, %s seq %d): %s\n    got:  %s\n    want: %s", i+1, got[i].Line, got[i].Kind, got[i].Seq, k, orNone(gv), orNone(wv)))
			}
		}
	}
	return diffs
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func compact(b []byte) string { return string(b) }

// norm returns the canonical JSON of raw ("" for absent, null, "" or []).
func norm(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if x == "" {
			return ""
		}
	case []any:
		if len(x) == 0 {
			return ""
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return strings.TrimSpace(s)
}
