// Package replay re-executes a twin's recorded history, as an auditor does:
// every event is run again through the module its record names, under the
// same deterministic limits, and every state hash, failure kind and digest
// link is recomputed from scratch and compared with the record. It is what
// `custos twin replay` runs.
//
// It needs nothing but the records (with their canonical event bytes) and
// the modules' bytes: it does not trust the recorded state hashes or
// digests, it recomputes them.
package replay

import (
	"context"
	"errors"
	"fmt"

	"github.com/custos-dev/custos/twin"
)

// Problem is a record whose recomputation differs from what was recorded.
type Problem struct {
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

// Report is the outcome of a replay.
type Report struct {
	Twin     string    `json:"twin"`
	Records  int       `json:"records"`  // records replayed
	Failures int       `json:"failures"` // failure records among them
	Head     twin.Hash `json:"head"`     // the recomputed digest of the last record
	Problems []Problem `json:"problems,omitempty"`
}

// ErrIncomplete: the records do not start at seq 1 or skip a seq, so the
// state cannot be rebuilt.
var ErrIncomplete = errors.New("incomplete history")

// Run replays recs (one twin's records in seq order, from seq 1, with
// Event set) on host. A record that does not reproduce is a Problem in the
// report; the replay goes on from the recorded digest, so one tampered
// record is reported once. Errors are for what stops the replay (a
// missing module, a gap in the history, ctx).
func Run(ctx context.Context, host twin.ContractHost, recs []twin.Record) (*Report, error) {
	rep := &Report{}
	if len(recs) == 0 {
		return rep, nil
	}
	rep.Twin = recs[0].Twin
	h := twin.NewHasher()
	var prev twin.Hash
	var state []byte
	for i := range recs {
		r := &recs[i]
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if r.Seq != uint64(i+1) || r.Twin != rep.Twin {
			return rep, fmt.Errorf("%w: record %d is %s seq %d, want %s seq %d", ErrIncomplete, i, r.Twin, r.Seq, rep.Twin, i+1)
		}
		problem := func(format string, args ...any) {
			rep.Problems = append(rep.Problems, Problem{Seq: r.Seq, Reason: fmt.Sprintf(format, args...)})
		}
		var e twin.Event
		if err := e.UnmarshalBinary(r.Event); err != nil {
			problem("event encoding: %v", err)
			prev = r.Digest
			continue
		}
		eventHash := h.Sum(r.Event)
		if eventHash != r.EventHash {
			problem("event hash %s, recorded %s", eventHash, r.EventHash)
		}
		c, err := host.Contract(ctx, r.Module)
		if err != nil {
			return rep, fmt.Errorf("seq %d: module %s: %w", r.Seq, r.Module.Hex(), err)
		}
		call := twin.Call{Twin: r.Twin, Seq: r.Seq, Time: e.Time}
		var out twin.Output
		switch e.Kind {
		case twin.KindCreate:
			out, err = c.Init(ctx, call, r.Event)
		case twin.KindUpgrade:
			m, ok := c.(twin.Migrator)
			if !ok {
				return rep, fmt.Errorf("seq %d: module %s has no custos_migrate", r.Seq, r.Module.Hex())
			}
			out, err = m.Migrate(ctx, call, state, r.Event)
		default:
			out, err = c.Apply(ctx, call, state, r.Event)
		}
		failure := ""
		var ce *twin.ContractError
		switch {
		case errors.As(err, &ce) && ce.Deterministic():
			failure = ce.Kind
		case err != nil:
			return rep, fmt.Errorf("seq %d: %w", r.Seq, err)
		case out.Reject != "":
			problem("the contract now rejects the event: %s", out.Reject)
		default:
			state = out.State
		}
		if failure != r.Failure {
			problem("failure %q, recorded %q", failure, r.Failure)
		}
		if failure != "" {
			rep.Failures++
		}
		stateHash := h.Sum(state)
		if stateHash != r.StateHash {
			problem("state hash %s, recorded %s", stateHash, r.StateHash)
		}
		d := h.NextFailure(prev, r.Twin, r.Seq, eventHash, stateHash, r.Module, failure)
		if d != r.Digest {
			problem("digest %s, recorded %s", d, r.Digest)
		}
		rep.Head = d
		prev = r.Digest
		rep.Records++
	}
	return rep, nil
}
