package policy

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
)

const sec = int64(1e9)

var base = int64(1_780_000_000) * sec

func reading(typ sdk.ReadingType, at int64, v float64) []byte {
	return sdk.AppendEvent(nil, sdk.KindReading, typ, base+at*sec, 0, v, 0, "s1", "")
}

// applyEvent applies the encoded event ev to state and returns the new
// state and the codes of the alerts raised (out holds the rest).
func applyEvent(t *testing.T, p *Policy, state, ev []byte, out *sdk.Output) ([]byte, []string) {
	t.Helper()
	var e sdk.Event
	if err := e.Decode(ev); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	state = slices.Clone(p.Apply(state, &e, out))
	var codes []string
	for _, a := range out.Alerts() {
		codes = append(codes, a.Code)
	}
	return state, codes
}

func TestHumidityAndShock(t *testing.T) {
	var p Policy
	var ev sdk.Event
	var out sdk.Output
	ev.Decode(sdk.AppendEvent(nil, sdk.KindCreate, 0, base, 1, 0, 0, "case", `{"max_rh":60,"humidity_budget_s":600,"max_g":3,"max_shocks":2}`, "", ""))
	state := slices.Clone(p.Init(&ev, &out))
	if out.Rejected() != "" {
		t.Fatal(out.Rejected())
	}
	steps := []struct {
		name   string
		ev     []byte
		alerts []string
		status string
	}{
		{"dry", reading(sdk.TypeHumidity, 0, 40), nil, ""},
		{"humid", reading(sdk.TypeHumidity, 100, 70), []string{CodeHumidityHigh}, ""},
		{"still humid", reading(sdk.TypeHumidity, 400, 75), nil, ""},
		{"late ignored", reading(sdk.TypeHumidity, 300, 10), nil, ""},
		{"dry again", reading(sdk.TypeHumidity, 500, 50), []string{CodeHumidityOK}, ""},
		{"small shock", reading(sdk.TypeShock, 510, 2.5), nil, ""},
		{"shock", reading(sdk.TypeShock, 520, 3.5), []string{CodeShock}, ""},
		{"humid", reading(sdk.TypeHumidity, 600, 61), []string{CodeHumidityHigh}, ""},
		{"budget", reading(sdk.TypeHumidity, 800, 61), []string{CodeHumidityBudget}, "compromised"},
		{"second shock", reading(sdk.TypeShock, 900, 9), []string{CodeShock}, ""},
		{"status stays", sdk.AppendEvent(nil, sdk.KindStatus, 0, base+1000*sec, 0, 0, 0, "delivered"), nil, "compromised"},
	}
	for _, s := range steps {
		var codes []string
		state, codes = applyEvent(t, &p, state, s.ev, &out)
		if !slices.Equal(codes, s.alerts) || out.Status() != s.status {
			t.Fatalf("%s: alerts %v status %q, want %v %q", s.name, codes, out.Status(), s.alerts, s.status)
		}
	}
	out.Reset()
	p.View(state, &out)
	var v map[string]any
	if err := json.Unmarshal(out.View(), &v); err != nil {
		t.Fatal(err)
	}
	if v["time_above_rh_s"] != 600.0 || v["shocks"] != 2.0 || v["peak_g"] != 9.0 || v["compromised"] != true {
		t.Fatalf("view %s", out.View())
	}
}

func TestRejectsBadParams(t *testing.T) {
	for _, params := range []string{`{"max_rh":0}`, `{"max_g":-1}`, `{"max_shocks":0}`, `{"max_rh":"x"}`} {
		var p Policy
		var ev sdk.Event
		var out sdk.Output
		ev.Decode(sdk.AppendEvent(nil, sdk.KindCreate, 0, base, 1, 0, 0, "case", params, "", ""))
		p.Init(&ev, &out)
		if out.Rejected() == "" {
			t.Errorf("params %s accepted", params)
		}
	}
}

