package pg

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/custos-dev/custos/twin"
)

// The three statements of a Commit. Each binds one array per column and
// inserts the rows of unnest(…): one statement, one round trip, whatever
// the batch size. Re-committing the same keys overwrites the rows (a replay
// after a crash writes identical values).
const (
	upsertTwinsSQL = `INSERT INTO twins (id, kind, contract_name, contract_version, contract_sha256,
	params, parent, children, custodian, status, seq, view, digest, alerts,
	created_ns, updated_ns, state, stream_seq, timers,
	watermark_ns, last_reading_ns, lag_ns, lateness_ns, buffered)
SELECT id, kind, cname, cversion, csha, params, parent, string_to_array(children, ','),
	custodian, status, seq, view, digest, alerts, created_ns, updated_ns, state, stream_seq, timers::jsonb,
	watermark_ns, last_reading_ns, lag_ns, lateness_ns, buffered
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bytea[], $7::text[],
	$8::text[], $9::text[], $10::text[], $11::int8[], $12::bytea[], $13::bytea[], $14::int8[],
	$15::int8[], $16::int8[], $17::bytea[], $18::int8[], $19::text[],
	$20::int8[], $21::int8[], $22::int8[], $23::int8[], $24::bytea[])
	AS u(id, kind, cname, cversion, csha, params, parent, children, custodian, status, seq, view,
	digest, alerts, created_ns, updated_ns, state, stream_seq, timers,
	watermark_ns, last_reading_ns, lag_ns, lateness_ns, buffered)
ON CONFLICT (id) DO UPDATE SET
	kind = EXCLUDED.kind, contract_name = EXCLUDED.contract_name,
	contract_version = EXCLUDED.contract_version, contract_sha256 = EXCLUDED.contract_sha256,
	params = EXCLUDED.params, parent = EXCLUDED.parent, children = EXCLUDED.children,
	custodian = EXCLUDED.custodian, status = EXCLUDED.status, seq = EXCLUDED.seq,
	view = EXCLUDED.view, digest = EXCLUDED.digest, alerts = EXCLUDED.alerts,
	created_ns = EXCLUDED.created_ns, updated_ns = EXCLUDED.updated_ns, state = EXCLUDED.state,
	stream_seq = EXCLUDED.stream_seq, timers = EXCLUDED.timers,
	watermark_ns = EXCLUDED.watermark_ns, last_reading_ns = EXCLUDED.last_reading_ns,
	lag_ns = EXCLUDED.lag_ns, lateness_ns = EXCLUDED.lateness_ns, buffered = EXCLUDED.buffered,
	written_at = now()
WHERE twins.seq <= EXCLUDED.seq`

	insertHistorySQL = `INSERT INTO history (twin, seq, stream_seq, ts, kind, event, event_hash, state_hash, module, digest,
	record_ns, late, failure, failure_detail)
SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int2[], $6::bytea[],
	$7::bytea[], $8::bytea[], $9::bytea[], $10::bytea[], $11::int8[], $12::bool[], $13::text[], $14::text[])
ON CONFLICT (twin, seq) DO UPDATE SET
	stream_seq = EXCLUDED.stream_seq, ts = EXCLUDED.ts, kind = EXCLUDED.kind, event = EXCLUDED.event,
	event_hash = EXCLUDED.event_hash, state_hash = EXCLUDED.state_hash, module = EXCLUDED.module,
	digest = EXCLUDED.digest, record_ns = EXCLUDED.record_ns, late = EXCLUDED.late,
	failure = EXCLUDED.failure, failure_detail = EXCLUDED.failure_detail`

	insertAlertsSQL = `INSERT INTO alerts (twin, n, seq, severity, code, message, ts)
SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::int8[])
ON CONFLICT (twin, n) DO UPDATE SET
	seq = EXCLUDED.seq, severity = EXCLUDED.severity, code = EXCLUDED.code,
	message = EXCLUDED.message, ts = EXCLUDED.ts`
)

// copyMinRecords is the batch size (in history records) from which Commit
// streams history with COPY rather than an INSERT … ON CONFLICT.
const copyMinRecords = 64

