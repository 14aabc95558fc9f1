-- One test's history (docs/contract.md §12.14): the failed-test rows of one test in one
-- downstream repo, of jobs first seen in the window, each at its job's latest version, once,
-- with the job's slot and the failure message.
-- Binds: the downstream repo, the test's classname and name and the window's start (in seconds
-- since the epoch, on the hour); the downstream repo and the window's start, for the jobs'
-- latest versions; the downstream repo, the test's classname and name and the window's start
-- again, for the jobs that listed the test.
-- One key range: the table is ordered by (downstream_repo, classname, name, first_seen_at,
-- dynamoKey), so a test's history in a backend is contiguous, its window a suffix.
-- The reading rule of §10.3: a row counts only at the version the jobs table holds as its
-- job's latest (a test an older version listed keeps its row), taken from the job versions
-- table (create_oot_workflow_job_versions.sql: by hashed key) for the jobs that listed the test.
SELECT ?fields
FROM {table}_failed_tests
WHERE downstream_repo = ? AND classname = ? AND name = ? AND first_seen_at >= toDateTime(?)
    AND (sipHash64(dynamoKey), version) IN (
        SELECT job, max(version)
        FROM {table}_versions
        WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
            AND job IN (
                SELECT sipHash64(dynamoKey)
                FROM {table}_failed_tests
                WHERE downstream_repo = ? AND classname = ? AND name = ? AND first_seen_at >= toDateTime(?)
            )
        GROUP BY job
    )
LIMIT 1 BY dynamoKey
