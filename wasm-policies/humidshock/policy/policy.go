// Package policy is the humidity and shock contract: the core of the
// humidshock reference contract, without build constraints (tested
// natively, run in the guest).
//
// Params (JSON): {"max_rh":65,"humidity_budget_s":3600,"max_g":4,"max_shocks":3,
// "door_open_max_s":0}; absent keys take those defaults.
//
// Humidity is step-held like coldchain's temperature: the interval up to a
// humidity reading counts as above the limit iff the previous reading was
// above max_rh. Crossing above raises humidity_high (warning), back to or
// under the limit humidity_ok (info); when the time above reaches the
// budget (if > 0), humidity_budget_exceeded (critical) and status
// "compromised". Every shock reading over max_g raises shock (warning); the
// max_shocks-th one raises shock_limit_exceeded (critical) and status
// "compromised". A compromised twin stays compromised on later status
// events (except closed).
//
// Door (off unless door_open_max_s > 0): a door reading of 1 (open) while
// closed starts an opening and sets the event-time timer "door" at
// open + door_open_max_s; a 0 (closed) ends it and cancels the timer. If
// the timer fires — the twin's watermark reached the limit while the door
// was still open — door_open_too_long (warning) is raised. Door open
// 12:00:00, closed 12:00:10, limit 60 s: no alert, live or replayed, since
// the timer due 12:01:00 cannot fire before the 12:00:10 reading is
// applied. If another sensor's reading pushed the watermark past the limit
// before a close within it arrived (a LATE close), the alert was raised
// early; the close then raises door_alert_withdrawn (info) with the real
// duration.
//
// Everything is judged on event time. Late readings: a humidity reading
// older than the last humidity reading, or a door reading older than the
// last door reading, is ignored (the step-held series cannot take it
// without its neighbours); the runtime's allowed-lateness window puts
// out-of-order readings within it back in order first. Shocks are
// instants: they count whenever they arrive, late or not. The state is
// JSON (version 1); the door fields are absent while unused, so twins
// without a door limit keep the states they had before it. Twins can be
// upgraded to this contract from a humidshock build with the same state
// (Migrate).
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
	CodeDoorOpen       = "door_open_too_long"
	CodeDoorWithdrawn  = "door_alert_withdrawn"
)

// TimerDoor is the event-time timer of the door limit.
const TimerDoor = "door"

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
	// Door limit (all absent while door_open_max_s is 0).
	DoorMaxNs   int64 `json:"door_max_ns,omitempty"`
	DoorOpen    bool  `json:"door_open,omitempty"`
	DoorSinceNs int64 `json:"door_since_ns,omitempty"`
	DoorLastNs  int64 `json:"door_last_ns,omitempty"`
	DoorAlerted bool  `json:"door_alerted,omitempty"`
}

type params struct {
	MaxRH     *float64 `json:"max_rh"`
	Budget    *float64 `json:"humidity_budget_s"`
	MaxG      *float64 `json:"max_g"`
	MaxShocks *int     `json:"max_shocks"`
	DoorMax   *float64 `json:"door_open_max_s"`
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
	if pr.DoorMax != nil {
		if !(*pr.DoorMax >= 0 && *pr.DoorMax <= 1e9) {
			out.Reject("humidshock: invalid params: door_open_max_s must be in [0, 1e9]")
			return nil
		}
		st.DoorMaxNs = int64(*pr.DoorMax * 1e9)
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
		case sdk.TypeDoor:
			if st.DoorMaxNs == 0 || (st.DoorLastNs != 0 && ev.Time < st.DoorLastNs) {
				return state // no door limit, or late
			}
			st.door(ev.Time, v != 0, out)
		default:
			return state
		}
	case sdk.KindTimer:
		if string(ev.Field(sdk.FieldTimerName)) != TimerDoor || !st.DoorOpen || ev.Time < st.DoorSinceNs+st.DoorMaxNs {
			return state
		}
		st.DoorAlerted = true
		out.Alert(sdk.Warning, CodeDoorOpen, "door open since "+num(float64(ev.Time-st.DoorSinceNs)/1e9)+" s, over the limit of "+num(float64(st.DoorMaxNs)/1e9)+" s")
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

// door applies a door reading at t (open or closed).
func (st *State) door(t int64, open bool, out *sdk.Output) {
	st.DoorLastNs = t
	switch {
	case open && !st.DoorOpen:
		st.DoorOpen, st.DoorSinceNs, st.DoorAlerted = true, t, false
		out.SetTimer(TimerDoor, t+st.DoorMaxNs)
	case !open && st.DoorOpen:
		d := t - st.DoorSinceNs
		if st.DoorAlerted && d < st.DoorMaxNs {
			out.Alert(sdk.Info, CodeDoorWithdrawn, "door closed after "+num(float64(d)/1e9)+" s, within the limit of "+num(float64(st.DoorMaxNs)/1e9)+
				" s: the door_open_too_long alert came before this reading")
		}
		st.DoorOpen, st.DoorSinceNs, st.DoorAlerted = false, 0, false
		out.CancelTimer(TimerDoor)
	}
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
