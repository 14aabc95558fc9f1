-- The hourly rollup cells: per downstream repo, hour, workflow and job, the sums of what the
-- runs counted there contribute (docs/contract.md §10.2). The projector rewrites a cell's whole
-- row at a higher `version` whenever a run's contribution changes (the DynamoDB ledger holds
-- the truth, see projector/src/ledger.rs); ReplacingMergeTree keeps the latest, and readers
-- take argMax(…, version) per cell, so unmerged parts never count twice.
-- `hour` is our clock (the hour the run's latest attempt was first seen), so it is also the
-- partition key and the TTL key, never a downstream-supplied time.
-- The `*_buckets` columns are the durations, queue times and end-to-end times counted per bucket
-- (rollup/src/histogram.rs: fixed bounds, bucket i at index i+1); `migrate` adds them to a table
-- made before them, whose older rows read as empty arrays.
-- Runs on ClickHouse 18.16 and current releases; the last line's placeholder is as in
-- create_oot_workflow_job.sql (`TTL hour + toIntervalDay(N)` on 19.6+, empty on 18.16).
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    downstream_repo String,
    hour DateTime,
    workflow_name String,
    job_name String,
    version UInt64,
    completed Int64,
    successes Int64,
    failures Int64,
    timed_out Int64,
    cancelled Int64,
    other Int64,
    duration_sum_us Int64,
    durations Int64,
    queue_sum_us Int64,
    queues Int64,
    duration_buckets Array(Int64),
    queue_buckets Array(Int64),
    e2e_buckets Array(Int64)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (downstream_repo, hour, workflow_name, job_name)
{ttl_clause}
