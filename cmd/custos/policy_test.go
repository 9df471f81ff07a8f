package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyTestCommand runs `custos policy test` on the coldchain golden
// files: it passes as committed, fails with a readable diff when the
// expectation is wrong, and --update writes a file that then passes.
func TestPolicyTestCommand(t *testing.T) {
	const dir = "../../wasm-policies/coldchain/testdata"
	args := func(extra ...string) []string {
		return append([]string{"../../wasm-policies/coldchain/wat/coldchain.wasm",
			"--params", filepath.Join(dir, "params.json"), "--events", filepath.Join(dir, "events.jsonl"), "--custodian", "acme"}, extra...)
	}
	var out, errb bytes.Buffer
	if code := policyTest(args("--expect", filepath.Join(dir, "expected.jsonl")), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "ok: 18 events match") {
		t.Fatalf("stdout %q", out.String())
	}

	want, err := os.ReadFile(filepath.Join(dir, "expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, bytes.Replace(want, []byte(`"excursion_started"`), []byte(`"too_warm"`), 1), 0o644)
	out.Reset()
	errb.Reset()
	if code := policyTest(args("--expect", bad), &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "1 difference(s)") || !strings.Contains(errb.String(), `"code":"too_warm"`) {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}

	upd := filepath.Join(t.TempDir(), "new.jsonl")
	if code := policyTest(args("--expect", upd, "--update"), &out, &errb); code != 0 {
		t.Fatalf("update: exit %d: %s", code, errb.String())
	}
	if code := policyTest(args("--expect", upd), &out, &errb); code != 0 {
		t.Fatalf("updated file does not pass: %s", errb.String())
	}
	if code := policyTest([]string{"x.wasm"}, &out, &errb); code != 2 {
		t.Fatalf("missing --events: exit %d", code)
	}
}

// TestPolicyTestLimits: `custos policy test` takes the runtime's limit
// flags and prints the fuel and failure kind of each event.
func TestPolicyTestLimits(t *testing.T) {
	events := filepath.Join(t.TempDir(), "e.jsonl")
	os.WriteFile(events, []byte(`{"ts":"2026-11-25T10:00:00Z","type":"temperature","value":2010}
{"ts":"2026-11-25T10:01:00Z","type":"temperature","value":1002}
`), 0o644)
	run := func(extra ...string) []map[string]any {
		var out, errb bytes.Buffer
		args := append([]string{"../../contracts/testdata/misbehave.wasm", "--events", events}, extra...)
		if code := policyTest(args, &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var lines []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, m)
		}
		return lines
	}
	// Defaults: the 10,000-iteration loop fits, the memory bomb hits 1024 pages.
	def := run()
	if def[1]["failure"] != nil || def[1]["fuel"].(float64) < 10000 || def[2]["failure"] != "memory" {
		t.Fatalf("defaults: %v", def)
	}
	small := run("--contract-fuel", "50000")
	if small[1]["failure"] != "fuel" || small[1]["fuel"].(float64) != 50000 {
		t.Fatalf("--contract-fuel 50000: %v", small)
	}
}
