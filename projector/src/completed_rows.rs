//! The ClickHouse sink: one row per completed job and version, appended in one INSERT per batch.
//!
//! The row's `version` is the DynamoDB item's version after the write that produced this state,
//! so the highest version is the latest state, and re-inserting a row (a redelivered batch after
//! a crash between the two stores) inserts an identical row that `ReplacingMergeTree` collapses.

use std::fmt;

use clickhouse::Client;
use oot_contract::clickhouse::COLUMNS;
use serde::{Deserialize, Serialize};

use crate::job_table::failed_tests_for_item;
use crate::merge::{failed_tests_json, JobRecord};

/// A row of `oot_workflow_job`: every column of [`COLUMNS`], in its order (a test holds them
/// equal, so the serde names are the contract's).
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize, Deserialize)]
pub struct CompletedJobRow {
    #[serde(rename = "dynamoKey")]
    pub dynamo_key: String,
    pub version: u64,
    /// Content digest of the most final callback merged (which callback decided the outcome).
    pub source_digest: String,
    /// Seconds since the epoch (ClickHouse `DateTime`).
    pub first_seen_at: u32,
    pub projected_at: u32,
    pub status: String,
    pub downstream_repo: String,
    pub downstream_repo_level: String,
    pub upstream_repo: String,
    pub pr_number: Option<u64>,
    pub pytorch_head_sha: String,
    pub delivery_id: String,
    pub event_type: String,
    pub workflow_run_url: String,
    pub workflow_name: String,
    pub job_name: String,
    pub check_run_id: String,
    pub run_id: String,
    pub run_attempt: u32,
    pub conclusion: String,
    pub queue_time: Option<f64>,
    pub execution_time: Option<f64>,
    pub started_at: Option<u32>,
    pub completed_at: u32,
    pub total_tests: Option<u64>,
    pub passed_tests: Option<u64>,
    pub failed_tests: Option<u64>,
    pub skipped_tests: Option<u64>,
    pub failed_tests_json: String,
    pub artifact_url: String,
    pub environment: String,
}

/// The select list of a [`CompletedJobRow`]: the contract's [`COLUMNS`], comma-separated, for
/// SELECTs that read rows back (`format!("SELECT {ROW_COLUMNS} ...")`).
pub const ROW_COLUMNS: RowColumns = RowColumns;

/// See [`ROW_COLUMNS`].
#[derive(Debug, Clone, Copy)]
pub struct RowColumns;

impl fmt::Display for RowColumns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&COLUMNS.join(", "))
    }
}

/// Seconds of a µs timestamp, clamped to ClickHouse `DateTime`'s range (validation keeps
/// timestamps within 1970..2100 already).
pub(crate) fn seconds(micros: i64) -> u32 {
    u32::try_from(micros.div_euclid(1_000_000)).unwrap_or(if micros < 0 { 0 } else { u32::MAX })
}

fn count(value: Option<i64>) -> Option<u64> {
    value.and_then(|v| u64::try_from(v).ok())
}

impl CompletedJobRow {
    /// The row of a completed `record` at `version`; `None` for a job that is still running.
    ///
    /// `failed_tests_json` is the merged record's list as the DynamoDB item holds it
    /// ([`crate::job_table::bounded_for_item`]): ingest cuts each callback's list to fit the item, so this is the
    /// whole list; the cut here only acts on events logged before ingest cut them, and then
    /// acts the same on every path (live, replay, redelivery), which a list taken from the batch
    /// or looked up in ClickHouse did not.
    pub fn of(record: &JobRecord, version: u64, projected_at_micros: i64) -> Option<Self> {
        if !record.is_completed() {
            return None;
        }
        let failed_tests_json = failed_tests_for_item(record)
            .map_or_else(|| failed_tests_json(&[]), |failed| failed.to_json());
        let view = record.view();
        Some(Self {
            dynamo_key: view.job_key.to_string(),
            version,
            source_digest: record.rank().digest.to_string(),
            first_seen_at: seconds(view.first_seen_at),
            projected_at: seconds(projected_at_micros),
            status: view.status.as_str().to_owned(),
            downstream_repo: view.downstream_repo.to_string(),
            downstream_repo_level: view
                .downstream_repo_level
                .map(|l| l.as_str().to_owned())
                .unwrap_or_default(),
            upstream_repo: view
                .upstream_repo
                .map(ToString::to_string)
                .unwrap_or_default(),
            pr_number: view.pr_number.map(|n| u64::from(n.get())),
            pytorch_head_sha: view.pytorch_head_sha.unwrap_or_default().to_owned(),
            delivery_id: view.delivery_id.to_owned(),
            event_type: view.event_type.to_owned(),
            workflow_run_url: view.workflow_run_url.to_owned(),
            workflow_name: view.workflow_name.to_owned(),
            job_name: view.job_name.to_owned(),
            check_run_id: view.check_run_id.to_owned(),
            run_id: view.run_id.to_owned(),
            run_attempt: u32::try_from(view.run_attempt).unwrap_or(u32::MAX),
            conclusion: view
                .conclusion
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            queue_time: view.queue_time,
            execution_time: view.execution_time,
            started_at: view.started_at.map(seconds),
            completed_at: view.completed_at.map_or(0, seconds),
            total_tests: count(view.total_tests),
            passed_tests: count(view.passed_tests),
            failed_tests: count(view.failed_tests),
            skipped_tests: count(view.skipped_tests),
            failed_tests_json,
            artifact_url: view.artifact_url.unwrap_or_default().to_owned(),
            environment: view.environment.unwrap_or_default().to_owned(),
        })
    }
}

/// The completed-jobs table of one projector.
#[derive(Clone)]
pub struct CompletedJobs {
    client: Client,
    table: String,
}

impl CompletedJobs {
    /// The table `table` of `database`; the INSERT names the table bare, so `client` must have
    /// `database` as its current database (as [`ClickHouseSettings::client`] does). `database`
    /// is kept in the signature so callers name both, as everywhere else.
    ///
    /// [`ClickHouseSettings::client`]: oot_platform::settings::ClickHouseSettings::client
    pub fn new(client: Client, database: impl Into<String>, table: impl Into<String>) -> Self {
        let _ = database.into();
        Self {
            client,
            table: table.into(),
        }
    }

    /// Appends `rows` in one INSERT.
    pub async fn insert(&self, rows: &[CompletedJobRow]) -> Result<(), clickhouse::error::Error> {
        insert_rows(&self.client, &self.table, rows).await
    }
}

/// Appends `rows` to `table` in one INSERT (none for no rows): how every sink of the projector
/// writes ClickHouse.
pub(crate) async fn insert_rows<T>(
    client: &Client,
    table: &str,
    rows: &[T],
) -> Result<(), clickhouse::error::Error>
where
    T: clickhouse::RowOwned + clickhouse::RowWrite,
{
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert = client.insert::<T>(table).await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_is_the_contracts_columns_in_order() {
        assert_eq!(<CompletedJobRow as clickhouse::Row>::COLUMN_NAMES, COLUMNS);
        assert_eq!(
            ROW_COLUMNS.to_string(),
            "dynamoKey, version, source_digest, first_seen_at, projected_at, status, \
             downstream_repo, downstream_repo_level, upstream_repo, pr_number, pytorch_head_sha, \
             delivery_id, event_type, workflow_run_url, workflow_name, job_name, check_run_id, \
             run_id, run_attempt, conclusion, queue_time, execution_time, started_at, \
             completed_at, total_tests, passed_tests, failed_tests, skipped_tests, \
             failed_tests_json, artifact_url, environment"
        );
    }
}
