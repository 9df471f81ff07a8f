package pg

import (
	"context"
	"testing"
	"time"

	"github.com/custos-dev/custos/store/storetest"
	"github.com/custos-dev/custos/twin"
)

// TestConformance runs the store conformance suite, each subtest in a fresh
// schema of the test database.
func TestConformance(t *testing.T) {
	url := testURL(t)
	storetest.Run(t, func(t *testing.T) (twin.Store, storetest.Reopen) {
		schema := newSchema(t)
		open := func(t *testing.T) twin.Store {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			db, err := Open(ctx, url, WithSchema(schema))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return db
		}
		return open(t), open
	})
}
