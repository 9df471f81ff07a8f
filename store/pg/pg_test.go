package pg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/custos-dev/custos/store/pg/pgtest"
	"github.com/custos-dev/custos/twin"
)

// testURL returns the URL of the test database from CUSTOS_TEST_DATABASE. It
// skips the test when the variable is unset, and fails it when CI=true.
func testURL(tb testing.TB) string {
	tb.Helper()
	return pgtest.URL(tb)
}

// newSchema returns a fresh schema name, dropped when the test ends.
func newSchema(tb testing.TB) string {
	tb.Helper()
	url := testURL(tb)
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			tb.Logf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// openTest opens a store in a fresh schema of the test database.
func openTest(tb testing.TB, opts ...Option) *DB {
	tb.Helper()
	url := testURL(tb)
	schema := newSchema(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Quiet: migration logs would split benchmark result lines.
	quiet := WithLogger(slog.New(slog.DiscardHandler))
	db, err := Open(ctx, url, append([]Option{WithSchema(schema), quiet}, opts...)...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 123456789, time.UTC)

func hashOf(s string) twin.Hash { return twin.Keccak256([]byte(s)) }

// sampleTwin returns a twin with every field set.
func sampleTwin(id string, seq uint64) *twin.Twin {
	return &twin.Twin{
		ID:   id,
		Kind: "pallet",
		Contract: twin.ContractRef{
			Name: "coldchain", Version: "1.2.0", SHA256: hashOf("module"),
		},
		Params:    []byte(`{"min_c":2,  "max_c":8}`), // kept byte for byte
		Parent:    "shipment-1",
		Children:  []string{"case-1", "case-2"},
		Custodian: "carrier-a",
		Status:    twin.StatusInTransit,
		Seq:       seq,
		View:      []byte(`{"temp":4.5}`),
		Digest:    hashOf(fmt.Sprint(id, seq)),
		Alerts:    2,
		Created:   t0,
		Updated:   t0.Add(time.Duration(seq) * time.Second),
		State:     []byte{0, 1, 2, 3, 255},
		StreamSeq: 1000 + seq,
		Timers: []twin.Timer{
			{Name: "no_reading", At: t0.Add(15 * time.Minute)},
			{Name: `quote"and\back`, At: t0.Add(time.Hour + 7)},
		},
	}
}

func sampleRecord(id string, seq uint64) twin.Record {
	ev := twin.Event{Kind: twin.KindReading, Type: twin.TypeTemperature, Time: t0.Add(time.Duration(seq) * time.Second),
		Seq: seq, Value: 4.5, Fields: []string{"t1", "CEL"}}
	b, _ := ev.MarshalBinary()
	return twin.Record{
		Twin: id, Seq: seq, StreamSeq: 1000 + seq, Time: ev.Time, Kind: ev.Kind, Event: b,
		EventHash: twin.Keccak256(b), StateHash: hashOf(fmt.Sprint("state", seq)),
		Module: hashOf("module"), Digest: hashOf(fmt.Sprint(id, seq)),
	}
}

func sampleAlert(id string, n, seq uint64) twin.Alert {
	return twin.Alert{Twin: id, N: n, Seq: seq, Severity: twin.SeverityWarning, Code: "excursion",
		Message: fmt.Sprintf("alert %d of %s", n, id), Time: t0.Add(time.Duration(seq) * time.Second)}
}

func mustCommit(tb testing.TB, db *DB, b *twin.Batch) {
	tb.Helper()
	if err := db.Commit(ctxT(tb), b); err != nil {
		tb.Fatalf("Commit: %v", err)
	}
}

// count returns the number of rows of table in db's schema.
func count(tb testing.TB, db *DB, table string) int {
	tb.Helper()
	var n int
	if err := db.pool.QueryRow(ctxT(tb), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}
