-- The completed jobs again, ordered by job slot (workflow, job name) within a downstream repo,
-- then by the time each was first seen: one test's history (docs/contract.md §12.14) reads the
-- newest jobs of the slots where the test failed, their nightlies and how many jobs each ran,
-- as one key range per slot, where the jobs table (ordered by repo and job key) gave the repo's
-- whole window. Kept by a materialized view on every INSERT into the completed-jobs table
-- (fill_oot_workflow_job_by_slot.sql), filled once from it when created
-- (platform/src/read_tables.rs).
-- Only what the history shows and the triage rules read of a job: no lists (failed_tests_json,
-- whose entries failed_tests_listed counts), no environment.
-- Every version of a job shares its slot and its first_seen_at, so the versions share a sort
-- key and a partition and ReplacingMergeTree(version) collapses them; readers still take the
-- latest version themselves (LIMIT 1 BY dynamoKey after ORDER BY version DESC): merges are lazy.
-- A slot's range of a busy backend's month is tens of thousands of rows, read whole (the
-- nightlies and the count need it): the default granules and compressed blocks.
-- Runs on ClickHouse 18.16 and current releases; the placeholder `{ttl_clause}` as in
-- create_oot_workflow_job.sql (`TTL first_seen_at + toIntervalDay(N)` on 19.6+, empty on 18.16).
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    downstream_repo String,
    workflow_name String,
    job_name String,
    first_seen_at DateTime,
    dynamoKey String,
    version UInt64,
    upstream_repo String,
    pr_number Nullable(UInt64),
    pytorch_head_sha String,
    event_type String,
    run_id String,
    run_attempt UInt32,
    conclusion String,
    failed_tests Nullable(UInt64),
    workflow_run_url String,
    failed_tests_listed UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first_seen_at)
ORDER BY (downstream_repo, workflow_name, job_name, first_seen_at, dynamoKey)
{ttl_clause}
