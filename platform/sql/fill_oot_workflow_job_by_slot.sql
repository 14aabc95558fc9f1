-- Fills the jobs by slot (create_oot_workflow_job_by_slot.sql) from the completed-jobs table:
-- once at creation, and as the SELECT of its materialized view on every INSERT after.
-- failed_tests_listed is the jobs table's materialized count of its list's entries.
SELECT
    downstream_repo,
    workflow_name,
    job_name,
    first_seen_at,
    dynamoKey,
    version,
    upstream_repo,
    pr_number,
    pytorch_head_sha,
    event_type,
    run_id,
    run_attempt,
    conclusion,
    failed_tests,
    workflow_run_url,
    failed_tests_listed
FROM {database}.{table}
