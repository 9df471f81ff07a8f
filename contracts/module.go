package contracts

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/tetratelabs/wazero"

	"github.com/custos-dev/custos/twin"
)

// module is a compiled contract module with its instance pool. It
// implements twin.Contract.
type module struct {
	h       *Host
	trusted bool // registered with RegisterTrusted
	sha     twin.Hash
	hex     string
	cm      wazero.CompiledModule
	fuel    int64          // per-call budget
	pool    chan *instance // idle instances
	sem     chan struct{}  // one token per live instance
	// quarantined is set (with the reason) by the watchdog; calls then
	// fail with Kind "quarantined".
	quarantined atomic.Pointer[string]
	// handle is what Host.Contract returns: the module itself, or a
	// migratingModule when it exports custos_migrate (so that the runtime's
	// type assertion on twin.Migrator tells the two apart).
	handle twin.Contract
}

var (
	_ twin.Contract = (*module)(nil)
	_ twin.Migrator = (*migratingModule)(nil)
)

// migratingModule is a module that exports custos_migrate.
type migratingModule struct{ *module }

// Migrate implements twin.Migrator: it runs custos_migrate on the state of
// the module the twin leaves and the encoded upgrade event.
func (m migratingModule) Migrate(ctx context.Context, call twin.Call, state, event []byte) (twin.Output, error) {
	return m.call(ctx, call, opMigrate, state, event)
}

func newModule(h *Host, trusted bool, sha twin.Hash, cm wazero.CompiledModule, fuel int64) *module {
	m := &module{
		h: h, trusted: trusted, sha: sha, hex: sha.Hex(), cm: cm, fuel: fuel,
		pool: make(chan *instance, h.cfg.PoolSize),
		sem:  make(chan struct{}, h.cfg.PoolSize),
	}
	m.handle = m
	if _, ok := cm.ExportedFunctions()["custos_migrate"]; ok {
		m.handle = migratingModule{m}
	}
	return m
}

// quarantine refuses every later call of m (see the package doc,
// "Watchdog").
func (m *module) quarantine(reason string) {
	if m.quarantined.CompareAndSwap(nil, &reason) {
		m.h.cfg.Logger.Error("contract module quarantined", "module", m.hex, "reason", reason)
		if f := m.h.cfg.OnQuarantine; f != nil {
			f(m.hex, reason)
		}
	}
}

func (m *module) close() {
	for {
		select {
		case inst := <-m.pool:
			inst.close()
		default:
			_ = m.cm.Close(context.Background())
			return
		}
	}
}

// get returns an idle instance, creates one if the pool is not full, or
// waits for one.
func (m *module) get(ctx context.Context, call twin.Call) (*instance, error) {
	select {
	case inst := <-m.pool:
		return inst, nil
	default:
	}
	select {
	case inst := <-m.pool:
		return inst, nil
	case m.sem <- struct{}{}:
		inst, err := m.newInstance(ctx)
		if err != nil {
			<-m.sem
			m.h.cfg.Logger.Warn("contract instance failed to start", "module", m.hex, "err", err)
			return nil, &twin.ContractError{Module: m.hex, Twin: call.Twin, Seq: call.Seq, Kind: KindInstantiate, Err: err}
		}
		return inst, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("contract %s: wait for instance: %w", m.hex[:12], ctx.Err())
	}
}

func (m *module) put(inst *instance) { m.pool <- inst }

func (m *module) discard(inst *instance) {
	inst.close()
	<-m.sem
}

// inputRegion is the smallest input region the host asks custos_alloc for.
const inputRegion = 16 << 10

type op uint8

const (
	opInit op = iota
	opApply
	opView
	opMigrate
)

func (o op) String() string { return [...]string{"init", "apply", "view", "migrate"}[o] }

// Init implements twin.Contract.
func (m *module) Init(ctx context.Context, call twin.Call, event []byte) (twin.Output, error) {
	return m.call(ctx, call, opInit, nil, event)
}

// Apply implements twin.Contract.
func (m *module) Apply(ctx context.Context, call twin.Call, state, event []byte) (twin.Output, error) {
	return m.call(ctx, call, opApply, state, event)
}

// View implements twin.Contract. It returns nil if the module has no
// custos_view.
func (m *module) View(ctx context.Context, call twin.Call, state []byte) ([]byte, error) {
	out, err := m.call(ctx, call, opView, state, nil)
	if errors.Is(err, errNoExport) {
		return nil, nil
	}
	return out.View, err
}

