// Package policy is the pallet contract: the core of the pallet reference
// contract, without build constraints. A pallet's sensors measure for
// every case on it: the contract keeps, per contained case, the time it
// spent out of the temperature band while on this pallet.
//
// Params (JSON): {"min_c":2,"max_c":8,"case_budget_s":1800}.
//
// Temperatures are step-held as in coldchain. An aggregate event puts
// cases on the pallet (they start accruing from that instant); a
// disaggregate event takes them off and reports their exposure on this
// pallet in case_released (info, or warning if the case is compromised).
// When a case's time out of band reaches case_budget_s (and is not zero),
// case_compromised (critical) names it, once. The pallet itself becomes
// "compromised" when one of its cases does, and stays so (reasserted on
// status events, except closed). Times are event times (aggregate and
// disaggregate carry the command's ts). Late readings: a temperature
// reading older than the last one is ignored, as in coldchain; exposure is
// computed on the in-order series. The state is JSON (version 1).
package policy

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"

	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
	"github.com/custos-dev/custos/wasm-policies/sdk/go/jsonstate"
)

// Name and Version as registered.
const (
	Name    = "pallet"
	Version = "1.0.0"
)

// Alert codes.
const (
	CodeCaseCompromised = "case_compromised"
	CodeCaseReleased    = "case_released"
)

// Case is one case on the pallet.
type Case struct {
	ID          string `json:"id"`
	SinceNs     int64  `json:"since_ns"`
	OutNs       int64  `json:"out_ns"`
	Compromised bool   `json:"compromised"`
}

// State is the contract state.
type State struct {
	V        int     `json:"v"`
	MinC     float64 `json:"min_c"`
	MaxC     float64 `json:"max_c"`
	BudgetNs int64   `json:"budget_ns"`
	Temp     float64 `json:"temp"`
	HasTemp  bool    `json:"has_temp"`
	LastNs   int64   `json:"last_ns"`
	Cases    []Case  `json:"cases"`
	Released int     `json:"released"`
	// Compromised: a case on the pallet was compromised (never reverts).
	Compromised bool `json:"compromised"`
}

type params struct {
	MinC   *float64 `json:"min_c"`
	MaxC   *float64 `json:"max_c"`
	Budget *float64 `json:"case_budget_s"`
}

// Policy implements sdk.Contract and sdk.Viewer.
type Policy struct{}

func encode(st *State) []byte { return jsonstate.Encode(st) }

func decode(state []byte) *State { return jsonstate.Decode[State]("pallet", state, 1) }

// Version is the layout version of the state (jsonstate.Versioned).
func (st *State) Version() int { return st.V }

// Init parses params.
func (Policy) Init(ev *sdk.Event, out *sdk.Output) []byte {
	var pr params
	if err := json.Unmarshal(ev.Field(sdk.FieldParams), &pr); err != nil {
		out.Reject("pallet: invalid params: " + err.Error())
		return nil
	}
	st := &State{V: 1, MinC: 2, MaxC: 8, BudgetNs: 1800e9, Cases: []Case{}, LastNs: ev.Time}
	if pr.MinC != nil {
		st.MinC = *pr.MinC
	}
	if pr.MaxC != nil {
		st.MaxC = *pr.MaxC
	}
	if pr.Budget != nil {
		if *pr.Budget < 0 || *pr.Budget > 1e9 {
			out.Reject("pallet: invalid params: case_budget_s must be in [0, 1e9]")
			return nil
		}
		st.BudgetNs = int64(*pr.Budget * 1e9)
	}
	if !(st.MinC < st.MaxC) {
		out.Reject("pallet: invalid params: need min_c < max_c")
		return nil
	}
	out.SetView(view(out.ViewBuffer(), st))
	return encode(st)
}

