package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/httpapi"
)

const (
	readTok   = "read-token-0123456789"
	adminTok  = "admin-token-0123456789"
	tenantTok = "tenant-token-0123456789"
	tokens    = "# custos tokens\n" + readTok + " read\n\n" + adminTok + " admin\n" + tenantTok + " admin acme\n"
)

func TestAuth(t *testing.T) {
	e := startEnv(t, tokens)
	e.create(adminTok, "PAL-1", "pallet", "factory")
	e.create(tenantTok, "acme-PAL-1", "pallet", "factory")
	e.create(adminTok, "acme-PAL-2", "pallet", "factory")
	e.create(adminTok, "zeta-PAL-1", "pallet", "factory")
	run(t, e, []check{
		{name: "no token", method: "GET", path: "/v1/twins", status: 401, code: "unauthorized"},
		{name: "unknown token", method: "GET", path: "/v1/twins", token: "not-a-token-0123456789", status: 401, code: "unauthorized"},
		{name: "read list", method: "GET", path: "/v1/twins", token: readTok, status: 200, want: wantIDs("PAL-1", "acme-PAL-1", "acme-PAL-2", "zeta-PAL-1")},
		{name: "query token", method: "GET", path: "/v1/twins/PAL-1?access_token=" + readTok, status: 200},
		{name: "read cannot create", method: "POST", path: "/v1/twins", token: readTok, body: `{"id":"X","kind":"pallet","policy":"coldchain"}`, status: 403, code: "forbidden"},
		{name: "read cannot command", method: "POST", path: "/v1/twins/PAL-1/events", token: readTok, body: `{"type":"close"}`, status: 403, code: "forbidden"},
		{name: "read may verify", method: "POST", path: "/v1/verify", token: readTok, body: `{}`, status: 501, code: "anchoring_disabled"},
		{name: "admin command", method: "POST", path: "/v1/twins/PAL-1/events", token: adminTok, body: `{"type":"custody","to":"carrier-1"}`, status: 200},
		{name: "stream needs token", method: "GET", path: "/v1/stream", status: 401, code: "unauthorized"},
		{name: "metrics need token", method: "GET", path: "/metrics", status: 401, code: "unauthorized"},
		{name: "metrics read", method: "GET", path: "/metrics", token: readTok, status: 200},
		{name: "healthz open", method: "GET", path: "/healthz", status: 200},
		{name: "readyz open", method: "GET", path: "/readyz", status: 200},
		{name: "dashboard open", method: "GET", path: "/", status: 200},
		{name: "openapi open", method: "GET", path: "/v1/openapi.json", status: 200},
		// A tenant token sees its own twins only.
		{name: "tenant list", method: "GET", path: "/v1/twins", token: tenantTok, status: 200, want: wantIDs("acme-PAL-1", "acme-PAL-2")},
		{name: "tenant list page", method: "GET", path: "/v1/twins?limit=1", token: tenantTok, status: 200, want: wantIDs("acme-PAL-1")},
		{name: "tenant get own", method: "GET", path: "/v1/twins/acme-PAL-2", token: tenantTok, status: 200},
		{name: "tenant get other", method: "GET", path: "/v1/twins/PAL-1", token: tenantTok, status: 404, code: "not_found"},
		{name: "tenant history other", method: "GET", path: "/v1/twins/zeta-PAL-1/history", token: tenantTok, status: 404, code: "not_found"},
		{name: "tenant create other", method: "POST", path: "/v1/twins", token: tenantTok, body: `{"id":"zeta-X","kind":"pallet","policy":"coldchain"}`, status: 403, code: "forbidden"},
		{name: "tenant no metrics", method: "GET", path: "/metrics", token: tenantTok, status: 403, code: "forbidden"},
		{name: "tenant stream other", method: "GET", path: "/v1/stream?twin=PAL-1", token: tenantTok, status: 404, code: "not_found"},
	})
	code, hdr, _ := e.do("", "GET", "/v1/twins", nil)
	if code != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without WWW-Authenticate: Bearer (%d %q)", code, hdr.Get("WWW-Authenticate"))
	}
}

