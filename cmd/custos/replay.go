package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/internal/replay"
	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

const replayUsage = `
custos twin replay ID — re-execute a twin's recorded events, as an auditor.

Reads the twin's whole history (GET /v1/twins/{id}/history?raw=1: the
canonical event bytes), runs every event again through the module its record
names (from --module files, the built-in policies, else
GET /v1/policies/{sha256}) on a local contract host with the given limits
(the runtime's defaults unless told), and recomputes every event hash, state
hash, failure kind and digest link. Prints a JSON report; exit 1 if any
record does not reproduce.

Usage:
  custos twin replay ID [--api URL] [--module M.wasm]... [--contract-fuel N] …
`

// moduleFiles is a repeatable --module flag.
type moduleFiles []string

func (m *moduleFiles) String() string     { return fmt.Sprint(*m) }
func (m *moduleFiles) Set(v string) error { *m = append(*m, v); return nil }

func twinReplayCmd(args []string) {
	fs := newFlags("twin replay", replayUsage)
	base := fs.String("api", "http://127.0.0.1:8080", "base URL of the custos HTTP API")
	var files moduleFiles
	fs.Var(&files, "module", "a module file to use (repeatable); others come from the built-ins or the API")
	lim := addContractLimitFlags(fs)
	pos := fs.positional(args)
	if len(pos) != 1 {
		fatalf("twin replay: want ID")
	}
	id := pos[0]
	ctx := context.Background()
	recs := fetchHistory(*base, id)

	mods := map[twin.Hash][]byte{}
	for _, p := range builtin.Policies() {
		mods[sha256.Sum256(p.Wasm)] = p.Wasm
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fatalf("twin replay: %v", err)
		}
		mods[sha256.Sum256(b)] = b
	}
	cfg := lim.config()
	cfg.Logger = slog.New(slog.DiscardHandler)
	host, err := contracts.NewHost(ctx, cfg)
	if err != nil {
		fatalf("twin replay: %v", err)
	}
	defer host.Close(ctx)
	registered := map[twin.Hash]bool{}
	for _, r := range recs {
		if registered[r.Module] {
			continue
		}
		wasm, ok := mods[r.Module]
		if !ok {
			status, body := call(*base, "GET", "/v1/policies/"+r.Module.Hex(), "", nil)
			if status != 200 {
				fatalf("twin replay: module %s: not given with --module and the API answers %d %s", r.Module.Hex(), status, body)
			}
			if sha256.Sum256(body) != r.Module {
				fatalf("twin replay: the API served other bytes for module %s", r.Module.Hex())
			}
			wasm = body
		}
		if _, err := host.Register(ctx, "m"+strconv.Itoa(len(registered)), "replay", wasm); err != nil {
			fatalf("twin replay: module %s: %v", r.Module.Hex(), err)
		}
		registered[r.Module] = true
	}
	rep, err := replay.Run(ctx, host, recs)
	out, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Printf("%s\n", out)
	if err != nil {
		fatalf("twin replay: %v", err)
	}
	if len(rep.Problems) > 0 {
		os.Exit(1)
	}
}

// fetchHistory pages through GET /v1/twins/{id}/history?raw=1.
func fetchHistory(base, id string) []twin.Record {
	var recs []twin.Record
	after := ""
	for {
		q := url.Values{"raw": {"1"}, "limit": {"1000"}}
		if after != "" {
			q.Set("after", after)
		}
		status, body := call(base, "GET", "/v1/twins/"+url.PathEscape(id)+"/history?"+q.Encode(), "", nil)
		if status != 200 {
			fatalf("twin replay: history: %d %s", status, body)
		}
		var page struct {
			Records []struct {
				twin.Record
				EventRaw []byte `json:"event_raw"` // see httpapi.HistoryEntry
			} `json:"records"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			fatalf("twin replay: history: %v", err)
		}
		for _, e := range page.Records {
			r := e.Record
			r.Event = e.EventRaw
			recs = append(recs, r)
		}
		if page.Next == "" {
			return recs
		}
		after = page.Next
	}
}
