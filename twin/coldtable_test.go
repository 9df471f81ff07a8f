package twin

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestColdTableAgainstMap runs random puts, replacements and deletes on a
// coldTable and a Go map and checks they agree throughout (growth and
// backward-shift deletion included).
func TestColdTableAgainstMap(t *testing.T) {
	for _, keys := range []int{40, 5000} { // few keys: full runs wrap around the end
		testColdTable(t, keys)
	}
}

func testColdTable(t *testing.T, keys int) {
	rng := rand.New(rand.NewPCG(1, uint64(keys)))
	c, ref := newColdTable(), map[string]string{}
	check := func(step int) {
		if c.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, c.len(), len(ref))
		}
		seen := 0
		c.each(func(id, p []byte) {
			seen++
			if ref[string(id)] != string(p) {
				t.Fatalf("step %d: each gives %s=%q, want %q", step, id, p, ref[string(id)])
			}
		})
		if seen != len(ref) {
			t.Fatalf("step %d: each saw %d of %d", step, seen, len(ref))
		}
	}
	for step := range 200_000 {
		id := "T-" + strconv.Itoa(rng.IntN(keys))
		switch rng.IntN(3) {
		case 0, 1:
			v := strconv.Itoa(step) + "-" + id
			c.put(newEntry(id, []byte(v)))
			ref[id] = v
		case 2:
			c.delete(id)
			delete(ref, id)
		}
		if got, want := c.get(id), ref[id]; string(got) != want || (got == nil) != (want == "") {
			t.Fatalf("step %d: get %s = %q, want %q", step, id, got, want)
		}
		if step%20_000 == 0 {
			check(step)
		}
	}
	check(-1)
	for id := range ref {
		c.delete(id)
	}
	if c.len() != 0 || c.get("T-1") != nil {
		t.Fatalf("%d entries left", c.len())
	}
}
