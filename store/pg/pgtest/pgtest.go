// Package pgtest gives tests the PostgreSQL they run against: the URL in
// CUSTOS_TEST_DATABASE. Without it a test skips on a developer's machine and
// fails in CI (CI=true), where .ci/run starts PostgreSQL (store/pg/ci-setup.sh).
package pgtest

import (
	"os"
	"testing"
)

// Env is the environment variable holding the test database's URL.
const Env = "CUSTOS_TEST_DATABASE"

// URL returns the test database's URL, skipping tb without one (failing it
// when CI=true).
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(Env)
	if u == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal(Env + " is not set; CI needs a real PostgreSQL (run store/pg/ci-setup.sh)")
		}
		tb.Skip(Env + " is not set; run store/pg/ci-setup.sh and export the URL it prints to test against PostgreSQL")
	}
	return u
}
