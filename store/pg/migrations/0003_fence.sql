-- 0003_fence: partition fences for clusters (docs/cluster.md).
--
-- custos_fence holds, per input partition, the highest fence token (the
-- revision of the partition's lease in KV bucket custos_cluster) any node
-- has committed with or announced on taking the partition. A commit checks
-- and advances the fence of every partition in its batch in the same
-- transaction, and fails with SQLSTATE CUF01 when a higher token exists:
-- a node that lost a partition (paused, cut off) can no longer write it.

CREATE TABLE custos_fence (
	partition int PRIMARY KEY,
	token     bigint NOT NULL
);

-- custos_fence_check(parts, tokens) advances each partition's fence to the
-- given token, or raises CUF01 ("partition P fenced at T") if the fence is
-- already higher. Partitions are locked in ascending order (no deadlock
-- between two nodes at a hand-over); the row locks last until the end of
-- the calling transaction, so a hand-over waits for a commit in flight.
CREATE FUNCTION custos_fence_check(parts int[], tokens bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	p int;
	t bigint;
	cur bigint;
BEGIN
	FOR p, t IN SELECT u.p, u.t FROM unnest(parts, tokens) AS u(p, t) ORDER BY u.p LOOP
		INSERT INTO custos_fence (partition, token) VALUES (p, t)
			ON CONFLICT (partition) DO UPDATE SET token = EXCLUDED.token
			WHERE custos_fence.token < EXCLUDED.token
			RETURNING token INTO cur;
		IF cur IS NULL THEN
			SELECT f.token INTO cur FROM custos_fence f WHERE f.partition = p;
			IF cur > t THEN
				RAISE EXCEPTION 'partition % fenced at %', p, cur
					USING ERRCODE = 'CUF01', DETAIL = cur::text, HINT = p::text;
			END IF;
		END IF;
	END LOOP;
END $$;
