-- Per-backend view, the matrix's rows: every upstream target of one downstream repo with a job
-- first seen in the window, its newest job (first seen, key, head commit) and the newest job
-- that reported a level.
-- Binds: the downstream repo; the first hour and the end (exclusive) of the hours read, in
-- seconds since the epoch, on the hour: a page reads the window's newest hours first, older ones
-- only while its rows are not known yet (docs/contract.md §11.6).
-- Reads the targets table: the repo's rows of the window's hours are one range of its sort key,
-- a few rows per target (one per hour it had jobs first seen in), never the jobs. Windows start
-- on the hour, so those hours hold exactly the window's jobs. max over the states is the
-- newest (first_seen_at, dynamoKey, version) of the window with its value.
-- Times are read as numbers: 18.16 prints the DateTime 0 of a target with no level as
-- 0000-00-00. The subquery names the aggregates (aliases differ from the table's columns:
-- 18.16 resolves a column name to a same-named alias inside other aggregates).
SELECT ?fields
FROM (
    SELECT
        upstream_repo,
        target_pr,
        target_event,
        target_delivery,
        toUInt32(tupleElement(maxMerge(newest_state), 1)) AS last_seen_at,
        tupleElement(maxMerge(newest_state), 2) AS newest_job_key,
        tupleElement(maxMerge(newest_state), 4) AS head_sha,
        toUInt32(tupleElement(maxIfMerge(level_state), 1)) AS level_seen_at,
        tupleElement(maxIfMerge(level_state), 2) AS level_job_key,
        tupleElement(maxIfMerge(level_state), 4) AS level
    FROM {table}_targets
    WHERE downstream_repo = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)
    GROUP BY upstream_repo, target_pr, target_event, target_delivery
)
