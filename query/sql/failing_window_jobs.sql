-- Failing tests of a backend (docs/contract.md §12.13): every completed job of one downstream
-- repo first seen in the window, latest version of each, with what the triage rules read of a
-- job (its slot, run, attempt, outcome, failed count, upstream commit, PR and event type). The
-- rules need all of them, not only the failed ones: the runs of a job, which attempt is a run's
-- latest, who passed a test on a commit and the nightly series come from jobs that did not fail.
-- Binds: the downstream repo; the window's start, in seconds since the epoch, on the hour.
-- Reads the jobs table's range of the repo (its sort key's first column) in the window's
-- monthly partitions; first_seen_at is the partition key, set once per job, so a job's versions
-- are kept or dropped together. The latest version of each job is the first of its rows once
-- ordered by version, newest first (LIMIT 1 BY): no FINAL.
SELECT ?fields
FROM {table}
WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
ORDER BY version DESC
LIMIT 1 BY dynamoKey