// Commit writes b atomically and durably: its snapshots, history records and
// alerts are written in one transaction, and Commit returns nil only after
// that transaction committed. It returns promptly with an error when the
// database is unreachable or ctx is done; nothing of b is then visible, and
// the caller may retry with the same b.
//
// Within one batch, a later snapshot of the same twin (or a later record or
// alert with the same key) wins. A batch holding an invalid twin id is
// refused with an error wrapping twin.ErrInvalidID.
//
// Large batches take the fast path: history is streamed with COPY, which
// fails on a record that is already stored; Commit then rolls back and
// writes the batch again with upserts (a replay after a crash). When the
// connection breaks under it, Commit tries once more on a new connection.
func (db *DB) Commit(ctx context.Context, b *twin.Batch) error {
	if b == nil || len(b.Twins)+len(b.Records)+len(b.Alerts) == 0 {
		return nil
	}
	if err := validate(b); err != nil {
		return fmt.Errorf("pg commit: %w", err)
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	err := db.commit(ctx, b, s)
	if err != nil && connBroken(ctx, err) {
		// The connection broke (a server restart, a cut network): the pool
		// has dropped it. Try once more on a fresh one. Whatever the first
		// try did or did not commit, committing b again is harmless.
		err = db.commit(ctx, b, s)
	}
	if err != nil {
		if fe := fenced(err, b.Fences); fe != nil {
			return fmt.Errorf("pg commit: %w", fe)
		}
		return fmt.Errorf("pg commit: %w", err)
	}
	return nil
}

// fenced turns the fence check's refusal into a *twin.FencedError (nil if
// err is not one).
func fenced(err error, fences map[int]uint64) *twin.FencedError {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != fencedCode {
		return nil
	}
	p, _ := strconv.Atoi(pe.Hint)
	cur, _ := strconv.ParseUint(pe.Detail, 10, 64)
	return &twin.FencedError{Partition: p, Token: fences[p], Current: cur}
}

// AdvanceFence raises partition's fence to token (a node taking the
// partition does so before it reads any of its twins), so that a former
// owner can no longer commit it. It fails with a *twin.FencedError if the
// fence is higher already (a newer owner exists).
func (db *DB) AdvanceFence(ctx context.Context, partition int, token uint64) error {
	fences := map[int]uint64{partition: token}
	_, err := db.pool.Exec(ctx, fenceCheckSQL, []int32{int32(partition)}, []int64{int64(token)})
	if fe := fenced(err, fences); fe != nil {
		return fmt.Errorf("pg fence: %w", fe)
	}
	if err != nil {
		return fmt.Errorf("pg fence: %w", err)
	}
	return nil
}

func (db *DB) commit(ctx context.Context, b *twin.Batch, s *scratch) error {
	if len(b.Records) >= db.copyMin {
		s.reset()
		err := db.commitCopy(ctx, b, s)
		if !isUniqueViolation(err) {
			return err
		}
		// Some records are stored already: a replay. Upsert instead.
	}
	s.reset()
	return db.commitUpsert(ctx, b, s)
}

// connBroken reports whether err is a failure of the connection rather than
// an answer of the server, with ctx still live.
func connBroken(ctx context.Context, err error) bool {
	var pe *pgconn.PgError
	return ctx.Err() == nil && !errors.As(err, &pe) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// fenceCheckSQL checks and advances the fences of a batch's partitions
// (migration 0003); it fails with fencedCode when one is higher.
const fenceCheckSQL = `SELECT custos_fence_check($1::int[], $2::int8[])`

const fencedCode = "CUF01"

// queueTwinsAlerts queues the fence check, the snapshot upsert and the
// alerts insert of b.
func queueTwinsAlerts(batch *pgx.Batch, b *twin.Batch, s *scratch) {
	if len(b.Fences) > 0 {
		parts := make([]int32, 0, len(b.Fences))
		tokens := make([]int64, 0, len(b.Fences))
		for p, t := range b.Fences {
			parts, tokens = append(parts, int32(p)), append(tokens, int64(t))
		}
		batch.Queue(fenceCheckSQL, parts, tokens)
	}
	if len(b.Twins) > 0 {
		s.twins.fill(b.Twins, s)
		t := &s.twins
		batch.Queue(upsertTwinsSQL, t.id, t.kind, t.cname, t.cversion, t.csha, t.params, t.parent,
			t.children, t.custodian, t.status, t.seq, t.view, t.digest, t.alerts, t.created, t.updated,
			t.state, t.streamSeq, t.timers, t.watermark, t.lastReading, t.lag, t.lateness, t.buffered)
	}
	if len(b.Alerts) > 0 {
		a := &s.alerts
		a.fill(b.Alerts, s)
		batch.Queue(insertAlertsSQL, a.twin, a.n, a.seq, a.severity, a.code, a.message, a.ts)
	}
}

// commitUpsert writes b as one pipeline of three upserts.
func (db *DB) commitUpsert(ctx context.Context, b *twin.Batch, s *scratch) error {
	var batch pgx.Batch
	queueTwinsAlerts(&batch, b, s)
	if len(b.Records) > 0 {
		h := &s.history
		h.fill(b.Records, s, true)
		batch.Queue(insertHistorySQL, h.twin, h.seq, h.streamSeq, h.ts, h.kind, h.event,
			h.eventHash, h.stateHash, h.module, h.digest, h.recordTS, h.late, h.failure, h.failureDetail)
	}
	// Without explicit BEGIN, pgx sends the queued statements followed by a
	// single Sync: PostgreSQL runs them as one implicit transaction that
	// commits at the Sync, or rolls back entirely on the first error.
	return db.pool.SendBatch(ctx, &batch).Close()
}

// commitCopy writes b in one transaction: BEGIN and the snapshot and alert
// upserts in one pipeline, then history by COPY, then COMMIT. It fails with
// a unique violation if a record of b is stored already.
func (db *DB) commitCopy(ctx context.Context, b *twin.Batch, s *scratch) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var batch pgx.Batch
	batch.BeginTx(pgx.TxOptions{})
	queueTwinsAlerts(&batch, b, s)
	br := conn.SendBatch(ctx, &batch)
	tx := br.Tx()
	if err := br.Close(); err != nil {
		rollback(ctx, tx)
		return err
	}
	// COPY refuses a record stored already, or one twice in b: the caller
	// then falls back to upserts.
	s.buf = appendHistoryCopy(s.buf[:0], b.Records)
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(s.buf), copyHistorySQL); err != nil {
		rollback(ctx, tx)
		return err
	}
	return tx.Commit(ctx)
}

