-- What the failed tests on PRs (create_oot_workflow_job_failed_tests_on_prs.sql) hold of the
-- rows of the failed-test table `{database}.{table}`: the SELECT of its materialized view and
-- of its one-time backfill. The hashes are oot_contract::clickhouse::identity's. The PR's column
-- is `pr`, not `pr_number`: an alias named as a column replaces it in WHERE too.
SELECT
    downstream_repo,
    sipHash64(concat(toString(length(classname)), ':', classname, name)) AS test,
    first_seen_at,
    sipHash64(dynamoKey) AS job,
    sipHash64(concat(toString(length(workflow_name)), ':', workflow_name, job_name)) AS slot,
    assumeNotNull(pr_number) AS pr,
    version
FROM {database}.{table}
WHERE isNotNull(pr_number)
