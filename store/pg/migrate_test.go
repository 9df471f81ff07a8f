package pg

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/custos-dev/custos/twin"
)

func TestLoadMigrations(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := []struct {
		name     string
		files    fstest.MapFS
		versions []int
		wantErr  string
	}{
		{"ordered by number", fstest.MapFS{"migrations/0010_b.sql": sql, "migrations/0002_a.sql": sql, "migrations/0001_x.sql": sql}, []int{1, 2, 10}, ""},
		{"other files ignored", fstest.MapFS{"migrations/0001_x.sql": sql, "migrations/README": sql}, []int{1}, ""},
		{"no number", fstest.MapFS{"migrations/init.sql": sql}, nil, "NNNN_description"},
		{"zero", fstest.MapFS{"migrations/0000_x.sql": sql}, nil, "NNNN_description"},
		{"duplicate version", fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/1_b.sql": sql}, nil, "same version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.files)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var vs []int
			for _, m := range ms {
				vs = append(vs, m.version)
			}
			if len(vs) != len(tt.versions) {
				t.Fatalf("versions %v, want %v", vs, tt.versions)
			}
			for i := range vs {
				if vs[i] != tt.versions[i] {
					t.Fatalf("versions %v, want %v", vs, tt.versions)
				}
			}
		})
	}
	// The embedded set loads and starts at 1.
	ms, err := loadMigrations(migrationFS)
	if err != nil || len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("embedded migrations: %v, %v", ms, err)
	}
}

// applied returns version → checksum from schema_migrations.
func applied(t *testing.T, db *DB) map[int]string {
	t.Helper()
	rows, err := db.pool.Query(ctxT(t), "SELECT version, checksum FROM schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var v int
		var c string
		if err := rows.Scan(&v, &c); err != nil {
			t.Fatal(err)
		}
		out[v] = c
	}
	return out
}

func wantAllApplied(t *testing.T, db *DB) {
	t.Helper()
	ms, _ := loadMigrations(migrationFS)
	got := applied(t, db)
	if len(got) != len(ms) {
		t.Fatalf("schema_migrations has %d rows, want %d", len(got), len(ms))
	}
	for _, m := range ms {
		if got[m.version] != m.checksum {
			t.Fatalf("migration %d: checksum %q, want %q", m.version, got[m.version], m.checksum)
		}
	}
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	url := testURL(t)
	schema := newSchema(t)
	// Several nodes start at once on an empty schema.
	const nodes = 4
	dbs := make([]*DB, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = Open(ctxT(t), url, WithSchema(schema))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: Open: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	wantAllApplied(t, dbs[0])
	// And once more, later.
	db, err := Open(ctxT(t), url, WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantAllApplied(t, db)
	// All of them use the same tables.
	mustCommit(t, dbs[1], batchOf("m", 1, 1, 0))
	if _, err := dbs[3].Twin(ctxT(t), "m-0000"); err != nil {
		t.Fatalf("Twin via another node: %v", err)
	}
}

func TestMigrationEditedAfterRelease(t *testing.T) {
	db := openTest(t)
	if _, err := db.pool.Exec(ctxT(t), "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctxT(t), testURL(t), WithSchema(db.Schema()))
	if !errors.Is(err, ErrMigrationChanged) {
		t.Fatalf("Open = %v, want ErrMigrationChanged", err)
	}
}

func TestFailedMigrationLeavesNothing(t *testing.T) {
	url := testURL(t)
	schema := newSchema(t)
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	pc.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctxT(t), pc)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ms, err := loadMigrations(fstest.MapFS{
		"migrations/0001_ok.sql":  {Data: []byte("CREATE TABLE first_one (x int);")},
		"migrations/0002_bad.sql": {Data: []byte("CREATE TABLE second_one (x int); SELECT no_such_column FROM first_one;")},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = applyMigrations(ctxT(t), pool, schema, ms, slog.Default())
	if err == nil || !strings.Contains(err.Error(), "0002_bad.sql") {
		t.Fatalf("applyMigrations = %v, want an error naming 0002_bad.sql", err)
	}
	var n int
	if err := pool.QueryRow(ctxT(t), "SELECT count(*) FROM pg_tables WHERE schemaname = $1", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d tables left in schema %s after a failed migration", n, schema)
	}
	// Fixed, it applies.
	ms[1].sql = "CREATE TABLE second_one (x int);"
	if err := applyMigrations(ctxT(t), pool, schema, ms, slog.Default()); err != nil {
		t.Fatal(err)
	}
}

func TestWithoutMigrations(t *testing.T) {
	url := testURL(t)
	schema := newSchema(t)
	db, err := Open(ctxT(t), url, WithSchema(schema), WithoutMigrations())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Commit(ctxT(t), batchOf("w", 1, 1, 0))
	if err == nil {
		t.Fatal("Commit without migrated tables succeeded")
	}
	if _, err := db.Twin(context.Background(), "w-0000"); err == nil || errors.Is(err, twin.ErrNotFound) {
		t.Fatalf("Twin without tables = %v, want a database error", err)
	}
}
