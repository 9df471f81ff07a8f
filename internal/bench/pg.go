package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/custos-dev/custos/store/pg"
	"github.com/custos-dev/custos/twin"
)

// isPostgres reports whether store names a PostgreSQL database.
func isPostgres(store string) bool {
	return strings.HasPrefix(store, "postgres://") || strings.HasPrefix(store, "postgresql://")
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// freshSchema returns url with a new schema (pg.SchemaParam), so that a run
// starts on empty tables, and a function that drops the schema.
func freshSchema(url string) (string, func()) { return pg.FreshSchema(url, "bench") }

// Store rows/s measurement: writers commit batches shaped like the ingest
// path's (storeTwins snapshots, storePerTwin history records each, an
// alert for one twin in 20) for a fixed time, each on its own twins.
const (
	storeTwins   = 200
	storePerTwin = 5
)

// storeRows measures the history records/s that the PostgreSQL store at url
// sustains with writers concurrent Commits, for about d, in a fresh schema.
func storeRows(ctx context.Context, url string, writers int, d time.Duration) (float64, error) {
	url, drop := freshSchema(url)
	defer drop()
	db, err := pg.Open(ctx, url, pg.WithLogger(quiet), pg.WithMaxConns(writers))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var (
		records  atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := storeBatch(fmt.Sprintf("W%d", w))
			for round := uint64(0); time.Now().Before(deadline) && ctx.Err() == nil; round++ {
				advance(b, round)
				if err := db.Commit(ctx, b); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				records.Add(int64(len(b.Records)))
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(records.Load()) / time.Since(start).Seconds(), nil
}

// storeBatch returns the first batch of a writer whose twin ids start with
// prefix.
func storeBatch(prefix string) *twin.Batch {
	b := &twin.Batch{}
	module := twin.Keccak256([]byte("module"))
	for i := range storeTwins {
		id := fmt.Sprintf("%s-T%04d", prefix, i)
		b.Twins = append(b.Twins, &twin.Twin{
			ID: id, Kind: "pallet", Status: twin.StatusInTransit, Custodian: "carrier-a",
			Contract: twin.ContractRef{Name: "coldchain", Version: "1.0.0", SHA256: module},
			Params:   []byte(`{"min_c":2,"max_c":8}`), View: []byte(`{"temperature_c":4.5,"readings":12}`),
			State: make([]byte, 64), Created: base, Timers: []twin.Timer{{Name: "no_reading", At: base}},
		})
		for k := range storePerTwin {
			ev := twin.Event{Kind: twin.KindReading, Type: twin.TypeTemperature, Time: base, Seq: uint64(k + 1), Value: 4.5, Fields: []string{"t1", "CEL"}}
			r := twin.Record{Twin: id, Kind: twin.KindReading, Module: module}
			r.Event, _ = ev.MarshalBinary()
			r.EventHash = twin.Keccak256(r.Event)
			r.StateHash = twin.Keccak256(r.EventHash[:])
			r.Digest = twin.Keccak256(r.StateHash[:])
			b.Records = append(b.Records, r)
		}
		if i%20 == 0 {
			b.Alerts = append(b.Alerts, twin.Alert{Twin: id, Severity: twin.SeverityWarning, Code: "excursion", Message: "out of band"})
		}
	}
	return b
}

// advance moves b to round n: new seqs and times, so every Commit inserts.
// Event bytes and hashes stay (the store does not look into them), so the
// client side costs next to nothing.
func advance(b *twin.Batch, n uint64) {
	first := n * storePerTwin
	for _, tw := range b.Twins {
		tw.Seq = first + storePerTwin
		tw.StreamSeq = tw.Seq
		tw.Updated = base.Add(time.Duration(tw.Seq) * time.Second)
	}
	for i := range b.Records {
		r := &b.Records[i]
		r.Seq = first + uint64(i%storePerTwin) + 1
		r.StreamSeq = r.Seq
		r.Time = base.Add(time.Duration(r.Seq) * time.Second)
	}
	for i := range b.Alerts {
		a := &b.Alerts[i]
		a.N, a.Seq = n+1, first+1
		a.Time = base.Add(time.Duration(a.Seq) * time.Second)
	}
}
