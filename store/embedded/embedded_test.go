package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"

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

// TestConcurrentCommitsSameTwin commits snapshots of the same twins from
// several goroutines at once and then checks the raw index: exactly one
// entry per indexed field, naming the stored snapshot's value. (Listing
// re-checks filters on the snapshot, so a stale entry would not show
// through the API.)
func TestConcurrentCommitsSameTwin(t *testing.T) {
	db := openT(t, t.TempDir())
	defer db.Close()
	ctx := context.Background()
	statuses := []string{twin.StatusCreated, twin.StatusInTransit, twin.StatusDelivered, twin.StatusCompromised}
	ids := []string{"same-1", "same-2", "same-3"}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 30 {
				b := &twin.Batch{}
				for _, id := range ids {
					b.Twins = append(b.Twins, &twin.Twin{ID: id, Status: statuses[(g+n)%4],
						Kind: fmt.Sprint("k", n%3), Custodian: fmt.Sprint("c", g)})
				}
				if n%7 == 0 {
					b.Twins = append(b.Twins, &twin.Twin{ID: fmt.Sprintf("own-%d-%d", g, n), Status: "x"})
				}
				if err := db.Commit(ctx, b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{spaceIndex}, UpperBound: []byte{spaceIndex + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	entries := map[string][]string{} // id -> "field=value"
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		field := k[1]
		n, w := binary.Uvarint(k[2:])
		value := string(k[2+w : 2+w+int(n)])
		id := string(k[2+w+int(n):])
		entries[id] = append(entries[id], fmt.Sprintf("%c=%s", field, value))
	}
	for _, id := range ids {
		s, err := db.Twin(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"c=" + s.Custodian, "k=" + s.Kind, "s=" + s.Status}
		got := entries[id]
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: index entries %v, want %v", id, got, want)
		}
	}
	if len(entries) != len(ids)+4*5 {
		t.Fatalf("index names %d twins, want %d", len(entries), len(ids)+4*5)
	}
}
