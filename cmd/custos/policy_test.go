package main

import (
	"bytes"
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
