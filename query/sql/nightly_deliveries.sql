-- The nightly view (docs/contract.md §12.17), its rows: each nightly delivery of one downstream
-- repo with a job first seen in the window, with its upstream commit and when its first job in
-- the window was first seen. The view groups deliveries into commits, orders them and reads
-- the jobs of one page's deliveries only (target_jobs.sql), so a request holds a page of jobs,
-- not the window's.
-- Binds: the downstream repo; the first hour and the end (exclusive) of the window's hours, in
-- seconds since the epoch, on the hour; the nightly event types, as an array; the downstream
-- repo again; the window's start.
-- The deliveries come from the targets table (one range of its sort key), their jobs' rows from
-- the by-target table's ranges of those deliveries, as in nightlies_before.sql. A job's
-- first_seen_at and upstream commit are set once, the same at every version, so no version is
-- chosen here. The alias is not first_seen_at: on 18.16 an alias named like a column replaces
-- it in WHERE.
SELECT
    upstream_repo,
    target_event,
    target_delivery,
    any(pytorch_head_sha) AS head_sha,
    toUInt32(min(first_seen_at)) AS first_job_at
FROM {table}_by_target
WHERE (upstream_repo, target_pr, target_event, target_delivery) IN (
        SELECT upstream_repo, target_pr, target_event, target_delivery
        FROM {table}_targets
        WHERE downstream_repo = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)
            AND target_pr = 0 AND has(?, target_event)
    )
    AND downstream_repo = ? AND first_seen_at >= toDateTime(?)
GROUP BY upstream_repo, target_event, target_delivery
