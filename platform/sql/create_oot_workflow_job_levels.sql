-- A backend's level history: per downstream repo, UTC day and reported level
-- (`downstream_repo_level`, from the relay's allowlist), the first and the last time a job of
-- that level was first seen that day. The scorecard reads one repo's rows (days x levels, a few
-- hundred a year) to tell when the level changed and the days at the current one
-- (docs/contract.md §14), never its jobs.
-- Kept by a materialized view on every INSERT into the completed-jobs table
-- (fill_oot_workflow_job_levels.sql), filled once from it when created. The states are `min` and
-- `max` of `first_seen_at` (our clock, set once per job): idempotent and order-free, so a row
-- inserted twice (a redelivery, a replay, the backfill racing the view) changes nothing.
-- Runs on ClickHouse 18.16 and current releases; the last line's placeholder is
-- `TTL day + toIntervalDay(N)` on 19.6+ and empty on 18.16.
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    downstream_repo String,
    day DateTime,
    level String,
    first_state AggregateFunction(min, DateTime),
    last_state AggregateFunction(max, DateTime)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (downstream_repo, day, level)
{ttl_clause}
