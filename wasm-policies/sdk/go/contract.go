package sdk

// Contract is what a contract author implements.
type Contract interface {
	// Init builds the initial state of a new twin from its create event
	// (kind KindCreate; fields [kind, params JSON, custodian, parent]).
	Init(ev *Event, out *Output) (state []byte)
	// Apply applies one event to state and returns the new state. It may
	// return state itself (unchanged) or a slice it owns; the bytes must stay
	// valid until the call returns.
	Apply(state []byte, ev *Event, out *Output) (newState []byte)
}

// Viewer is implemented by contracts that expose a JSON view of a state
// outside of Apply (custos_view).
type Viewer interface {
	View(state []byte, out *Output)
}

var registered Contract

// Register installs c as the contract this module runs. Call it from an init
// function.
func Register(c Contract) { registered = c }
