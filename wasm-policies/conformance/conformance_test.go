package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/internal/policytest"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

var hostCfg contracts.Config

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "custos-conformance-cache")
	if err != nil {
		panic(err)
	}
	hostCfg.CacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const ccDir = "../coldchain/testdata"

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// need skips (or, with CI=true, fails) when a tool is missing.
func need(t testing.TB, ok bool, msg string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// builds are the coldchain modules under test, by name.
func builds(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"go":             builtin.Coldchain().Wasm,
		"assemblyscript": read(t, "../coldchain/assemblyscript/coldchain.wasm"),
		"wat":            read(t, "../coldchain/wat/coldchain.wasm"),
	}
}

func run(t testing.TB, wasm []byte, events []byte) []policytest.Line {
	t.Helper()
	lines, err := policytest.Run(context.Background(), policytest.Config{
		Module: wasm, Params: read(t, filepath.Join(ccDir, "params.json")), Custodian: "acme", Host: hostCfg,
	}, bytes.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func golden(t testing.TB, wasm []byte) {
	t.Helper()
	got := run(t, wasm, read(t, filepath.Join(ccDir, "events.jsonl")))
	want, err := policytest.ReadLines(bytes.NewReader(read(t, filepath.Join(ccDir, "expected.jsonl"))))
	if err != nil {
		t.Fatal(err)
	}
	if d := policytest.Compare(got, want); len(d) > 0 {
		t.Fatalf("%d differences from expected.jsonl:\n%s", len(d), strings.Join(d, "\n"))
	}
}

// TestColdchainGolden runs every committed build against the golden file.
func TestColdchainGolden(t *testing.T) {
	for name, wasm := range builds(t) {
		t.Run(name, func(t *testing.T) { golden(t, wasm) })
	}
}

// TestGoFromSource builds the Go coldchain from source, as build.sh does,
// and runs it against the golden file.
func TestGoFromSource(t *testing.T) {
	golden(t, buildGo(t, "coldchain"))
}

// buildGo builds the Go contract in ../name as build.sh does and returns
// its bytes.
func buildGo(t *testing.T, name string) []byte {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	_, err := os.Stat(goBin)
	need(t, err == nil, "go toolchain not found at "+goBin)
	out := filepath.Join(t.TempDir(), name+".wasm")
	cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", out, "../"+name)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	return read(t, out)
}

// TestAssemblyScriptFromSource builds the AssemblyScript contracts with the
// pinned compiler (npm ci in sdk/assemblyscript), checks the committed
// modules are current, and runs the coldchain against the golden file.
func TestAssemblyScriptFromSource(t *testing.T) {
	_, err := exec.LookPath("node")
	need(t, err == nil, "node not found: the AssemblyScript build needs Node.js (Debian: nodejs)")
	_, err = os.Stat("../sdk/assemblyscript/node_modules/.bin/asc")
	need(t, err == nil, "AssemblyScript compiler not installed: run `npm ci` in wasm-policies/sdk/assemblyscript")
	dir := t.TempDir()
	cmd := exec.Command("sh", "../sdk/assemblyscript/build.sh")
	cmd.Env = append(os.Environ(), "CUSTOS_AS_OUT="+dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	built := read(t, filepath.Join(dir, "coldchain.wasm"))
	if !bytes.Equal(built, read(t, "../coldchain/assemblyscript/coldchain.wasm")) {
		t.Fatal("wasm-policies/coldchain/assemblyscript/coldchain.wasm is stale: run wasm-policies/sdk/assemblyscript/build.sh")
	}
	golden(t, built)
}

// TestWATFromSource rebuilds the hand-written WebAssembly text coldchain
// with wat2wasm (Debian package wabt), checks the committed module is
// current, and runs it against the golden file.
func TestWATFromSource(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	need(t, err == nil, "wat2wasm not found: install Debian package wabt")
	out := filepath.Join(t.TempDir(), "coldchain.wasm")
	if b, err := exec.Command(wat2wasm, "../coldchain/wat/coldchain.wat", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, b)
	}
	built := read(t, out)
	if !bytes.Equal(built, read(t, "../coldchain/wat/coldchain.wasm")) {
		t.Fatal("wasm-policies/coldchain/wat/coldchain.wasm is stale: run wasm-policies/coldchain/wat/build.sh")
	}
	golden(t, built)
}

// randomEvents returns n pseudo-random lines: temperatures wandering in and
// out of band, other readings, late readings, status changes and time
// jumps that fire the budget timer.
func randomEvents(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	at := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	temp := 5.0
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		at = at.Add(time.Duration(r.IntN(600)+1) * time.Second)
		ts := at.Format(time.RFC3339Nano)
		switch k := r.IntN(20); {
		case k < 13:
			temp += r.NormFloat64() * 1.5
			fmt.Fprintf(&b, `{"ts":%q,"sensor":"t1","type":"temperature","value":%s}`+"\n", ts, json.Number(fmt.Sprint(float64(int(temp*1000))/1000)))
		case k < 15:
			fmt.Fprintf(&b, `{"ts":%q,"type":"humidity","value":%d}`+"\n", ts, r.IntN(100))
		case k == 15:
			fmt.Fprintf(&b, `{"ts":%q,"type":"temperature","value":20}`+"\n", at.Add(-time.Hour).Format(time.RFC3339Nano))
		case k == 16:
			fmt.Fprintf(&b, `{"command":{"type":"status","status":"in_transit","ts":%q}}`+"\n", ts)
		case k == 17:
			at = at.Add(time.Duration(r.IntN(3600)) * time.Second)
			fmt.Fprintf(&b, `{"advance":%q}`+"\n", at.Format(time.RFC3339Nano))
		default:
			fmt.Fprintf(&b, `{"ts":%q,"type":"temperature","value":%g,"unit":"FAH"}`+"\n", ts, float64(r.IntN(800))/10)
		}
	}
	return b.Bytes()
}

// TestAgreeEventForEvent runs every build on long random event streams and
// compares them event for event.
func TestAgreeEventForEvent(t *testing.T) {
	bs := builds(t)
	for seed := uint64(1); seed <= 3; seed++ {
		events := randomEvents(seed, 400)
		ref := run(t, bs["go"], events)
		for name, wasm := range bs {
			if name == "go" {
				continue
			}
			got := run(t, wasm, events)
			if len(got) != len(ref) {
				t.Fatalf("seed %d: %s produced %d events, go %d", seed, name, len(got), len(ref))
			}
			alerts := 0
			for i := range ref {
				a, b := ref[i], got[i]
				alerts += len(a.Alerts)
				a.Digest, b.Digest = nil, nil
				a.Fuel, b.Fuel = 0, 0 // each build uses its own instructions
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				if !bytes.Equal(ja, jb) {
					t.Fatalf("seed %d event %d: %s differs from go:\n go: %s\n %s: %s", seed, i+1, name, ja, name, jb)
				}
			}
			if alerts == 0 {
				t.Fatalf("seed %d: no alerts at all: the stream does not exercise the contract", seed)
			}
		}
	}
}

// TestReferenceContracts builds every Go reference contract from source
// and runs it, under the real host and runtime, against its golden file
// (wasm-policies/<name>/testdata: params.json, events.jsonl, expected.jsonl).
func TestReferenceContracts(t *testing.T) {
	tests := []struct{ name, custodian string }{
		{"humidshock", ""},
		{"custody", "acme"},
		{"geofence", ""},
		{"pallet", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wasm := buildGo(t, tt.name)
			dir := filepath.Join("..", tt.name, "testdata")
			got, err := policytest.Run(context.Background(), policytest.Config{
				Module: wasm, Name: tt.name, Params: read(t, filepath.Join(dir, "params.json")), Custodian: tt.custodian, Host: hostCfg,
			}, bytes.NewReader(read(t, filepath.Join(dir, "events.jsonl"))))
			if err != nil {
				t.Fatal(err)
			}
			want, err := policytest.ReadLines(bytes.NewReader(read(t, filepath.Join(dir, "expected.jsonl"))))
			if err != nil {
				t.Fatal(err)
			}
			if d := policytest.Compare(got, want); len(d) > 0 {
				t.Fatalf("%d differences from expected.jsonl:\n%s", len(d), strings.Join(d, "\n"))
			}
		})
	}
}

