// Package policy is the cold-chain policy core: the logic of the coldchain
// reference contract, without build constraints, so the same code runs in
// the WebAssembly module (wasm-policies/coldchain, built for wasip1) and
// natively (tests, and the "native Go" side of the ABI benchmark).
//
// # Rules
//
// Params (JSON, at create): {"min_c":2,"max_c":8,"excursion_budget_s":1800,
// "no_data_s":0}; absent keys take those defaults; min_c < max_c, a budget
// in [0, 1e9] and no_data_s in [0, 1e6] are required, otherwise the create
// event is rejected.
//
// Everything is judged on event time (the time each reading was measured),
// so a logger read out days later gives the same verdicts as live
// streaming. Temperatures are step-held: a reading's value holds until the
// next temperature reading (or a budget timer). The interval [t_{i-1}, t_i)
// counts as out of band iff reading i-1 was outside [min_c, max_c]
// (boundaries are in band). Mean kinetic temperature (USP <1079>,
// ΔH/R = 10,000 K) is time-weighted over the same intervals:
//
//	MKT = (ΔH/R) / -ln( Σ Δt_i·exp(-(ΔH/R)/T_{i-1}) / Σ Δt_i ) − 273.15,  T in kelvin
//
// and is undefined (null in the view) until two readings are apart in time.
//
// A reading outside the band while not in an excursion raises
// excursion_started (warning) and sets the event-time timer "budget" at
// the instant the budget would run out if the excursion went on; a reading
// back in band raises excursion_ended (info) and cancels it. When
// cumulative out-of-band time reaches the budget (and is not zero) — on a
// reading or on the budget timer — budget_exceeded (critical) is raised
// once and the status becomes "compromised". The contract re-asserts
// "compromised" on every later status event except "closed", so the
// verdict never reverts. The budget timer fires when the twin's watermark
// reaches it (a later reading of any type), never by the server's clock.
//
// Late readings: a temperature reading older than the last temperature
// reading (or budget timer) cannot be placed in the step-held series
// without the readings around it, which the contract does not keep; it is
// counted (late_readings) and left out of the budget and MKT, which stay
// those of the in-order series, and if it is outside the band it raises
// late_excursion (warning) so the gap is visible. (The runtime's
// allowed-lateness window puts readings that arrive out of order within it
// back in order before the contract sees them.) The LATE flag alone does
// not make a reading late here: a temperature reading newer than the last
// temperature reading is applied normally even if another sensor's reading
// moved the watermark past it.
//
// No data: with no_data_s > 0 the contract sets the processing-time timer
// "no_data" to no_data_s seconds (server clock) at create and again on
// every reading; when it fires — the device or its gateway has sent
// nothing for that long — it raises no_data (warning). It changes no
// state and is off by default.
//
// Apply does not render the view (custos_view does, when the runtime
// publishes); Init does.
//
// Non-temperature readings are counted (other_readings) and otherwise
// ignored. A NaN or infinite temperature is rejected.
package policy

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"

	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
)

// Name and Version of the policy as registered by the host.
const (
	Name    = "coldchain"
	Version = "1.0.0"
)

// Defaults for absent params.
const (
	DefaultMinC            = 2.0
	DefaultMaxC            = 8.0
	DefaultExcursionBudget = 1800.0 // seconds
	MaxNoData              = 1e6    // seconds, the largest no_data_s
)

// EnergyOverR is ΔH/R in kelvin for the MKT formula.
const EnergyOverR = 10000.0

// TimerBudget is the name of the timer that fires when the excursion
// budget would run out.
const TimerBudget = "budget"

// TimerNoData is the name of the processing-time timer of the no-data
// check.
const TimerNoData = "no_data"

// Alert codes.
const (
	CodeExcursionStarted = "excursion_started"
	CodeExcursionEnded   = "excursion_ended"
	CodeBudgetExceeded   = "budget_exceeded"
	CodeLateExcursion    = "late_excursion"
	CodeNoData           = "no_data"
)

// StateLen is the size of the encoded state.
const StateLen = 104

const stateVersion = 1

const (
	flagExcursion   = 1
	flagCompromised = 2
	flagHasReading  = 4
)

