package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/custos-dev/custos/internal/epcis"
	"github.com/custos-dev/custos/internal/httpapi"
	"github.com/custos-dev/custos/twin"
)

// Routes are the HTTP endpoints, for httpapi.Config.Routes.
func (x *Exchange) Routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"POST /v1/epcis/capture":     x.capture,
		"GET /v1/epcis/capture/{id}": x.job,
		"GET /v1/epcis/events":       x.fleet,
		"GET /v1/epcis/identifiers":  x.listIdentifiers,
		"PUT /v1/epcis/identifiers":  x.putIdentifiers,
		"GET /v1/twins/{id}/epcis":   x.twinExport,
	}
}

// maxWait bounds ?wait= on a capture.
const maxWait = 5 * time.Minute

func (x *Exchange) capture(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "application/ld+json") {
			httpapi.WriteError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "EPCIS documents are captured as application/json or application/ld+json (EPCIS XML is not supported)")
			return
		}
	}
	wait := time.Duration(0)
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxWait {
			httpapi.WriteError(w, http.StatusBadRequest, "invalid_query", "wait is a duration up to 5m (e.g. wait=30s)")
			return
		}
		wait = d
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			httpapi.WriteError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("EPCIS document over %d bytes", httpapi.MaxEPCISBody))
			return
		}
		httpapi.WriteError(w, http.StatusBadRequest, "malformed", "read body: "+err.Error())
		return
	}
	p := httpapi.PrincipalFrom(r.Context())
	job, err := x.Capture(r.Context(), data, p.Sees)
	if err != nil {
		code, status := errorCode(err)
		var de *epcis.DocumentError
		if errors.As(err, &de) {
			httpapi.WriteJSON(w, status, map[string]any{"error": de.Error(), "code": code, "event": de.Event, "detail": de.Detail})
			return
		}
		if status >= 500 {
			x.log.Error("epcis capture", "err", err)
		}
		httpapi.WriteError(w, status, code, err.Error())
		return
	}
	w.Header().Set("Location", "/v1/epcis/capture/"+job.CaptureID)
	if wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		job, _ = x.WaitJob(ctx, job.CaptureID)
		if !job.Running {
			httpapi.WriteJSON(w, http.StatusOK, job)
			return
		}
	}
	httpapi.WriteJSON(w, http.StatusAccepted, job)
}

func (x *Exchange) job(w http.ResponseWriter, r *http.Request) {
	job, ok := x.Job(r.PathValue("id"))
	if !ok {
		httpapi.WriteError(w, http.StatusNotFound, "not_found", "no capture job "+r.PathValue("id")+" (jobs are kept in memory, the last 1000)")
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, job)
}

// IdentifiersRequest is the body of PUT /v1/epcis/identifiers.
type IdentifiersRequest struct {
	// Identifiers maps EPC URNs / GS1 Digital Link URIs to twin ids.
	Identifiers map[string]string `json:"identifiers"`
}

func (x *Exchange) putIdentifiers(w http.ResponseWriter, r *http.Request) {
	var req IdentifiersRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || len(req.Identifiers) == 0 {
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_json", `the body is {"identifiers": {"<EPC URN or Digital Link>": "<twin id>", …}}`)
		return
	}
	p := httpapi.PrincipalFrom(r.Context())
	for _, id := range req.Identifiers {
		if !p.Sees(id) {
			httpapi.WriteError(w, http.StatusNotFound, "unknown_identifier", "no twin "+id)
			return
		}
	}
	ms, err := x.Map(r.Context(), req.Identifiers)
	if err != nil {
		code, status := errorCode(err)
		httpapi.WriteError(w, status, code, err.Error())
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"identifiers": ms})
}

func (x *Exchange) listIdentifiers(w http.ResponseWriter, r *http.Request) {
	if id := r.URL.Query().Get("twin"); id != "" {
		ident := x.Identifier(r.Context(), id)
		if ident == "" || !httpapi.PrincipalFrom(r.Context()).Sees(id) {
			httpapi.WriteError(w, http.StatusNotFound, "not_found", "twin "+id+" has no identifier")
			return
		}
		k, _ := epcis.ParseKey(ident)
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"identifiers": []epcis.Mapping{{Identifier: ident, Key: k, Twin: id}}})
		return
	}
	ms, err := x.Mappings(r.Context(), 10000)
	if err != nil {
		httpapi.WriteError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	p := httpapi.PrincipalFrom(r.Context())
	kept := ms[:0]
	for _, m := range ms {
		if p.Sees(m.Twin) {
			kept = append(kept, m)
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"identifiers": kept})
}

// window reads ?from= and ?to= (RFC 3339).
func window(w http.ResponseWriter, r *http.Request) (from, to time.Time, ok bool) {
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := r.URL.Query().Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				httpapi.WriteError(w, http.StatusBadRequest, "invalid_query", p.name+" must be an RFC 3339 time")
				return from, to, false
			}
			*p.t = t
		}
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_query", "to is before from")
		return from, to, false
	}
	return from, to, true
}

func (x *Exchange) twinExport(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !twin.ValidID(id) || !httpapi.PrincipalFrom(r.Context()).Sees(id) {
		httpapi.WriteError(w, http.StatusNotFound, "not_found", "twin "+id+" not found")
		return
	}
	from, to, ok := window(w, r)
	if !ok {
		return
	}
	doc, err := x.Export(r.Context(), []string{id}, from, to)
	x.writeExport(w, doc, err)
}

func (x *Exchange) fleet(w http.ResponseWriter, r *http.Request) {
	from, to, ok := window(w, r)
	if !ok {
		return
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			httpapi.WriteError(w, http.StatusBadRequest, "invalid_query", "limit is the number of twins per page, 1..1000")
			return
		}
		limit = n
	}
	after := r.URL.Query().Get("after")
	p := httpapi.PrincipalFrom(r.Context())
	var ids []string
	q := twin.TwinQuery{After: after, Limit: 1000}
	for len(ids) < limit {
		twins, err := x.cfg.Store.Twins(r.Context(), q)
		if err != nil {
			httpapi.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", err.Error())
			return
		}
		for _, t := range twins {
			if p.Sees(t.ID) && len(ids) < limit {
				ids = append(ids, t.ID)
			}
		}
		if len(twins) < q.Limit {
			break
		}
		q.After = twins[len(twins)-1].ID
	}
	if len(ids) == limit {
		next := r.URL.Query()
		next.Set("after", ids[len(ids)-1])
		w.Header().Set("Link", "<"+(&url.URL{Path: r.URL.Path, RawQuery: next.Encode()}).String()+`>; rel="next"`)
	}
	doc, err := x.Export(r.Context(), ids, from, to)
	x.writeExport(w, doc, err)
}

func (x *Exchange) writeExport(w http.ResponseWriter, doc *epcis.Document, err error) {
	switch {
	case errors.Is(err, twin.ErrNotFound):
		httpapi.WriteError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrTooLarge):
		httpapi.WriteError(w, http.StatusUnprocessableEntity, "too_large", err.Error())
	case err != nil:
		x.log.Error("epcis export", "err", err)
		httpapi.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", err.Error())
	default:
		w.Header().Set("Content-Type", "application/ld+json")
		w.WriteHeader(http.StatusOK)
		json.NewEncoder(w).Encode(doc)
	}
}
