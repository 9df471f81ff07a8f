package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/custos-dev/custos/twin"
)

//go:embed openapi.json
var openapiJSON []byte

// TwinList is the body of GET /v1/twins.
type TwinList struct {
	Twins []*twin.Twin `json:"twins"`
	// Next is the cursor of the next page (pass it as ?after=); empty on
	// the last page.
	Next string `json:"next,omitempty"`
	// Scanned is the number of twins read from the store to fill this page
	// when a filter applies in the API (has_alerts, tenant).
	Scanned int `json:"scanned,omitempty"`
}

// maxScan bounds how many twins (or history records) one request reads
// from the store when a filter applies in the API rather than in the
// store. A page may then hold fewer than limit entries with a next cursor.
const maxScan = 10000

func (s *Server) listTwins(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := intParam(w, r, "limit", 100, 1000)
	if !ok {
		return
	}
	if limit == 0 {
		limit = 100
	}
	var hasAlerts *bool
	switch v := q.Get("has_alerts"); v {
	case "":
	case "true", "1":
		t := true
		hasAlerts = &t
	case "false", "0":
		f := false
		hasAlerts = &f
	default:
		writeError(w, http.StatusBadRequest, "invalid_query", "has_alerts must be true or false")
		return
	}
	var staleBefore time.Time
	if v := q.Get("stale"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, "invalid_query", "stale must be a positive duration such as 3h or 90m")
			return
		}
		// Display filter: the wall clock picks twins to show, it decides
		// no verdict.
		staleBefore = time.Now().Add(-d)
	}
	after := q.Get("after")
	if after != "" && !twin.ValidID(after) {
		writeError(w, http.StatusBadRequest, "invalid_query", "after must be a twin id (the next cursor of the previous page)")
		return
	}
	p := PrincipalFrom(r.Context())
	prefix := ""
	if p.Tenant != "" {
		prefix = p.Tenant + "-"
		if after < prefix {
			after = prefix[:len(prefix)-1] // ids with the prefix sort after the tenant name
		}
	}
	filtered := hasAlerts != nil || prefix != ""
	resp := TwinList{Twins: []*twin.Twin{}}
	tq := twin.TwinQuery{After: after, Limit: limit, Status: q.Get("status"), Kind: q.Get("kind"), Custodian: q.Get("custodian"), StaleBefore: staleBefore}
	for {
		twins, err := s.cfg.Store.Twins(r.Context(), tq)
		if err != nil {
			s.storeError(w, "twins", err)
			return
		}
		done := false
		for i, t := range twins {
			resp.Scanned++
			if prefix != "" && !strings.HasPrefix(t.ID, prefix) {
				done = true // ids are sorted: no more of this tenant's
				break
			}
			if hasAlerts != nil && (t.Alerts > 0) != *hasAlerts {
				continue
			}
			resp.Twins = append(resp.Twins, t)
			if len(resp.Twins) == limit {
				if i < len(twins)-1 || len(twins) == tq.Limit {
					resp.Next = t.ID
				}
				done = true
				break
			}
		}
		if done || len(twins) < tq.Limit {
			break
		}
		tq.After = twins[len(twins)-1].ID
		if resp.Scanned >= maxScan {
			resp.Next = tq.After
			break
		}
	}
	if !filtered {
		resp.Scanned = 0
	}
	writeJSON(w, http.StatusOK, resp)
}

// HistoryEntry is one record of GET /v1/twins/{id}/history.
type HistoryEntry struct {
	twin.Record
	Kind  string     `json:"kind"`
	Event twin.Event `json:"event"`
	// EventRaw is the canonical event encoding (ABI §3), base64, with
	// ?raw=1: what event_hash hashes and the contract was called with.
	EventRaw []byte `json:"event_raw,omitempty"`
}

// HistoryPage is the body of GET /v1/twins/{id}/history and
// GET /v1/twins/{id}/events.
type HistoryPage struct {
	Twin    string         `json:"twin"`
	Records []HistoryEntry `json:"records"`
	// Next is the seq to pass as ?after= for the next page; empty on the
	// last page.
	Next string `json:"next,omitempty"`
}

// lifecycleKinds are the events of GET /v1/twins/{id}/events.
var lifecycleKinds = map[twin.EventKind]bool{
	twin.KindCreate: true, twin.KindCustody: true, twin.KindStatus: true,
	twin.KindAggregate: true, twin.KindDisaggregate: true,
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	var kinds map[twin.EventKind]bool
	if v := r.URL.Query().Get("kind"); v != "" {
		kinds = map[twin.EventKind]bool{}
		for _, name := range strings.Split(v, ",") {
			k, ok := twin.ParseEventKind(name)
			if !ok {
				writeError(w, http.StatusBadRequest, "invalid_query", "kind must be a comma-separated list of reading, timer, create, custody, status, aggregate, disaggregate")
				return
			}
			kinds[k] = true
		}
	}
	s.historyQuery(w, r, kinds)
}

// lifecycle serves GET /v1/twins/{id}/events: creation, custody
// transfers, status changes, aggregation — the history without readings
// and timers.
func (s *Server) lifecycle(w http.ResponseWriter, r *http.Request) {
	s.historyQuery(w, r, lifecycleKinds)
}