// rollback ends tx after a failure, even if ctx is done, within a bound.
func rollback(ctx context.Context, tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	tx.Rollback(ctx) // the error that made us roll back is the one to report
}

const copyHistorySQL = `COPY history (twin, seq, stream_seq, ts, kind, event, event_hash, state_hash, module, digest,
	record_ns, late, failure, failure_detail) FROM STDIN (FORMAT binary)`

// appendHistoryCopy appends rs to b in PostgreSQL's binary COPY format, in
// the column order of copyHistorySQL. Encoding by hand costs no allocation
// per value, where pgx's CopyFrom boxes and plans every one.
func appendHistoryCopy(b []byte, rs []twin.Record) []byte {
	b = append(b, "PGCOPY\n\xff\r\n\x00"...)
	b = binary.BigEndian.AppendUint32(b, 0) // flags
	b = binary.BigEndian.AppendUint32(b, 0) // header extension length
	for i := range rs {
		r := &rs[i]
		b = binary.BigEndian.AppendUint16(b, 14) // fields in the row
		b = copyField(b, []byte(r.Twin))
		b = copyInt8(b, r.Seq)
		b = copyInt8(b, r.StreamSeq)
		b = copyTime(b, r.Time)
		b = binary.BigEndian.AppendUint32(b, 2)
		b = binary.BigEndian.AppendUint16(b, uint16(r.Kind))
		b = copyField(b, r.Event)
		b = copyField(b, r.EventHash[:])
		b = copyField(b, r.StateHash[:])
		b = copyField(b, r.Module[:])
		b = copyField(b, r.Digest[:])
		b = copyTime(b, r.RecordTime)
		b = binary.BigEndian.AppendUint32(b, 1)
		if r.Late {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = copyField(b, []byte(r.Failure))
		b = copyField(b, []byte(r.FailureDetail))
	}
	return binary.BigEndian.AppendUint16(b, 0xffff) // trailer
}

// copyTime appends t as Unix nanoseconds, NULL for the zero time.
func copyTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.BigEndian.AppendUint32(b, 0xffffffff) // NULL
	}
	return copyInt8(b, uint64(t.UnixNano()))
}

