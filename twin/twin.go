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

// Timer is a pending timer set by a twin's contract. When wall-clock time
// passes At, the runtime publishes a timer event into the twin's input
// stream; the contract sees it like any other event.
type Timer struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"`
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

	// State is the contract's state bytes; only the contract interprets them.
	State []byte `json:"-"`
	// StreamSeq is the input stream sequence of the last applied event.
	// Anything at or below it is a redelivery and is skipped.
	StreamSeq uint64 `json:"-"`
	// Timers pending for this twin, persisted with it.
	Timers []Timer `json:"-"`
}

// Clone returns a deep copy of t.
func (t *Twin) Clone() *Twin {
	c := *t
	c.Params = append(json.RawMessage(nil), t.Params...)
	c.Children = append([]string(nil), t.Children...)
	c.View = append(json.RawMessage(nil), t.View...)
	c.State = append([]byte(nil), t.State...)
	c.Timers = append([]Timer(nil), t.Timers...)
	return &c
}

// Record is one applied event in a twin's history: everything needed to
// recompute its digest link.
type Record struct {
	Twin      string    `json:"twin"`
	Seq       uint64    `json:"seq"`
	StreamSeq uint64    `json:"stream_seq"`
	Time      time.Time `json:"ts"`
	Kind      EventKind `json:"-"`
	Event     []byte    `json:"-"` // canonical encoding (Event.AppendBinary)
	EventHash Hash      `json:"event_hash"`
	StateHash Hash      `json:"state_hash"`
	Module    Hash      `json:"module"`
	Digest    Hash      `json:"digest"`
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
