package twin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unique"
)

// Resident twins come in two forms. A twin an event touched in the last
// Config.CompactAfter is hot: a *Twin with its contract handle, ready to
// apply. A quieter one is packed: the bytes below, in the shard's cold table,
// until its next event unpacks it (a few microseconds, no store read).
// Packing keeps everything the twin holds except its view, which is a pure
// function of the state (custos_view) and is computed again if the next
// event's output does not carry one. Strings that repeat across a fleet
// (status, kind, custodian, timer names) are interned, and the contract is
// an index into the shard's table of contract refs. See docs/performance.md,
// "Fleet scale".
//
// Layout: lastUsed (8 bytes, unix ns, little endian), then the profile:
// uvarint 1 + an index into the shard's profile table (contract, status,
// kind, custodian and params, which a fleet's twins mostly share), or 0
// and then, inline, uvarint contract index, status, kind, custodian and
// params (uvarint length + bytes); then parent, children
// (count + strings), seq, alerts, stream seq (uvarints), digest (32 bytes),
// created, updated, watermark, last reading (time: 0, or 1 + varint unix
// ns), lag, lateness (varints), state (length + bytes), timers
// (count + name, time, processing byte), buffered (length + AppendBuffered).

// contractEntry is one contract module twins of a shard run.
type contractEntry struct {
	ref ContractRef
	c   Contract
}

// contractIndex returns the index of ref in the shard's table, adding it
// with handle c if it is new.
func (s *shard) contractIndex(ref ContractRef, c Contract) uint64 {
	if i, ok := s.refIndex[ref]; ok {
		return i
	}
	i := uint64(len(s.refs))
	s.refs = append(s.refs, contractEntry{ref, c})
	s.refIndex[ref] = i
	return i
}

// profile is what twins of a fleet mostly share, packed as one index.
type profile struct {
	contract                uint64 // index into shard.refs
	status, kind, custodian string // interned
	params                  string // canonical copy (profileTable.params)
}

// profileTable numbers the profiles of a shard's packed twins: with
// params of ~50 bytes and three strings, ~80 bytes per packed twin that a
// fleet of identical pallets would otherwise repeat a million times. It
// holds at most maxProfiles profiles and as many distinct params; a twin
// beyond that is packed inline. Entries are never removed: packed twins
// refer to them by index.
type profileTable struct {
	list   []profile
	params [][]byte // params of list[i], capacity-capped, never written to
	index  map[profile]uint64
	canon  map[string]string // params → canonical copy
}

const maxProfiles = 4096

// lookup returns the index of the profile of t (contract index ci),
// adding it if there is room; ok is false if there is none.
func (p *profileTable) lookup(ci uint64, t *Twin) (uint64, bool) {
	params, ok := p.canon[string(t.Params)] // no allocation
	if !ok {
		if len(p.canon) >= maxProfiles {
			return 0, false
		}
		if p.canon == nil {
			p.canon, p.index = map[string]string{}, map[profile]uint64{}
		}
		params = string(t.Params)
		p.canon[params] = params
	}
	k := profile{ci, t.Status, t.Kind, t.Custodian, params}
	if i, ok := p.index[k]; ok {
		return i, true
	}
	if len(p.list) >= maxProfiles {
		return 0, false
	}
	i := uint64(len(p.list))
	p.list = append(p.list, k)
	var b []byte
	if len(t.Params) > 0 {
		b = []byte(params)
		b = b[:len(b):len(b)]
	}
	p.params = append(p.params, b)
	p.index[k] = i
	return i, true
}

// intern returns the canonical copy of v, so that a fleet's twins share one
// copy of each status, kind and custodian.
func intern(v string) string {
	if v == "" {
		return ""
	}
	return unique.Make(v).Value()
}

// pack returns the cold table entry of a hot resident twin.
func (s *shard) pack(res *resident) []byte {
	s.packBuf = s.appendPacked(s.packBuf[:0], res)
	return newEntry(res.t.ID, s.packBuf)
}

func (s *shard) appendPacked(b []byte, res *resident) []byte {
	t := res.t
	b = binary.LittleEndian.AppendUint64(b, uint64(res.lastUsed))
	b = binary.LittleEndian.AppendUint32(b, res.loaded)
	ci := s.contractIndex(t.Contract, res.c)
	if i, ok := s.profiles.lookup(ci, t); ok {
		b = binary.AppendUvarint(b, 1+i)
	} else {
		b = append(b, 0)
		b = binary.AppendUvarint(b, ci)
		b = packStr(b, t.Status)
		b = packStr(b, t.Kind)
		b = packStr(b, t.Custodian)
		b = packStr(b, string(t.Params))
	}
	b = packStr(b, t.Parent)
	b = binary.AppendUvarint(b, uint64(len(t.Children)))
	for _, c := range t.Children {
		b = packStr(b, c)
	}
	b = binary.AppendUvarint(b, t.Seq)
	b = binary.AppendUvarint(b, t.Alerts)
	b = binary.AppendUvarint(b, t.StreamSeq)
	b = append(b, t.Digest[:]...)
	b = packTime(b, t.Created)
	b = packTime(b, t.Updated)
	b = packTime(b, t.Watermark)
	b = packTime(b, t.LastReading)
	b = binary.AppendVarint(b, int64(t.Lag))
	b = binary.AppendVarint(b, int64(t.Lateness))
	b = packStr(b, string(t.State))
	b = binary.AppendUvarint(b, uint64(len(t.Timers)))
	for _, tm := range t.Timers {
		b = packStr(b, tm.Name)
		b = packTime(b, tm.At)
		if tm.Processing {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	if len(t.Buffered) == 0 {
		return append(b, 0)
	}
	buf := AppendBuffered(nil, t.Buffered)
	b = binary.AppendUvarint(b, uint64(len(buf)))
	return append(b, buf...)
}

func packStr(b []byte, v string) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func packTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixNano())
}

