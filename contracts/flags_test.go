package contracts

import (
	"context"
	"testing"

	"github.com/custos-dev/custos/twin"
)

// TestEventFlagsOnlyForModulesThatReadThem: the LATE bit (ABI.md §3) is
// shown to modules that export custos_event_flags; modules without it,
// built when the bytes were reserved (the SDKs of then refused anything
// but 0), see 0 there. The rest of the event is the same bytes.
func TestEventFlagsOnlyForModulesThatReadThem(t *testing.T) {
	h := newTestHost(t, Config{})
	ctx := context.Background()
	ev := encodeEvent(t, reading(2, t0, 5))
	ev[2] = 1 // LATE
	for _, tt := range []struct {
		module string
		flags  byte
	}{{"eventhead", 0}, {"eventflags", 1}} {
		c := mustContract(t, h, tt.module)
		for _, apply := range []bool{false, true} {
			var state []byte
			var err error
			if apply {
				out, aerr := c.Apply(ctx, twin.Call{Twin: "p1", Seq: 2, Time: t0}, []byte{1}, ev)
				state, err = out.State, aerr
			} else {
				out, ierr := c.Init(ctx, twin.Call{Twin: "p1", Seq: 2, Time: t0}, ev)
				state, err = out.State, ierr
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := []byte{ev[0], ev[1], tt.flags, 0}; string(state) != string(want) {
				t.Fatalf("%s (apply %v) saw event head % x, want % x", tt.module, apply, state, want)
			}
		}
	}
}
