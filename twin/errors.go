package twin

import (
	"errors"
	"fmt"
)

// Sentinel errors. Adapters return (or wrap) these so that callers can use
// errors.Is regardless of the backend.
var (
	// ErrNotFound: the twin (or record) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a twin with that id already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalidID: the twin id is not 1–128 characters of [A-Za-z0-9_-].
	ErrInvalidID = errors.New("invalid twin id")
	// ErrUnknownPolicy: no contract module is deployed under that name/version.
	ErrUnknownPolicy = errors.New("unknown policy")
	// ErrClosed: the twin is closed and accepts no more events.
	ErrClosed = errors.New("twin closed")
	// ErrStopped: the runtime has been stopped.
	ErrStopped = errors.New("runtime stopped")
	// ErrFenced: a commit was refused because another node has since taken
	// one of the batch's partitions (it holds a higher fence token). Errors
	// about a fence are *FencedError values, which match it with errors.Is.
	ErrFenced = errors.New("fenced")
)

// FencedError is a commit refused by a partition's fence: the committing
// node held Token, the store has seen Current (higher) from a newer owner.
// Nothing of the batch was written.
type FencedError struct {
	Partition      int
	Token, Current uint64
}

func (e *FencedError) Error() string {
	return fmt.Sprintf("fenced: partition %d has fence token %d, this node holds %d", e.Partition, e.Current, e.Token)
}

// Is makes errors.Is(err, ErrFenced) hold.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }

// Reason classifies why an input was not applied. It is the last token of
// the dead-letter subject custos.dlq.<reason>, so it is a stable public name.
type Reason string

// Reasons for rejecting input. These are public (DLQ subjects, metrics labels).
const (
	ReasonInvalidJSON     Reason = "invalid_json"
	ReasonInvalidSubject  Reason = "invalid_subject"
	ReasonUnknownType     Reason = "unknown_type"
	ReasonInvalidValue    Reason = "invalid_value"
	ReasonTooLarge        Reason = "too_large"
	ReasonUnknownTwin     Reason = "unknown_twin"
	ReasonTwinExists      Reason = "twin_exists"
	ReasonTwinClosed      Reason = "twin_closed"
	ReasonInvalidCommand  Reason = "invalid_command"
	ReasonUnknownPolicy   Reason = "unknown_policy"
	ReasonContractFailed  Reason = "contract_failed"
	ReasonContractRefused Reason = "contract_rejected"
	// ReasonTimerNotSet: a timer event for a timer the twin does not have
	// at that time (cancelled or moved since it fired, or not sent by custos).
	ReasonTimerNotSet Reason = "timer_not_set"
)

// InputError is an input that cannot be applied. It carries the public
// reason and a human-readable detail.
type InputError struct {
	Reason Reason
	Detail string
}

func (e *InputError) Error() string { return string(e.Reason) + ": " + e.Detail }

// Rejectf returns an *InputError with the reason and a formatted detail.
func Rejectf(r Reason, format string, args ...any) *InputError {
	return &InputError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Failure kinds of a contract call. The first five are deterministic: they
// depend only on (module, state, event, limits), never on the machine, its
// load or the wall clock, so the runtime records them in the twin's history
// and digest chain as a failure record. The others are not verdicts about the
// event: the event is dead-lettered and nothing is recorded in the chain.
const (
	FailureFuel           = "fuel"             // instruction budget exhausted (deterministic metering)
	FailureMemory         = "memory"           // linear memory over the page cap
	FailureTrap           = "trap"             // unreachable, out-of-bounds access, division by zero, …
	FailureOutputTooLarge = "output_too_large" // output over the size cap
	FailureInvalidOutput  = "invalid_output"   // output does not follow ABI v1 §4

	FailureQuarantined = "quarantined" // the module is quarantined by the wall-clock watchdog
	FailureInstantiate = "instantiate" // the host could not instantiate the module
)

// ContractError is a failure of contract code on one event for one twin: a
// trap, exhausted fuel, output over the size cap, memory over the page cap,
// malformed output, or a quarantined module. The event's effects are not
// applied; the runtime and other twins go on.
type ContractError struct {
	Module string // module sha256, hex
	Twin   string
	Seq    uint64 // sequence number the event would have had
	Kind   string // one of the Failure* kinds
	Err    error
}

// Deterministic reports whether the failure is a property of the module, the
// state, the event and the configured limits alone, so that every machine
// replaying the same input reaches it. Only deterministic failures are
// recorded in a twin's digest chain.
func (e *ContractError) Deterministic() bool {
	switch e.Kind {
	case FailureFuel, FailureMemory, FailureTrap, FailureOutputTooLarge, FailureInvalidOutput:
		return true
	}
	return false
}

func (e *ContractError) Error() string {
	return fmt.Sprintf("contract %s on twin %s seq %d: %s: %v", short(e.Module), e.Twin, e.Seq, e.Kind, e.Err)
}

func (e *ContractError) Unwrap() error { return e.Err }

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
