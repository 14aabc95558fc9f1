-- The completed jobs again, ordered by what they ran for upstream: the PR view reads one
-- upstream PR's jobs, and a page of the per-backend matrix its rows' jobs, as key ranges
-- (docs/contract.md §10.1). Kept by a materialized view on every INSERT into the completed-jobs
-- table (fill_oot_workflow_job_by_target.sql), filled once from it when created
-- (platform/src/read_tables.rs).
-- The target of a job is its upstream PR, or for an event without one its upstream delivery:
-- (upstream_repo, target_pr, target_event, target_delivery) is (repo, PR, '', '') or
-- (repo, 0, event type, delivery id). PR numbers start at 1, so 0 is never a PR. The sort key
-- cannot hold the Nullable pr_number (18.16 refuses Nullable key columns), hence target_pr.
-- Every version of a job shares its target (the upstream identity comes from the delivery,
-- which is part of the job key) and its first_seen_at, so the versions share a sort key and a
-- partition and ReplacingMergeTree(version) collapses them; readers still take the latest
-- version themselves (LIMIT 1 BY dynamoKey after ORDER BY version DESC): merges are lazy.
-- failed_tests_json and environment are left out: only the failure drill-down reads the former,
-- by job key, from the completed-jobs table.
-- Every read is a few short ranges (one PR's jobs; one repo's jobs of a page's targets), so the
-- index is much finer than the default 8,192 rows: a target's jobs are a few dozen rows, and
-- a page reads one granule per target and part. Measured at 10M jobs, a 30-day backend page's
-- 25 targets over 6 to 9 parts: 8,192-row granules read 253,952 rows, 1,024-row ones 160,000
-- and 256-row ones 28,928, and the query's ClickHouse CPU went from 136 to 70 ms (blocks from
-- the uncompressed cache). The index grows to ~40,000 marks per column per 10M rows, small.
-- Each granule read costs decompressing the compressed block of each column it lies in, so the
-- blocks are small too: 4 KB at least (`{block_settings}`, read_tables.rs
-- KEY_RANGE_MIN_COMPRESS_BLOCK_BYTES) rather than 64 KB, a granule or a few per block; the
-- page's 25 targets decompressed 273 MB with 64 KB blocks, 27 MB with 4 KB.
-- Runs on ClickHouse 18.16 and current releases; the placeholders: `{ttl_clause}` as in
-- create_oot_workflow_job.sql (`TTL first_seen_at + toIntervalDay(N)` on 19.6+, empty on 18.16);
-- `{block_settings}` is `, min_compress_block_size = 4096` on 21.1+ and empty before, where the
-- size is the server's default profile's, for every table (compose/clickhouse/users.xml.in).
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    upstream_repo String,
    target_pr UInt64,
    target_event String,
    target_delivery String,
    downstream_repo String,
    dynamoKey String,
    version UInt64,
    first_seen_at DateTime,
    status String,
    downstream_repo_level String,
    pr_number Nullable(UInt64),
    pytorch_head_sha String,
    delivery_id String,
    event_type String,
    workflow_run_url String,
    workflow_name String,
    job_name String,
    check_run_id String,
    run_id String,
    run_attempt UInt32,
    conclusion String,
    queue_time Nullable(Float64),
    execution_time Nullable(Float64),
    started_at Nullable(DateTime),
    completed_at DateTime,
    total_tests Nullable(UInt64),
    passed_tests Nullable(UInt64),
    failed_tests Nullable(UInt64),
    skipped_tests Nullable(UInt64),
    artifact_url String
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first_seen_at)
ORDER BY (upstream_repo, target_pr, target_event, target_delivery, downstream_repo, dynamoKey)
{ttl_clause}
SETTINGS index_granularity = 256{block_settings}
