package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/internal/policytest"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

const policyUsage = `
custos policy — contract modules (WebAssembly policies).

Usage:
  custos policy list                       names, versions, sha256 and twins on each
  custos policy deploy MODULE.wasm --name N --version V [--fuel F]
                                           validate (exports, imports, size, dry run),
                                           store and register a module on a running custos
  custos policy test MODULE.wasm --params p.json --events e.jsonl [--expect x.jsonl]
                                           run a contract offline exactly as the runtime
                                           does and print (or check) what each event did;
                                           MODULE may be builtin:coldchain (the default
                                           build) or builtin:coldchain@1.0.0; same limit
                                           flags and defaults as custos run
                                           (--contract-fuel, --contract-memory-pages, …)
Events file (JSON Lines): readings as on custos.telemetry.<twin>, {"command":{…}},
{"upgrade":{"module":"v2.wasm","version":"2.0.0"}}, {"advance":"RFC3339"}.
See docs/authoring.md.
`

func policyCmd(args []string) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(os.Stderr, strings.TrimLeft(policyUsage, "\n"))
		os.Exit(2)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "list":
		fs := newFlags("policy list", policyUsage)
		base := fs.String("api", "http://127.0.0.1:8080", "base URL of the custos HTTP API")
		fs.parse(args)
		api(*base, "GET", "/v1/policies", nil)
	case "deploy":
		policyDeploy(args)
	case "test":
		os.Exit(policyTest(args, os.Stdout, os.Stderr))
	default:
		fmt.Fprintf(os.Stderr, "custos policy: unknown subcommand %q\n%s", sub, strings.TrimLeft(policyUsage, "\n"))
		os.Exit(2)
	}
}

func policyDeploy(args []string) {
	fs := newFlags("policy deploy", policyUsage)
	base := fs.String("api", "http://127.0.0.1:8080", "base URL of the custos HTTP API")
	name := fs.String("name", "", "policy name")
	ver := fs.String("version", "", "policy version (semantic, e.g. 1.2.0)")
	fuel := fs.Uint64("fuel", 0, "declare this per-call fuel budget in the module (a custos.fuel section, see ABI.md §6) instead of the runtime's --contract-fuel; the module deployed is then another sha256")
	pos := fs.positional(args)
	if len(pos) != 1 || *name == "" || *ver == "" {
		fatalf("policy deploy: want MODULE.wasm --name N --version V")
	}
	wasm, err := os.ReadFile(pos[0])
	if err != nil {
		fatalf("policy deploy: %v", err)
	}
	if *fuel != 0 {
		if wasm, err = contracts.WithFuel(wasm, *fuel); err != nil {
			fatalf("policy deploy: --fuel: %v", err)
		}
	}
	q := url.Values{"name": {*name}, "version": {*ver}}
	rawAPI(*base, "POST", "/v1/policies?"+q.Encode(), "application/wasm", wasm)
}

// twinUpgradeCmd is `custos twin upgrade ID --version V [--policy P]`: it
// moves a twin to another version of its policy through custos_migrate.
func twinUpgradeCmd(args []string) {
	fs := newFlags("twin upgrade", "custos twin upgrade ID --version V [--policy P]\n")
	base := fs.String("api", "http://127.0.0.1:8080", "base URL of the custos HTTP API")
	ver := fs.String("version", "", "version to move the twin to")
	pol := fs.String("policy", "", "policy name (default: the twin's)")
	pos := fs.positional(args)
	if len(pos) != 1 || *ver == "" {
		fatalf("twin upgrade: want ID --version V")
	}
	body := map[string]string{"type": "upgrade", "version": *ver}
	if *pol != "" {
		body["policy"] = *pol
	}
	api(*base, "POST", "/v1/twins/"+url.PathEscape(pos[0])+"/events", body)
}

// rawAPI sends body as is and prints the JSON answer indented; an error
// answer goes to stderr with exit status 1.
func rawAPI(base, method, path, contentType string, body []byte) {
	status, data := call(base, method, path, contentType, body)
	var pretty bytes.Buffer
	if json.Indent(&pretty, data, "", "  ") == nil {
		data = pretty.Bytes()
	}
	if status >= 300 {
		fmt.Fprintf(os.Stderr, "%s\n", data)
		os.Exit(1)
	}
	fmt.Printf("%s\n", bytes.TrimRight(data, "\n"))
}

