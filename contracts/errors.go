package contracts

import (
	"errors"

	"github.com/custos-dev/custos/twin"
)

var (
	// ErrInvalidModule: the module bytes fail deploy-time validation (size,
	// exports, imports, compilation or initialisation). The wrapping error
	// says why.
	ErrInvalidModule = errors.New("invalid contract module")
	// ErrInvalidConfig: a Config field is out of range.
	ErrInvalidConfig = errors.New("invalid contract host config")
	// ErrVersionExists: name@version is already registered with other bytes.
	ErrVersionExists = errors.New("policy version already registered with different bytes")
	// ErrHostClosed: the host was closed.
	ErrHostClosed = errors.New("contract host closed")

	// errOutput: the guest's output does not follow ABI v1 §4.
	errOutput = errors.New("malformed output")
	// errNoExport: the module lacks an optional export (custos_view).
	errNoExport = errors.New("module has no such export")
)

// Kinds of twin.ContractError produced by the host (see twin.Failure*).
const (
	KindTrap           = twin.FailureTrap
	KindFuel           = twin.FailureFuel
	KindMemory         = twin.FailureMemory
	KindOutputTooLarge = twin.FailureOutputTooLarge
	KindInvalidOutput  = twin.FailureInvalidOutput
	KindInstantiate    = twin.FailureInstantiate
	KindQuarantined    = twin.FailureQuarantined
)
