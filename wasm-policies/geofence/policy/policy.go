// Package policy is the route-corridor contract: the core of the geofence
// reference contract, without build constraints.
//
// Params (JSON): {"corridor": [[lat, lon], …], "width_km": 10, "arrival_km": 2}:
// the planned route as a polyline of WGS 84 points (at least one), how far
// from it the asset may stray, and how close to the last point counts as
// arrived. Distances use a local equirectangular projection (exact enough
// for corridors of a few hundred km; it is the same arithmetic on every
// machine, which is what the digest chain needs).
//
// A location reading farther than width_km from the corridor raises
// left_corridor (warning) when the asset was inside; back within it,
// back_in_corridor (info) with the time spent outside. Coming within
// arrival_km of the last point raises arrived (info) once. Other readings
// are ignored. Times are event times (when the fix was taken): the time
// outside the corridor is measured between fixes. Late readings: a
// location reading older than the last fix is ignored (the route is a
// time-ordered track; the runtime's allowed-lateness window reorders fixes
// that arrive out of order within it). The state is JSON (version 1).
package policy

import (
	"encoding/json"
	"math"
	"strconv"

	sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"
	"github.com/custos-dev/custos/wasm-policies/sdk/go/jsonstate"
)

// Name and Version as registered.
const (
	Name    = "geofence"
	Version = "1.0.0"
)

// Alert codes.
const (
	CodeLeft    = "left_corridor"
	CodeBack    = "back_in_corridor"
	CodeArrived = "arrived"
)

// EarthRadiusKm is the mean Earth radius (IUGG).
const EarthRadiusKm = 6371.0088

// State is the contract state.
type State struct {
	V          int          `json:"v"`
	Corridor   [][2]float64 `json:"corridor"`
	WidthKm    float64      `json:"width_km"`
	ArrivalKm  float64      `json:"arrival_km"`
	Lat        float64      `json:"lat"`
	Lon        float64      `json:"lon"`
	HasFix     bool         `json:"has_fix"`
	LastNs     int64        `json:"last_ns"`
	DistKm     float64      `json:"dist_km"`
	Outside    bool         `json:"outside"`
	OutSinceNs int64        `json:"out_since_ns"`
	OutNs      int64        `json:"out_ns"`
	Exits      int          `json:"exits"`
	Arrived    bool         `json:"arrived"`
}

type params struct {
	Corridor  [][2]float64 `json:"corridor"`
	WidthKm   *float64     `json:"width_km"`
	ArrivalKm *float64     `json:"arrival_km"`
}

// Policy implements sdk.Contract and sdk.Viewer.
type Policy struct{}

func encode(st *State) []byte { return jsonstate.Encode(st) }

func decode(state []byte) *State { return jsonstate.Decode[State]("geofence", state, 1) }

// Version is the layout version of the state (jsonstate.Versioned).
func (st *State) Version() int { return st.V }

// Init parses params.
func (Policy) Init(ev *sdk.Event, out *sdk.Output) []byte {
	var pr params
	if err := json.Unmarshal(ev.Field(sdk.FieldParams), &pr); err != nil {
		out.Reject("geofence: invalid params: " + err.Error())
		return nil
	}
	st := &State{V: 1, Corridor: pr.Corridor, WidthKm: 10, ArrivalKm: 2}
	if pr.WidthKm != nil {
		st.WidthKm = *pr.WidthKm
	}
	if pr.ArrivalKm != nil {
		st.ArrivalKm = *pr.ArrivalKm
	}
	if len(st.Corridor) == 0 || len(st.Corridor) > 10000 || !(st.WidthKm > 0) || st.ArrivalKm < 0 {
		out.Reject("geofence: invalid params: need a corridor of 1–10000 [lat, lon] points, width_km > 0, arrival_km ≥ 0")
		return nil
	}
	for _, p := range st.Corridor {
		if !(p[0] >= -90 && p[0] <= 90 && p[1] >= -180 && p[1] <= 180) {
			out.Reject("geofence: invalid params: corridor point out of range")
			return nil
		}
	}
	out.SetView(view(out.ViewBuffer(), st))
	return encode(st)
}

