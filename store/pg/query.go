package pg

import (
	"context"

	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/custos-dev/custos/twin"
)

const defaultLimit = 100

func limitOf(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}

const twinColumns = `id, kind, contract_name, contract_version, contract_sha256, params, parent, children,
	custodian, status, seq, view, digest, alerts, created_ns, updated_ns, state, stream_seq, timers,
	watermark_ns, last_reading_ns, lag_ns, lateness_ns, buffered`

// Twin returns the latest committed snapshot of a twin, or an error wrapping
// twin.ErrNotFound.
func (db *DB) Twin(ctx context.Context, id string) (*twin.Twin, error) {
	rows, err := db.pool.Query(ctx, "SELECT "+twinColumns+" FROM twins WHERE id = $1", id)
	if err != nil {
		return nil, fmt.Errorf("pg twin %s: %w", id, err)
	}
	ts, err := scanTwins(rows)
	if err != nil {
		return nil, fmt.Errorf("pg twin %s: %w", id, err)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("pg twin %s: %w", id, twin.ErrNotFound)
	}
	return ts[0], nil
}

// TimerTwins lists, in id order after after, up to limit twins whose
// snapshot holds processing-time timers, with their timers
// ([twin.TimerIndex]): one query through the partial index of migration
// 0005, so a start reads those rows, not every row.
func (db *DB) TimerTwins(ctx context.Context, after string, limit int) ([]twin.TwinTimers, error) {
	rows, err := db.pool.Query(ctx, "SELECT id, timers FROM twins WHERE proc_timers AND id > $1 ORDER BY id LIMIT $2", after, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("pg timer twins: %w", err)
	}
	defer rows.Close()
	var out []twin.TwinTimers
	for rows.Next() {
		var (
			tt     twin.TwinTimers
			timers []byte
		)
		if err := rows.Scan(&tt.ID, &timers); err != nil {
			return nil, fmt.Errorf("pg timer twins: %w", err)
		}
		if tt.Timers, err = parseTimers(timers); err != nil {
			return nil, fmt.Errorf("pg timer twins: twin %s: %w", tt.ID, err)
		}
		out = append(out, tt)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pg timer twins: %w", err)
	}
	return out, nil
}

// Twins lists committed twins in id order, filtered by status, kind and
// custodian, after the cursor q.After.
func (db *DB) Twins(ctx context.Context, q twin.TwinQuery) ([]*twin.Twin, error) {
	var w where
	if q.After != "" {
		w.add("id > ", q.After)
	}
	if q.Status != "" {
		w.add("status = ", q.Status)
	}
	if q.Kind != "" {
		w.add("kind = ", q.Kind)
	}
	if q.Custodian != "" {
		w.add("custodian = ", q.Custodian)
	}
	if !q.StaleBefore.IsZero() {
		// twin.Twin.DataTime: the newest reading, else creation.
		w.add("COALESCE(last_reading_ns, created_ns) < ", q.StaleBefore.UnixNano())
	}
	sql := "SELECT " + twinColumns + " FROM twins" + w.String() + " ORDER BY id LIMIT " + strconv.Itoa(limitOf(q.Limit))
	rows, err := db.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, fmt.Errorf("pg twins: %w", err)
	}
	ts, err := scanTwins(rows)
	if err != nil {
		return nil, fmt.Errorf("pg twins: %w", err)
	}
	return ts, nil
}

