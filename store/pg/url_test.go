package pg

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestSplitSchema(t *testing.T) {
	tests := []struct {
		name       string
		url        string
		wantURL    string
		wantSchema string
		withError  error
	}{
		{name: "no query", url: "postgres://u:p@h:5432/db", wantURL: "postgres://u:p@h:5432/db"},
		{name: "other params kept as they are", url: "postgres://h/db?sslmode=disable&pool_max_conns=4",
			wantURL: "postgres://h/db?sslmode=disable&pool_max_conns=4"},
		{name: "schema alone", url: "postgres://u:p@h/db?custos_schema=custos", wantURL: "postgres://u:p@h/db", wantSchema: "custos"},
		{name: "schema among others", url: "postgresql://h/db?sslmode=disable&custos_schema=t_1&application_name=x",
			wantURL: "postgresql://h/db?application_name=x&sslmode=disable", wantSchema: "t_1"},
		{name: "key=value string untouched", url: "host=h dbname=db custos_schema=x", wantURL: "host=h dbname=db custos_schema=x"},
		{name: "invalid schema", url: "postgres://h/db?custos_schema=Bad-Name", withError: ErrInvalidSchema},
		{name: "empty schema", url: "postgres://h/db?custos_schema=", withError: ErrInvalidSchema},
		{name: "twice", url: "postgres://h/db?custos_schema=a&custos_schema=b", withError: ErrInvalidSchema},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, schema, err := splitSchema(tt.url)
			if tt.withError != nil {
				if !errors.Is(err, tt.withError) {
					t.Fatalf("err = %v, want %v", err, tt.withError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u != tt.wantURL || schema != tt.wantSchema {
				t.Fatalf("splitSchema(%q) = %q, %q; want %q, %q", tt.url, u, schema, tt.wantURL, tt.wantSchema)
			}
		})
	}
}

// TestSchemaFromURL opens a store with custos_schema in the URL: the tables
// must land in that schema, and WithSchema must win over the URL.
func TestSchemaFromURL(t *testing.T) {
	url := testURL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	inURL, inOpt := newSchema(t), newSchema(t)
	for _, tt := range []struct {
		name string
		opts []Option
		want string
	}{
		{name: "url", want: inURL},
		{name: "option wins", opts: []Option{WithSchema(inOpt)}, want: inOpt},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(ctxT(t), url+sep+SchemaParam+"="+inURL, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if db.Schema() != tt.want {
				t.Errorf("Schema() = %q, want %q", db.Schema(), tt.want)
			}
			mustCommit(t, db, batchOf("u", 2, 3, 0))
			var schema string
			if err := db.pool.QueryRow(context.Background(),
				"SELECT table_schema FROM information_schema.tables WHERE table_name = 'history' AND table_schema = $1",
				tt.want).Scan(&schema); err != nil {
				t.Fatalf("history table not in schema %s: %v", tt.want, err)
			}
			if n := count(t, db, "history"); n != 6 {
				t.Errorf("%d history records, want 6", n)
			}
		})
	}
}
