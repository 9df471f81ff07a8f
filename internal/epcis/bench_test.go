package epcis

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// benchDocument is an EPCISDocument of events with 60 temperature reports
// each, over 20 mapped cases, of about size bytes.
func benchDocument(tb testing.TB, size int) ([]byte, fakeResolver, int) {
	m := map[string]string{}
	for i := 0; i < 20; i++ {
		m[fmt.Sprintf("urn:epc:id:sgtin:4012345.011111.%d", 2000+i)] = fmt.Sprintf("case-%d", i)
	}
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var evs []any
	n, readings := 0, 0
	for k := 0; n < size; k++ {
		base := day.Add(time.Duration(k/20*60) * time.Minute)
		reps := make([]any, 60)
		for j := range reps {
			reps[j] = map[string]any{"type": "Temperature", "value": 4 + float64((k+j)%40)/10, "uom": "CEL", "time": base.Add(time.Duration(j) * time.Minute).Format(time.RFC3339)}
		}
		ev := map[string]any{"type": "ObjectEvent", "eventID": fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", k),
			"eventTime": base.Format(time.RFC3339), "eventTimeZoneOffset": "+00:00", "action": "OBSERVE",
			"epcList":           []string{fmt.Sprintf("urn:epc:id:sgtin:4012345.011111.%d", 2000+k%20)},
			"sensorElementList": []any{map[string]any{"sensorMetadata": map[string]any{"deviceID": "urn:epc:id:giai:4000001.9"}, "sensorReport": reps}}}
		b, _ := json.Marshal(ev)
		n += len(b)
		readings += 60
		evs = append(evs, ev)
	}
	doc, _ := json.Marshal(map[string]any{"@context": ContextURI, "type": "EPCISDocument", "epcisBody": map[string]any{"eventList": evs}})
	return doc, resolver(tb, m), readings
}

func BenchmarkCapture(b *testing.B) {
	doc, r, readings := benchDocument(b, 1<<20)
	b.SetBytes(int64(len(doc)))
	b.ResetTimer()
	for b.Loop() {
		p, err := Capture(doc, r)
		if err != nil || p.Readings != readings {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(readings)*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}
