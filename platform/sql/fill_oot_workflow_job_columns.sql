-- What the columns table (create_oot_workflow_job_columns.sql) holds of the rows of the
-- completed-jobs table `{database}.{table}`: the SELECT of its materialized view and of its
-- one-time backfill; the hour as in fill_oot_workflow_job_targets.sql.
SELECT
    downstream_repo,
    toDateTime(intDiv(toUInt32(first_seen_at), 3600) * 3600) AS hour,
    workflow_name,
    job_name
FROM {database}.{table}
GROUP BY downstream_repo, hour, workflow_name, job_name
