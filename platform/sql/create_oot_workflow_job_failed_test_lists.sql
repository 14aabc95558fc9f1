-- The failed-test list of each job version (docs/contract.md §10.1): the jobs table's
-- failed_tests_json by downstream repo and job key, for the failure drill-down (a backend
-- page's failed jobs, a PR's, one job's), which reads a few dozen jobs' lists by key once the
-- jobs shown are known. The jobs table has the same order but 8,192-row granules of wide rows:
-- a 30-day page's 30 failed jobs read 249,000 rows there (75 MB decompressed, 21 ms of
-- ClickHouse, 30 ms served, after the page's other reads) at 10M jobs. Here a granule is 64
-- rows of these five columns in small compressed blocks (`{block_settings}`, as in
-- create_oot_workflow_job_by_target.sql).
-- Every job version has a row, its list or `[]`: the reader takes each job's latest version
-- (LIMIT 1 BY dynamoKey after ORDER BY version DESC), and a version without failed tests must
-- hide an older version's list. Every version of a job shares its first_seen_at, so
-- ReplacingMergeTree(version) keeps the newest once merged.
-- Kept by a materialized view on every INSERT into the jobs table
-- (fill_oot_workflow_job_failed_test_lists.sql), filled once from it when created.
-- Runs on ClickHouse 18.16 and current releases; the placeholders: `{ttl_clause}` is
-- `TTL first_seen_at + toIntervalDay(N)` on 19.6+ and empty on 18.16; `{block_settings}` is
-- `, min_compress_block_size = 4096` on 21.1+ and empty before (the server's profile's then).
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    downstream_repo String,
    dynamoKey String,
    version UInt64,
    first_seen_at DateTime,
    failed_tests_json String
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first_seen_at)
ORDER BY (downstream_repo, dynamoKey)
{ttl_clause}
SETTINGS index_granularity = 64{block_settings}
