-- Fills the job versions table (create_oot_workflow_job_versions.sql) from the jobs table: once
-- at creation, and as the SELECT of its materialized view on every INSERT after. The key's hash
-- is oot_contract::clickhouse::identity's, as the failed tests on PRs hash it.
SELECT
    downstream_repo,
    first_seen_at,
    sipHash64(dynamoKey) AS job,
    version
FROM {database}.{table}
