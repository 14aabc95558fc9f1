//! The DynamoDB sink: the live job state, one item per job, in HUD's attribute layout.
//!
//! Each item carries `version` (bumped by every write) and `merge_state` (the merged record with
//! the rank of each field's source, see [`crate::merge`], each rank listed once:
//! [`crate::merge::to_stored`]). A write is conditional on the version
//! it read (`attribute_not_exists` for a new job), so two projectors writing one job — during a
//! rebalance, or a replay beside the live projector — can never regress it: the loser re-reads,
//! merges again and retries, and the merge makes the order irrelevant.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use futures::StreamExt as _;
use oot_contract::dynamo::attr;
use oot_contract::{JobKey, Status, UpstreamPr};
use oot_platform::dynamo_batch::{get_items, BatchGetError, BatchRead};
use oot_platform::dynamo_errors::{classify, DynamoFailure};

use crate::merge::{from_stored, to_stored, FailedTests, JobRecord, DYNAMODB_FAILED_TESTS_BUDGET};

/// What is stored for one job.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredJob {
    pub record: JobRecord,
    pub version: u64,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum JobTableError {
    /// Another writer changed the item since it was read: re-read, merge, retry.
    #[error("job {0} changed since it was read")]
    Conflict(String),
    /// The item exists but its merge state cannot be read: not ours to overwrite.
    #[error("job {key}: stored merge state unreadable: {reason}")]
    Corrupt { key: String, reason: String },
    /// DynamoDB refused the request's data for good (`code`, e.g. `ValidationException` for a
    /// number out of range or an item over 400 KB): sending it again cannot succeed.
    #[error("dynamodb refused ({code}): {message}")]
    Refused { code: String, message: String },
    /// Anything else: timeouts, throttling, 5xx, connection and dispatch failures, and the
    /// errors that would refuse every job alike (missing table, credentials): waited out.
    #[error("dynamodb: {0}")]
    Unavailable(String),
}

/// What became of one `TransactWriteItems`.
pub(crate) enum Transacted {
    Written,
    /// A condition failed or another transaction touched an item: nothing written; re-read
    /// and try again.
    Canceled,
    /// Refused for good ([`JobTableError::Refused`]): nothing written; the caller finds the one
    /// item responsible by writing them alone.
    Refused(JobTableError),
}

/// Sends `items` in one transaction; only transient errors are `Err`.
pub(crate) async fn transact(
    client: &Client,
    items: Vec<TransactWriteItem>,
) -> Result<Transacted, JobTableError> {
    match client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
    {
        Ok(_) => Ok(Transacted::Written),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_transaction_canceled_exception()) =>
        {
            Ok(Transacted::Canceled)
        }
        Err(error) => match unavailable(error) {
            refused @ JobTableError::Refused { .. } => Ok(Transacted::Refused(refused)),
            other => Err(other),
        },
    }
}

/// A failed batch read, classified as [`unavailable`] classifies a store error.
pub(crate) fn batch_get_failed(error: BatchGetError) -> JobTableError {
    match error {
        BatchGetError::Build(message) => JobTableError::Unavailable(message),
        BatchGetError::Store(error) => unavailable(*error),
    }
}

pub(crate) fn unavailable<E>(error: aws_sdk_dynamodb::error::SdkError<E>) -> JobTableError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata
        + std::error::Error
        + std::fmt::Debug
        + 'static,
{
    match classify(&error) {
        DynamoFailure::Refused { code, message } => JobTableError::Refused { code, message },
        DynamoFailure::Unavailable(message) => JobTableError::Unavailable(message),
    }
}

/// The job table of one projector.
#[derive(Clone)]
pub struct JobTable {
    client: Client,
    table: String,
}

