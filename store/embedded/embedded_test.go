package embedded

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/custos-dev/custos/store/storetest"
	"github.com/custos-dev/custos/twin"
)

var quiet = WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

func openT(t testing.TB, dir string) *DB {
	t.Helper()
	db, err := Open(dir, quiet, WithCacheSize(8<<20), WithMemTableSize(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (twin.Store, storetest.Reopen) {
		dir := t.TempDir()
		return openT(t, dir), func(t *testing.T) twin.Store { return openT(t, dir) }
	})
}

// TestConformanceNoCache runs the suite with the cache of indexed fields
// cleared at every commit, so that index maintenance reads the stored
// snapshots.
func TestConformanceNoCache(t *testing.T) {
	open := func(t *testing.T, dir string) twin.Store {
		db := openT(t, dir)
		db.maxKnown = 0
		return db
	}
	storetest.Run(t, func(t *testing.T) (twin.Store, storetest.Reopen) {
		dir := t.TempDir()
		return open(t, dir), func(t *testing.T) twin.Store { return open(t, dir) }
	})
}

func TestOpenOptions(t *testing.T) {
	cases := []struct {
		name    string
		opt     Option
		wantErr bool
	}{
		{"nil logger", WithLogger(nil), true},
		{"tiny cache", WithCacheSize(10), true},
		{"cache", WithCacheSize(16 << 20), false},
		{"tiny memtable", WithMemTableSize(1), true},
		{"huge memtable", WithMemTableSize(2 << 30), true},
		{"memtable", WithMemTableSize(8 << 20), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(t.TempDir(), quiet, tc.opt)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Open: err %v, wantErr %v", err, tc.wantErr)
			}
			if db != nil {
				db.Close()
			}
		})
	}
}

func TestClosed(t *testing.T) {
	db := openT(t, t.TempDir())
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	if _, err := db.Twin(ctx, "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Twin after Close: %v", err)
	}
	if err := db.Commit(ctx, &twin.Batch{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close: %v", err)
	}
	if _, err := db.Twins(ctx, twin.TwinQuery{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Twins after Close: %v", err)
	}
	if _, err := db.History(ctx, twin.HistoryQuery{Twin: "x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("History after Close: %v", err)
	}
	if _, err := db.Alerts(ctx, twin.AlertQuery{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Alerts after Close: %v", err)
	}
}

func TestDirLocked(t *testing.T) {
	dir := t.TempDir()
	db := openT(t, dir)
	defer db.Close()
	if db2, err := Open(dir, quiet); err == nil {
		db2.Close()
		t.Fatal("a second Open of an open directory succeeded")
	}
}
