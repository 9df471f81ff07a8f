package epcis

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/internal/epcis/validate"
	"github.com/custos-dev/custos/twin"
)

// history builds records of every kind for one twin (digests are not
// checked by Export; they only have to be carried).
func history(t *testing.T, id string) History {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	evs := []twin.Event{
		{Kind: twin.KindCreate, Fields: []string{"pallet", `{"max_c":8}`, "acme gmbh", ""}},
		{Kind: twin.KindReading, Type: twin.TypeTemperature, Value: 4.25, Fields: []string{"t1", "CEL"}},
		{Kind: twin.KindReading, Type: twin.TypeHumidity, Value: 61, Fields: []string{"urn:epc:id:giai:4000001.222", "%RH"}},
		{Kind: twin.KindReading, Type: twin.TypeShock, Value: 2.5, Fields: []string{"acc 1", "g"}},
		{Kind: twin.KindReading, Type: twin.TypeDoor, Value: 1, Fields: []string{"door", ""}},
		{Kind: twin.KindReading, Type: twin.TypeLocation, Value: 52.37, Value2: 4.89, Fields: []string{"gps", "deg"}},
		{Kind: twin.KindReading, Type: twin.TypeBattery, Value: 80, Fields: []string{"", "%"}},
		{Kind: twin.KindReading, Type: twin.TypeLight, Value: 300, Fields: []string{"l", "lx"}},
		{Kind: twin.KindReading, Type: twin.TypeTilt, Value: 12, Fields: []string{"l", "rad"}},
		{Kind: twin.KindCustody, Fields: []string{"acme gmbh", "urn:epc:id:pgln:4055555.00000"}},
		{Kind: twin.KindStatus, Fields: []string{"in_transit"}},
		{Kind: twin.KindAggregate, Fields: []string{"case-1", "case-2"}},
		{Kind: twin.KindTimer, Fields: []string{"budget"}},
		{Kind: twin.KindDisaggregate, Fields: []string{"case-1"}},
		{Kind: twin.KindStatus, Fields: []string{"delivered"}},
		{Kind: twin.KindStatus, Fields: []string{"closed"}},
	}
	h := History{Twin: &twin.Twin{ID: id, Contract: twin.ContractRef{Name: "coldchain", Version: "1.0.0", SHA256: twin.Hash{9}}}}
	for i := range evs {
		e := &evs[i]
		e.Seq = uint64(i + 1)
		e.Time = t0.Add(time.Duration(i) * time.Minute)
		enc, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		h.Records = append(h.Records, twin.Record{Twin: id, Seq: e.Seq, Time: e.Time, RecordTime: e.Time.Add(time.Hour), Kind: e.Kind, Event: enc,
			EventHash: twin.Hash{byte(i)}, StateHash: twin.Hash{2}, Module: twin.Hash{9}, Digest: twin.Hash{byte(i), 7}})
	}
	h.Alerts = []twin.Alert{
		{Twin: id, N: 1, Seq: 2, Severity: "warning", Code: "excursion_started", Time: t0},
		{Twin: id, N: 2, Seq: 13, Severity: "critical", Code: "budget_exceeded", Time: t0},
	}
	return h
}

func TestExport(t *testing.T) {
	h := history(t, "pallet-1")
	doc, err := Export([]History{h}, ExportOptions{Created: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	evs := doc.Body.EventList
	if len(evs) != len(h.Records) {
		t.Fatalf("%d events for %d records", len(evs), len(h.Records))
	}
	s := string(data)
	for _, want := range []string{`"exception": "ALARM_CONDITION"`, `"type": "AggregationEvent"`, `"bizStep": "commissioning"`,
		`"custos:digest": "0x0107`, `"recordTime": "2026-03-01T09:00:00Z"`, `"uom": "CEL"`, `"uom": "P1"`, `"disposition": "in_transit"`, `"custos:code"`} {
		if want == `"custos:code"` {
			want = `"code": "budget_exceeded"`
		}
		if !strings.Contains(s, want) {
			t.Errorf("export lacks %s", want)
		}
	}
	// Capture of the export gives back the same events, byte for byte
	// (custody's "from" and timers are filled in by the runtime).
	r := fakeResolver{}
	p, err := Capture(data, r)
	if err != nil {
		t.Fatal(err)
	}
	var got []twin.Event
	for _, m := range p.Messages {
		if strings.HasPrefix(m.Subject, "custos.telemetry.") {
			evs, err := twin.ParseTelemetry(m.Data, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, evs...)
			continue
		}
		in, err := twin.ParseCommand(m.Twin, m.Data, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, in.Events...)
	}
	var want []twin.Event
	for _, rec := range h.Records {
		var e twin.Event
		if err := e.UnmarshalBinary(rec.Event); err != nil {
			t.Fatal(err)
		}
		if e.Kind == twin.KindTimer {
			continue
		}
		if e.Kind == twin.KindCustody {
			e.Fields[0] = ""
		}
		e.Seq = 0
		want = append(want, e)
	}
	if len(got) != len(want) {
		t.Fatalf("%d events back, want %d", len(got), len(want))
	}
	for i := range want {
		a, _ := want[i].MarshalBinary()
		b, _ := got[i].MarshalBinary()
		if string(a) != string(b) {
			t.Errorf("event %d: exported %+v, captured back %+v", i, want[i], got[i])
		}
	}
	if len(p.Refused) != 0 {
		t.Errorf("refused %+v", p.Refused)
	}
	docs := map[string][]byte{"export.jsonld": data}
	fixtures, _ := filepath.Glob("testdata/*.jsonld")
	for _, f := range fixtures {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[filepath.Base(f)] = b
	}
	validate.Documents(t, docs)
}
