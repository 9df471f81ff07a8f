package epcis

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

// fakeResolver maps identifiers to twins and knows one policy.
type fakeResolver map[Key]string

func (f fakeResolver) Twin(k Key) (string, bool) { id, ok := f[k]; return id, ok }
func (f fakeResolver) Policy(name, version string) (twin.ContractRef, error) {
	if name != "coldchain" {
		return twin.ContractRef{}, errors.New("unknown policy " + name)
	}
	return twin.ContractRef{Name: "coldchain", Version: "1.0.0", SHA256: twin.Hash{9}}, nil
}

func resolver(t testing.TB, m map[string]string) fakeResolver {
	r := fakeResolver{}
	for epc, id := range m {
		k, err := ParseKey(epc)
		if err != nil {
			t.Fatal(err)
		}
		r[k] = id
	}
	return r
}

func mustRead(t testing.TB, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const palletSSCC = "urn:epc:id:sscc:4012345.0000000042"

// readingsOf parses the telemetry messages of a plan as the runtime will.
func readingsOf(t *testing.T, p *Plan) []twin.Event {
	var out []twin.Event
	for _, m := range p.Messages {
		if !strings.HasPrefix(m.Subject, "custos.telemetry.") {
			continue
		}
		evs, err := twin.ParseTelemetry(m.Data, time.Time{})
		if err != nil {
			t.Fatalf("message %s: %v", m.Data, err)
		}
		out = append(out, evs...)
	}
	return out
}

func TestCaptureSensorData(t *testing.T) {
	p, err := Capture(mustRead(t, "sensors.jsonld"), resolver(t, map[string]string{palletSSCC: "pallet-42"}))
	if err != nil {
		t.Fatal(err)
	}
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	want := []struct {
		sensor string
		typ    twin.ReadingType
		value  float64
		at     time.Time
	}{
		{"urn:epc:id:giai:4000001.111", twin.TypeTemperature, 5, ts("2026-03-02T05:50:00Z")},   // 41 °F, the report's own time
		{"urn:epc:id:giai:4000001.111", twin.TypeTemperature, 4, ts("2026-03-02T05:55:00Z")},   // 39.2 °F, sensorMetadata.time
		{"urn:epc:id:giai:4000001.111", twin.TypeTemperature, 5.5, ts("2026-03-02T05:58:00Z")}, // 278.65 K
		{"urn:epc:id:giai:4000001.222", twin.TypeTemperature, 20, ts("2026-03-02T05:50:00Z")},
		{"urn:epc:id:giai:4000001.222", twin.TypeHumidity, 50.172, ts("2026-03-02T05:50:00Z")}, // 8.65 g/m³ at 20 °C
		{"urn:epc:id:giai:4000001.222", twin.TypeHumidity, 55.5, ts("2026-03-02T05:51:00Z")},
		{"urn:epc:id:giai:4000001.222", twin.TypeTemperature, 3, ts("2026-03-02T05:52:00Z")},   // minValue
		{"urn:epc:id:giai:4000001.222", twin.TypeTemperature, 9.5, ts("2026-03-02T05:52:00Z")}, // maxValue
	}
	got := readingsOf(t, p)
	if len(got) != len(want) || p.Readings != len(want) {
		t.Fatalf("%d readings (plan says %d), want %d: %+v", len(got), p.Readings, len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Field(0) != w.sensor || g.Type != w.typ || math.Abs(g.Value-w.value) > 0.01 || !g.Time.Equal(w.at) {
			t.Errorf("reading %d = %s %s %g at %s; want %s %s %g at %s", i, g.Field(0), g.Type, g.Value, g.Time, w.sensor, w.typ, w.value, w.at)
		}
	}
	for _, m := range p.Messages {
		if m.Twin != "pallet-42" || m.Subject != "custos.telemetry.pallet-42" {
			t.Errorf("message to %s on %s", m.Twin, m.Subject)
		}
	}
	// Element 3: each report refused on its own, with its reason.
	reasons := []string{"unknown_type", "unknown_unit", "invalid_value", "invalid_value"}
	if len(p.Refused) != len(reasons) {
		t.Fatalf("refused %+v", p.Refused)
	}
	for i, r := range p.Refused {
		if r.Reason != reasons[i] || r.Element != 2 || r.Report != i || r.Detail == "" {
			t.Errorf("refusal %d = %+v, want %s on element 2 report %d", i, r, reasons[i], i)
		}
	}
	if !strings.Contains(p.Refused[0].Detail, "Radioactivity") || !strings.Contains(p.Refused[1].Detail, "XYZ") ||
		!strings.Contains(p.Refused[2].Detail, "ERROR_CONDITION") || !strings.Contains(p.Refused[3].Detail, "140") {
		t.Errorf("refusal details do not say what: %+v", p.Refused)
	}
	if want := []string{"pallet-42"}; len(p.Twins) != 1 || p.Twins[0] != want[0] {
		t.Errorf("twins %v", p.Twins)
	}
}

func TestCaptureAggregationAndCustody(t *testing.T) {
	r := resolver(t, map[string]string{
		palletSSCC:                             "pallet-42",
		"urn:epc:id:sgtin:4012345.011111.1001": "case-1",
		"urn:epc:id:sgtin:4012345.011111.1002": "case-2",
		"urn:epc:id:sgtin:4012345.011111.1003": "case-3",
	})
	p, err := Capture(mustRead(t, "aggregation.jsonld"), r)
	if err != nil {
		t.Fatal(err)
	}
	type cmd struct{ twin, json string }
	want := []cmd{
		{"pallet-42", `{"type":"aggregate","ts":"2026-03-01T08:30:00Z","children":["case-1","case-2","case-3"]}`},
		{"pallet-42", `{"type":"custody","ts":"2026-03-01T09:00:00Z","to":"urn:epc:id:pgln:4055555.00000"}`}, // possessing party wins
		{"pallet-42", `{"type":"status","ts":"2026-03-01T09:00:00Z","status":"in_transit"}`},
		{"pallet-42", `{"type":"disaggregate","ts":"2026-03-02T10:00:00Z","children":["case-1"]}`},
		{"pallet-42", `{"type":"status","ts":"2026-03-02T10:05:00Z","status":"delivered"}`},
	}
	if len(p.Messages) != len(want) {
		t.Fatalf("%d messages, want %d", len(p.Messages), len(want))
	}
	for i, w := range want {
		m := p.Messages[i]
		if m.Twin != w.twin || string(m.Data) != w.json || m.Subject != "custos.command."+w.twin {
			t.Errorf("message %d = %s %s, want %s %s", i, m.Twin, m.Data, w.twin, w.json)
		}
		if _, err := twin.ParseCommand(m.Twin, m.Data, time.Time{}); err != nil {
			t.Errorf("message %d refused by the runtime's parser: %v", i, err)
		}
	}
	if p.Events[0].Ignored == "" || p.Events[5].Ignored == "" || p.Events[1].Ignored != "" {
		t.Errorf("ignored: %+v", p.Events)
	}
	if !strings.HasPrefix(p.Events[3].Key, "hash:") || p.Events[1].Key != "id:urn:uuid:4d1f7e0a-2b1c-4c55-8d9b-aa0000000002" {
		t.Errorf("keys %q %q", p.Events[3].Key, p.Events[1].Key)
	}
}

func TestCaptureIdempotenceKeys(t *testing.T) {
	r := resolver(t, map[string]string{palletSSCC: "p"})
	a := `{"@context":"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld","type":"ObjectEvent","action":"OBSERVE","eventTime":"2026-01-01T00:00:00Z","epcList":["` + palletSSCC + `"],"disposition":"in_transit"}`
	b := "{ \"type\":\"ObjectEvent\",\n \"epcList\":[\"" + palletSSCC + "\"], \"action\":\"OBSERVE\", \"disposition\":\"in_transit\",\"eventTime\":\"2026-01-01T00:00:00Z\",\"@context\":\"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld\"}"
	pa, err := Capture([]byte(a), r)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := Capture([]byte(b), r)
	if err != nil {
		t.Fatal(err)
	}
	if pa.Messages[0].MsgID != pb.Messages[0].MsgID {
		t.Errorf("same event, different ids: %s %s", pa.Messages[0].MsgID, pb.Messages[0].MsgID)
	}
	c := strings.Replace(a, "in_transit", "inactive", 1)
	pc, err := Capture([]byte(c), r)
	if err != nil {
		t.Fatal(err)
	}
	if pc.Messages[0].MsgID == pa.Messages[0].MsgID {
		t.Error("different events share a message id")
	}
}

func TestCaptureRefusesWholeDocument(t *testing.T) {
	r := resolver(t, map[string]string{palletSSCC: "p"})
	ctx := `"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]`
	ev := func(extra string) string {
		return `{` + ctx + `,"type":"EPCISDocument","epcisBody":{"eventList":[{"type":"ObjectEvent","action":"OBSERVE","eventTime":"2026-01-01T00:00:00Z","epcList":["` + palletSSCC + `"],"disposition":"in_transit"}` + extra + `]}}`
	}
	for _, tc := range []struct {
		name, doc, reason, detail string
	}{
		{"not json", `{"type":`, ReasonMalformed, "JSON"},
		{"no context", `{"type":"EPCISDocument","epcisBody":{"eventList":[]}}`, ReasonContext, "no @context"},
		{"epcis 1.2 context", `{"@context":"urn:epcglobal:epcis:xsd:1","type":"EPCISDocument","epcisBody":{"eventList":[]}}`, ReasonContext, "EPCIS 2.0"},
		{"custos prefix elsewhere", `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",{"custos":"https://evil.example/"}],"type":"EPCISDocument","epcisBody":{"eventList":[]}}`, ReasonContext, "custos"},
		{"no body", `{` + ctx + `,"type":"EPCISDocument"}`, ReasonMalformed, "epcisBody"},
		{"query document", `{` + ctx + `,"type":"EPCISQueryDocument"}`, ReasonUnsupported, "EPCISQueryDocument"},
		{"unknown identifier in a later event", ev(`,{"type":"ObjectEvent","action":"OBSERVE","eventTime":"2026-01-01T00:00:00Z","epcList":["urn:epc:id:sscc:4012345.0000000099"]}`), ReasonUnknownIdentifier, "not mapped"},
		{"location as epc", ev(`,{"type":"ObjectEvent","action":"OBSERVE","eventTime":"2026-01-01T00:00:00Z","epcList":["urn:epc:id:sgln:4012345.00001.0"]}`), ReasonUnknownIdentifier, "sgln"},
		{"bad eventTime", ev(`,{"type":"ObjectEvent","action":"OBSERVE","eventTime":"yesterday","epcList":["` + palletSSCC + `"]}`), ReasonMalformed, "eventTime"},
		{"no eventTime", ev(`,{"type":"ObjectEvent","action":"OBSERVE","epcList":["` + palletSSCC + `"]}`), ReasonMalformed, "eventTime"},
		{"bad action", ev(`,{"type":"ObjectEvent","action":"MOVE","eventTime":"2026-01-01T00:00:00Z","epcList":["` + palletSSCC + `"]}`), ReasonMalformed, "action"},
		{"error declaration", ev(`,{"type":"ObjectEvent","action":"OBSERVE","eventTime":"2026-01-01T00:00:00Z","epcList":["` + palletSSCC + `"],"errorDeclaration":{"declarationTime":"2026-01-02T00:00:00Z"}}`), ReasonUnsupported, "errorDeclaration"},
		{"string value", ev(`,{"type":"ObjectEvent","action":"OBSERVE","eventTime":"2026-01-01T00:00:00Z","epcList":["` + palletSSCC + `"],"sensorElementList":[{"sensorReport":[{"type":"Temperature","value":"5"}]}]}`), ReasonMalformed, "string"},
		{"delete without children", ev(`,{"type":"AggregationEvent","action":"DELETE","eventTime":"2026-01-01T00:00:00Z","parentID":"` + palletSSCC + `"}`), ReasonUnsupported, "childEPCs"},
		{"event time out of range", ev(`,{"type":"ObjectEvent","action":"OBSERVE","eventTime":"1970-01-01T00:00:00Z","epcList":["` + palletSSCC + `"],"disposition":"in_transit"}`), ReasonInvalidEvent, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Capture([]byte(tc.doc), r)
			var de *DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("plan %+v, err %v; want a DocumentError", p, err)
			}
			if de.Reason != tc.reason || !strings.Contains(de.Error(), tc.detail) {
				t.Errorf("%v; want reason %s mentioning %q", de, tc.reason, tc.detail)
			}
		})
	}
}

