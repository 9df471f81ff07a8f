package anchor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/custos-dev/custos/twin"
)

// ReadBundle decodes a proof bundle, rejecting unknown fields and trailing
// data.
func ReadBundle(r io.Reader) (*Bundle, error) {
	dec := json.NewDecoder(io.LimitReader(r, 16<<20))
	dec.DisallowUnknownFields()
	var b Bundle
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	if dec.More() {
		return nil, errors.New("read bundle: trailing data")
	}
	return &b, nil
}

// ProofHandler serves GET /v1/twins/{id}/proof?seq=N (seq is required).
// Register it with a pattern that defines {id}, e.g.
//
//	mux.Handle("GET /v1/twins/{id}/proof", anchor.ProofHandler(svc))
//
// Errors are JSON {"error": "...", "code": "..."}: 400 bad_request, 404
// not_anchored, 500 internal.
func ProofHandler(s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		seq, err := strconv.ParseUint(r.URL.Query().Get("seq"), 10, 64)
		if !twin.ValidID(id) || err != nil || seq == 0 {
			httpError(w, http.StatusBadRequest, "bad_request", "want a valid twin id and ?seq= ≥ 1")
			return
		}
		b, err := s.Proof(r.Context(), id, seq)
		switch {
		case errors.Is(err, ErrNotAnchored), errors.Is(err, ErrNotFound):
			httpError(w, http.StatusNotFound, "not_anchored", err.Error())
			return
		case err != nil:
			httpError(w, http.StatusInternalServerError, "internal", err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(b)
	})
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg, "code": code})
}
