-- Per-backend view, the jobs of some of the matrix's rows (a page's, and those with running
-- jobs): the completed jobs of one downstream repo for the given upstream targets first seen in
-- the window, latest version of each.
-- Binds: the targets, as an array of (upstream_repo, target_pr, target_event, target_delivery)
-- (see create_oot_workflow_job_by_target.sql); the downstream repo; the window's start.
-- Reads the by-target table, ordered by (upstream_repo, target_pr, target_event,
-- target_delivery, downstream_repo, ...): `IN` a subquery's set is matched against the sort key,
-- so only the targets' ranges are read (18.16 cannot bind an array to IN, nor use the key for
-- has(); the subquery turns the bound array into a set). The PR number is cast back to UInt64:
-- an array literal of small numbers has a narrower type, and 18.16 compares tuples' types
-- strictly. The latest version of each job as in pr_jobs.sql.
SELECT ?fields
FROM {table}_by_target
WHERE (upstream_repo, target_pr, target_event, target_delivery) IN (
        SELECT tupleElement(t, 1), toUInt64(tupleElement(t, 2)), tupleElement(t, 3), tupleElement(t, 4)
        FROM (SELECT arrayJoin(?) AS t)
    )
    AND downstream_repo = ? AND first_seen_at >= toDateTime(?)
ORDER BY version DESC
LIMIT 1 BY dynamoKey
