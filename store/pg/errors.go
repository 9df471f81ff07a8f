package pg

import "errors"

// Sentinel errors of this package. Errors about twins use the sentinels of
// package twin (twin.ErrNotFound).
var (
	// ErrMigrationChanged: a migration already applied to the database
	// differs from the one embedded in this binary. Released migrations must
	// never be edited.
	ErrMigrationChanged = errors.New("applied migration differs from the embedded one")
	// ErrInvalidSchema: the schema name given to WithSchema is not a plain
	// identifier.
	ErrInvalidSchema = errors.New("invalid schema name")
	// ErrInvalidOption: an option was given an invalid value.
	ErrInvalidOption = errors.New("invalid option")
	// ErrClosed: the DB has been closed.
	ErrClosed = errors.New("store closed")
)
