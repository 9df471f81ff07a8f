-- 0001_init: twins (snapshots), history, alerts.
--
-- Released migrations are never edited: add a new numbered file instead.
-- Times are Unix nanoseconds (bigint) so that event times round-trip
-- exactly (timestamptz keeps only microseconds); NULL means the zero time.
-- Hashes are 32-byte bytea. Twin ids sort in byte order (COLLATE "C"),
-- whatever the database's locale. Anchors, anchor jobs, nonces and proofs come in
-- later migrations from the anchoring work.

CREATE TABLE twins (
	id               text   COLLATE "C" PRIMARY KEY,
	kind             text   NOT NULL,
	contract_name    text   NOT NULL,
	contract_version text   NOT NULL,
	contract_sha256  bytea  NOT NULL,
	params           bytea,
	parent           text   NOT NULL DEFAULT '',
	children         text[],
	custodian        text   NOT NULL DEFAULT '',
	status           text   NOT NULL,
	seq              bigint NOT NULL,
	view             bytea,
	digest           bytea  NOT NULL,
	alerts           bigint NOT NULL,
	created_ns       bigint,
	updated_ns       bigint,
	state            bytea,
	stream_seq       bigint NOT NULL,
	timers           jsonb,
	written_at       timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70); -- room for HOT updates: most updates touch no indexed column

-- Dashboards: twins by status, kind, custodian (paged by id).
CREATE INDEX twins_status_idx    ON twins (status, id);
CREATE INDEX twins_kind_idx      ON twins (kind, id);
CREATE INDEX twins_custodian_idx ON twins (custodian, id);

CREATE TABLE history (
	twin       text     COLLATE "C" NOT NULL,
	seq        bigint   NOT NULL,
	stream_seq bigint   NOT NULL,
	ts         bigint,
	kind       smallint NOT NULL,
	event      bytea    NOT NULL,
	event_hash bytea    NOT NULL,
	state_hash bytea    NOT NULL,
	module     bytea    NOT NULL,
	digest     bytea    NOT NULL,
	PRIMARY KEY (twin, seq)
);

-- History of a twin by time range.
CREATE INDEX history_twin_ts_idx ON history (twin, ts);
-- Retention (PruneHistory): rows arrive roughly in time order, so a BRIN
-- index finds old ones at almost no cost to ingest.
CREATE INDEX history_ts_brin ON history USING brin (ts);

CREATE TABLE alerts (
	twin     text   COLLATE "C" NOT NULL,
	n        bigint NOT NULL,
	seq      bigint NOT NULL,
	severity text   NOT NULL,
	code     text   NOT NULL,
	message  text   NOT NULL,
	ts       bigint,
	PRIMARY KEY (twin, n)
);

-- Alerts of a twin by time range.
CREATE INDEX alerts_twin_ts_idx ON alerts (twin, ts);
-- Latest alerts overall, in the order Alerts lists them.
CREATE INDEX alerts_latest_idx ON alerts (ts DESC NULLS LAST, twin DESC, n DESC);
