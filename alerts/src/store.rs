//! The evaluator's state in its own DynamoDB table (`{job table}-alerts`, keys in
//! `oot_contract::alerts`): each slot's recent runs, each backend's recent refusals, every
//! alert (open and closed) and every webhook delivery (the outbox, with its status).
//!
//! Created at start-up (and by `oot-alerts migrate`); read whole once at start-up (a Scan of
//! this table only, never on a request path) to resume where the last run stopped; written
//! after each batch, before its offsets are committed. Every item is a function of the log
//! but one: a webhook delivery's status, which the dispatcher writes. Its creation is
//! conditional (`attribute_not_exists`), so a batch evaluated again after a crash finds the
//! delivery already recorded (perhaps sent) and leaves it alone.
//!
//! Bounded: a closed alert and a webhook delivery carry [`attr::EXPIRES_AT`], their transition's
//! time plus the retention (`--retention-days`), and the table's time to live deletes them
//! after it; open alerts and the evaluator's own items (one per slot, one per backend) stay. An
//! item DynamoDB refuses for good (its data, not an outage) is logged by key, counted
//! (`oot_alerts_refused_items`) and left out, so it cannot stop the evaluator; outages are
//! waited out by the caller.

use std::collections::HashMap;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, PutRequest, ScalarAttributeType, TimeToLiveSpecification,
    TimeToLiveStatus, WriteRequest,
};
use oot_contract::alerts::{
    alert_sort_key, alerts_table, attr, backend_partition, kind, slots_partition, webhook_sort_key,
    StoredAlert, StoredWebhook, ALL_ALERTS_INDEX, ALL_PARTITION, REFUSALS_PARTITION,
};
use oot_platform::dynamo_errors::{classify, DynamoFailure};
use serde::{Deserialize, Serialize};

use crate::evaluator::{Changes, Evaluator, SlotKey};
use crate::history::SlotHistory;
use crate::lifecycle::{OpenAlerts, Transition};
use crate::refusals::RefusalWindow;

type Item = HashMap<String, AttributeValue>;

/// A webhook delivery and where it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub pk: String,
    pub sk: String,
    pub webhook: StoredWebhook,
    /// Seconds since the epoch: when the table's time to live deletes it ([`attr::EXPIRES_AT`]).
    pub expires_at: Option<i64>,
}

/// What [`AlertStore::store`] did.
#[derive(Debug, Default)]
pub struct Stored {
    /// The webhook deliveries newly recorded (not those a previous run of the same batch
    /// recorded already).
    pub recorded: Vec<OutboxEntry>,
    /// Items DynamoDB refused for good (each logged with its key and the reason): left out, so
    /// one item that cannot be stored does not stop the evaluator.
    pub refused: usize,
}

/// What became of one conditional write.
enum Written {
    New,
    AlreadyThere,
    Refused,
}

#[derive(Serialize, Deserialize)]
struct SlotBody {
    backend: String,
    workflow_name: String,
    job_name: String,
    history: SlotHistory,
}

#[derive(Serialize, Deserialize)]
struct RefusalsBody {
    backend: String,
    window: RefusalWindow,
}

/// What the table held at start-up.
#[derive(Debug, Default)]
pub struct Loaded {
    pub slots: Vec<(SlotKey, SlotHistory)>,
    pub refusals: Vec<(String, RefusalWindow)>,
    pub alerts: Vec<StoredAlert>,
    /// Deliveries still pending.
    pub pending: Vec<OutboxEntry>,
}

impl Loaded {
    /// The evaluator these hold, judged by `config`.
    pub fn into_evaluator(
        self,
        config: crate::config::AlertsConfig,
    ) -> (Evaluator, Vec<OutboxEntry>) {
        let mut evaluator = Evaluator::new(config);
        evaluator.slots = self.slots.into_iter().collect();
        evaluator.refusals = self.refusals.into_iter().collect();
        evaluator.open = OpenAlerts::from_stored(self.alerts);
        (evaluator, self.pending)
    }
}

#[derive(Clone)]
pub struct AlertStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    /// How long (s) a closed alert and a webhook delivery are kept after their transition.
    retention_secs: i64,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