// Apply applies one event.
func (Policy) Apply(state []byte, ev *sdk.Event, out *sdk.Output) []byte {
	if ev.Kind != sdk.KindReading || ev.Type != sdk.TypeLocation {
		return state
	}
	st := decode(state)
	if st.HasFix && ev.Time < st.LastNs {
		return state
	}
	st.Lat, st.Lon, st.HasFix, st.LastNs = ev.Value, ev.Value2, true, ev.Time
	st.DistKm = DistanceToCorridor(st.Lat, st.Lon, st.Corridor)
	outside := st.DistKm > st.WidthKm
	switch {
	case outside && !st.Outside:
		st.Outside, st.OutSinceNs = true, ev.Time
		st.Exits++
		out.Alert(sdk.Warning, CodeLeft, "position "+num(st.Lat)+","+num(st.Lon)+" is "+num(st.DistKm)+" km from the route (corridor "+num(st.WidthKm)+" km)")
	case !outside && st.Outside:
		d := ev.Time - st.OutSinceNs
		st.Outside = false
		st.OutNs += d
		out.Alert(sdk.Info, CodeBack, "back in the corridor after "+num(float64(d)/1e9)+" s outside")
	}
	last := st.Corridor[len(st.Corridor)-1]
	if !st.Arrived && Distance(st.Lat, st.Lon, last[0], last[1]) <= st.ArrivalKm {
		st.Arrived = true
		out.Alert(sdk.Info, CodeArrived, "arrived within "+num(st.ArrivalKm)+" km of the destination")
	}
	return encode(st)
}

// View renders the JSON view.
func (Policy) View(state []byte, out *sdk.Output) {
	out.SetView(view(out.ViewBuffer(), decode(state)))
}

func view(b []byte, st *State) []byte {
	b = append(b, `{"position":`...)
	if st.HasFix {
		b = append(b, `{"lat":`...)
		b = append(b, num(st.Lat)...)
		b = append(b, `,"lon":`...)
		b = append(b, num(st.Lon)...)
		b = append(b, `},"distance_km":`...)
		b = append(b, num(st.DistKm)...)
	} else {
		b = append(b, `null,"distance_km":null`...)
	}
	b = append(b, `,"in_corridor":`...)
	b = strconv.AppendBool(b, !st.Outside)
	b = append(b, `,"exits":`...)
	b = strconv.AppendInt(b, int64(st.Exits), 10)
	b = append(b, `,"time_outside_s":`...)
	b = append(b, num(float64(st.OutNs)/1e9)...)
	b = append(b, `,"arrived":`...)
	b = strconv.AppendBool(b, st.Arrived)
	return append(b, '}')
}

// Distance is the distance in km between two points, in the
// equirectangular projection at their mean latitude.
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	x, y := project(lat2, lon2, lat1, lon1)
	return math.Hypot(x, y)
}

// project returns the position of (lat, lon) in km east and north of the
// origin (lat0, lon0), in the equirectangular projection at lat0.
func project(lat, lon, lat0, lon0 float64) (x, y float64) {
	const rad = math.Pi / 180
	dlon := lon - lon0
	if dlon > 180 {
		dlon -= 360
	} else if dlon < -180 {
		dlon += 360
	}
	return dlon * rad * math.Cos(lat0*rad) * EarthRadiusKm, (lat - lat0) * rad * EarthRadiusKm
}

// DistanceToCorridor is the distance in km from (lat, lon) to the polyline.
func DistanceToCorridor(lat, lon float64, corridor [][2]float64) float64 {
	if len(corridor) == 1 {
		return Distance(lat, lon, corridor[0][0], corridor[0][1])
	}
	best := math.Inf(1)
	for i := 0; i+1 < len(corridor); i++ {
		ax, ay := project(corridor[i][0], corridor[i][1], lat, lon)
		bx, by := project(corridor[i+1][0], corridor[i+1][1], lat, lon)
		// The point is the origin: distance from it to segment a–b.
		dx, dy := bx-ax, by-ay
		t := 0.0
		if l2 := dx*dx + dy*dy; l2 > 0 {
			t = min(max(-(ax*dx+ay*dy)/l2, 0), 1)
		}
		best = min(best, math.Hypot(ax+t*dx, ay+t*dy))
	}
	return best
}

func num(v float64) string { return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64) }
