package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

func TestRenderWatch(t *testing.T) {
	view := func(s string) json.RawMessage { return json.RawMessage(s) }
	for _, c := range []struct {
		name   string
		tw     twin.Twin
		temps  []float64
		alerts []twin.Alert
		want   []string
		not    []string
	}{
		{name: "in band", tw: twin.Twin{ID: "PAL-1", Kind: "pallet", Status: "in_transit", Custodian: "coolways",
			View: view(`{"temperature_c":5.2,"time_out_of_band_s":0,"mkt_c":5.1,"readings":3,"in_excursion":false,"excursion_budget_s":1800,"band":{"min_c":2,"max_c":8}}`)},
			temps: []float64{5, 5.2, 5.1},
			want:  []string{"PAL-1", ansiGreen + "IN_TRANSIT", "custodian coolways", ansiGreen + "5.2 °C", "(band 2–8 °C)", "MKT          5.1 °C", "0s of 30m0s budget", "none"},
			not:   []string{ansiRed}},
		{name: "excursion", tw: twin.Twin{ID: "PAL-2", Kind: "pallet", Status: "compromised", Alerts: 2,
			View: view(`{"temperature_c":12.5,"time_out_of_band_s":2400,"mkt_c":null,"readings":9,"in_excursion":true,"compromised":true,"excursion_budget_s":1800,"band":{"min_c":2,"max_c":8}}`)},
			temps: []float64{5, 12.5},
			alerts: []twin.Alert{{Twin: "PAL-2", N: 1, Severity: "warning", Code: "excursion_started", Message: "too warm", Time: time.Now()},
				{Twin: "PAL-2", N: 2, Severity: "critical", Code: "budget_exceeded", Message: "budget spent", Time: time.Now()}},
			want: []string{ansiRed + "COMPROMISED", ansiRed + "12.5 °C", "40m0s of 30m0s budget", "MKT          –", ansiRed + "critical", "budget_exceeded", ansiAmber + "warning", ansiRed + "█"}},
		{name: "had alerts", tw: twin.Twin{ID: "PAL-3", Status: "delivered", Alerts: 2, View: view(`{"temperature_c":5}`)},
			want: []string{ansiAmber + "DELIVERED"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			renderWatch(&b, &watchView{Twin: &c.tw, Temps: c.temps, Alerts: c.alerts}, 100)
			out := b.String()
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("view lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.not {
				if strings.Contains(out, w) {
					t.Errorf("view has %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestSparkline(t *testing.T) {
	s := sparkline([]float64{2, 5, 8, 10}, 2, 8)
	if got := strings.Count(s, ansiRed); got != 1 {
		t.Errorf("%d red marks, want 1 (for 10 °C): %q", got, s)
	}
	if !strings.HasPrefix(s, ansiGreen+"▁") || !strings.Contains(s, ansiRed+"█") {
		t.Errorf("sparkline %q: want the lowest as ▁ and 10 °C as a red █", s)
	}
}
