//! The DynamoDB sink: the live job state, one item per job, in HUD's attribute layout.
//!
//! Each item carries `version` (bumped by every write) and `merge_state` (the merged record with
//! the rank of each field's source, see [`crate::merge`]). A write is conditional on the version
//! it read (`attribute_not_exists` for a new job), so two projectors writing one job — during a
//! rebalance, or a replay beside the live projector — can never regress it: the loser re-reads,
//! merges again and retries, and the merge makes the order irrelevant.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use futures::StreamExt as _;

use crate::merge::{JobRecord, DYNAMODB_FAILED_TESTS_BUDGET};

/// What is stored for one job.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredJob {
    pub record: JobRecord,
    pub version: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum JobTableError {
    /// Another writer changed the item since it was read: re-read, merge, retry.
    #[error("job {0} changed since it was read")]
    Conflict(String),
    /// The item exists but its merge state cannot be read: not ours to overwrite.
    #[error("job {key}: stored merge state unreadable: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("dynamodb: {0}")]
    Unavailable(String),
}

fn unavailable<E>(error: aws_sdk_dynamodb::error::SdkError<E>) -> JobTableError
where
    E: std::error::Error + std::fmt::Debug + 'static,
{
    JobTableError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string())
}

/// The job table of one projector.
#[derive(Clone)]
pub struct JobTable {
    client: Client,
    table: String,
}

/// BatchGetItem takes at most 100 keys.
const BATCH_GET_LIMIT: usize = 100;
/// TransactWriteItems takes at most 100 items and 4 MB; keep a margin on the size.
const TRANSACTION_ITEMS: usize = 100;
const TRANSACTION_BYTES: usize = 3_500_000;
const TRANSACTIONS_IN_FLIGHT: usize = 4;
/// Failed tests kept in the item: the item (merge state and `failed_tests_json`, each holding the
/// list once) must stay under DynamoDB's 400 KB.
const ITEM_FAILED_TESTS_BUDGET: usize = DYNAMODB_FAILED_TESTS_BUDGET / 2;

impl JobTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Reads the stored state of `keys`, 100 keys per request, with strongly consistent reads
    /// (the conditional write that follows must see the latest version).
    pub async fn load(&self, keys: &[&str]) -> Result<HashMap<String, StoredJob>, JobTableError> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let mut pending: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|key| {
                    HashMap::from([("dynamoKey".to_owned(), AttributeValue::S((*key).to_owned()))])
                })
                .collect();
            // DynamoDB may answer part of a batch and hand the rest back as unprocessed.
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .projection_expression("dynamoKey, version, merge_state")
                    .build()
                    .map_err(|e| JobTableError::Unavailable(e.to_string()))?;
                let answer = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                for item in answer
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let stored = stored_job(item)?;
                    found.insert(stored.record.job_key().to_owned(), stored);
                }
                if let Some(rest) = answer.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    pending = rest.keys().to_vec();
                }
            }
        }
        Ok(found)
    }

    /// Writes many records in transactions of up to 100 items, each item conditional on its
    /// expected version: one round trip per transaction instead of one per job, transactions
    /// concurrently. A transaction is all or nothing, so when any of its conditions fails none of
    /// its items is written; those come back as `None` and the caller writes them one by one
    /// with [`JobTable::save`]. Otherwise the new version of each record, in input order.
    pub async fn save_all(
        &self,
        writes: &[(&JobRecord, Option<u64>)],
    ) -> Result<Vec<Option<u64>>, JobTableError> {
        let mut chunks: Vec<Vec<(usize, TransactWriteItem)>> = vec![Vec::new()];
        let mut chunk_bytes = 0;
        for (index, (record, expected)) in writes.iter().enumerate() {
            let version = expected.map_or(1, |v| v + 1);
            let item = job_item(record, version).map_err(|reason| JobTableError::Corrupt {
                key: record.job_key().to_owned(),
                reason,
            })?;
            let bytes: usize = item.iter().map(|(k, v)| k.len() + attribute_size(v)).sum();
            if chunks.last().is_some_and(|c| {
                c.len() >= TRANSACTION_ITEMS || chunk_bytes + bytes > TRANSACTION_BYTES
            }) {
                chunks.push(Vec::new());
                chunk_bytes = 0;
            }
            chunk_bytes += bytes;
            let put = Put::builder().table_name(&self.table).set_item(Some(item));
            let put = match expected {
                None => put.condition_expression("attribute_not_exists(dynamoKey)"),
                Some(v) => put
                    .condition_expression("version = :expected")
                    .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
            };
            let put = put
                .build()
                .map_err(|e| JobTableError::Unavailable(e.to_string()))?;
            if let Some(chunk) = chunks.last_mut() {
                chunk.push((index, TransactWriteItem::builder().put(put).build()));
            }
        }
        let mut versions: Vec<Option<u64>> = vec![None; writes.len()];
        let sends = chunks
            .into_iter()
            .filter(|c| !c.is_empty())
            .map(|chunk| async move {
                let indexes: Vec<usize> = chunk.iter().map(|(i, _)| *i).collect();
                let items: Vec<TransactWriteItem> =
                    chunk.into_iter().map(|(_, item)| item).collect();
                match self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await
                {
                    Ok(_) => Ok((indexes, true)),
                    Err(error)
                        if error
                            .as_service_error()
                            .is_some_and(|e| e.is_transaction_canceled_exception()) =>
                    {
                        Ok((indexes, false))
                    }
                    Err(error) => Err(unavailable(error)),
                }
            });
        let answers: Vec<Result<(Vec<usize>, bool), JobTableError>> = futures::stream::iter(sends)
            .buffer_unordered(TRANSACTIONS_IN_FLIGHT)
            .collect()
            .await;
        for answer in answers {
            let (indexes, written) = answer?;
            if written {
                for index in indexes {
                    versions[index] = writes
                        .get(index)
                        .map(|(_, expected)| expected.map_or(1, |v| v + 1));
                }
            }
        }
        Ok(versions)
    }

    /// Writes `record` if the item is still at `expected` (None: does not exist yet); returns the
    /// new version.
    pub async fn save(
        &self,
        record: &JobRecord,
        expected: Option<u64>,
    ) -> Result<u64, JobTableError> {
        let version = expected.map_or(1, |v| v + 1);
        let item = job_item(record, version).map_err(|reason| JobTableError::Corrupt {
            key: record.job_key().to_owned(),
            reason,
        })?;
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        request = match expected {
            None => request.condition_expression("attribute_not_exists(dynamoKey)"),
            Some(v) => request
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
        };
        match request.send().await {
            Ok(_) => Ok(version),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(JobTableError::Conflict(record.job_key().to_owned()))
            }
            Err(error) => Err(unavailable(error)),
        }
    }
}

