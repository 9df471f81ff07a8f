package contracts

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
	"github.com/custos-dev/custos/wasm-policies/coldchain/policy"
	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
)

func coldchain(t testing.TB, cfg Config) (*Host, twin.Contract) {
	return coldchainAt(t, cfg, "")
}

// coldchainAt is coldchain at a given built-in version ("": the default,
// the highest).
func coldchainAt(t testing.TB, cfg Config, version string) (*Host, twin.Contract) {
	t.Helper()
	h := newTestHost(t, cfg)
	ctx := context.Background()
	refs, err := h.RegisterBuiltins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := h.Resolve(ctx, policy.Name, version)
	if err != nil || version == "" && ref != refs[len(refs)-1] {
		t.Fatalf("resolve coldchain: %+v %v", ref, err)
	}
	c, err := h.Contract(ctx, ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return h, c
}

type ccStep struct {
	ev     twin.Event
	alerts string // comma-separated codes
	status string
}

func ccScenario() (twin.Event, []ccStep) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	create := twin.Event{Kind: twin.KindCreate, Time: t0, Fields: []string{"pallet", `{"min_c":2,"max_c":8,"excursion_budget_s":900}`, "acme", ""}}
	return create, []ccStep{
		{reading(1, at(0), 5), "", ""},
		{reading(2, at(100), 9), "excursion_started", ""},
		{reading(3, at(500), 7), "excursion_ended", ""},
		{twin.Event{Kind: twin.KindReading, Type: twin.TypeDoor, Time: at(550), Seq: 4, Value: 1, Fields: []string{"d1", ""}}, "", ""},
		{reading(5, at(600), 1), "excursion_started", ""},
		{twin.Event{Kind: twin.KindTimer, Time: at(1100), Seq: 6, Fields: []string{"budget"}}, "budget_exceeded", "compromised"},
		{reading(7, at(1200), 5), "excursion_ended", ""},
		{twin.Event{Kind: twin.KindStatus, Time: at(1300), Seq: 8, Fields: []string{"delivered"}}, "", "compromised"},
	}
}

// TestColdchainWASM runs the reference scenario through the ABI and checks
// alerts, status and view against the native build of the same policy.
func TestColdchainWASM(t *testing.T) {
	_, c := coldchain(t, Config{})
	ctx := context.Background()
	create, steps := ccScenario()
	out, err := c.Init(ctx, twin.Call{Twin: "pal-1", Time: create.Time}, encodeEvent(t, create))
	if err != nil {
		t.Fatal(err)
	}
	if out.Reject != "" || len(out.State) != policy.StateLen || !json.Valid(out.View) {
		t.Fatalf("init output %+v", out)
	}
	state := out.State

	var native policy.Policy
	var nev sdk.Event
	var nout sdk.Output
	nstate := append([]byte(nil), state...)
	for i, s := range steps {
		out, err := c.Apply(ctx, twin.Call{Twin: "pal-1", Seq: s.ev.Seq, Time: s.ev.Time}, state, encodeEvent(t, s.ev))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var codes []string
		for _, a := range out.Alerts {
			codes = append(codes, a.Code)
			want := map[string]string{"excursion_started": twin.SeverityWarning, "excursion_ended": twin.SeverityInfo, "budget_exceeded": twin.SeverityCritical}[a.Code]
			if a.Severity != want || a.Message == "" {
				t.Fatalf("step %d: alert %+v, want severity %s", i, a, want)
			}
		}
		if strings.Join(codes, ",") != s.alerts || out.Status != s.status {
			t.Fatalf("step %d: alerts %v status %q, want %q %q", i, codes, out.Status, s.alerts, s.status)
		}
		state = out.State

		if err := nev.Decode(encodeEvent(t, s.ev)); err != nil {
			t.Fatal(err)
		}
		nout.Reset()
		nstate = append(nstate[:0], native.Apply(nstate, &nev, &nout)...)
		wv, err := c.View(ctx, twin.Call{Twin: "pal-1", Seq: s.ev.Seq, Time: s.ev.Time}, state)
		if err != nil {
			t.Fatal(err)
		}
		nout.Reset()
		native.View(nstate, &nout)
		if !bytes.Equal(nout.View(), wv) || out.View != nil {
			t.Fatalf("step %d: wasm view %s, native %s (apply view %q)", i, wv, nout.View(), out.View)
		}
	}
	v, err := c.View(ctx, twin.Call{Twin: "pal-1", Seq: 8, Time: t0}, state)
	if err != nil {
		t.Fatal(err)
	}
	var view struct {
		Compromised bool    `json:"compromised"`
		OutOfBand   float64 `json:"time_out_of_band_s"`
		Readings    int     `json:"readings"`
		Other       int     `json:"other_readings"`
	}
	if err := json.Unmarshal(v, &view); err != nil {
		t.Fatal(err)
	}
	if !view.Compromised || view.OutOfBand != 1000 || view.Readings != 5 || view.Other != 1 {
		t.Fatalf("final view %s", v)
	}
}

