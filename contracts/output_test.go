package contracts

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
)

func sdkOutput(f func(o *sdk.Output), state string) []byte {
	var o sdk.Output
	f(&o)
	return o.AppendBinary(nil, []byte(state))
}

func TestDecodeOutput(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	full := sdkOutput(func(o *sdk.Output) {
		o.SetStatus("compromised")
		o.Alert(sdk.Critical, "budget_exceeded", "too long ✗")
		o.Alert(sdk.Info, "x", "")
		o.SetTimer("budget", at.UnixNano())
		o.CancelTimer("other.timer-1")
		o.SetProcessingTimer("no_data", int64(15*time.Minute))
		o.SetView([]byte(`{"a":1}`))
	}, "STATE")
	got, err := decodeOutput(full, false)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.State) != "STATE" || got.Status != "compromised" || string(got.View) != `{"a":1}` || got.Reject != "" ||
		len(got.Alerts) != 2 || got.Alerts[0] != (twin.ContractAlert{Severity: "critical", Code: "budget_exceeded", Message: "too long ✗"}) ||
		got.Alerts[1].Severity != "info" || len(got.Timers) != 3 ||
		got.Timers[0] != (twin.Timer{Name: "budget", At: at}) ||
		got.Timers[1] != (twin.Timer{Name: "other.timer-1"}) ||
		got.Timers[2] != (twin.Timer{Name: "no_data", Processing: true, Delay: 15 * time.Minute}) {
		t.Fatalf("decoded %+v", got)
	}
	if cap(got.State) != len(got.State) {
		t.Fatal("state capacity not clipped: appending would overwrite other fields")
	}

	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "bad header"},
		{"version 2", []byte{2, 0, 0, 0}, "bad header"},
		{"truncated name", full[:len(full)-1], "timer name length out of range"},
		{"truncated", full[:6], "truncated"},
		{"trailing", append(append([]byte{}, full...), 0), "trailing"},
		{"bad status", sdkOutput(func(o *sdk.Output) { o.SetStatus("In Transit") }, ""), "status has a character"},
		{"bad severity", sdkOutput(func(o *sdk.Output) { o.Alert(9, "c", "m") }, ""), "severity 9"},
		{"empty code", sdkOutput(func(o *sdk.Output) { o.Alert(sdk.Info, "", "m") }, ""), "alert code is empty"},
		{"bad utf8", sdkOutput(func(o *sdk.Output) { o.Alert(sdk.Info, "c", "\xff") }, ""), "UTF-8"},
		{"bad view", sdkOutput(func(o *sdk.Output) { o.SetView([]byte("{")) }, ""), "JSON"},
		{"set at 0", sdkOutput(func(o *sdk.Output) { o.SetTimer("t", 0) }, ""), "timer 0"},
		{"processing delay 0", sdkOutput(func(o *sdk.Output) { o.SetProcessingTimer("t", 0) }, ""), "timer 0: op 3 with at 0"},
		{"processing delay < 0", sdkOutput(func(o *sdk.Output) { o.SetProcessingTimer("t", -5) }, ""), "op 3 with at -5"},
		{"unknown op", func() []byte {
			b := sdkOutput(func(o *sdk.Output) { o.SetTimer("t", 5) }, "")
			b[len(b)-1-4-8-4] = 4 // op byte of the one timer (name "t")
			return b
		}(), "timer 0: op 4 with at 5"},
		{"bad timer name", sdkOutput(func(o *sdk.Output) { o.SetTimer("a b", 5) }, ""), "timer name"},
		{"long reject", sdkOutput(func(o *sdk.Output) { o.Reject(strings.Repeat("x", 2000)) }, ""), "reject reason length"},
		{"too many alerts", sdkOutput(func(o *sdk.Output) {
			for range 300 {
				o.Alert(sdk.Info, "c", "")
			}
		}, ""), "300 alerts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeOutput(tt.b, false)
			if !errors.Is(err, errOutput) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzDecodeOutput: guest output is untrusted. Decoding must not panic, and
// whatever decodes must re-encode to the same bytes (the encoding is
// canonical).
func FuzzDecodeOutput(f *testing.F) {
	f.Add(sdkOutput(func(o *sdk.Output) {
		o.SetStatus("s")
		o.Alert(sdk.Warning, "c", "m")
		o.SetTimer("t", 9)
		o.SetProcessingTimer("p", 1)
		o.CancelTimer("c")
		o.SetView([]byte("1"))
		o.Reject("r")
	}, "st"))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := decodeOutput(append([]byte(nil), b...), false)
		if err != nil {
			return
		}
		var o sdk.Output
		o.SetStatus(out.Status)
		o.SetView(out.View)
		o.Reject(out.Reject)
		for _, a := range out.Alerts {
			o.Alert(map[string]sdk.Severity{"info": 1, "warning": 2, "critical": 3}[a.Severity], a.Code, a.Message)
		}
		for _, tm := range out.Timers {
			switch {
			case tm.Processing:
				if tm.Delay <= 0 || !tm.At.IsZero() {
					t.Fatalf("processing timer %+v: want a positive delay and no At", tm)
				}
				o.SetProcessingTimer(tm.Name, int64(tm.Delay))
			case tm.At.IsZero():
				o.CancelTimer(tm.Name)
			default:
				o.SetTimer(tm.Name, tm.At.UnixNano())
			}
		}
		if re := o.AppendBinary(nil, out.State); string(re) != string(b) {
			t.Fatalf("not canonical:\n%x\n%x", b, re)
		}
	})
}