// TestGoMigrate: a Go contract linking sdk/go/migrate (humidshock) takes
// twins over from another build of itself, keeping the state, and refuses
// a foreign state (coldchain's) with its reason; the twin then stays.
func TestGoMigrate(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	_, err := os.Stat(goBin)
	need(t, err == nil, "go toolchain not found at "+goBin)
	dir := t.TempDir()
	build := func(out string, ldflags string) []byte {
		cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-ldflags="+ldflags, "-o", filepath.Join(dir, out), "../humidshock")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, b)
		}
		return read(t, filepath.Join(dir, out))
	}
	v1 := build("v1.wasm", "")
	if v2 := build("v2.wasm", "-buildid=custos-v2"); bytes.Equal(v1, v2) {
		t.Fatal("the two builds have the same bytes")
	}
	events := `{"ts":"2026-11-25T10:00:00Z","type":"humidity","value":70}
{"upgrade":{"module":"v2.wasm","version":"2.0.0"}}
{"ts":"2026-11-25T10:10:00Z","type":"humidity","value":50}
`
	lines, err := policytest.Run(context.Background(), policytest.Config{Module: v1, Name: "humidshock", Dir: dir, Host: hostCfg}, strings.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 4 || lines[2].Kind != "upgrade" || lines[2].Error != "" || *lines[2].StateHash != *lines[1].StateHash ||
		len(lines[3].Alerts) != 1 || lines[3].Alerts[0].Code != "humidity_ok" {
		var b bytes.Buffer
		policytest.WriteLines(&b, lines)
		t.Fatalf("upgrade between humidshock builds:\n%s", b.String())
	}
	lines, err = policytest.Run(context.Background(), policytest.Config{Module: builtin.Coldchain().Wasm, Trusted: true, Dir: dir, Host: hostCfg},
		strings.NewReader(`{"upgrade":{"module":"v1.wasm","version":"9.0.0"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || !strings.Contains(lines[1].Error, "contract_rejected: humidshock: cannot migrate a state of 104 bytes") || lines[1].Seq != 1 {
		t.Fatalf("upgrade from coldchain: %+v", lines[len(lines)-1])
	}
}
