package embedded

import "errors"

// Sentinel errors of the embedded store. Missing twins are reported with
// twin.ErrNotFound and invalid ids with twin.ErrInvalidID, as for every store.
var (
	// ErrClosed: the DB has been closed.
	ErrClosed = errors.New("embedded store closed")
	// ErrCorrupt: a stored value does not decode (bad version, truncated,
	// trailing bytes).
	ErrCorrupt = errors.New("embedded store: corrupt value")
	// ErrDiskFull: the store's filesystem has less free space than the
	// reserve (WithMinFree); commits are refused, and accepted again by
	// themselves once space returns. Nothing refused was acknowledged.
	ErrDiskFull = errors.New("embedded store: disk full")
	// ErrFailed: a write failed in a way pebble cannot recover from in
	// process (its commit pipeline is broken); restart custos.
	ErrFailed = errors.New("embedded store: failed, restart needed")
)
