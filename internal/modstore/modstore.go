// Package modstore persists deployed contract modules and deploys them
// live. Modules are kept content-addressed in the JetStream object store
// bucket custos_modules ("module/<sha256 hex>" holds the bytes,
// "ref/<name>@<version>" the ContractRef that points at them), so that a
// restarted runtime re-registers every module its twins may run
// ([Deployer.Restore]) before it applies any event. NATS is always there,
// so this needs no other server.
//
// [Deployer.Deploy] is the one way in: validation (size, exports, import
// allowlist), a dry run (contracts.Host.Deploy), then persistence, then the
// module is resolvable. Deploying never changes what earlier events were
// evaluated with: a twin moves to a new version only through an upgrade
// command ([UpgradeCommand]), applied by the runtime like any other event
// and recorded in its digest chain.
package modstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/singleflight"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

// Bucket is the JetStream object store bucket of deployed modules.
const Bucket = "custos_modules"

// Errors.
var (
	// ErrCorruptModule: a stored module's bytes do not hash to its name.
	ErrCorruptModule = errors.New("stored module does not match its sha256")
)

// Store keeps modules in the object store.
type Store struct {
	obj jetstream.ObjectStore
}

// Option configures Open.
type Option func(*jetstream.ObjectStoreConfig)

// WithReplicas keeps the bucket on n servers of a NATS cluster (default 1);
// an existing bucket is updated to n.
func WithReplicas(n int) Option {
	return func(c *jetstream.ObjectStoreConfig) { c.Replicas = max(n, 1) }
}

// Open opens (creating if needed) the module bucket.
func Open(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Store, error) {
	cfg := jetstream.ObjectStoreConfig{
		Bucket:      Bucket,
		Description: "custos contract modules, content-addressed",
		Storage:     jetstream.FileStorage,
	}
	for _, o := range opts {
		o(&cfg)
	}
	obj, err := js.CreateOrUpdateObjectStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("module store: %w", err)
	}
	return &Store{obj: obj}, nil
}

// listTimeout bounds Refs' listing when the caller gave no deadline.
var listTimeout = 10 * time.Second

func moduleKey(sha twin.Hash) string { return "module/" + sha.Hex() }
func refKey(name, version string) string {
	return "ref/" + name + "@" + version
}

// Put stores wasm under its sha256 (once) and ref pointing at it.
func (s *Store) Put(ctx context.Context, ref twin.ContractRef, wasm []byte) error {
	if twin.Hash(sha256.Sum256(wasm)) != ref.SHA256 {
		return fmt.Errorf("put %s@%s: %w", ref.Name, ref.Version, ErrCorruptModule)
	}
	if _, err := s.obj.GetInfo(ctx, moduleKey(ref.SHA256)); errors.Is(err, jetstream.ErrObjectNotFound) {
		if _, err := s.obj.PutBytes(ctx, moduleKey(ref.SHA256), wasm); err != nil {
			return fmt.Errorf("put module %s: %w", ref.SHA256.Hex(), err)
		}
	} else if err != nil {
		return fmt.Errorf("put module %s: %w", ref.SHA256.Hex(), err)
	}
	b, _ := json.Marshal(ref)
	if _, err := s.obj.PutBytes(ctx, refKey(ref.Name, ref.Version), b); err != nil {
		return fmt.Errorf("put ref %s@%s: %w", ref.Name, ref.Version, err)
	}
	return nil
}

// Refs returns every stored reference, oldest deployment first.
//
// The listing waits for the bucket's watcher to deliver its first update,
// with no deadline of its own: without one in ctx it is bounded by
// listTimeout, so a stream that has no leader yet fails the call (to be
// tried again) instead of hanging it.
func (s *Store) Refs(ctx context.Context) ([]twin.ContractRef, error) {
	lctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		lctx, cancel = context.WithTimeout(ctx, listTimeout)
		defer cancel()
	}
	infos, err := s.obj.List(lctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list modules: %w", err)
	}
	slices.SortStableFunc(infos, func(a, b *jetstream.ObjectInfo) int { return a.ModTime.Compare(b.ModTime) })
	var refs []twin.ContractRef
	for _, in := range infos {
		if !strings.HasPrefix(in.Name, "ref/") {
			continue
		}
		b, err := s.obj.GetBytes(ctx, in.Name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", in.Name, err)
		}
		var ref twin.ContractRef
		if err := json.Unmarshal(b, &ref); err != nil {
			return nil, fmt.Errorf("read %s: %w", in.Name, err)
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// Module returns the bytes of the module with the given sha256.
func (s *Store) Module(ctx context.Context, sha twin.Hash) ([]byte, error) {
	b, err := s.obj.GetBytes(ctx, moduleKey(sha))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("module %s: %w", sha.Hex(), twin.ErrUnknownPolicy)
	}
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", sha.Hex(), err)
	}
	if twin.Hash(sha256.Sum256(b)) != sha {
		return nil, fmt.Errorf("module %s: %w", sha.Hex(), ErrCorruptModule)
	}
	return b, nil
}