func TestNonLoopbackNeedsTokens(t *testing.T) {
	_, err := app.Start(context.Background(), app.Config{Data: t.TempDir(), HTTP: "0.0.0.0:0", NATSListen: "-", Logger: quiet()})
	if !errors.Is(err, httpapi.ErrInsecureListen) {
		t.Fatalf("start on 0.0.0.0 without tokens: %v, want ErrInsecureListen", err)
	}
}

func TestCheckListen(t *testing.T) {
	toks, err := httpapi.ParseTokens(strings.NewReader(tokens))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		addr    string
		tokens  *httpapi.Tokens
		wantErr bool
	}{
		{"127.0.0.1:8080", nil, false},
		{"127.8.9.10:8080", nil, false},
		{"[::1]:8080", nil, false},
		{"localhost:8080", nil, false},
		{"0.0.0.0:8080", nil, true},
		{":8080", nil, true},
		{"[::]:8080", nil, true},
		{"10.1.2.3:8080", nil, true},
		{"example.internal:8080", nil, true},
		{"0.0.0.0:8080", toks, false},
		{"nonsense", nil, true},
	} {
		err := httpapi.CheckListen(c.addr, c.tokens)
		if (err != nil) != c.wantErr {
			t.Errorf("CheckListen(%q, tokens=%v) = %v, want error %v", c.addr, c.tokens != nil, err, c.wantErr)
		}
	}
}

func TestParseTokens(t *testing.T) {
	for _, c := range []struct {
		name, file string
		withError  bool
		check      map[string]httpapi.Principal
	}{
		{name: "ok", file: tokens, check: map[string]httpapi.Principal{
			readTok: {Scope: httpapi.ScopeRead}, adminTok: {Scope: httpapi.ScopeAdmin}, tenantTok: {Scope: httpapi.ScopeAdmin, Tenant: "acme"}}},
		{name: "empty", file: "# nothing\n\n", withError: true},
		{name: "short token", file: "abc read\n", withError: true},
		{name: "bad scope", file: readTok + " write\n", withError: true},
		{name: "no scope", file: readTok + "\n", withError: true},
		{name: "too many fields", file: readTok + " read acme extra\n", withError: true},
		{name: "duplicate", file: readTok + " read\n" + readTok + " admin\n", withError: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			toks, err := httpapi.ParseTokens(strings.NewReader(c.file))
			if c.withError {
				if !errors.Is(err, httpapi.ErrTokens) {
					t.Fatalf("err = %v, want ErrTokens", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for tok, want := range c.check {
				if got, ok := toks.Lookup(tok); !ok || got != want {
					t.Errorf("Lookup(%q) = %+v %v, want %+v", tok, got, ok, want)
				}
			}
			if _, ok := toks.Lookup("other-token-0123456789"); ok {
				t.Error("an unknown token was accepted")
			}
		})
	}
}

func FuzzParseTokens(f *testing.F) {
	f.Add(tokens)
	f.Add("x read\n")
	f.Add(readTok + " admin acme\n" + adminTok + " read")
	f.Fuzz(func(t *testing.T, s string) {
		toks, err := httpapi.ParseTokens(strings.NewReader(s))
		if err != nil {
			return
		}
		if toks.Len() == 0 {
			t.Fatal("no error but no tokens")
		}
		for _, line := range strings.Split(s, "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && !strings.HasPrefix(strings.TrimSpace(line), "#") {
				p, ok := toks.Lookup(f[0])
				if !ok || (p.Scope != httpapi.ScopeRead && p.Scope != httpapi.ScopeAdmin) {
					t.Fatalf("token %q of an accepted file: %+v %v", f[0], p, ok)
				}
			}
		}
	})
}

var _ = http.StatusOK
