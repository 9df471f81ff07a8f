package contracts

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/leb128"
	"github.com/tetratelabs/wabin/wasm"
)

// fuelExport is the name under which an instrumented module exports its
// fuel counter (a mutable i64 global). A module may not export it itself.
const fuelExport = "custos_fuel"

// fuelSection is the custom section in which a module declares its own
// per-call fuel budget (an unsigned LEB128 u64), instead of the host's.
// It is part of the module's bytes, so of its sha256, so every replay of
// a twin's history uses the budget its events were evaluated with.
const fuelSection = "custos.fuel"

// WithFuel returns wasm with a custos.fuel section declaring fuel as the
// module's per-call budget (see wasm-policies/ABI.md §6). It fails if
// wasm already declares one. The result is another module (another
// sha256).
func WithFuel(mod []byte, fuel uint64) ([]byte, error) {
	m, err := binary.DecodeModule(mod, wasm2Features)
	if err != nil {
		return nil, fmt.Errorf("%w: decode: %v", ErrInvalidModule, err)
	}
	for _, c := range m.CustomSections {
		if c.Name == fuelSection {
			return nil, fmt.Errorf("%w: the module already has a %s section", ErrInvalidModule, fuelSection)
		}
	}
	if fuel < 1000 || fuel > MaxFuel {
		return nil, fmt.Errorf("fuel %d not in [1000, %d]", fuel, uint64(MaxFuel))
	}
	// A custom section may appear anywhere: append it to the bytes as they are.
	content := append(leb128.EncodeUint32(uint32(len(fuelSection))), fuelSection...)
	content = append(content, leb128.EncodeUint64(fuel)...)
	out := append(mod[:len(mod):len(mod)], wasm.SectionIDCustom)
	out = append(out, leb128.EncodeUint32(uint32(len(content)))...)
	return append(out, content...), nil
}

const wasm2Features = wasm.CoreFeaturesV2

// initFuel is the budget of instantiation: the start function, then
// _initialize (a Go guest's runtime start is far more than one event).
const initFuel = 10_000_000_000

// errFuelInstrument: the module cannot be metered (an instruction or
// section the instrumentation does not know).
var errFuelInstrument = errors.New("fuel instrumentation")

// instrument returns wasm with deterministic metering (see the package
// doc, "Fuel"): a mutable i64 global exported as custos_fuel, and at the
// entry of every function and the head of every loop a charge of the
// number of instructions of that function's or loop's own body (nested
// loops excluded, they charge for themselves). A charge subtracts its cost
// from the counter and executes unreachable when the counter goes below
// zero, so a call traps after the same instruction on every machine, and
// the host tells that trap from others by the negative counter.
//
// Every instruction runs at most once between two charges that paid for
// it: control only moves backwards by branching to a loop head, which
// charges, and a call charges at the callee's entry. So the fuel a call
// uses bounds the instructions it runs (it may overcharge for branches
// not taken).
//
// It also returns the budget the module declares in a custos.fuel section
// (0: none).
func instrument(wasmBytes []byte) (_ []byte, declared uint64, _ error) {
	m, err := binary.DecodeModule(wasmBytes, wasm2Features)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: decode: %v", errFuelInstrument, err)
	}
	for _, e := range m.ExportSection {
		if e.Name == fuelExport {
			return nil, 0, fmt.Errorf("%w: the export name %q is reserved", errFuelInstrument, fuelExport)
		}
	}
	for _, c := range m.CustomSections {
		if c.Name != fuelSection {
			continue
		}
		v, n, err := leb128.DecodeUint64(bytes.NewReader(c.Data))
		if err != nil || int(n) != len(c.Data) || v == 0 {
			return nil, 0, fmt.Errorf("%w: the %s section is not one non-zero unsigned LEB128 number", errFuelInstrument, fuelSection)
		}
		declared = v
	}
	fuel := m.ImportGlobalCount() + uint32(len(m.GlobalSection))
	m.GlobalSection = append(m.GlobalSection, &wasm.Global{
		Type: &wasm.GlobalType{ValType: wasm.ValueTypeI64, Mutable: true},
		// The start function runs before the host can set the counter.
		Init: &wasm.ConstantExpression{Opcode: wasm.OpcodeI64Const, Data: leb128.EncodeInt64(initFuel)},
	})
	m.ExportSection = append(m.ExportSection, &wasm.Export{Type: wasm.ExternTypeGlobal, Name: fuelExport, Index: fuel})
	nImported := m.ImportFuncCount()
	for i, c := range m.CodeSection {
		if int(m.FunctionSection[i]) >= len(m.TypeSection) {
			return nil, 0, fmt.Errorf("%w: function %d: no such type", errFuelInstrument, int(nImported)+i)
		}
		t := uint32(len(m.TypeSection[m.FunctionSection[i]].Params) + len(c.LocalTypes))
		c.LocalTypes = append(c.LocalTypes, wasm.ValueTypeI64)
		body, err := meterBody(c.Body, fuel, t)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: function %d: %v", errFuelInstrument, int(nImported)+i, err)
		}
		c.Body = body
	}
	out := binary.EncodeModule(m)
	if m.DataCountSection != nil {
		// wabin decodes the data count section but does not encode it;
		// memory.init and data.drop need it, before the code section.
		out = insertSection(out, wasm.SectionIDDataCount, wasm.SectionIDCode, leb128.EncodeUint32(*m.DataCountSection))
	}
	return out, declared, nil
}

