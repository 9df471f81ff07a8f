package twin

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Input is one message from the input stream, parsed: the events it carries
// for one twin, in order. The runtime applies an Input's events in order and
// records StreamSeq with the twin so that a redelivery is skipped.
type Input struct {
	StreamSeq uint64
	Twin      string
	Events    []Event
	// Create is set for a create command: the contract module the new twin
	// runs. Events then holds exactly one KindCreate event.
	Create *ContractRef
	// Upgrade is set for an upgrade command: the module the twin moves to.
	// Events then holds exactly one KindUpgrade event.
	Upgrade *ContractRef
	// Lateness is the allowed-lateness window of a twin being created.
	Lateness time.Duration
	// Due is set for a processing-time timer input (custos.timer.<twin>):
	// the due time of the timer that fired. The input is applied only while
	// the twin still has that timer pending.
	Due time.Time
}

// Public JSON of a reading, as devices publish it on custos.telemetry.<twin>.
type readingJSON struct {
	TS     string          `json:"ts"`
	Sensor string          `json:"sensor"`
	Type   string          `json:"type"`
	Value  json.RawMessage `json:"value"`
	Unit   string          `json:"unit"`
	Lat    json.RawMessage `json:"lat"`
	Lon    json.RawMessage `json:"lon"`
}

type telemetryJSON struct {
	readingJSON
	Readings []readingJSON `json:"readings"`
}

// Limits on telemetry content.
const (
	maxSensorLen = 64
	maxUnitLen   = 16
)

// ParseTelemetry parses the body of a custos.telemetry.<twin> message: one
// reading object, or {"readings": [...]}. A reading without "ts" gets
// fallback (the stream's timestamp, so replays see the same time).
//
// Errors are *InputError with reason invalid_json, unknown_type or
// invalid_value.
func ParseTelemetry(data []byte, fallback time.Time) ([]Event, error) {
	var env telemetryJSON
	scratch := readingsPool.Get().(*[]readingJSON)
	defer func() {
		if env.Readings != nil && cap(env.Readings) <= maxPooledReadings {
			clear(env.Readings) // the strings of this message
			*scratch = env.Readings[:0]
		}
		readingsPool.Put(scratch)
	}()
	if !fastTelemetry(data, &env, *scratch) {
		clear((*scratch)[:cap(*scratch)]) // what the fast path read before it gave up
		env = telemetryJSON{}
		if err := json.Unmarshal(data, &env); err != nil {
			return nil, Rejectf(ReasonInvalidJSON, "%v", err)
		}
	}
	if env.Readings != nil {
		if env.Type != "" || len(env.Value) != 0 {
			return nil, Rejectf(ReasonInvalidJSON, "a batch has only \"readings\"")
		}
		if len(env.Readings) == 0 {
			return nil, Rejectf(ReasonInvalidValue, "empty readings batch")
		}
		evs := make([]Event, len(env.Readings))
		for i := range env.Readings {
			if err := env.Readings[i].event(&evs[i], fallback); err != nil {
				err.Detail = "reading " + strconv.Itoa(i) + ": " + err.Detail
				return nil, err
			}
		}
		return evs, nil
	}
	evs := make([]Event, 1)
	if err := env.readingJSON.event(&evs[0], fallback); err != nil {
		return nil, err
	}
	return evs, nil
}

// readingsPool holds the readings of a batch while they are turned into
// events: 136 bytes each, grown by doubling, they were 4 % of all the bytes
// ingest allocated with 50-reading messages.
var readingsPool = sync.Pool{New: func() any { s := make([]readingJSON, 0, 64); return &s }}

// maxPooledReadings bounds what a pooled buffer keeps.
const maxPooledReadings = 4096

func (r *readingJSON) event(e *Event, fallback time.Time) *InputError {
	if r.Type == "" {
		return Rejectf(ReasonUnknownType, "missing \"type\"")
	}
	t, ok := ParseReadingType(r.Type)
	if !ok {
		return Rejectf(ReasonUnknownType, "unknown reading type %q", truncate(r.Type, 32))
	}
	ts, ierr := parseTS(r.TS, fallback)
	if ierr != nil {
		return ierr
	}
	if len(r.Sensor) > maxSensorLen {
		return Rejectf(ReasonInvalidValue, "sensor name longer than %d bytes", maxSensorLen)
	}
	if len(r.Unit) > maxUnitLen {
		return Rejectf(ReasonInvalidValue, "unit longer than %d bytes", maxUnitLen)
	}
	*e = Event{Kind: KindReading, Type: t, Time: ts}
	unit := r.Unit
	if t == TypeLocation {
		lat, ierr := number("lat", r.Lat, true)
		if ierr != nil {
			return ierr
		}
		lon, ierr := number("lon", r.Lon, true)
		if ierr != nil {
			return ierr
		}
		if lat < -90 || lat > 90 || lon < -180 || lon > 180 {
			return Rejectf(ReasonInvalidValue, "location %g,%g out of range", lat, lon)
		}
		e.Value, e.Value2 = lat, lon
		unit = "deg"
	} else {
		v, ierr := number("value", r.Value, true)
		if ierr != nil {
			return ierr
		}
		v, unit, ierr = normalize(t, v, unit)
		if ierr != nil {
			return ierr
		}
		e.Value = v
	}
	e.Fields = []string{r.Sensor, unit}
	return nil
}

