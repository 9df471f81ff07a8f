-- 0005_timer_index: the twins whose snapshot holds processing-time timers
-- (twin.TimerIndex), so that a start reads only those twins to arm their
-- timers instead of every row of twins.
--
-- proc_timers is generated from the timers column (a processing-time timer
-- is an element {"processing": true}); the partial index holds only the
-- twins where it is true. An update that leaves proc_timers as it was keeps
-- its HOT path: the index covers id and proc_timers, not timers itself.
-- Adding a stored generated column rewrites the table once, under an
-- exclusive lock (about a second per 100,000 twins).

ALTER TABLE twins ADD COLUMN proc_timers boolean NOT NULL
	GENERATED ALWAYS AS (coalesce(timers @> '[{"processing": true}]', false)) STORED;

CREATE INDEX twins_proc_timers_idx ON twins (id) WHERE proc_timers;
