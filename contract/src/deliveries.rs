//! The delivery log's words (docs/contract.md §16): the outcomes a callback can have, which of a
//! receipt's rows wins, and the names of its table's columns. Ingest writes the refused
//! receipts, the projector the accepted ones, the query service reads both; each checks its
//! side against these.

/// The deliveries table's name for the completed-jobs table `jobs_table`.
pub fn deliveries_table(jobs_table: &str) -> String {
    format!("{jobs_table}_deliveries")
}

/// Accepted, and the projector changed the job (its item written in that batch).
pub const CHANGED: &str = "changed";
/// Accepted, and the projector found the job already holding it (a redelivery, a late or
/// superseded callback).
pub const UNCHANGED: &str = "unchanged";
/// Accepted, and a store refused it for good (or the event was not the contract's words): on
/// the dead-letter topic, not in the views until redriven.
pub const PARKED: &str = "parked";

/// What the projector can find of an accepted callback, best first ([`rank`]).
pub const ACCEPTED_OUTCOMES: [&str; 3] = [CHANGED, UNCHANGED, PARKED];

/// Why ingest refused an authenticated callback: its refusal reasons but `unauthorized` (no
/// verified repo to attribute it to). Only those whose document names its repo get a receipt
/// today: `invalid`, `rate_limited`, `log_unavailable`, `internal`; the others are answered
/// before the body is read whole, and are listed so a reader never hides them should a later
/// ingest attribute them.
pub const REFUSED_OUTCOMES: [&str; 8] = [
    "invalid",
    "rate_limited",
    "log_unavailable",
    "internal",
    "too_large",
    "unsupported_media_type",
    "unreadable_body",
    "body_read_timeout",
];

/// The group filter of every accepted outcome, and of every refused one.
pub const ACCEPTED: &str = "accepted";
pub const REFUSED: &str = "refused";

/// Which of one receipt's rows wins, highest first: an accepted callback projected twice (a
/// crash before the commit re-projects its batch, which then finds it unchanged; a redrive of a
/// parked one) keeps what its best projection found. The table is a
/// `ReplacingMergeTree(rank)` and readers take the highest rank of a receipt, so the answer is
/// the same before and after merges. Refusals have one row (0).
pub fn rank(outcome: &str) -> u8 {
    match outcome {
        CHANGED => 3,
        UNCHANGED => 2,
        PARKED => 1,
        _ => 0,
    }
}

/// Every column of the table, in the DDL's order (`platform/sql/create_oot_deliveries.sql`);
/// the sort key is the first four (`downstream_repo, accepted, received_at, receipt_id`).
pub const COLUMNS: [&str; 21] = [
    "downstream_repo",
    "accepted",
    "received_at",
    "receipt_id",
    "rank",
    "outcome",
    "status",
    "error",
    "message",
    "problem_fields",
    "problem_messages",
    "problems_total",
    "delivery_id",
    "job_key",
    "callback_status",
    "conclusion",
    "retry_after_seconds",
    "body_bytes",
    "body_excerpt",
    "visible_after_ms",
    "projected_at",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_order_the_accepted_outcomes_and_refusals_have_none() {
        let ranks: Vec<u8> = ACCEPTED_OUTCOMES.iter().map(|o| rank(o)).collect();
        assert_eq!(ranks, [3, 2, 1]);
        assert!(REFUSED_OUTCOMES.iter().all(|o| rank(o) == 0));
        assert_eq!(deliveries_table("jobs"), "jobs_deliveries");
    }
}