/// BatchGetItem takes at most 100 keys.
/// TransactWriteItems takes at most 100 items and 4 MB; keep a margin on the size.
const TRANSACTION_ITEMS: usize = 100;
const TRANSACTION_BYTES: usize = 3_500_000;
const TRANSACTIONS_IN_FLIGHT: usize = 4;
/// Failed tests kept in the item (and in the ClickHouse row, see `pipeline`): the item (merge
/// state and `failed_tests_json`, each holding the list once) must stay under DynamoDB's 400 KB.
/// Ingest cuts each callback's list to the same budget
/// ([`oot_contract::limits::MAX_STORED_FAILED_TESTS_BYTES`]), so cutting here is only a safety
/// net for events logged before ingest cut them.
pub const ITEM_FAILED_TESTS_BUDGET: usize = DYNAMODB_FAILED_TESTS_BUDGET / 2;
const _: () =
    assert!(ITEM_FAILED_TESTS_BUDGET == oot_contract::limits::MAX_STORED_FAILED_TESTS_BYTES);

impl JobTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Reads the stored state of `keys`, 100 keys per request, with strongly consistent reads
    /// (the conditional write that follows must see the latest version). Found by the item's
    /// key, not the key inside its merge state: should the two ever differ, the merge that
    /// follows reports it instead of the write overwriting the item.
    pub async fn load(
        &self,
        keys: &[&JobKey],
    ) -> Result<HashMap<JobKey, StoredJob>, JobTableError> {
        let projection = [attr::DYNAMO_KEY, attr::VERSION, attr::MERGE_STATE].join(", ");
        let keys = keys
            .iter()
            .map(|key| {
                HashMap::from([(
                    attr::DYNAMO_KEY.to_owned(),
                    AttributeValue::S(key.as_str().to_owned()),
                )])
            })
            .collect();
        let read = BatchRead {
            consistent: true,
            projection: Some(&projection),
        };
        let items = get_items(&self.client, &self.table, keys, &read)
            .await
            .map_err(batch_get_failed)?;
        let mut found = HashMap::new();
        for item in &items {
            let (key, stored) = stored_job(item)?;
            found.insert(key, stored);
        }
        Ok(found)
    }

    /// Writes many records in transactions of up to 100 items, each item conditional on its
    /// expected version: one round trip per transaction instead of one per job, transactions
    /// concurrently. A transaction is all or nothing, so when any of its conditions fails, or
    /// DynamoDB refuses any of its items for good, none of its items is written; those come back
    /// as `None` and the caller writes them one by one with [`JobTable::save`], which finds the
    /// one refused (never its 99 innocent neighbours). Otherwise the new version of each record,
    /// in input order. Only transient errors are `Err`.
    pub async fn save_all(
        &self,
        writes: &[(&JobRecord, Option<u64>)],
    ) -> Result<Vec<Option<u64>>, JobTableError> {
        let mut chunks: Vec<Vec<(usize, TransactWriteItem)>> = vec![Vec::new()];
        let mut chunk_bytes = 0;
        for (index, (record, expected)) in writes.iter().enumerate() {
            let version = expected.map_or(1, |v| v + 1);
            // Not buildable: left `None`, so `save` reports it for this job alone.
            let Ok(item) = job_item(record, version) else {
                continue;
            };
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
                None => put.condition_expression(if_new()),
                Some(v) => put
                    .condition_expression(if_version())
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
                match transact(&self.client, items).await? {
                    Transacted::Written => Ok((indexes, true)),
                    Transacted::Canceled => Ok((indexes, false)),
                    Transacted::Refused(refused) => {
                        tracing::warn!(%refused, items = indexes.len(), "transaction refused; writing its jobs one by one");
                        Ok((indexes, false))
                    }
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
            key: record.job_key().to_string(),
            reason,
        })?;
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        request = match expected {
            None => request.condition_expression(if_new()),
            Some(v) => request
                .condition_expression(if_version())
                .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
        };
        match request.send().await {
            Ok(_) => Ok(version),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(JobTableError::Conflict(record.job_key().to_string()))
            }
            Err(error) => Err(unavailable(error)),
        }
    }
}

/// The write condition for a job not stored yet.
fn if_new() -> String {
    format!("attribute_not_exists({})", attr::DYNAMO_KEY)
}

/// The write condition for a job stored at version `:expected`.
fn if_version() -> String {
    format!("{} = :expected", attr::VERSION)
}

