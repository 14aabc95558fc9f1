//! The ingest service's metrics, exposed for Prometheus at `/metrics` on its HTTP listener:
//!
//! - the HTTP metrics every service has ([`oot_platform::http_metrics`]), as `service="ingest"`;
//! - `oot_ingest_refused_total{reason}`: callbacks refused, by [`Refusal::reason`] (a fixed set,
//!   every one present from the start at 0, so a rate over it exists before the first refusal);
//! - `oot_ingest_producer_queue`: the Kafka producer's local queue (librdkafka's out-queue:
//!   messages not yet acknowledged, and its own pending requests), read at each scrape: it grows
//!   when the broker is slow or gone, before requests start to answer 503;
//! - `oot_ingest_receipts_total{result}`: what became of each refusal's delivery receipt
//!   ([`crate::receipts::RESULTS`]: produced, failed, queue_full, over_budget, unattributed,
//!   unencodable), every one present from the start.

use std::sync::Arc;

use axum::Router;
use oot_platform::http_metrics::prometheus_client::collector::Collector;
use oot_platform::http_metrics::prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use oot_platform::http_metrics::prometheus_client::metrics::counter::Counter;
use oot_platform::http_metrics::prometheus_client::metrics::family::Family;
use oot_platform::http_metrics::prometheus_client::metrics::gauge::ConstGauge;
use oot_platform::http_metrics::prometheus_client::registry::Registry;
use oot_platform::http_metrics::{metrics_routes, render, HttpMetrics};

use crate::publish::ProducerQueue;
use crate::receipts::ReceiptResults;
use crate::response::Refusal;

type ReasonLabel = [(&'static str, &'static str); 1];

/// Every metric of one ingest service; cheap to clone.
#[derive(Clone)]
pub struct IngestMetrics {
    pub http: HttpMetrics,
    refused: Family<ReasonLabel, Counter>,
    /// What became of each refusal's receipt, by `result` (counted by the receipt publisher).
    pub receipts: ReceiptResults,
    registry: Arc<Registry>,
}

/// Reads the producer's queue when Prometheus scrapes, so the value is never stale.
#[derive(Debug)]
struct ProducerQueueCollector(ProducerQueue);

impl Collector for ProducerQueueCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gauge = ConstGauge::new(i64::from(self.0.len()));
        let metric = encoder.encode_descriptor(
            "oot_ingest_producer_queue",
            "Messages (and librdkafka's own requests) in the Kafka producer's queue, not yet acknowledged",
            None,
            gauge.metric_type(),
        )?;
        gauge.encode(metric)
    }
}

impl IngestMetrics {
    pub fn new(queue: ProducerQueue) -> Self {
        let mut registry = Registry::default();
        let http = HttpMetrics::register(&mut registry, "ingest");
        let refused = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "oot_ingest_refused",
            "Callbacks refused, by reason",
            refused.clone(),
        );
        for reason in Refusal::REASONS {
            // Creating the series is the point; the guard is released at once.
            drop(refused.get_or_create(&[("reason", reason)]));
        }
        let receipts = ReceiptResults::default();
        registry.register(
            "oot_ingest_receipts",
            "Delivery receipts of refused callbacks, by what became of them",
            receipts.clone(),
        );
        for result in crate::receipts::RESULTS {
            drop(receipts.get_or_create(&[("result", result)]));
        }
        registry.register_collector(Box::new(ProducerQueueCollector(queue)));
        Self {
            http,
            refused,
            receipts,
            registry: Arc::new(registry),
        }
    }

    /// Counts one refused callback.
    pub fn refused(&self, refusal: &Refusal) {
        self.refused
            .get_or_create(&[("reason", refusal.reason())])
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        render(&self.registry)
    }

    /// `GET /metrics`.
    pub fn routes<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        metrics_routes(self.registry.clone())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use oot_platform::settings::KafkaSettings;

    use super::*;
    use crate::callback::ValidationError;
    use crate::publish::{EventPublisher, PublisherSettings};

    fn metrics() -> IngestMetrics {
        // librdkafka connects lazily: no broker is needed to read the empty queue.
        let kafka = KafkaSettings {
            brokers: "127.0.0.1:1".to_owned(),
            topic: "unused".to_owned(),
            partitions: 1,
            replication: 1,
            deliveries_topic: "unused-deliveries".to_owned(),
        };
        let publisher = EventPublisher::new(
            &kafka,
            PublisherSettings {
                delivery_timeout: Duration::from_secs(1),
                linger: Duration::from_millis(5),
            },
        )
        .unwrap();
        IngestMetrics::new(publisher.queue())
    }

    fn every_refusal() -> Vec<Refusal> {
        vec![
            Refusal::Unauthorized { header: "h" },
            Refusal::UnsupportedMediaType,
            Refusal::TooLarge { limit: 1 },
            Refusal::UnreadableBody("cut".to_owned()),
            Refusal::BodyReadTimeout { timeout_ms: 1 },
            Refusal::Invalid(ValidationError::NotAnObject { found: "array" }),
            Refusal::RateLimited {
                repo: "a/b".to_owned(),
                limit: 1,
                window_secs: 1,
                retry_after_secs: 1,
            },
            Refusal::LogUnavailable {
                retry_after_secs: 1,
            },
            Refusal::Internal,
        ]
    }

    #[test]
    fn every_refusal_has_one_listed_reason() {
        let reasons: Vec<&str> = every_refusal().iter().map(Refusal::reason).collect();
        assert_eq!(reasons, Refusal::REASONS);
    }

    #[test]
    fn refusals_are_counted_by_reason_from_zero() {
        let metrics = metrics();
        let before = metrics.render();
        for reason in Refusal::REASONS {
            let series = format!("oot_ingest_refused_total{{reason=\"{reason}\"}} 0\n");
            assert!(before.contains(&series), "{before}");
        }
        // librdkafka's queue length also counts its own requests (the idempotent producer asks
        // the unreachable broker for an id), so only the series is certain here, not its value.
        assert!(before.contains("oot_ingest_producer_queue "), "{before}");
        for result in crate::receipts::RESULTS {
            let series = format!("oot_ingest_receipts_total{{result=\"{result}\"}} 0\n");
            assert!(before.contains(&series), "{before}");
        }
        assert!(
            before.contains("oot_http_requests_in_flight{service=\"ingest\"} 0\n"),
            "{before}"
        );
        let refusals = every_refusal();
        let invalid = refusals
            .iter()
            .find(|r| matches!(r, Refusal::Invalid(_)))
            .expect("an invalid callback among the refusals");
        metrics.refused(invalid);
        metrics.refused(invalid);
        metrics.refused(&refusals[0]);
        let after = metrics.render();
        assert!(
            after.contains("oot_ingest_refused_total{reason=\"invalid\"} 2\n"),
            "{after}"
        );
        assert!(
            after.contains("oot_ingest_refused_total{reason=\"unauthorized\"} 1\n"),
            "{after}"
        );
    }
}
