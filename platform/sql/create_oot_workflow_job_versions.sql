-- The versions of each job (docs/contract.md §10.1, §10.3): a job's key, hashed as the failed
-- tests on PRs hash it (oot_contract::clickhouse::identity), and the versions written, by
-- downstream repo and the time the job was first seen. The reading rule of the failed-test rows
-- (a row counts only at the version the jobs table holds as its job's latest) takes the latest
-- version of every job of a backend's window from it: ~20 bytes a row to read and a number to
-- group by, where the jobs table's range holds the keys as ~100-byte strings (the PR view's
-- triage read a busy backend's week of keys there in 0.18 s, its month in 0.5 s, for each
-- backend the PR has failures in).
-- Ordered (downstream_repo, first_seen_at, job): a backend's window is a suffix of its range.
-- Every version of a job shares its first_seen_at, so ReplacingMergeTree(version) keeps the
-- newest once merged; readers take max(version) per job, as rows not yet merged hold older ones.
-- Kept by a materialized view on every INSERT into the jobs table
-- (fill_oot_workflow_job_versions.sql), filled once from it when created.
-- Runs on ClickHouse 18.16 and current releases; the placeholder is
-- `TTL first_seen_at + toIntervalDay(N)` on 19.6+ and empty on 18.16.
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    downstream_repo String,
    first_seen_at DateTime,
    job UInt64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first_seen_at)
ORDER BY (downstream_repo, first_seen_at, job)
{ttl_clause}
