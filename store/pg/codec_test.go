package pg

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

// TestRecordEdgeCases round-trips records with empty and extreme fields
// through both write paths.
func TestRecordEdgeCases(t *testing.T) {
	zero := sampleRecord("e", 1)
	zero.Time = time.Time{}
	noEvent := sampleRecord("e", 2)
	noEvent.Event = nil
	big := sampleRecord("e", 3)
	big.Seq, big.StreamSeq = math.MaxInt64, math.MaxInt64-1
	big.Kind = twin.EventKind(255)
	big.Event = make([]byte, 1<<16)
	old := sampleRecord("e", 4)
	old.Time = time.Date(1700, 1, 1, 0, 0, 0, 1, time.UTC)
	recs := []twin.Record{zero, noEvent, old, big}
	for _, mode := range []struct {
		name    string
		copyMin int
	}{{"copy", 0}, {"upsert", math.MaxInt}} {
		t.Run(mode.name, func(t *testing.T) {
			db := openTest(t)
			db.copyMin = mode.copyMin
			mustCommit(t, db, &twin.Batch{Records: recs})
			got, err := db.History(ctxT(t), twin.HistoryQuery{Twin: "e"})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(recs) {
				t.Fatalf("got %d records, want %d", len(got), len(recs))
			}
			for i, want := range recs {
				if len(want.Event) == 0 {
					want.Event = nil
				}
				if !reflect.DeepEqual(got[i], want) {
					t.Errorf("record %d:\n got %+v\nwant %+v", want.Seq, got[i], want)
				}
			}
		})
	}
}

func TestTimersCodec(t *testing.T) {
	tests := []struct {
		name string
		in   []twin.Timer
	}{
		{"none", nil},
		{"one", []twin.Timer{{Name: "silence", At: t0}}},
		{"zero time", []twin.Timer{{Name: "cancel"}}},
		{"processing", []twin.Timer{{Name: "no_data", At: t0, Processing: true}, {Name: "excursion", At: t0.Add(1)}}},
		{"unix epoch", []twin.Timer{{Name: "epoch", At: time.Unix(0, 0).UTC()}}},
		{"escapes", []twin.Timer{{Name: "a\"b\\c\n\u00e9\u2028", At: t0.Add(1)}, {Name: "", At: t0.Add(-time.Hour)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b []byte
			if len(tt.in) > 0 {
				b = appendTimers(nil, tt.in)
			}
			got, err := parseTimers(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.in) {
				t.Errorf("got %+v, want %+v", got, tt.in)
			}
		})
	}
	if _, err := parseTimers([]byte(`{"not":"an array"}`)); err == nil {
		t.Error("parseTimers accepted an object")
	}
}

// FuzzTimers checks that any timer list round-trips through the timers
// column encoding, and that parseTimers never panics on what the column
// might hold.
func FuzzTimers(f *testing.F) {
	f.Add("silence", int64(1772352000123456789), []byte(`[{"name":"x","at":1}]`))
	f.Add("", int64(0), []byte(`[]`))
	f.Add("\xff\x00\"", int64(-1), []byte(`[{"name":1}]`))
	f.Fuzz(func(t *testing.T, name string, at int64, raw []byte) {
		parseTimers(raw) // must not panic
		in := []twin.Timer{{Name: name, At: time.Unix(0, at).UTC()}}
		if at == math.MinInt64 {
			in[0].At = time.Time{}
		}
		got, err := parseTimers(appendTimers(nil, in))
		if err != nil {
			t.Fatalf("parse of encoded %q: %v", name, err)
		}
		if len(got) != 1 || !got[0].At.Equal(in[0].At) {
			t.Fatalf("got %+v, want %+v", got, in)
		}
		// encoding/json replaces invalid UTF-8; valid names come back as is.
		if got[0].Name != name && validUTF8(name) {
			t.Fatalf("name %q came back as %q", name, got[0].Name)
		}
	})
}

func validUTF8(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' {
			return false
		}
	}
	return true
}
