package contracts

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/custos-dev/custos/twin"
)

var _ twin.ContractHost = (*Host)(nil)

// Host runs contract modules. It is safe for concurrent use.
type Host struct {
	cfg Config
	// rt runs every module, without wazero's termination checks: fuel
	// (instrument) bounds each call instead of a wall-clock deadline.
	rt    wazero.Runtime
	cache wazero.CompilationCache
	epoch time.Time // monotonic origin of call start times

	mu      sync.RWMutex
	modules map[twin.Hash]*module
	// lazy holds modules registered with RegisterTrustedLazy and not
	// compiled yet: Contract compiles one on first use (under lazyMu).
	lazy   map[twin.Hash]lazyModule
	lazyMu sync.Mutex
	byName map[string][]registration
	order  []twin.ContractRef
	nreg   int

	liveMu sync.Mutex
	live   map[*instance]struct{}

	closed atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

type lazyModule struct {
	wasm []byte
	o    regOpts
}

type registration struct {
	ref twin.ContractRef
	n   int // registration order
}

// NewHost returns a host with one wazero runtime. Close it when done.
func NewHost(ctx context.Context, cfg Config) (*Host, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &Host{
		cfg:     cfg,
		epoch:   time.Now(),
		modules: make(map[twin.Hash]*module),
		lazy:    make(map[twin.Hash]lazyModule),
		byName:  make(map[string][]registration),
		live:    make(map[*instance]struct{}),
		stop:    make(chan struct{}),
	}
	if h.rt, h.cache, err = newRuntime(ctx, cfg.CacheDir); err != nil {
		return nil, err
	}
	h.wg.Add(1)
	go h.watch()
	return h, nil
}

// newRuntime returns a wazero runtime with WASI, and its compilation cache
// (nil without a dir).
func newRuntime(ctx context.Context, cacheDir string) (wazero.Runtime, wazero.CompilationCache, error) {
	rc := wazero.NewRuntimeConfig().
		// Memory is capped by the instance allocator (so that hitting the
		// cap is reported as Kind "memory"), not by the runtime.
		WithMemoryLimitPages(65536)
	var cache wazero.CompilationCache
	if cacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cacheDir)
		if err != nil {
			return nil, nil, fmt.Errorf("contract host: compilation cache: %w", err)
		}
		cache = c
		rc = rc.WithCompilationCache(c)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, nil, fmt.Errorf("contract host: wasi: %w", err)
	}
	return rt, cache, nil
}

// Close stops the host and releases every module and instance.
func (h *Host) Close(ctx context.Context) error {
	if h.closed.Swap(true) {
		return nil
	}
	close(h.stop)
	h.wg.Wait()
	err := h.rt.Close(ctx)
	if h.cache != nil {
		err = errors.Join(err, h.cache.Close(ctx))
	}
	if err != nil {
		return fmt.Errorf("contract host: close: %w", err)
	}
	return nil
}

// Register validates, compiles and files a module under name and version,
// and returns its reference. Registering the same bytes under the same
// name and version again is a no-op; other bytes under a registered
// name@version fail with ErrVersionExists. Invalid modules fail with an
// error wrapping ErrInvalidModule.
func (h *Host) Register(ctx context.Context, name, version string, wasm []byte) (twin.ContractRef, error) {
	return h.register(ctx, name, version, wasm, regOpts{})
}

// Deploy is Register for a module an integrator deploys while the runtime
// runs: besides validation it makes a dry run (see DryRun) before the
// module is filed, so a module that traps on its first events is refused.
// Every failure wraps ErrInvalidModule (or ErrVersionExists) and says why.
func (h *Host) Deploy(ctx context.Context, name, version string, wasm []byte) (twin.ContractRef, error) {
	return h.register(ctx, name, version, wasm, regOpts{dryRun: true})
}

// RegisterTrusted is Register for modules that ship with the binary (the
// built-in policies): their views are not re-validated as JSON. They are
// metered like every other module. If the same bytes are registered both
// ways, the first registration decides.
func (h *Host) RegisterTrusted(ctx context.Context, name, version string, wasm []byte) (twin.ContractRef, error) {
	return h.register(ctx, name, version, wasm, regOpts{trusted: true})
}

