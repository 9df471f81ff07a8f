package twin

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseTelemetry(t *testing.T) {
	fb := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		body   string
		reason Reason // "" = ok
		n      int
		check  func(t *testing.T, evs []Event)
	}{
		{name: "single", body: `{"ts":"2026-11-25T10:00:00Z","sensor":"t1","type":"temperature","value":5.1,"unit":"CEL"}`, n: 1,
			check: func(t *testing.T, evs []Event) {
				e := evs[0]
				if e.Type != TypeTemperature || e.Value != 5.1 || e.Field(0) != "t1" || e.Field(1) != "CEL" || !e.Time.Equal(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)) {
					t.Errorf("event = %+v", e)
				}
			}},
		{name: "batch", body: `{"readings":[{"type":"temperature","value":1},{"type":"humidity","value":50,"unit":"%RH"}]}`, n: 2,
			check: func(t *testing.T, evs []Event) {
				if !evs[0].Time.Equal(fb) {
					t.Errorf("missing ts should be the stream time, got %v", evs[0].Time)
				}
			}},
		{name: "fahrenheit", body: `{"type":"temperature","value":41,"unit":"FAH"}`, n: 1,
			check: func(t *testing.T, evs []Event) {
				if math.Abs(evs[0].Value-5) > 1e-9 || evs[0].Field(1) != "CEL" {
					t.Errorf("41 °F = %v %s, want 5 CEL", evs[0].Value, evs[0].Field(1))
				}
			}},
		{name: "location", body: `{"type":"location","lat":52.37,"lon":4.89}`, n: 1,
			check: func(t *testing.T, evs []Event) {
				if evs[0].Value != 52.37 || evs[0].Value2 != 4.89 {
					t.Errorf("location = %+v", evs[0])
				}
			}},
		{name: "door", body: `{"type":"door","value":1}`, n: 1},
		{name: "not json", body: `{"type":`, reason: ReasonInvalidJSON},
		{name: "array", body: `[1,2]`, reason: ReasonInvalidJSON},
		{name: "unknown type", body: `{"type":"radiation","value":1}`, reason: ReasonUnknownType},
		{name: "missing type", body: `{"value":1}`, reason: ReasonUnknownType},
		{name: "huge number", body: `{"type":"temperature","value":1e999}`, reason: ReasonInvalidValue},
		{name: "nan string", body: `{"type":"temperature","value":"NaN"}`, reason: ReasonInvalidValue},
		{name: "missing value", body: `{"type":"temperature"}`, reason: ReasonInvalidValue},
		{name: "bad unit", body: `{"type":"temperature","value":3,"unit":"parsec"}`, reason: ReasonInvalidValue},
		{name: "door 2", body: `{"type":"door","value":2}`, reason: ReasonInvalidValue},
		{name: "bad ts", body: `{"type":"temperature","value":3,"ts":"yesterday"}`, reason: ReasonInvalidValue},
		{name: "lat out of range", body: `{"type":"location","lat":91,"lon":0}`, reason: ReasonInvalidValue},
		{name: "empty batch", body: `{"readings":[]}`, reason: ReasonInvalidValue},
		{name: "bad reading in batch", body: `{"readings":[{"type":"temperature","value":1},{"type":"x","value":1}]}`, reason: ReasonUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := ParseTelemetry([]byte(tt.body), fb)
			if tt.reason != "" {
				ie, ok := err.(*InputError)
				if !ok || ie.Reason != tt.reason {
					t.Fatalf("err = %v, want reason %s", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != tt.n {
				t.Fatalf("%d events, want %d", len(evs), tt.n)
			}
			if tt.check != nil {
				tt.check(t, evs)
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		body   string
		reason Reason
		kind   EventKind
	}{
		{`{"type":"custody","to":"carrier-1"}`, "", KindCustody},
		{`{"type":"status","status":"in_transit"}`, "", KindStatus},
		{`{"type":"close"}`, "", KindStatus},
		{`{"type":"aggregate","children":["CASE-1","CASE-2"]}`, "", KindAggregate},
		{`{"type":"disaggregate","children":["CASE-1"]}`, "", KindDisaggregate},
		{`{"type":"create","kind":"pallet"}`, ReasonInvalidCommand, 0},
		{`{"type":"custody"}`, ReasonInvalidCommand, 0},
		{`{"type":"status","status":"created"}`, ReasonInvalidCommand, 0},
		{`{"type":"aggregate","children":["P-1"]}`, ReasonInvalidCommand, 0}, // itself
		{`{"type":"teleport"}`, ReasonInvalidCommand, 0},
		{`{"type":"custody","to":"x","extra":1}`, ReasonInvalidJSON, 0},
	}
	for _, tt := range tests {
		in, err := ParseCommand("P-1", []byte(tt.body), t0)
		if tt.reason != "" {
			if ie, ok := err.(*InputError); !ok || ie.Reason != tt.reason {
				t.Errorf("%s: err = %v, want %s", tt.body, err, tt.reason)
			}
			continue
		}
		if err != nil || len(in.Events) != 1 || in.Events[0].Kind != tt.kind {
			t.Errorf("%s: %+v %v", tt.body, in, err)
		}
	}
}

func TestEventEncodingRoundTrip(t *testing.T) {
	e := Event{Kind: KindReading, Type: TypeLocation, Time: t0, Seq: 42, Value: 52.1, Value2: -4.5, Fields: []string{"gps", "deg"}}
	b, err := e.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != e.EncodedLen() || len(b) != 40+4+3+4+3 {
		t.Fatalf("len = %d", len(b))
	}
	// Byte-exact header as ABI.md specifies.
	if b[0] != 1 || b[1] != 5 || b[4] != 2 || b[16] != 42 {
		t.Fatalf("header = % x", b[:40])
	}
	var d Event
	if err := d.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if d.Kind != e.Kind || d.Type != e.Type || !d.Time.Equal(e.Time) || d.Seq != e.Seq || d.Value != e.Value || d.Value2 != e.Value2 || strings.Join(d.Fields, ",") != "gps,deg" {
		t.Fatalf("round trip: %+v", d)
	}
	if err := d.UnmarshalBinary(b[:len(b)-1]); err == nil {
		t.Fatal("truncated encoding accepted")
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{"PAL-1": true, "a_b": true, "": false, "a.b": false, "a b": false, "a*": false, "a>": false,
		strings.Repeat("x", 128): true, strings.Repeat("x", 129): false, "é": false} {
		if ValidID(id) != want {
			t.Errorf("ValidID(%q) = %v", id, !want)
		}
	}
}

func TestNextDigestKnownAnswer(t *testing.T) {
	// keccak256(abi.encodePacked(bytes32(0), "PAL-1", uint64(1), bytes32(0), bytes32(0), bytes32(0)))
	// computed independently as the keccak of the packed bytes.
	packed := append(make([]byte, 32), []byte("PAL-1")...)
	packed = append(packed, 0, 0, 0, 0, 0, 0, 0, 1)
	packed = append(packed, make([]byte, 96)...)
	if got, want := NextDigest(Hash{}, "PAL-1", 1, Hash{}, Hash{}, Hash{}), Keccak256(packed); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
	// keccak256("") is the well-known c5d246…a470.
	if Keccak256().String() != "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470" {
		t.Fatal("not legacy keccak256")
	}
}

func FuzzParseTelemetry(f *testing.F) {
	for _, s := range []string{`{"type":"temperature","value":5}`, `{"readings":[{"type":"door","value":1}]}`,
		`{"type":"location","lat":1,"lon":2}`, `{"type":"temperature","value":1e999}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := ParseTelemetry(data, t0)
		if err != nil {
			if _, ok := err.(*InputError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		for _, e := range evs {
			if math.IsNaN(e.Value) || math.IsInf(e.Value, 0) {
				t.Fatalf("non-finite value accepted: %v", e.Value)
			}
			b, _ := e.MarshalBinary()
			var d Event
			if err := d.UnmarshalBinary(b); err != nil {
				t.Fatalf("re-decode: %v", err)
			}
		}
	})
}

func FuzzEventUnmarshal(f *testing.F) {
	e := Event{Kind: KindCreate, Time: t0, Seq: 1, Fields: []string{"pallet", "{}", "", ""}}
	b, _ := e.MarshalBinary()
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if err := e.UnmarshalBinary(data); err != nil {
			return
		}
		b, _ := e.MarshalBinary()
		if !bytes.Equal(b, data) {
			t.Fatalf("decode/encode not canonical:\n% x\n% x", data, b)
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	f.Add([]byte(`{"type":"custody","to":"x"}`))
	f.Add([]byte(`{"type":"aggregate","children":["a"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseCommand("T-1", data, t0)
		if err != nil {
			if _, ok := err.(*InputError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if len(in.Events) != 1 {
			t.Fatalf("%d events", len(in.Events))
		}
	})
}

// FuzzFastTelemetry checks the fast path against encoding/json: whenever
// the fast path accepts an input, encoding/json must decode it to the same
// values.
func FuzzFastTelemetry(f *testing.F) {
	for _, s := range []string{
		`{"ts":"2026-11-25T10:00:00Z","sensor":"t1","type":"temperature","value":5.1,"unit":"CEL"}`,
		`{"readings":[{"type":"temperature","value":-0.5e3},{"type":"location","lat":1,"lon":2}]}`,
		` { "type" : "door" , "value" : 1 } `, `{"value":"NaN","type":"temperature"}`, `{}`, `{"readings":[]}`,
		`{"type":"temperature","value":01}`, `{"Type":"x"}`, `{"type":"a","type":"b"}`, `{"readings":[{}],"type":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast telemetryJSON
		if !fastTelemetry(data, &fast, nil) {
			return
		}
		var slow telemetryJSON
		if err := json.Unmarshal(data, &slow); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json: %v", data, err)
		}
		if !reflect.DeepEqual(normRaw(fast), normRaw(slow)) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", data, fast, slow)
		}
	})
}

func normRaw(e telemetryJSON) telemetryJSON {
	fix := func(r *readingJSON) {
		for _, p := range []*json.RawMessage{&r.Value, &r.Lat, &r.Lon} {
			if len(*p) == 0 {
				*p = nil
			}
		}
	}
	fix(&e.readingJSON)
	if len(e.Readings) == 0 && e.Readings != nil {
		e.Readings = []readingJSON{}
	}
	for i := range e.Readings {
		fix(&e.Readings[i])
	}
	return e
}

func BenchmarkParseTelemetry(b *testing.B) {
	msg := []byte(`{"ts":"2026-11-25T10:00:00Z","sensor":"t1","type":"temperature","value":5.1,"unit":"CEL"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTelemetry(msg, t0); err != nil {
			b.Fatal(err)
		}
	}
}
