package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/custos-dev/custos/internal/httpapi"
	"github.com/custos-dev/custos/twin"
)

// TestAnchoringHooks serves the API of a real runtime with Proof, Anchors
// and Verify hooks (the anchoring service plugs in there).
func TestAnchoringHooks(t *testing.T) {
	e := startEnv(t, "")
	e.create("", "PAL-1", "pallet", "factory")
	e.create("", "PAL-2", "pallet", "factory")
	var gotSeq uint64
	api := httpapi.New(httpapi.Config{
		Store: e.a.Store, Runtime: e.a.Runtime, Commands: e.a.Bus, Policies: e.a.Host, Conn: e.a.Conn, JS: e.a.JS, Logger: quiet(),
		Proof: func(ctx context.Context, id string, seq uint64) (any, error) {
			gotSeq = seq
			switch {
			case id == "PAL-2":
				return nil, fmt.Errorf("proof: %w", httpapi.ErrNotAnchored)
			case seq > 1:
				return nil, fmt.Errorf("proof of seq %d: %w", seq, twin.ErrNotFound)
			}
			return map[string]any{"twin": id, "seq": seq, "epoch": 3}, nil
		},
		Anchors: func(ctx context.Context) (any, error) {
			return map[string]any{"chain_id": 1337, "epochs": 3, "last_confirmed": 3}, nil
		},
		Verify: func(ctx context.Context, b json.RawMessage) (any, error) {
			var p struct{ Twin string }
			if err := json.Unmarshal(b, &p); err != nil || p.Twin == "" {
				return nil, fmt.Errorf("%w: no twin", httpapi.ErrInvalidProof)
			}
			if p.Twin == "down" {
				return nil, errors.New("rpc: connection refused")
			}
			return map[string]any{"ok": p.Twin == "PAL-1", "checks": []any{map[string]any{"name": "root", "ok": true}}}, nil
		},
	})
	srv := httptest.NewServer(api)
	defer srv.Close()
	e2 := &env{t: t, a: e.a, base: srv.URL, js: e.js}
	run(t, e2, []check{
		{name: "proof", method: "GET", path: "/v1/twins/PAL-1/proof?seq=1", status: 200, want: contains(`"epoch":3`, `"twin":"PAL-1"`)},
		{name: "proof latest", method: "GET", path: "/v1/twins/PAL-1/proof", status: 200, want: func(t *testing.T, b []byte) {
			if gotSeq != 1 {
				t.Errorf("proof hook called with seq %d, want the twin's seq 1", gotSeq)
			}
		}},
		{name: "proof not anchored", method: "GET", path: "/v1/twins/PAL-2/proof?seq=1", status: 404, code: "not_anchored"},
		{name: "proof no such seq", method: "GET", path: "/v1/twins/PAL-1/proof?seq=7", status: 404, code: "not_found"},
		{name: "proof bad seq", method: "GET", path: "/v1/twins/PAL-1/proof?seq=x", status: 400, code: "invalid_query"},
		{name: "proof unknown twin", method: "GET", path: "/v1/twins/NOPE/proof", status: 404, code: "not_found"},
		{name: "anchors", method: "GET", path: "/v1/anchors", status: 200, want: contains(`"chain_id":1337`)},
		{name: "verify ok", method: "POST", path: "/v1/verify", body: `{"twin":"PAL-1"}`, status: 200, want: contains(`"ok":true`)},
		{name: "verify failing proof", method: "POST", path: "/v1/verify", body: ` {"twin":"PAL-9"}`, status: 200, want: contains(`"ok":false`)},
		{name: "verify malformed", method: "POST", path: "/v1/verify", body: `{"seq":1}`, status: 400, code: "invalid_proof"},
		{name: "verify not json", method: "POST", path: "/v1/verify", body: `proof please`, status: 400, code: "invalid_json"},
		{name: "verify array", method: "POST", path: "/v1/verify", body: `[1]`, status: 400, code: "invalid_json"},
		{name: "verify too large", method: "POST", path: "/v1/verify", body: `{"x":"` + strings.Repeat("y", 1<<20) + `"}`, status: 413, code: "too_large"},
		{name: "verify chain down", method: "POST", path: "/v1/verify", body: `{"twin":"down"}`, status: 503, code: "anchoring_unavailable"},
	})
	code, hdr, _ := e2.do("", "GET", "/v1/twins/PAL-1/proof?seq=1&download=1", nil)
	if code != 200 || !strings.Contains(hdr.Get("Content-Disposition"), `filename="PAL-1-1.proof.json"`) {
		t.Errorf("download: %d %q", code, hdr.Get("Content-Disposition"))
	}
}

// TestOpenAPI checks that the description and the server agree: every
// path and method it documents is served, and every route is documented.
func TestOpenAPI(t *testing.T) {
	e := startEnv(t, "")
	code, _, body := e.do("", "GET", "/v1/openapi.json", nil)
	if code != 200 {
		t.Fatalf("openapi.json: %d", code)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi.json: %v %q", err, doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
			if strings.Contains(path, "epcis") {
				continue // served through Config.Routes by internal/epcis/exchange (tested in internal/app)
			}
			p := strings.ReplaceAll(path, "{id}", "NOPE")
			if path == "/v1/stream" {
				p += "?types=bogus" // answers 400 at once instead of streaming
			}
			code, _, body := e.do("", strings.ToUpper(method), p, "{}")
			var ae apiErr
			json.Unmarshal(body, &ae)
			if code == 405 || (code == 404 && strings.HasPrefix(ae.Error, "no such endpoint")) {
				t.Errorf("%s %s is documented but not served (%d %s)", method, path, code, body)
			}
		}
	}
	// Every route registered in New is documented.
	src, err := os.ReadFile("httpapi.go")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`s\.handle\("([A-Z]+ /[^"]*)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 15 {
		t.Fatalf("found %d routes in httpapi.go", len(routes))
	}
	for _, r := range append(routes, []string{"", "GET /metrics"}) {
		if !documented[r[1]] {
			t.Errorf("route %q is not in openapi.json", r[1])
		}
	}
	_ = http.MethodGet
}
