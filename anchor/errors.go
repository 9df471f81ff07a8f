package anchor

import "errors"

// Sentinel errors.
var (
	// ErrNotAnchored: no confirmed epoch covers that twin and seq yet.
	ErrNotAnchored = errors.New("not anchored yet")
	// ErrNotFound: the epoch or record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrProofInvalid: a proof bundle failed verification; the error text
	// names the first failing check.
	ErrProofInvalid = errors.New("proof invalid")
	// ErrConflict: the contract already holds a different root for this
	// signer and epoch (the anchor store was reset or shared).
	ErrConflict = errors.New("epoch already anchored with another root")
	// ErrUnauthorized: the operator has not authorised the signer key for
	// the epoch, or has revoked it (TwinAnchor refuses the anchor).
	ErrUnauthorized = errors.New("signer not authorised by the operator")
	// ErrNotPinned: verification was asked without a pinned identity.
	ErrNotPinned = errors.New("no identity pinned")
	// ErrConfig: the configuration is incomplete or inconsistent.
	ErrConfig = errors.New("invalid anchor config")
)