func (s *Server) historyQuery(w http.ResponseWriter, r *http.Request, kinds map[twin.EventKind]bool) {
	id, ok := s.twinID(w, r)
	if !ok {
		return
	}
	win, ok := windowParams(w, r)
	if !ok {
		return
	}
	limit, from, to := win.limit, win.from, win.to
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		writeError(w, http.StatusBadRequest, "invalid_query", "to is before from")
		return
	}
	if _, err := s.cfg.Store.Twin(r.Context(), id); err != nil {
		s.storeError(w, "twin "+id, err)
		return
	}
	raw := r.URL.Query().Get("raw") == "1"
	resp := HistoryPage{Twin: id, Records: make([]HistoryEntry, 0, min(limit, 256))}
	hq := twin.HistoryQuery{Twin: id, AfterSeq: win.after, From: from, To: to, Limit: limit}
	if kinds != nil {
		hq.Limit = 1000
	}
	scanned := 0
	for {
		recs, err := s.cfg.Store.History(r.Context(), hq)
		if err != nil {
			s.storeError(w, "history", err)
			return
		}
		full := false
		for _, rec := range recs {
			scanned++
			hq.AfterSeq = rec.Seq
			if kinds != nil && !kinds[rec.Kind] {
				continue
			}
			var e twin.Event
			if err := e.UnmarshalBinary(rec.Event); err != nil {
				s.log.Warn("history: bad event encoding", "twin", id, "seq", rec.Seq, "err", err)
			}
			he := HistoryEntry{Record: rec, Kind: rec.Kind.String(), Event: e}
			if raw {
				he.EventRaw = rec.Event
			}
			resp.Records = append(resp.Records, he)
			if len(resp.Records) == limit {
				full = true
				break
			}
		}
		if full {
			resp.Next = strconv.FormatUint(hq.AfterSeq, 10)
			break
		}
		if len(recs) < hq.Limit {
			break
		}
		if scanned >= maxScan {
			resp.Next = strconv.FormatUint(hq.AfterSeq, 10)
			break
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func anchoringDisabled(w http.ResponseWriter) {
	writeError(w, http.StatusNotImplemented, "anchoring_disabled", "anchoring is not enabled on this runtime")
}

// hookError maps an error of a Proof, Anchors or Verify hook.
func (s *Server) hookError(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, ErrNotAnchored):
		writeError(w, http.StatusNotFound, "not_anchored", err.Error())
	case errors.Is(err, twin.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrInvalidProof):
		writeError(w, http.StatusBadRequest, "invalid_proof", err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		writeError(w, http.StatusGatewayTimeout, "timeout", what+": "+err.Error())
	default:
		s.log.Error(what, "err", err)
		writeError(w, http.StatusServiceUnavailable, "anchoring_unavailable", what+": "+err.Error())
	}
}

func (s *Server) proof(w http.ResponseWriter, r *http.Request) {
	id, ok := s.twinID(w, r)
	if !ok {
		return
	}
	if s.cfg.Proof == nil {
		anchoringDisabled(w)
		return
	}
	seq, ok := intParam(w, r, "seq", 0, 1<<62)
	if !ok {
		return
	}
	if seq == 0 {
		t, err := s.cfg.Store.Twin(r.Context(), id)
		if err != nil {
			s.storeError(w, "twin "+id, err)
			return
		}
		seq = int(t.Seq)
	}
	b, err := s.cfg.Proof(r.Context(), id, uint64(seq))
	if err != nil {
		s.hookError(w, "proof", err)
		return
	}
	if r.URL.Query().Get("format") == "compact" {
		c, ok := b.(interface{ MarshalCompact() ([]byte, error) })
		if !ok {
			writeError(w, http.StatusBadRequest, "invalid_query", "this runtime has no compact proof format")
			return
		}
		data, err := c.MarshalCompact()
		if err != nil {
			// e.g. a failure record among the links: the JSON form has it
			writeError(w, http.StatusBadRequest, "invalid_query", err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.URL.Query().Get("download") != "" {
			w.Header().Set("Content-Disposition", `attachment; filename="`+id+`-`+strconv.Itoa(seq)+`.proof"`)
		}
		w.Write(data)
		return
	}
	if r.URL.Query().Get("download") != "" {
		w.Header().Set("Content-Disposition", `attachment; filename="`+id+`-`+strconv.Itoa(seq)+`.proof.json"`)
	}
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) anchors(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Anchors == nil {
		anchoringDisabled(w)
		return
	}
	st, err := s.cfg.Anchors(r.Context())
	if err != nil {
		s.hookError(w, "anchors", err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Verify == nil {
		anchoringDisabled(w)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "body over 1 MiB")
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_json", "read body: "+err.Error())
		return
	}
	if t := bytes.TrimSpace(body); !json.Valid(t) || len(t) == 0 || t[0] != '{' {
		writeError(w, http.StatusBadRequest, "invalid_json", "the body must be a proof bundle (a JSON object)")
		return
	}
	rep, err := s.cfg.Verify(r.Context(), body)
	if err != nil {
		s.hookError(w, "verify", err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
