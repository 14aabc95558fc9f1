-- PR view's triage (docs/contract.md §12.15): for some (test, job slot) pairs failing on the PR,
-- how many other PRs (a PR number that is not the PR's) failed the test in the slot in one
-- downstream repo with a job first seen since the start of the other-PRs window, every attempt
-- counting, each job at its latest version (oot_triage::other_prs states it).
-- Binds: the downstream repo; the pairs' tests, as an array of test hashes; the window's start,
-- in seconds since the epoch; the PR's number; the pairs, as an array of (test hash, slot hash);
-- the downstream repo and the window's start again, for the jobs' latest versions; and the
-- repo, the tests and the window's start once more, for the jobs those are asked of. The hashes
-- are oot_contract::clickhouse::identity's; the answer names each pair by them.
-- Reads the failed tests on PRs (create_oot_workflow_job_failed_tests_on_prs.sql), ordered
-- (downstream_repo, test, first_seen_at, job): one range per test, its window a suffix (the
-- subquery turns the bound array into a set, which 18.16 matches against the key), once; the
-- key's conditions are a PREWHERE, so the other columns are read only where they hold. The
-- reading rule of §10.3 (a row counts only at the version the jobs table holds as its job's
-- latest) takes the latest version of the jobs that failed one of the tests in the window,
-- from the job versions table (create_oot_workflow_job_versions.sql: the keys hashed as the
-- rows' are, the repo's window a suffix of its range): a set of those jobs' (key, version), not
-- of every job of the window (a busy backend's month: 1.25M, whose set alone took 0.5 s to
-- build), nor read from the jobs table's keys as strings (0.3 s more). Counted here, so the
-- service receives one row per pair, not one per failure; the repo is returned with each, as the
-- service asks the backends of a PR side by side. One repo per query: a query over several,
-- the pairs matched as (repo, test hash) tuples, read the same rows 1.6-2x slower (the string
-- hashed with each row), and read them one backend after another.
SELECT
    downstream_repo,
    test,
    slot,
    toUInt64(uniqExact(pr)) AS other_prs
FROM {table}_failed_tests_on_prs
PREWHERE downstream_repo = ?
    AND test IN (SELECT arrayJoin(?))
    AND first_seen_at >= toDateTime(?)
WHERE pr != ?
    AND (test, slot) IN (SELECT tupleElement(p, 1), tupleElement(p, 2) FROM (SELECT arrayJoin(?) AS p))
    AND (job, version) IN (
        SELECT job, max(version)
        FROM {table}_versions
        WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
            AND job IN (
                SELECT job
                FROM {table}_failed_tests_on_prs
                PREWHERE downstream_repo = ?
                    AND test IN (SELECT arrayJoin(?))
                    AND first_seen_at >= toDateTime(?)
            )
        GROUP BY job
    )
GROUP BY downstream_repo, test, slot