// accrue adds [LastNs, t) at the held temperature to every case on the
// pallet, and raises case_compromised for those that reach the budget.
func (st *State) accrue(t int64, out *sdk.Output) {
	if st.HasTemp && t > st.LastNs && (st.Temp < st.MinC || st.Temp > st.MaxC) {
		for i := range st.Cases {
			c := &st.Cases[i]
			c.OutNs += t - max(st.LastNs, c.SinceNs)
			if !c.Compromised && st.BudgetNs > 0 && c.OutNs >= st.BudgetNs {
				c.Compromised = true
				out.Alert(sdk.Critical, CodeCaseCompromised, "case "+c.ID+": "+secs(c.OutNs)+" s out of band on this pallet reached the budget of "+secs(st.BudgetNs)+" s")
			}
		}
	}
	if t > st.LastNs {
		st.LastNs = t
	}
}

func (st *State) compromised() bool {
	return slices.ContainsFunc(st.Cases, func(c Case) bool { return c.Compromised })
}

// Apply applies one event.
func (Policy) Apply(state []byte, ev *sdk.Event, out *sdk.Output) []byte {
	st := decode(state)
	was := st.Compromised
	switch ev.Kind {
	case sdk.KindReading:
		if ev.Type != sdk.TypeTemperature {
			return state
		}
		if math.IsNaN(ev.Value) || math.IsInf(ev.Value, 0) {
			out.Reject("pallet: temperature is not a finite number")
			return state
		}
		if st.HasTemp && ev.Time < st.LastNs {
			return state // late
		}
		st.accrue(ev.Time, out)
		st.Temp, st.HasTemp = ev.Value, true
	case sdk.KindAggregate:
		st.accrue(ev.Time, out)
		for i := range ev.NumFields() {
			id := ev.FieldString(i)
			if !slices.ContainsFunc(st.Cases, func(c Case) bool { return c.ID == id }) {
				st.Cases = append(st.Cases, Case{ID: id, SinceNs: ev.Time})
			}
		}
	case sdk.KindDisaggregate:
		st.accrue(ev.Time, out)
		for i := range ev.NumFields() {
			id := ev.FieldString(i)
			j := slices.IndexFunc(st.Cases, func(c Case) bool { return c.ID == id })
			if j < 0 {
				continue
			}
			c := st.Cases[j]
			sev := sdk.Info
			if c.Compromised {
				sev = sdk.Warning
			}
			out.Alert(sev, CodeCaseReleased, "case "+c.ID+" off the pallet after "+secs(ev.Time-c.SinceNs)+" s, "+secs(c.OutNs)+" s of it out of band")
			st.Cases = slices.Delete(st.Cases, j, j+1)
			st.Released++
		}
	case sdk.KindStatus:
		if st.Compromised && string(ev.Field(sdk.FieldStatus)) != "closed" {
			out.SetStatus("compromised")
		}
		return state
	default:
		return state
	}
	if st.compromised() && !was {
		st.Compromised = true
		out.SetStatus("compromised")
	}
	return encode(st)
}

// View renders the JSON view.
func (Policy) View(state []byte, out *sdk.Output) {
	out.SetView(view(out.ViewBuffer(), decode(state)))
}

func view(b []byte, st *State) []byte {
	type cv struct {
		ID          string  `json:"id"`
		OutS        float64 `json:"time_out_of_band_s"`
		Compromised bool    `json:"compromised"`
	}
	type v struct {
		Temp     *float64 `json:"temperature_c"`
		Cases    []cv     `json:"cases"`
		Released int      `json:"released"`
	}
	x := v{Cases: []cv{}, Released: st.Released}
	if st.HasTemp {
		x.Temp = &st.Temp
	}
	for _, c := range st.Cases {
		x.Cases = append(x.Cases, cv{c.ID, float64(c.OutNs) / 1e9, c.Compromised})
	}
	j, err := json.Marshal(x)
	if err != nil {
		panic(err)
	}
	return append(b, j...)
}

func secs(ns int64) string { return strconv.FormatFloat(float64(ns)/1e9, 'f', -1, 64) }