fn key_schema(name: &str, key_type: KeyType) -> anyhow::Result<KeySchemaElement> {
    Ok(KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()?)
}

fn string_attribute(name: &str) -> anyhow::Result<AttributeDefinition> {
    Ok(AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()?)
}

/// The display of a DynamoDB SDK error with its cause (the SDK's own `Display` says only
/// "service error").
fn sdk<E: std::error::Error + 'static>(error: E) -> anyhow::Error {
    anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string())
}

impl AlertStore {
    /// The alerts table beside the job table `job_table`, keeping closed alerts and webhook
    /// deliveries `retention_secs` after their transition.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        job_table: &str,
        retention_secs: i64,
    ) -> AlertStore {
        AlertStore {
            client,
            table: alerts_table(job_table),
            retention_secs,
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table where missing: `pk`/`sk`, on demand, and the sparse index of every
    /// backend's alerts; and turns its time to live on ([`attr::EXPIRES_AT`]) where it is not.
    /// `true` when created.
    pub async fn ensure_table(&self) -> anyhow::Result<bool> {
        let created = self.create_table().await?;
        self.ensure_time_to_live().await?;
        Ok(created)
    }

    /// Turns the table's time to live on, on [`attr::EXPIRES_AT`], unless it is on (or being
    /// turned on) already: DynamoDB refuses to enable it twice.
    async fn ensure_time_to_live(&self) -> anyhow::Result<()> {
        let described = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(sdk)
            .with_context(|| format!("reading the time to live of {}", self.table))?;
        let on = described.time_to_live_description().is_some_and(|d| {
            matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            ) && d.attribute_name() == Some(attr::EXPIRES_AT)
        });
        if on {
            return Ok(());
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(attr::EXPIRES_AT)
                    .build()?,
            )
            .send()
            .await
            .map_err(sdk)
            .with_context(|| format!("turning on the time to live of {}", self.table))?;
        Ok(())
    }

    async fn create_table(&self) -> anyhow::Result<bool> {
        let index = GlobalSecondaryIndex::builder()
            .index_name(ALL_ALERTS_INDEX)
            .key_schema(key_schema(attr::ALL_PK, KeyType::Hash)?)
            .key_schema(key_schema(attr::ALL_SK, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()?;
        let answer = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string_attribute(attr::PK)?)
            .attribute_definitions(string_attribute(attr::SK)?)
            .attribute_definitions(string_attribute(attr::ALL_PK)?)
            .attribute_definitions(string_attribute(attr::ALL_SK)?)
            .key_schema(key_schema(attr::PK, KeyType::Hash)?)
            .key_schema(key_schema(attr::SK, KeyType::Range)?)
            .global_secondary_indexes(index)
            .send()
            .await;
        match answer {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                Ok(false)
            }
            Err(error) => {
                Err(sdk(error)).with_context(|| format!("creating DynamoDB table {}", self.table))
            }
        }
    }

    /// Everything the table holds that the evaluator resumes from.
    pub async fn load(&self) -> anyhow::Result<Loaded> {
        let mut loaded = Loaded::default();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk)
                .with_context(|| format!("reading {}", self.table))?;
            for item in page.items() {
                if let Err(error) = read_item(item, &mut loaded) {
                    tracing::warn!(%error, pk = ?text(item, attr::PK), sk = ?text(item, attr::SK), "an item of the alerts table does not read back; left out");
                }
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(loaded)
    }

    /// Stores what `changes` changed of `evaluator`, and records the webhook deliveries of its
    /// transitions (to the backends' URLs in `evaluator.config`). An outage is an `Err` (the
    /// caller waits it out); an item refused for good is left out and counted.
    pub async fn store(
        &self,
        evaluator: &Evaluator,
        changes: &Changes,
        hud_url: Option<&str>,
    ) -> anyhow::Result<Stored> {
        let mut puts: Vec<Item> = Vec::new();
        for key in &changes.slots {
            let Some(history) = evaluator.slots.get(key) else {
                continue;
            };
            let body = SlotBody {
                backend: key.backend.clone(),
                workflow_name: key.workflow_name.clone(),
                job_name: key.job_name.clone(),
                history: history.clone(),
            };
            puts.push(HashMap::from([
                (attr::PK.to_owned(), s(slots_partition(&key.backend))),
                (
                    attr::SK.to_owned(),
                    s(format!("{}\u{1f}{}", key.workflow_name, key.job_name)),
                ),
                (attr::KIND.to_owned(), s(kind::SLOT)),
                (attr::BODY.to_owned(), s(serde_json::to_string(&body)?)),
            ]));
        }
        for backend in &changes.refusals {
            let Some(window) = evaluator.refusals.get(backend) else {
                continue;
            };
            let body = RefusalsBody {
                backend: backend.clone(),
                window: window.clone(),
            };
            puts.push(HashMap::from([
                (attr::PK.to_owned(), s(REFUSALS_PARTITION)),
                (attr::SK.to_owned(), s(backend.clone())),
                (attr::KIND.to_owned(), s(kind::REFUSALS)),
                (attr::BODY.to_owned(), s(serde_json::to_string(&body)?)),
            ]));
        }
        // An alert opened and closed in one batch is written once, closed: BatchWriteItem
        // refuses two puts of one key in a request, and the last state is the one to keep.
        let mut alerts: Vec<&StoredAlert> = Vec::new();
        for transition in &changes.transitions {
            let alert = transition.alert();
            alerts.retain(|a| a.id != alert.id);
            alerts.push(alert);
        }
        for alert in alerts {
            puts.push(alert_item(alert, self.retention_secs)?);
        }
        let mut stored = Stored {
            refused: self.put_all(puts).await?,
            ..Stored::default()
        };
        for transition in &changes.transitions {
            for entry in deliveries_of(
                transition,
                evaluator.config.webhooks(&transition.alert().backend),
                hud_url,
                self.retention_secs,
            ) {
                match self.create_webhook(&entry).await? {
                    Written::New => stored.recorded.push(entry),
                    Written::AlreadyThere => {}
                    Written::Refused => stored.refused += 1,
                }
            }
        }
        Ok(stored)
    }

    /// Writes `items` with BatchWriteItem, 25 at a time, asking again for what DynamoDB left
    /// unprocessed. A request DynamoDB refuses for its data (one item over 400 KB refuses the
    /// whole request) is written again item by item, and the items refused alone are left out:
    /// answers how many.
    async fn put_all(&self, items: Vec<Item>) -> anyhow::Result<usize> {
        let mut requests = Vec::with_capacity(items.len());
        for item in items {
            requests.push(
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build()?)
                    .build(),
            );
        }
        let mut refused = 0;
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            let mut delay = std::time::Duration::from_millis(50);
            while !pending.is_empty() {
                let answer = match self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending.clone())
                    .send()
                    .await
                {
                    Ok(answer) => answer,
                    Err(error) => match classify(&error) {
                        DynamoFailure::Refused { .. } => {
                            refused += self.put_one_by_one(&pending).await?;
                            break;
                        }
                        DynamoFailure::Unavailable(message) => {
                            anyhow::bail!("writing {}: {message}", self.table)
                        }
                    },
                };
                pending = answer
                    .unprocessed_items()
                    .and_then(|u| u.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                if !pending.is_empty() {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(2));
                }
            }
        }
        Ok(refused)
    }

    /// Puts each item of `requests` alone: how many DynamoDB refused for good (each logged).
    async fn put_one_by_one(&self, requests: &[WriteRequest]) -> anyhow::Result<usize> {
        let mut refused = 0;
        for put in requests.iter().filter_map(|r| r.put_request()) {
            if !self.put_unless_refused(put.item().clone()).await? {
                refused += 1;
            }
        }
        Ok(refused)
    }

    /// Puts `item`: `Ok(false)` when DynamoDB refused it for good (logged by key), an `Err`
    /// for an outage.
    async fn put_unless_refused(&self, item: Item) -> anyhow::Result<bool> {
        let answer = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .send()
            .await;
        match answer {
            Ok(_) => Ok(true),
            Err(error) => match classify(&error) {
                DynamoFailure::Refused { code, message } => {
                    log_refused(&item, &code, &message);
                    Ok(false)
                }
                DynamoFailure::Unavailable(message) => {
                    anyhow::bail!("writing {}: {message}", self.table)
                }
            },
        }
    }

    /// Records a delivery unless it is there already.
    async fn create_webhook(&self, entry: &OutboxEntry) -> anyhow::Result<Written> {
        let item = webhook_item(entry)?;
        let answer = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await;
        match answer {
            Ok(_) => Ok(Written::New),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Written::AlreadyThere)
            }
            Err(error) => match classify(&error) {
                DynamoFailure::Refused { code, message } => {
                    log_refused(&item, &code, &message);
                    Ok(Written::Refused)
                }
                DynamoFailure::Unavailable(message) => {
                    anyhow::bail!("writing {}: {message}", self.table)
                }
            },
        }
    }

    /// Writes a delivery's new status. `Ok(false)` when DynamoDB refused it for good (logged):
    /// the stored status stays as it was.
    pub async fn save_webhook(&self, entry: &OutboxEntry) -> anyhow::Result<bool> {
        self.put_unless_refused(webhook_item(entry)?).await
    }
}

