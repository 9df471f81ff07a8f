package epcis

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/custos-dev/custos/twin"
)

// History is one twin's part of an export.
type History struct {
	Twin    *twin.Twin
	Records []twin.Record // in seq order
	Alerts  []twin.Alert
}

// ExportOptions say how to name things in an export.
type ExportOptions struct {
	// EPC returns the identifier of a twin (default urn:custos:twin:<id>).
	EPC func(twinID string) string
	// Module names a contract module by sha256 (for create and upgrade
	// events); ok false falls back to the twin's current contract if the
	// hash matches, else the event carries only the hash.
	Module func(sha twin.Hash) (name, version string, ok bool)
	// ProofURL is the proof link of a record (default
	// /v1/twins/<id>/proof?seq=<seq>).
	ProofURL func(twinID string, seq uint64) string
	// Created is the document's creationDate.
	Created time.Time
}

// Document is an EPCIS 2.0 JSON-LD EPCISDocument.
type Document struct {
	Context       []any     `json:"@context"`
	Type          string    `json:"type"`
	SchemaVersion string    `json:"schemaVersion"`
	CreationDate  string    `json:"creationDate"`
	Body          EventList `json:"epcisBody"`
}

// EventList is the body of a Document.
type EventList struct {
	EventList []map[string]any `json:"eventList"`
}

