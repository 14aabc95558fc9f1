-- Every downstream repo with a completed job, its latest completion and the level of its latest
-- job, from the per-repo table the projector keeps (one row per repo once merged; argMax per
-- repo reads the latest version while older ones wait for a merge). The summary lists repos with
-- nothing in the window from this, as stale.
-- Binds: none.
-- Aliases differ from the column names (ClickHouse 18.16, see cells_sums.sql).
SELECT ?fields
FROM (
    SELECT
        downstream_repo,
        argMax(last_completed_at, version) AS completed_last,
        argMax(latest_level, version) AS level_now
    FROM {repos}
    GROUP BY downstream_repo
)
