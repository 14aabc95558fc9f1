//! Appending events to the Kafka log, and knowing when they are there.
//!
//! The producer is idempotent with `acks=all`: a delivery report means every in-sync replica has
//! the event, and librdkafka's retries never duplicate or reorder it. `publish` returns only once
//! that report arrives, or fails after the bounded delivery timeout; the HTTP layer turns the first
//! into 202 and the second into 503, so no 2xx is ever given for an event that is not in the log.
//!
//! Concurrent requests share one producer, whose `linger.ms` batches their events into one
//! produce request: the throughput comes from many requests in flight, not from a round trip each.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use oot_avro::CallbackEvent;
use oot_platform::settings::KafkaSettings;
use opentelemetry::propagation::Injector;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Where an event landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The event could not be encoded: a bug, not the caller's or the broker's fault.
    #[error("encoding the event: {0}")]
    Encode(#[from] oot_avro::EncodeError),
    /// The broker did not acknowledge the event in time, or refused it.
    #[error("the event log did not take the event: {0}")]
    Unavailable(KafkaError),
}

/// Producer settings of the ingest service.
#[derive(Debug, Clone)]
pub struct PublisherSettings {
    /// Upper bound on how long one event may wait for the broker's acknowledgement.
    pub delivery_timeout: Duration,
    /// How long producer batches wait to fill (librdkafka `linger.ms`).
    pub linger: Duration,
}

/// The producer in use. Replaced as a whole if librdkafka reports a fatal error (an idempotent
/// producer can reach one, e.g. after an unrecoverable sequence gap), since a fatal producer
/// never recovers; shared with [`ProducerQueue`], which must read the replacement too.
type ProducerSlot = Arc<RwLock<Arc<FutureProducer>>>;

fn current(slot: &ProducerSlot) -> Arc<FutureProducer> {
    slot.read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// Reads how many messages wait in the producer's local queue (not yet acknowledged by the
/// broker): a queue that grows means the broker is slow or gone before requests start to fail.
#[derive(Clone)]
pub struct ProducerQueue(ProducerSlot);

impl std::fmt::Debug for ProducerQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ProducerQueue").field(&self.len()).finish()
    }
}

impl ProducerQueue {
    /// Messages queued or in flight to the broker now (librdkafka's `rd_kafka_outq_len`).
    pub fn len(&self) -> i32 {
        current(&self.0).in_flight_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Publishes Avro events keyed by job, with the W3C trace context in the headers.
pub struct EventPublisher {
    producer: ProducerSlot,
    kafka: KafkaSettings,
    settings: PublisherSettings,
}

fn create_producer(
    kafka: &KafkaSettings,
    settings: &PublisherSettings,
) -> Result<FutureProducer, KafkaError> {
    let delivery_ms = settings.delivery_timeout.as_millis().max(1);
    // librdkafka requires request.timeout.ms < delivery.timeout.ms; keep room for one retry.
    let request_ms = (delivery_ms / 2).clamp(1, 30_000);
    kafka
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("delivery.timeout.ms", delivery_ms.to_string())
        .set("request.timeout.ms", request_ms.to_string())
        .set("linger.ms", settings.linger.as_millis().to_string())
        .set("compression.type", "lz4")
        .set("queue.buffering.max.messages", "200000")
        .create()
}

/// Writes W3C `traceparent`/`tracestate` into a header map.
struct HeaderInjector<'a>(&'a mut HashMap<String, String>);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

/// The headers of an event: its id and the trace context of the current span.
fn event_headers(event: &CallbackEvent) -> OwnedHeaders {
    let mut trace = HashMap::new();
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(&mut trace))
    });
    let mut headers = OwnedHeaders::new_with_capacity(1 + trace.len()).insert(Header {
        key: "event_id",
        value: Some(event.event_id.as_bytes()),
    });
    for (key, value) in &trace {
        headers = headers.insert(Header {
            key,
            value: Some(value.as_bytes()),
        });
    }
    headers
}

impl EventPublisher {
    pub fn new(kafka: &KafkaSettings, settings: PublisherSettings) -> Result<Self, KafkaError> {
        let producer = create_producer(kafka, &settings)?;
        Ok(Self {
            producer: Arc::new(RwLock::new(Arc::new(producer))),
            kafka: kafka.clone(),
            settings,
        })
    }

    fn current_producer(&self) -> Arc<FutureProducer> {
        current(&self.producer)
    }

    /// The producer's local queue, for the metrics.
    pub fn queue(&self) -> ProducerQueue {
        ProducerQueue(self.producer.clone())
    }

    /// Encodes `event`, appends it to the topic under its job key, and waits for the broker.
    pub async fn publish(&self, event: &CallbackEvent) -> Result<Delivered, PublishError> {
        let payload = oot_avro::encode_event(event)?;
        let record = FutureRecord::to(&self.kafka.topic)
            .key(event.job_key.as_bytes())
            .payload(&payload)
            .headers(event_headers(event));
        let producer = self.current_producer();
        // The queue timeout only applies when librdkafka's local queue is full; a full queue
        // means the broker is far behind, which is the 503 case too.
        match producer.send(record, Duration::from_secs(1)).await {
            Ok(delivery) => Ok(Delivered {
                partition: delivery.partition,
                offset: delivery.offset,
            }),
            Err((error, _)) => {
                self.replace_if_fatal(&producer);
                Err(PublishError::Unavailable(error))
            }
        }
    }

    fn replace_if_fatal(&self, failed: &Arc<FutureProducer>) {
        let Some((code, reason)) = failed.client().fatal_error() else {
            return;
        };
        let mut slot = self
            .producer
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !Arc::ptr_eq(&slot, failed) {
            return; // another request already replaced it
        }
        match create_producer(&self.kafka, &self.settings) {
            Ok(fresh) => {
                tracing::error!(?code, %reason, "kafka producer hit a fatal error; replaced it");
                *slot = Arc::new(fresh);
            }
            Err(error) => {
                tracing::error!(%error, "kafka producer is fatal and a new one cannot be created")
            }
        }
    }

    /// Waits for the events still queued to be delivered (at shutdown).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.current_producer().flush(timeout)
    }
}
