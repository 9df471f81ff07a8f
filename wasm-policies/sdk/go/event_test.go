package sdk

import (
	"bytes"
	"testing"
)

func TestEventRoundTrip(t *testing.T) {
	b := AppendEvent(nil, KindCreate, 0, -5, 7, 1.5, -2.5, "pallet", `{"a":1}`, "", "parent")
	var e Event
	if err := e.Decode(b); err != nil {
		t.Fatal(err)
	}
	if e.Kind != KindCreate || e.Time != -5 || e.Seq != 7 || e.Value != 1.5 || e.Value2 != -2.5 || e.NumFields() != 4 ||
		string(e.Field(FieldParams)) != `{"a":1}` || e.Field(FieldCustodian) == nil && len(e.Field(FieldCustodian)) != 0 ||
		e.FieldString(FieldParent) != "parent" || e.Field(9) != nil {
		t.Fatalf("decoded %+v", e)
	}
	for _, bad := range [][]byte{b[:39], b[:len(b)-1], append(append([]byte{}, b...), 0), append([]byte{3, 0, 1, 0}, b[4:]...)} {
		if err := e.Decode(bad); err == nil {
			t.Fatalf("decoded malformed %x", bad)
		}
	}
}

func FuzzEventDecode(f *testing.F) {
	f.Add(AppendEvent(nil, KindReading, TypeTemperature, 1, 2, 3, 4, "t1", "CEL"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		if e.Decode(b) != nil {
			return
		}
		fields := make([]string, e.NumFields())
		for i := range fields {
			fields[i] = e.FieldString(i)
		}
		re := AppendEvent(nil, e.Kind, e.Type, e.Time, e.Seq, e.Value, e.Value2, fields...)
		// Reserved bytes are checked, so the encoding is canonical except
		// for NaN payloads, which AppendEvent preserves bit for bit anyway.
		if !bytes.Equal(re, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, re)
		}
	})
}

func BenchmarkEventDecode(b *testing.B) {
	buf := AppendEvent(nil, KindReading, TypeTemperature, 1, 2, 3, 4, "t1", "CEL")
	var e Event
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}