// RegisterTrustedLazy is RegisterTrusted without compiling: the module is
// filed under name and version at once, and validated, instrumented and
// compiled on the first Contract call for its sha256 (an error then if it
// is invalid). For built-ins kept only for the twins created on them, so
// that a start does not compile modules nothing may call.
func (h *Host) RegisterTrustedLazy(ctx context.Context, name, version string, wasm []byte) (twin.ContractRef, error) {
	return h.register(ctx, name, version, wasm, regOpts{trusted: true, lazy: true})
}

type regOpts struct {
	trusted, dryRun bool
	lazy            bool // RegisterTrustedLazy
	unmetered       bool // benchmarks only: the module as it was before fuel
}

func (h *Host) register(ctx context.Context, name, version string, wasm []byte, o regOpts) (twin.ContractRef, error) {
	if h.closed.Load() {
		return twin.ContractRef{}, ErrHostClosed
	}
	if !validName(name) || !validName(version) {
		return twin.ContractRef{}, fmt.Errorf("%w: name and version must be 1-64 characters of [A-Za-z0-9._+-]", ErrInvalidModule)
	}
	if len(wasm) > h.cfg.MaxModuleBytes {
		return twin.ContractRef{}, fmt.Errorf("%w: %d bytes over the cap of %d", ErrInvalidModule, len(wasm), h.cfg.MaxModuleBytes)
	}
	ref := twin.ContractRef{Name: name, Version: version, SHA256: sha256.Sum256(wasm)}

	h.mu.RLock()
	_, compiled := h.modules[ref.SHA256]
	_, lazy := h.lazy[ref.SHA256]
	prev, dup := h.lookup(name, version)
	h.mu.RUnlock()
	if dup {
		if prev.SHA256 == ref.SHA256 {
			return prev, nil
		}
		return twin.ContractRef{}, fmt.Errorf("register %s@%s: %w", name, version, ErrVersionExists)
	}
	var m *module
	switch {
	case compiled || lazy && o.lazy:
	case lazy: // filed lazily before: compile now, as the first registration asked
		if _, err := h.loadLazy(ctx, ref.SHA256); err != nil {
			return twin.ContractRef{}, fmt.Errorf("register %s@%s: %w", name, version, err)
		}
	case o.lazy: // filed below, compiled by Contract
	default:
		var err error
		if m, err = h.load(ctx, ref.SHA256, wasm, o); err != nil {
			return twin.ContractRef{}, fmt.Errorf("register %s@%s: %w", name, version, err)
		}
	}
	if o.dryRun {
		c := m
		if c == nil {
			h.mu.RLock()
			c = h.modules[ref.SHA256]
			h.mu.RUnlock()
		}
		if err := dryRunModule(ctx, c); err != nil {
			if m != nil {
				m.close()
			}
			return twin.ContractRef{}, fmt.Errorf("deploy %s@%s: %w", name, version, err)
		}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if prev, dup := h.lookup(name, version); dup { // raced with another Register
		if m != nil {
			m.close()
		}
		if prev.SHA256 == ref.SHA256 {
			return prev, nil
		}
		return twin.ContractRef{}, fmt.Errorf("register %s@%s: %w", name, version, ErrVersionExists)
	}
	if m != nil {
		if _, ok := h.modules[ref.SHA256]; ok {
			m.close()
		} else {
			h.modules[ref.SHA256] = m
		}
	} else if _, ok := h.modules[ref.SHA256]; !ok && o.lazy {
		if _, ok := h.lazy[ref.SHA256]; !ok {
			h.lazy[ref.SHA256] = lazyModule{wasm: wasm, o: regOpts{trusted: o.trusted}}
		}
	}
	h.nreg++
	h.byName[name] = append(h.byName[name], registration{ref: ref, n: h.nreg})
	h.order = append(h.order, ref)
	attrs := []any{"name", name, "version", version, "sha256", ref.SHA256.Hex(), "trusted", o.trusted}
	if o.lazy {
		attrs = append(attrs, "compiled", "on first use")
	}
	h.cfg.Logger.Info("contract registered", attrs...)
	return ref, nil
}

// load meters, compiles and validates a module and instantiates it once.
func (h *Host) load(ctx context.Context, sha twin.Hash, wasm []byte, o regOpts) (*module, error) {
	code, fuel := wasm, h.cfg.Fuel
	if !o.unmetered {
		var declared uint64
		var err error
		if code, declared, err = h.instrumented(sha, wasm); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidModule, err)
		}
		if declared > MaxFuel {
			return nil, fmt.Errorf("%w: %s section asks for %d fuel, over the cap of %d", ErrInvalidModule, fuelSection, declared, uint64(MaxFuel))
		}
		if declared > 0 {
			fuel = declared
		}
	}
	cm, err := h.rt.CompileModule(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("%w: compile: %v", ErrInvalidModule, err)
	}
	if err := validateCompiled(cm, h.cfg.MaxMemoryPages); err != nil {
		_ = cm.Close(ctx)
		return nil, err
	}
	m := newModule(h, o.trusted, sha, cm, int64(fuel))
	inst, err := m.newInstance(ctx)
	if err != nil {
		m.close()
		return nil, fmt.Errorf("%w: %v", ErrInvalidModule, err)
	}
	m.sem <- struct{}{}
	m.put(inst)
	return m, nil
}

