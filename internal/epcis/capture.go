package epcis

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/custos-dev/custos/twin"
)

// Names of the standard and of custos's extension.
const (
	// ContextURI is the EPCIS 2.0 JSON-LD context every document names.
	ContextURI = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
	// Namespace is custos's extension namespace; documents bind it to the
	// prefix "custos" in @context.
	Namespace = "https://custos.dev/epcis/"
	// SensorURIPrefix names a custos sensor as a deviceID.
	SensorURIPrefix = "urn:custos:sensor:"
	// PartyURIPrefix names a custos party (custodian) that is not a URI.
	PartyURIPrefix = "urn:custos:party:"
	// StatusURIPrefix is the disposition of a custos status that CBV has no
	// disposition for.
	StatusURIPrefix = Namespace + "status/"
)

// contexts are the @context URIs accepted as "EPCIS 2.0": the published
// one and the GS1 GitHub copy the standard's examples use.
var contexts = map[string]bool{
	ContextURI: true,
	"https://gs1.github.io/EPCIS/epcis-context.jsonld": true,
}

// Limits.
const (
	// ReadingsPerMessage caps the readings of one telemetry message so it
	// stays under the input stream's message size limit.
	ReadingsPerMessage = 200
	maxEvents          = 1_000_000
)

// Resolver answers what a document cannot say by itself.
type Resolver interface {
	// Twin returns the twin an identifier key is mapped to by the operator.
	Twin(k Key) (id string, ok bool)
	// Policy resolves a contract module by name and version ("" = newest).
	Policy(name, version string) (twin.ContractRef, error)
}

// Plan is a validated document: the messages to publish, in order.
type Plan struct {
	Events   []EventPlan
	Messages []Message
	// Refused lists sensor reports that were not captured (unknown type or
	// unit, bad value); the rest of the document is.
	Refused []Refusal
	// Mappings are identifiers that custos create events in the document
	// bind to their new twins.
	Mappings []Mapping
	// Twins the document needs that it does not create: they must exist.
	Twins []string
	// Readings is the number of readings in Messages.
	Readings int
}

// EventPlan is one EPCIS event of the document.
type EventPlan struct {
	Index int    `json:"index"`
	ID    string `json:"eventID,omitempty"`
	// Key identifies the event for idempotence: "id:"+eventID, or
	// "hash:"+hex(sha256(canonical JSON)) when the event has no eventID.
	Key string `json:"-"`
	// Ignored says why the event maps to nothing ("" if it does).
	Ignored string `json:"ignored,omitempty"`
	// First and N locate the event's messages in Plan.Messages.
	First, N int `json:"-"`
}

// Message is one input message for the custos input stream.
type Message struct {
	Event   int // index in Plan.Events
	Twin    string
	Subject string // custos.telemetry.<twin> or custos.command.<twin>
	MsgID   string // Nats-Msg-Id
	Data    []byte
	// Readings in Data (0 for commands).
	Readings int
	// Create: the message creates its twin.
	Create bool
}

// Refusal is a sensor report that was not captured.
type Refusal struct {
	Event   int    `json:"event"`
	EventID string `json:"eventID,omitempty"`
	Element int    `json:"sensorElement"`
	Report  int    `json:"sensorReport"`
	Reason  string `json:"reason"` // unknown_type, unknown_unit, invalid_value
	Detail  string `json:"detail"`
}

// Mapping binds an identifier to a twin.
type Mapping struct {
	Identifier string `json:"identifier"`
	Key        Key    `json:"key"`
	Twin       string `json:"twin"`
}

// Reasons a document is refused as a whole.
const (
	ReasonMalformed         = "malformed"          // not JSON, wrong shape, missing required fields
	ReasonContext           = "wrong_context"      // @context does not name EPCIS 2.0
	ReasonUnknownIdentifier = "unknown_identifier" // an EPC no twin is mapped to
	ReasonUnsupported       = "unsupported"        // valid EPCIS that custos does not map (errorDeclaration, …)
	ReasonInvalidEvent      = "invalid_event"      // maps to an input custos refuses (bad status, party, …)
)

