-- 0002_event_time: two clocks, freshness, allowed lateness, failure records.
--
-- twins: watermark_ns (largest event time applied), last_reading_ns (event
-- time of the newest reading), lag_ns (record time - event time of the last
-- reading applied), lateness_ns (allowed-lateness window), buffered (events
-- held back by that window, twin.AppendBuffered encoding). Timers in the
-- timers column gain "processing": true for processing-time timers.
--
-- history: record_ns (when custos applied the event; in no digest), late
-- (the event's LATE flag), failure and failure_detail (failure records).

ALTER TABLE twins
	ADD COLUMN watermark_ns    bigint,
	ADD COLUMN last_reading_ns bigint,
	ADD COLUMN lag_ns          bigint NOT NULL DEFAULT 0,
	ADD COLUMN lateness_ns     bigint NOT NULL DEFAULT 0,
	ADD COLUMN buffered        bytea;

ALTER TABLE history
	ADD COLUMN record_ns      bigint,
	ADD COLUMN late           boolean NOT NULL DEFAULT false,
	ADD COLUMN failure        text    NOT NULL DEFAULT '',
	ADD COLUMN failure_detail text    NOT NULL DEFAULT '';
