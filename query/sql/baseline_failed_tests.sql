-- Failing tests of a backend (docs/contract.md §12.13): whether some nightlies from before the
-- window, each the baseline of tests failing in it, failed those tests: their failed-test rows
-- for those tests, at the version each nightly was read at, each test once per job.
-- Binds: the downstream repo; the tests, as an array of (classname, name); the first and the
-- last first_seen_at of the nightlies, in seconds since the epoch; the nightlies, as an array of
-- (job key, version).
-- Reads the failed-test table by its sort key (downstream_repo, classname, name, first_seen_at,
-- dynamoKey): each test's range of the repo, narrowed to the nightlies' seconds, so a test's
-- rows of other days are skipped by the index (the subquery turns the bound array into a set,
-- which 18.16 matches against the key; it cannot use has() there). The version is the reading
-- rule of §10.3, taken from the by-target table's row the nightly was read from
-- (nightlies_before.sql); it is cast back to UInt64, as target_jobs.sql casts its PR number.
SELECT ?fields
FROM {table}_failed_tests
WHERE downstream_repo = ?
    AND (classname, name) IN (
        SELECT tupleElement(t, 1), tupleElement(t, 2) FROM (SELECT arrayJoin(?) AS t)
    )
    AND first_seen_at >= toDateTime(?) AND first_seen_at <= toDateTime(?)
    AND (dynamoKey, version) IN (
        SELECT tupleElement(j, 1), toUInt64(tupleElement(j, 2)) FROM (SELECT arrayJoin(?) AS j)
    )
LIMIT 1 BY dynamoKey, classname, name
