package builtin

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestCommittedWasmUpToDate rebuilds coldchain.wasm from source exactly as
// build.sh does and checks the committed bytes are identical.
func TestCommittedWasmUpToDate(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("rebuilds the wasm module; skipped with -short (never in CI)")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go toolchain not found at %s", goBin)
		}
		t.Skipf("go toolchain not found at %s", goBin)
	}
	out := filepath.Join(t.TempDir(), "coldchain.wasm")
	cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", out, "../coldchain")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build coldchain: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, Coldchain().Wasm) {
		t.Fatalf("wasm-policies/builtin/coldchain.wasm is stale (%d bytes committed, %d rebuilt): run wasm-policies/build.sh", len(Coldchain().Wasm), len(got))
	}
}

func TestPolicies(t *testing.T) {
	ps := Policies()
	if len(ps) != 2 {
		t.Fatalf("%d builtin policies, want 2", len(ps))
	}
	for _, p := range ps {
		if p.Name != "coldchain" || p.Version == "" || !bytes.HasPrefix(p.Wasm, []byte("\x00asm")) {
			t.Fatalf("unexpected builtin policy %s@%s", p.Name, p.Version)
		}
	}
	if ps[0].Version != "1.0.0" || ps[1].Version != WATVersion || bytes.Equal(ps[0].Wasm, ps[1].Wasm) {
		t.Fatalf("want the Go build as 1.0.0 and the WAT build as %s: %s, %s", WATVersion, ps[0].Version, ps[1].Version)
	}
}
