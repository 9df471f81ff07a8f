package pg

import (
	"fmt"
	"net/url"
	"strings"
)

// SchemaParam is the query parameter of a postgres:// URL that Open takes as
// WithSchema: "postgres://host/db?custos_schema=custos". Open removes it
// before connecting (PostgreSQL would refuse it as an unknown setting). It
// lets a daemon configured only by a URL (custos run --store) keep its tables
// in their own schema. An explicit WithSchema option wins over it.
const SchemaParam = "custos_schema"

// splitSchema removes the SchemaParam query parameter from a postgres:// or
// postgresql:// URL and returns the URL without it and the schema ("" if the
// URL has none). Other connection strings (key=value) are returned as they
// are.
func splitSchema(raw string) (string, string, error) {
	if !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
		return raw, "", nil
	}
	if !strings.Contains(raw, SchemaParam) {
		return raw, "", nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		// Leave the diagnosis to pgx, which does not echo the password.
		return raw, "", nil
	}
	q := u.Query()
	vals, ok := q[SchemaParam]
	if !ok {
		return raw, "", nil
	}
	if len(vals) != 1 {
		return "", "", fmt.Errorf("%w: %s given %d times", ErrInvalidSchema, SchemaParam, len(vals))
	}
	schema := vals[0]
	if !validIdent(schema) {
		return "", "", fmt.Errorf("%w: %s=%q", ErrInvalidSchema, SchemaParam, schema)
	}
	q.Del(SchemaParam)
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}
