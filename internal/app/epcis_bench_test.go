package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/epcis"
	"github.com/custos-dev/custos/internal/epcis/exchange"
	"github.com/custos-dev/custos/twin"
)

// TestEPCISCaptureThroughput measures capture of a ~10 MB document against
// the same readings published as telemetry batches, in one run (figures in
// docs/performance.md). Run with CUSTOS_EPCIS_BENCH=1.
func TestEPCISCaptureThroughput(t *testing.T) {
	if os.Getenv("CUSTOS_EPCIS_BENCH") == "" {
		t.Skip("set CUSTOS_EPCIS_BENCH=1 to measure EPCIS capture throughput")
	}
	const twins, perEvent = 20, 60
	a := start(t, t.TempDir())
	defer a.Close()
	_, js := client(t, a)
	ids := map[string]string{}
	for i := 0; i < twins; i++ {
		createAt(t, a, fmt.Sprintf("e-%d", i), "case", loggerDay.Add(-time.Hour))
		createAt(t, a, fmt.Sprintf("n-%d", i), "case", loggerDay.Add(-time.Hour))
		ids[fmt.Sprintf(sgtinCase, 2000+i)] = fmt.Sprintf("e-%d", i)
	}
	if code, body := httpDo(t, a, "PUT", "/v1/epcis/identifiers", map[string]any{"identifiers": ids}); code != http.StatusOK {
		t.Fatalf("identifiers: %d %s", code, body)
	}
	// The document: events of perEvent per-minute reports, round robin over
	// the twins, until 10 MB.
	var evs []any
	var batches [][]byte // the same readings as telemetry batches, per event
	var subjects []string
	size, readings := 0, 0
	for k := 0; size < 10<<20; k++ {
		i := k % twins
		base := loggerDay.Add(time.Duration(k/twins*perEvent) * time.Minute)
		reps := make([]any, perEvent)
		rs := make([]any, perEvent)
		for m := range reps {
			ts := base.Add(time.Duration(m) * time.Minute).Format(time.RFC3339)
			v := 4 + float64((k+m)%40)/10
			reps[m] = map[string]any{"type": "Temperature", "value": v, "uom": "CEL", "time": ts}
			rs[m] = map[string]any{"ts": ts, "sensor": "urn:epc:id:giai:4000001.9", "type": "temperature", "value": v, "unit": "CEL"}
		}
		ev := map[string]any{"type": "ObjectEvent", "eventID": fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", k),
			"eventTime": base.Add(perEvent * time.Minute).Format(time.RFC3339), "eventTimeZoneOffset": "+00:00", "action": "OBSERVE",
			"bizStep": "sensor_reporting", "epcList": []string{fmt.Sprintf(sgtinCase, 2000+i)},
			"sensorElementList": []any{map[string]any{"sensorMetadata": map[string]any{"deviceID": "urn:epc:id:giai:4000001.9"}, "sensorReport": reps}}}
		b, _ := json.Marshal(ev)
		size += len(b)
		evs = append(evs, ev)
		batches = append(batches, must(json.Marshal(map[string]any{"readings": rs})))
		subjects = append(subjects, fmt.Sprintf("custos.telemetry.n-%d", i))
		readings += perEvent
	}
	doc := must(json.Marshal(map[string]any{"@context": epcis.ContextURI, "type": "EPCISDocument", "schemaVersion": "2.0",
		"creationDate": loggerDay.Format(time.RFC3339), "epcisBody": map[string]any{"eventList": evs}}))

	// 1. Parse and validate only (the pure mapping).
	res := resolverFor(t, ids)
	t0 := time.Now()
	plan, err := epcis.Capture(doc, res)
	if err != nil || plan.Readings != readings {
		t.Fatalf("plan: %v", err)
	}
	parse := time.Since(t0)

	// 2. Telemetry over NATS, the same readings: publish and wait until applied.
	t0 = time.Now()
	futures := make([]jetstream.PubAckFuture, len(batches))
	for k := range batches {
		if futures[k], err = js.PublishAsync(subjects[k], batches[k]); err != nil {
			t.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	perTwin := len(batches) / twins
	for i := 0; i < twins; i++ {
		n := perTwin
		if i < len(batches)%twins {
			n++
		}
		waitTwin(t, a, fmt.Sprintf("n-%d", i), func(tw *twin.Twin) bool { return tw.Seq >= uint64(1+n*perEvent) })
	}
	natsDur := time.Since(t0)

	// 3. EPCIS capture over HTTP until the job has finished.
	t0 = time.Now()
	code, body := postRaw(t, a, "/v1/epcis/capture?wait=5m", doc)
	var job exchange.Job
	if err := json.Unmarshal(body, &job); err != nil || code != http.StatusOK || !job.Success {
		t.Fatalf("capture: %d %.500s", code, body)
	}
	capDur := time.Since(t0)

	rate := func(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }
	t.Logf("document %.1f MB, %d events, %d readings, %d twins (2 cores shared with other work: ratios matter)", float64(len(doc))/(1<<20), len(evs), readings, twins)
	t.Logf("parse+validate: %v = %.0f events/s, %.0f readings/s", parse, rate(len(evs), parse), rate(readings, parse))
	t.Logf("EPCIS capture (HTTP, applied): %v = %.0f events/s, %.0f readings/s", capDur, rate(len(evs), capDur), rate(readings, capDur))
	t.Logf("same readings as telemetry batches (NATS, applied): %v = %.0f readings/s", natsDur, rate(readings, natsDur))
	t.Logf("EPCIS capture / NATS telemetry throughput: %.2f", natsDur.Seconds()/capDur.Seconds())
}

type mapResolver map[epcis.Key]string

func (m mapResolver) Twin(k epcis.Key) (string, bool) { id, ok := m[k]; return id, ok }
func (m mapResolver) Policy(string, string) (twin.ContractRef, error) {
	return twin.ContractRef{}, fmt.Errorf("no policies here")
}

func resolverFor(t *testing.T, ids map[string]string) mapResolver {
	r := mapResolver{}
	for epc, id := range ids {
		k, err := epcis.ParseKey(epc)
		if err != nil {
			t.Fatal(err)
		}
		r[k] = id
	}
	return r
}