// insertSection inserts a section with id and content before the first
// section whose id is before (or at the end) of an encoded module.
func insertSection(mod []byte, id, before wasm.SectionID, content []byte) []byte {
	sec := append([]byte{id}, leb128.EncodeUint32(uint32(len(content)))...)
	sec = append(sec, content...)
	pos := 8 // magic and version
	for pos < len(mod) {
		r := bytes.NewReader(mod[pos+1:])
		size, n, err := leb128.DecodeUint32(r)
		if err != nil || mod[pos] == before {
			break
		}
		pos += 1 + int(n) + int(size)
	}
	return append(mod[:pos:pos], append(sec, mod[pos:]...)...)
}

// Code the instrumentation inserts. Inside a function the counter lives in
// a local ($t, added to the function) and the global is the truth across
// calls: the entry loads it, every exit (return, a branch to the function's
// label, its end) and every call stores it, and a call reloads it after.
// Loop heads, the hot spots, touch only the local.
const (
	insEntry  = iota // charge the function's cost, loading the global
	insLoop          // charge a loop's cost, on the local
	insStore         // local → global (before an exit or a call)
	insReload        // global → local (after a call)
)

type insertion struct {
	at     int // offset in the body the code goes before
	kind   int
	region int
}

// emit appends the code of one insertion.
func emit(dst []byte, kind int, cost int64, fuel, t uint32) []byte {
	g, l := leb128.EncodeUint32(fuel), leb128.EncodeUint32(t)
	op := func(o byte, imm []byte) { dst = append(append(dst, o), imm...) }
	switch kind {
	case insEntry, insLoop:
		if kind == insEntry {
			op(wasm.OpcodeGlobalGet, g)
		} else {
			op(wasm.OpcodeLocalGet, l)
		}
		op(wasm.OpcodeI64Const, leb128.EncodeInt64(cost))
		dst = append(dst, wasm.OpcodeI64Sub)
		op(wasm.OpcodeLocalTee, l)
		dst = append(dst, wasm.OpcodeI64Const, 0, wasm.OpcodeI64LtS, wasm.OpcodeIf, 0x40)
		op(wasm.OpcodeLocalGet, l)
		op(wasm.OpcodeGlobalSet, g)
		dst = append(dst, wasm.OpcodeUnreachable, wasm.OpcodeEnd)
	case insStore:
		op(wasm.OpcodeLocalGet, l)
		op(wasm.OpcodeGlobalSet, g)
	case insReload:
		op(wasm.OpcodeGlobalGet, g)
		op(wasm.OpcodeLocalSet, l)
	}
	return dst
}

