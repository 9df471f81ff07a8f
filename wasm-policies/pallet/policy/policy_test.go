package policy

import (
	"encoding/json"
	"slices"
	"testing"

	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
)

const sec = int64(1e9)

var base = int64(1_780_000_000) * sec

func temp(at int64, v float64) []byte {
	return sdk.AppendEvent(nil, sdk.KindReading, sdk.TypeTemperature, base+at*sec, 0, v, 0, "t1", "CEL")
}

func TestReadingsApplyToContainedCases(t *testing.T) {
	var p Policy
	var ev sdk.Event
	var out sdk.Output
	ev.Decode(sdk.AppendEvent(nil, sdk.KindCreate, 0, base, 1, 0, 0, "pallet", `{"case_budget_s":300}`, "", ""))
	state := slices.Clone(p.Init(&ev, &out))
	steps := []struct {
		name   string
		ev     []byte
		alerts []string
		status string
	}{
		{"warm before any case", temp(0, 12), nil, ""},
		{"cases a, b on", sdk.AppendEvent(nil, sdk.KindAggregate, 0, base+100*sec, 0, 0, 0, "case-a", "case-b"), nil, ""},
		{"still warm", temp(200, 12), nil, ""},
		{"cool", temp(250, 5), nil, ""},
		{"case c on", sdk.AppendEvent(nil, sdk.KindAggregate, 0, base+300*sec, 0, 0, 0, "case-c"), nil, ""},
		{"a off", sdk.AppendEvent(nil, sdk.KindDisaggregate, 0, base+350*sec, 0, 0, 0, "case-a"), []string{CodeCaseReleased}, ""},
		{"warm", temp(400, 9), nil, ""},
		{"b over budget", temp(550, 9), []string{CodeCaseCompromised}, "compromised"},
		{"delivered stays compromised", sdk.AppendEvent(nil, sdk.KindStatus, 0, base+560*sec, 0, 0, 0, "delivered"), nil, "compromised"},
		{"b off", sdk.AppendEvent(nil, sdk.KindDisaggregate, 0, base+600*sec, 0, 0, 0, "case-b", "case-x"), []string{CodeCaseReleased}, ""},
	}
	for _, s := range steps {
		if err := ev.Decode(s.ev); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		state = slices.Clone(p.Apply(state, &ev, &out))
		var codes []string
		for _, a := range out.Alerts() {
			codes = append(codes, a.Code)
		}
		if !slices.Equal(codes, s.alerts) || out.Status() != s.status {
			t.Fatalf("%s: alerts %v status %q, want %v %q (%v)", s.name, codes, out.Status(), s.alerts, s.status, out.Alerts())
		}
	}
	out.Reset()
	p.View(state, &out)
	var v struct {
		Cases []struct {
			ID   string
			OutS float64 `json:"time_out_of_band_s"`
		}
		Released int
	}
	if err := json.Unmarshal(out.View(), &v); err != nil {
		t.Fatal(err)
	}
	// case-c: on at 300, warm from 400 to 600.
	if len(v.Cases) != 1 || v.Cases[0].ID != "case-c" || v.Cases[0].OutS != 200 || v.Released != 2 {
		t.Fatalf("view %s", out.View())
	}
}
