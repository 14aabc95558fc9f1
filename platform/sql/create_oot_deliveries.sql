-- The delivery log (docs/contract.md §16): what became of every authenticated callback, one
-- row per receipt. Refused callbacks come from ingest's receipts (the deliveries topic, read by
-- the projector), accepted ones from the projector itself (the event's id as receipt_id, and
-- whether it changed the job, found it unchanged, or parked it).
-- Ordered for "this backend's deliveries, newest first": (downstream_repo, accepted) is a key
-- range per kind, received_at within it (readers constrain accepted to a range, 0..1 for both
-- kinds, so both ranges are read by key).
-- Exact under redelivery: every row of one receipt shares its sort key (the receipt's repo,
-- kind, receive time and id); a receipt projected twice is one row after merges, the one of the
-- highest rank (changed 3 > unchanged 2 > parked 1; refusals 0), and readers take that row
-- themselves (LIMIT 1 BY receipt_id after ORDER BY rank DESC): no FINAL.
-- received_at is in seconds (18.16 has no DateTime64): ties within a second are ordered by
-- receipt_id, a UUIDv7 (time-ordered text) from ingest.
-- Nullable columns stay out of the sort key: 18.16 refuses them there.
-- Runs on ClickHouse 18.16 and current releases; the placeholder is as in
-- create_oot_workflow_job.sql, with this table's retention: `TTL received_at +
-- toIntervalDay(N)` (OOT_CLICKHOUSE_DELIVERIES_TTL_DAYS) on 19.6+, empty on 18.16, where
-- retention drops the expired monthly partitions.
CREATE TABLE IF NOT EXISTS {database}.{table}
(
    downstream_repo String,
    accepted UInt8,
    received_at DateTime,
    receipt_id String,
    rank UInt8,
    outcome String,
    status UInt16,
    error String,
    message String,
    problem_fields Array(String),
    problem_messages Array(String),
    problems_total UInt32,
    delivery_id String,
    job_key String,
    callback_status String,
    conclusion String,
    retry_after_seconds Nullable(UInt32),
    body_bytes Nullable(UInt64),
    body_excerpt String,
    visible_after_ms Nullable(UInt64),
    projected_at DateTime
)
ENGINE = ReplacingMergeTree(rank)
PARTITION BY toYYYYMM(received_at)
ORDER BY (downstream_repo, accepted, received_at, receipt_id)
{ttl_clause}
