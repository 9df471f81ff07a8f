package contracts

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

// testCacheDir is shared by every host in the test binary, so that the
// coldchain module (several seconds to compile) is compiled once.
var testCacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "custos-contracts-cache")
	if err != nil {
		panic(err)
	}
	testCacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newTestHost(t testing.TB, cfg Config) *Host {
	t.Helper()
	ctx := context.Background()
	if cfg.CacheDir == "" {
		cfg.CacheDir = testCacheDir
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := NewHost(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return h
}

func mustContract(t testing.TB, h *Host, name string) twin.Contract {
	t.Helper()
	ctx := context.Background()
	ref, err := h.Register(ctx, name, "1.0.0", testdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.Contract(ctx, ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func encodeEvent(t testing.TB, ev twin.Event) []byte {
	t.Helper()
	b, err := ev.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func reading(seq uint64, at time.Time, v float64) twin.Event {
	return twin.Event{Kind: twin.KindReading, Type: twin.TypeTemperature, Time: at, Seq: seq, Value: v, Fields: []string{"t1", "CEL"}}
}

// minimalState decodes the state of testdata/minimal.wat.
type minimalState struct {
	wall, mono int64
	random     [16]byte
	count      uint64
}

func decodeMinimal(t testing.TB, b []byte) minimalState {
	t.Helper()
	if len(b) != 40 {
		t.Fatalf("minimal state is %d bytes, want 40", len(b))
	}
	var s minimalState
	s.wall = int64(binary.LittleEndian.Uint64(b))
	s.mono = int64(binary.LittleEndian.Uint64(b[8:]))
	copy(s.random[:], b[16:32])
	s.count = binary.LittleEndian.Uint64(b[32:])
	return s
}

func TestIsolation(t *testing.T) {
	h := newTestHost(t, Config{MaxMemoryPages: 64, MaxOutputBytes: 64 << 10, PoolSize: 2, Fuel: 1_000_000})
	ctx := context.Background()
	good := mustContract(t, h, "minimal")
	ev := encodeEvent(t, reading(1, t0, 5))
	tests := []struct {
		module string
		kind   string
		detail string
	}{
		{"loop", KindFuel, "fuel budget"},
		{"grow", KindMemory, "64 pages"},
		{"trap", KindTrap, "unreachable"},
		{"bigout", KindOutputTooLarge, "200000 bytes"},
		{"badout", KindInvalidOutput, "malformed output"},
	}
	for _, tt := range tests {
		t.Run(tt.module, func(t *testing.T) {
			bad := mustContract(t, h, tt.module)
			for i := range 2 { // the second call runs on a fresh instance when the first was discarded
				start := time.Now()
				_, err := bad.Apply(ctx, twin.Call{Twin: "p1", Seq: 7, Time: t0}, nil, ev)
				var ce *twin.ContractError
				if !errors.As(err, &ce) {
					t.Fatalf("call %d: err = %v, want *twin.ContractError", i, err)
				}
				if ce.Kind != tt.kind || ce.Twin != "p1" || ce.Seq != 7 || !strings.Contains(ce.Error(), tt.detail) {
					t.Fatalf("call %d: got kind %q (%v), want %q containing %q", i, ce.Kind, ce, tt.kind, tt.detail)
				}
				if d := time.Since(start); d > time.Second {
					t.Fatalf("call %d took %v", i, d)
				}
				// Init on the same module still works (fresh or kept instance).
				if _, err := bad.Init(ctx, twin.Call{Twin: "p1", Seq: 0, Time: t0}, ev); err != nil {
					t.Fatalf("init after failure: %v", err)
				}
				// Another module is unaffected.
				out, err := good.Apply(ctx, twin.Call{Twin: "p2", Seq: 3, Time: t0}, nil, ev)
				if err != nil {
					t.Fatalf("good module after failure: %v", err)
				}
				if s := decodeMinimal(t, out.State); s.count != 1 {
					t.Fatalf("good module count = %d", s.count)
				}
			}
		})
	}
}

func TestDeterministicEnvironment(t *testing.T) {
	h := newTestHost(t, Config{PoolSize: 3})
	ctx := context.Background()
	c := mustContract(t, h, "minimal")
	at := time.Date(2031, 7, 4, 1, 2, 3, 456, time.UTC)
	call := twin.Call{Twin: "pallet-9", Seq: 42, Time: at}
	ev := encodeEvent(t, reading(42, at, 4))

	// The expected random bytes: ChaCha8 seeded with the documented seed.
	seed := sha256.Sum256(binary.LittleEndian.AppendUint64(
		append(binary.LittleEndian.AppendUint32([]byte("custos/rand/v1"), 8), "pallet-9"...), 42))
	var want [16]byte
	rand.NewChaCha8(seed).Read(want[:])

	// Run the same call concurrently so that several instances serve it.
	var wg sync.WaitGroup
	states := make([][]byte, 12)
	errs := make([]error, len(states))
	for i := range states {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Interleave other twins' calls so instances have different histories.
			if _, err := c.Apply(ctx, twin.Call{Twin: "other", Seq: uint64(i), Time: t0}, nil, ev); err != nil {
				errs[i] = err
				return
			}
			out, err := c.Apply(ctx, call, nil, ev)
			states[i], errs[i] = out.State, err
		}()
	}
	wg.Wait()
	for i := range states {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		s := decodeMinimal(t, states[i])
		if s.wall != at.UnixNano() || s.mono != at.UnixNano()+1 {
			t.Fatalf("clock = %d/%d, want event time %d and monotonic event time + 1 ns (first read)", s.wall, s.mono, at.UnixNano())
		}
		if s.random != want {
			t.Fatalf("random = %x, want %x", s.random, want)
		}
		if string(states[i]) != string(states[0]) {
			t.Fatalf("call %d state differs", i)
		}
	}
	out, err := c.Apply(ctx, twin.Call{Twin: "pallet-9", Seq: 43, Time: at}, nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	if decodeMinimal(t, out.State).random == want {
		t.Fatal("random source did not change with seq")
	}
}

func TestValidation(t *testing.T) {
	h := newTestHost(t, Config{MaxModuleBytes: 4096})
	ctx := context.Background()
	tests := []struct {
		name string
		wasm []byte
		want string
	}{
		{"envimport", testdata(t, "envimport"), "forbidden import env.abort"},
		{"fsimport", testdata(t, "fsimport"), "forbidden import wasi_snapshot_preview1.path_open"},
		{"noapply", testdata(t, "noapply"), `missing export "custos_apply"`},
		{"garbage", []byte("\x00asm not really"), "decode"},
		{"oversize", make([]byte, 5000), "over the cap of 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.Register(ctx, tt.name, "1.0.0", tt.wasm)
			if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalidModule containing %q", err, tt.want)
			}
		})
	}
	if _, err := h.Resolve(ctx, "envimport", ""); !errors.Is(err, twin.ErrUnknownPolicy) {
		t.Fatalf("rejected module resolvable: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	h := newTestHost(t, Config{})
	ctx := context.Background()
	minimal, trap := testdata(t, "minimal"), testdata(t, "trap")
	for _, r := range []struct {
		version string
		wasm    []byte
	}{
		{"1.2.0", minimal}, {"1.10.0", trap}, {"1.9.9", minimal}, {"2.0.0-rc1", minimal},
	} {
		if _, err := h.Register(ctx, "p", r.version, r.wasm); err != nil {
			t.Fatal(err)
		}
	}
	ref, err := h.Resolve(ctx, "p", "")
	if err != nil || ref.Version != "2.0.0-rc1" {
		t.Fatalf("newest = %+v, %v", ref, err)
	}
	if _, err := h.Register(ctx, "p", "2.0.0", minimal); err != nil {
		t.Fatal(err)
	}
	if ref, _ := h.Resolve(ctx, "p", ""); ref.Version != "2.0.0" {
		t.Fatalf("newest = %s, want 2.0.0", ref.Version)
	}
	ref, err = h.Resolve(ctx, "p", "1.10.0")
	if err != nil || ref.SHA256 != sha256.Sum256(trap) {
		t.Fatalf("resolve 1.10.0 = %+v, %v", ref, err)
	}
	if _, err := h.Register(ctx, "p", "1.2.0", trap); !errors.Is(err, ErrVersionExists) {
		t.Fatalf("re-register with other bytes: %v", err)
	}
	if again, err := h.Register(ctx, "p", "1.2.0", minimal); err != nil || again.Version != "1.2.0" {
		t.Fatalf("idempotent register: %+v %v", again, err)
	}
	if _, err := h.Resolve(ctx, "nope", ""); !errors.Is(err, twin.ErrUnknownPolicy) {
		t.Fatal(err)
	}
	if _, err := h.Contract(ctx, twin.Hash{1}); !errors.Is(err, twin.ErrUnknownPolicy) {
		t.Fatal(err)
	}
	if n := len(h.Policies()); n != 5 {
		t.Fatalf("%d policies, want 5", n)
	}
	// Registration order for non-semver versions.
	for _, v := range []string{"beta", "alpha"} {
		if _, err := h.Register(ctx, "q", v, minimal); err != nil {
			t.Fatal(err)
		}
	}
	if ref, _ := h.Resolve(ctx, "q", ""); ref.Version != "alpha" {
		t.Fatalf("newest non-semver = %s, want the last registered", ref.Version)
	}
}

func TestView(t *testing.T) {
	h := newTestHost(t, Config{})
	c := mustContract(t, h, "minimal")
	v, err := c.View(context.Background(), twin.Call{Twin: "a", Time: t0}, []byte("xyz"))
	if err != nil || string(v) != `{"n":1}` {
		t.Fatalf("view = %q, %v", v, err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{MaxMemoryPages: 70000}, {Fuel: 10}, {Watchdog: time.Millisecond}, {MaxOutputBytes: 10}, {PoolSize: -1}, {MaxModuleBytes: -5},
	} {
		if _, err := NewHost(context.Background(), cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: err = %v", cfg, err)
		}
	}
}

func TestCompilationCache(t *testing.T) {
	dir := t.TempDir()
	for range 2 {
		h := newTestHost(t, Config{CacheDir: dir})
		mustContract(t, h, "minimal")
		if err := h.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("cache dir empty: %v", err)
	}
	sha := sha256.Sum256(testdata(t, "minimal"))
	if _, err := os.Stat(filepath.Join(dir, instrumentVersion, twin.Hash(sha).Hex()+".wasm")); err != nil {
		t.Fatalf("instrumented module not cached: %v", err)
	}
}

func TestClosedHost(t *testing.T) {
	h := newTestHost(t, Config{})
	c := mustContract(t, h, "minimal")
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(context.Background(), twin.Call{Twin: "a"}, nil, nil); !errors.Is(err, ErrHostClosed) {
		t.Fatalf("apply after close: %v", err)
	}
}

// TestTrustedModule: a trusted module runs without termination checks but
// its failures are still isolated, and it shares nothing with an untrusted
// registration of other bytes.
func TestTrustedModule(t *testing.T) {
	h := newTestHost(t, Config{PoolSize: 1})
	ctx := context.Background()
	ref, err := h.RegisterTrusted(ctx, "trap", "1.0.0", testdata(t, "trap"))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := h.Contract(ctx, ref.SHA256)
	ev := encodeEvent(t, reading(1, t0, 5))
	_, err = c.Apply(ctx, twin.Call{Twin: "a", Seq: 1, Time: t0}, nil, ev)
	var ce *twin.ContractError
	if !errors.As(err, &ce) || ce.Kind != KindTrap {
		t.Fatalf("err = %v", err)
	}
	if _, err := c.Init(ctx, twin.Call{Twin: "a", Time: t0}, ev); err != nil {
		t.Fatalf("init on a fresh instance: %v", err)
	}
	if _, err := h.RegisterTrusted(ctx, "bad", "1.0.0", testdata(t, "envimport")); !errors.Is(err, ErrInvalidModule) {
		t.Fatalf("trusted modules are validated too: %v", err)
	}
}

// TestHammer runs good and failing calls concurrently on small pools: every
// good call succeeds and every bad call fails with its own kind.
func TestHammer(t *testing.T) {
	h := newTestHost(t, Config{PoolSize: 2})
	ctx := context.Background()
	good, trap, loop := mustContract(t, h, "minimal"), mustContract(t, h, "trap"), mustContract(t, h, "loop")
	ev := encodeEvent(t, reading(1, t0, 5))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				call := twin.Call{Twin: "t", Seq: uint64(g*1000 + i), Time: t0}
				var c twin.Contract
				want := ""
				switch {
				case i%10 == 3:
					c, want = trap, KindTrap
				case i%20 == 7 && g < 2:
					c, want = loop, KindFuel
				default:
					c = good
				}
				out, err := c.Apply(ctx, call, nil, ev)
				var ce *twin.ContractError
				switch {
				case want == "" && (err != nil || len(out.State) != 40):
					errs <- fmt.Errorf("good call %d/%d: %v", g, i, err)
				case want != "" && (!errors.As(err, &ce) || ce.Kind != want || ce.Seq != call.Seq):
					errs <- fmt.Errorf("bad call %d/%d: %v, want %s", g, i, err, want)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func Example() {
	ctx := context.Background()
	h, err := NewHost(ctx, Config{Logger: slog.New(slog.DiscardHandler), CacheDir: testCacheDir})
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)
	if _, err := h.RegisterBuiltins(ctx); err != nil {
		panic(err)
	}
	ref, _ := h.Resolve(ctx, "coldchain", "")
	c, _ := h.Contract(ctx, ref.SHA256)

	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	create := twin.Event{Kind: twin.KindCreate, Time: at, Fields: []string{"pallet", `{"min_c":2,"max_c":8}`, "acme", ""}}
	ev, _ := create.MarshalBinary()
	out, _ := c.Init(ctx, twin.Call{Twin: "pallet-1", Time: at}, ev)
	state := out.State
	for i, v := range []float64{5, 9.5} {
		r := twin.Event{Kind: twin.KindReading, Type: twin.TypeTemperature, Time: at.Add(time.Duration(i) * time.Minute),
			Seq: uint64(i + 1), Value: v, Fields: []string{"t1", "CEL"}}
		ev, _ := r.MarshalBinary()
		out, err := c.Apply(ctx, twin.Call{Twin: "pallet-1", Seq: r.Seq, Time: r.Time}, state, ev)
		if err != nil {
			panic(err)
		}
		state = out.State
		for _, a := range out.Alerts {
			fmt.Println(a.Severity, a.Code, a.Message)
		}
	}
	// Output:
	// warning excursion_started temperature 9.5 °C outside [2, 8] °C
}
