// Package jsonstate keeps a Go contract's state as versioned JSON: simple
// to read in history and golden files, at the cost of speed (coldchain uses
// a fixed binary layout instead). A separate package from the SDK so that
// contracts which do not use it are not rebuilt differently.
package jsonstate

import (
	"encoding/json"
	"fmt"
)

// Versioned is implemented by state structs: Version returns the layout
// version stored in the state.
type Versioned interface{ Version() int }

// Encode marshals state. A failure is a bug in the contract: it panics,
// which traps the call, and the event fails for that twin only.
func Encode(state any) []byte {
	b, err := json.Marshal(state)
	if err != nil {
		panic(err)
	}
	return b
}

// Decode unmarshals state bytes into a new T and checks its version;
// corrupt state panics (traps) with the contract's name.
func Decode[T any, P interface {
	*T
	Versioned
}](name string, state []byte, version int) *T {
	var st T
	if err := json.Unmarshal(state, &st); err != nil || P(&st).Version() != version {
		panic(fmt.Sprintf("%s: corrupt state", name))
	}
	return &st
}
