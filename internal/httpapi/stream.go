package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/twin"
)

// Names the stream reads (see docs/interfaces.md).
const (
	alertStream = "CUSTOS_ALERTS"
	stateBucket = "custos_twins"
)

// StreamHello is the data of the first event of /v1/stream ("hello"). Its
// SSE id is the alert stream sequence the stream starts after, so a client
// that reconnects before any alert arrived still resumes without a gap.
type StreamHello struct {
	AlertsAfter uint64   `json:"alerts_after"`
	Types       []string `json:"types"`
	Twin        string   `json:"twin,omitempty"`
}

var severityRank = map[string]int{twin.SeverityInfo: 1, twin.SeverityWarning: 2, twin.SeverityCritical: 3}

// stream serves Server-Sent Events of twin state and alerts.
//
// Events: "hello" (once, first), "state" (a twin's JSON; the current value
// of every matching twin first, then changes; "synced" marks the end of the
// current values), and "alert" (an alert's JSON, its SSE id being its
// sequence in stream CUSTOS_ALERTS). Query: twin=ID, types=state,alert,
// severity=warning (alerts at or above), status=S (state of twins in that
// status), initial=false (no current values). Resume: Last-Event-ID (or
// ?last_event_id=) delivers every alert after that sequence; state is
// current values, so it needs no resume.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	if s.js == nil {
		writeError(w, http.StatusServiceUnavailable, "nats_unavailable", "no NATS connection")
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "no_streaming", "streaming unsupported")
		return
	}
	q := r.URL.Query()
	p := PrincipalFrom(r.Context())
	wantState, wantAlerts := true, true
	if v := q.Get("types"); v != "" {
		wantState, wantAlerts = false, false
		for _, t := range strings.Split(v, ",") {
			switch t {
			case "state":
				wantState = true
			case "alert":
				wantAlerts = true
			default:
				writeError(w, http.StatusBadRequest, "invalid_query", "types must be a comma-separated list of state, alert")
				return
			}
		}
	}
	tok := "*"
	id := q.Get("twin")
	if id != "" {
		if !twin.ValidID(id) {
			writeError(w, http.StatusBadRequest, "invalid_id", "invalid twin id")
			return
		}
		if !p.Sees(id) {
			writeError(w, http.StatusNotFound, "not_found", "twin "+id+" not found")
			return
		}
		tok = id
	}
	minSev := 0
	if v := q.Get("severity"); v != "" {
		if minSev = severityRank[v]; minSev == 0 {
			writeError(w, http.StatusBadRequest, "invalid_query", "severity must be info, warning or critical")
			return
		}
	}
	status := q.Get("status")
	initial := true
	switch q.Get("initial") {
	case "", "true", "1":
	case "false", "0":
		initial = false
	default:
		writeError(w, http.StatusBadRequest, "invalid_query", "initial must be true or false")
		return
	}
	var resume uint64
	hasResume := false
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = q.Get("last_event_id")
	}
	if last != "" {
		n, err := strconv.ParseUint(last, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_query", "Last-Event-ID must be an alert stream sequence (an unsigned integer)")
			return
		}
		resume, hasResume = n, true
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	// Alerts: an ordered consumer from the resume point (or from the
	// stream's end now), so that nothing between two connections is lost.
	alerts := make(chan jetstream.Msg, 256)
	if wantAlerts {
		st, err := s.js.Stream(ctx, alertStream)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "nats_unavailable", "alert stream: "+err.Error())
			return
		}
		if !hasResume {
			resume = st.CachedInfo().State.LastSeq
		}
		cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{"custos.twin." + tok + ".alert"},
			DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
			OptStartSeq:    resume + 1,
		})
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "nats_unavailable", "alert consumer: "+err.Error())
			return
		}
		cc, err := cons.Consume(func(m jetstream.Msg) {
			select {
			case alerts <- m:
			case <-ctx.Done():
			}
		})
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "nats_unavailable", "alert consumer: "+err.Error())
			return
		}
		defer cc.Stop()
	}
	// State: a KV watch gives the current values, then changes.
	var states <-chan jetstream.KeyValueEntry
	if wantState {
		kv, err := s.js.KeyValue(ctx, stateBucket)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "nats_unavailable", "state bucket: "+err.Error())
			return
		}
		var opts []jetstream.WatchOpt
		if !initial {
			opts = append(opts, jetstream.UpdatesOnly())
		}
		var wt jetstream.KeyWatcher
		if id != "" {
			wt, err = kv.Watch(ctx, id, opts...)
		} else {
			wt, err = kv.WatchAll(ctx, opts...)
		}
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "nats_unavailable", "state watch: "+err.Error())
			return
		}
		defer wt.Stop()
		states = wt.Updates()
	}

	if m := s.cfg.Metrics; m != nil {
		m.StreamClients.Inc()
		defer m.StreamClients.Dec()
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	hello := StreamHello{AlertsAfter: resume, Twin: id}
	if wantState {
		hello.Types = append(hello.Types, "state")
	}
	if wantAlerts {
		hello.Types = append(hello.Types, "alert")
	}
	hb, _ := json.Marshal(hello)
	fmt.Fprintf(w, "retry: 2000\n")
	if wantAlerts {
		fmt.Fprintf(w, "id: %d\n", resume)
	}
	fmt.Fprintf(w, "event: hello\ndata: %s\n\n", hb)
	fl.Flush()

	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case e, ok := <-states:
			if !ok {
				return
			}
			if e == nil {
				fmt.Fprint(w, "event: synced\ndata: {}\n\n")
				break
			}
			if e.Operation() != jetstream.KeyValuePut || !p.Sees(e.Key()) {
				break
			}
			if status != "" && !hasStatus(e.Value(), status) {
				break
			}
			fmt.Fprintf(w, "event: state\ndata: %s\n\n", e.Value())
		case m := <-alerts:
			md, err := m.Metadata()
			if err != nil {
				break
			}
			if minSev > 0 || p.Tenant != "" {
				var a struct{ Twin, Severity string }
				if json.Unmarshal(m.Data(), &a) != nil || severityRank[a.Severity] < minSev || !p.Sees(a.Twin) {
					break
				}
			}
			fmt.Fprintf(w, "id: %d\nevent: alert\ndata: %s\n\n", md.Sequence.Stream, m.Data())
		}
		if len(alerts) == 0 && len(states) == 0 {
			fl.Flush()
		}
	}
}

func hasStatus(js []byte, status string) bool {
	var t struct {
		Status string `json:"status"`
	}
	return json.Unmarshal(js, &t) == nil && t.Status == status
}
