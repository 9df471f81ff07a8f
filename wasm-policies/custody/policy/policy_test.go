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

const testParams = `{"parties":["acme","carrier-1","carrier-2","pharmacy"],"transfers":{"acme":["carrier-1"],"carrier-1":["carrier-2","pharmacy"],"carrier-2":["pharmacy"]},"handoff_deadline_s":3600}`

func custody(at int64, from, to string) []byte {
	return sdk.AppendEvent(nil, sdk.KindCustody, 0, base+at*sec, 0, 0, 0, from, to)
}

func TestChainOfCustody(t *testing.T) {
	var p Policy
	var ev sdk.Event
	var out sdk.Output
	ev.Decode(sdk.AppendEvent(nil, sdk.KindCreate, 0, base, 1, 0, 0, "shipment", testParams, "acme", ""))
	state := slices.Clone(p.Init(&ev, &out))
	if out.Rejected() != "" || len(out.Timers()) != 1 || out.Timers()[0].At != base+3600*sec {
		t.Fatalf("init: %q %v", out.Rejected(), out.Timers())
	}
	steps := []struct {
		name   string
		ev     []byte
		alerts []string
		reject string
	}{
		{"allowed", custody(600, "acme", "carrier-1"), []string{CodeTransfer}, ""},
		{"not allowed", custody(700, "carrier-1", "acme"), nil, "not allowed by params"},
		{"unknown party", custody(700, "carrier-1", "mallory"), nil, "not one of the parties"},
		{"deadline passes", sdk.AppendEvent(nil, sdk.KindTimer, 0, base+4200*sec, 0, 0, 0, TimerHandoff), []string{CodeHandoffOverdue}, ""},
		{"stale timer", sdk.AppendEvent(nil, sdk.KindTimer, 0, base+1000*sec, 0, 0, 0, TimerHandoff), nil, ""},
		{"late handoff is a gap", custody(5000, "carrier-1", "carrier-2"), []string{CodeGap, CodeTransfer}, ""},
		{"older than the takeover", custody(4900, "carrier-2", "pharmacy"), nil, "older than \"carrier-2\"'s takeover"},
		{"in time", custody(6000, "carrier-2", "pharmacy"), []string{CodeTransfer}, ""},
		{"delivered", sdk.AppendEvent(nil, sdk.KindStatus, 0, base+6500*sec, 0, 0, 0, "delivered"), nil, ""},
		{"after delivery", custody(7000, "pharmacy", "acme"), nil, "delivered"},
	}
	for _, s := range steps {
		if err := ev.Decode(s.ev); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		next := slices.Clone(p.Apply(state, &ev, &out))
		var codes []string
		for _, a := range out.Alerts() {
			codes = append(codes, a.Code)
		}
		if !slices.Equal(codes, s.alerts) || !strings.Contains(out.Rejected(), s.reject) || (s.reject == "") != (out.Rejected() == "") {
			t.Fatalf("%s: alerts %v reject %q, want %v %q", s.name, codes, out.Rejected(), s.alerts, s.reject)
		}
		if s.reject == "" {
			state = next
		}
	}
	out.Reset()
	p.View(state, &out)
	var v struct {
		Custodian string
		Chain     []string
		Gaps      int
		GapS      float64 `json:"gap_s"`
		Done      bool
	}
	if err := json.Unmarshal(out.View(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Custodian != "pharmacy" || strings.Join(v.Chain, ",") != "acme,carrier-1,carrier-2,pharmacy" || v.Gaps != 1 || v.GapS != 800 || !v.Done {
		t.Fatalf("view %s", out.View())
	}
}

func TestInitRejects(t *testing.T) {
	for _, tt := range []struct{ params, custodian string }{
		{testParams, "mallory"},
		{`{"parties":["a"],"transfers":{"a":["b"]}}`, "a"},
		{`{"handoff_deadline_s":-1}`, ""},
		{`[]`, ""},
	} {
		var p Policy
		var ev sdk.Event
		var out sdk.Output
		ev.Decode(sdk.AppendEvent(nil, sdk.KindCreate, 0, base, 1, 0, 0, "shipment", tt.params, tt.custodian, ""))
		p.Init(&ev, &out)
		if out.Rejected() == "" {
			t.Errorf("%s / %s accepted", tt.params, tt.custodian)
		}
	}
}