/// An item DynamoDB refused for good, by its key: left out, so the evaluator goes on.
fn log_refused(item: &Item, code: &str, message: &str) {
    tracing::error!(
        pk = ?text(item, attr::PK),
        sk = ?text(item, attr::SK),
        kind = ?text(item, attr::KIND),
        code,
        message,
        "an alerts-table item refused by DynamoDB for good: left out (counted in oot_alerts_refused_items)"
    );
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// An alert's item; a closed one expires `retention_secs` after it closed.
fn alert_item(alert: &StoredAlert, retention_secs: i64) -> anyhow::Result<Item> {
    let sk = alert_sort_key(alert.opened_at, &alert.id);
    let mut item = HashMap::from([
        (attr::PK.to_owned(), s(backend_partition(&alert.backend))),
        (attr::SK.to_owned(), s(sk.clone())),
        (attr::ALL_PK.to_owned(), s(ALL_PARTITION)),
        (attr::ALL_SK.to_owned(), s(sk)),
        (attr::KIND.to_owned(), s(kind::ALERT)),
        (attr::BODY.to_owned(), s(serde_json::to_string(alert)?)),
    ]);
    if let Some(closed_at) = alert.closed_at {
        item.insert(
            attr::EXPIRES_AT.to_owned(),
            n(expiry(closed_at, retention_secs)),
        );
    }
    Ok(item)
}

/// Seconds since the epoch: `retention_secs` after `at` (µs).
fn expiry(at: i64, retention_secs: i64) -> i64 {
    (at / 1_000_000).saturating_add(retention_secs)
}

fn webhook_item(entry: &OutboxEntry) -> anyhow::Result<Item> {
    let mut item = HashMap::from([
        (attr::PK.to_owned(), s(entry.pk.clone())),
        (attr::SK.to_owned(), s(entry.sk.clone())),
        (attr::ALL_PK.to_owned(), s(ALL_PARTITION)),
        (attr::ALL_SK.to_owned(), s(entry.sk.clone())),
        (attr::KIND.to_owned(), s(kind::WEBHOOK)),
        (
            attr::BODY.to_owned(),
            s(serde_json::to_string(&entry.webhook)?),
        ),
    ]);
    if let Some(expires_at) = entry.expires_at {
        item.insert(attr::EXPIRES_AT.to_owned(), n(expires_at));
    }
    Ok(item)
}

/// The deliveries a transition makes: one per URL, pending, due at once, each expiring
/// `retention_secs` after the transition.
pub fn deliveries_of(
    transition: &Transition,
    urls: &[String],
    hud_url: Option<&str>,
    retention_secs: i64,
) -> Vec<OutboxEntry> {
    let alert = transition.alert();
    let kind = transition.kind();
    let happened_at = match transition {
        Transition::Opened(alert) => alert.opened_at,
        Transition::Closed(alert) => alert.closed_at.unwrap_or(alert.opened_at),
    };
    let alert_sk = alert_sort_key(alert.opened_at, &alert.id);
    let body = crate::webhook::body(alert, kind, hud_url);
    urls.iter()
        .enumerate()
        .map(|(n, url)| OutboxEntry {
            pk: backend_partition(&alert.backend),
            sk: webhook_sort_key(&alert_sk, kind, n),
            webhook: StoredWebhook {
                alert_id: alert.id.clone(),
                kind: kind.to_owned(),
                url: url.clone(),
                target: crate::webhook::target_of(url),
                state: oot_contract::alerts::webhook_state::PENDING.to_owned(),
                attempts: 0,
                next_attempt_at: 0,
                last_attempt_at: None,
                last_error: None,
                sent_at: None,
                body: body.clone(),
            },
            expires_at: Some(expiry(happened_at, retention_secs)),
        })
        .collect()
}

fn read_item(item: &Item, loaded: &mut Loaded) -> anyhow::Result<()> {
    let body = text(item, attr::BODY).context("no body")?;
    match text(item, attr::KIND) {
        Some(kind::SLOT) => {
            let slot: SlotBody = serde_json::from_str(body)?;
            let key = SlotKey {
                backend: slot.backend,
                workflow_name: slot.workflow_name,
                job_name: slot.job_name,
            };
            loaded.slots.push((key, slot.history));
        }
        Some(kind::REFUSALS) => {
            let refusals: RefusalsBody = serde_json::from_str(body)?;
            loaded.refusals.push((refusals.backend, refusals.window));
        }
        Some(kind::ALERT) => {
            let alert: StoredAlert = serde_json::from_str(body)?;
            if alert.is_open() {
                loaded.alerts.push(alert);
            }
        }
        Some(kind::WEBHOOK) => {
            let webhook: StoredWebhook = serde_json::from_str(body)?;
            if webhook.state == oot_contract::alerts::webhook_state::PENDING {
                loaded.pending.push(OutboxEntry {
                    pk: text(item, attr::PK).context("no pk")?.to_owned(),
                    sk: text(item, attr::SK).context("no sk")?.to_owned(),
                    webhook,
                    expires_at: match item.get(attr::EXPIRES_AT) {
                        Some(AttributeValue::N(at)) => at.parse().ok(),
                        _ => None,
                    },
                });
            }
        }
        other => anyhow::bail!("unknown kind {other:?}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(closed_at: Option<i64>) -> StoredAlert {
        StoredAlert {
            id: "a1".to_owned(),
            rule: "failing_streak".to_owned(),
            backend: "acme/xpu".to_owned(),
            workflow_name: Some("nightly".to_owned()),
            job_name: Some("test".to_owned()),
            summary: "failing".to_owned(),
            first_failing: None,
            runs: Vec::new(),
            opened_at: 1_000_000_000,
            closed_at,
            closed_because: None,
        }
    }

    fn expiry_attr(item: &Item) -> Option<&str> {
        match item.get(attr::EXPIRES_AT) {
            Some(AttributeValue::N(n)) => Some(n),
            _ => None,
        }
    }

    #[test]
    fn deliveries_expire_the_retention_after_their_transition() {
        let urls = [
            "https://a.example/hook".to_owned(),
            "https://b.example/".to_owned(),
        ];
        let opened = deliveries_of(&Transition::Opened(alert(None)), &urls, None, 100);
        assert_eq!(opened.len(), 2);
        assert!(opened.iter().all(|e| e.expires_at == Some(1_000 + 100)));
        let closed = deliveries_of(
            &Transition::Closed(alert(Some(5_000_000_000))),
            &urls,
            None,
            100,
        );
        assert!(closed.iter().all(|e| e.expires_at == Some(5_000 + 100)));
        let item = webhook_item(&closed[0]).unwrap();
        assert_eq!(expiry_attr(&item), Some("5100"));
    }

    #[test]
    fn only_a_closed_alert_expires() {
        let open = alert_item(&alert(None), 100).unwrap();
        assert_eq!(expiry_attr(&open), None);
        let closed = alert_item(&alert(Some(5_000_000_000)), 100).unwrap();
        assert_eq!(expiry_attr(&closed), Some("5100"));
    }

    #[test]
    fn a_pending_delivery_reads_back_with_its_expiry() {
        let entry = deliveries_of(
            &Transition::Opened(alert(None)),
            &["https://a.example/".to_owned()],
            None,
            100,
        )
        .remove(0);
        let mut loaded = Loaded::default();
        read_item(&webhook_item(&entry).unwrap(), &mut loaded).unwrap();
        assert_eq!(loaded.pending, vec![entry]);
    }
}
