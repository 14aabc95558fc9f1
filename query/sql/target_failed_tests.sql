-- Failure drill-down of a backend page: the failed_tests_json of the jobs of the page's targets
-- whose latest version failed or reported failed tests, asked beside the page's jobs
-- (target_jobs.sql) rather than after them, so the page costs one round trip less. That is
-- more than the page shows (older attempts too), which the service leaves out.
-- Binds: the downstream repo; the targets, the downstream repo and the window's start as in
-- target_jobs.sql; the conclusion `failure`, twice.
-- The keys come from the targets' ranges of the by-target table (the granules target_jobs.sql
-- reads at the same moment), taking every job any version of which failed: the latest version
-- is among them, whatever merges have collapsed. The rows are read by the jobs table's sort key
-- (downstream_repo, dynamoKey), as in failed_tests.sql, the latest version of each, and kept
-- when that version failed, so the answer does not depend on merges.
SELECT ?fields
FROM (
    SELECT dynamoKey, failed_tests_json, conclusion, failed_tests
    FROM {table}
    WHERE downstream_repo = ? AND dynamoKey IN (
            SELECT dynamoKey
            FROM {table}_by_target
            WHERE (upstream_repo, target_pr, target_event, target_delivery) IN (
                    SELECT tupleElement(t, 1), toUInt64(tupleElement(t, 2)), tupleElement(t, 3), tupleElement(t, 4)
                    FROM (SELECT arrayJoin(?) AS t)
                )
                AND downstream_repo = ? AND first_seen_at >= toDateTime(?)
                AND (conclusion = ? OR failed_tests > 0)
        )
ORDER BY version DESC
LIMIT 1 BY dynamoKey
)
WHERE conclusion = ? OR failed_tests > 0
