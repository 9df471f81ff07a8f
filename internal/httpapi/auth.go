package httpapi

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
)

// Scope is what a bearer token allows.
type Scope int

const (
	// ScopeRead allows GET requests (and POST /v1/verify, which changes
	// nothing).
	ScopeRead Scope = 1
	// ScopeAdmin allows everything: creating twins, posting events.
	ScopeAdmin Scope = 2
)

func (s Scope) String() string {
	switch s {
	case ScopeRead:
		return "read"
	case ScopeAdmin:
		return "admin"
	}
	return fmt.Sprintf("scope(%d)", int(s))
}

// Principal is who a request acts as.
type Principal struct {
	Scope Scope
	// Tenant, if not empty, restricts the principal to twins whose id
	// starts with Tenant + "-" (tenant "acme" sees "acme-PAL-1").
	Tenant string
}

// Sees reports whether p may see twin id.
func (p Principal) Sees(id string) bool {
	return p.Tenant == "" || strings.HasPrefix(id, p.Tenant+"-")
}

// MinTokenLen is the shortest token accepted in a token file.
const MinTokenLen = 16

// Tokens maps bearer tokens to principals. Tokens are kept as SHA-256
// hashes, so a lookup's timing says nothing about a token's characters.
type Tokens struct {
	m map[[32]byte]Principal
}

// Len returns the number of tokens.
func (t *Tokens) Len() int { return len(t.m) }

// Lookup returns the principal of token.
func (t *Tokens) Lookup(token string) (Principal, bool) {
	p, ok := t.m[sha256.Sum256([]byte(token))]
	return p, ok
}

// ParseTokens reads a token file: one token per line as
// "TOKEN SCOPE [TENANT]", SCOPE being read or admin; blank lines and lines
// starting with # are ignored. Tokens must be at least MinTokenLen
// characters.
//
// # Errors
//
// An error wrapping ErrTokens names the first bad line.
func ParseTokens(r io.Reader) (*Tokens, error) {
	t := &Tokens{m: map[[32]byte]Principal{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("%w: line %d: want \"TOKEN read|admin [TENANT]\"", ErrTokens, n)
		}
		if len(f[0]) < MinTokenLen {
			return nil, fmt.Errorf("%w: line %d: token shorter than %d characters", ErrTokens, n, MinTokenLen)
		}
		var p Principal
		switch f[1] {
		case "read":
			p.Scope = ScopeRead
		case "admin":
			p.Scope = ScopeAdmin
		default:
			return nil, fmt.Errorf("%w: line %d: scope %q: want read or admin", ErrTokens, n, f[1])
		}
		if len(f) == 3 {
			p.Tenant = f[2]
		}
		h := sha256.Sum256([]byte(f[0]))
		if _, dup := t.m[h]; dup {
			return nil, fmt.Errorf("%w: line %d: duplicate token", ErrTokens, n)
		}
		t.m[h] = p
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	if len(t.m) == 0 {
		return nil, fmt.Errorf("%w: no tokens", ErrTokens)
	}
	return t, nil
}

// LoadTokens reads a token file (see ParseTokens).
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth tokens: %w", err)
	}
	defer f.Close()
	t, err := ParseTokens(f)
	if err != nil {
		return nil, fmt.Errorf("auth tokens %s: %w", path, err)
	}
	return t, nil
}

// CheckListen returns an error wrapping ErrInsecureListen when addr is
// not a loopback address and tokens is nil: without tokens the API is only
// served to this machine.
func CheckListen(addr string, tokens *Tokens) error {
	if tokens != nil {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("http address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w (--http %s)", ErrInsecureListen, addr)
}

type principalKey struct{}

// PrincipalFrom returns the principal of a request's context; without
// authentication it is an admin with no tenant.
func PrincipalFrom(ctx context.Context) Principal {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p
	}
	return Principal{Scope: ScopeAdmin}
}

// public reports whether a path is served without a token: health, the
// dashboard's static files and the API description.
func public(path string) bool {
	switch path {
	case "/", "/healthz", "/readyz", "/v1/openapi.json", "/favicon.ico":
		return true
	}
	return strings.HasPrefix(path, "/assets/")
}

// bearer returns the request's token: the Authorization header, or the
// access_token query parameter (EventSource and download links cannot set
// headers).
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:])
		}
		return ""
	}
	return r.URL.Query().Get("access_token")
}

// authorize checks the request's token; it answers 401/403 and returns
// false when the request may not go on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if s.cfg.Auth == nil || public(r.URL.Path) {
		return r, true
	}
	tok := bearer(r)
	if tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="custos"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "a bearer token is required (Authorization: Bearer TOKEN)")
		return r, false
	}
	p, ok := s.cfg.Auth.Lookup(tok)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="custos", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "unknown bearer token")
		return r, false
	}
	need := ScopeRead
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.URL.Path != "/v1/verify" {
		need = ScopeAdmin
	}
	if p.Scope < need {
		writeError(w, http.StatusForbidden, "forbidden", "this token has scope "+p.Scope.String()+"; "+r.Method+" needs "+need.String())
		return r, false
	}
	if p.Tenant != "" && r.URL.Path == "/metrics" {
		writeError(w, http.StatusForbidden, "forbidden", "metrics cover all tenants; use a token without a tenant")
		return r, false
	}
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p)), true
}