// State is the decoded contract state. Its encoding (StateLen bytes,
// little-endian) is: version u8 (1), flags u8 (1 in excursion, 2
// compromised, 4 has a reading), 2 zero bytes, no_data_s u32 (0 = off, so
// a twin without it has the state it had before the field), min_c f64, max_c f64,
// budget_ns i64, last_time i64 (Unix ns), last_temp f64, out_ns i64,
// excursion_start i64, mkt_num f64 (Σ Δt_s·exp(-10000/T)), mkt_den f64
// (Σ Δt_s), readings u64, other u64, late u64.
type State struct {
	Flags          uint8
	NoDataS        uint32
	MinC, MaxC     float64
	BudgetNs       int64
	LastTime       int64
	LastTemp       float64
	OutNs          int64
	ExcursionStart int64
	MKTNum, MKTDen float64
	Readings       uint64
	Other          uint64
	Late           uint64
}

// InExcursion reports whether the last temperature was out of band.
func (s *State) InExcursion() bool { return s.Flags&flagExcursion != 0 }

// Compromised reports whether the budget was exceeded.
func (s *State) Compromised() bool { return s.Flags&flagCompromised != 0 }

// MKT returns the mean kinetic temperature in °C and whether it is defined.
func (s *State) MKT() (float64, bool) {
	if s.MKTDen <= 0 || s.MKTNum <= 0 {
		return 0, false
	}
	return EnergyOverR/-math.Log(s.MKTNum/s.MKTDen) - 273.15, true
}

// Encode writes s into b (len(b) ≥ StateLen) and returns b[:StateLen].
func (s *State) Encode(b []byte) []byte {
	b = b[:StateLen]
	le := binary.LittleEndian
	b[0], b[1] = stateVersion, s.Flags
	clear(b[2:4])
	le.PutUint32(b[4:], s.NoDataS)
	le.PutUint64(b[8:], math.Float64bits(s.MinC))
	le.PutUint64(b[16:], math.Float64bits(s.MaxC))
	le.PutUint64(b[24:], uint64(s.BudgetNs))
	le.PutUint64(b[32:], uint64(s.LastTime))
	le.PutUint64(b[40:], math.Float64bits(s.LastTemp))
	le.PutUint64(b[48:], uint64(s.OutNs))
	le.PutUint64(b[56:], uint64(s.ExcursionStart))
	le.PutUint64(b[64:], math.Float64bits(s.MKTNum))
	le.PutUint64(b[72:], math.Float64bits(s.MKTDen))
	le.PutUint64(b[80:], s.Readings)
	le.PutUint64(b[88:], s.Other)
	le.PutUint64(b[96:], s.Late)
	return b
}

// Decode reads an encoded state; it reports false if b is not one.
func (s *State) Decode(b []byte) bool {
	if len(b) != StateLen || b[0] != stateVersion {
		return false
	}
	le := binary.LittleEndian
	s.Flags = b[1]
	s.NoDataS = le.Uint32(b[4:])
	s.MinC = math.Float64frombits(le.Uint64(b[8:]))
	s.MaxC = math.Float64frombits(le.Uint64(b[16:]))
	s.BudgetNs = int64(le.Uint64(b[24:]))
	s.LastTime = int64(le.Uint64(b[32:]))
	s.LastTemp = math.Float64frombits(le.Uint64(b[40:]))
	s.OutNs = int64(le.Uint64(b[48:]))
	s.ExcursionStart = int64(le.Uint64(b[56:]))
	s.MKTNum = math.Float64frombits(le.Uint64(b[64:]))
	s.MKTDen = math.Float64frombits(le.Uint64(b[72:]))
	s.Readings = le.Uint64(b[80:])
	s.Other = le.Uint64(b[88:])
	s.Late = le.Uint64(b[96:])
	return true
}

type params struct {
	MinC   *float64 `json:"min_c"`
	MaxC   *float64 `json:"max_c"`
	Budget *float64 `json:"excursion_budget_s"`
	NoData *float64 `json:"no_data_s"`
}

// Policy implements sdk.Contract and sdk.Viewer. The zero value is ready;
// it is not safe for concurrent use (it owns the state buffer it returns).
type Policy struct {
	buf [StateLen]byte
	st  State
}

