package embedded

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

func sampleSnapshots() []*twin.Twin {
	at := time.Date(2026, 7, 1, 12, 0, 0, 123456789, time.UTC)
	return []*twin.Twin{
		{ID: "empty"},
		{
			ID: "full", Kind: "pallet", Status: twin.StatusInTransit, Custodian: "acme",
			Contract: twin.ContractRef{Name: "coldchain", Version: "1.2.3", SHA256: twin.Keccak256([]byte("m"))},
			Params:   json.RawMessage(`{"min_c":2}`), Parent: "container-1", Children: []string{"c1", "c2"},
			Seq: 1 << 40, View: json.RawMessage(`{"ok":true}`), Digest: twin.Keccak256([]byte("d")),
			Alerts: 3, Created: at, Updated: at.Add(time.Hour), State: []byte{0, 1, 2, 255},
			StreamSeq: 99, Timers: []twin.Timer{{Name: "silence", At: at.Add(15 * time.Minute)}, {Name: "zero"}},
		},
		{
			ID: "event-time", Status: twin.StatusCreated, Created: at, Updated: at, Watermark: at.Add(time.Minute),
			LastReading: at, Lag: 4 * 24 * time.Hour, Lateness: 10 * time.Minute,
			Timers: []twin.Timer{{Name: "no_data", At: at.Add(time.Hour), Processing: true}, {Name: "budget", At: at.Add(2 * time.Hour)}},
			Buffered: []twin.Buffered{{StreamSeq: 12, Event: twin.Event{Kind: twin.KindReading, Type: twin.TypeShock,
				Time: at.Add(30 * time.Second), Value: 3.5, Fields: []string{"acc", "g"}}}},
		},
		{ID: "old", Created: time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC), Updated: time.Unix(0, 0).UTC()},
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, want := range sampleSnapshots() {
		t.Run(want.ID, func(t *testing.T) {
			b := appendSnapshot(nil, want)
			got, err := decodeSnapshot(want.ID, b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
			}
			x, err := decodeIndexed(b)
			if err != nil || x != (indexed{want.Status, want.Kind, want.Custodian}) {
				t.Fatalf("decodeIndexed: %+v, %v", x, err)
			}
		})
	}
}

func TestDecodeCorrupt(t *testing.T) {
	full := appendSnapshot(nil, sampleSnapshots()[1])
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad version", append([]byte{9}, full[1:]...)},
		{"trailing", append(append([]byte(nil), full...), 0)},
		{"huge count", []byte{snapshotV1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"bad uvarint", []byte{snapshotV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	// Every truncation of a valid value is refused.
	for i := 0; i < len(full); i++ {
		cases = append(cases, struct {
			name string
			b    []byte
		}{"truncated", full[:i]})
	}
	for _, tc := range cases {
		if _, err := decodeSnapshot("x", tc.b); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s (%d bytes): got %v, want ErrCorrupt", tc.name, len(tc.b), err)
		}
	}
	// A bad time flag.
	b := appendSnapshot(nil, &twin.Twin{Created: time.Unix(1, 0)})
	// version, 5 empty strings, hash, params, parent, children, seq, view, digest, alerts
	const i = 1 + 5 + 32 + 4 + 1 + 32 + 1
	if b[i] != 1 {
		t.Fatalf("byte %d is %d, not the created time flag", i, b[i])
	}
	b2 := append([]byte(nil), b...)
	b2[i] = 7
	if _, err := decodeSnapshot("x", b2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("bad time flag: got %v", err)
	}
}

func TestRecordAlertRoundTrip(t *testing.T) {
	at := time.Date(2026, 7, 1, 12, 0, 0, 5, time.UTC)
	recs := []twin.Record{
		{Twin: "a", Seq: 7, StreamSeq: 1000, Time: at, Kind: twin.KindReading, Event: []byte("ev"),
			EventHash: twin.Keccak256([]byte("e")), StateHash: twin.Keccak256([]byte("s")),
			Module: twin.Keccak256([]byte("m")), Digest: twin.Keccak256([]byte("d"))},
		{Twin: "b", Seq: 1},
	}
	for _, want := range recs {
		got, err := decodeRecord(want.Twin, want.Seq, appendRecord(nil, &want))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("record: got %+v, %v; want %+v", got, err, want)
		}
	}
	if _, err := decodeRecord("a", 1, []byte{recordV1, 1, 0, 1}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short record: %v", err)
	}
	alerts := []twin.Alert{
		{Twin: "a", N: 3, Seq: 9, Severity: twin.SeverityCritical, Code: "excursion", Message: "9.5 °C", Time: at},
		{Twin: "b", N: 1},
	}
	for _, want := range alerts {
		got, err := decodeAlert(want.Twin, want.N, appendAlert(nil, &want))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("alert: got %+v, %v; want %+v", got, err, want)
		}
	}
	if _, err := decodeAlert("a", 1, []byte{alertV1, 1, 0, 5, 'x'}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short alert: %v", err)
	}
}

