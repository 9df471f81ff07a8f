-- 0004_anchors: the anchor store of a cluster (anchor/pgstore), beside the
-- twins it anchors.
--
-- anchor_leader holds the fence of the anchoring leader: the revision of
-- lease "anchor" in the NATS KV bucket custos_cluster when it was acquired.
-- Every write of anchor/pgstore first raises it (never lowers it) in the
-- same transaction, and is refused when a higher fence is stored: a former
-- leader cannot write after a newer one has. The row lock orders writers.
--
-- anchor_epochs: one row per epoch (the anchor.Epoch as JSON in body; state
-- and number are columns for the queries); epochs are contiguous from 1.
-- anchor_leaves: an epoch's leaves; anchor_cuts: the highest seq of each twin
-- put in an epoch (only ever raised); anchor_nonces: the next nonce of each
-- sending account, written in the same transaction as the epoch that uses
-- it.

CREATE TABLE anchor_leader (
	id     integer PRIMARY KEY CHECK (id = 1),
	fence  bigint  NOT NULL,
	holder text    NOT NULL,
	since  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE anchor_epochs (
	epoch bigint PRIMARY KEY,
	state text   NOT NULL,
	fence bigint NOT NULL,
	body  jsonb  NOT NULL
);

CREATE INDEX anchor_epochs_unfinished_idx ON anchor_epochs (epoch)
	WHERE state NOT IN ('confirmed', 'failed');

CREATE TABLE anchor_leaves (
	epoch  bigint NOT NULL,
	twin   text   COLLATE "C" NOT NULL,
	seq    bigint NOT NULL,
	digest bytea  NOT NULL,
	PRIMARY KEY (epoch, twin)
);

CREATE INDEX anchor_leaves_twin_idx ON anchor_leaves (twin, seq);

CREATE TABLE anchor_cuts (
	twin text   COLLATE "C" PRIMARY KEY,
	seq  bigint NOT NULL
);

CREATE TABLE anchor_nonces (
	account bytea  PRIMARY KEY,
	next    bigint NOT NULL
);