func TestCaptureCustosCreate(t *testing.T) {
	doc := `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",{"custos":"https://custos.dev/epcis/"}],
	"type":"EPCISDocument","epcisBody":{"eventList":[
	{"type":"ObjectEvent","action":"ADD","eventTime":"2026-01-01T00:00:00Z","epcList":["` + palletSSCC + `"],"bizStep":"commissioning",
	 "custos:twin":"pallet-9","custos:create":{"kind":"pallet","params":{"max_c":8},"custodian":"acme"},"custos:contract":{"name":"coldchain","version":"1.0.0"}},
	{"type":"ObjectEvent","action":"OBSERVE","eventTime":"2026-01-01T00:01:00Z","epcList":["` + palletSSCC + `"],"sensorElementList":[{"sensorReport":[{"type":"custos:Door","value":1}]}]}]}}`
	p, err := Capture([]byte(doc), fakeResolver{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Mappings) != 1 || p.Mappings[0].Twin != "pallet-9" || len(p.Twins) != 0 || len(p.Messages) != 2 {
		t.Fatalf("plan %+v", p)
	}
	in, err := twin.ParseCommand("pallet-9", p.Messages[0].Data, time.Time{})
	if err != nil || in.Create == nil || in.Events[0].Field(1) != `{"max_c":8}` {
		t.Fatalf("create %s: %v", p.Messages[0].Data, err)
	}
	// Without the custos prefix bound, custos terms are not ours: the
	// identifier is unknown.
	plain := strings.Replace(doc, `,{"custos":"https://custos.dev/epcis/"}`, "", 1)
	if _, err := Capture([]byte(plain), fakeResolver{}); err == nil || !strings.Contains(err.Error(), ReasonUnknownIdentifier) {
		t.Errorf("unbound custos terms: %v", err)
	}
}

func FuzzCapture(f *testing.F) {
	for _, n := range []string{"sensors.jsonld", "aggregation.jsonld"} {
		b, err := os.ReadFile("testdata/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	r := resolver(f, map[string]string{palletSSCC: "pallet-42", "urn:epc:id:sgtin:4012345.011111.1001": "case-1",
		"urn:epc:id:sgtin:4012345.011111.1002": "case-2", "urn:epc:id:sgtin:4012345.011111.1003": "case-3"})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Capture(data, r)
		if err != nil {
			var de *DocumentError
			if !errors.As(err, &de) || de.Reason == "" {
				t.Fatalf("error %v is not a DocumentError with a reason", err)
			}
			return
		}
		// Whatever is accepted, the runtime's own parsers accept too.
		n := 0
		for _, m := range p.Messages {
			switch {
			case strings.HasPrefix(m.Subject, "custos.telemetry."):
				evs, err := twin.ParseTelemetry(m.Data, time.Time{})
				if err != nil {
					t.Fatalf("telemetry %s: %v", m.Data, err)
				}
				n += len(evs)
			case strings.HasPrefix(m.Subject, "custos.command."):
				if _, err := twin.ParseCommand(m.Twin, m.Data, time.Time{}); err != nil {
					t.Fatalf("command %s: %v", m.Data, err)
				}
			default:
				t.Fatalf("subject %s", m.Subject)
			}
			if !json.Valid(m.Data) || m.MsgID == "" {
				t.Fatal("bad message")
			}
		}
		if n != p.Readings {
			t.Fatalf("%d readings, plan says %d", n, p.Readings)
		}
	})
}
