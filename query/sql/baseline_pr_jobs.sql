-- Baseline: the completed jobs of every downstream repo for one upstream PR first seen since a
-- start (0 for all the PR's jobs retained), latest version of each (FINAL), over the whole
-- table. The benchmark's and the tests' reference; the PR view reads pr_jobs.sql.
-- Binds: the upstream repo; the PR number; the start, in seconds since the epoch.
-- upstream_repo, pr_number and first_seen_at are the same in every version of a job, so FINAL
-- returns the latest version whichever way the server applies the filter.
SELECT ?fields
FROM {table} FINAL
WHERE upstream_repo = ? AND pr_number = ? AND first_seen_at >= toDateTime(?)
