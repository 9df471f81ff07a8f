package httpapi

import "errors"

// Sentinel errors. Hooks in Config (Proof, Anchors, Verify) wrap these, or
// twin.ErrNotFound, so that the API answers with the right status.
var (
	// ErrNotAnchored: no confirmed anchor covers that twin and seq yet (404
	// with code "not_anchored").
	ErrNotAnchored = errors.New("not anchored yet")
	// ErrInvalidProof: the proof given to /v1/verify is malformed (400 with
	// code "invalid_proof"). A well-formed proof that fails its checks is a
	// 200 answer whose report says so.
	ErrInvalidProof = errors.New("invalid proof")
	// ErrInsecureListen: the API would listen on a non-loopback address
	// without bearer tokens.
	ErrInsecureListen = errors.New("refusing to serve the HTTP API on a non-loopback address without --auth-tokens")
	// ErrInvalidModule: a module given to POST /v1/policies fails
	// validation or its dry run (422 with code "invalid_module").
	ErrInvalidModule = errors.New("invalid contract module")
	// ErrConflict: that policy name and version exist already with other
	// bytes (409 with code "conflict").
	ErrConflict = errors.New("conflict")
	// ErrTokens: the token file is malformed.
	ErrTokens = errors.New("invalid token file")
)
