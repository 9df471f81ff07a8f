package contracts

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/custos-dev/custos/twin"
)

// instance is one instantiated module. It serves one call at a time.
type instance struct {
	m   *module
	mod api.Module
	mem api.Memory

	reset, alloc, init, apply, view, migrate api.Function
	stack                                    [4]uint64
	inPtr, inCap                             uint32 // the input region (see run)
	// flags: the module exports custos_event_flags, so it is shown the
	// event's flags (ABI.md §3); others see 0 there, as modules built
	// before the field was defined require.
	flags bool

	// The deterministic environment of the current call.
	now    int64 // event time, Unix ns
	twin   string
	seq    uint64
	seeded bool
	mono   int64
	rng    rand.ChaCha8

	// fuel is the instrumented module's counter (nil if unmetered).
	fuel api.Global
	// started is the host-monotonic time the current call started (0:
	// idle), read by the watchdog.
	started atomic.Int64

	memExceeded atomic.Bool
	stderr      tail
}

func (m *module) newInstance(ctx context.Context) (*instance, error) {
	h := m.h
	inst := &instance{m: m}
	// During _initialize the guest sees Unix time 1 ns (Go's runtime refuses
	// a zero monotonic clock) and the random stream of ("", 0).
	inst.now, inst.mono = 1, 1
	inst.rng.Seed(randSeed("", 0))
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithWalltime(inst.walltime, 1).
		WithNanotime(inst.nanotime, 1).
		WithNanosleep(func(int64) {}).
		WithOsyield(func() {}).
		WithRandSource((*randSource)(inst)).
		WithStdout(io.Discard).
		WithStderr(&inst.stderr)
	ictx := experimental.WithMemoryAllocator(ctx, &allocator{inst: inst, limit: uint64(h.cfg.MaxMemoryPages) << 16})
	mod, err := h.rt.InstantiateModule(ictx, m.cm, mc)
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w%s", err, inst.stderr.quote())
	}
	inst.mod = mod
	inst.fuel = mod.ExportedGlobal(fuelExport)
	if f := mod.ExportedFunction("_initialize"); f != nil {
		inst.setFuel(initFuel)
		inst.started.Store(h.mono())
		_, err := f.Call(ictx)
		inst.started.Store(0)
		if err != nil {
			_ = mod.Close(context.Background())
			if inst.fuelLeft() < 0 {
				return nil, fmt.Errorf("_initialize: fuel budget of %d exhausted", initFuel)
			}
			return nil, fmt.Errorf("_initialize: %w%s", err, inst.stderr.quote())
		}
	}
	inst.mem = mod.ExportedMemory("memory")
	inst.reset = mod.ExportedFunction("custos_reset")
	inst.alloc = mod.ExportedFunction("custos_alloc")
	inst.init = mod.ExportedFunction("custos_init")
	inst.apply = mod.ExportedFunction("custos_apply")
	inst.view = mod.ExportedFunction("custos_view")
	inst.migrate = mod.ExportedFunction("custos_migrate")
	inst.flags = mod.ExportedFunction("custos_event_flags") != nil
	h.liveMu.Lock()
	h.live[inst] = struct{}{}
	h.liveMu.Unlock()
	return inst, nil
}

func (inst *instance) close() {
	h := inst.m.h
	h.liveMu.Lock()
	delete(h.live, inst)
	h.liveMu.Unlock()
	_ = inst.mod.Close(context.Background())
}

// begin sets up the environment of a call.
func (inst *instance) begin(call twin.Call) {
	inst.now = call.Time.UnixNano()
	inst.mono = inst.now
	inst.twin, inst.seq, inst.seeded = call.Twin, call.Seq, false
	inst.stderr.b = inst.stderr.b[:0]
	inst.memExceeded.Store(false)
	inst.started.Store(inst.m.h.mono())
}

// setFuel sets the instance's fuel counter.
func (inst *instance) setFuel(n int64) {
	if inst.fuel != nil {
		inst.fuel.(api.MutableGlobal).Set(uint64(n))
	}
}

// fuelLeft returns the instance's fuel counter (negative: exhausted).
func (inst *instance) fuelLeft() int64 {
	if inst.fuel == nil {
		return inst.m.fuel
	}
	return int64(inst.fuel.Get())
}

func (inst *instance) walltime() (int64, int32) {
	t := time.Unix(0, inst.now)
	return t.Unix(), int32(t.Nanosecond())
}

// nanotime is the guest's monotonic clock: it restarts at the event time
// on every call and advances 1 ns per read. A clock frozen within a call
// makes a Go guest's runtime markedly slower (2-3x on coldchain), so it
// must advance; restarting it per call keeps what a contract can see a
// function of its inputs (plus its own reads).
func (inst *instance) nanotime() int64 {
	inst.mono++
	return inst.mono
}

// randSource is the instance as the guest's random source.
type randSource instance

func (r *randSource) Read(p []byte) (int, error) {
	inst := (*instance)(r)
	if !inst.seeded {
		inst.rng.Seed(randSeed(inst.twin, inst.seq))
		inst.seeded = true
	}
	return inst.rng.Read(p)
}

// randSeed is sha256("custos/rand/v1" ‖ u32le(len(twin)) ‖ twin ‖ u64le(seq)).
func randSeed(twinID string, seq uint64) [32]byte {
	b := make([]byte, 0, 14+4+len(twinID)+8)
	b = append(b, "custos/rand/v1"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(twinID)))
	b = append(b, twinID...)
	b = binary.LittleEndian.AppendUint64(b, seq)
	return sha256.Sum256(b)
}

// allocator backs an instance's linear memory and enforces the page cap,
// recording when the guest hits it.
type allocator struct {
	inst  *instance
	limit uint64
	buf   []byte
}

func (a *allocator) Allocate(_, _ uint64) experimental.LinearMemory { return a }

func (a *allocator) Reallocate(size uint64) []byte {
	if size > a.limit {
		a.inst.memExceeded.Store(true)
		return nil
	}
	if size <= uint64(cap(a.buf)) {
		a.buf = a.buf[:size]
		return a.buf
	}
	nb := make([]byte, size, min(max(size, 2*uint64(cap(a.buf))), a.limit))
	copy(nb, a.buf)
	a.buf = nb
	return nb
}

func (a *allocator) Free() { a.buf = nil }

// tail keeps the last bytes a guest wrote to stderr in the current call.
type tail struct{ b []byte }

const tailMax = 512

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append(t.b[:0], t.b[len(t.b)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tail) quote() string {
	if len(t.b) == 0 {
		return ""
	}
	return fmt.Sprintf(" (stderr: %q)", t.b)
}
