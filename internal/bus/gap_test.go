package bus

import (
	"errors"
	"testing"
)

// TestNextDelivery: a consumer's deliveries must come 1, 2, 3, … (every
// run creates its consumers afresh); anything else is a gap that ends the
// run before the message is applied, for that consumer only.
func TestNextDelivery(t *testing.T) {
	d := map[string]uint64{}
	for _, c := range []struct {
		consumer string
		dseq     uint64
		gap      bool
	}{
		{"p0", 1, false}, {"p1", 1, false}, {"p0", 2, false}, {"p0", 3, false}, {"p1", 2, false},
		{"p0", 5, true},  // 4 lost in transit
		{"p0", 4, false}, // still expected
		{"p1", 2, true},  // a delivery again, out of order
		{"p2", 2, true},  // a new consumer's first delivery lost
	} {
		err := nextDelivery(d, c.consumer, c.dseq, 100+c.dseq)
		if got := errors.Is(err, errDeliveryGap); got != c.gap {
			t.Fatalf("%s delivery %d: err %v, want gap %v", c.consumer, c.dseq, err, c.gap)
		}
	}
	if d["p0"] != 4 || d["p1"] != 2 || d["p2"] != 0 {
		t.Fatalf("delivered = %v", d)
	}
}
