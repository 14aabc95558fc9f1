-- PR view's triage (docs/contract.md §12.15): the nightly jobs of some slots of some downstream
-- repos, each slot from some hours of its own (the day before its PR job, or the rest of the
-- lookback), latest version of each, of all the PR's backends at once. What is read of a job is
-- as in nightlies_before.sql, with its downstream repo.
-- Binds: the downstream repos, as an array; the first hour and the end (exclusive) of all the
-- hours, in seconds since the epoch, on the hour; the nightly event types, as an array; the
-- slots, as an array of (downstream repo, workflow_name, job_name), each once; each slot's
-- first hour and end (exclusive), in seconds, as two arrays in the slots' order; the downstream
-- repos again; the end (exclusive) of the jobs' first_seen_at; the slots again.
-- As nightlies_before.sql: the nightlies table (a row per job slot of a delivery without a PR,
-- ordered by downstream repo and hour) names the by-target table's ranges to read, the
-- deliveries of a nightly event type (a PR number wins over the event type, and the table holds
-- only jobs without one; the PR number of a target without a PR is 0, as UInt64 since 18.16
-- compares tuples' types strictly), here those with a job of one of the slots in that slot's
-- own hours (a PR's jobs may be weeks apart: one span from the first to the last would read
-- every nightly between them, a busy backend's month ~7,000 jobs). Each span is matched as a
-- range, not hour by hour: a week's lookback of a few slots bound as their hours was 50-75 KB
-- of SQL, which took 18.16 0.3-0.4 s under a write load, reading no row (an 11 KB one, 20 ms);
-- the rows the ranges are matched against are the repos' key range of the hours, few (a busy
-- backend's week of nightlies: ~2,000). Every job of those deliveries first seen before the
-- end is returned, of the slots asked only (a slot's jobs from another slot's hours may be),
-- the latest version of each as in pr_jobs.sql. One query for all the PR's backends: the
-- service keeps, per slot, those not first seen after its PR job. A row's slot is found in the
-- bound slots by indexOf and its range read at that place (18.16 does not read a column named
-- only in a lambda, so arrayExists over the spans cannot say it).
SELECT ?fields
FROM {table}_by_target
WHERE (upstream_repo, target_pr, target_event, target_delivery) IN (
        SELECT upstream_repo, toUInt64(0), target_event, target_delivery
        FROM {table}_nightlies
        WHERE downstream_repo IN (SELECT arrayJoin(?))
            AND hour >= toDateTime(?) AND hour < toDateTime(?)
            AND has(?, target_event)
            AND (indexOf(?, (downstream_repo, workflow_name, job_name)) AS span) > 0
            AND toUInt32(hour) >= arrayElement(?, span) AND toUInt32(hour) < arrayElement(?, span)
    )
    AND downstream_repo IN (SELECT arrayJoin(?)) AND first_seen_at < toDateTime(?)
    AND (downstream_repo, workflow_name, job_name) IN (
        SELECT tupleElement(s, 1), tupleElement(s, 2), tupleElement(s, 3)
        FROM (SELECT arrayJoin(?) AS s)
    )
ORDER BY version DESC
LIMIT 1 BY dynamoKey