// FuzzDecodeSnapshot feeds arbitrary bytes (as read from disk) to the
// snapshot decoder: it must not panic, and what it accepts must encode and
// decode again to the same snapshot.
func FuzzDecodeSnapshot(f *testing.F) {
	for _, s := range sampleSnapshots() {
		f.Add(appendSnapshot(nil, s))
	}
	f.Add([]byte{})
	f.Add([]byte{snapshotV1})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSnapshot("f", b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			if _, err2 := decodeIndexed(b); err2 == nil && len(b) > 0 && b[0] != snapshotV1 {
				t.Fatal("decodeIndexed accepted a bad version")
			}
			return
		}
		x, err := decodeIndexed(b)
		if err != nil || x != (indexed{s.Status, s.Kind, s.Custodian}) {
			t.Fatalf("decodeIndexed disagrees: %+v %v", x, err)
		}
		again, err := decodeSnapshot("f", appendSnapshot(nil, s))
		if err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("re-encode changed the snapshot:\n%+v\n%+v", s, again)
		}
	})
}

// FuzzDecodeRecord and FuzzDecodeAlert hold the other on-disk decoders to
// the same rule: no panic, ErrCorrupt or a value that re-encodes to itself.
func FuzzDecodeRecord(f *testing.F) {
	r := twin.Record{StreamSeq: 5, Time: time.Unix(9, 9), Kind: twin.KindTimer, Event: []byte("event"),
		Digest: twin.Keccak256([]byte("d"))}
	f.Add(appendRecord(nil, &r))
	f.Add([]byte{recordV1})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord("f", 1, b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		again, err := decodeRecord("f", 1, appendRecord(nil, &rec))
		if err != nil || !reflect.DeepEqual(again, rec) {
			t.Fatalf("re-encode: %+v, %v; want %+v", again, err, rec)
		}
	})
}

func FuzzDecodeAlert(f *testing.F) {
	a := twin.Alert{Seq: 3, Time: time.Unix(-5, 1), Severity: "info", Code: "c", Message: "m"}
	f.Add(appendAlert(nil, &a))
	f.Add([]byte{alertV1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		al, err := decodeAlert("f", 1, b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		again, err := decodeAlert("f", 1, appendAlert(nil, &al))
		if err != nil || !reflect.DeepEqual(again, al) {
			t.Fatalf("re-encode: %+v, %v; want %+v", again, err, al)
		}
	})
}

// TestDecodedFieldsIndependent checks that the fields of a decoded snapshot,
// which share one copy of the value, do not write over each other.
func TestDecodedFieldsIndependent(t *testing.T) {
	want := sampleSnapshots()[1]
	v := appendSnapshot(nil, want)
	got, err := decodeSnapshot(want.ID, v)
	if err != nil {
		t.Fatal(err)
	}
	got.Params = append(got.Params, "garbage"...)
	got.View = append(got.View, "garbage"...)
	for i := range got.State {
		got.State[i] = 'X'
	}
	v[len(v)/2] ^= 0xff // the input belongs to pebble and changes
	got.Params, got.View, got.State = want.Params, want.View, want.State
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fields changed each other:\n got %+v\nwant %+v", got, want)
	}
}

// TestDecodeV1 reads values written before event time (snapshot and record
// v1): the new fields come back zero.
func TestDecodeV1(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	want := &twin.Twin{ID: "v1", Status: twin.StatusCreated, Kind: "pallet", Created: at, Updated: at, Seq: 3}
	v2 := appendSnapshot(nil, want)
	// v2 without timers = v1 + watermark, last reading, lag, lateness, buffered (5 zero bytes).
	v1 := append([]byte{snapshotV1}, v2[1:len(v2)-5]...)
	got, err := decodeSnapshot("v1", v1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("v1 snapshot:\n got %+v\nwant %+v", got, want)
	}
	rec := twin.Record{Twin: "v1", Seq: 3, StreamSeq: 5, Time: at, Kind: twin.KindReading,
		Event: []byte("event"), Digest: twin.Keccak256([]byte("d"))}
	b := []byte{recordV1}
	b = binary.AppendUvarint(b, rec.StreamSeq)
	b = appendTime(b, rec.Time)
	b = append(b, byte(rec.Kind))
	b = append(b, rec.EventHash[:]...)
	b = append(b, rec.StateHash[:]...)
	b = append(b, rec.Module[:]...)
	b = append(b, rec.Digest[:]...)
	b = append(b, rec.Event...)
	gotRec, err := decodeRecord("v1", 3, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotRec, rec) {
		t.Fatalf("v1 record:\n got %+v\nwant %+v", gotRec, rec)
	}
}
