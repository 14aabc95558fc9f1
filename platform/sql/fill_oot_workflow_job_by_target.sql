-- What the by-target table (create_oot_workflow_job_by_target.sql) holds of the rows of the
-- completed-jobs table `{database}.{table}`: the SELECT of its materialized view (run on every
-- block inserted) and of its one-time backfill (INSERT ... SELECT), so both write alike.
-- The target columns' aliases are not column names of the source: ClickHouse 18.16 would resolve
-- a same-named alias inside the other expressions.
SELECT
    upstream_repo,
    ifNull(pr_number, 0) AS target_pr,
    if(isNull(pr_number), event_type, '') AS target_event,
    if(isNull(pr_number), delivery_id, '') AS target_delivery,
    downstream_repo,
    dynamoKey,
    version,
    first_seen_at,
    status,
    downstream_repo_level,
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
    conclusion,
    queue_time,
    execution_time,
    started_at,
    completed_at,
    total_tests,
    passed_tests,
    failed_tests,
    skipped_tests,
    artifact_url
FROM {database}.{table}
