package conformance

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/twin"
)

// TestColdchainNoDataAndLateAgree runs the three coldchain builds through
// the real host on the parts of the contract the golden file leaves out:
// no_data_s (op 3 processing-time timers, the no_data timer event with its
// clock field) and LATE-flagged events. They must return the same states,
// alerts and timer ops, and the timer ops must decode as the ABI says.
func TestColdchainNoDataAndLateAgree(t *testing.T) {
	ctx := context.Background()
	cfg := hostCfg
	cfg.Logger = slog.New(slog.DiscardHandler)
	h, err := contracts.NewHost(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	enc := func(e twin.Event) []byte {
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	temp := func(seq uint64, at time.Duration, v float64, flags uint16) []byte {
		return enc(twin.Event{Kind: twin.KindReading, Type: twin.TypeTemperature, Flags: flags, Time: t0.Add(at), Seq: seq, Value: v, Fields: []string{"t1", "CEL"}})
	}
	events := [][]byte{
		temp(2, 0, 5, 0),
		temp(3, time.Minute, 9, 0),
		enc(twin.Event{Kind: twin.KindTimer, Time: t0.Add(time.Hour), Seq: 4, Fields: []string{"no_data", twin.ClockProcessing}}),
		temp(5, 30*time.Second, 30, twin.EventLate), // late and out of band
		temp(6, 2*time.Minute, 5, twin.EventLate),   // LATE but newer than the last temperature: applied
		enc(twin.Event{Kind: twin.KindReading, Type: twin.TypeHumidity, Time: t0.Add(3 * time.Minute), Seq: 7, Value: 50, Fields: []string{"h1", "%RH"}}),
	}
	create := enc(twin.Event{Kind: twin.KindCreate, Time: t0, Seq: 1, Fields: []string{"pallet", `{"min_c":2,"max_c":8,"excursion_budget_s":900,"no_data_s":600}`, "acme", ""}})

	trace := func(name string, wasm []byte) []string {
		ref, err := h.Register(ctx, "coldchain-"+name, "1.0.0", wasm)
		if err != nil {
			t.Fatal(err)
		}
		c, err := h.Contract(ctx, ref.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		call := twin.Call{Twin: "p1", Seq: 1, Time: t0}
		out, err := c.Init(ctx, call, create)
		if err != nil || out.Reject != "" {
			t.Fatalf("%s: init: %v %q", name, err, out.Reject)
		}
		var lines []string
		line := func(out twin.Output) {
			lines = append(lines, fmt.Sprintf("state %x status %q alerts %+v timers %+v", out.State, out.Status, out.Alerts, out.Timers))
		}
		line(out)
		state := out.State
		for i, ev := range events {
			call.Seq = uint64(i + 2)
			out, err := c.Apply(ctx, call, state, ev)
			if err != nil || out.Reject != "" {
				t.Fatalf("%s: event %d: %v %q", name, i, err, out.Reject)
			}
			line(out)
			state = out.State
		}
		return lines
	}
	var ref []string
	for _, name := range []string{"go", "assemblyscript", "wat"} {
		got := trace(name, builds(t)[name])
		if ref == nil {
			ref = got
			arm := fmt.Sprintf("%+v", twin.Timer{Name: "no_data", Processing: true, Delay: 600 * time.Second})
			for _, i := range []int{0, 1, 2, 4, 5, 6} {
				if !strings.Contains(got[i], "timers ["+arm) {
					t.Fatalf("go: step %d does not re-arm no_data first: %s", i, got[i])
				}
			}
			for i, want := range map[int]string{3: "Code:no_data Message:no reading for 600 s by the server's clock", 4: "Code:late_excursion"} {
				if !strings.Contains(got[i], want) {
					t.Fatalf("go: step %d: %s, want %s", i, got[i], want)
				}
			}
			continue
		}
		for i := range ref {
			if got[i] != ref[i] {
				t.Fatalf("%s differs from go at step %d:\n go: %s\n %s: %s", name, i, ref[i], name, got[i])
			}
		}
	}
}
