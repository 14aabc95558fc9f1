-- The per-backend matrix's columns: every (workflow, job name) of a downstream repo per hour
-- its jobs were first seen in. A page reads the window's hours of one repo (at most one row per
-- hour and column), never its jobs (docs/contract.md §10.1).
-- Kept by a materialized view on every INSERT into the completed-jobs table
-- (fill_oot_workflow_job_columns.sql), filled once from it when created. A row inserted twice
-- is the same row: ReplacingMergeTree keeps one, and readers ask for distinct names anyway.
-- Runs on ClickHouse 18.16 and current releases; the last line's placeholder is
-- `TTL hour + toIntervalDay(N)` on 19.6+ and empty on 18.16.
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    downstream_repo String,
    hour DateTime,
    workflow_name String,
    job_name String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (downstream_repo, hour, workflow_name, job_name)
{ttl_clause}
