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

// outcomes is what a run did: the failure kinds of the events that failed,
// in order, and the digests of the records after the create event (applied
// events, and failure records once the runtime writes them: a digest
// commits to the failure kind).
type outcomes struct {
	failures []string
	digests  []twin.Hash
}

func (o outcomes) equal(p outcomes) bool {
	return slices.Equal(o.failures, p.failures) && slices.Equal(o.digests, p.digests)
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
	want := []string{"fuel", "memory", "trap", "output_too_large"}

	var results []outcomes
	for _, burn := range []bool{false, true} {
		stop := func() {}
		if burn {
			stop = burnCPU()
		}
		offline := policyTestOutcomes(t, wasm, events.Bytes())
		live := runtimeOutcomes(t, wasm, len(want))
		stop()
		if !slices.Equal(offline.failures, want) {
			t.Fatalf("burn=%v: policy test failures %q, want %q", burn, offline.failures, want)
		}
		if !offline.equal(live) {
			t.Fatalf("burn=%v: runtime and policy test differ:\n  policy test %v\n  runtime     %v", burn, offline, live)
		}
		results = append(results, live)
	}
	if !results[0].equal(results[1]) {
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

func policyTestOutcomes(t *testing.T, wasm, events []byte) outcomes {
	t.Helper()
	start, _ := time.Parse(time.RFC3339, misbehaveCreate)
	lines, err := policytest.Run(context.Background(), policytest.Config{
		Module: wasm, Name: "misbehave", Version: "1.0.0", Twin: "M", Kind: "case", Start: start,
		Host: contracts.Config{CacheDir: testCache()},
	}, bytes.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	var out outcomes
	for _, l := range lines[1:] { // after the create event
		if l.Failure != "" {
			out.failures = append(out.failures, l.Failure)
		}
		if l.Digest != nil {
			out.digests = append(out.digests, *l.Digest)
		}
	}
	return out
}

// runtimeOutcomes publishes the events to a running custos at once and
// collects the dead letters and the twin's history.
func runtimeOutcomes(t *testing.T, wasm []byte, nfail int) outcomes {
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
	for i, v := range misbehaveValues {
		publish(t, js, "custos.telemetry.M", reading(misbehaveTS(i), v))
	}
	var out outcomes
	deadline := time.After(60 * time.Second)
	for len(out.failures) < nfail {
		select {
		case m := <-dlq:
			e := m.Header.Get("Custos-Error")
			kind, _, _ := strings.Cut(e, ":")
			out.failures = append(out.failures, kind)
		case <-deadline:
			t.Fatalf("dead letters: %q", out.failures)
		}
	}
	// The last event is a good one: wait until it is applied.
	last, _ := time.Parse(time.RFC3339, misbehaveTS(len(misbehaveValues)-1))
	var recs []twin.Record
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		recs, err = a.Store.History(ctx, twin.HistoryQuery{Twin: "M", Limit: 1000})
		if err == nil && len(recs) > 0 && recs[len(recs)-1].Time.Equal(last) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("history: %d records, %v", len(recs), err)
		}
	}
	for _, r := range recs[1:] {
		out.digests = append(out.digests, r.Digest)
	}
	checkReplay(t, a, wasm)
	return out
}

// checkReplay replays twin M's history on a host of its own (an
// auditor's): every record reproduces, failure records included; a
// tampered state hash does not.
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
	failures := 0 // failure records, once the runtime writes them (issue 10)
	for _, r := range recs {
		if r.Failure != "" {
			failures++
		}
	}
	if err != nil || len(rep.Problems) > 0 || rep.Records != len(recs) || rep.Failures != failures || rep.Head != recs[len(recs)-1].Digest {
		t.Fatalf("replay: %+v, %v", rep, err)
	}
	recs[3].StateHash[0] ^= 1
	if rep, err := auditreplay.Run(ctx, h, recs); err != nil || len(rep.Problems) != 1 || rep.Problems[0].Seq != 4 {
		t.Fatalf("tampered record: %+v, %v", rep, err)
	}
}
