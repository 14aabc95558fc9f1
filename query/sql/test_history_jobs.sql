-- One test's history (docs/contract.md §12.14): of each job slot (workflow, job name) of one
-- downstream repo where the test failed in the window, its newest jobs first seen since a
-- time (the window's start, or later: the service reads a recent span first), latest version
-- of each, with what the triage rules read of a job (as failing_window_jobs.sql), its run's
-- link, and how many entries its failed list holds (failed_tests_listed: a job that does not
-- list the test passed it only when that list holds every failure it counted, §12.2). Whether a
-- job lists the test is the test's failed-test rows' (test_history_failures.sql).
-- Binds, twice (the rows, then which jobs): the downstream repo; the downstream repo, the
-- test's classname and name and the window's start (in seconds since the epoch, on the hour),
-- for its slots; the slots to read, when the service names them (an array of (workflow,
-- job name)); the time to read from, in seconds. And last, how many of the newest jobs per slot.
-- Reads the jobs by slot (create_oot_workflow_job_by_slot.sql), ordered by (downstream_repo,
-- workflow_name, job_name, first_seen_at, dynamoKey): one key range per slot, its newest part.
-- The slots are the test's range of the failed-test table (its sort key's prefix, narrowed to
-- the window), or those of them the service names. Which jobs: each job once, at its latest
-- version (the subquery groups the range's few narrow columns by key rather than sorting every
-- row of it), the newest per slot; the outer read takes those jobs' rows at those versions: no
-- FINAL.
SELECT ?fields
FROM {table}_by_slot
WHERE downstream_repo = ?
    AND (workflow_name, job_name) IN (
        SELECT workflow_name, job_name
        FROM {table}_failed_tests
        WHERE downstream_repo = ? AND classname = ? AND name = ? AND first_seen_at >= toDateTime(?)
    )
    {slot_condition}
    AND first_seen_at >= toDateTime(?)
    AND (dynamoKey, version) IN (
        SELECT dynamoKey, version
        FROM (
            SELECT
                dynamoKey,
                max(version) AS version,
                any(workflow_name) AS slot_workflow,
                any(job_name) AS slot_job,
                any(first_seen_at) AS seen
            FROM {table}_by_slot
            WHERE downstream_repo = ?
                AND (workflow_name, job_name) IN (
                    SELECT workflow_name, job_name
                    FROM {table}_failed_tests
                    WHERE downstream_repo = ? AND classname = ? AND name = ?
                        AND first_seen_at >= toDateTime(?)
                )
                {slot_condition}
                AND first_seen_at >= toDateTime(?)
            GROUP BY dynamoKey
            ORDER BY seen DESC, dynamoKey DESC
            LIMIT ? BY slot_workflow, slot_job
        )
    )
LIMIT 1 BY dynamoKey
