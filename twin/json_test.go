package twin

import (
	"encoding/json"
	"testing"
	"time"
)

// plainAlert is encoding/json's view of an Alert, without its MarshalJSON.
type plainAlert Alert

func TestAlertJSONMatchesEncodingJSON(t *testing.T) {
	for _, a := range []Alert{
		{Twin: "PAL-1", N: 3, Seq: 42, Severity: SeverityWarning, Code: "excursion_started", Message: "9.5 °C above 8 <max> & \"quoted\"\n", Time: t0.Add(1500 * time.Millisecond)},
		{Twin: "X", Time: time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600))},
		{},
	} {
		want, err := json.Marshal((*plainAlert)(&a))
		if err != nil {
			t.Fatal(err)
		}
		if got := must(json.Marshal(&a)); string(got) != string(want) {
			t.Fatalf("json.Marshal(alert):\n%s\nencoding/json:\n%s", got, want)
		}
	}
}

// FuzzAlertJSON checks the hand-written alert JSON against encoding/json:
// codes and messages come from contracts, which may return any bytes.
func FuzzAlertJSON(f *testing.F) {
	f.Add("PAL-1", uint64(1), uint64(2), "warning", "excursion_started", "9.5 °C", int64(0))
	f.Add("A", uint64(0), uint64(0), "", "\x00\xff", "<\u2028>&\"\\", int64(-1))
	f.Fuzz(func(t *testing.T, id string, n, seq uint64, sev, code, msg string, ns int64) {
		a := Alert{Twin: id, N: n, Seq: seq, Severity: sev, Code: code, Message: msg, Time: time.Unix(0, ns).UTC()}
		want, err := json.Marshal((*plainAlert)(&a))
		if err != nil {
			t.Skip(err) // a time encoding/json refuses; Unix nanoseconds never give one
		}
		if got := a.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("AppendJSON:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}

func BenchmarkAlertJSON(b *testing.B) {
	a := Alert{Twin: "PAL-000123", N: 17, Seq: 4711, Severity: SeverityWarning, Code: "excursion_started", Message: "9.52 °C, above 8", Time: t0}
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = a.AppendJSON(buf[:0])
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal((*plainAlert)(&a)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
