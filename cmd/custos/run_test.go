package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets a test run the custos command itself: the test binary,
// started again with CUSTOS_TEST_MAIN=1, is custos with the given arguments.
func TestMain(m *testing.M) {
	if os.Getenv("CUSTOS_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// custos runs the command with args and returns its standard error and
// exit code.
func custos(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CUSTOS_TEST_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stderr.String(), 0
	case errors.As(err, &exit):
		return stderr.String(), exit.ExitCode()
	default:
		t.Fatal(err)
		return "", 0
	}
}

// TestRunRefusesBadMemorySettings: custos run says which setting is wrong
// and starts nothing (the data directory is not even created).
func TestRunRefusesBadMemorySettings(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--state-retention", "500ms"}, "--state-retention 500ms: want 0 or at least 1s"},
		{[]string{"--state-retention", "-1h"}, "--state-retention -1h0m0s: want 0 or at least 1s"},
		{[]string{"--max-resident", "-5"}, "--max-resident -5: want a positive number of twins"},
		{[]string{"--idle-after", "0s"}, "--idle-after 0s: want a positive duration"},
	} {
		data := t.TempDir() + "/data"
		stderr, code := custos(t, append([]string{"run", "--data", data, "--http", "-", "--nats-listen", "-"}, c.args...)...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("run %v: exit %d, stderr %q; want 1 and %q", c.args, code, stderr, c.want)
		}
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Errorf("run %v: data directory created (%v)", c.args, err)
		}
	}
}
