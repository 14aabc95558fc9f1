-- One test's history (docs/contract.md §12.14): every nightly job (no PR, a nightly event type)
-- first seen in the window of each job slot of one downstream repo where the test failed in
-- it, latest version of each, as test_history_jobs.sql reads a job: the regression range reads
-- the slot's whole nightly series of the window.
-- Binds: the downstream repo; the downstream repo, the test's classname and name and the
-- window's start (in seconds since the epoch, on the hour), for its slots; the window's start;
-- the three nightly event types (EventType::NIGHTLY_RUNS).
-- Reads the jobs by slot (create_oot_workflow_job_by_slot.sql): one key range per slot, the
-- window its suffix; the latest version of each job is the first of its rows once ordered by
-- version, newest first (the nightlies only: a few a day per slot): no FINAL.
SELECT ?fields
FROM {table}_by_slot
WHERE downstream_repo = ?
    AND (workflow_name, job_name) IN (
        SELECT workflow_name, job_name
        FROM {table}_failed_tests
        WHERE downstream_repo = ? AND classname = ? AND name = ? AND first_seen_at >= toDateTime(?)
    )
    AND first_seen_at >= toDateTime(?)
    AND isNull(pr_number) AND event_type IN (?, ?, ?)
ORDER BY version DESC
LIMIT 1 BY dynamoKey
