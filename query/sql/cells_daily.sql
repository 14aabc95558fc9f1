-- What the runs counted per UTC day (latest attempt of each run, once completed;
-- docs/contract.md §11.2, §14.9), per downstream repo, from the hourly rollup cells: a backend's
-- trends (one repo) and the summary's sparklines (every repo).
-- Each cell is read at its latest version (argMax per cell: parts not yet merged still hold
-- older versions of it), then summed per repo and day: no FINAL, and rows read scale with the
-- cells of the days read (repos x hours x jobs), not with their jobs.
-- The day is the UTC day of the cell's hour, from the seconds since the epoch (toUInt32), so it
-- does not depend on the server's time zone.
-- The WHERE clause's repo condition placeholder is spliced in by the service: nothing for every
-- repo, or a condition on `downstream_repo` bound to one repo (the table's first key column: the
-- repo's range only).
-- Binds: the downstream repo when asked for one; the first day's start, in seconds since the
-- epoch (a midnight UTC).
-- The histograms are summed bucket by bucket (sumForEach; a row written before the histograms
-- holds empty arrays, which add nothing).
-- The summary's sparklines name only the rate sums in the outer select: the engine then reads
-- no histogram (taking three arrays per cell at their latest version is most of the cost: every
-- repo's 30 days of a 10M-job stack took a sixth of the time without them, docs/contract.md
-- §14.9).
-- The inner aliases differ from the column names: ClickHouse 18.16 resolves a column name to a
-- same-named alias inside other aggregates.
SELECT ?fields
FROM (
    SELECT
        downstream_repo,
        cell_day AS day,
        sum(cell_completed) AS completed,
        sum(cell_successes) AS successes,
        sum(cell_failures) AS failures,
        sum(cell_timed_out) AS timed_out,
        sum(cell_cancelled) AS cancelled,
        sum(cell_other) AS other,
        sum(cell_duration_sum_us) AS duration_sum_us,
        sum(cell_durations) AS durations,
        sum(cell_queue_sum_us) AS queue_sum_us,
        sum(cell_queues) AS queues,
        sumForEach(cell_duration_buckets) AS duration_buckets,
        sumForEach(cell_queue_buckets) AS queue_buckets,
        sumForEach(cell_e2e_buckets) AS e2e_buckets
    FROM (
        SELECT
            downstream_repo,
            toUInt32(intDiv(toUInt32(hour), 86400) * 86400) AS cell_day,
            argMax(completed, version) AS cell_completed,
            argMax(successes, version) AS cell_successes,
            argMax(failures, version) AS cell_failures,
            argMax(timed_out, version) AS cell_timed_out,
            argMax(cancelled, version) AS cell_cancelled,
            argMax(other, version) AS cell_other,
            argMax(duration_sum_us, version) AS cell_duration_sum_us,
            argMax(durations, version) AS cell_durations,
            argMax(queue_sum_us, version) AS cell_queue_sum_us,
            argMax(queues, version) AS cell_queues,
            argMax(duration_buckets, version) AS cell_duration_buckets,
            argMax(queue_buckets, version) AS cell_queue_buckets,
            argMax(e2e_buckets, version) AS cell_e2e_buckets
        FROM {cells}
        WHERE {repo_condition} hour >= toDateTime(?)
        GROUP BY downstream_repo, hour, workflow_name, job_name
    )
    GROUP BY downstream_repo, cell_day
)
