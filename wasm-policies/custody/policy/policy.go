// Package policy is the chain-of-custody contract: the core of the custody
// reference contract, without build constraints.
//
// Params (JSON):
//
//	{"parties": ["acme", "carrier-1", "carrier-2", "pharmacy"],
//	 "transfers": {"acme": ["carrier-1"], "carrier-1": ["carrier-2", "pharmacy"], "carrier-2": ["pharmacy"]},
//	 "handoff_deadline_s": 7200}
//
// parties, if given, lists who may ever hold the asset (the first custodian
// too: a create event naming another is rejected). transfers, if given,
// lists for each custodian to whom it may hand over; a custody event
// outside it is rejected (the runtime sends it to custos.dlq.contract_rejected
// and the custodian does not change). With handoff_deadline_s > 0 every
// custodian must pass the asset on (custody event) or deliver it (status
// delivered or closed) within that time: when the deadline passes, the
// timer "handoff" raises handoff_overdue (warning); when the next custody
// event finally comes, the time between the deadline and it is a gap in
// custody — nobody was accountable — and raises custody_gap (critical).
//
// Times are event times: a custody or status event carries the command's
// ts (or the time custos received it). The handoff timer is an event-time
// timer, so handoff_overdue comes when the twin's watermark passes the
// deadline — on the first event stamped after it — never by the server's
// clock, and replays give the same alerts. Late events: a custody event
// older than the current custodian's takeover is rejected (the chain of
// custody is kept in time order; such a transfer needs a correcting
// transfer, not a rewrite). The state is JSON (version 1).
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
	Name    = "custody"
	Version = "1.0.0"
)

// Alert codes.
const (
	CodeHandoffOverdue = "handoff_overdue"
	CodeGap            = "custody_gap"
	CodeTransfer       = "custody_transfer"
)

// TimerHandoff is the handoff deadline timer.
const TimerHandoff = "handoff"

// Leg is one custodian's time with the asset.
type Leg struct {
	Party  string `json:"party"`
	FromNs int64  `json:"from_ns"`
}

// State is the contract state.
type State struct {
	V          int                 `json:"v"`
	Parties    []string            `json:"parties,omitempty"`
	Transfers  map[string][]string `json:"transfers,omitempty"`
	HandoffNs  int64               `json:"handoff_ns"`
	Custodian  string              `json:"custodian"`
	DeadlineNs int64               `json:"deadline_ns"` // 0: none pending
	Overdue    bool                `json:"overdue"`
	Chain      []Leg               `json:"chain"`
	Gaps       int                 `json:"gaps"`
	GapNs      int64               `json:"gap_ns"`
	Done       bool                `json:"done"` // delivered or closed
}

type params struct {
	Parties   []string            `json:"parties"`
	Transfers map[string][]string `json:"transfers"`
	Handoff   float64             `json:"handoff_deadline_s"`
}

// Policy implements sdk.Contract and sdk.Viewer.
type Policy struct{}

func encode(st *State) []byte { return jsonstate.Encode(st) }

func decode(state []byte) *State { return jsonstate.Decode[State]("custody", state, 1) }

// Version is the layout version of the state (jsonstate.Versioned).
func (st *State) Version() int { return st.V }

// Init parses params and starts the first leg.
func (Policy) Init(ev *sdk.Event, out *sdk.Output) []byte {
	var pr params
	if err := json.Unmarshal(ev.Field(sdk.FieldParams), &pr); err != nil {
		out.Reject("custody: invalid params: " + err.Error())
		return nil
	}
	if pr.Handoff < 0 || pr.Handoff > 1e9 || math.IsNaN(pr.Handoff) {
		out.Reject("custody: invalid params: handoff_deadline_s must be in [0, 1e9]")
		return nil
	}
	st := &State{V: 1, Parties: pr.Parties, Transfers: pr.Transfers, HandoffNs: int64(pr.Handoff * 1e9)}
	froms := make([]string, 0, len(pr.Transfers))
	for from := range pr.Transfers {
		froms = append(froms, from)
	}
	slices.Sort(froms) // map order must not reach the output
	for _, from := range froms {
		for _, to := range append([]string{from}, pr.Transfers[from]...) {
			if len(st.Parties) > 0 && !slices.Contains(st.Parties, to) {
				out.Reject("custody: invalid params: transfers name " + strconv.Quote(to) + ", not one of the parties")
				return nil
			}
		}
	}
	st.Custodian = ev.FieldString(sdk.FieldCustodian)
	if st.Custodian != "" {
		if len(st.Parties) > 0 && !slices.Contains(st.Parties, st.Custodian) {
			out.Reject("custody: first custodian " + strconv.Quote(st.Custodian) + " is not one of the parties")
			return nil
		}
		st.Chain = []Leg{{Party: st.Custodian, FromNs: ev.Time}}
		st.startLeg(ev.Time, out)
	}
	out.SetView(view(out.ViewBuffer(), st))
	return encode(st)
}

