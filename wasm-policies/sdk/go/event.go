package sdk

import (
	"encoding/binary"
	"errors"
	"math"
)

// Kind says what happened to a twin (ABI v1 numbering).
type Kind uint8

// Event kinds.
const (
	KindReading      Kind = 1
	KindTimer        Kind = 2
	KindCreate       Kind = 3
	KindCustody      Kind = 4
	KindStatus       Kind = 5
	KindAggregate    Kind = 6
	KindDisaggregate Kind = 7
)

// ReadingType is the type of a sensor reading (ABI v1 numbering).
type ReadingType uint8

// Reading types.
const (
	TypeTemperature ReadingType = 1
	TypeHumidity    ReadingType = 2
	TypeShock       ReadingType = 3
	TypeDoor        ReadingType = 4
	TypeLocation    ReadingType = 5
	TypeBattery     ReadingType = 6
	TypeLight       ReadingType = 7
	TypeTilt        ReadingType = 8
)

// Field indexes per kind.
const (
	FieldSensor     = 0 // reading
	FieldUnit       = 1 // reading
	FieldTimerName  = 0 // timer
	FieldTimerClock = 1 // timer: ClockEvent or ClockProcessing
	FieldTwinKind   = 0 // create
	FieldParams     = 1 // create
	FieldCustodian  = 2 // create
	FieldParent     = 3 // create
	FieldFrom       = 0 // custody
	FieldTo         = 1 // custody
	FieldStatus     = 0 // status
)

// FlagLate is bit 0 of an event's flags: the event's time is earlier than
// the twin's event-time watermark (the largest event time it had applied)
// when the event was applied. See ABI.md §3, "Event time".
const FlagLate uint16 = 0x0001

// Timer clocks, the second field of a timer event.
const (
	ClockEvent      = "event"      // set with SetTimer; fired by the twin's watermark
	ClockProcessing = "processing" // set with SetProcessingTimer; fired by the server's clock
)

// EventHeaderLen is the size of the fixed part of an encoded event.
const EventHeaderLen = 40

// ErrBadEvent is returned by [Event.Decode] for a malformed encoding.
var ErrBadEvent = errors.New("sdk: malformed event")

// Event is a decoded event. It refers to the encoded bytes it was decoded
// from; it is valid until the call returns.
type Event struct {
	Kind   Kind
	Type   ReadingType // readings only
	Flags  uint16      // FlagLate; other bits are 0 today and must be ignored
	Time   int64       // event time, Unix nanoseconds
	Seq    uint64      // the twin sequence number of this event
	Value  float64
	Value2 float64

	raw  []byte
	offs []uint32 // start offset of each field's bytes in raw; length in the 4 bytes before
}

// Decode decodes the canonical ABI v1 event encoding in b. It does not
// allocate once the event has seen as many fields before.
func (e *Event) Decode(b []byte) error {
	if len(b) < EventHeaderLen {
		return ErrBadEvent
	}
	e.Kind = Kind(b[0])
	e.Type = ReadingType(b[1])
	e.Flags = binary.LittleEndian.Uint16(b[2:])
	n := binary.LittleEndian.Uint32(b[4:])
	e.Time = int64(binary.LittleEndian.Uint64(b[8:]))
	e.Seq = binary.LittleEndian.Uint64(b[16:])
	e.Value = math.Float64frombits(binary.LittleEndian.Uint64(b[24:]))
	e.Value2 = math.Float64frombits(binary.LittleEndian.Uint64(b[32:]))
	if uint64(n)*4 > uint64(len(b)-EventHeaderLen) {
		return ErrBadEvent
	}
	e.raw = b
	e.offs = e.offs[:0]
	off := uint64(EventHeaderLen)
	for i := uint32(0); i < n; i++ {
		if off+4 > uint64(len(b)) {
			return ErrBadEvent
		}
		l := uint64(binary.LittleEndian.Uint32(b[off:]))
		off += 4
		if off+l > uint64(len(b)) {
			return ErrBadEvent
		}
		e.offs = append(e.offs, uint32(off))
		off += l
	}
	if off != uint64(len(b)) {
		return ErrBadEvent
	}
	return nil
}

// Late reports whether the event is late: its time is earlier than the
// twin's watermark, so the event-time timers due before it have already
// fired and later events have been applied.
func (e *Event) Late() bool { return e.Flags&FlagLate != 0 }

// TimerClock returns the clock of a timer event: ClockEvent or
// ClockProcessing ("" for other kinds and for a host older than the field).
func (e *Event) TimerClock() string {
	if e.Kind != KindTimer {
		return ""
	}
	switch c := e.Field(FieldTimerClock); string(c) {
	case ClockEvent:
		return ClockEvent
	case ClockProcessing:
		return ClockProcessing
	default:
		return string(c)
	}
}

// NumFields returns the number of variable-length fields.
func (e *Event) NumFields() int { return len(e.offs) }

// Field returns field i (nil if absent). The slice aliases the input; copy
// it to keep it past the call.
func (e *Event) Field(i int) []byte {
	if i < 0 || i >= len(e.offs) {
		return nil
	}
	o := e.offs[i]
	l := binary.LittleEndian.Uint32(e.raw[o-4:])
	return e.raw[o : o+l : o+l]
}

// FieldString returns field i as a (newly allocated) string.
func (e *Event) FieldString(i int) string { return string(e.Field(i)) }

// AppendEvent appends the canonical encoding of an event to b. Contracts do
// not need it; it is for native tests and benchmarks.
func AppendEvent(b []byte, kind Kind, typ ReadingType, t int64, seq uint64, v, v2 float64, fields ...string) []byte {
	return AppendEventFlags(b, kind, typ, 0, t, seq, v, v2, fields...)
}

// AppendEventFlags is AppendEvent with flags (FlagLate).
func AppendEventFlags(b []byte, kind Kind, typ ReadingType, flags uint16, t int64, seq uint64, v, v2 float64, fields ...string) []byte {
	b = append(b, byte(kind), byte(typ))
	b = binary.LittleEndian.AppendUint16(b, flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(fields)))
	b = binary.LittleEndian.AppendUint64(b, uint64(t))
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v2))
	for _, f := range fields {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}
