-- Per downstream repo, over every completed job version ever projected: the latest
-- `completed_at` and the level of the latest job (first seen last). Both only grow, so the
-- projector rewrites the row at a higher `version` when they do; readers take
-- argMax(…, version) per repo. One row per repo once merged: the summary's list of repos reads
-- this, not the jobs.
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    downstream_repo String,
    version UInt64,
    last_completed_at DateTime,
    latest_level String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY downstream_repo
