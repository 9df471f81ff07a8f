package conformance

import (
	"context"
	"strings"
	"testing"

	"github.com/custos-dev/custos/internal/policytest"
)

// TestDoorExample is the worked example of ABI.md §3.1 on humidshock's
// door window, through the real host and runtime: door open 12:00:00,
// closed 12:00:10, limit 60 s gives no alert; when a 12:05:00 reading
// arrives before the close, the door timer (12:01:00) fires before it and
// the close then comes LATE and withdraws the alert.
func TestDoorExample(t *testing.T) {
	wasm := buildGo(t, "humidshock")
	const (
		open   = `{"ts":"2026-11-25T12:00:00Z","sensor":"d1","type":"door","value":1}`
		closed = `{"ts":"2026-11-25T12:00:10Z","sensor":"d1","type":"door","value":0}`
		later  = `{"ts":"2026-11-25T12:05:00Z","sensor":"h1","type":"humidity","value":50}`
	)
	alerts := func(events ...string) string {
		lines, err := policytest.Run(context.Background(), policytest.Config{
			Module: wasm, Name: "humidshock", Params: []byte(`{"door_open_max_s":60}`), Host: hostCfg,
		}, strings.NewReader(strings.Join(events, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range lines {
			if l.Error != "" {
				t.Fatalf("line %d: %s", l.Line, l.Error)
			}
			for _, a := range l.Alerts {
				got = append(got, l.Kind+"@"+l.Time.Format("15:04:05")+" "+a.Code)
			}
		}
		return strings.Join(got, ", ")
	}
	if got := alerts(open, closed, later); got != "" {
		t.Errorf("in order: alerts %s, want none", got)
	}
	if got, want := alerts(open, later, closed), "timer@12:01:00 door_open_too_long, reading@12:00:10 door_alert_withdrawn"; got != want {
		t.Errorf("close after a later reading: alerts %s, want %s", got, want)
	}
}
