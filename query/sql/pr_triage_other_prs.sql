-- PR view's triage (docs/contract.md §12.15): for some (downstream repo, test, job slot) triples
-- failing on the PR, how many other PRs (a PR number that is not the PR's) failed the test in
-- the slot in that downstream repo with a job first seen since the start of the other-PRs
-- window, every attempt counting, each job at its latest version (oot_triage::other_prs states
-- it); of some backends at once.
-- Binds: the (downstream repo, test hash) pairs, as an array; the window's start, in seconds
-- since the epoch; the PR's number; the triples, as an array of (downstream repo, test hash,
-- slot hash); the downstream repos, as an array, and the window's start again, for the jobs'
-- latest versions; and the pairs and the window's start once more, for the jobs those are
-- asked of. The hashes are oot_contract::clickhouse::identity's; the answer names each triple
-- by them.
-- Reads the failed tests on PRs (create_oot_workflow_job_failed_tests_on_prs.sql), ordered
-- (downstream_repo, test, first_seen_at, job): one range per (repo, test), its window a suffix
-- (the subquery turns the bound array into a set, which 18.16 matches against the key), once;
-- the key's conditions are a PREWHERE, so the other columns are read only where they hold. The
-- reading rule of §10.3 (a row counts only at the version the jobs table holds as its job's
-- latest) takes the latest version of the jobs that failed one of the tests in the window,
-- from the job versions table (create_oot_workflow_job_versions.sql: the keys hashed as the
-- rows' are, a repo's window a suffix of its range): a set of those jobs' (key, version), not
-- of every job of the window (a busy backend's month: 1.25M, whose set alone took 0.5 s to
-- build), nor read from the jobs table's keys as strings (0.3 s more). Counted here, so the
-- service receives one row per triple, not one per failure. The service asks it per backend,
-- side by side (the costly read of the PR triage: each backend's chronic tests' failures); the
-- file takes several, as the other triage reads do.
SELECT
    downstream_repo,
    test,
    slot,
    toUInt64(uniqExact(pr)) AS other_prs
FROM {table}_failed_tests_on_prs
PREWHERE (downstream_repo, test) IN (
        SELECT tupleElement(p, 1), tupleElement(p, 2) FROM (SELECT arrayJoin(?) AS p)
    )
    AND first_seen_at >= toDateTime(?)
WHERE pr != ?
    AND (downstream_repo, test, slot) IN (
        SELECT tupleElement(p, 1), tupleElement(p, 2), tupleElement(p, 3)
        FROM (SELECT arrayJoin(?) AS p)
    )
    AND (job, version) IN (
        SELECT job, max(version)
        FROM {table}_versions
        WHERE downstream_repo IN (SELECT arrayJoin(?)) AND first_seen_at >= toDateTime(?)
            AND job IN (
                SELECT job
                FROM {table}_failed_tests_on_prs
                PREWHERE (downstream_repo, test) IN (
                        SELECT tupleElement(p, 1), tupleElement(p, 2) FROM (SELECT arrayJoin(?) AS p)
                    )
                    AND first_seen_at >= toDateTime(?)
            )
        GROUP BY job
    )
GROUP BY downstream_repo, test, slot
