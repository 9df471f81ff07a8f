package pg

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/custos-dev/custos/store/storetest"
	"github.com/custos-dev/custos/twin"
)

// TestConformance runs the store conformance suite, each subtest in a fresh
// schema of the test database, once with every history write through COPY
// and once with every one through INSERT … ON CONFLICT.
func TestConformance(t *testing.T) {
	url := testURL(t)
	for _, mode := range []struct {
		name    string
		copyMin int
	}{
		{"copy", 0},
		{"upsert", math.MaxInt},
	} {
		t.Run(mode.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) (twin.Store, storetest.Reopen) {
				schema := newSchema(t)
				open := func(t *testing.T) twin.Store {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					db, err := Open(ctx, url, WithSchema(schema))
					if err != nil {
						t.Fatalf("Open: %v", err)
					}
					db.copyMin = mode.copyMin
					return db
				}
				return open(t), open
			})
		})
	}
}
