-- The nightly view (docs/contract.md §12.17), its columns: every (workflow, job name) of one
-- downstream repo's nightly jobs first seen in the window, so that every page has the same
-- columns. Read as nightly_deliveries.sql reads the deliveries (same binds), grouped by
-- ClickHouse: the answer is the columns, not the jobs.
SELECT
    workflow_name,
    job_name
FROM {table}_by_target
WHERE (upstream_repo, target_pr, target_event, target_delivery) IN (
        SELECT upstream_repo, target_pr, target_event, target_delivery
        FROM {table}_targets
        WHERE downstream_repo = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)
            AND target_pr = 0 AND has(?, target_event)
    )
    AND downstream_repo = ? AND first_seen_at >= toDateTime(?)
GROUP BY workflow_name, job_name
