package policy

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
)

const sec = int64(1e9)

var base = int64(1_780_000_000) * sec

func create(params string) []byte {
	return sdk.AppendEvent(nil, sdk.KindCreate, 0, base, 0, 0, 0, "pallet", params, "acme", "")
}

func temp(seq uint64, at int64, v float64) []byte {
	return sdk.AppendEvent(nil, sdk.KindReading, sdk.TypeTemperature, base+at*sec, seq, v, 0, "t1", "CEL")
}

func decodeView(t *testing.T, v []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(v, &m); err != nil {
		t.Fatalf("view %s: %v", v, err)
	}
	return m
}

func TestExcursionBudgetAndCompromise(t *testing.T) {
	var p Policy
	var ev sdk.Event
	var out sdk.Output
	if err := ev.Decode(create(`{"min_c":2,"max_c":8,"excursion_budget_s":900}`)); err != nil {
		t.Fatal(err)
	}
	state := append([]byte(nil), p.Init(&ev, &out)...)
	if out.Rejected() != "" {
		t.Fatal(out.Rejected())
	}
	timer := func(seq uint64, at int64) []byte {
		return sdk.AppendEvent(nil, sdk.KindTimer, 0, base+at*sec, seq, 0, 0, TimerBudget)
	}
	steps := []struct {
		name   string
		ev     []byte
		alerts []string
		status string
		timers []sdk.TimerOp
		outS   float64
	}{
		{"in band", temp(1, 0, 5), nil, "", nil, 0},
		{"too warm", temp(2, 100, 9), []string{CodeExcursionStarted}, "", []sdk.TimerOp{{Op: sdk.TimerSet, At: base + 1000*sec, Name: TimerBudget}}, 0},
		{"still warm", temp(3, 400, 9.5), nil, "", nil, 300},
		{"humidity ignored", sdk.AppendEvent(nil, sdk.KindReading, sdk.TypeHumidity, base+450*sec, 4, 80, 0, "h1", "%RH"), nil, "", nil, 300},
		{"back in band", temp(5, 500, 7), []string{CodeExcursionEnded}, "", []sdk.TimerOp{{Op: sdk.TimerCancel, Name: TimerBudget}}, 400},
		{"late reading not counted", temp(6, 450, 30), []string{CodeLateExcursion}, "", nil, 400},
		{"too cold", temp(7, 600, 1), []string{CodeExcursionStarted}, "", []sdk.TimerOp{{Op: sdk.TimerSet, At: base + 1100*sec, Name: TimerBudget}}, 400},
		{"budget timer", timer(8, 1100), []string{CodeBudgetExceeded}, "compromised", []sdk.TimerOp{{Op: sdk.TimerCancel, Name: TimerBudget}}, 900},
		{"back in band after", temp(9, 1200, 5), []string{CodeExcursionEnded}, "", []sdk.TimerOp{{Op: sdk.TimerCancel, Name: TimerBudget}}, 1000},
		{"delivered stays compromised", sdk.AppendEvent(nil, sdk.KindStatus, 0, base+1300*sec, 10, 0, 0, "delivered"), nil, "compromised", nil, 1000},
		{"closed is allowed", sdk.AppendEvent(nil, sdk.KindStatus, 0, base+1400*sec, 11, 0, 0, "closed"), nil, "", nil, 1000},
	}
	for _, s := range steps {
		if err := ev.Decode(s.ev); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		state = append(state[:0], p.Apply(state, &ev, &out)...)
		var codes []string
		for _, a := range out.Alerts() {
			codes = append(codes, a.Code)
		}
		if strings.Join(codes, ",") != strings.Join(s.alerts, ",") {
			t.Fatalf("%s: alerts %v, want %v", s.name, codes, s.alerts)
		}
		if out.Status() != s.status {
			t.Fatalf("%s: status %q, want %q", s.name, out.Status(), s.status)
		}
		if len(out.Timers()) != len(s.timers) || (len(s.timers) > 0 && out.Timers()[0] != s.timers[0]) {
			t.Fatalf("%s: timers %+v, want %+v", s.name, out.Timers(), s.timers)
		}
		if len(out.View()) != 0 {
			t.Fatalf("%s: Apply rendered a view", s.name)
		}
		var vo sdk.Output
		p.View(state, &vo)
		v := decodeView(t, vo.View())
		if v["time_out_of_band_s"].(float64) != s.outS {
			t.Fatalf("%s: out of band %v s, want %v", s.name, v["time_out_of_band_s"], s.outS)
		}
	}
	var st State
	st.Decode(state)
	if !st.Compromised() || st.Readings != 6 || st.Other != 1 || st.Late != 1 {
		t.Fatalf("final state %+v", st)
	}
}

