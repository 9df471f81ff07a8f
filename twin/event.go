package twin

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// EventKind says what happened to a twin. The numeric values are part of
// ABI v1 (wasm-policies/ABI.md) and never change.
type EventKind uint8

const (
	KindReading      EventKind = 1 // a sensor reading
	KindTimer        EventKind = 2 // a timer set by the contract fired
	KindCreate       EventKind = 3 // the twin was created (passed to custos_init)
	KindCustody      EventKind = 4 // custody passed from one party to another
	KindStatus       EventKind = 5 // lifecycle status change (in_transit, delivered, closed)
	KindAggregate    EventKind = 6 // children were put into this twin
	KindDisaggregate EventKind = 7 // children were taken out of this twin
	KindUpgrade      EventKind = 8 // the twin moves to another contract module (custos_migrate)
)

var kindNames = [...]string{
	KindReading: "reading", KindTimer: "timer", KindCreate: "create", KindCustody: "custody",
	KindStatus: "status", KindAggregate: "aggregate", KindDisaggregate: "disaggregate",
	KindUpgrade: "upgrade",
}

func (k EventKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseEventKind returns the event kind named name ("reading", "custody", …).
func ParseEventKind(name string) (EventKind, bool) {
	for i, n := range kindNames {
		if n != "" && n == name {
			return EventKind(i), true
		}
	}
	return 0, false
}

// ReadingType is the type of a sensor reading. Values are part of ABI v1.
type ReadingType uint8

const (
	TypeTemperature ReadingType = 1 // °C (unit CEL)
	TypeHumidity    ReadingType = 2 // relative humidity, % (unit %RH)
	TypeShock       ReadingType = 3 // acceleration peak, g (unit g)
	TypeDoor        ReadingType = 4 // 0 closed, 1 open
	TypeLocation    ReadingType = 5 // Value = latitude, Value2 = longitude (WGS 84 degrees)
	TypeBattery     ReadingType = 6 // battery level, % (unit %)
	TypeLight       ReadingType = 7 // illuminance, lux (unit lx)
	TypeTilt        ReadingType = 8 // tilt angle, degrees (unit deg)
)

var typeNames = [...]string{
	TypeTemperature: "temperature", TypeHumidity: "humidity", TypeShock: "shock", TypeDoor: "door",
	TypeLocation: "location", TypeBattery: "battery", TypeLight: "light", TypeTilt: "tilt",
}

func (t ReadingType) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// ParseReadingType returns the reading type named s.
func ParseReadingType(s string) (ReadingType, bool) {
	for i, n := range typeNames {
		if n != "" && n == s {
			return ReadingType(i), true
		}
	}
	return 0, false
}

// Event is one thing that happened to a twin. Which fields are meaningful
// depends on Kind; see wasm-policies/ABI.md for the table.
type Event struct {
	Kind  EventKind
	Type  ReadingType // KindReading only
	Flags uint16      // EventFlag* bits, set by the runtime when applied
	Time  time.Time   // when it happened (event time; the contract's only clock)
	Seq   uint64      // the twin sequence number this event gets when applied

	Value  float64 // reading value (latitude for location)
	Value2 float64 // longitude for location readings

	// Fields holds the variable-length fields of the event, in the order the
	// ABI defines for its kind:
	//   reading:      [sensor, unit]
	//   timer:        [name, clock] (clock "event" or "processing")
	//   create:       [kind, params JSON, custodian, parent]
	//   custody:      [from, to]
	//   status:       [status]
	//   aggregate:    [child ...]
	//   disaggregate: [child ...]
	//   upgrade:      [from module sha256 hex, from version, to version]
	Fields []string
}

// processingTimer reports whether e is a processing-time timer event: on
// the server's clock, so it neither fires event-time timers nor moves the
// watermark, and is never LATE.
func (e *Event) processingTimer() bool {
	return e.Kind == KindTimer && e.Field(1) == ClockProcessing
}

// Field returns field i, or "" if the event has fewer fields.
func (e *Event) Field(i int) string {
	if i < len(e.Fields) {
		return e.Fields[i]
	}
	return ""
}

// Event flags (the u16 at offset 2 of the encoding). Bits other than these
// are zero.
const (
	// EventLate: the event's time was earlier than the twin's event-time
	// watermark when it was applied.
	EventLate uint16 = 0x0001

	eventFlagsKnown = EventLate
)

// Clocks of a timer event (its second field).
const (
	ClockEvent      = "event"
	ClockProcessing = "processing"
)

// Late reports whether the LATE flag is set.
func (e *Event) Late() bool { return e.Flags&EventLate != 0 }

// eventHeaderLen is the size of the fixed part of an encoded event.
const eventHeaderLen = 40

// MaxEncodedEvent caps the size of one encoded event.
const MaxEncodedEvent = 1 << 20

// AppendBinary appends the canonical ABI v1 encoding of e to b.
//
// Layout (little-endian): kind u8, type u8, flags u16, nfields u32,
// time i64 (Unix ns), seq u64, value f64, value2 f64, then nfields times
// (len u32, bytes).
func (e *Event) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, byte(e.Kind), byte(e.Type))
	b = binary.LittleEndian.AppendUint16(b, e.Flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Fields)))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	b = binary.LittleEndian.AppendUint64(b, e.Seq)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.Value))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.Value2))
	for _, f := range e.Fields {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b, nil
}