func (m *module) call(ctx context.Context, call twin.Call, o op, state, event []byte) (twin.Output, error) {
	if m.h.closed.Load() {
		return twin.Output{}, ErrHostClosed
	}
	if r := m.quarantined.Load(); r != nil {
		return twin.Output{}, &twin.ContractError{Module: m.hex, Twin: call.Twin, Seq: call.Seq, Kind: KindQuarantined, Err: errors.New(*r)}
	}
	inst, err := m.get(ctx, call)
	if err != nil {
		return twin.Output{}, err
	}
	if o == opView && inst.view == nil {
		m.put(inst)
		return twin.Output{}, errNoExport
	}
	if err := ctx.Err(); err != nil {
		m.put(inst)
		return twin.Output{}, fmt.Errorf("contract %s: %w", m.hex[:12], err)
	}
	inst.begin(call)
	buf, kind, gerr := inst.run(o, state, event)
	inst.started.Store(0)
	used := m.fuel - inst.fuelLeft()
	switch kind {
	case "":
		m.put(inst)
	case KindOutputTooLarge, KindInvalidOutput:
		m.put(inst) // the instance itself is sound
	default:
		switch {
		case used > m.fuel:
			used = m.fuel
			kind = KindFuel
			gerr = fmt.Errorf("fuel budget of %d exhausted: %w", m.fuel, gerr)
		case inst.memExceeded.Load():
			kind = KindMemory
			gerr = fmt.Errorf("linear memory cap of %d pages reached: %w", m.h.cfg.MaxMemoryPages, gerr)
		}
		m.discard(inst)
	}
	if f := m.h.cfg.OnCall; f != nil {
		f(CallStats{Module: m.hex, Entry: o.String(), Twin: call.Twin, Seq: call.Seq, Fuel: uint64(max(used, 0)), Kind: kind})
	}
	if gerr != nil {
		return twin.Output{}, &twin.ContractError{Module: m.hex, Twin: call.Twin, Seq: call.Seq, Kind: kind, Err: gerr}
	}
	out, err := decodeOutput(buf, m.trusted)
	if err != nil {
		return twin.Output{}, &twin.ContractError{Module: m.hex, Twin: call.Twin, Seq: call.Seq, Kind: KindInvalidOutput, Err: err}
	}
	return out, nil
}

// run performs the ABI v1 call protocol and returns a copy of the output.
func (inst *instance) run(o op, state, event []byte) ([]byte, string, error) {
	ctx := context.Background()
	s := inst.stack[:]
	total := len(state) + len(event)
	if uint64(total) > uint64(inst.inCap) {
		// Growing the input region depends on the instance's history, not
		// only on this call: it does not count against the call's budget.
		inst.setFuel(initFuel)
		// ABI v1: a region from custos_alloc is the host's until the next
		// custos_reset, so one region serves every call that fits in it.
		if err := inst.reset.CallWithStack(ctx, s); err != nil {
			return nil, KindTrap, inst.trap("custos_reset", err)
		}
		want := max((uint64(total)+4095)&^4095, inputRegion)
		if want > 1<<31 {
			return nil, KindTrap, fmt.Errorf("inputs of %d bytes are too large", total)
		}
		s[0] = want
		if err := inst.alloc.CallWithStack(ctx, s); err != nil {
			return nil, KindTrap, inst.trap("custos_alloc", err)
		}
		ptr := uint32(s[0])
		if uint64(ptr)+want > uint64(inst.mem.Size()) {
			return nil, KindTrap, fmt.Errorf("custos_alloc(%d) returned %#x, outside memory", want, ptr)
		}
		inst.inPtr, inst.inCap = ptr, uint32(want)
	}
	ptr := inst.inPtr
	inst.mem.Write(ptr, state)
	inst.mem.Write(ptr+uint32(len(state)), event)
	if !inst.flags && len(event) >= 4 && event[2]|event[3] != 0 {
		// ABI v1 modules without custos_event_flags were built when these
		// bytes were reserved and may refuse anything but 0.
		inst.mem.WriteUint16Le(ptr+uint32(len(state))+2, 0)
	}
	var fn = inst.apply
	var name string
	switch o {
	case opInit:
		fn, name = inst.init, "custos_init"
		s[0], s[1] = uint64(ptr), uint64(len(event))
	case opApply:
		name = "custos_apply"
		s[0], s[1], s[2], s[3] = uint64(ptr), uint64(len(state)), uint64(ptr+uint32(len(state))), uint64(len(event))
	case opMigrate:
		fn, name = inst.migrate, "custos_migrate"
		s[0], s[1], s[2], s[3] = uint64(ptr), uint64(len(state)), uint64(ptr+uint32(len(state))), uint64(len(event))
	case opView:
		fn, name = inst.view, "custos_view"
		s[0], s[1] = uint64(ptr), uint64(len(state))
	}
	inst.setFuel(inst.m.fuel)
	if err := fn.CallWithStack(ctx, s); err != nil {
		return nil, KindTrap, inst.trap(name, err)
	}
	optr, olen := uint32(s[0]>>32), uint32(s[0])
	if int64(olen) > int64(inst.m.h.cfg.MaxOutputBytes) {
		return nil, KindOutputTooLarge, fmt.Errorf("%s returned %d bytes, over the cap of %d", name, olen, inst.m.h.cfg.MaxOutputBytes)
	}
	b, ok := inst.mem.Read(optr, olen)
	if !ok {
		return nil, KindInvalidOutput, fmt.Errorf("%s returned [%#x, +%d), outside memory", name, optr, olen)
	}
	return append(make([]byte, 0, len(b)), b...), "", nil
}

func (inst *instance) trap(fn string, err error) error {
	return fmt.Errorf("%s: %w%s", fn, err, inst.stderr.quote())
}
