// Package validate checks EPCIS 2.0 documents against the standard's JSON
// schema with a third-party implementation: GS1 France's epcis2.js
// (validateEpcisDocument), pinned by package-lock.json in this directory
// and run by node. Install it with `npm ci --no-audit --no-fund` here.
//
// Without node_modules (or node) the check skips, except under CI=true,
// where it fails: CI installs the package (.ci/run).
package validate

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Dir is this directory (package.json, validate.js, node_modules).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Documents validates each document (name → JSON) and fails tb with the
// validator's errors for any that is invalid.
func Documents(tb testing.TB, docs map[string][]byte) {
	tb.Helper()
	dir := Dir()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "epcis2.js", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("epcis2.js validator unavailable under CI=true (run `npm ci` in %s): %v", dir, err)
		}
		tb.Skipf("epcis2.js validator not installed (npm ci in %s): %v", dir, err)
	}
	tmp := tb.TempDir()
	args := []string{filepath.Join(dir, "validate.js")}
	for name, doc := range docs {
		p := filepath.Join(tmp, strings.ReplaceAll(name, "/", "_"))
		if err := os.WriteFile(p, doc, 0o644); err != nil {
			tb.Fatal(err)
		}
		args = append(args, p)
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("epcis2.js validateEpcisDocument refused a document: %v\n%s", err, out)
	}
	tb.Logf("epcis2.js validated %d documents", len(docs))
}
