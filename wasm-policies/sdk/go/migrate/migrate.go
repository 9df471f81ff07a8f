// Package migrate adds custos_migrate (ABI v1, state migration on upgrade)
// to a Go contract. The host treats a module as upgradable exactly when it
// exports custos_migrate, and Go cannot export a function conditionally, so
// the export lives here: a contract that can take twins over from another
// module links this package and registers its Migrator:
//
//	func init() {
//		sdk.Register(p)
//		migrate.Register(p)
//	}
//
// (This also keeps package sdk, and so the bytes of contracts that do not
// migrate, unchanged.)
package migrate

import sdk "github.com/custos-dev/custos/wasm-policies/sdk/go"

// KindUpgrade is the kind of the event passed to custos_migrate.
const KindUpgrade sdk.Kind = 8

// Fields of an upgrade event.
const (
	FieldFromModule  = 0 // sha256 hex of the module the twin leaves
	FieldFromVersion = 1
	FieldToVersion   = 2
)

// Migrator turns the state of the module a twin leaves into this
// contract's state. ev is the upgrade event (fields [from module sha256
// hex, from version, to version]); out works as in Apply (a reject refuses
// the upgrade: the twin stays on its module).
type Migrator interface {
	Migrate(state []byte, ev *sdk.Event, out *sdk.Output) (newState []byte)
}

var registered Migrator

// Register installs m as the contract's migrator. Call it from init.
func Register(m Migrator) { registered = m }
