-- Failure drill-down: the failed_tests_json of some jobs of one downstream repo, latest version
-- of each, from the failed-test lists table (create_oot_workflow_job_failed_test_lists.sql):
-- a granule of 64 rows per key and part, where the jobs table reads 8,192 wide rows.
-- Binds: the downstream repo; the job keys, as an array.
-- Both filters are on the sort key (downstream_repo, dynamoKey): `IN` a subquery's set is
-- matched against it, so only the keys' granules are read (18.16 cannot bind an array to IN,
-- nor use the key for has(); the subquery turns the bound array into a set). The latest
-- version of each job is the first of its rows once ordered by version, newest first
-- (LIMIT 1 BY): no FINAL.
SELECT ?fields
FROM {table}_failed_test_lists
WHERE downstream_repo = ? AND dynamoKey IN (SELECT arrayJoin(?))
ORDER BY version DESC
LIMIT 1 BY dynamoKey
