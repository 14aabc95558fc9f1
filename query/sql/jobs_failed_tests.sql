-- The failed tests of some jobs, each at the version it was read at (a PR's shown jobs for its
-- triage, docs/contract.md §12.15, of all its backends at once; the nightlies a release diff
-- compares, §12.16; a backend's baseline nightlies, §12.13): the reading rule of §10.3 with the
-- version known, so a job's facts and its failed tests are of one version.
-- Binds: the jobs, as an array of (downstream repo, first_seen_at in seconds since the epoch,
-- job key, version), twice.
-- Reads the failed tests by job (create_oot_workflow_job_failed_tests_by_job.sql) by its sort
-- key (downstream_repo, first_seen_at, dynamoKey, ...): one short range per job (the subquery
-- turns the bound array into a set, which 18.16 matches against the key), where the jobs
-- table's failed_tests_json would read 8,192 rows of whole lists per job. The numbers are cast
-- back to their columns' types, as target_jobs.sql casts its PR number. Rows of one job,
-- version and test are equal, so any one is kept.
SELECT ?fields
FROM {table}_failed_tests_by_job
WHERE (downstream_repo, first_seen_at, dynamoKey) IN (
        SELECT tupleElement(j, 1), toDateTime(toUInt32(tupleElement(j, 2))), tupleElement(j, 3)
        FROM (SELECT arrayJoin(?) AS j)
    )
    AND (dynamoKey, version) IN (
        SELECT tupleElement(j, 3), toUInt64(tupleElement(j, 4)) FROM (SELECT arrayJoin(?) AS j)
    )
LIMIT 1 BY dynamoKey, classname, name