func copyField(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func copyInt8(b []byte, v uint64) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, v)
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// validate refuses a batch holding a nil twin or an invalid twin id, before
// anything is sent.
func validate(b *twin.Batch) error {
	for i, t := range b.Twins {
		if t == nil {
			return fmt.Errorf("twin %d of batch is nil", i)
		}
		if !twin.ValidID(t.ID) {
			return fmt.Errorf("twin %q: %w", t.ID, twin.ErrInvalidID)
		}
		for _, c := range t.Children {
			if !twin.ValidID(c) {
				return fmt.Errorf("twin %s: child %q: %w", t.ID, c, twin.ErrInvalidID)
			}
		}
	}
	for i := range b.Records {
		if id := b.Records[i].Twin; !twin.ValidID(id) {
			return fmt.Errorf("record of twin %q: %w", id, twin.ErrInvalidID)
		}
	}
	for i := range b.Alerts {
		if id := b.Alerts[i].Twin; !twin.ValidID(id) {
			return fmt.Errorf("alert of twin %q: %w", id, twin.ErrInvalidID)
		}
	}
	return nil
}

// scratch holds the column arrays of one Commit, reused across commits.
type scratch struct {
	twins   twinCols
	history historyCols
	alerts  alertCols
	seen    map[string]int // key -> index of the last occurrence
	key     []byte
	buf     []byte
}

var scratchPool = sync.Pool{New: func() any { return &scratch{seen: make(map[string]int)} }}

func (s *scratch) reset() {
	s.twins.reset()
	s.history.reset()
	s.alerts.reset()
}

type twinCols struct {
	id, kind, cname, cversion, parent, custodian, status []string
	children, timers                                     []pgtype.Text
	csha, params, view, digest, state, buffered          [][]byte
	seq, alerts, streamSeq, lag, lateness                []int64
	created, updated, watermark, lastReading             []pgtype.Int8
}

func (c *twinCols) reset() {
	*c = twinCols{
		id: c.id[:0], kind: c.kind[:0], cname: c.cname[:0], cversion: c.cversion[:0],
		parent: c.parent[:0], custodian: c.custodian[:0], status: c.status[:0],
		children: c.children[:0], timers: c.timers[:0],
		csha: clearBytes(c.csha), params: clearBytes(c.params), view: clearBytes(c.view),
		digest: clearBytes(c.digest), state: clearBytes(c.state), buffered: clearBytes(c.buffered),
		seq: c.seq[:0], alerts: c.alerts[:0], streamSeq: c.streamSeq[:0],
		lag: c.lag[:0], lateness: c.lateness[:0],
		created: c.created[:0], updated: c.updated[:0], watermark: c.watermark[:0], lastReading: c.lastReading[:0],
	}
}

// clearBytes empties a slice of byte slices, dropping references to the
// caller's memory.
func clearBytes(b [][]byte) [][]byte {
	clear(b)
	return b[:0]
}

