package embedded

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/custos-dev/custos/twin"
)

// Value encodings. Every value starts with a version byte so that the format
// can change without a migration of old data: decoders dispatch on it.
//
// A str or bytes is a uvarint length and that many bytes. A time is one flag
// byte (0: the zero time, 1: set) followed, when set, by a zigzag varint of
// Unix nanoseconds. A hash is 32 raw bytes.
//
// Snapshot v1:
//
//	u8 1
//	str status, str kind, str custodian   (first: the indexed fields, read alone on commit)
//	str contract name, str contract version, hash contract sha256
//	bytes params, str parent, uvarint n + n × str children
//	uvarint seq, bytes view, hash digest, uvarint alerts
//	time created, time updated
//	bytes state, uvarint stream seq
//	uvarint n + n × (str name, time at) timers
//
// Record v1 (twin and seq are in the key):
//
//	u8 1, uvarint stream seq, time, u8 kind,
//	hash event, hash state, hash module, hash digest,
//	the canonical event encoding (the rest of the value)
//
// Snapshot v2 (written since event time): v1 with the version byte 2,
// each timer as (str name, time at, u8 clock: 0 event, 1 processing), and
// after the timers:
//
//	time watermark, time last reading, varint lag ns, varint lateness ns,
//	bytes buffered events (twin.AppendBuffered)
//
// Record v2 (twin and seq are in the key):
//
//	u8 2, uvarint stream seq, time, time record time, u8 kind, u8 flags
//	(bit 0: late), str failure, str failure detail,
//	hash event, hash state, hash module, hash digest,
//	the canonical event encoding (the rest of the value)
//
// Alert v1 (twin and N are in the key):
//
//	u8 1, uvarint seq, time, str severity, str code, str message
//
// Decoders read v1 and v2; encoders write v2.
const (
	snapshotV1 = 1
	snapshotV2 = 2
	recordV1   = 1
	recordV2   = 2
	alertV1    = 1
)

// maxCount bounds element counts read from disk before allocating.
const maxCount = 1 << 20

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixNano())
}