// lastSeq is the bucket's last stream sequence: it moves with every put.
func (s *Store) lastSeq(ctx context.Context) (uint64, error) {
	st, err := s.obj.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("module store status: %w", err)
	}
	return st.(*jetstream.ObjectBucketStatus).StreamInfo().State.LastSeq, nil
}

// Deployer deploys modules on a running host and keeps them in a Store.
//
// It is also the twin.ContractHost the runtime uses, over Host: a module or
// a name@version the host lacks — deployed through another node of a
// cluster — is fetched from the Store on the miss and registered before the
// call goes on, so no node dead-letters an event for want of a module that
// is deployed.
type Deployer struct {
	Host    *contracts.Host
	Modules *Store
	// Twins, if set, lets List count the twins on each module.
	Twins  twin.Store
	Logger *slog.Logger

	fetch singleflight.Group
	mu    sync.Mutex
	seen  uint64 // the Store's last sequence when last synced
}

var _ twin.ContractHost = (*Deployer)(nil)

// Resolve implements twin.ContractHost: the host's, else the Store's after
// a sync.
func (d *Deployer) Resolve(ctx context.Context, name, version string) (twin.ContractRef, error) {
	ref, err := d.Host.Resolve(ctx, name, version)
	if errors.Is(err, twin.ErrUnknownPolicy) {
		if ok, serr := d.sync(ctx); serr != nil {
			return ref, serr
		} else if ok {
			return d.Host.Resolve(ctx, name, version)
		}
	}
	return ref, err
}

// Contract implements twin.ContractHost: the host's, else the Store's after
// a sync.
func (d *Deployer) Contract(ctx context.Context, sha twin.Hash) (twin.Contract, error) {
	c, err := d.Host.Contract(ctx, sha)
	if errors.Is(err, twin.ErrUnknownPolicy) {
		if ok, serr := d.sync(ctx); serr != nil {
			return c, serr
		} else if ok {
			return d.Host.Contract(ctx, sha)
		}
	}
	return c, err
}

// Policies returns the host's registrations (for the HTTP API).
func (d *Deployer) Policies() []twin.ContractRef { return d.Host.Policies() }

// sync registers what the Store holds and the host lacks, when the Store
// changed since the last sync (one status request otherwise), and reports
// whether it registered anything. Concurrent misses share one sync. An
// error (the store unreachable) is not ErrUnknownPolicy: the caller fails
// the event as a transient error, to be retried, not dead-lettered.
func (d *Deployer) sync(ctx context.Context) (bool, error) {
	v, err, _ := d.fetch.Do("sync", func() (any, error) {
		last, err := d.Modules.lastSeq(ctx)
		if err != nil {
			return false, fmt.Errorf("fetch modules: %w", err)
		}
		d.mu.Lock()
		seen := d.seen
		d.mu.Unlock()
		if last == seen {
			return false, nil
		}
		got, err := d.restore(ctx, true)
		if err != nil {
			return len(got) > 0, fmt.Errorf("fetch modules: %w", err)
		}
		d.mu.Lock()
		d.seen = last
		d.mu.Unlock()
		for _, ref := range got {
			d.logger().Info("contract fetched from the module store", "name", ref.Name, "version", ref.Version, "sha256", ref.SHA256.Hex())
		}
		return len(got) > 0, nil
	})
	return v.(bool), err
}

// Deploy validates wasm (size, exports and their signatures, the import
// allowlist, compilation, instantiation and a dry run of init, one reading
// of every type, a custody and a status event), stores it and registers it
// under name and version. Errors wrap contracts.ErrInvalidModule (the text
// says what is wrong), contracts.ErrVersionExists (name@version taken by
// other bytes) or a store error. Deploying the same bytes again is a no-op.
func (d *Deployer) Deploy(ctx context.Context, name, version string, wasm []byte) (twin.ContractRef, error) {
	ref, err := d.Host.Deploy(ctx, name, version, wasm)
	if err != nil {
		return twin.ContractRef{}, err
	}
	// The host has it now; if persisting fails the caller retries, and the
	// retry is a no-op on the host and stores the module.
	if err := d.Modules.Put(ctx, ref, wasm); err != nil {
		return twin.ContractRef{}, err
	}
	d.logger().Info("contract deployed", "name", name, "version", version, "sha256", ref.SHA256.Hex(), "bytes", len(wasm))
	return ref, nil
}

func (d *Deployer) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.Default()
	}
	return d.Logger
}

// Restore registers every stored module with the host, in deployment
// order. Call it after the built-in policies are registered and before the
// runtime applies events, so that twins on deployed versions load. A
// module that no longer validates (a stricter host) is logged and skipped;
// twins on it fail their events with reason unknown_policy until it is
// deployed again.
func (d *Deployer) Restore(ctx context.Context) ([]twin.ContractRef, error) {
	last, err := d.Modules.lastSeq(ctx)
	if err != nil {
		return nil, err
	}
	out, err := d.restore(ctx, false)
	if err == nil {
		d.mu.Lock()
		d.seen = last
		d.mu.Unlock()
	}
	return out, err
}