// unpack turns a packed twin back into a hot resident. Params and State
// are sub-slices of b (capacity-capped), which is not written to again.
func (s *shard) unpack(id string, b []byte) (*resident, error) {
	if len(b) < packedHeader {
		return nil, fmt.Errorf("unpack twin %s: %w", id, errPackedShort)
	}
	u := unpacker{b: b[packedHeader:]}
	t := &Twin{ID: id}
	var ci uint64
	if k := u.uvarint(); k > 0 {
		if k > uint64(len(s.profiles.list)) {
			return nil, fmt.Errorf("unpack twin %s: profile %d of %d", id, k-1, len(s.profiles.list))
		}
		p := s.profiles.list[k-1]
		ci, t.Status, t.Kind, t.Custodian, t.Params = p.contract, p.status, p.kind, p.custodian, s.profiles.params[k-1]
	} else {
		ci = u.uvarint()
		t.Status = intern(u.str())
		t.Kind = intern(u.str())
		t.Custodian = intern(u.str())
		t.Params = u.bytes()
	}
	if u.err == nil && ci >= uint64(len(s.refs)) {
		u.err = fmt.Errorf("contract index %d of %d", ci, len(s.refs))
	}
	if u.err != nil {
		return nil, fmt.Errorf("unpack twin %s: %w", id, u.err)
	}
	ce := s.refs[ci]
	t.Contract = ce.ref
	t.Parent = u.str()
	if n := u.uvarint(); n > 0 && n <= uint64(len(u.b)) {
		t.Children = make([]string, n)
		for i := range t.Children {
			t.Children[i] = u.str()
		}
	}
	t.Seq = u.uvarint()
	t.Alerts = u.uvarint()
	t.StreamSeq = u.uvarint()
	copy(t.Digest[:], u.next(32))
	t.Created = u.time()
	t.Updated = u.time()
	t.Watermark = u.time()
	t.LastReading = u.time()
	t.Lag = time.Duration(u.varint())
	t.Lateness = time.Duration(u.varint())
	t.State = u.bytes()
	if n := u.uvarint(); n > 0 && n <= uint64(len(u.b)) {
		t.Timers = make([]Timer, n)
		for i := range t.Timers {
			t.Timers[i] = Timer{Name: intern(u.str()), At: u.time(), Processing: u.next(1)[0] == 1}
		}
	}
	if buf := u.bytes(); len(buf) > 0 && u.err == nil {
		var err error
		if t.Buffered, err = ParseBuffered(buf); err != nil {
			u.err = err
		}
	}
	if u.err == nil && len(u.b) != 0 {
		u.err = fmt.Errorf("%d trailing bytes", len(u.b))
	}
	if u.err != nil {
		return nil, fmt.Errorf("unpack twin %s: %w", id, u.err)
	}
	// The view was not packed: computed again unless the next event's
	// output carries one.
	return &resident{t: t, c: ce.c, lastUsed: packedLastUsed(b), loaded: packedLoaded(b), view: true}, nil
}

// unpacker reads a packed twin; the first error sticks and later reads
// return zero values.
type unpacker struct {
	b   []byte
	err error
}

var errPackedShort = errors.New("packed twin: short")

func (u *unpacker) next(n int) []byte {
	if u.err != nil || n > len(u.b) {
		if u.err == nil {
			u.err = errPackedShort
		}
		return make([]byte, n)
	}
	v := u.b[:n:n]
	u.b = u.b[n:]
	return v
}

func (u *unpacker) uvarint() uint64 {
	if u.err != nil {
		return 0
	}
	v, k := binary.Uvarint(u.b)
	if k <= 0 {
		u.err = errPackedShort
		return 0
	}
	u.b = u.b[k:]
	return v
}

func (u *unpacker) varint() int64 {
	if u.err != nil {
		return 0
	}
	v, k := binary.Varint(u.b)
	if k <= 0 {
		u.err = errPackedShort
		return 0
	}
	u.b = u.b[k:]
	return v
}

func (u *unpacker) bytes() []byte {
	n := u.uvarint()
	if n == 0 || u.err != nil {
		return nil
	}
	if n > uint64(len(u.b)) {
		u.err = errPackedShort
		return nil
	}
	return u.next(int(n))
}

func (u *unpacker) str() string { return string(u.bytes()) }

func (u *unpacker) time() time.Time {
	switch u.next(1)[0] {
	case 0:
		return time.Time{}
	default:
		v := u.varint()
		if u.err != nil {
			return time.Time{}
		}
		return time.Unix(0, v).UTC()
	}
}