// Init parses params and returns the initial state.
func (p *Policy) Init(ev *sdk.Event, out *sdk.Output) []byte {
	st := State{MinC: DefaultMinC, MaxC: DefaultMaxC, BudgetNs: int64(DefaultExcursionBudget * 1e9), LastTime: ev.Time}
	if raw := ev.Field(sdk.FieldParams); len(raw) > 0 && string(raw) != "null" {
		var pr params
		if err := json.Unmarshal(raw, &pr); err != nil {
			out.Reject("coldchain: invalid params: " + err.Error())
			return nil
		}
		if pr.MinC != nil {
			st.MinC = *pr.MinC
		}
		if pr.MaxC != nil {
			st.MaxC = *pr.MaxC
		}
		if pr.Budget != nil {
			if *pr.Budget < 0 || *pr.Budget > 1e9 || math.IsNaN(*pr.Budget) {
				out.Reject("coldchain: invalid params: excursion_budget_s must be in [0, 1e9]")
				return nil
			}
			st.BudgetNs = int64(*pr.Budget * 1e9)
		}
		if pr.NoData != nil {
			if !(*pr.NoData >= 0 && *pr.NoData <= MaxNoData) {
				out.Reject("coldchain: invalid params: no_data_s must be in [0, 1e6]")
				return nil
			}
			st.NoDataS = uint32(*pr.NoData)
		}
	}
	if !(st.MinC < st.MaxC) || math.IsInf(st.MinC, 0) || math.IsInf(st.MaxC, 0) {
		out.Reject("coldchain: invalid params: need finite min_c < max_c")
		return nil
	}
	p.st = st
	p.st.armNoData(out)
	out.SetView(appendView(out.ViewBuffer(), &p.st))
	return p.st.Encode(p.buf[:])
}

// Apply applies one event.
func (p *Policy) Apply(state []byte, ev *sdk.Event, out *sdk.Output) []byte {
	st := &p.st
	if !st.Decode(state) {
		panic("coldchain: corrupt state")
	}
	switch ev.Kind {
	case sdk.KindReading:
		st.armNoData(out)
		if ev.Type != sdk.TypeTemperature {
			st.Other++
			break
		}
		v := ev.Value
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out.Reject("coldchain: temperature is not a finite number")
			return state
		}
		if st.Flags&flagHasReading != 0 && ev.Time < st.LastTime {
			st.Late++
			if v < st.MinC || v > st.MaxC {
				out.Alert(sdk.Warning, CodeLateExcursion, "late "+excursionStartedMsg(v, st)+lateSuffix)
			}
			break
		}
		if st.Flags&flagHasReading != 0 {
			st.accrue(ev.Time)
		}
		st.Flags |= flagHasReading
		st.LastTime, st.LastTemp = ev.Time, v
		st.Readings++
		st.checkBudget(ev.Time, out)
		outOfBand := v < st.MinC || v > st.MaxC
		switch {
		case outOfBand && !st.InExcursion():
			st.Flags |= flagExcursion
			st.ExcursionStart = ev.Time
			out.Alert(sdk.Warning, CodeExcursionStarted, excursionStartedMsg(v, st))
			if !st.Compromised() {
				out.SetTimer(TimerBudget, ev.Time+(st.BudgetNs-st.OutNs))
			}
		case !outOfBand && st.InExcursion():
			st.Flags &^= flagExcursion
			out.Alert(sdk.Info, CodeExcursionEnded, excursionEndedMsg(v, ev.Time-st.ExcursionStart))
			out.CancelTimer(TimerBudget)
		}
	case sdk.KindTimer:
		if string(ev.Field(sdk.FieldTimerName)) == TimerNoData {
			if st.NoDataS > 0 {
				out.Alert(sdk.Warning, CodeNoData, "no reading for "+strconv.FormatUint(uint64(st.NoDataS), 10)+noDataSuffix)
			}
			break
		}
		if string(ev.Field(sdk.FieldTimerName)) != TimerBudget || st.Flags&flagHasReading == 0 || ev.Time < st.LastTime {
			break
		}
		st.accrue(ev.Time)
		st.LastTime = ev.Time
		st.checkBudget(ev.Time, out)
	case sdk.KindStatus:
		if st.Compromised() && string(ev.Field(sdk.FieldStatus)) != "closed" {
			out.SetStatus("compromised")
		}
	}
	// No view here: the runtime asks custos_view for it when it publishes
	// (once per batch of events), which costs less than rendering JSON on
	// every event.
	return st.Encode(p.buf[:])
}

