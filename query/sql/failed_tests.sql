-- Failure drill-down: the latest failed_tests_json of some jobs of one downstream repo.
-- Binds: the downstream repo; the job keys, as an array.
-- has(array, x) rather than x IN array: ClickHouse 18.16 cannot bind an array to IN. The repo
-- filter lets the server skip to the repo's part of the sort key (downstream_repo, dynamoKey).
SELECT
    dynamoKey,
    argMax(failed_tests_json, version) AS latest_failed_tests_json
FROM {table}
WHERE downstream_repo = ? AND has(?, dynamoKey)
GROUP BY dynamoKey
