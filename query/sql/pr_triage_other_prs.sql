-- PR view's triage (docs/contract.md §12.15): the failures, in one downstream repo and since the
-- start of the other-PRs window, of some tests failing on the PR, by jobs of other PRs (a PR
-- number that is not the PR's), each at its job's latest version, each test once per job.
-- Binds: the downstream repo; the tests, as an array of (classname, name); the window's start,
-- in seconds since the epoch; the PR's number; the downstream repo twice more, the tests and
-- the window's start again, for the jobs' latest versions.
-- Reads the failed-test table by its sort key (downstream_repo, classname, name, first_seen_at,
-- dynamoKey): one short range per test, its window a suffix (the subquery turns the bound array
-- into a set, which 18.16 matches against the key). The reading rule of §10.3: a row counts
-- only at the version the jobs table holds as its job's latest, read there by key
-- (downstream_repo, dynamoKey) for the jobs those ranges name.
SELECT ?fields
FROM {table}_failed_tests
WHERE downstream_repo = ?
    AND (classname, name) IN (
        SELECT tupleElement(t, 1), tupleElement(t, 2) FROM (SELECT arrayJoin(?) AS t)
    )
    AND first_seen_at >= toDateTime(?)
    AND isNotNull(pr_number) AND assumeNotNull(pr_number) != ?
    AND (dynamoKey, version) IN (
        SELECT dynamoKey, max(version)
        FROM {table}
        WHERE downstream_repo = ? AND dynamoKey IN (
            SELECT dynamoKey
            FROM {table}_failed_tests
            WHERE downstream_repo = ?
                AND (classname, name) IN (
                    SELECT tupleElement(t, 1), tupleElement(t, 2) FROM (SELECT arrayJoin(?) AS t)
                )
                AND first_seen_at >= toDateTime(?)
        )
        GROUP BY dynamoKey
    )
LIMIT 1 BY dynamoKey, classname, name