func TestMKTAgainstHandComputed(t *testing.T) {
	var p Policy
	var ev sdk.Event
	var out sdk.Output
	ev.Decode(create(""))
	state := append([]byte(nil), p.Init(&ev, &out)...)
	for i, r := range []struct {
		at int64
		v  float64
	}{{0, 5}, {600, 10}, {1200, 5}, {1800, 5}} {
		ev.Decode(temp(uint64(i+1), r.at, r.v))
		out.Reset()
		state = append(state[:0], p.Apply(state, &ev, &out)...)
	}
	// Intervals: 600 s at 5 °C, 600 s at 10 °C, 600 s at 5 °C:
	// 10000 / -ln((2·600·e^(-10000/278.15) + 600·e^(-10000/283.15)) / 1800) − 273.15
	const want = 7.018046984312264
	var st State
	st.Decode(state)
	got, ok := st.MKT()
	if !ok || math.Abs(got-want) > 1e-9 {
		t.Fatalf("MKT = %v (%v), want %v", got, ok, want)
	}
	var vo sdk.Output
	p.View(state, &vo)
	if v := decodeView(t, vo.View()); v["mkt_c"].(float64) != 7.018 || v["in_excursion"] != false || v["readings"].(float64) != 4 {
		t.Fatalf("view %s", vo.View())
	}
	// 600 s at 10 °C is out of the default band [2, 8].
	if st.OutNs != 600*sec {
		t.Fatalf("out of band %d ns", st.OutNs)
	}
}

func TestParams(t *testing.T) {
	tests := []struct {
		params string
		reject bool
		min    float64
		max    float64
		budget int64
	}{
		{"", false, 2, 8, 1800 * sec},
		{"{}", false, 2, 8, 1800 * sec},
		{`{"min_c":-20,"max_c":-15}`, false, -20, -15, 1800 * sec},
		{`{"excursion_budget_s":0}`, false, 2, 8, 0},
		{`{"min_c":8,"max_c":2}`, true, 0, 0, 0},
		{`{"excursion_budget_s":-1}`, true, 0, 0, 0},
		{`{"min_c":"x"}`, true, 0, 0, 0},
	}
	for _, tt := range tests {
		var p Policy
		var ev sdk.Event
		var out sdk.Output
		ev.Decode(create(tt.params))
		state := p.Init(&ev, &out)
		if (out.Rejected() != "") != tt.reject {
			t.Fatalf("%s: reject = %q", tt.params, out.Rejected())
		}
		if tt.reject {
			continue
		}
		var st State
		if !st.Decode(state) || st.MinC != tt.min || st.MaxC != tt.max || st.BudgetNs != tt.budget {
			t.Fatalf("%s: state %+v", tt.params, st)
		}
	}
}

