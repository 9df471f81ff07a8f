// Package policy is the humidity and shock contract: the core of the
// humidshock reference contract, without build constraints (tested
// natively, run in the guest).
//
// Params (JSON): {"max_rh":65,"humidity_budget_s":3600,"max_g":4,"max_shocks":3};
// absent keys take those defaults.
//
// Humidity is step-held like coldchain's temperature: the interval up to a
// humidity reading counts as above the limit iff the previous reading was
// above max_rh. Crossing above raises humidity_high (warning), back to or
// under the limit humidity_ok (info); when the time above reaches the
// budget (if > 0), humidity_budget_exceeded (critical) and status
// "compromised". Every shock reading over max_g raises shock (warning); the
// max_shocks-th one raises shock_limit_exceeded (critical) and status
// "compromised". A compromised twin stays compromised on later status
// events (except closed). Late humidity readings (older than the last) are
// ignored. The state is JSON (version 1). Twins can be upgraded to this
// contract from a humidshock build with the same state (Migrate).
package policy

import (
	"encoding/json"
	"math"
	"strconv"

	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
	"github.com/custos-dev/custos/wasm-policies/sdk/go/migrate"
)

// Name and Version as registered.
const (
	Name    = "humidshock"
	Version = "1.0.0"
)

// Alert codes.
const (
	CodeHumidityHigh   = "humidity_high"
	CodeHumidityOK     = "humidity_ok"
	CodeHumidityBudget = "humidity_budget_exceeded"
	CodeShock          = "shock"
	CodeShockLimit     = "shock_limit_exceeded"
)

// State is the contract state.
type State struct {
	V          int     `json:"v"`
	MaxRH      float64 `json:"max_rh"`
	BudgetNs   int64   `json:"budget_ns"`
	MaxG       float64 `json:"max_g"`
	MaxShocks  int     `json:"max_shocks"`
	RH         float64 `json:"rh"`
	HasRH      bool    `json:"has_rh"`
	LastNs     int64   `json:"last_ns"`
	AboveNs    int64   `json:"above_ns"`
	Humid      bool    `json:"humid"`
	Shocks     int     `json:"shocks"`
	PeakG      float64 `json:"peak_g"`
	Compromise bool    `json:"compromised"`
}

type params struct {
	MaxRH     *float64 `json:"max_rh"`
	Budget    *float64 `json:"humidity_budget_s"`
	MaxG      *float64 `json:"max_g"`
	MaxShocks *int     `json:"max_shocks"`
}

// Policy implements sdk.Contract and sdk.Viewer.
type Policy struct{ buf []byte }

func (p *Policy) encode(st *State) []byte {
	b, err := json.Marshal(st)
	if err != nil {
		panic(err)
	}
	p.buf = b
	return b
}

// Init parses params.
func (p *Policy) Init(ev *sdk.Event, out *sdk.Output) []byte {
	st := State{V: 1, MaxRH: 65, BudgetNs: 3600e9, MaxG: 4, MaxShocks: 3}
	var pr params
	if err := json.Unmarshal(ev.Field(sdk.FieldParams), &pr); err != nil {
		out.Reject("humidshock: invalid params: " + err.Error())
		return nil
	}
	if pr.MaxRH != nil {
		st.MaxRH = *pr.MaxRH
	}
	if pr.Budget != nil {
		st.BudgetNs = int64(*pr.Budget * 1e9)
	}
	if pr.MaxG != nil {
		st.MaxG = *pr.MaxG
	}
	if pr.MaxShocks != nil {
		st.MaxShocks = *pr.MaxShocks
	}
	if st.MaxRH <= 0 || st.MaxRH > 100 || st.BudgetNs < 0 || st.MaxG <= 0 || st.MaxShocks < 1 {
		out.Reject("humidshock: invalid params: need 0 < max_rh ≤ 100, humidity_budget_s ≥ 0, max_g > 0, max_shocks ≥ 1")
		return nil
	}
	st.LastNs = ev.Time
	out.SetView(view(out.ViewBuffer(), &st))
	return p.encode(&st)
}

