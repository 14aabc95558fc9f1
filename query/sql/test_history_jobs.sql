-- One test's history (docs/contract.md §12.14): every completed job first seen in the window of
-- the job slots (workflow, job name) of one downstream repo where the test failed, latest
-- version of each, with what the triage rules read of a job (as failing_window_jobs.sql), its
-- run's link, and how many entries its failed list holds (failed_tests_listed, computed from
-- failed_tests_json when the row was written; a job that does not list the test passed it only
-- when that list holds every failure it counted, §12.2, whatever else it failed). Whether it
-- lists the test is the test's failed-test rows' (test_history_failures.sql): the lists are
-- not read.
-- Binds: the downstream repo; the window's start, in seconds since the epoch, on the hour; the
-- downstream repo, the test's classname and name, and the window's start again, for its slots.
-- The slots are the test's range of the failed-test table (its sort key's prefix, narrowed to
-- the window). The jobs table is ordered by (downstream_repo, dynamoKey) and no table is
-- ordered by slot, so this reads the repo's range in the window's monthly partitions, as
-- failing_window_jobs.sql does, keeping the slots' jobs. The latest version of each job is the
-- first of its rows once ordered by version, newest first: no FINAL.
SELECT ?fields
FROM {table}
WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
    AND (workflow_name, job_name) IN (
        SELECT workflow_name, job_name
        FROM {table}_failed_tests
        WHERE downstream_repo = ? AND classname = ? AND name = ? AND first_seen_at >= toDateTime(?)
    )
ORDER BY version DESC
LIMIT 1 BY dynamoKey