// MarshalBinary returns the canonical ABI v1 encoding of e.
func (e *Event) MarshalBinary() ([]byte, error) {
	return e.AppendBinary(make([]byte, 0, e.EncodedLen()))
}

// EncodedLen is the length of the canonical encoding of e.
func (e *Event) EncodedLen() int {
	n := eventHeaderLen
	for _, f := range e.Fields {
		n += 4 + len(f)
	}
	return n
}

var errShortEvent = errors.New("event encoding truncated")

// UnmarshalBinary decodes the canonical encoding produced by AppendBinary.
func (e *Event) UnmarshalBinary(b []byte) error {
	if len(b) < eventHeaderLen {
		return errShortEvent
	}
	e.Flags = binary.LittleEndian.Uint16(b[2:])
	if e.Flags&^eventFlagsKnown != 0 {
		return fmt.Errorf("event encoding: unknown flags %#04x", e.Flags)
	}
	e.Kind = EventKind(b[0])
	e.Type = ReadingType(b[1])
	n := binary.LittleEndian.Uint32(b[4:])
	e.Time = time.Unix(0, int64(binary.LittleEndian.Uint64(b[8:]))).UTC()
	e.Seq = binary.LittleEndian.Uint64(b[16:])
	e.Value = math.Float64frombits(binary.LittleEndian.Uint64(b[24:]))
	e.Value2 = math.Float64frombits(binary.LittleEndian.Uint64(b[32:]))
	rest := b[eventHeaderLen:]
	if int(n) > len(rest)/4 {
		return errShortEvent
	}
	e.Fields = make([]string, 0, n)
	for i := uint32(0); i < n; i++ {
		if len(rest) < 4 {
			return errShortEvent
		}
		l := binary.LittleEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(l) > uint64(len(rest)) {
			return errShortEvent
		}
		e.Fields = append(e.Fields, string(rest[:l]))
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return fmt.Errorf("event encoding: %d trailing bytes", len(rest))
	}
	return nil
}

// MarshalJSON renders the event for people and dashboards (history API).
// The canonical form is the binary encoding; this is only a view of it.
func (e Event) MarshalJSON() ([]byte, error) {
	v := map[string]any{"kind": e.Kind.String(), "ts": e.Time.UTC().Format(time.RFC3339Nano), "seq": e.Seq}
	if e.Late() {
		v["late"] = true
	}
	switch e.Kind {
	case KindReading:
		v["type"] = e.Type.String()
		v["sensor"] = e.Field(0)
		if u := e.Field(1); u != "" {
			v["unit"] = u
		}
		if e.Type == TypeLocation {
			v["lat"], v["lon"] = e.Value, e.Value2
		} else {
			v["value"] = e.Value
		}
	case KindTimer:
		v["name"] = e.Field(0)
		if c := e.Field(1); c != "" {
			v["clock"] = c
		}
	case KindCreate:
		v["twin_kind"] = e.Field(0)
		v["params"] = jsonRaw(e.Field(1))
		v["custodian"] = e.Field(2)
		if p := e.Field(3); p != "" {
			v["parent"] = p
		}
	case KindCustody:
		v["from"], v["to"] = e.Field(0), e.Field(1)
	case KindStatus:
		v["status"] = e.Field(0)
	case KindAggregate, KindDisaggregate:
		v["children"] = e.Fields
	case KindUpgrade:
		v["from_module"], v["from_version"], v["to_version"] = e.Field(0), e.Field(1), e.Field(2)
	}
	return json.Marshal(v)
}

func jsonRaw(s string) json.RawMessage {
	if !json.Valid([]byte(s)) {
		return json.RawMessage("null")
	}
	return json.RawMessage(s)
}