// meterBody returns a function body with charges at its entry and at the
// head of each of its loops; t is the index of the i64 local it may use.
func meterBody(body []byte, fuel, t uint32) ([]byte, error) {
	// First pass: the regions (the body, each loop) with the number of
	// instructions each owns, and where code goes.
	costs := []int64{0}
	ins := []insertion{{at: 0, kind: insEntry, region: 0}}
	open := []int{0} // regions enclosing the current instruction
	var blocks []int // for each open block/loop/if: its region, or -1
	r := bytes.NewReader(body)
	for r.Len() > 0 {
		at := len(body) - r.Len()
		op, _ := r.ReadByte()
		costs[open[len(open)-1]]++
		depth := uint32(len(blocks)) // a branch to this label leaves the function
		var err error
		switch op {
		case wasm.OpcodeBr, wasm.OpcodeBrIf:
			var l uint32
			if l, _, err = leb128.DecodeUint32(r); err == nil && l == depth {
				ins = append(ins, insertion{at: at, kind: insStore})
			}
		case wasm.OpcodeBrTable:
			var n, l uint32
			exits := false
			if n, _, err = leb128.DecodeUint32(r); err == nil {
				for i := uint32(0); i <= n && err == nil; i++ {
					l, _, err = leb128.DecodeUint32(r)
					exits = exits || l == depth
				}
			}
			if exits {
				ins = append(ins, insertion{at: at, kind: insStore})
			}
		case wasm.OpcodeReturn, wasm.OpcodeUnreachable:
			// unreachable: so that an explicit trap reports the fuel used
			// up to it (other traps report it as of the last call or exit).
			ins = append(ins, insertion{at: at, kind: insStore})
		case wasm.OpcodeCall, wasm.OpcodeCallIndirect:
			err = skipImmediates(r, op)
			ins = append(ins, insertion{at: at, kind: insStore},
				insertion{at: len(body) - r.Len(), kind: insReload})
		default:
			err = skipImmediates(r, op)
		}
		if err != nil {
			return nil, fmt.Errorf("at %d: %w", at, err)
		}
		switch op {
		case wasm.OpcodeBlock, wasm.OpcodeIf:
			blocks = append(blocks, -1)
		case wasm.OpcodeLoop:
			costs = append(costs, 0)
			open = append(open, len(costs)-1)
			blocks = append(blocks, len(costs)-1)
			ins = append(ins, insertion{at: len(body) - r.Len(), kind: insLoop, region: len(costs) - 1})
		case wasm.OpcodeEnd:
			if len(blocks) == 0 { // the function's end
				if r.Len() != 0 {
					return nil, errors.New("code after the function's end")
				}
				ins = append(ins, insertion{at: at, kind: insStore})
				break
			}
			if blocks[len(blocks)-1] >= 0 {
				open = open[:len(open)-1]
			}
			blocks = blocks[:len(blocks)-1]
		}
	}
	if len(blocks) != 0 || len(ins) < 2 {
		return nil, errors.New("unbalanced blocks")
	}
	// Second pass: copy, inserting the code (in the order found: at one
	// offset, a loop's charge comes before a call's store).
	out := make([]byte, 0, len(body)+len(ins)*16)
	prev := 0
	for _, in := range ins {
		out = append(out, body[prev:in.at]...)
		out = emit(out, in.kind, costs[in.region], fuel, t)
		prev = in.at
	}
	return append(out, body[prev:]...), nil
}

