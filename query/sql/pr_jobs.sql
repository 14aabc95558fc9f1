-- PR view: the completed jobs of every downstream repo for one upstream PR first seen since a
-- start (0 for all the PR's jobs retained), latest version of each (FINAL).
-- Binds: the upstream repo; the PR number; the start, in seconds since the epoch.
-- upstream_repo, pr_number and first_seen_at are the same in every version of a job, so FINAL
-- returns the latest version whichever way the server applies the filter.
SELECT
    dynamoKey,
    downstream_repo,
    downstream_repo_level,
    upstream_repo,
    pr_number,
    pytorch_head_sha,
    delivery_id,
    event_type,
    workflow_run_url,
    workflow_name,
    job_name,
    check_run_id,
    run_id,
    run_attempt,
    status,
    conclusion,
    queue_time,
    execution_time,
    first_seen_at,
    started_at,
    completed_at,
    total_tests,
    passed_tests,
    failed_tests,
    skipped_tests,
    artifact_url
FROM {table} FINAL
WHERE upstream_repo = ? AND pr_number = ? AND first_seen_at >= toDateTime(?)
