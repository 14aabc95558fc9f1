-- Failing tests of a backend (docs/contract.md §12.13): the failed-test rows of one downstream
-- repo's jobs first seen in the window, at each job's latest version, each test once per job.
-- Binds: the downstream repo; the window's start, in seconds since the epoch, on the hour; the
-- same two again, for the jobs' latest versions.
-- Reads the failed tests by job (create_oot_workflow_job_failed_tests_by_job.sql), ordered by
-- (downstream_repo, first_seen_at, dynamoKey, ...): the window is a suffix of the repo's range,
-- so only its rows are read (the test-ordered failed-test table would read every granule of
-- the repo's range).
-- The reading rule of §10.3: a row counts only at the version the jobs table holds as its job's
-- latest (a test an older version listed keeps its row), taken from the same range of the jobs
-- table as failing_window_jobs.sql. Rows of one job, version and test are equal, so any one is
-- kept.
SELECT ?fields
FROM {table}_failed_tests_by_job
WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
    AND (dynamoKey, version) IN (
        SELECT dynamoKey, max(version)
        FROM {table}
        WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
        GROUP BY dynamoKey
    )
LIMIT 1 BY dynamoKey, classname, name
