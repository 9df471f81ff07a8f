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
	for _, bad := range [][]byte{b[:39], b[:len(b)-1], append(append([]byte{}, b...), 0), append([]byte{3, 0, 0, 0, 5}, b[5:]...)} {
		if err := e.Decode(bad); err == nil {
			t.Fatalf("decoded malformed %x", bad)
		}
	}
}

func TestEventFlagsAndTimerClock(t *testing.T) {
	var e Event
	if err := e.Decode(AppendEventFlags(nil, KindReading, TypeTemperature, FlagLate, 5, 2, 9.5, 0, "t1", "CEL")); err != nil {
		t.Fatal(err)
	}
	if !e.Late() || e.Flags != FlagLate || e.TimerClock() != "" {
		t.Fatalf("late reading decoded as %+v", e)
	}
	// Unknown flag bits decode (a later minor version may define them).
	if err := e.Decode(AppendEventFlags(nil, KindTimer, 0, 0x8000, 5, 3, 0, 0, "budget", ClockProcessing)); err != nil {
		t.Fatal(err)
	}
	if e.Late() || e.TimerClock() != ClockProcessing {
		t.Fatalf("timer decoded as late %v clock %q", e.Late(), e.TimerClock())
	}
	if err := e.Decode(AppendEvent(nil, KindTimer, 0, 5, 3, 0, 0, "budget", ClockEvent)); err != nil || e.TimerClock() != ClockEvent {
		t.Fatalf("event-time timer: %v %q", err, e.TimerClock())
	}
}

func FuzzEventDecode(f *testing.F) {
	f.Add(AppendEvent(nil, KindReading, TypeTemperature, 1, 2, 3, 4, "t1", "CEL"))
	f.Add(AppendEventFlags(nil, KindTimer, 0, FlagLate, 1, 2, 0, 0, "budget", ClockEvent))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		if e.Decode(b) != nil {
			return
		}
		fields := make([]string, e.NumFields())
		for i := range fields {
			fields[i] = e.FieldString(i)
		}
		re := AppendEventFlags(nil, e.Kind, e.Type, e.Flags, e.Time, e.Seq, e.Value, e.Value2, fields...)
		// Every byte is read back, so the encoding is canonical (NaN
		// payloads included: AppendEvent preserves them bit for bit).
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
