-- One test's history (docs/contract.md §12.14): the failed-test rows of one test in one
-- downstream repo, of jobs first seen in the window, every version, each (job, version) once,
-- with the failure message. The reading rule of §10.3 (a row counts only at its job's latest
-- version) is applied by the service against the versions test_history_jobs.sql reads, which
-- holds every job these rows name.
-- Binds: the downstream repo, the test's classname and name; the window's start, in seconds
-- since the epoch, on the hour.
-- One key range: the table is ordered by (downstream_repo, classname, name, first_seen_at,
-- dynamoKey), so a test's history in a backend is contiguous, its window a suffix.
SELECT ?fields
FROM {table}_failed_tests
WHERE downstream_repo = ? AND classname = ? AND name = ? AND first_seen_at >= toDateTime(?)
LIMIT 1 BY dynamoKey, version