// restore registers the stored modules (only those the host lacks, if
// missing).
func (d *Deployer) restore(ctx context.Context, missing bool) ([]twin.ContractRef, error) {
	refs, err := d.Modules.Refs(ctx)
	if err != nil {
		return nil, err
	}
	var out []twin.ContractRef
	for _, ref := range refs {
		if have, err := d.Host.Resolve(ctx, ref.Name, ref.Version); missing && err == nil && have.SHA256 == ref.SHA256 {
			continue
		}
		wasm, err := d.Modules.Module(ctx, ref.SHA256)
		if err != nil {
			return out, err
		}
		got, err := d.Host.Register(ctx, ref.Name, ref.Version, wasm)
		if err != nil {
			d.logger().Error("stored contract module refused", "name", ref.Name, "version", ref.Version, "sha256", ref.SHA256.Hex(), "err", err)
			continue
		}
		out = append(out, got)
	}
	return out, nil
}

// Policy is one registration as `custos policy list` shows it.
type Policy struct {
	Name    string    `json:"name"`
	Version string    `json:"version"`
	SHA256  twin.Hash `json:"sha256"`
	// Twins is the number of twins running this module (-1 if not counted).
	Twins int `json:"twins"`
	// Fuel is the module's per-call fuel budget (0 for a retained built-in
	// not compiled yet: contracts.Host.RegisterTrustedLazy).
	Fuel uint64 `json:"fuel"`
	// Quarantined, if set, says why the watchdog quarantined the module:
	// its calls fail (dead-lettered, kind "quarantined") until a restart.
	Quarantined string `json:"quarantined,omitempty"`
}

// ModuleBytes returns the bytes of a registered module: a built-in one or
// one from the Store. An unknown sha256 is an error wrapping
// twin.ErrUnknownPolicy.
func (d *Deployer) ModuleBytes(ctx context.Context, sha twin.Hash) ([]byte, error) {
	for _, p := range builtin.Policies() {
		if sha256.Sum256(p.Wasm) == sha {
			return p.Wasm, nil
		}
	}
	if _, err := d.Host.Contract(ctx, sha); err != nil {
		return nil, err
	}
	return d.Modules.Module(ctx, sha)
}

// List returns every registered module (built-in and deployed) in
// registration order, with the number of twins on each (counted by paging
// through Twins; a module registered under several names gets the count
// of its sha256 on each).
func (d *Deployer) List(ctx context.Context) ([]Policy, error) {
	counts, err := d.countTwins(ctx)
	if err != nil {
		return nil, err
	}
	var out []Policy
	for _, ref := range d.Host.Policies() {
		n := -1
		if counts != nil {
			n = counts[ref.SHA256]
		}
		out = append(out, Policy{Name: ref.Name, Version: ref.Version, SHA256: ref.SHA256, Twins: n,
			Fuel: d.Host.Fuel(ref.SHA256), Quarantined: d.Host.Quarantined(ref.SHA256)})
	}
	return out, nil
}

func (d *Deployer) countTwins(ctx context.Context) (map[twin.Hash]int, error) {
	if d.Twins == nil {
		return nil, nil
	}
	counts := make(map[twin.Hash]int)
	after := ""
	for {
		page, err := d.Twins.Twins(ctx, twin.TwinQuery{After: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("count twins: %w", err)
		}
		for _, t := range page {
			counts[t.Contract.SHA256]++
		}
		if len(page) < 1000 {
			return counts, nil
		}
		after = page[len(page)-1].ID
	}
}

// UpgradeCommand resolves the body of an upgrade request for twin id —
// {"type":"upgrade","policy":"coldchain","version":"1.2.0"}, policy
// defaulting to the twin's current one — into the twin.Command the runtime
// applies (its Contract resolved). Errors wrap twin.ErrNotFound (no such
// twin), twin.ErrUnknownPolicy (no such policy version) or are
// *twin.InputError (invalid_command).
func UpgradeCommand(ctx context.Context, host twin.ContractHost, twins twin.Store, id, policy, version string) (*twin.Command, error) {
	if version == "" {
		return nil, twin.Rejectf(twin.ReasonInvalidCommand, "upgrade needs a version")
	}
	if policy == "" {
		t, err := twins.Twin(ctx, id)
		if err != nil {
			return nil, err
		}
		policy = t.Contract.Name
	}
	ref, err := host.Resolve(ctx, policy, version)
	if err != nil {
		return nil, err
	}
	return &twin.Command{Type: "upgrade", Contract: &ref}, nil
}

// ReadModule reads a deploy request body, refusing more than max bytes.
func ReadModule(body []byte, max int) ([]byte, error) {
	if len(body) > max {
		return nil, fmt.Errorf("%w: %d bytes over the cap of %d", contracts.ErrInvalidModule, len(body), max)
	}
	if !bytes.HasPrefix(body, []byte("\x00asm")) {
		return nil, fmt.Errorf("%w: not a WebAssembly binary (no \\0asm magic)", contracts.ErrInvalidModule)
	}
	return body, nil
}
