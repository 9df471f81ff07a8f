package bus

import (
	"errors"
	"testing"
)

// TestNextDelivery: a consumer's deliveries must come 1, 2, 3, … (every
// run creates its consumers afresh); anything else is a gap that ends the
// run before the message is applied, for that consumer only.
func TestNextDelivery(t *testing.T) {
	d := &deliveries{last: map[string]uint64{}}
	step := func(consumer string, dseq uint64, gap bool) {
		t.Helper()
		err := d.next(consumer, dseq, 100+dseq)
		if got := errors.Is(err, errDeliveryGap); got != gap {
			t.Fatalf("%s delivery %d: err %v, want gap %v", consumer, dseq, err, gap)
		}
	}
	step("p0", 1, false)
	step("p1", 1, false)
	step("p0", 2, false)
	step("p0", 3, false)
	step("p1", 2, false)
	step("p0", 5, true)  // 4 lost in transit
	step("p0", 4, false) // still expected
	step("p1", 2, true)  // a delivery again, out of order
	step("p2", 2, true)  // a new consumer's first delivery lost
	if d.last["p0"] != 4 || d.last["p1"] != 2 || d.last["p2"] != 0 {
		t.Fatalf("delivered = %v", d.last)
	}
	// A message whose metadata could not be read: its sequence is unknown,
	// so each consumer's next delivery is taken as it comes, then followed.
	d.lost()
	step("p0", 7, false)
	step("p1", 9, false)
	step("p0", 8, false)
	step("p0", 10, true)
}
