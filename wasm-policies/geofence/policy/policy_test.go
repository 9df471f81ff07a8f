package policy

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
)

const sec = int64(1e9)

var base = int64(1_780_000_000) * sec

// Amsterdam → Utrecht → Eindhoven.
const route = `{"corridor":[[52.37,4.89],[52.09,5.12],[51.44,5.47]],"width_km":5,"arrival_km":3}`

func fix(at int64, lat, lon float64) []byte {
	return sdk.AppendEvent(nil, sdk.KindReading, sdk.TypeLocation, base+at*sec, 0, lat, lon, "gps", "deg")
}

func TestDistance(t *testing.T) {
	// One degree of latitude is ~111.2 km.
	if d := Distance(52, 5, 53, 5); math.Abs(d-111.195) > 0.01 {
		t.Fatalf("1° of latitude = %v km", d)
	}
	c := [][2]float64{{52, 5}, {52, 6}}
	if d := DistanceToCorridor(52.1, 5.5, c); math.Abs(d-11.1195) > 0.01 {
		t.Fatalf("distance to the segment = %v", d)
	}
	if d := DistanceToCorridor(52, 4, c); math.Abs(d-Distance(52, 4, 52, 5)) > 1e-9 {
		t.Fatalf("distance beyond the segment's end = %v", d)
	}
}

func TestCorridor(t *testing.T) {
	var p Policy
	var ev sdk.Event
	var out sdk.Output
	ev.Decode(sdk.AppendEvent(nil, sdk.KindCreate, 0, base, 1, 0, 0, "truck", route, "", ""))
	state := slices.Clone(p.Init(&ev, &out))
	if out.Rejected() != "" {
		t.Fatal(out.Rejected())
	}
	steps := []struct {
		name   string
		ev     []byte
		alerts []string
	}{
		{"start", fix(0, 52.37, 4.89), nil},
		{"on the way", fix(600, 52.2, 5.03), nil},
		{"detour", fix(1200, 52.1, 5.4), []string{CodeLeft}},
		{"still out", fix(1500, 52.0, 5.5), nil},
		{"late fix ignored", fix(1400, 52.09, 5.12), nil},
		{"back", fix(1800, 51.8, 5.3), []string{CodeBack}},
		{"temperature ignored", sdk.AppendEvent(nil, sdk.KindReading, sdk.TypeTemperature, base+1900*sec, 0, 5, 0, "t", "CEL"), nil},
		{"arrived", fix(3000, 51.45, 5.46), []string{CodeArrived}},
		{"arrived once", fix(3100, 51.44, 5.47), nil},
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
		if !slices.Equal(codes, s.alerts) {
			t.Fatalf("%s: alerts %v, want %v", s.name, codes, s.alerts)
		}
	}
	out.Reset()
	p.View(state, &out)
	var v map[string]any
	if err := json.Unmarshal(out.View(), &v); err != nil {
		t.Fatal(err)
	}
	if v["exits"] != 1.0 || v["time_outside_s"] != 600.0 || v["arrived"] != true || v["in_corridor"] != true {
		t.Fatalf("view %s", out.View())
	}
}

func TestInitRejects(t *testing.T) {
	for _, params := range []string{`{}`, `{"corridor":[[91,0]]}`, `{"corridor":[[1,1]],"width_km":0}`, `{"corridor":"x"}`} {
		var p Policy
		var ev sdk.Event
		var out sdk.Output
		ev.Decode(sdk.AppendEvent(nil, sdk.KindCreate, 0, base, 1, 0, 0, "truck", params, "", ""))
		p.Init(&ev, &out)
		if out.Rejected() == "" {
			t.Errorf("%s accepted", params)
		}
	}
}
