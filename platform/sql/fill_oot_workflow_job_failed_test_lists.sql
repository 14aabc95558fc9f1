-- Fills the failed-test lists table (create_oot_workflow_job_failed_test_lists.sql) from the jobs
-- table: once at creation, and as the SELECT of its materialized view on every INSERT after.
SELECT
    downstream_repo,
    dynamoKey,
    version,
    first_seen_at,
    failed_tests_json
FROM {database}.{table}