// skipImmediates reads the immediates of op (WebAssembly 2.0: MVP,
// sign extension, saturating conversions, bulk memory, reference types,
// multi-value and SIMD).
func skipImmediates(r *bytes.Reader, op byte) error {
	u32 := func() (uint32, error) {
		v, _, err := leb128.DecodeUint32(r)
		return v, err
	}
	skip := func(n int) error {
		if r.Len() < n {
			return errors.New("truncated immediate")
		}
		_, err := r.Seek(int64(n), 1)
		return err
	}
	var err error
	switch {
	case op == wasm.OpcodeBlock || op == wasm.OpcodeLoop || op == wasm.OpcodeIf:
		_, _, err = leb128.DecodeInt33AsInt64(r)
	case op == wasm.OpcodeBr || op == wasm.OpcodeBrIf || op == wasm.OpcodeCall ||
		op == wasm.OpcodeRefFunc || op == wasm.OpcodeTableGet || op == wasm.OpcodeTableSet ||
		op >= wasm.OpcodeLocalGet && op <= wasm.OpcodeGlobalSet:
		_, err = u32()
	case op == wasm.OpcodeBrTable:
		var n uint32
		if n, err = u32(); err == nil {
			for i := uint32(0); i <= n && err == nil; i++ {
				_, err = u32()
			}
		}
	case op == wasm.OpcodeCallIndirect:
		if _, err = u32(); err == nil {
			_, err = u32()
		}
	case op == wasm.OpcodeTypedSelect:
		var n uint32
		if n, err = u32(); err == nil {
			err = skip(int(n))
		}
	case op >= wasm.OpcodeI32Load && op <= wasm.OpcodeI64Store32: // memarg
		if _, err = u32(); err == nil {
			_, err = u32()
		}
	case op == wasm.OpcodeMemorySize || op == wasm.OpcodeMemoryGrow:
		_, err = u32()
	case op == wasm.OpcodeI32Const:
		_, _, err = leb128.DecodeInt32(r)
	case op == wasm.OpcodeI64Const:
		_, _, err = leb128.DecodeInt64(r)
	case op == wasm.OpcodeF32Const:
		err = skip(4)
	case op == wasm.OpcodeF64Const:
		err = skip(8)
	case op == wasm.OpcodeRefNull:
		err = skip(1)
	case op == wasm.OpcodeMiscPrefix:
		var sub uint32
		if sub, err = u32(); err != nil {
			break
		}
		switch {
		case sub <= 7: // saturating truncations
		case sub == 8 || sub == 12 || sub == 14: // memory.init, table.init, table.copy
			if _, err = u32(); err == nil {
				_, err = u32()
			}
		case sub == 10: // memory.copy
			if _, err = u32(); err == nil {
				_, err = u32()
			}
		case sub == 9 || sub == 11 || sub == 13 || sub >= 15 && sub <= 17:
			_, err = u32()
		default:
			err = fmt.Errorf("unknown instruction 0xfc %d", sub)
		}
	case op == wasm.OpcodeVecPrefix:
		var sub uint32
		if sub, err = u32(); err != nil {
			break
		}
		switch {
		case sub <= 11 || sub == 92 || sub == 93: // loads and stores: memarg
			if _, err = u32(); err == nil {
				_, err = u32()
			}
		case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
			err = skip(16)
		case sub >= 21 && sub <= 34: // extract and replace lane
			err = skip(1)
		case sub >= 84 && sub <= 91: // load and store lane: memarg, lane
			if _, err = u32(); err == nil {
				if _, err = u32(); err == nil {
					err = skip(1)
				}
			}
		case sub > 275:
			err = fmt.Errorf("unknown instruction 0xfd %d", sub)
		}
	case op <= wasm.OpcodeNop || op == wasm.OpcodeElse || op == wasm.OpcodeEnd ||
		op == wasm.OpcodeReturn || op == wasm.OpcodeDrop || op == wasm.OpcodeSelect ||
		op >= wasm.OpcodeI32Eqz && op <= wasm.OpcodeI64Extend32S || op == wasm.OpcodeRefIsNull:
	default:
		err = fmt.Errorf("unknown instruction %#x", op)
	}
	if err != nil {
		return fmt.Errorf("at %d: %w", int(r.Size())-r.Len(), err)
	}
	return nil
}
