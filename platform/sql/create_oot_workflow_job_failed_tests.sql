-- One row per failed test per completed job version (docs/contract.md §10.3), written by the
-- projector (and replay) beside the job's row in the completed-jobs table, from the same merged
-- record: its failed tests as the job item holds them, one row per distinct (classname, name).
-- Ordered for a test's history in one backend: (downstream_repo, classname, name) is a key
-- range, its jobs in the order they were first seen.
-- Every version of a job shares its first_seen_at (set once), so a newer version's rows share
-- the sort key and the partition of the older version's rows of the same test, and
-- ReplacingMergeTree(version) keeps the newer. A test listed by an older version and not by the
-- newer keeps its old row: readers keep only rows whose version is the job's latest, taken by
-- key from the completed-jobs table (merges are lazy, and a newer version may list no tests).
-- pr_number stays out of the sort key: 18.16 refuses Nullable key columns.
-- Granules of 1,024 rows: a PR's triage (is it mine) reads the ranges of a few hundred tests, each a
-- window's suffix of its range, and a granule read past a range's end is waste (8,192-row
-- granules read the busiest backend's whole range for 230 tests: 1.3M rows for 157k wanted).
-- New tables only; an existing one keeps its granularity until rebuilt (replay).
-- Runs on ClickHouse 18.16 and current releases; the placeholder is as in
-- create_oot_workflow_job.sql (`TTL first_seen_at + toIntervalDay(N)` on 19.6+, empty on 18.16,
-- where retention drops the expired monthly partitions with the jobs table's).
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    downstream_repo String,
    classname String,
    name String,
    first_seen_at DateTime,
    dynamoKey String,
    version UInt64,
    upstream_repo String,
    pr_number Nullable(UInt64),
    pytorch_head_sha String,
    event_type String,
    workflow_name String,
    job_name String,
    run_id String,
    run_attempt UInt32,
    conclusion String,
    completed_at DateTime,
    message String,
    message_truncated UInt8,
    duration_s Nullable(Float64)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first_seen_at)
ORDER BY (downstream_repo, classname, name, first_seen_at, dynamoKey)
{ttl_clause}
SETTINGS index_granularity = 1024
