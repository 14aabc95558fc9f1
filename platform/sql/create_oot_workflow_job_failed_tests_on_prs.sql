-- The failed tests on PRs (docs/contract.md §10.3): the failed-test rows of jobs on an upstream
-- PR, narrowed to what the PR view's "is it mine" counts (§12.15: per test and job slot, how
-- many other PRs failed the test in a window) and hashed: the test (classname, name), the slot
-- (workflow, job name) and the job key as oot_contract::clickhouse::identity states them. A
-- chronic test fails on hundreds of thousands of PR jobs in a month; its rows here are ~40
-- bytes where the failed-test table's are ~250 with string keys to compare, so counting its
-- other PRs reads a fifth of the bytes and compares numbers.
-- Ordered (downstream_repo, test, first_seen_at, job): a test's rows in one backend are a key
-- range, its window a suffix.
-- Kept by a materialized view on every INSERT into the failed-test table
-- (fill_oot_workflow_job_failed_tests_on_prs.sql), filled once from it when created. Every
-- version of a job shares its first_seen_at, so ReplacingMergeTree(version) keeps a test's row
-- of the newer version; a test only an older version listed keeps its row, and readers take
-- the rows of the version the jobs table holds as the job's latest (the reading rule of §10.3).
-- Runs on ClickHouse 18.16 and current releases; the placeholder is
-- `TTL first_seen_at + toIntervalDay(N)` on 19.6+ and empty on 18.16.
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    downstream_repo String,
    test UInt64,
    first_seen_at DateTime,
    job UInt64,
    slot UInt64,
    pr UInt64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first_seen_at)
ORDER BY (downstream_repo, test, first_seen_at, job)
{ttl_clause}
SETTINGS index_granularity = 1024