// instrumentVersion names the instrumentation in the on-disk cache: change
// it with any change to instrument's output.
const instrumentVersion = "fuel-v3"

// instrumented returns instrument(wasm), from CacheDir when an earlier
// start left it there (re-encoding a 3.4 MB Go module takes ~0.2 s, as
// long as loading its machine code from the compilation cache).
func (h *Host) instrumented(sha twin.Hash, wasm []byte) ([]byte, uint64, error) {
	path := ""
	if h.cfg.CacheDir != "" {
		path = filepath.Join(h.cfg.CacheDir, instrumentVersion, sha.Hex()+".wasm")
		if b, err := os.ReadFile(path); err == nil && len(b) > 8 {
			return b[8:], binary.LittleEndian.Uint64(b), nil
		}
	}
	code, declared, err := instrument(wasm)
	if err != nil || path == "" {
		return code, declared, err
	}
	b := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+len(code)), declared)
	b = append(b, code...)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
		if err := os.WriteFile(tmp, b, 0o644); err == nil {
			if os.Rename(tmp, path) != nil {
				_ = os.Remove(tmp)
			}
		}
	}
	return code, declared, nil
}

// lookup must be called with h.mu held.
func (h *Host) lookup(name, version string) (twin.ContractRef, bool) {
	for _, r := range h.byName[name] {
		if r.ref.Version == version {
			return r.ref, true
		}
	}
	return twin.ContractRef{}, false
}

// Resolve returns the module registered under name and version; an empty
// version means the newest (see the package doc for the ordering).
func (h *Host) Resolve(ctx context.Context, name, version string) (twin.ContractRef, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if version != "" {
		if ref, ok := h.lookup(name, version); ok {
			return ref, nil
		}
		return twin.ContractRef{}, fmt.Errorf("resolve %s@%s: %w", name, version, twin.ErrUnknownPolicy)
	}
	regs := h.byName[name]
	if len(regs) == 0 {
		return twin.ContractRef{}, fmt.Errorf("resolve %s: %w", name, twin.ErrUnknownPolicy)
	}
	best := slices.MaxFunc(regs, compareRegistrations)
	return best.ref, nil
}

// Contract returns the loaded module with the given sha256.
func (h *Host) Contract(ctx context.Context, sha twin.Hash) (twin.Contract, error) {
	if h.closed.Load() {
		return nil, ErrHostClosed
	}
	h.mu.RLock()
	m, ok := h.modules[sha]
	h.mu.RUnlock()
	if !ok {
		var err error
		if m, err = h.loadLazy(ctx, sha); err != nil {
			return nil, err
		}
	}
	return m.handle, nil
}