func (c *twinCols) fill(ts []*twin.Twin, s *scratch) {
	// The last snapshot of a twin in the batch wins: ON CONFLICT DO UPDATE
	// cannot touch the same row twice in one statement.
	last := s.seen
	clear(last)
	for i, t := range ts {
		last[t.ID] = i
	}
	for i, t := range ts {
		if last[t.ID] != i {
			continue
		}
		c.id = append(c.id, t.ID)
		c.kind = append(c.kind, t.Kind)
		c.cname = append(c.cname, t.Contract.Name)
		c.cversion = append(c.cversion, t.Contract.Version)
		c.csha = append(c.csha, t.Contract.SHA256[:])
		c.params = append(c.params, nilIfEmpty(t.Params))
		c.parent = append(c.parent, t.Parent)
		ch := pgtype.Text{}
		if t.Children != nil {
			// Valid ids contain no comma (validate checked them).
			ch = pgtype.Text{String: strings.Join(t.Children, ","), Valid: true}
		}
		c.children = append(c.children, ch)
		c.custodian = append(c.custodian, t.Custodian)
		c.status = append(c.status, t.Status)
		c.seq = append(c.seq, int64(t.Seq))
		c.view = append(c.view, nilIfEmpty(t.View))
		c.digest = append(c.digest, t.Digest[:])
		c.alerts = append(c.alerts, int64(t.Alerts))
		c.created = append(c.created, nanos(t.Created))
		c.updated = append(c.updated, nanos(t.Updated))
		c.state = append(c.state, nilIfEmpty(t.State))
		c.streamSeq = append(c.streamSeq, int64(t.StreamSeq))
		tm := pgtype.Text{}
		if len(t.Timers) > 0 {
			s.buf = appendTimers(s.buf[:0], t.Timers)
			tm = pgtype.Text{String: string(s.buf), Valid: true}
		}
		c.timers = append(c.timers, tm)
		c.watermark = append(c.watermark, nanos(t.Watermark))
		c.lastReading = append(c.lastReading, nanos(t.LastReading))
		c.lag = append(c.lag, int64(t.Lag))
		c.lateness = append(c.lateness, int64(t.Lateness))
		var buf []byte
		if len(t.Buffered) > 0 {
			buf = twin.AppendBuffered(nil, t.Buffered)
		}
		c.buffered = append(c.buffered, buf)
	}
}

type historyCols struct {
	twin, failure, failureDetail                []string
	seq, streamSeq                              []int64
	ts, recordTS                                []pgtype.Int8
	kind                                        []int16
	late                                        []bool
	event, eventHash, stateHash, module, digest [][]byte
}

func (c *historyCols) reset() {
	*c = historyCols{
		twin: c.twin[:0], seq: c.seq[:0], streamSeq: c.streamSeq[:0], ts: c.ts[:0], kind: c.kind[:0],
		event: clearBytes(c.event), eventHash: clearBytes(c.eventHash), stateHash: clearBytes(c.stateHash),
		module: clearBytes(c.module), digest: clearBytes(c.digest),
		recordTS: c.recordTS[:0], late: c.late[:0], failure: c.failure[:0], failureDetail: c.failureDetail[:0],
	}
}

// fill appends the columns of rs; with dedup, only the last record of each
// (twin, seq).
func (c *historyCols) fill(rs []twin.Record, s *scratch, dedup bool) {
	dups := dedup && hasDupRecords(rs, s)
	for i := range rs {
		r := &rs[i]
		if dups && s.seen[string(recordKey(s.key[:0], r.Twin, r.Seq))] != i {
			continue
		}
		c.twin = append(c.twin, r.Twin)
		c.seq = append(c.seq, int64(r.Seq))
		c.streamSeq = append(c.streamSeq, int64(r.StreamSeq))
		c.ts = append(c.ts, nanos(r.Time))
		c.kind = append(c.kind, int16(r.Kind))
		ev := r.Event
		if ev == nil {
			ev = []byte{} // NOT NULL column; an empty event is still an event
		}
		c.event = append(c.event, ev)
		c.eventHash = append(c.eventHash, r.EventHash[:])
		c.stateHash = append(c.stateHash, r.StateHash[:])
		c.module = append(c.module, r.Module[:])
		c.digest = append(c.digest, r.Digest[:])
		c.recordTS = append(c.recordTS, nanos(r.RecordTime))
		c.late = append(c.late, r.Late)
		c.failure = append(c.failure, r.Failure)
		c.failureDetail = append(c.failureDetail, r.FailureDetail)
	}
}

