-- PR view's triage (docs/contract.md §12.15): the PR's jobs the PR view shows, of every
-- downstream repo judged at once, read by key, latest version of each, with their first_seen_at
-- and version, by which their failed tests are then read at that version (jobs_failed_tests.sql).
-- Binds: the upstream repo; the PR's number; the jobs, as an array of (downstream repo, job key).
-- Reads the jobs by target (create_oot_workflow_job_by_target.sql), as the PR view did
-- (pr_jobs.sql): a PR's jobs have target (upstream repo, PR number, '', ''), so the filters are
-- the whole sort key (upstream_repo, target_pr, target_event, target_delivery,
-- downstream_repo, dynamoKey) (the subquery turns the bound array into a set, which 18.16
-- matches against the key) and each job is a few rows of a 256-row granule, where the jobs
-- table (ordered by downstream repo and key, 8,192-row granules) reads a granule of wide rows
-- per job. One query for all the PR's backends: per backend, it was one of ~20 queries a PR view
-- sent, and under a write load ClickHouse's cost per query, not per row, kept the PR view
-- waiting. The latest version of each job is its first row once ordered by version, newest
-- first (LIMIT 1 BY), never a whole-table merge.
SELECT ?fields
FROM {table}_by_target
WHERE upstream_repo = ? AND target_pr = ? AND target_event = '' AND target_delivery = ''
    AND (downstream_repo, dynamoKey) IN (
        SELECT tupleElement(j, 1), tupleElement(j, 2) FROM (SELECT arrayJoin(?) AS j)
    )
ORDER BY version DESC
LIMIT 1 BY dynamoKey
