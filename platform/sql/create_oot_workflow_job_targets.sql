-- The per-backend matrix's rows: per downstream repo, hour and upstream target (an upstream PR,
-- or the upstream delivery of an event without one: see create_oot_workflow_job_by_target.sql),
-- the newest job first seen there and the newest that reported a level. A page reads the
-- window's rows of one repo, a few per target, never its jobs (docs/contract.md §10.1).
-- Kept by a materialized view on every INSERT into the completed-jobs table
-- (fill_oot_workflow_job_targets.sql), filled once from it when created.
-- `hour` is the start of the hour of `first_seen_at` (our clock, set once per job): windows start
-- on the hour, so the rows of the hours from a window's start hold exactly its jobs.
-- The states are `max` of (first_seen_at, dynamoKey, version, value): the newest job, ties
-- (within a second) to the higher key, its latest version. max is idempotent and order-free, so
-- a row inserted twice (a redelivery, a replay, the backfill racing the view) changes nothing,
-- and AggregatingMergeTree may merge the states in any order.
-- Runs on ClickHouse 18.16 and current releases; the last line's placeholder is
-- `TTL hour + toIntervalDay(N)` on 19.6+ and empty on 18.16.
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    downstream_repo String,
    hour DateTime,
    upstream_repo String,
    target_pr UInt64,
    target_event String,
    target_delivery String,
    newest_state AggregateFunction(max, Tuple(DateTime, String, UInt64, String)),
    level_state AggregateFunction(maxIf, Tuple(DateTime, String, UInt64, String), UInt8)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (downstream_repo, hour, upstream_repo, target_pr, target_event, target_delivery)
{ttl_clause}