// appendSnapshot appends the v2 encoding of t (without its id) to b.
func appendSnapshot(b []byte, t *twin.Twin) []byte {
	b = append(b, snapshotV2)
	b = appendStr(b, t.Status)
	b = appendStr(b, t.Kind)
	b = appendStr(b, t.Custodian)
	b = appendStr(b, t.Contract.Name)
	b = appendStr(b, t.Contract.Version)
	b = append(b, t.Contract.SHA256[:]...)
	b = appendBytes(b, t.Params)
	b = appendStr(b, t.Parent)
	b = binary.AppendUvarint(b, uint64(len(t.Children)))
	for _, c := range t.Children {
		b = appendStr(b, c)
	}
	b = binary.AppendUvarint(b, t.Seq)
	b = appendBytes(b, t.View)
	b = append(b, t.Digest[:]...)
	b = binary.AppendUvarint(b, t.Alerts)
	b = appendTime(b, t.Created)
	b = appendTime(b, t.Updated)
	b = appendBytes(b, t.State)
	b = binary.AppendUvarint(b, t.StreamSeq)
	b = binary.AppendUvarint(b, uint64(len(t.Timers)))
	for _, tm := range t.Timers {
		b = appendStr(b, tm.Name)
		b = appendTime(b, tm.At)
		b = appendBool(b, tm.Processing)
	}
	b = appendTime(b, t.Watermark)
	b = appendTime(b, t.LastReading)
	b = binary.AppendVarint(b, int64(t.Lag))
	b = binary.AppendVarint(b, int64(t.Lateness))
	if len(t.Buffered) == 0 {
		return append(b, 0) // empty bytes
	}
	return appendBytes(b, twin.AppendBuffered(nil, t.Buffered))
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// reader decodes values; the first error sticks and later reads return
// zero values.
//
// A shared reader decodes a private copy of the value: byte fields are
// sub-slices of b (capacity-capped, so appending to one never writes over
// another) and strings are substrings of s, a string copy of b. That is two
// allocations instead of one per field.
type reader struct {
	b      []byte
	err    error
	shared bool
	s      string // shared: string(b) as it was at the start
	total  int    // shared: len(b) at the start
}

// newShared returns a shared reader over a copy of b.
func newShared(b []byte) reader {
	own := append([]byte(nil), b...)
	return reader{b: own, shared: true, s: string(own), total: len(own)}
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
}

func (r *reader) byte1(what string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail(what + " truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what + " bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) raw(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(what + " truncated")
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) str(what string) string {
	n := r.uvarint(what)
	off := r.total - len(r.b)
	p := r.raw(n, what)
	switch {
	case len(p) == 0:
		return ""
	case r.shared:
		return r.s[off : off+len(p)]
	}
	return string(p)
}

// bytes returns nil when empty, and otherwise memory the caller owns: a
// copy, or part of a shared reader's private copy. (The input belongs to
// pebble.)
func (r *reader) bytes(what string) []byte {
	p := r.raw(r.uvarint(what), what)
	switch {
	case len(p) == 0:
		return nil
	case r.shared:
		return p
	}
	return append([]byte(nil), p...)
}

func (r *reader) hash(what string) twin.Hash {
	var h twin.Hash
	copy(h[:], r.raw(32, what))
	return h
}

func (r *reader) time(what string) time.Time {
	switch r.byte1(what) {
	case 0:
		return time.Time{}
	case 1:
		v := r.varint(what)
		if r.err != nil {
			return time.Time{}
		}
		return time.Unix(0, v).UTC()
	default:
		r.fail(what + " bad time flag")
		return time.Time{}
	}
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what + " bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bool(what string) bool {
	switch r.byte1(what) {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail(what + " bad bool")
	return false
}

func (r *reader) count(what string) int {
	n := r.uvarint(what)
	// Every element takes at least one byte.
	if n > maxCount || n > uint64(len(r.b)) {
		r.fail(what + " count too large")
		return 0
	}
	return int(n)
}

func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Sprintf("%s: %d trailing bytes", what, len(r.b)))
	}
	return r.err
}

// indexed holds the snapshot fields that have secondary indexes.
type indexed struct{ status, kind, custodian string }

// decodeIndexed reads only the indexed fields of an encoded snapshot.
func decodeIndexed(b []byte) (indexed, error) {
	r := reader{b: b}
	if v := r.byte1("snapshot version"); r.err == nil && v != snapshotV1 && v != snapshotV2 {
		return indexed{}, fmt.Errorf("%w: snapshot version %d", ErrCorrupt, v)
	}
	x := indexed{status: r.str("status"), kind: r.str("kind"), custodian: r.str("custodian")}
	return x, r.err
}