// hasDupRecords reports whether two records of rs have the same (twin, seq),
// leaving in s.seen the index of the last occurrence of each key. The usual
// batch has none.
func hasDupRecords(rs []twin.Record, s *scratch) bool {
	if len(rs) < 2 {
		return false
	}
	clear(s.seen)
	dup := false
	for i := range rs {
		k := recordKey(s.key[:0], rs[i].Twin, rs[i].Seq)
		s.key = k
		if _, ok := s.seen[string(k)]; ok {
			dup = true
		}
		s.seen[string(k)] = i
	}
	return dup
}

func recordKey(b []byte, id string, n uint64) []byte {
	b = append(b, id...)
	b = append(b, 0)
	for i := 0; i < 8; i++ {
		b = append(b, byte(n>>(56-8*i)))
	}
	return b
}

type alertCols struct {
	twin                    []string
	n, seq                  []int64
	severity, code, message []string
	ts                      []pgtype.Int8
}

func (c *alertCols) reset() {
	*c = alertCols{
		twin: c.twin[:0], n: c.n[:0], seq: c.seq[:0], severity: c.severity[:0],
		code: c.code[:0], message: c.message[:0], ts: c.ts[:0],
	}
}

func (c *alertCols) fill(as []twin.Alert, s *scratch) {
	clear(s.seen)
	dups := false
	if len(as) > 1 {
		for i := range as {
			k := recordKey(s.key[:0], as[i].Twin, as[i].N)
			s.key = k
			if _, ok := s.seen[string(k)]; ok {
				dups = true
			}
			s.seen[string(k)] = i
		}
	}
	for i := range as {
		a := &as[i]
		if dups && s.seen[string(recordKey(s.key[:0], a.Twin, a.N))] != i {
			continue
		}
		c.twin = append(c.twin, a.Twin)
		c.n = append(c.n, int64(a.N))
		c.seq = append(c.seq, int64(a.Seq))
		c.severity = append(c.severity, a.Severity)
		c.code = append(c.code, a.Code)
		c.message = append(c.message, a.Message)
		c.ts = append(c.ts, nanos(a.Time))
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nanos is t as Unix nanoseconds, NULL for the zero time.
func nanos(t time.Time) pgtype.Int8 {
	if t.IsZero() {
		return pgtype.Int8{}
	}
	return pgtype.Int8{Int64: t.UnixNano(), Valid: true}
}

// fromNanos is the inverse of nanos; times come back in UTC.
func fromNanos(n pgtype.Int8) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// storedTimer is the JSON form of a timer in the timers column.
type storedTimer struct {
	Name       string `json:"name"`
	At         *int64 `json:"at,omitempty"`         // Unix ns; absent for the zero time
	Processing bool   `json:"processing,omitempty"` // a processing-time timer
}

// appendTimers appends the JSON array of ts, with times as Unix
// nanoseconds (no "at" for the zero time), to b.
func appendTimers(b []byte, ts []twin.Timer) []byte {
	b = append(b, '[')
	for i, t := range ts {
		if i > 0 {
			b = append(b, ',')
		}
		name, _ := json.Marshal(t.Name) // a string always marshals
		b = append(b, `{"name":`...)
		b = append(b, name...)
		if !t.At.IsZero() {
			b = append(b, `,"at":`...)
			b = strconv.AppendInt(b, t.At.UnixNano(), 10)
		}
		if t.Processing {
			b = append(b, `,"processing":true`...)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// parseTimers decodes the timers column.
func parseTimers(b []byte) ([]twin.Timer, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var st []storedTimer
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("timers: %w", err)
	}
	if len(st) == 0 {
		return nil, nil
	}
	ts := make([]twin.Timer, len(st))
	for i, t := range st {
		ts[i].Name, ts[i].Processing = t.Name, t.Processing
		if t.At != nil {
			ts[i].At = time.Unix(0, *t.At).UTC()
		}
	}
	return ts, nil
}
