package app_test

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/policytest"
	auditreplay "github.com/custos-dev/custos/internal/replay"
	"github.com/custos-dev/custos/twin"
)

// outcome is what one event did: its failure kind, or the digest of the
// record it was applied as.
type outcome struct {
	failure string
	digest  twin.Hash
}

// misbehaveValues are readings for contracts/testdata/misbehave.wat: good
// ones, a runaway loop, a memory bomb, a trap, oversized output, and loops
// whose fuel depends on the event.
var misbehaveValues = []float64{5, 1001, 6, 1002, 2003, 1003, 7, 1004, 2010, 8}

const misbehaveCreate = "2026-11-25T09:59:00Z"

func misbehaveTS(i int) string {
	return time.Date(2026, 11, 25, 10, i, 0, 0, time.UTC).Format(time.RFC3339)
}

// TestMeteringSameVerdicts: the same module and events give the same
// outcome on every event — applied with the same digest, or failed with
// the same kind — in the runtime (NATS, bus, store) and in `custos policy
// test` (policytest.Run with the default limits), idle and with a
// CPU-burning goroutine on every core. Nothing decides by the clock.
func TestMeteringSameVerdicts(t *testing.T) {
	wasm, err := os.ReadFile("../../contracts/testdata/misbehave.wasm")
	if err != nil {
		t.Fatal(err)
	}
	var events bytes.Buffer
	for i, v := range misbehaveValues {
		events.Write(reading(misbehaveTS(i), v))
		events.WriteByte('\n')
	}
	want := []string{"", "fuel", "", "memory", "", "trap", "", "output_too_large", "", ""}

	var results [][]outcome
	for _, burn := range []bool{false, true} {
		stop := func() {}
		if burn {
			stop = burnCPU()
		}
		offline := policyTestOutcomes(t, wasm, events.Bytes())
		live := runtimeOutcomes(t, wasm)
		stop()
		got := make([]string, len(offline))
		for i, o := range offline {
			got[i] = o.failure
		}
		if !slices.Equal(got, want) {
			t.Fatalf("burn=%v: policy test kinds %q, want %q", burn, got, want)
		}
		if !slices.Equal(offline, live) {
			t.Fatalf("burn=%v: runtime and policy test differ:\n  policy test %v\n  runtime     %v", burn, offline, live)
		}
		results = append(results, live)
	}
	if !slices.Equal(results[0], results[1]) {
		t.Fatalf("idle and loaded runs differ:\n  %v\n  %v", results[0], results[1])
	}
}

// burnCPU keeps every core busy until the returned func is called.
func burnCPU() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				for i := range 100_000 {
					x += i
				}
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}

func policyTestOutcomes(t *testing.T, wasm, events []byte) []outcome {
	t.Helper()
	start, _ := time.Parse(time.RFC3339, misbehaveCreate)
	lines, err := policytest.Run(context.Background(), policytest.Config{
		Module: wasm, Name: "misbehave", Version: "1.0.0", Twin: "M", Kind: "case", Start: start,
		Host: contracts.Config{CacheDir: testCache()},
	}, bytes.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	var out []outcome
	for _, l := range lines[1:] { // after the create event
		o := outcome{failure: l.Failure}
		if l.Digest != nil && l.Error == "" {
			o.digest = *l.Digest
		}
		out = append(out, o)
	}
	return out
}

func runtimeOutcomes(t *testing.T, wasm []byte) []outcome {
	t.Helper()
	ctx := context.Background()
	a, err := app.Start(ctx, app.Config{
		Data: t.TempDir(), NATSListen: "127.0.0.1:0", HTTP: "127.0.0.1:0", Logger: quietLogger(), CacheDir: testCache(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Modules.Deploy(ctx, "misbehave", "1.0.0", wasm); err != nil {
		t.Fatal(err)
	}
	code, body := httpDo(t, a, "POST", "/v1/twins", map[string]any{"id": "M", "kind": "case", "policy": "misbehave", "ts": misbehaveCreate})
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	nc, js := client(t, a)
	dlq := make(chan *nats.Msg, 16)
	if _, err := nc.ChanSubscribe("custos.dlq.contract_failed", dlq); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var out []outcome
	for i, v := range misbehaveValues {
		before, err := a.Store.Twin(ctx, "M")
		if err != nil {
			t.Fatal(err)
		}
		publish(t, js, "custos.telemetry.M", reading(misbehaveTS(i), v))
		// One event at a time: either the twin's seq moves or a dead
		// letter arrives.
		deadline := time.After(60 * time.Second)
		for o := (outcome{}); o == (outcome{}); {
			select {
			case m := <-dlq:
				kind, _, _ := strings.Cut(m.Header.Get("Custos-Error"), ":")
				o.failure = kind
				for _, k := range []string{"fuel", "memory", "trap", "output_too_large", "invalid_output"} {
					if strings.Contains(m.Header.Get("Custos-Error"), ": "+k+": ") {
						o.failure = k
					}
				}
				out = append(out, o)
			case <-deadline:
				t.Fatalf("event %d (%v): no outcome", i, v)
			case <-time.After(5 * time.Millisecond):
				tw, err := a.Store.Twin(ctx, "M")
				if err != nil || tw.Seq == before.Seq {
					continue
				}
				recs, err := a.Store.History(ctx, twin.HistoryQuery{Twin: "M", AfterSeq: before.Seq, Limit: 1})
				if err != nil || len(recs) != 1 {
					t.Fatalf("history after %d: %v %v", before.Seq, recs, err)
				}
				o.digest = recs[0].Digest
				out = append(out, o)
			}
		}
	}
	checkReplay(t, a, wasm)
	return out
}

// checkReplay replays twin M's history on a host of its own (an
// auditor's): every record reproduces; a tampered state hash does not.
func checkReplay(t *testing.T, a *app.App, wasm []byte) {
	t.Helper()
	ctx := context.Background()
	recs, err := a.Store.History(ctx, twin.HistoryQuery{Twin: "M", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	h, err := contracts.NewHost(ctx, contracts.Config{CacheDir: testCache(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	if _, err := h.Register(ctx, "misbehave", "1.0.0", wasm); err != nil {
		t.Fatal(err)
	}
	rep, err := auditreplay.Run(ctx, h, recs)
	if err != nil || len(rep.Problems) > 0 || rep.Records != len(recs) || rep.Head != recs[len(recs)-1].Digest {
		t.Fatalf("replay: %+v, %v", rep, err)
	}
	recs[3].StateHash[0] ^= 1
	if rep, err := auditreplay.Run(ctx, h, recs); err != nil || len(rep.Problems) != 1 || rep.Problems[0].Seq != 4 {
		t.Fatalf("tampered record: %+v, %v", rep, err)
	}
}