/// About how many bytes an attribute value takes in a request.
fn attribute_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
        _ => 64,
    }
}

fn stored_job(item: &HashMap<String, AttributeValue>) -> Result<StoredJob, JobTableError> {
    let key = match item.get("dynamoKey") {
        Some(AttributeValue::S(key)) => key.clone(),
        _ => {
            return Err(JobTableError::Unavailable(
                "item without dynamoKey".to_owned(),
            ))
        }
    };
    let corrupt = |reason: String| JobTableError::Corrupt {
        key: key.clone(),
        reason,
    };
    let version = match item.get("version") {
        Some(AttributeValue::N(n)) => n
            .parse::<u64>()
            .map_err(|e| corrupt(format!("version: {e}")))?,
        _ => return Err(corrupt("no version".to_owned())),
    };
    let record = match item.get("merge_state") {
        Some(AttributeValue::S(json)) => serde_json::from_str::<JobRecord>(json)
            .map_err(|e| corrupt(format!("merge_state: {e}")))?,
        _ => return Err(corrupt("no merge_state".to_owned())),
    };
    Ok(StoredJob { record, version })
}

fn rfc3339(micros: i64) -> Option<String> {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()?;
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The copy of `record` an item holds: its failed tests cut to fit the item.
pub fn bounded_for_item(record: &JobRecord) -> JobRecord {
    record.bounded(ITEM_FAILED_TESTS_BUDGET)
}

/// The item of `record` at `version`: HUD's attributes, plus what the merge needs.
pub fn job_item(
    record: &JobRecord,
    version: u64,
) -> Result<HashMap<String, AttributeValue>, String> {
    let bounded = bounded_for_item(record);
    let view = bounded.view();
    let mut item = HashMap::new();
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_owned(), value);
    };
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let n = |v: String| AttributeValue::N(v);

    put("dynamoKey", s(view.job_key));
    put("version", n(version.to_string()));
    put(
        "merge_state",
        s(&serde_json::to_string(&bounded).map_err(|e| e.to_string())?),
    );
    put("status", s(view.status));
    put("downstream_repo", s(view.downstream_repo));
    put("delivery_id", s(view.delivery_id));
    put("event_type", s(view.event_type));
    put("workflow_run_url", s(view.workflow_run_url));
    put("workflow_name", s(view.workflow_name));
    put("job_name", s(view.job_name));
    put("check_run_id", s(view.check_run_id));
    put("run_id", s(view.run_id));
    put("run_attempt", n(view.run_attempt.to_string()));
    put("failed_tests_json", s(&bounded.failed_tests_json()));
    if let Some(at) = rfc3339(view.first_seen_at) {
        put("first_seen_at", s(&at));
    }
    if let Some(v) = view.downstream_repo_level {
        put("downstream_repo_level", s(v));
    }
    if let Some(v) = view.upstream_repo {
        put("upstream_repo", s(v));
        if let Some(pr) = view.pr_number {
            // The key of the PR index: running jobs of one upstream PR.
            put("upstream_pr", s(&format!("{v}#{pr}")));
        }
    }
    if let Some(v) = view.pr_number {
        put("pr_number", n(v.to_string()));
    }
    if let Some(v) = view.pytorch_head_sha {
        put("pytorch_head_sha", s(v));
    }
    if let Some(v) = view.conclusion {
        put("conclusion", s(v));
    }
    for (name, value) in [
        ("queue_time", view.queue_time),
        ("execution_time", view.execution_time),
    ] {
        if let Some(v) = value.filter(|v| v.is_finite()) {
            put(name, n(v.to_string()));
        }
    }
    for (name, value) in [
        ("started_at", view.started_at),
        ("completed_at", view.completed_at),
    ] {
        if let Some(at) = value.and_then(rfc3339) {
            put(name, s(&at));
        }
    }
    for (name, value) in [
        ("total_tests", view.total_tests),
        ("passed_tests", view.passed_tests),
        ("failed_tests", view.failed_tests),
        ("skipped_tests", view.skipped_tests),
    ] {
        if let Some(v) = value {
            put(name, n(v.to_string()));
        }
    }
    if let Some(v) = view.artifact_url {
        put("artifact_url", s(v));
    }
    if let Some(v) = view.environment {
        put("environment", s(v));
    }
    Ok(item)
}
