-- PR view: the completed jobs of every downstream repo for one upstream PR first seen since a
-- start (0 for all the PR's jobs retained), latest version of each.
-- Binds: the upstream repo; the PR number; the start, in seconds since the epoch.
-- Reads the by-target table, ordered by (upstream_repo, target_pr, ...): the PR's rows are one
-- range of the sort key, whatever the size of the table. The latest version of each job is the
-- first row of its key once ordered by version, newest first (LIMIT 1 BY): no FINAL, and only
-- the PR's rows are sorted. Every version of a job shares its target and first_seen_at, so the
-- filters keep or drop all of a job's versions together.
SELECT ?fields
FROM {table}_by_target
WHERE upstream_repo = ? AND target_pr = ? AND first_seen_at >= toDateTime(?)
ORDER BY version DESC
LIMIT 1 BY dynamoKey
