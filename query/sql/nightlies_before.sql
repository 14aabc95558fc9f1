-- Failing tests of a backend (docs/contract.md §12.13): the nightly jobs of one downstream repo
-- from some hours before the window, latest version of each, for the slots whose baseline may be
-- their last nightly before the window. What is read of a job is as in failing_window_jobs.sql.
-- Binds: the downstream repo; the first hour and the end (exclusive) of the hours, in seconds
-- since the epoch, on the hour; the nightly event types, as an array; the downstream repo
-- again; the window's start.
-- The nightlies table gives the repo's deliveries without a PR of those hours (one range of its
-- sort key, a row per job slot of a delivery, where the targets table has a row per target, a
-- PR's too: a busy backend's month is 1.2M target rows and a few hundred deliveries); the
-- nightly ones (a nightly event type; a PR number wins over the event type, as the rules
-- classify jobs, and the table holds only jobs without one) name the by-target table's ranges
-- to read (the subquery's set is matched against its sort key, as in target_jobs.sql; the PR
-- number of a target without a PR is 0, as UInt64 since 18.16 compares tuples' types
-- strictly). Every job of those
-- deliveries first seen before the window is returned, the latest version of each as in
-- pr_jobs.sql.
-- The release diff (§12.16) reads the nightlies of its window and of its time ranges so,
-- binding the end of the hours as the last value and keeping the jobs first seen in them; the
-- PR view's triage (§12.15) reads its backends' nightlies with pr_triage_nightlies.sql.
-- The slot condition (spliced after the repo's) is empty (the release diff: every slot) or,
-- where only some slots' baselines are wanted (the failing tests' pending slots), a condition
-- on them with one more bind, the slots as an array of (workflow_name, job_name): the rows read
-- are the same, but a busy backend's month of nightlies is ~7,500 jobs, of which a few slots'
-- are a few hundred, and the service parses and judges only those.
SELECT ?fields
FROM {table}_by_target
WHERE (upstream_repo, target_pr, target_event, target_delivery) IN (
        SELECT upstream_repo, toUInt64(0), target_event, target_delivery
        FROM {table}_nightlies
        WHERE downstream_repo = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)
            AND has(?, target_event)
    )
    AND downstream_repo = ? AND first_seen_at < toDateTime(?)
    {slot_condition}
ORDER BY version DESC
LIMIT 1 BY dynamoKey