/// About how many bytes an attribute value takes in a request.
fn attribute_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
        _ => 64,
    }
}

fn stored_job(
    item: &HashMap<String, AttributeValue>,
) -> Result<(JobKey, StoredJob), JobTableError> {
    let text = match item.get(attr::DYNAMO_KEY) {
        Some(AttributeValue::S(key)) => key.clone(),
        _ => {
            return Err(JobTableError::Unavailable(format!(
                "item without {}",
                attr::DYNAMO_KEY
            )))
        }
    };
    let corrupt = |reason: String| JobTableError::Corrupt {
        key: text.clone(),
        reason,
    };
    let key = JobKey::parse(&text).map_err(|e| corrupt(format!("{}: {e}", attr::DYNAMO_KEY)))?;
    let version = match item.get(attr::VERSION) {
        Some(AttributeValue::N(n)) => n
            .parse::<u64>()
            .map_err(|e| corrupt(format!("{}: {e}", attr::VERSION)))?,
        _ => return Err(corrupt(format!("no {}", attr::VERSION))),
    };
    let record = match item.get(attr::MERGE_STATE) {
        Some(AttributeValue::S(json)) => {
            from_stored(json).map_err(|e| corrupt(format!("{}: {e}", attr::MERGE_STATE)))?
        }
        _ => return Err(corrupt(format!("no {}", attr::MERGE_STATE))),
    };
    Ok((key, StoredJob { record, version }))
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

/// The failed tests of [`bounded_for_item`]`(record)` alone (`None` when it lists none): a row
/// needs no more of the copy, and a replay makes one a job.
pub fn failed_tests_for_item(record: &JobRecord) -> Option<FailedTests> {
    record.bounded_failed_tests(ITEM_FAILED_TESTS_BUDGET)
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

    put(attr::DYNAMO_KEY, s(view.job_key.as_str()));
    put(attr::VERSION, n(version.to_string()));
    put(
        attr::MERGE_STATE,
        s(&to_stored(&bounded).map_err(|e| e.to_string())?),
    );
    put(attr::STATUS, s(view.status.as_str()));
    put(attr::DOWNSTREAM_REPO, s(view.downstream_repo.as_str()));
    put(attr::DELIVERY_ID, s(view.delivery_id));
    put(attr::EVENT_TYPE, s(view.event_type));
    put(attr::WORKFLOW_RUN_URL, s(view.workflow_run_url));
    put(attr::WORKFLOW_NAME, s(view.workflow_name));
    put(attr::JOB_NAME, s(view.job_name));
    put(attr::CHECK_RUN_ID, s(view.check_run_id));
    put(attr::RUN_ID, s(view.run_id));
    put(attr::RUN_ATTEMPT, n(view.run_attempt.to_string()));
    put(attr::FAILED_TESTS_JSON, s(&bounded.failed_tests_json()));
    if let Some(at) = rfc3339(view.first_seen_at) {
        put(attr::FIRST_SEEN_AT, s(&at));
    }
    if let Some(v) = view.downstream_repo_level {
        put(attr::DOWNSTREAM_REPO_LEVEL, s(v.as_str()));
    }
    if let Some(repo) = view.upstream_repo {
        put(attr::UPSTREAM_REPO, s(repo.as_str()));
        if let Some(pr) = view.pr_number {
            // The key of the PR index: running jobs of one upstream PR.
            put(
                attr::UPSTREAM_PR,
                s(&UpstreamPr::new(repo.clone(), pr).key()),
            );
        }
    }
    if let Some(v) = view.pr_number {
        put(attr::PR_NUMBER, n(v.to_string()));
    }
    // The keys of the sparse running-jobs indexes, only while the job runs: the write that
    // completes it replaces the whole item, so it leaves every index.
    if view.status == Status::InProgress {
        put(attr::RUNNING_REPO, s(view.downstream_repo.as_str()));
        if oot_contract::is_nightly_run(view.event_type, view.pr_number.is_some()) {
            put(attr::RUNNING_NIGHTLY, s(view.downstream_repo.as_str()));
        }
        if let (Some(repo), Some(pr)) = (view.upstream_repo, view.pr_number) {
            put(
                attr::RUNNING_PR,
                s(&UpstreamPr::new(repo.clone(), pr).key()),
            );
        }
    }
    if let Some(v) = view.pytorch_head_sha {
        put(attr::PYTORCH_HEAD_SHA, s(v));
    }
    if let Some(v) = view.conclusion {
        put(attr::CONCLUSION, s(v.as_str()));
    }
    for (name, value) in [
        (attr::QUEUE_TIME, view.queue_time),
        (attr::EXECUTION_TIME, view.execution_time),
    ] {
        if let Some(v) = value.filter(|v| v.is_finite()) {
            put(name, n(v.to_string()));
        }
    }
    for (name, value) in [
        (attr::STARTED_AT, view.started_at),
        (attr::COMPLETED_AT, view.completed_at),
    ] {
        if let Some(at) = value.and_then(rfc3339) {
            put(name, s(&at));
        }
    }
    for (name, value) in [
        (attr::TOTAL_TESTS, view.total_tests),
        (attr::PASSED_TESTS, view.passed_tests),
        (attr::FAILED_TESTS, view.failed_tests),
        (attr::SKIPPED_TESTS, view.skipped_tests),
    ] {
        if let Some(v) = value {
            put(name, n(v.to_string()));
        }
    }
    if let Some(v) = view.artifact_url {
        put(attr::ARTIFACT_URL, s(v));
    }
    if let Some(v) = view.environment {
        put(attr::ENVIRONMENT, s(v));
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::Transient as _;

    #[test]
    fn only_a_running_job_carries_the_keys_of_the_running_indexes_a_nightly_its_own() {
        let running = JobRecord::from_event(&crate::merge::tests::in_progress()).unwrap();
        let item = job_item(&running, 1).unwrap();
        assert_eq!(
            item.get(attr::RUNNING_REPO),
            item.get(attr::DOWNSTREAM_REPO)
        );
        assert_eq!(item.get(attr::RUNNING_PR), item.get(attr::UPSTREAM_PR));
        assert!(item.contains_key(attr::RUNNING_PR));
        assert!(!item.contains_key(attr::RUNNING_NIGHTLY), "a PR job");

        for (event_type, nightly) in [("nightly", true), ("schedule", true), ("push", false)] {
            let mut event = crate::merge::tests::in_progress();
            event.event_type = event_type.into();
            event.pr_number = None;
            let item = job_item(&JobRecord::from_event(&event).unwrap(), 1).unwrap();
            assert!(!item.contains_key(attr::RUNNING_PR), "{event_type}");
            assert_eq!(
                item.get(attr::RUNNING_NIGHTLY),
                nightly.then(|| item.get(attr::DOWNSTREAM_REPO)).flatten(),
                "{event_type}"
            );
            let mut done = crate::merge::tests::completed("success", 30);
            done.event_type = event_type.into();
            done.pr_number = None;
            let item = job_item(&JobRecord::from_event(&done).unwrap(), 2).unwrap();
            assert!(
                !item.contains_key(attr::RUNNING_NIGHTLY),
                "{event_type} completed"
            );
        }

        let done = JobRecord::from_event(&crate::merge::tests::completed("success", 30)).unwrap();
        let item = job_item(&done, 2).unwrap();
        assert!(item.contains_key(attr::DOWNSTREAM_REPO));
        assert!(!item.contains_key(attr::RUNNING_REPO));
        assert!(!item.contains_key(attr::RUNNING_PR));
        assert!(!item.contains_key(attr::RUNNING_NIGHTLY));
    }

    #[test]
    fn only_refusals_of_the_data_are_permanent() {
        let refused = JobTableError::Refused {
            code: "ValidationException".into(),
            message: "Number overflow".into(),
        };
        assert!(!refused.is_transient());
        assert!(JobTableError::Unavailable("timeout".into()).is_transient());
    }
}
