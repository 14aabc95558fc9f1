-- The nightly deliveries of each downstream repo by hour (docs/contract.md §10.1, §12.17): every
-- job without an upstream PR, as (its delivery, its slot) in the hour it was first seen, with the
-- delivery's upstream commit and when the job was first seen. The nightly view reads a window's
-- nightly deliveries and columns from it: one key range of (downstream_repo, hour), where the
-- targets table interleaves every PR target of those hours (a busy backend's 30 days: 1.25M
-- target rows to find a few nightlies).
-- Kept by a materialized view on every INSERT into the jobs table
-- (fill_oot_workflow_job_nightlies.sql), filled once from it when created. Every version of a
-- job adds its row again with the same key and the same values (first_seen_at and the commit are
-- set once per job), which the aggregate states merge: exact under re-runs and redelivery.
-- Pushes and other events without a PR are kept too (readers pick the nightly event types):
-- they are few, and the event types read as nightly stay the service's to choose.
-- Runs on ClickHouse 18.16 and current releases; the placeholder is
-- `TTL hour + toIntervalDay(N)` on 19.6+ and empty on 18.16.
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    downstream_repo String,
    hour DateTime,
    upstream_repo String,
    target_event String,
    target_delivery String,
    workflow_name String,
    job_name String,
    head_state AggregateFunction(any, String),
    first_state AggregateFunction(min, DateTime)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (downstream_repo, hour, upstream_repo, target_event, target_delivery, workflow_name, job_name)
{ttl_clause}
