-- The failed tests of each job version, ordered by job (docs/contract.md §10.3): the same rows
-- as the failed-test table (create_oot_workflow_job_failed_tests.sql), which is ordered for a
-- test's history, narrowed to what names a job's failed tests. Read when the jobs are known:
-- a PR's shown jobs for its triage (§12.15), the nightlies a release diff compares
-- (§12.16). A job's rows are one short range of the sort key (the repo, the second it was first
-- seen, its key), so asking for a few jobs reads a few granules of small rows, where the jobs
-- table's failed_tests_json reads 8,192 rows of whole lists per job.
-- Kept by a materialized view on every INSERT into the failed-test table
-- (fill_oot_workflow_job_failed_tests_by_job.sql), filled once from it when created. Every
-- version of a job shares its first_seen_at, so ReplacingMergeTree(version) keeps a test's row
-- of the newer version; a test only an older version listed keeps its row, and readers take
-- the rows of the version they read the job at (the reading rule of §10.3).
-- Runs on ClickHouse 18.16 and current releases; the placeholder is
-- `TTL first_seen_at + toIntervalDay(N)` on 19.6+ and empty on 18.16.
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    downstream_repo String,
    first_seen_at DateTime,
    dynamoKey String,
    classname String,
    name String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first_seen_at)
ORDER BY (downstream_repo, first_seen_at, dynamoKey, classname, name)
{ttl_clause}
SETTINGS index_granularity = 1024
