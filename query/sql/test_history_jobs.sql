-- One test's history (docs/contract.md §12.14): of each job slot (workflow, job name) of one
-- downstream repo where the test failed in the window, the jobs of the window the history
-- shows and judges: the newest (the strip) and every nightly (the regression range), latest
-- version of each, with what the triage rules read of a job (as failing_window_jobs.sql), its
-- run's link, and how many entries its failed list holds (failed_tests_listed: a job that does
-- not list the test passed it only when that list holds every failure it counted, §12.2).
-- Whether a job lists the test is the test's failed-test rows' (test_history_failures.sql).
-- Binds: the downstream repo; the downstream repo, the test's classname and name and the
-- window's start (in seconds since the epoch, on the hour), for its slots; the window's start;
-- how many of the newest jobs per slot; the three nightly event types (EventType::NIGHTLY_RUNS).
-- Reads the jobs by slot (create_oot_workflow_job_by_slot.sql), ordered by (downstream_repo,
-- workflow_name, job_name, first_seen_at, dynamoKey): one key range per slot, the window its
-- suffix. The slots are the test's range of the failed-test table (its sort key's prefix,
-- narrowed to the window). The latest version of each job is the first of its rows once ordered
-- by version, newest first: no FINAL. Then, per slot, the newest jobs that are not nightlies
-- (those with a PR, or another event type) and every nightly: each nightly is a LIMIT BY group
-- of its own. The newest jobs of the slot, whatever they are, are among those.
SELECT ?fields
FROM (
    SELECT *
    FROM {table}_by_slot
    WHERE downstream_repo = ?
        AND (workflow_name, job_name) IN (
            SELECT workflow_name, job_name
            FROM {table}_failed_tests
            WHERE downstream_repo = ? AND classname = ? AND name = ? AND first_seen_at >= toDateTime(?)
        )
        AND first_seen_at >= toDateTime(?)
    ORDER BY version DESC
    LIMIT 1 BY dynamoKey
)
ORDER BY first_seen_at DESC, dynamoKey DESC
LIMIT ? BY workflow_name, job_name, if(isNull(pr_number) AND event_type IN (?, ?, ?), dynamoKey, '')
