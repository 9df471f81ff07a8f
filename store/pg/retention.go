package pg

import (
	"context"
	"fmt"
	"time"
)

// pruneChunk is how many history rows one DELETE removes, so that pruning
// a large backlog holds no long locks and does not bloat one transaction.
const pruneChunk = 10000

// PruneHistory deletes the history records whose event time is before
// before, in chunks of bounded size, and returns how many it deleted. It
// stops early, returning the count so far and ctx's error, when ctx is done.
// Snapshots and alerts are kept.
func (db *DB) PruneHistory(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		tag, err := db.pool.Exec(ctx, `DELETE FROM history WHERE ctid = ANY(ARRAY(
	SELECT ctid FROM history WHERE ts < $1 LIMIT $2))`, before.UnixNano(), pruneChunk)
		if err != nil {
			return total, fmt.Errorf("pg prune history: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneChunk {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("pg prune history: %w", err)
		}
	}
}

// retain runs PruneHistory every db.cfg.retention interval until ctx is
// done.
func (db *DB) retain(ctx context.Context) {
	defer db.wg.Done()
	r := db.cfg.retention
	tick := time.NewTicker(r.interval())
	defer tick.Stop()
	for {
		n, err := db.PruneHistory(ctx, time.Now().Add(-r.Keep))
		switch {
		case err != nil && ctx.Err() == nil:
			db.log.Warn("pg: pruning history failed", "err", err)
		case n > 0:
			db.log.Info("pg: pruned history", "records", n, "keep", r.Keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
