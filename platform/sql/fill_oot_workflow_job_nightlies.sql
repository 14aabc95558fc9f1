-- Fills the nightly deliveries table (create_oot_workflow_job_nightlies.sql) from the jobs
-- table: once at creation, and as the SELECT of its materialized view on every INSERT after.
SELECT
    downstream_repo,
    toDateTime(intDiv(toUInt32(first_seen_at), 3600) * 3600) AS hour,
    upstream_repo,
    event_type AS target_event,
    delivery_id AS target_delivery,
    workflow_name,
    job_name,
    anyState(pytorch_head_sha) AS head_state,
    minState(first_seen_at) AS first_state
FROM {database}.{table}
WHERE isNull(pr_number)
GROUP BY downstream_repo, hour, upstream_repo, target_event, target_delivery, workflow_name, job_name