// normalize converts a value to the canonical unit of its type.
func normalize(t ReadingType, v float64, unit string) (float64, string, *InputError) {
	switch t {
	case TypeTemperature:
		switch strings.ToUpper(unit) {
		case "", "CEL", "C", "°C":
			return v, "CEL", nil
		case "FAH", "F", "°F":
			return (v - 32) * 5 / 9, "CEL", nil
		case "KEL", "K":
			return v - 273.15, "CEL", nil
		}
	case TypeHumidity:
		switch unit {
		case "", "%RH", "%", "P1":
			if v < 0 || v > 100 {
				return 0, "", Rejectf(ReasonInvalidValue, "humidity %g outside 0–100", v)
			}
			return v, "%RH", nil
		}
	case TypeShock:
		switch unit {
		case "", "g", "G":
			return v, "g", nil
		case "m/s2", "MSK":
			return v / 9.80665, "g", nil
		}
	case TypeDoor:
		if v != 0 && v != 1 {
			return 0, "", Rejectf(ReasonInvalidValue, "door value %g is not 0 or 1", v)
		}
		return v, "", nil
	default:
		return v, unit, nil
	}
	return 0, "", Rejectf(ReasonInvalidValue, "unit %q not accepted for %s", unit, t)
}

// number parses a JSON number, rejecting strings, NaN and infinities.
func number(name string, raw json.RawMessage, required bool) (float64, *InputError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		if required {
			return 0, Rejectf(ReasonInvalidValue, "missing %q", name)
		}
		return 0, nil
	}
	if raw[0] == '"' {
		return 0, Rejectf(ReasonInvalidValue, "%s is a string, want a finite number", name)
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, Rejectf(ReasonInvalidValue, "%s %s is not a finite number", name, truncate(string(raw), 32))
	}
	return v, nil
}

var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func parseTS(s string, fallback time.Time) (time.Time, *InputError) {
	if s == "" {
		return fallback.UTC(), nil
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, Rejectf(ReasonInvalidValue, "ts %q is not RFC 3339", truncate(s, 40))
	}
	if ts.Before(minTime) || ts.After(maxTime) {
		return time.Time{}, Rejectf(ReasonInvalidValue, "ts %s out of range", s)
	}
	return ts.UTC(), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Command is the JSON body of a message on custos.command.<twin>, and of
// POST /v1/twins/{id}/events. Type is one of create, custody, status, close,
// aggregate, disaggregate, upgrade.
type Command struct {
	Type      string          `json:"type"`
	TS        string          `json:"ts,omitempty"`
	Kind      string          `json:"kind,omitempty"`      // create
	Contract  *ContractRef    `json:"contract,omitempty"`  // create, upgrade (resolved module)
	Params    json.RawMessage `json:"params,omitempty"`    // create
	Custodian string          `json:"custodian,omitempty"` // create
	Parent    string          `json:"parent,omitempty"`    // create
	To        string          `json:"to,omitempty"`        // custody: the new custodian
	Status    string          `json:"status,omitempty"`    // status
	Children  []string        `json:"children,omitempty"`  // aggregate, disaggregate
	Lateness  string          `json:"lateness,omitempty"`  // create: allowed-lateness window, a Go duration ("10m")
}

// Limits on command content.
const (
	maxParamsLen   = 16 << 10
	maxPartyLen    = 128
	maxKindLen     = 64
	maxChildren    = 10000
	maxStatusLen   = 32
	maxCommandBody = 1 << 20
	// MaxLateness caps a twin's allowed-lateness window.
	MaxLateness = 7 * 24 * time.Hour
)

// ParseCommand parses and validates a command for twin id.
func ParseCommand(id string, data []byte, fallback time.Time) (*Input, error) {
	if len(data) > maxCommandBody {
		return nil, Rejectf(ReasonTooLarge, "command over %d bytes", maxCommandBody)
	}
	var c Command
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, Rejectf(ReasonInvalidJSON, "%v", err)
	}
	return c.Input(id, fallback)
}