// Apply applies one event.
func (p *Policy) Apply(state []byte, ev *sdk.Event, out *sdk.Output) []byte {
	var st State
	if err := json.Unmarshal(state, &st); err != nil || st.V != 1 {
		panic("humidshock: corrupt state")
	}
	switch ev.Kind {
	case sdk.KindReading:
		v := ev.Value
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out.Reject("humidshock: value is not a finite number")
			return state
		}
		switch ev.Type {
		case sdk.TypeHumidity:
			if st.HasRH && ev.Time < st.LastNs {
				return state // late
			}
			if st.HasRH && st.RH > st.MaxRH {
				st.AboveNs += ev.Time - st.LastNs
			}
			st.RH, st.HasRH, st.LastNs = v, true, ev.Time
			if !st.Compromise && st.BudgetNs > 0 && st.AboveNs >= st.BudgetNs {
				st.Compromise = true
				out.Alert(sdk.Critical, CodeHumidityBudget, "time above "+num(st.MaxRH)+" %RH reached "+num(float64(st.AboveNs)/1e9)+" s, the budget is "+num(float64(st.BudgetNs)/1e9)+" s")
				out.SetStatus("compromised")
			}
			switch {
			case v > st.MaxRH && !st.Humid:
				st.Humid = true
				out.Alert(sdk.Warning, CodeHumidityHigh, "humidity "+num(v)+" %RH over "+num(st.MaxRH)+" %RH")
			case v <= st.MaxRH && st.Humid:
				st.Humid = false
				out.Alert(sdk.Info, CodeHumidityOK, "humidity "+num(v)+" %RH back under "+num(st.MaxRH)+" %RH")
			}
		case sdk.TypeShock:
			st.PeakG = max(st.PeakG, v)
			if v > st.MaxG {
				st.Shocks++
				out.Alert(sdk.Warning, CodeShock, "shock of "+num(v)+" g over "+num(st.MaxG)+" g ("+strconv.Itoa(st.Shocks)+" of "+strconv.Itoa(st.MaxShocks)+")")
				if st.Shocks == st.MaxShocks && !st.Compromise {
					st.Compromise = true
					out.Alert(sdk.Critical, CodeShockLimit, strconv.Itoa(st.Shocks)+" shocks over "+num(st.MaxG)+" g")
					out.SetStatus("compromised")
				}
			}
		default:
			return state
		}
	case sdk.KindStatus:
		if st.Compromise && string(ev.Field(sdk.FieldStatus)) != "closed" {
			out.SetStatus("compromised")
		}
		return state
	default:
		return state
	}
	return p.encode(&st)
}

// Migrate takes a twin over from another module (custos_migrate): a
// humidshock state of version 1 is kept as it is; anything else is
// refused, and the twin stays on its module.
func (p *Policy) Migrate(state []byte, ev *sdk.Event, out *sdk.Output) []byte {
	var st State
	if err := json.Unmarshal(state, &st); err != nil || st.V != 1 {
		out.Reject("humidshock: cannot migrate a state of " + strconv.Itoa(len(state)) + " bytes from module " +
			string(ev.Field(migrate.FieldFromModule)) + " (not a humidshock state)")
		return nil
	}
	out.SetView(view(out.ViewBuffer(), &st))
	return state
}

// View renders the JSON view.
func (p *Policy) View(state []byte, out *sdk.Output) {
	var st State
	if err := json.Unmarshal(state, &st); err != nil {
		panic("humidshock: corrupt state")
	}
	out.SetView(view(out.ViewBuffer(), &st))
}

func view(b []byte, st *State) []byte {
	b = append(b, `{"humidity_rh":`...)
	if st.HasRH {
		b = append(b, num(st.RH)...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"time_above_rh_s":`...)
	b = append(b, num(float64(st.AboveNs)/1e9)...)
	b = append(b, `,"shocks":`...)
	b = strconv.AppendInt(b, int64(st.Shocks), 10)
	b = append(b, `,"peak_g":`...)
	b = append(b, num(st.PeakG)...)
	b = append(b, `,"compromised":`...)
	b = strconv.AppendBool(b, st.Compromise)
	b = append(b, `,"limits":{"max_rh":`...)
	b = append(b, num(st.MaxRH)...)
	b = append(b, `,"max_g":`...)
	b = append(b, num(st.MaxG)...)
	return append(b, "}}"...)
}

// num formats v rounded to 3 decimals.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64) }
