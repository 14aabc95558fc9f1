-- One row per completed job; a job projected again (redelivery, a later completed callback,
-- a replay) adds a row with a higher `version`, and ReplacingMergeTree keeps the highest.
-- Readers must still take the latest version themselves (FINAL or argMax): merges are lazy.
-- The partition key must not change between versions of one job, or the versions land in
-- different partitions and are never collapsed: hence `first_seen_at` (when the job's first
-- callback was received, set once), not `completed_at`, which a later completed callback may move.
-- failed_tests_listed is computed from failed_tests_json when a row is written (never by us):
-- how many entries the list holds, for readers that need the count and not the list (each
-- entry of the projector's compact list starts with the object brace and the name, text an
-- escaped JSON string cannot hold; splitByString, since intDiv of the lengths trips current
-- releases' plan optimizer). A table made before it gets it from migrate (ALTER TABLE ... ADD
-- COLUMN), its older parts computing it when read until merged.
-- Runs on ClickHouse 18.16 and current releases: no DateTime64, no LowCardinality.
-- The placeholder on the last line becomes `TTL first_seen_at + toIntervalDay(N)` on servers that have table TTLs
-- (19.6+): keyed on our own clock, never on the downstream's `completed_at` (1971 would delete the row at once,
-- 2099 never). It is empty on older ones (18.16), where retention drops whole expired monthly partitions; a table
-- created there gets its TTL from migrate (ALTER TABLE ... MODIFY TTL) once the server is upgraded.
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    dynamoKey String,
    version UInt64,
    source_digest String,
    first_seen_at DateTime,
    projected_at DateTime,
    status String,
    downstream_repo String,
    downstream_repo_level String,
    upstream_repo String,
    pr_number Nullable(UInt64),
    pytorch_head_sha String,
    delivery_id String,
    event_type String,
    workflow_run_url String,
    workflow_name String,
    job_name String,
    check_run_id String,
    run_id String,
    run_attempt UInt32,
    conclusion String,
    queue_time Nullable(Float64),
    execution_time Nullable(Float64),
    started_at Nullable(DateTime),
    completed_at DateTime,
    total_tests Nullable(UInt64),
    passed_tests Nullable(UInt64),
    failed_tests Nullable(UInt64),
    skipped_tests Nullable(UInt64),
    failed_tests_json String,
    artifact_url String,
    environment String,
    failed_tests_listed UInt64 MATERIALIZED toUInt64(length(splitByString('{"name":', failed_tests_json)) - 1)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first_seen_at)
ORDER BY (downstream_repo, dynamoKey)
{ttl_clause}
