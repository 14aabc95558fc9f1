-- Failure drill-down: the failed_tests_json of some jobs of one downstream repo, latest version
-- of each (FINAL).
-- Binds: the downstream repo; the job keys, as an array.
-- has(array, x) rather than x IN array: ClickHouse 18.16 cannot bind an array to IN. Both
-- filters are on the sort key (downstream_repo, dynamoKey), which every version of a job
-- shares, so the server skips to the repo's part and FINAL returns the latest version whichever
-- way it applies them.
SELECT ?fields
FROM {table} FINAL
WHERE downstream_repo = ? AND has(?, dynamoKey)
