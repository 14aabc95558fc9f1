-- One test's history (docs/contract.md §12.14): how many jobs (every trigger and attempt) each
-- job slot of one downstream repo where the test failed in the window ran in the window.
-- Binds: the downstream repo; the downstream repo, the test's classname and name and the
-- window's start (in seconds since the epoch, on the hour), for its slots; the window's start.
-- Reads the jobs by slot (create_oot_workflow_job_by_slot.sql): one key range per slot, its
-- keys only. A job's versions share its key: each is counted once.
SELECT ?fields
FROM (
    SELECT workflow_name, job_name, uniqExact(dynamoKey) AS jobs
    FROM {table}_by_slot
    WHERE downstream_repo = ?
        AND (workflow_name, job_name) IN (
            SELECT workflow_name, job_name
            FROM {table}_failed_tests
            WHERE downstream_repo = ? AND classname = ? AND name = ? AND first_seen_at >= toDateTime(?)
        )
        AND first_seen_at >= toDateTime(?)
    GROUP BY workflow_name, job_name
)