func scanTwins(rows pgx.Rows) ([]*twin.Twin, error) {
	var out []*twin.Twin
	var (
		csha, digest                          []byte
		params, view, state, timers, buffered []byte
		children                              []string
		seq, alerts, streamSeq, lag, lateness int64
		created, updated, wm, lastReading     pgtype.Int8
	)
	for rows.Next() {
		t := new(twin.Twin)
		children = nil
		if err := rows.Scan(&t.ID, &t.Kind, &t.Contract.Name, &t.Contract.Version, &csha, &params,
			&t.Parent, &children, &t.Custodian, &t.Status, &seq, &view, &digest, &alerts,
			&created, &updated, &state, &streamSeq, &timers,
			&wm, &lastReading, &lag, &lateness, &buffered); err != nil {
			rows.Close()
			return nil, err
		}
		copy(t.Contract.SHA256[:], csha)
		copy(t.Digest[:], digest)
		t.Params = cloneOrNil(params)
		t.View = cloneOrNil(view)
		t.State = cloneOrNil(state)
		if len(children) > 0 {
			t.Children = children
		}
		t.Seq = uint64(seq)
		t.Alerts = uint64(alerts)
		t.StreamSeq = uint64(streamSeq)
		t.Created = fromNanos(created)
		t.Updated = fromNanos(updated)
		t.Watermark = fromNanos(wm)
		t.LastReading = fromNanos(lastReading)
		t.Lag, t.Lateness = time.Duration(lag), time.Duration(lateness)
		var err error
		if t.Buffered, err = twin.ParseBuffered(buffered); err != nil {
			rows.Close()
			return nil, fmt.Errorf("twin %s: %w", t.ID, err)
		}
		if t.Timers, err = parseTimers(timers); err != nil {
			rows.Close()
			return nil, fmt.Errorf("twin %s: %w", t.ID, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// cloneOrNil copies b (which pgx may reuse for the next row), or returns nil
// if it is empty.
func cloneOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// History returns a twin's applied events in seq order: those with seq >
// q.AfterSeq and event time in [q.From, q.To) (a zero bound is open), at
// most q.Limit (0 means 100).
func (db *DB) History(ctx context.Context, q twin.HistoryQuery) ([]twin.Record, error) {
	var w where
	w.add("twin = ", q.Twin)
	if q.AfterSeq > 0 {
		w.add("seq > ", int64(q.AfterSeq))
	}
	w.timeRange(q.From, q.To)
	sql := "SELECT twin, seq, stream_seq, ts, kind, event, event_hash, state_hash, module, digest," +
		" record_ns, late, failure, failure_detail FROM history" +
		w.String() + " ORDER BY seq LIMIT " + strconv.Itoa(limitOf(q.Limit))
	rows, err := db.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, fmt.Errorf("pg history %s: %w", q.Twin, err)
	}
	var out []twin.Record
	var (
		r                             twin.Record
		seq, streamSeq                int64
		ts, recordTS                  pgtype.Int8
		kind                          int16
		event, eh, sh, module, digest []byte
	)
	for rows.Next() {
		if err := rows.Scan(&r.Twin, &seq, &streamSeq, &ts, &kind, &event, &eh, &sh, &module, &digest,
			&recordTS, &r.Late, &r.Failure, &r.FailureDetail); err != nil {
			rows.Close()
			return nil, fmt.Errorf("pg history %s: %w", q.Twin, err)
		}
		r.Seq, r.StreamSeq = uint64(seq), uint64(streamSeq)
		r.Time, r.RecordTime = fromNanos(ts), fromNanos(recordTS)
		r.Kind = twin.EventKind(kind)
		r.Event = cloneOrNil(event)
		copy(r.EventHash[:], eh)
		copy(r.StateHash[:], sh)
		copy(r.Module[:], module)
		copy(r.Digest[:], digest)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pg history %s: %w", q.Twin, err)
	}
	return out, nil
}

// Alerts returns the alerts of q.Twin in number order (n > q.AfterN), or,
// when q.Twin is "", the latest alerts of all twins, newest (by event time)
// first. Either way only alerts with event time in [q.From, q.To) (a zero
// bound is open), at most q.Limit (0 means 100).
func (db *DB) Alerts(ctx context.Context, q twin.AlertQuery) ([]twin.Alert, error) {
	var w where
	order := " ORDER BY ts DESC NULLS LAST, twin DESC, n DESC"
	if q.Twin != "" {
		w.add("twin = ", q.Twin)
		if q.AfterN > 0 {
			w.add("n > ", int64(q.AfterN))
		}
		order = " ORDER BY n"
	}
	w.timeRange(q.From, q.To)
	sql := "SELECT twin, n, seq, severity, code, message, ts FROM alerts" + w.String() + order +
		" LIMIT " + strconv.Itoa(limitOf(q.Limit))
	rows, err := db.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, fmt.Errorf("pg alerts: %w", err)
	}
	var out []twin.Alert
	var (
		a      twin.Alert
		n, seq int64
		ts     pgtype.Int8
	)
	for rows.Next() {
		if err := rows.Scan(&a.Twin, &n, &seq, &a.Severity, &a.Code, &a.Message, &ts); err != nil {
			rows.Close()
			return nil, fmt.Errorf("pg alerts: %w", err)
		}
		a.N, a.Seq, a.Time = uint64(n), uint64(seq), fromNanos(ts)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pg alerts: %w", err)
	}
	return out, nil
}

// where builds a WHERE clause of ANDed conditions with numbered parameters.
type where struct {
	conds []string
	args  []any
}

// add appends the condition expr $n, binding v to $n.
func (w *where) add(expr string, v any) {
	w.args = append(w.args, v)
	w.conds = append(w.conds, expr+"$"+strconv.Itoa(len(w.args)))
}

func (w *where) timeRange(from, to time.Time) {
	if !from.IsZero() {
		w.add("ts >= ", from.UnixNano())
	}
	if !to.IsZero() {
		w.add("ts < ", to.UnixNano())
	}
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