// TestNoDataTimer: no_data_s arms a processing-time timer at create and on
// every reading; its firing raises no_data and changes nothing else; off
// (the default), the state bytes 2..8 stay zero as before the field.
func TestNoDataTimer(t *testing.T) {
	var p Policy
	var ev sdk.Event
	var out sdk.Output
	ev.Decode(create(`{"no_data_s":900}`))
	state := append([]byte(nil), p.Init(&ev, &out)...)
	arm := sdk.TimerOp{Op: sdk.TimerSetProcessing, At: 900 * sec, Name: TimerNoData}
	if len(out.Timers()) != 1 || out.Timers()[0] != arm {
		t.Fatalf("init timers %+v, want %+v", out.Timers(), arm)
	}
	for i, e := range [][]byte{temp(2, 0, 5), sdk.AppendEvent(nil, sdk.KindReading, sdk.TypeHumidity, base+10*sec, 3, 50, 0, "h1", "%RH")} {
		ev.Decode(e)
		out.Reset()
		state = append(state[:0], p.Apply(state, &ev, &out)...)
		if len(out.Timers()) != 1 || out.Timers()[0] != arm {
			t.Fatalf("reading %d: timers %+v, want %+v", i, out.Timers(), arm)
		}
	}
	before := append([]byte(nil), state...)
	ev.Decode(sdk.AppendEvent(nil, sdk.KindTimer, 0, base+5000*sec, 4, 0, 0, TimerNoData, sdk.ClockProcessing))
	out.Reset()
	state = append(state[:0], p.Apply(state, &ev, &out)...)
	if len(out.Alerts()) != 1 || out.Alerts()[0].Code != CodeNoData || out.Alerts()[0].Message != "no reading for 900 s by the server's clock" ||
		len(out.Timers()) != 0 || string(state) != string(before) {
		t.Fatalf("no_data timer: alerts %+v timers %+v, state changed %v", out.Alerts(), out.Timers(), string(state) != string(before))
	}

	var off Policy
	ev.Decode(create(`{}`))
	out.Reset()
	st := off.Init(&ev, &out)
	if len(out.Timers()) != 0 || string(st[2:8]) != "\x00\x00\x00\x00\x00\x00" {
		t.Fatalf("no_data off: timers %+v, state % x", out.Timers(), st[:8])
	}
	for _, bad := range []string{`{"no_data_s":-1}`, `{"no_data_s":1e7}`, `{"no_data_s":"x"}`} {
		ev.Decode(create(bad))
		out.Reset()
		if off.Init(&ev, &out); out.Rejected() == "" {
			t.Fatalf("%s accepted", bad)
		}
	}
}

// TestLateFlagDoesNotChangeVerdicts: the same in-order readings give the
// same states and alerts whether or not the runtime flags them late (a
// twin created after its logger's readings were taken sees them all with
// the LATE flag when its watermark starts at the create time).
func TestLateFlagDoesNotChangeVerdicts(t *testing.T) {
	run := func(flags uint16) (string, []string) {
		var p Policy
		var ev sdk.Event
		var out sdk.Output
		ev.Decode(create(`{"excursion_budget_s":60}`))
		state := append([]byte(nil), p.Init(&ev, &out)...)
		var codes []string
		for i, r := range []struct {
			at int64
			v  float64
		}{{0, 5}, {30, 9}, {100, 9.5}, {200, 5}} {
			ev.Decode(sdk.AppendEventFlags(nil, sdk.KindReading, sdk.TypeTemperature, flags, base+r.at*sec, uint64(i+2), r.v, 0, "t1", "CEL"))
			out.Reset()
			state = append(state[:0], p.Apply(state, &ev, &out)...)
			for _, a := range out.Alerts() {
				codes = append(codes, a.Code)
			}
		}
		return string(state), codes
	}
	s0, a0 := run(0)
	s1, a1 := run(sdk.FlagLate)
	if s0 != s1 || strings.Join(a0, ",") != strings.Join(a1, ",") || strings.Join(a0, ",") != "excursion_started,budget_exceeded,excursion_ended" {
		t.Fatalf("alerts %v vs %v, same state %v", a0, a1, s0 == s1)
	}
}

func TestZeroBudgetCompromisesOnFirstExcursionTime(t *testing.T) {
	var p Policy
	var ev sdk.Event
	var out sdk.Output
	ev.Decode(create(`{"excursion_budget_s":0}`))
	state := append([]byte(nil), p.Init(&ev, &out)...)
	for i, r := range []struct {
		at int64
		v  float64
	}{{0, 5}, {10, 9}, {11, 9}} {
		ev.Decode(temp(uint64(i+1), r.at, r.v))
		out.Reset()
		state = append(state[:0], p.Apply(state, &ev, &out)...)
	}
	if out.Status() != "compromised" {
		t.Fatalf("status %q", out.Status())
	}
}

func TestAppendFixed(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{{0, "0"}, {5, "5"}, {-0.5, "-0.5"}, {7.0180469, "7.018"}, {1800, "1800"}, {2.1, "2.1"}, {-20.25, "-20.25"}, {0.0004, "0"}, {1e300, "1e+300"}} {
		if got := fixed(tt.v); got != tt.want {
			t.Errorf("fixed(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
