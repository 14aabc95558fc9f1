-- Per-backend view: the completed jobs of one downstream repo first seen in the window, latest
-- version of each (FINAL).
-- Binds: the downstream repo; the window's start, in seconds since the epoch.
-- Both filters are on columns every version of a job agrees on (the sort key's first column
-- and the partition key), so FINAL returns the latest version whichever way the server applies
-- them. failed_tests_json is left out: only failed jobs on the page need it (failed_tests.sql).
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
WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
