package contracts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/custos-dev/custos/twin"
)

// dryRunTime is the event time of the dry run's events.
var dryRunTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// DryRunEvents are the events of a deployment dry run: a create event with
// empty params ({}), then one reading of each ABI v1 type, a custody
// transfer and a status change. custos_init and every custos_apply must
// return well-formed output (a reject is fine); custos_view, if exported,
// must render valid JSON.
func DryRunEvents() []twin.Event {
	at := func(i int) time.Time { return dryRunTime.Add(time.Duration(i) * time.Minute) }
	evs := []twin.Event{{Kind: twin.KindCreate, Time: at(0), Fields: []string{"dryrun", "{}", "dryrun-party", ""}}}
	for typ := twin.TypeTemperature; typ <= twin.TypeTilt; typ++ {
		e := twin.Event{Kind: twin.KindReading, Type: typ, Time: at(len(evs)), Value: 5, Fields: []string{"s1", ""}}
		if typ == twin.TypeLocation {
			e.Value, e.Value2 = 52.37, 4.89
		}
		evs = append(evs, e)
	}
	evs = append(evs,
		twin.Event{Kind: twin.KindCustody, Time: at(len(evs)), Fields: []string{"dryrun-party", "dryrun-carrier"}},
		twin.Event{Kind: twin.KindStatus, Time: at(len(evs) + 1), Fields: []string{twin.StatusInTransit}})
	for i := range evs {
		evs[i].Seq = uint64(i + 1)
	}
	return evs
}

// dryRunModule runs DryRunEvents through m. A failure wraps
// ErrInvalidModule and names the entry point and the event.
func dryRunModule(ctx context.Context, m *module) error {
	var state []byte
	for i, ev := range DryRunEvents() {
		enc, _ := ev.MarshalBinary()
		call := twin.Call{Twin: "dryrun", Seq: ev.Seq, Time: ev.Time}
		var out twin.Output
		var err error
		fn := "custos_apply"
		if i == 0 {
			fn = "custos_init"
			out, err = m.Init(ctx, call, enc)
		} else {
			out, err = m.Apply(ctx, call, state, enc)
		}
		if err != nil {
			return dryRunError(fn, ev, err)
		}
		if out.Reject != "" {
			if i == 0 {
				return nil // the contract wants params: nothing more to try
			}
			continue
		}
		state = out.State
		if _, err := m.View(ctx, call, state); err != nil {
			return dryRunError("custos_view", ev, err)
		}
	}
	return nil
}

func dryRunError(fn string, ev twin.Event, err error) error {
	var ce *twin.ContractError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: dry run: %s on %s event (seq %d) failed: %s: %v", ErrInvalidModule, fn, ev.Kind, ev.Seq, ce.Kind, ce.Err)
	}
	return fmt.Errorf("dry run: %s on %s event: %w", fn, ev.Kind, err)
}
