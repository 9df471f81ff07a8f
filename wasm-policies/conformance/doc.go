// Package conformance checks that every build of a reference contract —
// Go (sdk/go), AssemblyScript (sdk/assemblyscript) and the hand-written
// ones without an SDK — behaves the same under the real contract host: the
// same states (state hashes), statuses, alerts and views, event for event.
// Digests differ between builds only because each commits to its module's
// sha256. It also rebuilds each module from source and checks the
// committed bytes are current. It has no non-test code.
package conformance
