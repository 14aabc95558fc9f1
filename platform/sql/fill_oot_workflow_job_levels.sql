-- What the levels table (create_oot_workflow_job_levels.sql) holds of the rows of the
-- completed-jobs table `{database}.{table}`: the SELECT of its materialized view and of its
-- one-time backfill. The day is computed in seconds (UTC), not with toStartOfDay, which follows
-- the server's time zone. Jobs that reported no level say nothing about it.
SELECT
    downstream_repo,
    toDateTime(intDiv(toUInt32(first_seen_at), 86400) * 86400) AS day,
    downstream_repo_level AS level,
    minState(first_seen_at) AS first_state,
    maxState(first_seen_at) AS last_state
FROM {database}.{table}
WHERE downstream_repo_level != ''
GROUP BY downstream_repo, day, level
