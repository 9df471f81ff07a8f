package pg

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded schema migration.
type migration struct {
	version  int
	name     string // file name
	sql      string
	checksum string // sha256 of sql, hex
}

// loadMigrations returns the embedded migrations in version order. File
// names are NNNN_description.sql; versions must be unique.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := map[int]string{}
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", base)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s: same version %d", prev, base, v)
		}
		seen[v] = base
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		ms = append(ms, migration{version: v, name: base, sql: string(b), checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// lockKey is the advisory lock key that serializes migrations of one schema
// across nodes.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("custos/store/pg migrate:" + schema))
	return int64(h.Sum64())
}

// migrate applies the embedded migrations the database lacks, all in one
// transaction under an advisory lock, so that nodes starting together apply
// each migration once and a failed migration leaves nothing behind.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, log *slog.Logger) error {
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return applyMigrations(ctx, pool, schema, ms, log)
}

func applyMigrations(ctx context.Context, pool *pgxpool.Pool, schema string, ms []migration, log *slog.Logger) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(schema)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if schema != "" {
			if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoteIdent(schema)); err != nil {
				return fmt.Errorf("create schema: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	checksum   text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		rows, err := tx.Query(ctx, "SELECT version, name, checksum FROM schema_migrations ORDER BY version")
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		type applied struct{ name, checksum string }
		done := map[int]applied{}
		var v int
		var a applied
		_, err = pgx.ForEachRow(rows, []any{&v, &a.name, &a.checksum}, func() error {
			done[v] = a
			return nil
		})
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		known := map[int]bool{}
		for _, m := range ms {
			known[m.version] = true
			if a, ok := done[m.version]; ok {
				if a.checksum != m.checksum {
					return fmt.Errorf("%w: %s (version %d)", ErrMigrationChanged, m.name, m.version)
				}
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
				m.version, m.name, m.checksum); err != nil {
				return fmt.Errorf("record %s: %w", m.name, err)
			}
			log.Info("pg: applied migration", "version", m.version, "name", m.name, "schema", schema)
		}
		for v, a := range done {
			if !known[v] {
				// A newer binary migrated this database; this one may run
				// as long as the newer migrations were additive.
				log.Warn("pg: database has a migration this binary does not know", "version", v, "name", a.name)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
