package twin

import (
	"encoding/json"
	"time"
)

// Lifecycle statuses. Contracts may add their own (coldchain adds
// "compromised").
const (
	StatusCreated     = "created"
	StatusInTransit   = "in_transit"
	StatusDelivered   = "delivered"
	StatusClosed      = "closed"
	StatusCompromised = "compromised"
)

// ContractRef names the contract module a twin runs. SHA256 is what counts:
// modules are content-addressed, and the digest chain commits to it.
type ContractRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  Hash   `json:"sha256"`
}

// Timer is a pending timer set by a twin's contract (ABI v1 §4).
//
// An event-time timer (Processing false, op 1) is due at At in event time:
// it fires, inline in the twin's shard, when the twin's watermark reaches At
// — before the first event at or after At — never by the server's clock.
//
// A processing-time timer (Processing true, op 3) is due at At by the
// server's clock: the runtime publishes a timer event into the twin's input
// stream when the wall clock passes At. The contract asks for a Delay after
// the record time of the event that sets it; the runtime computes At =
// record time + Delay and clears Delay.
//
// Names share one namespace: setting a name moves the timer (and may switch
// its clock); an At and Delay both zero cancels it.
type Timer struct {
	Name       string        `json:"name"`
	At         time.Time     `json:"at"`
	Processing bool          `json:"processing,omitempty"`
	Delay      time.Duration `json:"-"`
}

// Buffered is an event held back by a twin's allowed-lateness window: it has
// been received (and acknowledged), not yet applied. It is persisted with the
// twin, so nothing acknowledged is lost.
type Buffered struct {
	StreamSeq uint64 // input stream sequence it came from
	Event     Event  // the event (Seq not yet assigned)
}

// Twin is the durable record of one asset's twin. The JSON form (without
// State, StreamSeq and Timers) is the public value in KV bucket custos_twins.
type Twin struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	Contract  ContractRef     `json:"contract"`
	Params    json.RawMessage `json:"params,omitempty"`
	Parent    string          `json:"parent,omitempty"`
	Children  []string        `json:"children,omitempty"`
	Custodian string          `json:"custodian,omitempty"`
	Status    string          `json:"status"`
	Seq       uint64          `json:"seq"`
	View      json.RawMessage `json:"view,omitempty"`
	Digest    Hash            `json:"digest"`
	Alerts    uint64          `json:"alerts"`  // alerts raised so far
	Created   time.Time       `json:"created"` // event time of creation
	Updated   time.Time       `json:"updated"` // event time of the last applied event

	// Watermark is the largest event time the twin has applied (event-time
	// timers fire by it). Processing-time timer events do not move it.
	Watermark time.Time `json:"watermark"`
	// LastReading is the largest event time of any reading applied: how
	// fresh the twin's data is ("data 3 h old" = now − LastReading).
	LastReading time.Time `json:"last_reading,omitzero"`
	// Lag is record time − event time of the last reading applied: how late
	// the latest data reached custos.
	Lag time.Duration `json:"lag_ns,omitempty"`
	// Lateness is the twin's allowed-lateness window (0: none). Readings
	// are held back until a reading Lateness later in event time arrives,
	// and applied in event-time order, so shuffling within the window does
	// not change the outcome. Set at create.
	Lateness time.Duration `json:"lateness_ns,omitempty"`

	// State is the contract's state bytes; only the contract interprets them.
	State []byte `json:"-"`
	// StreamSeq is the input stream sequence of the last applied event.
	// Anything at or below it is a redelivery and is skipped.
	StreamSeq uint64 `json:"-"`
	// Timers pending for this twin, persisted with it.
	Timers []Timer `json:"-"`
	// Buffered holds the readings received but held back by the
	// allowed-lateness window, in arrival order. Persisted with the twin.
	Buffered []Buffered `json:"-"`
}

// DataTime is the event time of the twin's newest reading, or its creation
// time if it has had none: what its freshness ("data 3 h old") is measured
// from.
func (t *Twin) DataTime() time.Time {
	if !t.LastReading.IsZero() {
		return t.LastReading
	}
	return t.Created
}

// HasProcessingTimer reports whether t has a processing-time timer (one
// that fires by the server's clock: stores list such twins, TimerIndex).
func (t *Twin) HasProcessingTimer() bool {
	for i := range t.Timers {
		if t.Timers[i].Processing {
			return true
		}
	}
	return false
}

// Clone returns a deep copy of t.
func (t *Twin) Clone() *Twin {
	c := *t
	c.Params = append(json.RawMessage(nil), t.Params...)
	c.Children = append([]string(nil), t.Children...)
	c.View = append(json.RawMessage(nil), t.View...)
	c.State = append([]byte(nil), t.State...)
	c.Timers = append([]Timer(nil), t.Timers...)
	c.Buffered = append([]Buffered(nil), t.Buffered...)
	return &c
}

// Record is one event in a twin's history: everything needed to recompute
// its digest link. It is either an applied event or, when Failure is set, a
// failure record: the contract failed deterministically on the event, which
// took the seq but changed nothing (see NextFailureDigest).
type Record struct {
	Twin      string    `json:"twin"`
	Seq       uint64    `json:"seq"`
	StreamSeq uint64    `json:"stream_seq"` // input stream sequence; 0 for inline event-time timers
	Time      time.Time `json:"ts"`         // event time (in the event encoding, hence in the digest)
	// RecordTime is when custos applied the event (server clock). It is in
	// no digest: a replay of the same input gives other record times.
	RecordTime time.Time `json:"record_ts"`
	Kind       EventKind `json:"-"`
	Event      []byte    `json:"-"` // canonical encoding (Event.AppendBinary)
	// Late: the event's time was before the twin's watermark when applied
	// (the LATE flag of the event encoding).
	Late bool `json:"late,omitempty"`
	// Failure is the Failure* kind of a failure record ("" when applied).
	Failure string `json:"failure,omitempty"`
	// FailureDetail is the host's human-readable text of the failure. It is
	// in no digest (it may differ between hosts).
	FailureDetail string `json:"failure_detail,omitempty"`
	EventHash     Hash   `json:"event_hash"`
	StateHash     Hash   `json:"state_hash"`
	Module        Hash   `json:"module"`
	Digest        Hash   `json:"digest"`
}

// Severity of an alert.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Alert is raised by a contract (or by the runtime when a contract fails).
// Its JSON form is published on custos.twin.<twin>.alert.
type Alert struct {
	Twin     string    `json:"twin"`
	N        uint64    `json:"n"`   // per-twin alert number, 1, 2, 3, …
	Seq      uint64    `json:"seq"` // twin seq of the event that raised it (the last applied seq if the event failed)
	Severity string    `json:"severity"`
	Code     string    `json:"code"`
	Message  string    `json:"message"`
	Time     time.Time `json:"ts"`
}
