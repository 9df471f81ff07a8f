package pg

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/custos-dev/custos/twin"
)

var (
	_ twin.Store      = (*DB)(nil)
	_ twin.TimerIndex = (*DB)(nil)
)

// DB is a [twin.Store] backed by PostgreSQL. It is safe for concurrent use.
type DB struct {
	pool   *pgxpool.Pool
	cfg    config
	log    *slog.Logger
	stop   context.CancelFunc // stops background work (retention)
	wg     sync.WaitGroup
	closed sync.Once

	copyMin int // batches with at least this many records COPY their history
}

// Option configures Open. Options validate their arguments and make Open
// fail with an error wrapping ErrInvalidOption or ErrInvalidSchema.
type Option func(*config) error

type config struct {
	schema    string
	retention Retention
	maxConns  int32
	log       *slog.Logger
	migrate   bool
	// sessionTimeout, if set, is statement_timeout and
	// idle_in_transaction_session_timeout (WithSessionTimeouts).
	sessionTimeout time.Duration
}

// Retention configures the periodic deletion of old history records.
type Retention struct {
	// Keep is how long history is kept, by event time: records older than
	// now-Keep are deleted. Zero keeps history forever.
	Keep time.Duration
	// Every is how often the deletion runs. Zero means Keep/10, between one
	// minute and one hour.
	Every time.Duration
}

func (r Retention) interval() time.Duration {
	if r.Every > 0 {
		return r.Every
	}
	return min(max(r.Keep/10, time.Minute), time.Hour)
}

// WithSchema puts the store's tables in the PostgreSQL schema name, created
// if missing, instead of the connection's default (usually public). name is
// a plain lower-case identifier: a letter or underscore, then lower-case
// letters, digits or underscores, at most 63 bytes.
func WithSchema(name string) Option {
	return func(c *config) error {
		if !validIdent(name) {
			return fmt.Errorf("%w: %q", ErrInvalidSchema, name)
		}
		c.schema = name
		return nil
	}
}

// WithRetention deletes history records older than r.Keep every r.Every,
// in the background, until Close.
func WithRetention(r Retention) Option {
	return func(c *config) error {
		if r.Keep < 0 || r.Every < 0 {
			return fmt.Errorf("%w: negative retention", ErrInvalidOption)
		}
		c.retention = r
		return nil
	}
}

// WithMaxConns caps the connection pool (default: pgxpool's, max(4, cores),
// or pool_max_conns in the URL).
func WithMaxConns(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 1<<15 {
			return fmt.Errorf("%w: max conns %d", ErrInvalidOption, n)
		}
		c.maxConns = int32(n)
		return nil
	}
}

// WithLogger sets the logger for background work (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.log = l
		return nil
	}
}

// WithSessionTimeouts bounds, on every connection, how long one statement
// may run and a transaction may sit idle waiting for its client
// (statement_timeout and idle_in_transaction_session_timeout). In a
// cluster, a commit transaction holds the fence rows of its partitions
// until it ends; if its node is paused mid-commit, the server aborts it
// after d, so that the partitions' next owner can fence them.
func WithSessionTimeouts(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Second {
			return fmt.Errorf("%w: session timeouts %v: want at least 1s", ErrInvalidOption, d)
		}
		c.sessionTimeout = d
		return nil
	}
}

// WithoutMigrations makes Open skip applying migrations, for a node that
// must not change the schema; the tables must already exist.
func WithoutMigrations() Option {
	return func(c *config) error {
		c.migrate = false
		return nil
	}
}

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string, as pgx accepts), applies pending migrations,
// and returns the store. It fails if the database cannot be reached before
// ctx is done.
//
// A postgres:// URL may carry the query parameter custos_schema=<name>
// ([SchemaParam]), which Open removes and applies as [WithSchema] unless an
// option sets the schema too.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	cfg := config{log: slog.Default(), migrate: true}
	url, schema, err := splitSchema(url)
	if err != nil {
		return nil, fmt.Errorf("pg open: %w", err)
	}
	cfg.schema = schema
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("pg open: %w", err)
		}
	}
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pg open: parse url: %w", err)
	}
	if cfg.maxConns > 0 {
		pc.MaxConns = cfg.maxConns
	}
	if cfg.schema != "" {
		// Every connection of the pool resolves unqualified names in the
		// schema (pg_catalog stays implicitly first).
		pc.ConnConfig.RuntimeParams["search_path"] = cfg.schema
	}
	if _, ok := pc.ConnConfig.RuntimeParams["application_name"]; !ok {
		pc.ConnConfig.RuntimeParams["application_name"] = "custos"
	}
	if d := cfg.sessionTimeout; d > 0 {
		ms := strconv.FormatInt(d.Milliseconds(), 10)
		pc.ConnConfig.RuntimeParams["statement_timeout"] = ms
		pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = ms
	}
	// Find connections broken by a server restart soon, not after a minute.
	pc.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("pg open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pg open: connect: %w", err)
	}
	if cfg.migrate {
		if err := migrate(ctx, pool, cfg.schema, cfg.log); err != nil {
			pool.Close()
			return nil, fmt.Errorf("pg open: %w", err)
		}
	}
	bg, stop := context.WithCancel(context.Background())
	db := &DB{pool: pool, cfg: cfg, log: cfg.log, stop: stop, copyMin: copyMinRecords}
	if cfg.retention.Keep > 0 {
		db.wg.Add(1)
		go db.retain(bg)
	}
	return db, nil
}

// Close stops background work and closes all connections. It waits for
// calls in progress to return their connections.
func (db *DB) Close() error {
	db.closed.Do(func() {
		db.stop()
		db.wg.Wait()
		db.pool.Close()
	})
	return nil
}

// Ping reports whether the database answers, for a readiness probe.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pg ping: %w", err)
	}
	return nil
}

// Pool returns the underlying connection pool, for packages that keep their
// own tables in the same database (anchors, proofs). Do not close it.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Schema returns the schema given to WithSchema, or "".
func (db *DB) Schema() string { return db.cfg.schema }

func validIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// quoteIdent quotes an identifier for SQL text.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
