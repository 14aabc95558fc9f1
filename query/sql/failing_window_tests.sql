-- Failing tests of a backend (docs/contract.md §12.13): the failed-test rows of one downstream
-- repo's jobs first seen in the window, at each job's latest version, each test once per job.
-- Binds: the downstream repo; the window's start, in seconds since the epoch, on the hour; the
-- same two again, for the jobs' latest versions, and again, for the jobs with failed tests.
-- Reads the failed tests by job (create_oot_workflow_job_failed_tests_by_job.sql), ordered by
-- (downstream_repo, first_seen_at, dynamoKey, ...): the window is a suffix of the repo's range,
-- so only its rows are read (the test-ordered failed-test table would read every granule of
-- the repo's range).
-- The reading rule of §10.3: a row counts only at the version the jobs table holds as its job's
-- latest (a test an older version listed keeps its row), taken from the job versions table
-- (create_oot_workflow_job_versions.sql: the window's jobs by hashed key, a number to group by
-- where the jobs table's keys are strings) for the jobs with failed-test rows only (an eighth
-- of the window's: a smaller set to build and match). A busy backend's month: 4.4 s with
-- every job's latest version from the jobs table, 1.3 s from the versions table, 0.7 s so.
-- Rows of one job, version and test are equal, so any one is kept.
SELECT ?fields
FROM {table}_failed_tests_by_job
WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
    AND (sipHash64(dynamoKey), version) IN (
        SELECT job, max(version)
        FROM {table}_versions
        WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
            AND job IN (
                SELECT sipHash64(dynamoKey)
                FROM {table}_failed_tests_by_job
                WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
            )
        GROUP BY job
    )
LIMIT 1 BY dynamoKey, classname, name
