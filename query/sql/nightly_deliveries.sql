-- The nightly view (docs/contract.md §12.17), its rows: each nightly delivery of one downstream
-- repo with a job first seen in the window, with its upstream commit and when its first job in
-- the window was first seen. The view groups deliveries into commits, orders them and reads
-- the jobs of one page's deliveries only (target_jobs.sql), so a request holds a page of jobs,
-- not the window's.
-- Binds: the downstream repo; the first hour and the end (exclusive) of the window's hours, in
-- seconds since the epoch, on the hour; the nightly event types, as an array.
-- Reads the nightlies table (create_oot_workflow_job_nightlies.sql): one key range of
-- (downstream_repo, hour), a row per (delivery, slot) and hour; the states merge the rows of
-- a delivery's jobs and of their versions. A delivery tests one commit, so any of its jobs'
-- commits is its commit. The alias is not first_seen_at, so that it names no jobs column.
SELECT
    upstream_repo,
    target_event,
    target_delivery,
    anyMerge(head_state) AS head_sha,
    toUInt32(minMerge(first_state)) AS first_job_at
FROM {table}_nightlies
WHERE downstream_repo = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)
    AND has(?, target_event)
GROUP BY upstream_repo, target_event, target_delivery
