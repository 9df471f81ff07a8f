package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/epcis/exchange"
	"github.com/custos-dev/custos/internal/epcis/validate"
	"github.com/custos-dev/custos/twin"
)

// The logger day is in the past: it is captured after the fact, and the
// coldchain "budget" timer fires by event time, so the verdicts are those of
// live streaming.
var loggerDay = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// loggerTempF is the pallet logger's reading at minute m of the day, in °F:
// 41 °F (5 °C) in band, 49.1 °F (9.5 °C) from 10:00 to 10:20 (an
// excursion within the 30 min budget) and from 15:00 to 16:00 (over it).
func loggerTempF(m int) float64 {
	switch {
	case m >= 600 && m < 620, m >= 900 && m < 960:
		return 49.1
	case m%60 == 30:
		return 42.8 // 6 °C
	}
	return 41
}

const (
	sgtinCase = "urn:epc:id:sgtin:4012345.011111.%d"
	ssccPal   = "urn:epc:id:sscc:4012345.0000000077"
)

// manufacturerDocument is the manufacturer's EPCIS document for a pallet
// of six cases: commissioning, packing, shipping to a carrier, a day of
// logger data (one ObjectEvent per hour naming the six cases, a report
// every 5 minutes with its own time, °F), arrival.
func manufacturerDocument() []byte {
	var cases []string
	for i := 1; i <= 6; i++ {
		cases = append(cases, fmt.Sprintf(sgtinCase, 1000+i))
	}
	at := func(m int) string { return loggerDay.Add(time.Duration(m) * time.Minute).Format(time.RFC3339) }
	evs := []map[string]any{
		{"type": "ObjectEvent", "eventID": "urn:uuid:00000000-0000-4000-8000-000000000001", "eventTime": at(-120), "eventTimeZoneOffset": "+00:00",
			"action": "ADD", "bizStep": "commissioning", "disposition": "active", "epcList": cases},
		{"type": "AggregationEvent", "eventID": "urn:uuid:00000000-0000-4000-8000-000000000002", "eventTime": at(-60), "eventTimeZoneOffset": "+00:00",
			"action": "ADD", "bizStep": "packing", "parentID": ssccPal, "childEPCs": cases},
		{"type": "ObjectEvent", "eventID": "urn:uuid:00000000-0000-4000-8000-000000000003", "eventTime": at(-1), "eventTimeZoneOffset": "+00:00",
			"action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit", "epcList": append([]string{ssccPal}, cases...),
			"destinationList": []any{map[string]string{"type": "possessing_party", "destination": "urn:epc:id:pgln:4055555.00000"}}},
	}
	for h := 0; h < 24; h++ {
		var reps []any
		for m := h * 60; m < h*60+60; m += 5 {
			reps = append(reps, map[string]any{"type": "Temperature", "value": loggerTempF(m), "uom": "FAH", "time": at(m)})
		}
		evs = append(evs, map[string]any{"type": "ObjectEvent", "eventID": fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-1000000000%02d", h),
			"eventTime": at(h*60 + 59), "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "sensor_reporting",
			"epcList":           cases,
			"sensorElementList": []any{map[string]any{"sensorMetadata": map[string]any{"deviceID": "urn:epc:id:giai:4000001.9"}, "sensorReport": reps}}})
	}
	evs = append(evs, map[string]any{"type": "ObjectEvent", "eventID": "urn:uuid:00000000-0000-4000-8000-000000000004", "eventTime": at(24 * 60),
		"eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "receiving", "disposition": "in_progress", "epcList": append([]string{ssccPal}, cases...)})
	doc := map[string]any{"@context": []any{"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"}, "type": "EPCISDocument",
		"schemaVersion": "2.0", "creationDate": at(24*60 + 60), "epcisBody": map[string]any{"eventList": evs}}
	b, _ := json.Marshal(doc)
	return b
}

func createAt(t *testing.T, a *app.App, id, kind string, ts time.Time) {
	t.Helper()
	code, body := httpDo(t, a, "POST", "/v1/twins", map[string]any{"id": id, "kind": kind, "policy": "coldchain",
		"params": json.RawMessage(`{"min_c":2,"max_c":8,"excursion_budget_s":1800}`), "custodian": "urn:epc:id:pgln:4012345.00000", "ts": ts.Format(time.RFC3339)})
	if code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", id, code, body)
	}
}

func postRaw(t *testing.T, a *app.App, path string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post("http://"+a.HTTPAddr+path, "application/ld+json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func alertsOf(t *testing.T, a *app.App, id string) []twin.Alert {
	t.Helper()
	as, err := a.Store.Alerts(context.Background(), twin.AlertQuery{Twin: id, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// TestEPCISColdChainScenario captures a manufacturer's document after the
// fact and streams the same readings and commands over NATS into a twin
// set of their own: alerts, statuses and views are the same. Then the
// document again (applies once), a refused document (nothing applied),
// the export (valid EPCIS per epcis2.js) and the round trip into a fresh
// custos (same states and digests).
func TestEPCISColdChainScenario(t *testing.T) {
	a := start(t, t.TempDir())
	defer a.Close()
	_, js := client(t, a)

	ids := map[string]string{ssccPal: "e-pallet"}
	createAt(t, a, "e-pallet", "pallet", loggerDay.Add(-3*time.Hour))
	createAt(t, a, "n-pallet", "pallet", loggerDay.Add(-3*time.Hour))
	for i := 1; i <= 6; i++ {
		createAt(t, a, fmt.Sprintf("e-case-%d", i), "case", loggerDay.Add(-3*time.Hour))
		createAt(t, a, fmt.Sprintf("n-case-%d", i), "case", loggerDay.Add(-3*time.Hour))
		ids[fmt.Sprintf(sgtinCase, 1000+i)] = fmt.Sprintf("e-case-%d", i)
	}
	code, body := httpDo(t, a, "PUT", "/v1/epcis/identifiers", map[string]any{"identifiers": ids})
	if code != http.StatusOK {
		t.Fatalf("identifiers: %d %s", code, body)
	}

	// A document naming an unmapped case in its last event is refused
	// whole: nothing of its first events applies.
	doc := manufacturerDocument()
	bad := bytes.Replace(doc, []byte(`"bizStep":"receiving","disposition":"in_progress","epcList":["`+ssccPal+`"`),
		[]byte(`"bizStep":"receiving","disposition":"in_progress","epcList":["urn:epc:id:sscc:4012345.0000000088"`), 1)
	if bytes.Equal(bad, doc) {
		t.Fatal("test document has no receiving event to spoil")
	}
	code, body = postRaw(t, a, "/v1/epcis/capture", bad)
	if code != http.StatusBadRequest || !strings.Contains(string(body), `"code":"unknown_identifier"`) || !strings.Contains(string(body), "0000000088") {
		t.Fatalf("bad document: %d %s", code, body)
	}
	if tw, _ := a.Store.Twin(context.Background(), "e-pallet"); tw.Seq != 1 {
		t.Fatalf("refused document applied something: e-pallet at seq %d", tw.Seq)
	}

	// Capture after the fact, waiting for the job.
	code, body = postRaw(t, a, "/v1/epcis/capture?wait=60s", doc)
	var job exchange.Job
	if err := json.Unmarshal(body, &job); err != nil || code != http.StatusOK || job.Running || !job.Success {
		t.Fatalf("capture: %d %s", code, body)
	}
	if job.Events != 28 || job.Captured != 27 || job.Ignored != 1 || job.Readings != 24*12*6 {
		t.Fatalf("capture job %+v", job)
	}

	// The same over NATS, as devices and an operator would send it.
	pub := func(subj string, v any) { publish(t, js, subj, must(json.Marshal(v))) }
	cases := []string{}
	for i := 1; i <= 6; i++ {
		cases = append(cases, fmt.Sprintf("n-case-%d", i))
	}
	at := func(m int) string { return loggerDay.Add(time.Duration(m) * time.Minute).Format(time.RFC3339) }
	pub("custos.command.n-pallet", map[string]any{"type": "aggregate", "ts": at(-60), "children": cases})
	for _, id := range append([]string{"n-pallet"}, cases...) {
		pub("custos.command."+id, map[string]any{"type": "custody", "ts": at(-1), "to": "urn:epc:id:pgln:4055555.00000"})
		pub("custos.command."+id, map[string]any{"type": "status", "ts": at(-1), "status": "in_transit"})
	}
	for _, id := range cases {
		for h := 0; h < 24; h++ {
			var rs []any
			for m := h * 60; m < h*60+60; m += 5 {
				rs = append(rs, map[string]any{"ts": at(m), "sensor": "urn:epc:id:giai:4000001.9", "type": "temperature", "value": loggerTempF(m), "unit": "FAH"})
			}
			pub("custos.telemetry."+id, map[string]any{"readings": rs})
		}
	}
	for _, id := range append([]string{"n-pallet"}, cases...) {
		pub("custos.command."+id, map[string]any{"type": "status", "ts": at(24 * 60), "status": "delivered"})
	}
	for i := 1; i <= 6; i++ {
		e, err := a.Store.Twin(context.Background(), fmt.Sprintf("e-case-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		n := waitTwin(t, a, fmt.Sprintf("n-case-%d", i), func(tw *twin.Twin) bool { return tw.Seq >= e.Seq })
		if n.Seq != e.Seq || n.Status != e.Status || n.Custodian != e.Custodian || string(n.View) != string(e.View) {
			t.Errorf("case %d: EPCIS %d %s %s %s; NATS %d %s %s %s", i, e.Seq, e.Status, e.Custodian, e.View, n.Seq, n.Status, n.Custodian, n.View)
		}
		ea, na := alertsOf(t, a, e.ID), alertsOf(t, a, n.ID)
		codes := []string{}
		for _, x := range ea {
			codes = append(codes, x.Code)
		}
		if got := strings.Join(codes, ","); got != "excursion_started,excursion_ended,excursion_started,budget_exceeded,excursion_ended" {
			t.Errorf("case %d alerts %s", i, got)
		}
		if len(ea) != len(na) {
			t.Fatalf("case %d: %d alerts by EPCIS, %d by NATS", i, len(ea), len(na))
		}
		for k := range ea {
			x, y := ea[k], na[k]
			x.Twin, y.Twin = "", ""
			if x != y {
				t.Errorf("case %d alert %d: EPCIS %+v, NATS %+v", i, k, x, y)
			}
		}
		if e.Status != twin.StatusCompromised {
			t.Errorf("case %d status %s", i, e.Status)
		}
	}
	pal := waitTwin(t, a, "e-pallet", func(tw *twin.Twin) bool { return tw.Status == twin.StatusDelivered })
	if len(pal.Children) != 6 || pal.Custodian != "urn:epc:id:pgln:4055555.00000" {
		t.Errorf("pallet %+v", pal)
	}

	// The same document again applies once: every event is a duplicate.
	before, _ := a.Store.Twin(context.Background(), "e-case-1")
	code, body = postRaw(t, a, "/v1/epcis/capture?wait=60s", doc)
	if err := json.Unmarshal(body, &job); err != nil || code != http.StatusOK || job.Duplicates != 27 || job.Messages != 0 {
		t.Fatalf("second capture: %d %s", code, body)
	}
	if tw, _ := a.Store.Twin(context.Background(), "e-case-1"); tw.Seq != before.Seq || tw.Digest != before.Digest {
		t.Fatalf("second capture changed e-case-1: seq %d → %d", before.Seq, tw.Seq)
	}

	// Over NATS: a request on custos.epcis.capture is answered with the job.
	nc, _ := client(t, a)
	single := fmt.Sprintf(`{"@context":"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld","type":"ObjectEvent","eventID":"urn:uuid:00000000-0000-4000-8000-000000000009",
		"eventTime":%q,"eventTimeZoneOffset":"+00:00","action":"OBSERVE","epcList":[%q],"sensorElementList":[{"sensorReport":[{"type":"RelativeHumidity","value":48,"uom":"P1","time":%q}]}]}`,
		at(24*60+5), ssccPal, at(24*60+5))
	msg, err := nc.Request(exchange.CaptureSubject, []byte(single), 10*time.Second)
	if err != nil || !strings.Contains(string(msg.Data), `"captured":1`) {
		t.Fatalf("capture over nats: %v %s", err, msg.Data)
	}
	waitTwin(t, a, "e-pallet", func(tw *twin.Twin) bool { return tw.Seq == pal.Seq+1 })

	// Export: one twin and the fleet, each a valid EPCIS 2.0 document.
	code, one := httpDo(t, a, "GET", "/v1/twins/e-case-3/epcis", nil)
	if code != http.StatusOK || !strings.Contains(string(one), `"exception":"ALARM_CONDITION"`) || !strings.Contains(string(one), fmt.Sprintf(sgtinCase, 1003)) {
		t.Fatalf("export: %d %.300s", code, one)
	}
	code, fleet := httpDo(t, a, "GET", "/v1/epcis/events", nil)
	if code != http.StatusOK {
		t.Fatalf("fleet export: %d %.300s", code, fleet)
	}
	validate.Documents(t, map[string][]byte{"twin.jsonld": one, "fleet.jsonld": fleet, "manufacturer.jsonld": doc})

	// Round trip: the fleet export captured into a fresh custos gives the
	// same twins, states and digests.
	b := start(t, t.TempDir())
	defer b.Close()
	code, body = postRaw(t, b, "/v1/epcis/capture?wait=120s", fleet)
	if err := json.Unmarshal(body, &job); err != nil || code != http.StatusOK || !job.Success {
		t.Fatalf("round trip capture: %d %.2000s", code, body)
	}
	want, err := a.Store.Twins(context.Background(), twin.TwinQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		g, err := b.Store.Twin(context.Background(), w.ID)
		if err != nil {
			t.Fatalf("twin %s not recreated: %v", w.ID, err)
		}
		if g.Digest != w.Digest || g.Seq != w.Seq || g.Status != w.Status || g.Custodian != w.Custodian ||
			string(g.View) != string(w.View) || fmt.Sprint(g.Children) != fmt.Sprint(w.Children) || g.Alerts != w.Alerts {
			t.Errorf("twin %s after the round trip:\n got  %+v\n want %+v", w.ID, g, w)
		}
	}
	if len(want) != 14 {
		t.Errorf("%d twins", len(want))
	}

	// What the runtime refuses after validation is reported by the job:
	// readings for a twin closed by the event before them are dead letters.
	closing := fmt.Sprintf(`{"@context":"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld","type":"EPCISDocument","epcisBody":{"eventList":[
		{"type":"ObjectEvent","eventTime":%q,"action":"OBSERVE","bizStep":"decommissioning","epcList":[%q]},
		{"type":"ObjectEvent","eventTime":%q,"action":"OBSERVE","epcList":[%q],"sensorElementList":[{"sensorReport":[{"type":"Temperature","value":5,"uom":"CEL"}]}]}]}}`,
		at(26*60), ssccPal, at(26*60+1), ssccPal)
	code, body = postRaw(t, a, "/v1/epcis/capture?wait=60s", []byte(closing))
	if err := json.Unmarshal(body, &job); err != nil || code != http.StatusOK || job.Success || len(job.Errors) != 1 ||
		job.Errors[0].Reason != "twin_closed" || job.Errors[0].Twin != "e-pallet" || job.Errors[0].Event != 1 {
		t.Fatalf("closing capture: %d %s", code, body)
	}

	// Refusals at the door.
	for _, tc := range []struct {
		method, path, ctype, body string
		code                      int
		want                      string
	}{
		{"POST", "/v1/epcis/capture", "application/xml", "<epcis/>", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"POST", "/v1/epcis/capture", "application/json", `{"type":"EPCISDocument","@context":"urn:epcglobal:epcis:xsd:1"}`, http.StatusBadRequest, "wrong_context"},
		{"GET", "/v1/epcis/capture/nope", "", "", http.StatusNotFound, "not_found"},
		{"PUT", "/v1/epcis/identifiers", "application/json", `{"identifiers":{"urn:epc:id:sgln:4012345.00001.0":"e-pallet"}}`, http.StatusBadRequest, "unknown_identifier"},
		{"PUT", "/v1/epcis/identifiers", "application/json", `{"identifiers":{"urn:epc:id:sscc:4012345.0000000099":"no-such-twin"}}`, http.StatusBadRequest, "unknown_identifier"},
		{"GET", "/v1/epcis/identifiers?twin=e-case-2", "", "", http.StatusOK, "urn:epc:id:sgtin:4012345.011111.1002"},
		{"GET", "/v1/twins/nope/epcis", "", "", http.StatusNotFound, "not_found"},
		{"GET", "/v1/epcis/events?limit=2", "", "", http.StatusOK, "EPCISDocument"},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+a.HTTPAddr+tc.path, strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(data), tc.want) {
			t.Errorf("%s %s: %d %.300s; want %d %s", tc.method, tc.path, resp.StatusCode, data, tc.code, tc.want)
		}
		if strings.Contains(tc.path, "limit=2") && !strings.Contains(resp.Header.Get("Link"), "after=e-case-2") {
			t.Errorf("fleet page: Link %q", resp.Header.Get("Link"))
		}
	}
}