// call sends one request to the API (with CUSTOS_TOKEN, if set) and returns
// the status and body; it exits when the API cannot be reached.
func call(base, method, path, contentType string, body []byte) (int, []byte) {
	req, err := http.NewRequest(method, strings.TrimRight(base, "/")+path, bytes.NewReader(body))
	if err != nil {
		fatalf("%v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if tok := os.Getenv("CUSTOS_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		fatalf("%v (is `custos run` running? --api / CUSTOS_API says where)", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// policyTest runs `custos policy test` and returns the exit code: 0 ok, 1
// differences from --expect (or a module refused), 2 usage.
func policyTest(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("policy test", policyUsage)
	params := fs.String("params", "", "contract params: a JSON file, or inline JSON (default {})")
	events := fs.String("events", "", "events file (JSON Lines); - for stdin")
	expect := fs.String("expect", "", "expected output (JSON Lines); exit 1 with a diff if it differs")
	update := fs.Bool("update", false, "with --expect: write the output to that file instead of comparing")
	twinID := fs.String("twin", "twin-1", "twin id")
	kind := fs.String("kind", "pallet", "twin kind")
	custodian := fs.String("custodian", "", "first custodian")
	name := fs.String("name", "policy", "policy name")
	ver := fs.String("version", "0.0.0-test", "policy version")
	lim := addContractLimitFlags(fs)
	pos := fs.positional(args)
	if len(pos) != 1 || *events == "" {
		fmt.Fprintln(stderr, "custos policy test: want MODULE.wasm --events e.jsonl [--params p.json] [--expect x.jsonl]")
		return 2
	}
	cfg := policytest.Config{Name: *name, Version: *ver, Twin: *twinID, Kind: *kind, Custodian: *custodian, Host: lim.config()}
	if b, ok := strings.CutPrefix(pos[0], "builtin:"); ok {
		// builtin:NAME is the version new twins get (the last registered);
		// builtin:NAME@VERSION names one.
		b, v, _ := strings.Cut(b, "@")
		found := false
		for _, p := range builtin.Policies() {
			if p.Name == b && (v == "" || p.Version == v) {
				cfg.Module, cfg.Trusted, found = p.Wasm, true, true
			}
		}
		if !found {
			fmt.Fprintf(stderr, "custos policy test: no built-in policy %q\n", strings.TrimPrefix(pos[0], "builtin:"))
			return 2
		}
	} else {
		wasm, err := os.ReadFile(pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "custos policy test: %v\n", err)
			return 2
		}
		cfg.Module = wasm
	}
	if p := strings.TrimSpace(*params); p != "" {
		if !strings.HasPrefix(p, "{") {
			b, err := os.ReadFile(p)
			if err != nil {
				fmt.Fprintf(stderr, "custos policy test: params: %v\n", err)
				return 2
			}
			p = string(b)
		}
		if !json.Valid([]byte(p)) {
			fmt.Fprintln(stderr, "custos policy test: params are not valid JSON")
			return 2
		}
		cfg.Params = json.RawMessage(p)
	}
	var in io.Reader = os.Stdin
	if *events != "-" {
		f, err := os.Open(*events)
		if err != nil {
			fmt.Fprintf(stderr, "custos policy test: %v\n", err)
			return 2
		}
		defer f.Close()
		in = f
		cfg.Dir = filepath.Dir(*events)
	}
	lines, err := policytest.Run(context.Background(), cfg, in)
	if err != nil {
		fmt.Fprintf(stderr, "custos policy test: %v\n", err)
		return 1
	}
	if *expect == "" || *update {
		var w io.Writer = stdout
		if *update {
			f, err := os.Create(*expect)
			if err != nil {
				fmt.Fprintf(stderr, "custos policy test: %v\n", err)
				return 1
			}
			defer f.Close()
			w = f
		}
		if err := policytest.WriteLines(w, lines); err != nil {
			fmt.Fprintf(stderr, "custos policy test: %v\n", err)
			return 1
		}
		return 0
	}
	f, err := os.Open(*expect)
	if err != nil {
		fmt.Fprintf(stderr, "custos policy test: %v\n", err)
		return 2
	}
	defer f.Close()
	want, err := policytest.ReadLines(f)
	if err != nil {
		fmt.Fprintf(stderr, "custos policy test: %v\n", err)
		return 2
	}
	if diffs := policytest.Compare(lines, want); len(diffs) > 0 {
		fmt.Fprintf(stderr, "custos policy test: %d difference(s) from %s:\n", len(diffs), *expect)
		for _, d := range diffs {
			fmt.Fprintf(stderr, "  %s\n", d)
		}
		return 1
	}
	fmt.Fprintf(stdout, "ok: %d events match %s\n", len(lines), *expect)
	return 0
}
