//! The delivery log's sink (docs/contract.md §16): one row per receipt in
//! `{jobs table}_deliveries`.
//!
//! - Accepted callbacks: the projector is the one that knows what became of each event of a
//!   batch (its job changed, found unchanged, or parked) and when it became visible, so it
//!   writes their rows itself, one INSERT per batch after the batch's stores are written and
//!   before its offsets are committed ([`DeliveryRow::accepted`]). The event's id is the
//!   receipt's: a batch projected again after a crash writes its events' rows again, as
//!   `unchanged`; the table and its readers keep the best row of a receipt (its rank), so the
//!   first projection's `changed` stands.
//! - Refused callbacks: ingest's receipts, read from the deliveries topic by
//!   [`crate::receipts`] and written here as they came ([`DeliveryRow::refused`]).
//!
//! A row ClickHouse refuses for good (found by halving the INSERT, as for the jobs' rows) is
//! left out, logged with its receipt and counted (`oot_projector_receipts_total{result=
//! "refused_by_store"}`): a receipt is a diagnostic record whose source stays in the log (the
//! event on the callbacks topic, the receipt on the deliveries topic), and parking the job for
//! it, or halting, would stall projection for what no view needs to be right. Transient errors
//! are retried like every other write of the batch.

use clickhouse::Client;
use oot_avro::{CallbackEvent, DeliveryReceipt};
use oot_contract::deliveries::{self, rank, CHANGED, PARKED, UNCHANGED};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::completed_rows::seconds;
use crate::retry::{bisect, Failed};

/// A row of `{jobs table}_deliveries`: every column of
/// [`oot_contract::deliveries::COLUMNS`], in its order (a test holds them equal).
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub downstream_repo: String,
    /// 1 for an accepted callback (written by the projector), 0 for a refused one.
    pub accepted: u8,
    /// When ingest received it, in seconds (ClickHouse `DateTime`).
    pub received_at: u32,
    /// The event's id (accepted) or the receipt's (refused).
    pub receipt_id: String,
    /// [`oot_contract::deliveries::rank`] of `outcome`.
    pub rank: u8,
    pub outcome: String,
    pub status: u16,
    pub error: String,
    pub message: String,
    pub problem_fields: Vec<String>,
    pub problem_messages: Vec<String>,
    pub problems_total: u32,
    pub delivery_id: String,
    pub job_key: String,
    /// The callback's `status` (`in_progress`, `completed`), accepted ones only.
    pub callback_status: String,
    pub conclusion: String,
    pub retry_after_seconds: Option<u32>,
    pub body_bytes: Option<u64>,
    pub body_excerpt: String,
    /// Milliseconds from ingest receiving it to the batch holding it being written to both
    /// stores (the views show it from then on); accepted and not parked only.
    pub visible_after_ms: Option<u64>,
    /// When this row was written, in seconds.
    pub projected_at: u32,
}

/// What became of one accepted event of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// Its job's item was written by the batch (the job changed).
    Changed,
    /// Its job was already as the batch would make it.
    Unchanged,
    /// A store refused its job for good, or the event is not the contract's words: on the
    /// dead-letter topic, with this reason.
    Parked(String),
}

impl EventOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            EventOutcome::Changed => CHANGED,
            EventOutcome::Unchanged => UNCHANGED,
            EventOutcome::Parked(_) => PARKED,
        }
    }
}

fn ms(micros: i64) -> u64 {
    u64::try_from(micros.max(0) / 1_000).unwrap_or(0)
}

impl DeliveryRow {
    /// The row of accepted `event`, which `outcome` became of, its batch written to the stores
    /// at `visible_at_micros`, this row written at `now_micros`.
    pub fn accepted(
        event: &CallbackEvent,
        outcome: &EventOutcome,
        visible_at_micros: i64,
        now_micros: i64,
    ) -> Self {
        let (message, visible_after_ms) = match outcome {
            EventOutcome::Parked(reason) => (reason.clone(), None),
            _ => (
                String::new(),
                Some(ms(visible_at_micros - event.received_at)),
            ),
        };
        let name = outcome.as_str();
        Self {
            downstream_repo: event.verified_repo.clone(),
            accepted: 1,
            received_at: seconds(event.received_at),
            receipt_id: event.event_id.clone(),
            rank: rank(name),
            outcome: name.to_owned(),
            status: 202,
            error: String::new(),
            message,
            problem_fields: Vec::new(),
            problem_messages: Vec::new(),
            problems_total: 0,
            delivery_id: event.delivery_id.clone(),
            job_key: event.job_key.clone(),
            callback_status: event.workflow.status.clone(),
            conclusion: event.workflow.conclusion.clone().unwrap_or_default(),
            retry_after_seconds: None,
            body_bytes: None,
            body_excerpt: String::new(),
            visible_after_ms,
            projected_at: seconds(now_micros),
        }
    }

