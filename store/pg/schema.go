package pg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"
)

// FreshSchema returns url with a new schema named prefix_<random hex>
// (SchemaParam), so that a test or benchmark starts on empty tables, and a
// function that drops that schema again.
func FreshSchema(url, prefix string) (string, func()) {
	var b [6]byte
	rand.Read(b[:])
	schema := prefix + "_" + hex.EncodeToString(b[:])
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		db, err := Open(ctx, url, WithoutMigrations(), WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			return
		}
		defer db.Close()
		db.Pool().Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
	}
	return url + sep + SchemaParam + "=" + schema, drop
}