// View renders the JSON view of state.
func (p *Policy) View(state []byte, out *sdk.Output) {
	var st State
	if !st.Decode(state) {
		panic("coldchain: corrupt state")
	}
	out.SetView(appendView(out.ViewBuffer(), &st))
}

// accrue adds the interval [LastTime, t) at LastTemp.
func (s *State) accrue(t int64) {
	dt := t - s.LastTime
	if dt <= 0 {
		return
	}
	if s.LastTemp < s.MinC || s.LastTemp > s.MaxC {
		s.OutNs += dt
	}
	sec := float64(dt) / 1e9
	s.MKTNum += sec * math.Exp(-EnergyOverR/(s.LastTemp+273.15))
	s.MKTDen += sec
}

// armNoData (re)sets the processing-time timer of the no-data check.
func (s *State) armNoData(out *sdk.Output) {
	if s.NoDataS > 0 {
		out.SetProcessingTimer(TimerNoData, int64(s.NoDataS)*1e9)
	}
}

// Message tails (shared with the other builds of the contract, word for word).
const (
	lateSuffix   = ", before the last reading: not in the budget or MKT"
	noDataSuffix = " s by the server's clock"
)

func (s *State) checkBudget(t int64, out *sdk.Output) {
	if s.Compromised() || s.OutNs == 0 || s.OutNs < s.BudgetNs {
		return
	}
	s.Flags |= flagCompromised
	out.Alert(sdk.Critical, CodeBudgetExceeded, "time out of band "+
		fixed(float64(s.OutNs)/1e9)+" s reached the budget of "+
		fixed(float64(s.BudgetNs)/1e9)+" s")
	out.SetStatus("compromised")
	out.CancelTimer(TimerBudget)
}

func excursionStartedMsg(v float64, s *State) string {
	return "temperature " + fixed(v) + " °C outside [" +
		fixed(s.MinC) + ", " + fixed(s.MaxC) + "] °C"
}

func excursionEndedMsg(v float64, d int64) string {
	return "temperature " + fixed(v) + " °C back in band after " +
		fixed(float64(d)/1e9) + " s"
}

func appendView(b []byte, s *State) []byte {
	b = append(b, `{"temperature_c":`...)
	if s.Flags&flagHasReading != 0 {
		b = appendFixed(b, s.LastTemp)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"time_out_of_band_s":`...)
	b = appendFixed(b, float64(s.OutNs)/1e9)
	b = append(b, `,"mkt_c":`...)
	if m, ok := s.MKT(); ok {
		b = appendFixed(b, m)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"readings":`...)
	b = strconv.AppendUint(b, s.Readings, 10)
	b = append(b, `,"other_readings":`...)
	b = strconv.AppendUint(b, s.Other, 10)
	b = append(b, `,"late_readings":`...)
	b = strconv.AppendUint(b, s.Late, 10)
	b = append(b, `,"in_excursion":`...)
	b = strconv.AppendBool(b, s.InExcursion())
	b = append(b, `,"compromised":`...)
	b = strconv.AppendBool(b, s.Compromised())
	b = append(b, `,"excursion_budget_s":`...)
	b = appendFixed(b, float64(s.BudgetNs)/1e9)
	b = append(b, `,"band":{"min_c":`...)
	b = appendFixed(b, s.MinC)
	b = append(b, `,"max_c":`...)
	b = appendFixed(b, s.MaxC)
	return append(b, "}}"...)
}

// appendFixed appends v rounded to 3 decimals, without trailing zeros. It
// uses integer arithmetic: strconv's shortest float formatting costs ~2 µs
// per number in wasm (128-bit multiplications are emulated), which made the
// view most of the cost of an event.
func appendFixed(b []byte, v float64) []byte {
	if !(math.Abs(v) < 1e15) {
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	m := int64(math.Round(v * 1000))
	if m < 0 {
		b = append(b, '-')
		m = -m
	}
	b = strconv.AppendInt(b, m/1000, 10)
	frac := m % 1000
	if frac == 0 {
		return b
	}
	d := [4]byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 4
	for d[n-1] == '0' {
		n--
	}
	return append(b, d[:n]...)
}

func fixed(v float64) string { return string(appendFixed(nil, v)) }