// loadLazy compiles the module sha registered with RegisterTrustedLazy
// (or returns it, compiled meanwhile).
func (h *Host) loadLazy(ctx context.Context, sha twin.Hash) (*module, error) {
	h.lazyMu.Lock()
	defer h.lazyMu.Unlock()
	h.mu.RLock()
	m, ok := h.modules[sha]
	lz, lazy := h.lazy[sha]
	h.mu.RUnlock()
	switch {
	case ok:
		return m, nil
	case !lazy:
		return nil, fmt.Errorf("contract %s: %w", sha.Hex(), twin.ErrUnknownPolicy)
	}
	m, err := h.load(ctx, sha, lz.wasm, lz.o)
	if err != nil {
		return nil, fmt.Errorf("contract %s: %w", sha.Hex(), err)
	}
	h.mu.Lock()
	h.modules[sha] = m
	delete(h.lazy, sha)
	h.mu.Unlock()
	h.cfg.Logger.Info("contract compiled on first use", "sha256", sha.Hex())
	return m, nil
}

// Policies returns every registration, in registration order.
func (h *Host) Policies() []twin.ContractRef {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return slices.Clone(h.order)
}

// watch is the wall-clock backstop (see the package doc, "Watchdog"): it
// quarantines the module of any call running longer than Config.Watchdog.
func (h *Host) watch() {
	defer h.wg.Done()
	t := time.NewTicker(min(h.cfg.Watchdog/10, time.Second))
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		now := h.mono()
		var stuck []*module
		h.liveMu.Lock()
		for inst := range h.live {
			if s := inst.started.Load(); s > 0 && time.Duration(now-s) > h.cfg.Watchdog {
				stuck = append(stuck, inst.m)
			}
		}
		h.liveMu.Unlock()
		for _, m := range stuck {
			m.quarantine(fmt.Sprintf("a call ran longer than the %v watchdog", h.cfg.Watchdog))
		}
	}
}

// Quarantined returns why the module with the given sha256 is quarantined
// ("" if it is not).
func (h *Host) Quarantined(sha twin.Hash) string {
	h.mu.RLock()
	m := h.modules[sha]
	h.mu.RUnlock()
	if m == nil {
		return ""
	}
	if r := m.quarantined.Load(); r != nil {
		return *r
	}
	return ""
}

// Fuel returns the per-call fuel budget of the module with the given
// sha256 (its custos.fuel section, else Config.Fuel), or 0 if it is not
// loaded (unknown, or registered with RegisterTrustedLazy and not compiled
// yet).
func (h *Host) Fuel(sha twin.Hash) uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if m := h.modules[sha]; m != nil {
		return uint64(m.fuel)
	}
	return 0
}

func (h *Host) mono() int64 { return int64(time.Since(h.epoch)) + 1 }

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._+-", c) >= 0) {
			return false
		}
	}
	return true
}

// compareRegistrations orders semantic versions above non-semantic ones,
// semantic versions by precedence, and ties by registration order.
func compareRegistrations(a, b registration) int {
	va, oka := parseSemver(a.ref.Version)
	vb, okb := parseSemver(b.ref.Version)
	switch {
	case oka && !okb:
		return 1
	case !oka && okb:
		return -1
	case oka && okb:
		if c := va.compare(vb); c != 0 {
			return c
		}
	}
	return a.n - b.n
}

type semver struct {
	n   [3]uint64
	pre string
}

func parseSemver(s string) (semver, bool) {
	var v semver
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		s, v.pre = s[:i], s[i+1:]
		if v.pre == "" {
			return v, false
		}
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return v, false
		}
		v.n[i] = n
	}
	return v, true
}

func (a semver) compare(b semver) int {
	for i := range a.n {
		if a.n[i] != b.n[i] {
			if a.n[i] < b.n[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	return strings.Compare(a.pre, b.pre)
}
