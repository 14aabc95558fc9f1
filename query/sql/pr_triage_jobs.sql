-- PR view's triage (docs/contract.md §12.15): the PR's jobs one downstream repo shows on the PR
-- view, read by key, latest version of each, with their first_seen_at and version, by which
-- their failed tests are then read at that version (jobs_failed_tests.sql).
-- Binds: the upstream repo; the PR's number; the downstream repo; the job keys, as an array.
-- Reads the jobs by target (create_oot_workflow_job_by_target.sql), as the PR view did
-- (pr_jobs.sql): a PR's jobs have target (upstream repo, PR number, '', ''), so the filters are
-- the whole sort key (upstream_repo, target_pr, target_event, target_delivery,
-- downstream_repo, dynamoKey) and each job is a few rows of a 256-row granule, where the jobs
-- table (ordered by downstream repo and key, 8,192-row granules) reads a granule of wide rows
-- per job. The latest version of each job is its first row once ordered by version, newest
-- first (LIMIT 1 BY), never a whole-table merge.
SELECT ?fields
FROM {table}_by_target
WHERE upstream_repo = ? AND target_pr = ? AND target_event = '' AND target_delivery = ''
    AND downstream_repo = ? AND dynamoKey IN (SELECT arrayJoin(?))
ORDER BY version DESC
LIMIT 1 BY dynamoKey