// TestColdchainDeterministic replays the scenario on two hosts, with other
// twins' calls interleaved on one, and compares every state byte.
func TestColdchainDeterministic(t *testing.T) {
	ctx := context.Background()
	create, steps := ccScenario()
	replay := func(c twin.Contract, noise bool) [][]byte {
		out, err := c.Init(ctx, twin.Call{Twin: "pal-1", Time: create.Time}, encodeEvent(t, create))
		if err != nil {
			t.Fatal(err)
		}
		states := [][]byte{out.State}
		for i, s := range steps {
			if noise {
				ev := reading(uint64(i), t0.Add(-time.Hour), 40)
				if _, err := c.Apply(ctx, twin.Call{Twin: "noise", Seq: uint64(i), Time: ev.Time}, out.State, encodeEvent(t, ev)); err != nil {
					t.Fatal(err)
				}
			}
			out, err = c.Apply(ctx, twin.Call{Twin: "pal-1", Seq: s.ev.Seq, Time: s.ev.Time}, out.State, encodeEvent(t, s.ev))
			if err != nil {
				t.Fatal(err)
			}
			states = append(states, out.State)
		}
		return states
	}
	_, c1 := coldchain(t, Config{PoolSize: 1})
	_, c2 := coldchain(t, Config{PoolSize: 2})
	a, b := replay(c1, false), replay(c2, true)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("state %d differs:\n%x\n%x", i, a[i], b[i])
		}
	}
}

func TestColdchainRejectsBadParams(t *testing.T) {
	_, c := coldchain(t, Config{})
	ev := twin.Event{Kind: twin.KindCreate, Time: t0, Fields: []string{"pallet", `{"min_c":9,"max_c":3}`, "", ""}}
	out, err := c.Init(context.Background(), twin.Call{Twin: "x", Time: t0}, encodeEvent(t, ev))
	if err != nil || !strings.Contains(out.Reject, "min_c < max_c") {
		t.Fatalf("reject = %q, %v", out.Reject, err)
	}
}

// TestColdchainCorruptStateTraps checks that a corrupt state is a trap —
// in the Go build a Go panic, whose message the trap carries — and that the
// next call works.
func TestColdchainCorruptStateTraps(t *testing.T) {
	for _, version := range []string{"1.0.0", builtin.WATVersion} {
		t.Run(version, func(t *testing.T) {
			_, c := coldchainAt(t, Config{PoolSize: 1}, version)
			ctx := context.Background()
			ev := encodeEvent(t, reading(1, t0, 5))
			_, err := c.Apply(ctx, twin.Call{Twin: "x", Seq: 1, Time: t0}, []byte("garbage"), ev)
			var ce *twin.ContractError
			if !errorsAs(err, &ce) || ce.Kind != KindTrap || version == "1.0.0" && !strings.Contains(err.Error(), "corrupt state") {
				t.Fatalf("err = %v", err)
			}
			create := twin.Event{Kind: twin.KindCreate, Time: t0, Fields: []string{"pallet", "", "", ""}}
			out, err := c.Init(ctx, twin.Call{Twin: "x", Time: t0}, encodeEvent(t, create))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Apply(ctx, twin.Call{Twin: "x", Seq: 1, Time: t0}, out.State, ev); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRetainedBuiltinCompiledOnFirstUse: the Go build of coldchain, kept for
// twins created on it, is filed at start but compiled only when a twin
// needs it; then it runs like any module.
func TestRetainedBuiltinCompiledOnFirstUse(t *testing.T) {
	h := newTestHost(t, Config{})
	ctx := context.Background()
	if _, err := h.RegisterBuiltins(ctx); err != nil {
		t.Fatal(err)
	}
	goRef, err := h.Resolve(ctx, policy.Name, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	watRef, _ := h.Resolve(ctx, policy.Name, builtin.WATVersion)
	if h.Fuel(watRef.SHA256) == 0 {
		t.Fatal("the default build is not compiled at registration")
	}
	if h.Fuel(goRef.SHA256) != 0 {
		t.Fatal("the retained Go build was compiled at registration")
	}
	c, err := h.Contract(ctx, goRef.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if h.Fuel(goRef.SHA256) == 0 {
		t.Fatal("not compiled after Contract")
	}
	create := twin.Event{Kind: twin.KindCreate, Time: t0, Fields: []string{"pallet", "", "", ""}}
	out, err := c.Init(ctx, twin.Call{Twin: "x", Time: t0}, encodeEvent(t, create))
	if err != nil || len(out.State) == 0 {
		t.Fatalf("init on the retained build: %v", err)
	}
	if again, err := h.Contract(ctx, goRef.SHA256); err != nil || again != c {
		t.Fatalf("second Contract: %v, same module %v", err, again == c)
	}
}