// decodeSnapshot decodes a snapshot value as stored under the twin id. It
// returns an error wrapping ErrCorrupt if b is not a valid encoding.
func decodeSnapshot(id string, b []byte) (*twin.Twin, error) {
	r := newShared(b)
	v := r.byte1("snapshot version")
	if r.err == nil && v != snapshotV1 && v != snapshotV2 {
		return nil, fmt.Errorf("%w: snapshot version %d", ErrCorrupt, v)
	}
	t := &twin.Twin{ID: id}
	t.Status = r.str("status")
	t.Kind = r.str("kind")
	t.Custodian = r.str("custodian")
	t.Contract.Name = r.str("contract name")
	t.Contract.Version = r.str("contract version")
	t.Contract.SHA256 = r.hash("contract sha256")
	t.Params = r.bytes("params")
	t.Parent = r.str("parent")
	if n := r.count("children"); n > 0 {
		t.Children = make([]string, n)
		for i := range t.Children {
			t.Children[i] = r.str("child")
		}
	}
	t.Seq = r.uvarint("seq")
	t.View = r.bytes("view")
	t.Digest = r.hash("digest")
	t.Alerts = r.uvarint("alerts")
	t.Created = r.time("created")
	t.Updated = r.time("updated")
	t.State = r.bytes("state")
	t.StreamSeq = r.uvarint("stream seq")
	if n := r.count("timers"); n > 0 {
		t.Timers = make([]twin.Timer, n)
		for i := range t.Timers {
			t.Timers[i] = twin.Timer{Name: r.str("timer name"), At: r.time("timer at")}
			if v == snapshotV2 {
				t.Timers[i].Processing = r.bool("timer clock")
			}
		}
	}
	if v == snapshotV2 {
		t.Watermark = r.time("watermark")
		t.LastReading = r.time("last reading")
		t.Lag = time.Duration(r.varint("lag"))
		t.Lateness = time.Duration(r.varint("lateness"))
		if buf := r.bytes("buffered"); r.err == nil && len(buf) > 0 {
			bs, err := twin.ParseBuffered(buf)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			t.Buffered = bs
		}
	}
	if err := r.done("snapshot"); err != nil {
		return nil, err
	}
	return t, nil
}

func appendRecord(b []byte, rec *twin.Record) []byte {
	b = append(b, recordV2)
	b = binary.AppendUvarint(b, rec.StreamSeq)
	b = appendTime(b, rec.Time)
	b = appendTime(b, rec.RecordTime)
	b = append(b, byte(rec.Kind))
	b = appendBool(b, rec.Late)
	b = appendStr(b, rec.Failure)
	b = appendStr(b, rec.FailureDetail)
	b = append(b, rec.EventHash[:]...)
	b = append(b, rec.StateHash[:]...)
	b = append(b, rec.Module[:]...)
	b = append(b, rec.Digest[:]...)
	return append(b, rec.Event...)
}

func decodeRecord(id string, seq uint64, b []byte) (twin.Record, error) {
	r := reader{b: b}
	v := r.byte1("record version")
	if r.err == nil && v != recordV1 && v != recordV2 {
		return twin.Record{}, fmt.Errorf("%w: record version %d", ErrCorrupt, v)
	}
	rec := twin.Record{Twin: id, Seq: seq}
	rec.StreamSeq = r.uvarint("stream seq")
	rec.Time = r.time("time")
	if v == recordV2 {
		rec.RecordTime = r.time("record time")
	}
	rec.Kind = twin.EventKind(r.byte1("kind"))
	if v == recordV2 {
		rec.Late = r.bool("late")
		rec.Failure = r.str("failure")
		rec.FailureDetail = r.str("failure detail")
	}
	rec.EventHash = r.hash("event hash")
	rec.StateHash = r.hash("state hash")
	rec.Module = r.hash("module")
	rec.Digest = r.hash("digest")
	if r.err != nil {
		return twin.Record{}, r.err
	}
	if len(r.b) > 0 {
		rec.Event = append([]byte(nil), r.b...)
	}
	return rec, nil
}

func appendAlert(b []byte, a *twin.Alert) []byte {
	b = append(b, alertV1)
	b = binary.AppendUvarint(b, a.Seq)
	b = appendTime(b, a.Time)
	b = appendStr(b, a.Severity)
	b = appendStr(b, a.Code)
	return appendStr(b, a.Message)
}

func decodeAlert(id string, n uint64, b []byte) (twin.Alert, error) {
	r := reader{b: b}
	if v := r.byte1("alert version"); r.err == nil && v != alertV1 {
		return twin.Alert{}, fmt.Errorf("%w: alert version %d", ErrCorrupt, v)
	}
	a := twin.Alert{Twin: id, N: n}
	a.Seq = r.uvarint("seq")
	a.Time = r.time("time")
	a.Severity = r.str("severity")
	a.Code = r.str("code")
	a.Message = r.str("message")
	if err := r.done("alert"); err != nil {
		return twin.Alert{}, err
	}
	return a, nil
}
