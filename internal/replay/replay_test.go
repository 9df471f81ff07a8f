package replay_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/internal/replay"
	"github.com/custos-dev/custos/twin"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func host(t *testing.T, cfg contracts.Config, wasm []byte) *contracts.Host {
	t.Helper()
	ctx := context.Background()
	cfg.Logger = slog.New(slog.DiscardHandler)
	h, err := contracts.NewHost(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(ctx) })
	if _, err := h.Register(ctx, "misbehave", "1.0.0", wasm); err != nil {
		t.Fatal(err)
	}
	return h
}

// record builds a history the way the fixed decisions of the record format
// say (an independent recorder, not the runtime's code): an applied event
// extends the chain with NextDigest, a deterministic contract failure with
// a failure record (state unchanged, NextFailureDigest with the kind).
func record(t *testing.T, h *contracts.Host, values []float64) []twin.Record {
	t.Helper()
	ctx := context.Background()
	ref, _ := h.Resolve(ctx, "misbehave", "1.0.0")
	c, err := h.Contract(ctx, ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var recs []twin.Record
	var prev twin.Hash
	var state []byte
	evs := []twin.Event{{Kind: twin.KindCreate, Time: t0, Fields: []string{"case", "", "", ""}}}
	for i, v := range values {
		evs = append(evs, twin.Event{Kind: twin.KindReading, Type: twin.TypeTemperature, Time: t0.Add(time.Duration(i+1) * time.Minute),
			Value: v, Fields: []string{"t1", "CEL"}})
	}
	for i, e := range evs {
		e.Seq = uint64(i + 1)
		enc, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		call := twin.Call{Twin: "M", Seq: e.Seq, Time: e.Time}
		var out twin.Output
		if i == 0 {
			out, err = c.Init(ctx, call, enc)
		} else {
			out, err = c.Apply(ctx, call, state, enc)
		}
		failure := ""
		var ce *twin.ContractError
		switch {
		case errors.As(err, &ce) && ce.Deterministic():
			failure = ce.Kind
		case err != nil:
			t.Fatal(err)
		default:
			state = out.State
		}
		r := twin.Record{Twin: "M", Seq: e.Seq, Time: e.Time, Kind: e.Kind, Event: enc, Failure: failure,
			EventHash: twin.Keccak256(enc), StateHash: twin.Keccak256(state), Module: ref.SHA256}
		r.Digest = twin.NextFailureDigest(prev, r.Twin, r.Seq, r.EventHash, r.StateHash, r.Module, failure)
		prev = r.Digest
		recs = append(recs, r)
	}
	return recs
}

// TestReplayFailureRecords: a history with failure records of every
// deterministic kind replays on another host; a changed failure kind, a
// changed event, and other limits are each caught at their seq.
func TestReplayFailureRecords(t *testing.T) {
	wasm, err := os.ReadFile("../../contracts/testdata/misbehave.wasm")
	if err != nil {
		t.Fatal(err)
	}
	values := []float64{5, 1001, 6, 1002, 2003, 1003, 7, 1004, 2010, 8}
	cfg := contracts.Config{Fuel: 5_000_000, MaxMemoryPages: 256}
	recs := record(t, host(t, cfg, wasm), values)
	ctx := context.Background()

	auditor := host(t, cfg, wasm)
	rep, err := replay.Run(ctx, auditor, recs)
	if err != nil || len(rep.Problems) != 0 || rep.Records != 11 || rep.Failures != 4 || rep.Head != recs[10].Digest {
		t.Fatalf("replay: %+v %v", rep, err)
	}

	tampered := append([]twin.Record(nil), recs...)
	tampered[6].Failure = twin.FailureFuel // seq 7 trapped
	tampered[6].Digest = tampered[6].Link(tampered[5].Digest)
	if rep, err := replay.Run(ctx, auditor, tampered); err != nil || len(rep.Problems) == 0 || rep.Problems[0].Seq != 7 {
		t.Fatalf("changed failure kind: %+v %v", rep, err)
	}

	tampered = append([]twin.Record(nil), recs...)
	ev := append([]byte(nil), tampered[3].Event...)
	ev[24] ^= 1 // the value
	tampered[3].Event = ev
	if rep, err := replay.Run(ctx, auditor, tampered); err != nil || len(rep.Problems) == 0 || rep.Problems[0].Seq != 4 {
		t.Fatalf("changed event: %+v %v", rep, err)
	}

	// A budget of 30,000 fails the 10,000-iteration loop of seq 10 (and
	// only it): verdicts depend on the limits, not on the machine.
	small := host(t, contracts.Config{Fuel: 30_000, MaxMemoryPages: 256}, wasm)
	rep, err = replay.Run(ctx, small, recs)
	if err != nil || len(rep.Problems) == 0 || rep.Problems[0].Seq != 10 {
		t.Fatalf("other limits: %+v %v", rep, err)
	}

	if _, err := replay.Run(ctx, auditor, recs[1:]); !errors.Is(err, replay.ErrIncomplete) {
		t.Fatalf("history without seq 1: %v", err)
	}
}
