package pg_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/custos-dev/custos/store/pg"
	"github.com/custos-dev/custos/twin"
)

// Open a store in its own schema, keep 30 days of history, commit a batch
// and read it back. (Not run: it needs a PostgreSQL server.)
func ExampleOpen() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := pg.Open(ctx, "postgres://custos:secret@127.0.0.1:5432/custos",
		pg.WithSchema("custos"),
		pg.WithRetention(pg.Retention{Keep: 30 * 24 * time.Hour}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	b := &twin.Batch{Twins: []*twin.Twin{{ID: "pallet-1", Kind: "pallet", Status: twin.StatusCreated}}}
	if err := db.Commit(ctx, b); err != nil {
		log.Fatal(err) // the caller retries the same batch
	}
	t, err := db.Twin(ctx, "pallet-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.ID, t.Status)
}
