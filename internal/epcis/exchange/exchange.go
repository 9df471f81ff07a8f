// Package exchange serves GS1 EPCIS 2.0 for a running custos: capture over
// HTTP (POST /v1/epcis/capture, capture jobs) and NATS (custos.epcis.capture),
// the identifier → twin mapping (/v1/epcis/identifiers), and export
// (GET /v1/twins/{id}/epcis, GET /v1/epcis/events). The mapping itself is
// internal/epcis; this package adds the I/O: KV buckets, the input stream,
// the store and the runtime's results.
package exchange

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/epcis"
	"github.com/custos-dev/custos/twin"
)

// Public names (docs/interfaces.md).
const (
	// CaptureSubject takes EPCIS documents over NATS; a request gets the
	// capture job (or the refusal) as its reply.
	CaptureSubject = "custos.epcis.capture"
	// BucketIdentifiers maps GS1 keys to twins ("k.<base64url key>" → twin
	// id) and twins to their identifier ("t.<twin>" → identifier).
	BucketIdentifiers = "custos_epcis_identifiers"
	// BucketEvents remembers captured EPCIS events (sha256 of the event key
	// → capture id), so a document sent again applies once.
	BucketEvents = "custos_epcis_events"
)

// Policies resolves contract modules (contracts.Host).
type Policies interface {
	Resolve(ctx context.Context, name, version string) (twin.ContractRef, error)
	Policies() []twin.ContractRef
}

// Config configures an Exchange.
type Config struct {
	Conn     *nats.Conn
	JS       jetstream.JetStream
	Store    twin.Store
	Runtime  *twin.Runtime
	Policies Policies
	Logger   *slog.Logger
	// JobTimeout bounds how long a capture job waits for the runtime to
	// apply its inputs (default 10 min).
	JobTimeout time.Duration
	// Replicas of the KV buckets (default 1).
	Replicas int
}

// Exchange is the EPCIS side of a running custos.
type Exchange struct {
	cfg    Config
	log    *slog.Logger
	ids    jetstream.KeyValue
	events jetstream.KeyValue
	sub    *nats.Subscription

	mu    sync.Mutex
	jobs  map[string]*Job
	order []string
	wg    sync.WaitGroup
	stop  chan struct{}
}

// maxJobs is how many capture jobs are remembered (oldest forgotten first).
const maxJobs = 1000

// New creates the KV buckets (idempotent) and returns an Exchange.
func New(ctx context.Context, cfg Config) (*Exchange, error) {
	if cfg.JS == nil || cfg.Store == nil || cfg.Runtime == nil || cfg.Policies == nil {
		return nil, errors.New("epcis exchange: JS, Store, Runtime and Policies are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 10 * time.Minute
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	x := &Exchange{cfg: cfg, log: cfg.Logger, jobs: map[string]*Job{}, stop: make(chan struct{})}
	var err error
	x.ids, err = cfg.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: BucketIdentifiers,
		Description: "custos EPCIS: GS1 key → twin id, twin id → identifier", Replicas: cfg.Replicas})
	if err != nil {
		return nil, fmt.Errorf("epcis identifiers bucket: %w", err)
	}
	x.events, err = cfg.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: BucketEvents,
		Description: "custos EPCIS: captured events (idempotence)", Replicas: cfg.Replicas})
	if err != nil {
		return nil, fmt.Errorf("epcis events bucket: %w", err)
	}
	return x, nil
}

// Close stops the NATS subscription and waits for running jobs to stop
// waiting.
func (x *Exchange) Close() {
	if x.sub != nil {
		x.sub.Unsubscribe()
	}
	close(x.stop)
	x.wg.Wait()
}

func keyName(k epcis.Key) string { return "k." + base64.RawURLEncoding.EncodeToString([]byte(k)) }

// eventName is the BucketEvents key of an EPCIS event key.
func eventName(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:16])
}

// resolver adapts the KV bucket and the policies to epcis.Resolver for
// one capture (it remembers what it looked up).
type resolver struct {
	ctx   context.Context
	x     *Exchange
	cache map[epcis.Key]string
	err   error
}

func (r *resolver) Twin(k epcis.Key) (string, bool) {
	if id, ok := r.cache[k]; ok {
		return id, id != ""
	}
	id := ""
	e, err := r.x.ids.Get(r.ctx, keyName(k))
	switch {
	case err == nil:
		id = string(e.Value())
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		r.err = err
	}
	r.cache[k] = id
	return id, id != ""
}

func (r *resolver) Policy(name, version string) (twin.ContractRef, error) {
	return r.x.cfg.Policies.Resolve(r.ctx, name, version)
}

// Identifier returns the identifier a twin is known by ("" if none).
func (x *Exchange) Identifier(ctx context.Context, id string) string {
	e, err := x.ids.Get(ctx, "t."+id)
	if err != nil {
		return ""
	}
	return string(e.Value())
}

// Map binds identifiers to twins. Every identifier must parse and every
// twin exist; nothing is written otherwise.
func (x *Exchange) Map(ctx context.Context, m map[string]string) ([]epcis.Mapping, error) {
	out := make([]epcis.Mapping, 0, len(m))
	for ident, id := range m {
		k, err := epcis.ParseKey(ident)
		if err != nil {
			return nil, &epcis.DocumentError{Reason: epcis.ReasonUnknownIdentifier, Event: -1, Detail: err.Error()}
		}
		if _, direct := k.Twin(); direct {
			return nil, &epcis.DocumentError{Reason: epcis.ReasonUnknownIdentifier, Event: -1, Detail: ident + " names a twin already; map GS1 keys"}
		}
		if _, err := x.cfg.Store.Twin(ctx, id); err != nil {
			if errors.Is(err, twin.ErrNotFound) {
				return nil, &epcis.DocumentError{Reason: epcis.ReasonUnknownIdentifier, Event: -1, Detail: "no twin " + id}
			}
			return nil, err
		}
		out = append(out, epcis.Mapping{Identifier: ident, Key: k, Twin: id})
	}
	return out, x.put(ctx, out)
}

func (x *Exchange) put(ctx context.Context, ms []epcis.Mapping) error {
	for _, m := range ms {
		if _, err := x.ids.PutString(ctx, keyName(m.Key), m.Twin); err != nil {
			return fmt.Errorf("epcis identifier: %w", err)
		}
		if _, err := x.ids.PutString(ctx, "t."+m.Twin, m.Identifier); err != nil {
			return fmt.Errorf("epcis identifier: %w", err)
		}
	}
	return nil
}

// Mappings lists the identifier mappings (at most limit).
func (x *Exchange) Mappings(ctx context.Context, limit int) ([]epcis.Mapping, error) {
	lister, err := x.ids.ListKeysFiltered(ctx, "t.>")
	if err != nil {
		return nil, err
	}
	defer lister.Stop()
	out := []epcis.Mapping{}
	for name := range lister.Keys() {
		if len(out) >= limit {
			break
		}
		id := name[2:]
		ident := x.Identifier(ctx, id)
		k, err := epcis.ParseKey(ident)
		if err != nil {
			continue
		}
		out = append(out, epcis.Mapping{Identifier: ident, Key: k, Twin: id})
	}
	return out, nil
}

func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// marshal is json.Marshal for values that cannot fail to encode.
func marshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