    /// The row of ingest's receipt of a refused callback, written at `now_micros`.
    pub fn refused(receipt: DeliveryReceipt, now_micros: i64) -> Self {
        let (problem_fields, problem_messages) = receipt
            .problems
            .into_iter()
            .map(|p| (p.field, p.message))
            .unzip();
        Self {
            downstream_repo: receipt.verified_repo,
            accepted: 0,
            received_at: seconds(receipt.received_at),
            receipt_id: receipt.receipt_id,
            rank: rank(&receipt.outcome),
            outcome: receipt.outcome,
            status: u16::try_from(receipt.status).unwrap_or(0),
            error: receipt.error,
            message: receipt.message,
            problem_fields,
            problem_messages,
            problems_total: u32::try_from(receipt.problems_total).unwrap_or(u32::MAX),
            delivery_id: receipt.delivery_id.unwrap_or_default(),
            job_key: receipt.job_key.unwrap_or_default(),
            callback_status: String::new(),
            conclusion: String::new(),
            retry_after_seconds: receipt
                .retry_after_seconds
                .and_then(|s| u32::try_from(s).ok()),
            body_bytes: receipt.body_bytes.and_then(|b| u64::try_from(b).ok()),
            body_excerpt: receipt.body_excerpt.unwrap_or_default(),
            visible_after_ms: None,
            projected_at: seconds(now_micros),
        }
    }
}

/// The deliveries table of one projector.
#[derive(Clone)]
pub struct DeliveryRows {
    client: Client,
    table: String,
}

impl DeliveryRows {
    /// The deliveries table of the completed-jobs table `jobs_table`; `client` must have its
    /// database as the current one, as for [`crate::completed_rows::CompletedJobs`].
    pub fn new(client: Client, jobs_table: &str) -> Self {
        Self {
            client,
            table: deliveries::deliveries_table(jobs_table),
        }
    }

    /// Appends `rows` in one INSERT.
    pub async fn insert(&self, rows: &[DeliveryRow]) -> Result<(), clickhouse::error::Error> {
        crate::completed_rows::insert_rows(&self.client, &self.table, rows).await
    }

    /// Appends `rows` (retrying transient errors), leaving out and logging each row ClickHouse
    /// refuses for good; returns how many were left out. `Err` only when stopped.
    pub async fn store(
        &self,
        rows: &[DeliveryRow],
        shutdown: &CancellationToken,
    ) -> Result<usize, Failed<clickhouse::error::Error>> {
        let refused = bisect("clickhouse insert deliveries", shutdown, rows, |slice| {
            self.insert(slice)
        })
        .await?;
        for (index, error) in &refused {
            if let Some(row) = rows.get(*index) {
                tracing::error!(
                    receipt_id = %row.receipt_id,
                    repo = %row.downstream_repo,
                    outcome = %row.outcome,
                    %error,
                    "ClickHouse refuses a delivery receipt's row for good; left out (its source \
                     stays on its topic)"
                );
            }
        }
        Ok(refused.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::tests::completed;

    #[test]
    fn the_row_is_the_contracts_columns_in_order() {
        assert_eq!(
            <DeliveryRow as clickhouse::Row>::COLUMN_NAMES,
            deliveries::COLUMNS
        );
    }

    #[test]
    fn an_accepted_event_says_what_became_of_it_and_when_it_was_visible() {
        let mut event = completed("failure", 30);
        event.received_at = 1_777_373_112_250_000;
        let visible = event.received_at + 1_234_567;
        let row = DeliveryRow::accepted(&event, &EventOutcome::Changed, visible, visible + 5);
        assert_eq!((row.accepted, row.status), (1, 202));
        assert_eq!((row.outcome.as_str(), row.rank), ("changed", 3));
        assert_eq!(row.receipt_id, event.event_id);
        assert_eq!(row.received_at, 1_777_373_112);
        assert_eq!(row.visible_after_ms, Some(1_234));
        assert_eq!(row.job_key, event.job_key);
        assert_eq!(
            (row.callback_status.as_str(), row.conclusion.as_str()),
            ("completed", "failure")
        );
        let again = DeliveryRow::accepted(&event, &EventOutcome::Unchanged, visible, visible);
        assert_eq!((again.outcome.as_str(), again.rank), ("unchanged", 2));
        assert!(again.rank < row.rank, "a redelivery never hides the change");
        let parked = DeliveryRow::accepted(
            &event,
            &EventOutcome::Parked("dynamodb ValidationException".into()),
            visible,
            visible,
        );
        assert_eq!((parked.outcome.as_str(), parked.rank), ("parked", 1));
        assert_eq!(parked.visible_after_ms, None, "never visible");
        assert!(parked.message.contains("ValidationException"));
    }

    #[test]
    fn a_receipt_becomes_a_refused_row_with_its_problems_side_by_side() {
        let receipt = DeliveryReceipt {
            receipt_id: "r-1".into(),
            received_at: 2_000_000,
            verified_repo: "a/b".into(),
            outcome: "invalid".into(),
            status: 400,
            error: "validation_failed".into(),
            message: "callback failed validation".into(),
            problems: vec![
                oot_avro::ReceiptProblem {
                    field: "f.a".into(),
                    message: "is required".into(),
                },
                oot_avro::ReceiptProblem {
                    field: "f.b".into(),
                    message: "must be positive".into(),
                },
            ],
            problems_total: 3,
            delivery_id: Some("d-1".into()),
            job_key: None,
            retry_after_seconds: None,
            body_bytes: Some(120),
            body_excerpt: Some("{\"trusted\"".into()),
        };
        let row = DeliveryRow::refused(receipt, 5_000_000);
        assert_eq!((row.accepted, row.rank, row.status), (0, 0, 400));
        assert_eq!(row.problem_fields, ["f.a", "f.b"]);
        assert_eq!(row.problem_messages, ["is required", "must be positive"]);
        assert_eq!(row.problems_total, 3);
        assert_eq!((row.received_at, row.projected_at), (2, 5));
        assert_eq!(row.job_key, "");
        assert_eq!(row.visible_after_ms, None);
    }
}
