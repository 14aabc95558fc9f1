-- Failing tests of a backend (docs/contract.md §12.13): the failed-test rows of one downstream
-- repo's jobs first seen in the window, at each job's latest version, each test once per job.
-- Binds: the downstream repo; the window's start, in seconds since the epoch, on the hour; the
-- same two again, for the jobs' latest versions.
-- Reads the failed-test table's range of the repo (its sort key's first column) in the window's
-- monthly partitions: every test that failed in the window is in it, and the table, ordered for
-- a test's history, has no order by time within a repo, so this is what the question costs.
-- The reading rule of §10.3: a row counts only at the version the jobs table holds as its job's
-- latest (a test an older version listed keeps its row), taken from the same range of the jobs
-- table as failing_window_jobs.sql. Rows of one job, version and test are equal, so any one is
-- kept.
SELECT ?fields
FROM {table}_failed_tests
WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
    AND (dynamoKey, version) IN (
        SELECT dynamoKey, max(version)
        FROM {table}
        WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
        GROUP BY dynamoKey
    )
LIMIT 1 BY dynamoKey, classname, name
