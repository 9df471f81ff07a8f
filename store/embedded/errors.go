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
)
