package bus

import (
	"testing"
	"time"
)

// slowRuntime stands for a runtime whose passivation pass takes a while.
type slowRuntime struct {
	idle   time.Duration
	over   bool
	pass   time.Duration
	passes int
}

func (r *slowRuntime) IdleAfter() time.Duration { return r.idle }
func (r *slowRuntime) OverCap() bool            { return r.over }
func (r *slowRuntime) Passivate(time.Time) int {
	r.passes++
	time.Sleep(r.pass)
	return 0
}

// TestPassivationSchedule: passes every 10 s (a quarter of a short idle
// time), sooner over the cap, but never more often than once a second nor
// than ten times what the last pass took, so ingest, which waits for a
// pass, spends at most a tenth of its time in them.
func TestPassivationSchedule(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(p *passivation, rt *slowRuntime, d time.Duration, want bool) {
		t.Helper()
		n := rt.passes
		p.maybe(t0.Add(d))
		if got := rt.passes > n; got != want {
			t.Fatalf("at %v (last pass due at %v, took %v): pass %v, want %v", d, p.last.Sub(t0), p.took, got, want)
		}
	}

	rt := &slowRuntime{idle: 10 * time.Minute}
	p := &passivation{rt: rt, last: t0}
	at(p, rt, 9*time.Second, false)
	at(p, rt, 10*time.Second+time.Millisecond, true)
	at(p, rt, 15*time.Second, false)

	rt = &slowRuntime{idle: time.Second}
	p = &passivation{rt: rt, last: t0}
	if p.every() != 250*time.Millisecond {
		t.Fatalf("passes every %v with an idle time of 1 s, want 250ms", p.every())
	}
	at(p, rt, 200*time.Millisecond, false)
	at(p, rt, 260*time.Millisecond, true)

	// Over the cap: once a second while passes are quick…
	rt = &slowRuntime{idle: 10 * time.Minute, over: true}
	p = &passivation{rt: rt, last: t0}
	at(p, rt, 900*time.Millisecond, false)
	at(p, rt, 1100*time.Millisecond, true)
	at(p, rt, 2200*time.Millisecond, true)
	// …and no sooner than ten times the last pass once they are slow.
	rt.pass = 300 * time.Millisecond
	at(p, rt, 3300*time.Millisecond, true)
	if p.took < rt.pass {
		t.Fatalf("pass took %v, recorded %v", rt.pass, p.took)
	}
	at(p, rt, 4400*time.Millisecond, false)
	at(p, rt, 3300*time.Millisecond+10*p.took+time.Millisecond, true)
}