// Export renders histories as one EPCISDocument. Events come in an order
// that capture can replay: every create first, then the other records
// merged by event time, each twin's records staying in seq order.
func Export(hs []History, opt ExportOptions) (*Document, error) {
	if opt.EPC == nil {
		opt.EPC = func(id string) string { return TwinURIPrefix + id }
	}
	if opt.ProofURL == nil {
		opt.ProofURL = func(id string, seq uint64) string {
			return "/v1/twins/" + id + "/proof?seq=" + strconv.FormatUint(seq, 10)
		}
	}
	doc := &Document{
		Context:       []any{ContextURI, map[string]string{"custos": Namespace}},
		Type:          "EPCISDocument",
		SchemaVersion: "2.0",
		CreationDate:  opt.Created.UTC().Format(time.RFC3339Nano),
		Body:          EventList{EventList: []map[string]any{}},
	}
	type cursor struct {
		h      *History
		i      int
		alerts map[uint64][]twin.Alert
	}
	curs := make([]*cursor, 0, len(hs))
	for k := range hs {
		c := &cursor{h: &hs[k], alerts: map[uint64][]twin.Alert{}}
		for _, a := range hs[k].Alerts {
			c.alerts[a.Seq] = append(c.alerts[a.Seq], a)
		}
		curs = append(curs, c)
	}
	sort.Slice(curs, func(a, b int) bool { return curs[a].h.Twin.ID < curs[b].h.Twin.ID })
	emit := func(c *cursor) error {
		ev, err := exportRecord(c.h, &c.h.Records[c.i], c.alerts[c.h.Records[c.i].Seq], &opt)
		if err != nil {
			return err
		}
		doc.Body.EventList = append(doc.Body.EventList, ev)
		c.i++
		return nil
	}
	// Creates first, by event time (a parent's aggregation may name
	// children created later than the parent).
	var creates []*cursor
	for _, c := range curs {
		if len(c.h.Records) > 0 && c.h.Records[0].Kind == twin.KindCreate {
			creates = append(creates, c)
		}
	}
	sort.SliceStable(creates, func(a, b int) bool { return creates[a].h.Records[0].Time.Before(creates[b].h.Records[0].Time) })
	for _, c := range creates {
		if err := emit(c); err != nil {
			return nil, err
		}
	}
	for {
		var next *cursor
		for _, c := range curs {
			if c.i < len(c.h.Records) && (next == nil || c.h.Records[c.i].Time.Before(next.h.Records[next.i].Time)) {
				next = c
			}
		}
		if next == nil {
			break
		}
		if err := emit(next); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

func exportRecord(h *History, rec *twin.Record, alerts []twin.Alert, opt *ExportOptions) (map[string]any, error) {
	var e twin.Event
	if err := e.UnmarshalBinary(rec.Event); err != nil {
		return nil, fmt.Errorf("twin %s seq %d: %w", rec.Twin, rec.Seq, err)
	}
	id := rec.Twin
	epc := opt.EPC(id)
	ev := map[string]any{
		"type":                "ObjectEvent",
		"eventTime":           rec.Time.UTC().Format(time.RFC3339Nano),
		"eventTimeZoneOffset": "+00:00",
		"eventID":             eventUUID(rec.Digest),
		"action":              "OBSERVE",
		"epcList":             []string{epc},
		"custos:twin":         id,
		"custos:seq":          rec.Seq,
		"custos:kind":         rec.Kind.String(),
		"custos:digest":       rec.Digest,
		"custos:eventHash":    rec.EventHash,
		"custos:stateHash":    rec.StateHash,
		"custos:module":       rec.Module,
		"custos:proof":        opt.ProofURL(id, rec.Seq),
	}
	if !rec.RecordTime.IsZero() {
		ev["recordTime"] = rec.RecordTime.UTC().Format(time.RFC3339Nano)
	}
	if rec.Late {
		ev["custos:late"] = true
	}
	if rec.Failure != "" {
		ev["custos:failure"] = rec.Failure
		if rec.FailureDetail != "" {
			ev["custos:failureDetail"] = rec.FailureDetail
		}
	}
	if len(alerts) > 0 {
		as := make([]map[string]any, len(alerts))
		for i, a := range alerts {
			as[i] = map[string]any{"n": a.N, "severity": a.Severity, "code": a.Code, "message": a.Message}
		}
		ev["custos:alerts"] = as
	}
	alarm := func(rep map[string]any) {
		if len(alerts) > 0 {
			rep["exception"] = "ALARM_CONDITION"
		}
	}
	switch e.Kind {
	case twin.KindCreate:
		ev["action"] = "ADD"
		ev["bizStep"] = "commissioning"
		ev["disposition"] = "active"
		params := json.RawMessage(e.Field(1))
		if !json.Valid(params) {
			params = json.RawMessage("{}")
		}
		ev["custos:create"] = map[string]any{"kind": e.Field(0), "params": params, "custodian": e.Field(2), "parent": e.Field(3)}
		ev["custos:contract"] = contract(h, rec.Module, opt)
	case twin.KindReading:
		rep := map[string]any{"time": e.Time.UTC().Format(time.RFC3339Nano)}
		unit := e.Field(1)
		custom := func(typ, def string) {
			rep["type"] = typ
			if unit != def {
				rep["custos:unit"] = unit
			}
		}
		switch e.Type {
		case twin.TypeTemperature:
			rep["type"], rep["uom"] = "Temperature", "CEL"
		case twin.TypeHumidity:
			rep["type"], rep["uom"] = "RelativeHumidity", "P1"
		case twin.TypeShock:
			custom("custos:Shock", "g")
		case twin.TypeDoor:
			custom("custos:Door", "")
		case twin.TypeBattery:
			custom("custos:Battery", "%")
			rep["uom"] = "P1"
		case twin.TypeLight:
			if unit == "lx" {
				rep["type"], rep["uom"] = "Illuminance", "LUX"
			} else {
				custom("custos:Light", "")
			}
		case twin.TypeTilt:
			if unit == "deg" {
				rep["type"], rep["uom"] = "Angle", "DD"
			} else {
				custom("custos:Tilt", "")
			}
		case twin.TypeLocation:
			rep["type"] = "custos:Location"
			rep["stringValue"] = strconv.FormatFloat(e.Value, 'g', -1, 64) + "," + strconv.FormatFloat(e.Value2, 'g', -1, 64)
		default:
			return nil, fmt.Errorf("twin %s seq %d: reading type %s has no EPCIS mapping", id, rec.Seq, e.Type)
		}
		if e.Type != twin.TypeLocation {
			rep["value"] = e.Value
		}
		alarm(rep)
		el := map[string]any{"sensorReport": []any{rep}}
		if s := e.Field(0); s != "" {
			el["sensorMetadata"] = map[string]any{"deviceID": SensorURI(s)}
		}
		ev["bizStep"] = "sensor_reporting"
		ev["sensorElementList"] = []any{el}
	case twin.KindCustody:
		if from := e.Field(0); from != "" {
			ev["sourceList"] = []any{map[string]string{"type": "possessing_party", "source": PartyURI(from)}}
		}
		ev["destinationList"] = []any{map[string]string{"type": "possessing_party", "destination": PartyURI(e.Field(1))}}
	case twin.KindStatus:
		switch st := e.Field(0); st {
		case twin.StatusInTransit:
			ev["bizStep"], ev["disposition"] = "shipping", "in_transit"
		case twin.StatusDelivered:
			ev["bizStep"], ev["disposition"] = "receiving", "in_progress"
		case twin.StatusClosed:
			ev["bizStep"], ev["disposition"] = "decommissioning", "inactive"
		default:
			ev["disposition"] = StatusURIPrefix + st
		}
	case twin.KindAggregate, twin.KindDisaggregate:
		ev["type"] = "AggregationEvent"
		delete(ev, "epcList")
		ev["parentID"] = epc
		children := make([]string, len(e.Fields))
		for i, c := range e.Fields {
			children[i] = opt.EPC(c)
		}
		ev["childEPCs"] = children
		if e.Kind == twin.KindAggregate {
			ev["action"], ev["bizStep"] = "ADD", "packing"
		} else {
			ev["action"], ev["bizStep"] = "DELETE", "unpacking"
		}
	case twin.KindTimer:
		ev["custos:timer"] = e.Field(0)
		if len(alerts) > 0 {
			rep := map[string]any{"type": "custos:Alarm", "time": e.Time.UTC().Format(time.RFC3339Nano)}
			alarm(rep)
			ev["sensorElementList"] = []any{map[string]any{"sensorReport": []any{rep}}}
		}
	case twin.KindUpgrade:
		ev["custos:contract"] = contract(h, rec.Module, opt)
	default:
		return nil, fmt.Errorf("twin %s seq %d: event kind %s has no EPCIS mapping", id, rec.Seq, e.Kind)
	}
	return ev, nil
}

func contract(h *History, module twin.Hash, opt *ExportOptions) map[string]any {
	c := map[string]any{"sha256": module.Hex()}
	if opt.Module != nil {
		if name, version, ok := opt.Module(module); ok {
			c["name"], c["version"] = name, version
			return c
		}
	}
	if h.Twin != nil && h.Twin.Contract.SHA256 == module {
		c["name"], c["version"] = h.Twin.Contract.Name, h.Twin.Contract.Version
	}
	return c
}

// eventUUID derives a stable eventID from a record's digest (the digest
// already commits to twin, seq and event): the digest's first 16 bytes as
// an RFC 9562 UUID with version 8 (custom).
func eventUUID(d twin.Hash) string {
	var u [16]byte
	copy(u[:], d[:16])
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
