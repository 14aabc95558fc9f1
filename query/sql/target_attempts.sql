-- Per-backend view, the header's running count: which attempt is the latest in each cell of
-- the rows that hold running jobs but are not on the page. Only the columns the latest-attempt
-- rule reads, for the completed jobs of one downstream repo for the given upstream targets first
-- seen in the window: a running job counts when no completed job of its cell is more recent.
-- These columns are the same in every version of a job (its identity and run), so DISTINCT
-- collapses its versions, without sorting whole rows. Reading five narrow columns of a target's
-- range costs a fraction of its whole rows (target_jobs.sql), which a page reads for its own rows.
-- Binds: the targets, as (upstream_repo, target_pr, target_event, target_delivery) tuples; the
-- downstream repo; the window's start, in seconds since the epoch.
SELECT DISTINCT ?fields
FROM {table}_by_target
WHERE (upstream_repo, target_pr, target_event, target_delivery) IN (
        SELECT tupleElement(t, 1), toUInt64(tupleElement(t, 2)), tupleElement(t, 3), tupleElement(t, 4)
        FROM (SELECT arrayJoin(?) AS t)
    )
    AND downstream_repo = ? AND first_seen_at >= toDateTime(?)
