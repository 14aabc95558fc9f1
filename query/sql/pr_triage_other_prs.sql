-- PR view's triage (docs/contract.md §12.15): for some tests failing on the PR, per test and job
-- slot (workflow, job name), how many other PRs (a PR number that is not the PR's) failed the
-- test in one downstream repo with a job first seen since the start of the other-PRs window,
-- every attempt counting, each job at its latest version (oot_triage::other_prs states it).
-- Binds: the downstream repo; the tests, as an array of (classname, name); the window's start,
-- in seconds since the epoch; the PR's number; the downstream repo and the window's start again,
-- for the jobs' latest versions.
-- Reads the failed-test table by its sort key (downstream_repo, classname, name, first_seen_at,
-- dynamoKey): one range per test, its window a suffix (the subquery turns the bound array into
-- a set, which 18.16 matches against the key), once. The reading rule of §10.3 (a row counts
-- only at the version the jobs table holds as its job's latest) takes the latest version of
-- every job of the repo in the window, from the jobs table's range of the repo (its sort key's
-- first column) in the window's monthly partitions: two narrow columns, cheaper than naming
-- the failing jobs by reading the test ranges twice. Counted here, so the service receives one
-- row per test and slot, not one per failure. The key's conditions are a PREWHERE: the other
-- columns are read only where they hold (the tests' ranges cover most granules of the repo).
SELECT
    classname,
    name,
    workflow_name,
    job_name,
    toUInt64(uniqExact(assumeNotNull(pr_number))) AS other_prs
FROM {table}_failed_tests
PREWHERE downstream_repo = ?
    AND (classname, name) IN (
        SELECT tupleElement(t, 1), tupleElement(t, 2) FROM (SELECT arrayJoin(?) AS t)
    )
    AND first_seen_at >= toDateTime(?)
WHERE isNotNull(pr_number) AND assumeNotNull(pr_number) != ?
    AND (dynamoKey, version) IN (
        SELECT dynamoKey, max(version)
        FROM {table}
        WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
        GROUP BY dynamoKey
    )
GROUP BY classname, name, workflow_name, job_name