// Input validates c and returns the Input it stands for.
func (c *Command) Input(id string, fallback time.Time) (*Input, error) {
	if !ValidID(id) {
		return nil, Rejectf(ReasonInvalidSubject, "invalid twin id %q", truncate(id, 140))
	}
	ts, ierr := parseTS(c.TS, fallback)
	if ierr != nil {
		return nil, ierr
	}
	in := &Input{Twin: id}
	e := Event{Time: ts}
	switch c.Type {
	case "create":
		if c.Contract == nil || c.Contract.SHA256.IsZero() {
			return nil, Rejectf(ReasonInvalidCommand, "create needs a resolved contract")
		}
		if c.Kind == "" || len(c.Kind) > maxKindLen {
			return nil, Rejectf(ReasonInvalidCommand, "kind must be 1–%d bytes", maxKindLen)
		}
		params := bytes.TrimSpace(c.Params)
		if len(params) == 0 {
			params = []byte("{}")
		}
		if len(params) > maxParamsLen || params[0] != '{' || !json.Valid(params) {
			return nil, Rejectf(ReasonInvalidCommand, "params must be a JSON object of at most %d bytes", maxParamsLen)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, params); err != nil {
			return nil, Rejectf(ReasonInvalidCommand, "params: %v", err)
		}
		if len(c.Custodian) > maxPartyLen {
			return nil, Rejectf(ReasonInvalidCommand, "custodian longer than %d bytes", maxPartyLen)
		}
		if c.Parent != "" && !ValidID(c.Parent) {
			return nil, Rejectf(ReasonInvalidCommand, "invalid parent id")
		}
		if c.Lateness != "" {
			d, err := time.ParseDuration(c.Lateness)
			if err != nil || d < 0 || d > MaxLateness {
				return nil, Rejectf(ReasonInvalidCommand, "lateness must be a duration from 0 to %s", MaxLateness)
			}
			in.Lateness = d
		}
		ref := *c.Contract
		in.Create = &ref
		e.Kind = KindCreate
		e.Fields = []string{c.Kind, compact.String(), c.Custodian, c.Parent}
	case "custody":
		if c.Lateness != "" {
			return nil, Rejectf(ReasonInvalidCommand, "lateness is set at create")
		}
		if c.To == "" || len(c.To) > maxPartyLen {
			return nil, Rejectf(ReasonInvalidCommand, "custody needs \"to\" of 1–%d bytes", maxPartyLen)
		}
		e.Kind = KindCustody
		e.Fields = []string{"", c.To} // "from" is filled in when applied
	case "status", "close":
		st := c.Status
		if c.Type == "close" {
			st = StatusClosed
		}
		if st == "" || len(st) > maxStatusLen || !ValidID(st) {
			return nil, Rejectf(ReasonInvalidCommand, "status must be 1–%d characters of [A-Za-z0-9_-]", maxStatusLen)
		}
		switch st {
		case StatusInTransit, StatusDelivered, StatusClosed:
		case StatusCreated:
			return nil, Rejectf(ReasonInvalidCommand, "status cannot go back to created")
		case StatusCompromised:
			return nil, Rejectf(ReasonInvalidCommand, "status compromised is the contract's to set")
		default:
			return nil, Rejectf(ReasonInvalidCommand, "status %q: want %s or %s (or a close command)", st, StatusInTransit, StatusDelivered)
		}
		e.Kind = KindStatus
		e.Fields = []string{st}
	case "aggregate", "disaggregate":
		if len(c.Children) == 0 || len(c.Children) > maxChildren {
			return nil, Rejectf(ReasonInvalidCommand, "%s needs 1–%d children", c.Type, maxChildren)
		}
		for _, ch := range c.Children {
			if !ValidID(ch) || ch == id {
				return nil, Rejectf(ReasonInvalidCommand, "invalid child id %q", truncate(ch, 140))
			}
		}
		e.Kind = KindAggregate
		if c.Type == "disaggregate" {
			e.Kind = KindDisaggregate
		}
		e.Fields = append([]string(nil), c.Children...)
	case "upgrade":
		if c.Contract == nil || c.Contract.SHA256.IsZero() {
			return nil, Rejectf(ReasonInvalidCommand, "upgrade needs a resolved contract")
		}
		ref := *c.Contract
		in.Upgrade = &ref
		e.Kind = KindUpgrade
		e.Fields = []string{"", "", ref.Version} // "from" is filled in when applied
	case "":
		return nil, Rejectf(ReasonInvalidCommand, "missing \"type\"")
	default:
		return nil, Rejectf(ReasonInvalidCommand, "unknown command type %q", truncate(c.Type, 32))
	}
	in.Events = []Event{e}
	return in, nil
}

// TimerFired is the JSON body of a message on custos.timer.<twin>: the
// runtime publishes it when a processing-time timer set by the twin's
// contract is due by the server's clock.
type TimerFired struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"` // the timer's due time
}

// ParseTimer parses the body of a custos.timer.<twin> message. fired is the
// time it was published (the stream's timestamp): the timer event's time,
// the same in every replay of the stream.
func ParseTimer(id string, data []byte, fired time.Time) (*Input, error) {
	var tf TimerFired
	if err := json.Unmarshal(data, &tf); err != nil {
		return nil, Rejectf(ReasonInvalidJSON, "%v", err)
	}
	if tf.Name == "" || tf.At.IsZero() {
		return nil, Rejectf(ReasonInvalidValue, "timer needs name and at")
	}
	if fired.IsZero() {
		fired = tf.At
	}
	return &Input{Twin: id, Due: tf.At.UTC(),
		Events: []Event{{Kind: KindTimer, Time: fired.UTC(), Fields: []string{tf.Name, ClockProcessing}}}}, nil
}