// DocumentError refuses a whole document; nothing of it was published.
type DocumentError struct {
	Reason string `json:"reason"`
	Event  int    `json:"event"` // -1: the document itself
	Detail string `json:"detail"`
}

func (e *DocumentError) Error() string {
	if e.Event < 0 {
		return "epcis: " + e.Reason + ": " + e.Detail
	}
	return fmt.Sprintf("epcis: %s: event %d: %s", e.Reason, e.Event, e.Detail)
}

func docErr(reason string, ev int, format string, args ...any) *DocumentError {
	return &DocumentError{Reason: reason, Event: ev, Detail: fmt.Sprintf(format, args...)}
}

type headerJSON struct {
	Context json.RawMessage `json:"@context"`
	Type    string          `json:"type"`
	Body    *struct {
		EventList []json.RawMessage `json:"eventList"`
	} `json:"epcisBody"`
}

type partyJSON struct {
	Type        string `json:"type"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
}

type metaJSON struct {
	Time     string `json:"time"`
	DeviceID string `json:"deviceID"`
}

type reportJSON struct {
	Type        string   `json:"type"`
	DeviceID    string   `json:"deviceID"`
	Time        string   `json:"time"`
	Value       *float64 `json:"value"`
	MinValue    *float64 `json:"minValue"`
	MaxValue    *float64 `json:"maxValue"`
	MeanValue   *float64 `json:"meanValue"`
	StringValue *string  `json:"stringValue"`
	UOM         string   `json:"uom"`
	Exception   string   `json:"exception"`
	CustosUnit  string   `json:"custos:unit"`
}

type elementJSON struct {
	Meta    *metaJSON    `json:"sensorMetadata"`
	Reports []reportJSON `json:"sensorReport"`
}

type contractJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

type createJSON struct {
	Kind      string          `json:"kind"`
	Params    json.RawMessage `json:"params"`
	Custodian string          `json:"custodian"`
	Parent    string          `json:"parent"`
}

type eventJSON struct {
	Context           json.RawMessage `json:"@context"`
	Type              string          `json:"type"`
	EventID           string          `json:"eventID"`
	EventTime         string          `json:"eventTime"`
	Action            string          `json:"action"`
	EPCList           []string        `json:"epcList"`
	ParentID          string          `json:"parentID"`
	ChildEPCs         []string        `json:"childEPCs"`
	BizStep           string          `json:"bizStep"`
	Disposition       string          `json:"disposition"`
	SourceList        []partyJSON     `json:"sourceList"`
	DestinationList   []partyJSON     `json:"destinationList"`
	SensorElementList []elementJSON   `json:"sensorElementList"`
	ErrorDeclaration  json.RawMessage `json:"errorDeclaration"`
	QuantityList      json.RawMessage `json:"quantityList"`

	// custos extension (prefix "custos" bound to Namespace).
	CustosKind     string        `json:"custos:kind"`
	CustosTwin     string        `json:"custos:twin"`
	CustosCreate   *createJSON   `json:"custos:create"`
	CustosContract *contractJSON `json:"custos:contract"`
}

// checkContext reports whether ctx names the EPCIS 2.0 context, and
// whether it binds the prefix "custos" to Namespace.
func checkContext(raw json.RawMessage) (custos bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false, fmt.Errorf("no @context (want %s)", ContextURI)
	}
	var items []json.RawMessage
	if raw[0] == '[' {
		if err := json.Unmarshal(raw, &items); err != nil {
			return false, fmt.Errorf("@context: %v", err)
		}
	} else {
		items = []json.RawMessage{raw}
	}
	found := false
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			found = found || contexts[s]
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(it, &m); err != nil {
			return false, fmt.Errorf("@context entries are URIs or objects")
		}
		if v, ok := m["custos"]; ok {
			var ns string
			if json.Unmarshal(v, &ns) != nil || ns != Namespace {
				return false, fmt.Errorf("@context binds the prefix custos to %s, not to %s", clip(string(v)), Namespace)
			}
			custos = true
		}
	}
	if !found {
		return false, fmt.Errorf("@context does not name the EPCIS 2.0 context %s", ContextURI)
	}
	return custos, nil
}

// Capture validates a whole EPCIS 2.0 document (or a single event) and
// returns what to publish. An error is a *DocumentError: nothing of the
// document may be published.
func Capture(data []byte, r Resolver) (*Plan, error) {
	var h headerJSON
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, docErr(ReasonMalformed, -1, "not a JSON object: %v", err)
	}
	custos, err := checkContext(h.Context)
	if err != nil {
		return nil, docErr(ReasonContext, -1, "%v", err)
	}
	var events []json.RawMessage
	switch h.Type {
	case "EPCISDocument":
		if h.Body == nil {
			return nil, docErr(ReasonMalformed, -1, "EPCISDocument without epcisBody.eventList")
		}
		events = h.Body.EventList
	case "ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent":
		events = []json.RawMessage{data}
	case "":
		return nil, docErr(ReasonMalformed, -1, "no \"type\" (want EPCISDocument or an event type)")
	default:
		return nil, docErr(ReasonUnsupported, -1, "document type %q (want EPCISDocument or a single event)", clip(h.Type))
	}
	if len(events) > maxEvents {
		return nil, docErr(ReasonMalformed, -1, "%d events: at most %d per document", len(events), maxEvents)
	}
	b := &builder{r: r, custos: custos, plan: &Plan{Events: make([]EventPlan, 0, len(events))},
		created: map[string]bool{}, needed: map[string]bool{}, mapped: map[Key]string{}}
	for i, raw := range events {
		if err := b.event(i, raw); err != nil {
			return nil, err
		}
	}
	return b.plan, nil
}

type builder struct {
	r       Resolver
	custos  bool
	plan    *Plan
	created map[string]bool // twins created by this document
	needed  map[string]bool
	mapped  map[Key]string // identifiers bound by this document's creates
	ev      *eventJSON
	idx     int
	evTime  time.Time
	key     string
	nmsg    map[string]int // messages per twin of the current event (for MsgID)
}

func (b *builder) event(i int, raw json.RawMessage) error {
	var e eventJSON
	if err := json.Unmarshal(raw, &e); err != nil {
		return docErr(ReasonMalformed, i, "%v", err)
	}
	if !b.custos {
		e.CustosKind, e.CustosTwin, e.CustosCreate, e.CustosContract = "", "", nil, nil
		for j := range e.SensorElementList {
			for k := range e.SensorElementList[j].Reports {
				e.SensorElementList[j].Reports[k].CustosUnit = ""
			}
		}
	}
	b.ev, b.idx, b.nmsg = &e, i, map[string]int{}
	ep := EventPlan{Index: i, ID: e.EventID, First: len(b.plan.Messages)}
	if e.EventID != "" {
		if _, err := url.Parse(e.EventID); err != nil || !strings.Contains(e.EventID, ":") {
			return docErr(ReasonMalformed, i, "eventID %q is not a URI", clip(e.EventID))
		}
		ep.Key = "id:" + e.EventID
	} else {
		ep.Key = "hash:" + canonicalHash(raw)
	}
	b.key = ep.Key
	if e.EventTime == "" {
		return docErr(ReasonMalformed, i, "no eventTime")
	}
	t, err := parseTime(e.EventTime)
	if err != nil {
		return docErr(ReasonMalformed, i, "eventTime: %v", err)
	}
	b.evTime = t
	if len(bytes.TrimSpace(e.ErrorDeclaration)) > 0 {
		return docErr(ReasonUnsupported, i, "errorDeclaration (correcting earlier events) is not supported: custos history is append-only")
	}
	ep.Ignored, err = b.mapEvent()
	if err != nil {
		return err
	}
	ep.N = len(b.plan.Messages) - ep.First
	if ep.N == 0 && ep.Ignored == "" {
		ep.Ignored = "nothing to apply (no sensor data, custody, status or aggregation)"
	}
	b.plan.Events = append(b.plan.Events, ep)
	return nil
}

func (b *builder) mapEvent() (ignored string, err error) {
	e, i := b.ev, b.idx
	switch e.Type {
	case "ObjectEvent":
		if e.Action != "ADD" && e.Action != "OBSERVE" && e.Action != "DELETE" {
			return "", docErr(ReasonMalformed, i, "action %q (want ADD, OBSERVE or DELETE)", clip(e.Action))
		}
		if e.CustosKind == "timer" {
			return "a custos timer record: the runtime fires timers itself", nil
		}
		if len(e.EPCList) == 0 {
			if len(e.QuantityList) > 0 {
				return "quantityList only: classes of objects do not name twins", nil
			}
			return "", docErr(ReasonMalformed, i, "ObjectEvent without epcList")
		}
		if e.CustosCreate != nil {
			return "", b.create()
		}
		ids, err := b.twins(e.EPCList, "epcList")
		if err != nil {
			return "", err
		}
		if e.CustosKind == "upgrade" {
			return "", b.upgrade(ids)
		}
		return "", b.lifecycleAndReadings(ids)
	case "AggregationEvent":
		if e.Action != "ADD" && e.Action != "OBSERVE" && e.Action != "DELETE" {
			return "", docErr(ReasonMalformed, i, "action %q (want ADD, OBSERVE or DELETE)", clip(e.Action))
		}
		if e.ParentID == "" {
			if e.Action != "OBSERVE" {
				return "", docErr(ReasonMalformed, i, "AggregationEvent %s without parentID", e.Action)
			}
			return "no parentID: nothing names a twin", nil
		}
		parent, err := b.twins([]string{e.ParentID}, "parentID")
		if err != nil {
			return "", err
		}
		if e.Action != "OBSERVE" {
			if len(e.ChildEPCs) == 0 {
				return "", docErr(ReasonUnsupported, i, "AggregationEvent %s without childEPCs (custos needs the children named)", e.Action)
			}
			children, err := b.twins(e.ChildEPCs, "childEPCs")
			if err != nil {
				return "", err
			}
			typ := "aggregate"
			if e.Action == "DELETE" {
				typ = "disaggregate"
			}
			if err := b.command(parent[0], &twin.Command{Type: typ, Children: children}); err != nil {
				return "", err
			}
		}
		return "", b.lifecycleAndReadings(parent)
	case "TransactionEvent", "TransformationEvent", "AssociationEvent":
		return e.Type + "s are not mapped to twins", nil
	case "":
		return "", docErr(ReasonMalformed, i, "event without \"type\"")
	}
	return "", docErr(ReasonUnsupported, i, "event type %q", clip(e.Type))
}

// twins resolves identifiers to twins that exist or that this document
// creates.
func (b *builder) twins(list []string, field string) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, s := range list {
		k, err := ParseKey(s)
		if err != nil {
			return nil, docErr(ReasonUnknownIdentifier, b.idx, "%s: %v", field, err)
		}
		id, ok := k.Twin()
		if !ok {
			if id, ok = b.mapped[k]; !ok {
				if id, ok = b.r.Twin(k); !ok {
					return nil, docErr(ReasonUnknownIdentifier, b.idx, "%s: %s (GS1 key %s) is not mapped to a twin", field, clip(s), k)
				}
			}
		}
		if !b.created[id] && !b.needed[id] {
			b.needed[id] = true
			b.plan.Twins = append(b.plan.Twins, id)
		}
		out = append(out, id)
	}
	return out, nil
}

func (b *builder) create() error {
	e, i := b.ev, b.idx
	if e.Action != "ADD" || len(e.EPCList) != 1 {
		return docErr(ReasonInvalidEvent, i, "custos:create needs action ADD and exactly one EPC")
	}
	k, err := ParseKey(e.EPCList[0])
	if err != nil {
		return docErr(ReasonUnknownIdentifier, i, "epcList: %v", err)
	}
	id, direct := k.Twin()
	if !direct {
		id = e.CustosTwin
	}
	if !twin.ValidID(id) {
		return docErr(ReasonInvalidEvent, i, "custos:create: twin id %q invalid", clip(id))
	}
	if b.created[id] || b.needed[id] {
		return docErr(ReasonInvalidEvent, i, "custos:create: twin %s already named earlier in the document", id)
	}
	if other, ok := b.r.Twin(k); ok && other != id && !direct {
		return docErr(ReasonInvalidEvent, i, "custos:create: %s is already mapped to twin %s", clip(e.EPCList[0]), other)
	}
	c := e.CustosContract
	if c == nil || c.Name == "" {
		return docErr(ReasonInvalidEvent, i, "custos:create needs custos:contract with a name")
	}
	ref, err := b.r.Policy(c.Name, c.Version)
	if err != nil {
		return docErr(ReasonInvalidEvent, i, "custos:contract: %v", err)
	}
	if c.SHA256 != "" && !strings.EqualFold(strings.TrimPrefix(c.SHA256, "0x"), strings.TrimPrefix(ref.SHA256.Hex(), "0x")) {
		return docErr(ReasonInvalidEvent, i, "custos:contract %s %s here is module %s, not %s", c.Name, c.Version, ref.SHA256.Hex(), clip(c.SHA256))
	}
	cr := e.CustosCreate
	if cr.Parent != "" && !b.created[cr.Parent] {
		if _, err := b.twins([]string{TwinURIPrefix + cr.Parent}, "custos:create parent"); err != nil {
			return err
		}
	}
	b.created[id] = true
	if !direct {
		b.mapped[k] = id
		b.plan.Mappings = append(b.plan.Mappings, Mapping{Identifier: e.EPCList[0], Key: k, Twin: id})
	}
	return b.command(id, &twin.Command{Type: "create", Kind: cr.Kind, Contract: &ref, Params: cr.Params, Custodian: cr.Custodian, Parent: cr.Parent})
}

func (b *builder) upgrade(ids []string) error {
	c := b.ev.CustosContract
	if c == nil || c.Name == "" || len(ids) != 1 {
		return docErr(ReasonInvalidEvent, b.idx, "a custos upgrade event needs one EPC and custos:contract")
	}
	ref, err := b.r.Policy(c.Name, c.Version)
	if err != nil {
		return docErr(ReasonInvalidEvent, b.idx, "custos:contract: %v", err)
	}
	return b.command(ids[0], &twin.Command{Type: "upgrade", Contract: &ref})
}

// lifecycleAndReadings maps custody, status and sensor data, in that
// order, to each twin.
func (b *builder) lifecycleAndReadings(ids []string) error {
	e := b.ev
	to, err := custodian(e.DestinationList)
	if err != nil {
		return docErr(ReasonInvalidEvent, b.idx, "%v", err)
	}
	status := Status(e.BizStep, e.Disposition)
	readings, err := b.readings()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if to != "" {
			if err := b.command(id, &twin.Command{Type: "custody", To: to}); err != nil {
				return err
			}
		}
		if status != "" {
			if err := b.command(id, &twin.Command{Type: "status", Status: status}); err != nil {
				return err
			}
		}
		for start := 0; start < len(readings); start += ReadingsPerMessage {
			part := readings[start:min(start+ReadingsPerMessage, len(readings))]
			var buf bytes.Buffer
			buf.WriteString(`{"readings":[`)
			for j, r := range part {
				if j > 0 {
					buf.WriteByte(',')
				}
				buf.Write(r)
			}
			buf.WriteString(`]}`)
			b.add(id, "custos.telemetry."+id, buf.Bytes(), len(part))
		}
	}
	return nil
}

func (b *builder) command(id string, c *twin.Command) error {
	c.TS = formatTime(b.evTime)
	if _, err := c.Input(id, b.evTime); err != nil {
		return docErr(ReasonInvalidEvent, b.idx, "%s for twin %s: %v", c.Type, id, err)
	}
	data, err := json.Marshal(c)
	if err != nil {
		return docErr(ReasonInvalidEvent, b.idx, "%v", err)
	}
	b.add(id, "custos.command."+id, data, 0)
	if c.Type == "create" {
		b.created[id] = true
		b.plan.Messages[len(b.plan.Messages)-1].Create = true
	}
	return nil
}

func (b *builder) add(id, subject string, data []byte, readings int) {
	n := b.nmsg[id]
	b.nmsg[id] = n + 1
	b.plan.Messages = append(b.plan.Messages, Message{
		Event: len(b.plan.Events), Twin: id, Subject: subject,
		MsgID: MsgID(b.key, id, n), Data: data, Readings: readings,
	})
	b.plan.Readings += readings
}

// MsgID is the Nats-Msg-Id of the n-th message an EPCIS event (by its
// key) yields for a twin.
func MsgID(key, twinID string, n int) string {
	h := sha256.Sum256([]byte(key))
	return "epcis:" + hex.EncodeToString(h[:16]) + ":" + twinID + ":" + strconv.Itoa(n)
}

// readings maps the event's sensorElementList; reports custos cannot take
// are added to plan.Refused.
func (b *builder) readings() ([][]byte, error) {
	var out [][]byte
	for j := range b.ev.SensorElementList {
		el := &b.ev.SensorElementList[j]
		if len(el.Reports) == 0 {
			return nil, docErr(ReasonMalformed, b.idx, "sensorElementList[%d] without sensorReport", j)
		}
		for k := range el.Reports {
			rs, reason, detail := b.report(el, k)
			if reason != "" {
				b.plan.Refused = append(b.plan.Refused, Refusal{Event: b.idx, EventID: b.ev.EventID, Element: j, Report: k, Reason: reason, Detail: detail})
				continue
			}
			out = append(out, rs...)
		}
	}
	return out, nil
}

// reading is the telemetry JSON of one reading.
type reading struct {
	TS     string   `json:"ts"`
	Sensor string   `json:"sensor,omitempty"`
	Type   string   `json:"type"`
	Value  *float64 `json:"value,omitempty"`
	Unit   string   `json:"unit,omitempty"`
	Lat    *float64 `json:"lat,omitempty"`
	Lon    *float64 `json:"lon,omitempty"`
}

// report maps one sensorReport to zero or more readings, or says why not.
func (b *builder) report(el *elementJSON, k int) (out [][]byte, reason, detail string) {
	r := &el.Reports[k]
	if r.Exception == "ERROR_CONDITION" || strings.HasSuffix(r.Exception, "-ERROR_CONDITION") {
		return nil, "invalid_value", "the device reported ERROR_CONDITION"
	}
	// Time: the report's own, else the element's sensorMetadata, else the event's.
	ts := b.evTime
	switch {
	case r.Time != "":
		t, err := parseTime(r.Time)
		if err != nil {
			return nil, "invalid_value", "time: " + err.Error()
		}
		ts = t
	case el.Meta != nil && el.Meta.Time != "":
		t, err := parseTime(el.Meta.Time)
		if err != nil {
			return nil, "invalid_value", "sensorMetadata.time: " + err.Error()
		}
		ts = t
	}
	dev := r.DeviceID
	if dev == "" && el.Meta != nil {
		dev = el.Meta.DeviceID
	}
	sensor := dev
	if s, ok := strings.CutPrefix(dev, SensorURIPrefix); ok {
		v, err := url.PathUnescape(s)
		if err != nil {
			return nil, "invalid_value", "deviceID: bad percent-escape"
		}
		sensor = v
	}
	if len(sensor) > 64 {
		return nil, "invalid_value", "deviceID longer than 64 bytes (custos sensor names are at most 64)"
	}
	typ := vocab(r.Type, "https://gs1.org/voc/", "http://gs1.org/voc/", "gs1:")
	if t, ok := strings.CutPrefix(r.Type, Namespace); ok {
		typ = "custos:" + t
	}
	rd := reading{TS: formatTime(ts), Sensor: sensor}
	var units map[string]string // accepted uom → custos unit
	switch typ {
	case "Temperature":
		rd.Type, units = "temperature", map[string]string{"CEL": "CEL", "FAH": "FAH", "KEL": "KEL"}
	case "RelativeHumidity":
		rd.Type, units = "humidity", map[string]string{"P1": "%RH"}
	case "AbsoluteHumidity":
		if r.UOM != "A93" {
			return nil, "unknown_unit", fmt.Sprintf("AbsoluteHumidity in %q: custos takes A93 (g/m³)", clip(r.UOM))
		}
		return b.absoluteHumidity(el, k, rd)
	case "Illuminance":
		rd.Type, units = "light", map[string]string{"LUX": "lx"}
	case "Angle":
		rd.Type, units = "tilt", map[string]string{"DD": "deg"}
	case "Acceleration":
		rd.Type, units = "shock", map[string]string{"MSK": "MSK"}
	case "custos:Shock":
		rd.Type, units = "shock", map[string]string{"": "g"}
	case "custos:Door":
		rd.Type, units = "door", map[string]string{"": ""}
	case "custos:Battery":
		rd.Type, units = "battery", map[string]string{"P1": "%"}
	case "custos:Light":
		rd.Type, units = "light", map[string]string{"": ""}
	case "custos:Tilt":
		rd.Type, units = "tilt", map[string]string{"": ""}
	case "custos:Location":
		if r.StringValue == nil {
			return nil, "invalid_value", "custos:Location needs stringValue \"lat,lon\""
		}
		la, lo, ok := strings.Cut(*r.StringValue, ",")
		lat, err1 := strconv.ParseFloat(strings.TrimSpace(la), 64)
		lon, err2 := strconv.ParseFloat(strings.TrimSpace(lo), 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, "invalid_value", "custos:Location stringValue is \"lat,lon\""
		}
		rd.Type, rd.Lat, rd.Lon = "location", &lat, &lon
		return b.encode(rd)
	default:
		return nil, "unknown_type", fmt.Sprintf("sensor type %q has no custos reading type", clip(r.Type))
	}
	unit, ok := units[r.UOM]
	if !ok {
		want := make([]string, 0, len(units))
		for u := range units {
			if u == "" {
				u = "none"
			}
			want = append(want, u)
		}
		return nil, "unknown_unit", fmt.Sprintf("%s in %q: custos takes %s", typ, clip(r.UOM), strings.Join(want, ", "))
	}
	if r.CustosUnit != "" {
		unit = r.CustosUnit
	}
	rd.Unit = unit
	vals := []*float64{r.Value}
	if r.Value == nil {
		vals = vals[:0]
		if r.MinValue != nil {
			vals = append(vals, r.MinValue)
		}
		if r.MaxValue != nil {
			vals = append(vals, r.MaxValue)
		}
		if len(vals) == 0 && r.MeanValue != nil {
			vals = append(vals, r.MeanValue)
		}
	}
	if len(vals) == 0 {
		if r.Exception != "" {
			return nil, "", "" // an alarm marker without a value: nothing to apply
		}
		return nil, "invalid_value", "no value, minValue, maxValue or meanValue"
	}
	for _, v := range vals {
		rv := rd
		rv.Value = v
		enc, reason, detail := b.encode(rv)
		if reason != "" {
			return nil, reason, detail
		}
		out = append(out, enc...)
	}
	return out, "", ""
}

// absoluteHumidity converts an AbsoluteHumidity report (g/m³) to relative
// humidity with the temperature reported by the same sensor element at the
// same time (Magnus formula, Sonntag 1990).
func (b *builder) absoluteHumidity(el *elementJSON, k int, rd reading) ([][]byte, string, string) {
	r := &el.Reports[k]
	if r.Value == nil {
		return nil, "invalid_value", "AbsoluteHumidity needs value"
	}
	var tempC *float64
	for j := range el.Reports {
		o := &el.Reports[j]
		if j == k || o.Value == nil || vocab(o.Type, "https://gs1.org/voc/", "http://gs1.org/voc/", "gs1:") != "Temperature" || o.Time != r.Time {
			continue
		}
		var c float64
		switch o.UOM {
		case "CEL":
			c = *o.Value
		case "FAH":
			c = (*o.Value - 32) * 5 / 9
		case "KEL":
			c = *o.Value - 273.15
		default:
			continue
		}
		tempC = &c
		break
	}
	if tempC == nil {
		return nil, "unknown_unit", "AbsoluteHumidity (A93) converts to relative humidity only with a Temperature report of the same element and time"
	}
	t := *tempC
	es := 6.112 * math.Exp(17.62*t/(243.12+t))      // hPa
	sat := es * 100 / (461.5 * (t + 273.15)) * 1000 // g/m³
	rh := math.Round(*r.Value/sat*100*1000) / 1000  // %, 3 decimals
	rd.Type, rd.Unit, rd.Value = "humidity", "%RH", &rh
	return b.encode(rd)
}

// encode checks a reading the way the runtime will and returns its JSON.
func (b *builder) encode(rd reading) ([][]byte, string, string) {
	data, err := json.Marshal(rd)
	if err != nil {
		return nil, "invalid_value", err.Error()
	}
	if _, err := twin.ParseTelemetry(data, b.evTime); err != nil {
		reason := "invalid_value"
		if ie, ok := err.(*twin.InputError); ok && ie.Reason == twin.ReasonUnknownType {
			reason = "unknown_type"
		}
		msg := err.Error()
		if ie, ok := err.(*twin.InputError); ok {
			msg = ie.Detail
		}
		return nil, reason, msg
	}
	return [][]byte{data}, "", ""
}

// custodian is the party in a destinationList: possessing_party first,
// else owning_party ("" if none).
func custodian(list []partyJSON) (string, error) {
	var owner, holder string
	for _, p := range list {
		switch vocab(p.Type, "https://ref.gs1.org/cbv/SDT-", "https://gs1.org/voc/SDT-", "urn:epcglobal:cbv:sdt:", "cbv:SDT-") {
		case "possessing_party":
			holder = p.Destination
		case "owning_party":
			owner = p.Destination
		}
	}
	p := holder
	if p == "" {
		p = owner
	}
	if p == "" {
		return "", nil
	}
	return PartyFromURI(p)
}

// PartyFromURI is the custos party a source/destination URI names.
func PartyFromURI(s string) (string, error) {
	if rest, ok := strings.CutPrefix(s, PartyURIPrefix); ok {
		v, err := url.PathUnescape(rest)
		if err != nil {
			return "", fmt.Errorf("party %q: bad percent-escape", clip(s))
		}
		s = v
	}
	if s == "" || len(s) > 128 {
		return "", fmt.Errorf("party %q: 1–128 bytes", clip(s))
	}
	return s, nil
}

// PartyURI is the URI of a custos party: itself if it is a URI, else
// urn:custos:party:<percent-encoded>.
func PartyURI(p string) string {
	if isURI(p) {
		return p
	}
	return PartyURIPrefix + escape(p)
}

// SensorURI is the deviceID of a custos sensor name.
func SensorURI(s string) string {
	if isURI(s) {
		return s
	}
	return SensorURIPrefix + escape(s)
}

// isURI reports whether s is already an absolute URI.
func isURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && strings.Contains(s, ":") && !strings.ContainsAny(s, " \t")
}

func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Status is the custos status an event's bizStep and disposition set
// ("" for none). See docs/epcis.md for the table.
func Status(bizStep, disposition string) string {
	step := vocab(bizStep, "https://ref.gs1.org/cbv/BizStep-", "https://gs1.org/voc/BizStep-", "urn:epcglobal:cbv:bizstep:", "cbv:BizStep-")
	disp := vocab(disposition, "https://ref.gs1.org/cbv/Disp-", "https://gs1.org/voc/Disp-", "urn:epcglobal:cbv:disp:", "cbv:Disp-")
	if s, ok := strings.CutPrefix(disposition, StatusURIPrefix); ok {
		return s
	}
	switch {
	case disp == "in_transit":
		return twin.StatusInTransit
	case step == "decommissioning" || step == "destroying" || disp == "inactive" || disp == "destroyed" || disp == "disposed":
		return twin.StatusClosed
	case step == "receiving" || step == "accepting":
		return twin.StatusDelivered
	}
	return ""
}

// vocab strips the first matching namespace prefix from a vocabulary term.
func vocab(s string, prefixes ...string) string {
	for _, p := range prefixes {
		if v, ok := strings.CutPrefix(s, p); ok {
			return v
		}
	}
	return s
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date-time", clip(s))
	}
	return t.UTC(), nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// canonicalHash is custos's hash of an event without eventID: sha256 of
// its JSON with object keys sorted and insignificant whitespace removed
// (numbers kept as written). It is not the CBV 2.0 event hash.
func canonicalHash(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		h := sha256.Sum256(raw)
		return hex.EncodeToString(h[:])
	}
	data, _ := json.Marshal(v) // maps marshal with sorted keys
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}