func (st *State) startLeg(t int64, out *sdk.Output) {
	st.Overdue = false
	if st.HandoffNs > 0 {
		st.DeadlineNs = t + st.HandoffNs
		out.SetTimer(TimerHandoff, st.DeadlineNs)
	}
}

// Apply applies one event.
func (Policy) Apply(state []byte, ev *sdk.Event, out *sdk.Output) []byte {
	st := decode(state)
	switch ev.Kind {
	case sdk.KindCustody:
		from, to := string(ev.Field(sdk.FieldFrom)), string(ev.Field(sdk.FieldTo))
		if st.Done {
			out.Reject("custody: the asset was delivered; no more transfers")
			return state
		}
		if len(st.Parties) > 0 && !slices.Contains(st.Parties, to) {
			out.Reject("custody: " + strconv.Quote(to) + " is not one of the parties")
			return state
		}
		if st.Transfers != nil && from != "" && !slices.Contains(st.Transfers[from], to) {
			out.Reject("custody: transfer from " + strconv.Quote(from) + " to " + strconv.Quote(to) + " is not allowed by params")
			return state
		}
		if n := len(st.Chain); n > 0 && ev.Time < st.Chain[n-1].FromNs {
			out.Reject("custody: transfer to " + strconv.Quote(to) + " is older than " + strconv.Quote(st.Chain[n-1].Party) + "'s takeover")
			return state
		}
		if st.DeadlineNs > 0 && ev.Time > st.DeadlineNs {
			gap := ev.Time - st.DeadlineNs
			st.Gaps++
			st.GapNs += gap
			out.Alert(sdk.Critical, CodeGap, "gap in custody of "+secs(gap)+" s: "+from+"'s handoff deadline passed before "+to+" took over")
		}
		out.Alert(sdk.Info, CodeTransfer, "custody passed from "+orNobody(from)+" to "+to)
		st.Custodian = to
		st.Chain = append(st.Chain, Leg{Party: to, FromNs: ev.Time})
		st.startLeg(ev.Time, out)
	case sdk.KindTimer:
		if string(ev.Field(sdk.FieldTimerName)) != TimerHandoff || st.DeadlineNs == 0 || ev.Time != st.DeadlineNs || st.Done {
			return state
		}
		st.Overdue = true
		out.Alert(sdk.Warning, CodeHandoffOverdue, orNobody(st.Custodian)+" held the asset past its handoff deadline")
	case sdk.KindStatus:
		s := string(ev.Field(sdk.FieldStatus))
		if s != "delivered" && s != "closed" {
			return state
		}
		if st.DeadlineNs > 0 {
			out.CancelTimer(TimerHandoff)
		}
		st.Done, st.DeadlineNs, st.Overdue = true, 0, false
	default:
		return state
	}
	return encode(st)
}

// View renders the JSON view.
func (Policy) View(state []byte, out *sdk.Output) {
	out.SetView(view(out.ViewBuffer(), decode(state)))
}

func view(b []byte, st *State) []byte {
	type v struct {
		Custodian string   `json:"custodian"`
		Chain     []string `json:"chain"`
		Gaps      int      `json:"gaps"`
		GapS      float64  `json:"gap_s"`
		Overdue   bool     `json:"overdue"`
		Deadline  *int64   `json:"handoff_deadline_ns,omitempty"`
		Done      bool     `json:"done"`
	}
	x := v{Custodian: st.Custodian, Chain: []string{}, Gaps: st.Gaps, GapS: float64(st.GapNs) / 1e9, Overdue: st.Overdue, Done: st.Done}
	for _, l := range st.Chain {
		x.Chain = append(x.Chain, l.Party)
	}
	if st.DeadlineNs > 0 {
		x.Deadline = &st.DeadlineNs
	}
	j, err := json.Marshal(x)
	if err != nil {
		panic(err)
	}
	return append(b, j...)
}

func secs(ns int64) string { return strconv.FormatFloat(float64(ns)/1e9, 'f', -1, 64) }

func orNobody(p string) string {
	if p == "" {
		return "nobody"
	}
	return p
}
