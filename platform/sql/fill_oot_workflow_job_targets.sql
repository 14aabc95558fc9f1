-- What the targets table (create_oot_workflow_job_targets.sql) holds of the rows of the
-- completed-jobs table `{database}.{table}`: the SELECT of its materialized view and of its
-- one-time backfill. The hour is computed in seconds, not with toStartOfHour, which follows the
-- server's time zone (a half-hour zone would not start windows on UTC hours).
SELECT
    downstream_repo,
    toDateTime(intDiv(toUInt32(first_seen_at), 3600) * 3600) AS hour,
    upstream_repo,
    ifNull(pr_number, 0) AS target_pr,
    if(isNull(pr_number), event_type, '') AS target_event,
    if(isNull(pr_number), delivery_id, '') AS target_delivery,
    maxState(tuple(first_seen_at, dynamoKey, version, pytorch_head_sha)) AS newest_state,
    maxIfState(
        tuple(first_seen_at, dynamoKey, version, downstream_repo_level),
        downstream_repo_level != ''
    ) AS level_state
FROM {database}.{table}
GROUP BY downstream_repo, hour, upstream_repo, target_pr, target_event, target_delivery
