package policytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

const ccDir = "../../wasm-policies/coldchain/testdata"

// hostCfg shares a compilation cache between the hosts of the tests (a Go
// module takes seconds to compile).
var hostCfg contracts.Config

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "custos-policytest-cache")
	if err != nil {
		panic(err)
	}
	hostCfg.CacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func coldchainRun(t testing.TB, cfg Config) []Line {
	t.Helper()
	cfg.Params = readFile(t, filepath.Join(ccDir, "params.json"))
	cfg.Custodian = "acme"
	lines, err := Run(context.Background(), cfg, bytes.NewReader(readFile(t, filepath.Join(ccDir, "events.jsonl"))))
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func expected(t testing.TB) []map[string]json.RawMessage {
	t.Helper()
	want, err := ReadLines(bytes.NewReader(readFile(t, filepath.Join(ccDir, "expected.jsonl"))))
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// TestColdchainGolden runs the built-in coldchain module as the runtime
// registers it, and as a deployment of the same bytes, against the golden
// file the other coldchain builds are checked with too.
func TestColdchainGolden(t *testing.T) {
	for _, trusted := range []bool{true, false} {
		got := coldchainRun(t, Config{Module: builtin.Coldchain().Wasm, Trusted: trusted, Host: hostCfg})
		if d := Compare(got, expected(t)); len(d) > 0 {
			t.Fatalf("trusted=%v: %d differences:\n%s", trusted, len(d), strings.Join(d, "\n"))
		}
	}
}

func TestCompareReportsDifferences(t *testing.T) {
	got := coldchainRun(t, Config{Module: builtin.Coldchain().Wasm, Trusted: true, Host: hostCfg})
	tests := []struct {
		name   string
		change func(w []map[string]json.RawMessage) []map[string]json.RawMessage
		want   string
	}{
		{"missing alert", func(w []map[string]json.RawMessage) []map[string]json.RawMessage {
			delete(w[3], "alerts")
			return w
		}, "event 4 (line 4, reading seq 4): alerts\n    got:  [{\"code\":\"excursion_started\""},
		{"other status", func(w []map[string]json.RawMessage) []map[string]json.RawMessage {
			w[11]["status"] = json.RawMessage(`"in_transit"`)
			return w
		}, "status\n    got:  \"compromised\"\n    want: \"in_transit\""},
		{"state hash", func(w []map[string]json.RawMessage) []map[string]json.RawMessage {
			w[1]["state_hash"] = json.RawMessage(`"0x00"`)
			return w
		}, "state_hash"},
		{"fewer expected", func(w []map[string]json.RawMessage) []map[string]json.RawMessage { return w[:5] }, "not expected"},
		{"more expected", func(w []map[string]json.RawMessage) []map[string]json.RawMessage {
			return append(w, map[string]json.RawMessage{"kind": json.RawMessage(`"reading"`)})
		}, "the run produced only 18 events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Compare(got, tt.change(expected(t)))
			if len(d) == 0 || !strings.Contains(strings.Join(d, "\n"), tt.want) {
				t.Fatalf("diffs %q, want one containing %q", d, tt.want)
			}
		})
	}
}

func TestUpgradeLine(t *testing.T) {
	events := `{"ts":"2026-11-25T10:00:00Z","type":"temperature","value":5}
{"upgrade":{"module":"migrate.wasm","version":"2.0.0"}}
{"ts":"2026-11-25T10:05:00Z","type":"temperature","value":6}
{"upgrade":{"module":"minimal.wasm","version":"3.0.0"}}
`
	lines, err := Run(context.Background(), Config{Module: builtin.Coldchain().Wasm, Trusted: true, Dir: "../../contracts/testdata", Host: hostCfg}, strings.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	// minimal.wasm has no custos_migrate: that upgrade is refused, the twin stays.
	if len(lines) != 5 || lines[2].Kind != "upgrade" || lines[2].Error != "" || lines[2].Seq != 3 || lines[3].Seq != 4 ||
		lines[4].Seq != 4 || !strings.Contains(lines[4].Error, "has no custos_migrate") {
		var b bytes.Buffer
		WriteLines(&b, lines)
		t.Fatalf("lines:\n%s", b.String())
	}
	_, err = Run(context.Background(), Config{Module: builtin.Coldchain().Wasm, Trusted: true, Dir: "../../contracts/testdata", Host: hostCfg},
		strings.NewReader(`{"upgrade":{"module":"migrate.wasm","version":"2.0.0"}}`+"\n"+`{"upgrade":{"module":"trap.wasm","version":"3.0.0"}}`))
	if !errors.Is(err, contracts.ErrInvalidModule) || !strings.Contains(err.Error(), "dry run") {
		t.Fatalf("upgrade to a trapping module: %v", err)
	}
}

func TestRefusedModule(t *testing.T) {
	_, err := Run(context.Background(), Config{Module: readFile(t, "../../contracts/testdata/envimport.wasm")}, strings.NewReader(""))
	if !errors.Is(err, contracts.ErrInvalidModule) || !strings.Contains(err.Error(), "forbidden import env.abort") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadEventsFile(t *testing.T) {
	_, err := Run(context.Background(), Config{Module: builtin.Coldchain().Wasm, Trusted: true}, strings.NewReader("{not json\n"))
	if !errors.Is(err, ErrBadEvents) || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("err = %v", err)
	}
}
