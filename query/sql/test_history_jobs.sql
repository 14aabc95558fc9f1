-- One test's history (docs/contract.md §12.14): every completed job first seen in the window of
-- the job slots (workflow, job name) of one downstream repo where the test failed, latest
-- version of each, with what the triage rules read of a job (as failing_window_jobs.sql), its
-- run's link, and what its failed list (failed_tests_json, the list as the item holds it) says
-- of the test: whether it lists it, and how many entries it holds (a job that does not list the
-- test passed it only when that list holds every failure it counted, §12.2, whatever else it
-- failed). Read from the job's own row, so they are of the version its facts are of.
-- Binds: the test's entry prefix (below); the downstream repo; the window's start, in seconds
-- since the epoch, on the hour; the downstream repo, the test's classname and name, and the
-- window's start again, for its slots.
-- The slots are the test's range of the failed-test table (its sort key's prefix, narrowed to
-- the window). The jobs table is ordered by (downstream_repo, dynamoKey) and no table is
-- ordered by slot, so this reads the repo's range in the window's monthly partitions, as
-- failing_window_jobs.sql does, keeping the slots' jobs. 18.16 has no JSON functions, but each
-- entry of the projector's compact list starts with the object brace, the name and the
-- classname, text an escaped JSON string cannot hold: lists_test looks for the test's own
-- prefix (the name and classname JSON-encoded, up to the comma after them), and listed_entries
-- counts the pieces between entry starts (splitByString, since intDiv of the lengths trips
-- current releases' plan optimizer when ordered and limited by). The latest version of each
-- job is the first of its rows once ordered by version, newest first: no FINAL.
WITH position(failed_tests_json, ?) > 0 AS lists_test,
    toUInt64(length(splitByString('{"name":', failed_tests_json)) - 1) AS listed_entries
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
