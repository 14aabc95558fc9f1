-- What the failed tests by job (create_oot_workflow_job_failed_tests_by_job.sql) hold of the
-- rows of the failed-test table `{database}.{table}`: the SELECT of its materialized view and of
-- its one-time backfill.
SELECT
    downstream_repo,
    first_seen_at,
    dynamoKey,
    classname,
    name,
    version
FROM {database}.{table}