func TestMigrate(t *testing.T) {
	var p Policy
	var ev sdk.Event
	var out sdk.Output
	ev.Decode(sdk.AppendEvent(nil, sdk.KindCreate, 0, base, 1, 0, 0, "case", `{}`, "", ""))
	state := slices.Clone(p.Init(&ev, &out))
	up := sdk.AppendEvent(nil, 8, 0, base, 2, 0, 0, "ab12", "1.0.0", "1.1.0")
	if err := ev.Decode(up); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if got := p.Migrate(state, &ev, &out); string(got) != string(state) || out.Rejected() != "" {
		t.Fatalf("migrate own state: %s %q", got, out.Rejected())
	}
	out.Reset()
	p.Migrate([]byte{1, 2, 3}, &ev, &out)
	if !strings.Contains(out.Rejected(), "from module ab12") {
		t.Fatalf("foreign state: %q", out.Rejected())
	}
}

// TestDoorWindow is the door example of ABI.md: open 12:00:00, closed
// 12:00:10, limit 60 s gives no alert; open past the limit alerts when the
// watermark passes it; a late close within the limit withdraws the alert.
func TestDoorWindow(t *testing.T) {
	var p Policy
	var ev sdk.Event
	var out sdk.Output
	ev.Decode(sdk.AppendEvent(nil, sdk.KindCreate, 0, base, 1, 0, 0, "container", `{"door_open_max_s":60}`, "", ""))
	state := slices.Clone(p.Init(&ev, &out))
	if out.Rejected() != "" {
		t.Fatal(out.Rejected())
	}
	door := func(at int64, v float64) []byte { return reading(sdk.TypeDoor, at, v) }
	timer := func(at int64) []byte {
		return sdk.AppendEvent(nil, sdk.KindTimer, 0, base+at*sec, 0, 0, 0, TimerDoor, sdk.ClockEvent)
	}
	steps := []struct {
		name   string
		ev     []byte
		alerts []string
		timers []sdk.TimerOp
	}{
		{"open", door(0, 1), nil, []sdk.TimerOp{{Op: sdk.TimerSet, At: base + 60*sec, Name: TimerDoor}}},
		{"closed in time", door(10, 0), nil, []sdk.TimerOp{{Op: sdk.TimerCancel, Name: TimerDoor}}},
		{"stale timer", timer(60), nil, nil},
		{"open again", door(100, 1), nil, []sdk.TimerOp{{Op: sdk.TimerSet, At: base + 160*sec, Name: TimerDoor}}},
		{"still open", door(120, 1), nil, nil},
		{"limit passes", timer(160), []string{CodeDoorOpen}, nil},
		{"late close within the limit", door(130, 0), []string{CodeDoorWithdrawn}, []sdk.TimerOp{{Op: sdk.TimerCancel, Name: TimerDoor}}},
		{"older door reading ignored", door(125, 1), nil, nil},
		{"open a third time", door(200, 1), nil, []sdk.TimerOp{{Op: sdk.TimerSet, At: base + 260*sec, Name: TimerDoor}}},
		{"limit passes again", timer(260), []string{CodeDoorOpen}, nil},
		{"closed late, over the limit", door(300, 0), nil, []sdk.TimerOp{{Op: sdk.TimerCancel, Name: TimerDoor}}},
	}
	for _, s := range steps {
		var codes []string
		state, codes = applyEvent(t, &p, state, s.ev, &out)
		if !slices.Equal(codes, s.alerts) {
			t.Fatalf("%s: alerts %v, want %v", s.name, codes, s.alerts)
		}
		if !slices.Equal(out.Timers(), s.timers) {
			t.Fatalf("%s: timers %+v, want %+v", s.name, out.Timers(), s.timers)
		}
	}

	// Without door_open_max_s, door readings change nothing (the state of
	// twins created before the door limit stays the same bytes).
	var off Policy
	ev.Decode(sdk.AppendEvent(nil, sdk.KindCreate, 0, base, 1, 0, 0, "case", `{}`, "", ""))
	out.Reset()
	st := slices.Clone(off.Init(&ev, &out))
	ev.Decode(door(0, 1))
	out.Reset()
	if got := off.Apply(st, &ev, &out); string(got) != string(st) || strings.Contains(string(st), "door") || len(out.Timers()) != 0 {
		t.Fatalf("door without a limit: state %s → %s, timers %+v", st, got, out.Timers())
	}
}
