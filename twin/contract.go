package twin

import (
	"context"
	"time"
)

// ContractHost runs contract modules. The contracts package implements it
// with wazero.
type ContractHost interface {
	// Resolve returns the module deployed under name and version; an empty
	// version means the newest. It returns an error wrapping
	// ErrUnknownPolicy if there is none.
	Resolve(ctx context.Context, name, version string) (ContractRef, error)
	// Contract returns a handle on the module with the given sha256, ready to
	// call. Handles are safe for concurrent use and cheap to keep.
	Contract(ctx context.Context, module Hash) (Contract, error)
}

// Contract is a loaded contract module. Every method runs guest code under
// the host's limits (memory pages, deadline, output size) and returns a
// *ContractError when the guest fails.
type Contract interface {
	// Init runs custos_init for a new twin; event is the encoded create event.
	Init(ctx context.Context, call Call, event []byte) (Output, error)
	// Apply runs custos_apply on one encoded event.
	Apply(ctx context.Context, call Call, state, event []byte) (Output, error)
	// View runs custos_view and returns the contract's JSON view of state
	// (nil if the module has no custos_view). It must be valid JSON: a host
	// checks the views of modules it does not trust.
	View(ctx context.Context, call Call, state []byte) ([]byte, error)
}

// Call identifies one contract call. It is all the guest's deterministic
// environment derives from: its clock reads Time, its random source is
// seeded from (Twin, Seq).
type Call struct {
	Twin string
	Seq  uint64
	Time time.Time
}

// Output is what a contract returns for one event.
type Output struct {
	// State is the contract's new state. The host copies it out of guest
	// memory, so the caller owns it.
	State []byte
	// Status, if not empty, is the twin's new status.
	Status string
	// Alerts raised by this event.
	Alerts []ContractAlert
	// Timers to set (At non-zero) or cancel (At zero), by name.
	Timers []Timer
	// View, if not nil, is the JSON view of the new state.
	View []byte
	// Reject, if not empty, means the contract refused the event: nothing
	// changes and the input goes to the dead-letter subject with this text.
	Reject string
}

// ContractAlert is an alert as the contract raises it.
type ContractAlert struct {
	Severity string
	Code     string
	Message  string
}

// Migrator is implemented by contracts whose module exports custos_migrate.
// A twin can only be upgraded to a module that is a Migrator: it turns the
// old module's state into its own. event is the encoded upgrade event
// (fields: from module sha256 hex, from version, to version).
type Migrator interface {
	Migrate(ctx context.Context, call Call, state, event []byte) (Output, error)
}
