//! Reading the alerts the evaluator (`oot-alerts`) keeps in its DynamoDB table
//! (`{job table}-alerts`, docs/contract.md §17.6): one backend's alerts and their webhook
//! deliveries are one key range (`pk = alerts#{backend}`), read newest first with Query; every
//! backend's are one range of the sparse index `all-alerts-index`. Never a Scan.
//!
//! A delivery's key follows its alert's, so read backwards a delivery comes before its alert
//! and is attached to it by the alert's id. A table that does not exist (the evaluator never
//! ran) holds no alerts: an empty answer, not a 503.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use oot_contract::alerts::{
    alerts_table, attr, backend_partition, kind, StoredAlert, StoredWebhook, ALL_ALERTS_INDEX,
    ALL_PARTITION,
};
use oot_contract::RepoName;

use crate::stores::StoreError;

const STORE: &str = "dynamodb";
/// Items asked per Query page: an alert and its few deliveries are a handful of small items.
const PAGE_ITEMS: i32 = 200;
/// Items read per request at most: alerts closed before the window are passed over (an older
/// alert may still be open), but never more than this, so a backend with years of closed
/// alerts costs a request ten small pages, not its whole history.
const MAX_ITEMS: usize = 2_000;

type Item = HashMap<String, AttributeValue>;

/// An alert and its webhook deliveries (their keys' order: opened before closed, then by URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub alert: StoredAlert,
    pub webhooks: Vec<StoredWebhook>,
}

/// The evaluator's table, as the query service reads it.
#[derive(Clone)]
pub struct AlertsLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
    timeout: Duration,
}

impl AlertsLog {
    /// The alerts table beside the job table `job_table`.
    pub fn new(client: aws_sdk_dynamodb::Client, job_table: &str, timeout: Duration) -> Self {
        Self {
            client,
            table: alerts_table(job_table),
            timeout,
        }
    }

    /// `repo`'s alerts still open or closed at or after `closed_since` (µs), newest opened
    /// first: at most `limit` of them, from at most [`MAX_ITEMS`] items read.
    pub async fn of_backend(
        &self,
        repo: &RepoName,
        closed_since: i64,
        limit: usize,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        self.read(Some(repo), closed_since, limit).await
    }

    /// Every backend's alerts, newest first, as [`AlertsLog::of_backend`].
    pub async fn all(
        &self,
        closed_since: i64,
        limit: usize,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        self.read(None, closed_since, limit).await
    }

    async fn read(
        &self,
        repo: Option<&RepoName>,
        closed_since: i64,
        limit: usize,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        match tokio::time::timeout(self.timeout, self.pages(repo, closed_since, limit)).await {
            Ok(answer) => answer,
            Err(_) => Err(StoreError {
                store: STORE,
                detail: format!("no answer within {:?}", self.timeout),
            }),
        }
    }

    async fn pages(
        &self,
        repo: Option<&RepoName>,
        closed_since: i64,
        limit: usize,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let mut records: Vec<AlertRecord> = Vec::new();
        let mut webhooks: HashMap<String, Vec<StoredWebhook>> = HashMap::new();
        let mut start: Option<Item> = None;
        let mut read = 0;
        loop {
            let request = self
                .client
                .query()
                .table_name(&self.table)
                .scan_index_forward(false)
                .limit(PAGE_ITEMS)
                .set_exclusive_start_key(start.take());
            let request = match repo {
                Some(repo) => request
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", attr::PK)
                    .expression_attribute_values(
                        ":pk",
                        AttributeValue::S(backend_partition(repo.as_str())),
                    ),
                None => request
                    .index_name(ALL_ALERTS_INDEX)
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", attr::ALL_PK)
                    .expression_attribute_values(
                        ":pk",
                        AttributeValue::S(ALL_PARTITION.to_owned()),
                    ),
            };
            let page = match request.send().await {
                Ok(page) => page,
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
                {
                    tracing::debug!(table = %self.table, "no alerts table: the evaluator has not run");
                    return Ok(Vec::new());
                }
                Err(error) => {
                    return Err(StoreError {
                        store: STORE,
                        detail: aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string(),
                    })
                }
            };
            read += page.items().len();
            for item in page.items() {
                match read_item(item) {
                    Ok(Read::Alert(alert)) => {
                        if alert.closed_at.is_some_and(|c| c < closed_since) {
                            // Closed before the window: not shown. Reading goes on: an older
                            // alert may still be open.
                            webhooks.remove(&alert.id);
                            continue;
                        }
                        let mut hooks = webhooks.remove(&alert.id).unwrap_or_default();
                        hooks.reverse();
                        records.push(AlertRecord {
                            alert,
                            webhooks: hooks,
                        });
                    }
                    Ok(Read::Webhook(webhook)) => {
                        webhooks
                            .entry(webhook.alert_id.clone())
                            .or_default()
                            .push(webhook);
                    }
                    Err(why) => {
                        tracing::warn!(store = STORE, table = %self.table, %why, "an alerts item does not read back; not shown");
                    }
                }
            }
            if records.len() >= limit || read >= MAX_ITEMS {
                records.truncate(limit);
                break;
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(records)
    }
}

enum Read {
    Alert(StoredAlert),
    Webhook(StoredWebhook),
}

fn read_item(item: &Item) -> Result<Read, String> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.as_str()),
        _ => Err(format!("{name}: missing")),
    };
    let body = text(attr::BODY)?;
    match text(attr::KIND)? {
        kind::ALERT => serde_json::from_str(body)
            .map(Read::Alert)
            .map_err(|e| format!("body: {e}")),
        kind::WEBHOOK => serde_json::from_str(body)
            .map(Read::Webhook)
            .map_err(|e| format!("body: {e}")),
        other => Err(format!("kind: {other:?} is not an alert")),
    }
}
