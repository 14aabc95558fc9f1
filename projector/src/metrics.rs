//! The projector's metrics, exposed for Prometheus at `/metrics`: events/s (a counter Prometheus
//! rates), consumer lag, and freshness (event received by ingest → projected and committed).

use std::sync::Arc;

use axum::http::header;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Every `result` of `oot_projector_receipts_total`, each present from the start: rows of
/// accepted events written by the projector, rows of ingest's receipts of refusals written,
/// rows ClickHouse refused for good (left out), receipts that did not decode (skipped).
pub const RECEIPT_RESULTS: [&str; 4] = [
    "accepted_rows",
    "refused_rows",
    "refused_by_store",
    "undecodable",
];

/// Histograms by label values, each with the same buckets.
pub type HistogramsByLabel = Family<Vec<(String, String)>, Histogram, fn() -> Histogram>;

/// Every metric of one projector; cheap to clone.
#[derive(Clone)]
pub struct ProjectorMetrics {
    pub events: Counter,
    pub batches: Counter,
    pub dead_letters: Counter,
    pub job_key_mismatches: Counter,
    pub dynamodb_writes: Counter,
    pub clickhouse_rows: Counter,
    pub consumer_lag: Gauge,
    /// Events parked (dead-lettered because a store refused their job for good), by `reason`
    /// (`{store}:{code}`, e.g. `dynamodb:ValidationException`).
    pub parked: Family<Vec<(String, String)>, Counter>,
    /// Partitions halted at a message of an unknown schema.
    pub halted_partitions: Gauge,
    /// Kafka consumers replaced after librdkafka declared one unusable (a fenced member).
    pub consumer_rebuilds: Counter,
    /// Delivery receipts' rows, by `result` ([`RECEIPT_RESULTS`]).
    pub receipts: Family<Vec<(String, String)>, Counter>,
    pub freshness_seconds: Histogram,
    /// Event received by ingest → its job's row in ClickHouse (shown by the views), for the
    /// events of completed jobs: what a user waits for, where `freshness_seconds` also counts
    /// the rollups and the commit after.
    pub visible_seconds: Histogram,
    /// Seconds each stage of a batch took, by `stage` (`jobs_read`, `jobs_write`,
    /// `clickhouse_insert`, `rollups`): which store a slow batch waits on.
    pub stage_seconds: HistogramsByLabel,
    registry: Arc<Registry>,
}

impl Default for ProjectorMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ProjectorMetrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("oot_projector");
        let events = Counter::default();
        let batches = Counter::default();
        let dead_letters = Counter::default();
        let job_key_mismatches = Counter::default();
        let dynamodb_writes = Counter::default();
        let clickhouse_rows = Counter::default();
        let consumer_lag = Gauge::default();
        let parked = Family::<Vec<(String, String)>, Counter>::default();
        let halted_partitions = Gauge::default();
        let consumer_rebuilds = Counter::default();
        let receipts = Family::<Vec<(String, String)>, Counter>::default();
        // From 10 ms to ~3 h: normal freshness is sub-second, a store outage makes it hours.
        let freshness_buckets = [
            0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
            10800.0,
        ];
        let freshness_seconds = Histogram::new(freshness_buckets);
        let visible_seconds = Histogram::new(freshness_buckets);
        registry.register(
            "events",
            "Events projected into both stores",
            events.clone(),
        );
        registry.register(
            "batches",
            "Batches projected and committed",
            batches.clone(),
        );
        registry.register(
            "dead_letters",
            "Messages sent to the dead-letter topic (undecodable, invalid, or keyed to another job)",
            dead_letters.clone(),
        );
        registry.register(
            "job_key_mismatches",
            "Events dead-lettered because their job key disagrees with their Kafka key or stored record",
            job_key_mismatches.clone(),
        );
        registry.register(
            "dynamodb_writes",
            "Job items written (jobs whose record changed)",
            dynamodb_writes.clone(),
        );
        registry.register(
            "clickhouse_rows",
            "Completed-job rows inserted",
            clickhouse_rows.clone(),
        );
        registry.register(
            "consumer_lag",
            "Messages in the assigned partitions not yet projected: high watermark minus the committed offset",
            consumer_lag.clone(),
        );
        registry.register(
            "parked",
            "Events dead-lettered because a store refused their job for good, by reason (store:code)",
            parked.clone(),
        );
        registry.register(
            "halted_partitions",
            "Partitions halted at a message written with a schema this projector does not know",
            halted_partitions.clone(),
        );
        registry.register(
            "consumer_rebuilds",
            "Kafka consumers rebuilt after a fatal consumer error (e.g. fenced after a broker restart)",
            consumer_rebuilds.clone(),
        );
        registry.register(
            "receipts",
            "Delivery receipts' rows: accepted and refused rows written, rows ClickHouse refused for good (left out), receipts that did not decode (skipped)",
            receipts.clone(),
        );
        for result in RECEIPT_RESULTS {
            drop(receipts.get_or_create(&vec![("result".to_owned(), result.to_owned())]));
        }
        let stage_seconds: HistogramsByLabel = Family::new_with_constructor(|| {
            Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        registry.register(
            "stage_seconds",
            "Seconds each stage of a batch took (retries included), by stage",
            stage_seconds.clone(),
        );
        registry.register(
            "freshness_seconds",
            "Time from ingest receiving an event to the projector committing it",
            freshness_seconds.clone(),
        );
        registry.register(
            "visible_seconds",
            "Time from ingest receiving a completed job's event to its row in ClickHouse",
            visible_seconds.clone(),
        );
        Self {
            events,
            batches,
            dead_letters,
            job_key_mismatches,
            dynamodb_writes,
            clickhouse_rows,
            consumer_lag,
            parked,
            halted_partitions,
            consumer_rebuilds,
            receipts,
            freshness_seconds,
            visible_seconds,
            stage_seconds,
            registry: Arc::new(registry),
        }
    }

    /// Counts `n` delivery receipts' rows under `result` (one of [`RECEIPT_RESULTS`]).
    pub fn count_receipts(&self, result: &str, n: u64) {
        self.receipts
            .get_or_create(&vec![("result".to_owned(), result.to_owned())])
            .inc_by(n);
    }

    /// The delivery receipts' rows counted so far under `result`.
    pub fn receipts_total(&self, result: &str) -> u64 {
        self.receipts
            .get_or_create(&vec![("result".to_owned(), result.to_owned())])
            .get()
    }

    /// Counts one parked event under `reason`.
    pub fn count_parked(&self, reason: &str) {
        self.parked
            .get_or_create(&vec![("reason".to_owned(), reason.to_owned())])
            .inc();
    }

    /// The parked events counted so far, all reasons.
    pub fn parked_total(&self) -> u64 {
        // The family's entries are not enumerable without the encoder; read it back from text.
        self.render()
            .lines()
            .filter(|l| l.starts_with("oot_projector_parked_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }

    pub fn routes(&self) -> Router {
        let metrics = self.clone();
        Router::new().route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.render(),
                    )
                }
            }),
        )
    }
}
