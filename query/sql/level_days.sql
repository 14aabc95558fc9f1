-- The level history of the backends (docs/contract.md §14.2): per downstream repo, UTC day and
-- reported level, the first and the last job first seen that day at that level, from the levels
-- table (create_oot_workflow_job_levels.sql; a few rows per repo and day, never the jobs).
-- The states are merged here: parts not yet merged hold partial states of a day.
-- The WHERE clause's placeholder is spliced in by the service: nothing for every repo, or a
-- condition on `downstream_repo` bound to one repo (the table's first key column: the repo's
-- range only).
-- Binds: the downstream repo when asked for one.
SELECT ?fields
FROM (
    SELECT
        downstream_repo,
        level,
        toUInt32(day) AS day_start,
        toUInt32(minMerge(first_state)) AS first_seen,
        toUInt32(maxMerge(last_state)) AS last_seen
    FROM {levels}
    {repo_condition}
    GROUP BY downstream_repo, day, level
)
