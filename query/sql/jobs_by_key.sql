-- Release diff (docs/contract.md §12.16): the nightlies it compares, of one downstream repo,
-- read by key, latest version of each, with their first_seen_at and version, by which their
-- failed tests are then read at that version (jobs_failed_tests.sql; failed_tests_json is not
-- read: 8,192 rows of whole lists per job), and their workflow run links.
-- Binds: the downstream repo; the job keys, as an array.
-- As failed_tests.sql: both filters are on the sort key (downstream_repo, dynamoKey), the
-- subquery turning the bound array into a set; the latest version of each job is its first row
-- once ordered by version, newest first (LIMIT 1 BY), never a whole-table merge.
SELECT ?fields
FROM {table}
WHERE downstream_repo = ? AND dynamoKey IN (SELECT arrayJoin(?))
ORDER BY version DESC
LIMIT 1 BY dynamoKey
