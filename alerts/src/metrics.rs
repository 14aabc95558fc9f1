//! The evaluator's metrics, served at `/metrics` (OpenMetrics text, through
//! `oot_platform::http_metrics::metrics_routes`): what it read, the alerts it opened and
//! closed, and what became of each webhook try.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// Every `result` of `oot_alerts_webhooks_total`, present from the start: a 2xx answer, a try
/// that failed and will be retried, a delivery given up on after its last try.
pub const WEBHOOK_RESULTS: [&str; 3] = ["sent", "retried", "failed"];

/// Cheap to clone; every clone records into the same series.
#[derive(Clone)]
pub struct AlertsMetrics {
    /// Completed runs and refusals evaluated.
    pub events: Counter,
    /// Messages skipped because they do not decode (the projector dead-letters the events).
    pub undecodable: Counter,
    /// Batches stored and committed.
    pub batches: Counter,
    /// Alerts opened and closed, by `rule` and `kind`.
    pub transitions: Family<Labels, Counter>,
    /// Alerts open now.
    pub open: Gauge,
    /// Webhook tries, by `result` ([`WEBHOOK_RESULTS`]).
    pub webhooks: Family<Labels, Counter>,
    /// Webhook deliveries waiting to be sent (or retried).
    pub outbox: Gauge,
    /// State items DynamoDB refused for good (each logged with its key): left out.
    pub refused_items: Counter,
    pub registry: Arc<Registry>,
}

impl Default for AlertsMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl AlertsMetrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("oot_alerts");
        let metrics = AlertsMetrics {
            events: Counter::default(),
            undecodable: Counter::default(),
            batches: Counter::default(),
            transitions: Family::default(),
            open: Gauge::default(),
            webhooks: Family::default(),
            outbox: Gauge::default(),
            refused_items: Counter::default(),
            registry: Arc::new(Registry::default()),
        };
        registry.register(
            "events",
            "Completed runs and refused callbacks evaluated",
            metrics.events.clone(),
        );
        registry.register(
            "undecodable",
            "Messages skipped because they do not decode",
            metrics.undecodable.clone(),
        );
        registry.register(
            "batches",
            "Batches whose state was stored and offsets committed",
            metrics.batches.clone(),
        );
        registry.register(
            "transitions",
            "Alerts opened and closed, by rule and kind",
            metrics.transitions.clone(),
        );
        registry.register("open", "Alerts open now", metrics.open.clone());
        registry.register(
            "webhooks",
            "Webhook tries: sent (2xx), retried (failed, will be tried again), failed (given up)",
            metrics.webhooks.clone(),
        );
        registry.register(
            "outbox",
            "Webhook deliveries waiting to be sent or retried",
            metrics.outbox.clone(),
        );
        registry.register(
            "refused_items",
            "Items of the alerts table DynamoDB refused for good (logged with their key), left out",
            metrics.refused_items.clone(),
        );
        for result in WEBHOOK_RESULTS {
            drop(
                metrics
                    .webhooks
                    .get_or_create(&vec![("result".to_owned(), result.to_owned())]),
            );
        }
        AlertsMetrics {
            registry: Arc::new(registry),
            ..metrics
        }
    }

    pub fn count_webhook(&self, result: &str) {
        self.webhooks
            .get_or_create(&vec![("result".to_owned(), result.to_owned())])
            .inc();
    }

    pub fn webhooks_total(&self, result: &str) -> u64 {
        self.webhooks
            .get_or_create(&vec![("result".to_owned(), result.to_owned())])
            .get()
    }

    pub fn count_transition(&self, rule: &str, kind: &str) {
        self.transitions
            .get_or_create(&vec![
                ("rule".to_owned(), rule.to_owned()),
                ("kind".to_owned(), kind.to_owned()),
            ])
            .inc();
    }
}
