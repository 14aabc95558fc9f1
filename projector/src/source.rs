//! The Kafka source: batches of decoded events with the offsets they came from, and the commit
//! of those offsets once the batch's effects are stored.
//!
//! A batch is closed by size (`max_events`) or by time (`max_wait` after its first message).
//! Messages that cannot be decoded, or whose Kafka key is not their event's `job_key`, are not
//! dropped and do not block their partition: they travel in the batch as [`Poison`] for the
//! dead-letter topic, and their offsets are committed with the rest once they are there.

use std::collections::BTreeMap;
use std::time::Duration;

use oot_avro::CallbackEvent;
use opentelemetry::propagation::Extractor;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::dead_letter::DeadLetterReason;
use crate::merge::JobKeyMismatch;

/// One decoded event and where it came from.
pub struct SourcedEvent {
    pub event: CallbackEvent,
    pub partition: i32,
    pub offset: i64,
    /// The message as read, for the dead-letter topic should the merge refuse the event.
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    /// The span that continues the event's trace (from ingest's W3C headers) until it is projected.
    pub span: tracing::Span,
}

/// A message that cannot be projected.
#[derive(Debug, Clone)]
pub struct Poison {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub reason: DeadLetterReason,
}

impl SourcedEvent {
    /// This event's message, for the dead-letter topic.
    pub fn poison(&self, reason: DeadLetterReason) -> Poison {
        Poison {
            partition: self.partition,
            offset: self.offset,
            key: self.key.clone(),
            payload: self.payload.clone(),
            reason,
        }
    }
}

/// Checks that a message's Kafka key is its event's `job_key`. Ingest keys every event by its
/// job so that a job's callbacks share a partition; a message keyed otherwise was not written by
/// ingest's rules, and projecting it would hide that.
pub fn check_key(kafka_key: Option<&[u8]>, job_key: &str) -> Result<(), JobKeyMismatch> {
    if kafka_key == Some(job_key.as_bytes()) {
        return Ok(());
    }
    Err(JobKeyMismatch {
        left: kafka_key.map_or_else(
            || "<no key>".to_owned(),
            |k| String::from_utf8_lossy(k).into_owned(),
        ),
        right: job_key.to_owned(),
    })
}

/// What one poll produced.
#[derive(Default)]
pub struct Batch {
    pub events: Vec<SourcedEvent>,
    pub poison: Vec<Poison>,
    /// Per partition, the offset to commit once the batch is stored (last offset + 1).
    pub next_offsets: BTreeMap<i32, i64>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.next_offsets.is_empty()
    }

    pub fn len(&self) -> usize {
        self.events.len() + self.poison.len()
    }
}

struct HeaderExtractor<'a, H>(&'a H);

impl<H: Headers> Extractor for HeaderExtractor<'_, H> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.key == key)
            .and_then(|h| h.value)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|h| h.key).collect()
    }
}

/// A span for an event, child of the trace ingest started for it (W3C `traceparent` header).
fn event_span<H: Headers>(
    headers: Option<&H>,
    job_key: &str,
    partition: i32,
    offset: i64,
) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let span = tracing::info_span!("project_event", job_key, partition, offset);
    if let Some(headers) = headers {
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&HeaderExtractor(headers))
        });
        // Fails only when the span is filtered out; then there is no trace to continue.
        let _ = span.set_parent(parent);
    }
    span
}

/// The consumer group's view of the event topic.
pub struct EventSource {
    consumer: StreamConsumer,
    topic: String,
}

impl EventSource {
    /// Joins `group_id` on `topic`. Offsets are committed only by [`EventSource::commit`].
    pub fn subscribe(
        mut config: rdkafka::ClientConfig,
        topic: &str,
        group_id: &str,
    ) -> anyhow::Result<Self> {
        let consumer: StreamConsumer = config
            .set("group.id", group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            // A store outage is waited out with retries; the group should not evict us meanwhile.
            .set("max.poll.interval.ms", "900000")
            .create()?;
        consumer.subscribe(&[topic])?;
        Ok(Self {
            consumer,
            topic: topic.to_owned(),
        })
    }

    /// Waits for the next message (or `shutdown`), then collects more until `max_events` or
    /// `max_wait` after the first.
    pub async fn next_batch(
        &self,
        max_events: usize,
        max_wait: Duration,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Batch> {
        let mut batch = Batch::default();
        let first = tokio::select! {
            () = shutdown.cancelled() => return Ok(batch),
            message = self.consumer.recv() => message?,
        };
        self.add(&mut batch, &first);
        drop(first);
        let deadline = tokio::time::Instant::now() + max_wait;
        while batch.len() < max_events {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(message) => {
                    let message = message?;
                    self.add(&mut batch, &message);
                }
                Err(_) => break,
            }
        }
        Ok(batch)
    }

    fn add(&self, batch: &mut Batch, message: &BorrowedMessage<'_>) {
        batch
            .next_offsets
            .insert(message.partition(), message.offset() + 1);
        let payload = message.payload().unwrap_or_default();
        let poison = |reason| Poison {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: payload.to_vec(),
            reason,
        };
        match oot_avro::decode_event(payload) {
            Ok(event) => {
                if let Err(mismatch) = check_key(message.key(), &event.job_key) {
                    tracing::error!(
                        kafka_key = %mismatch.left,
                        job_key = %mismatch.right,
                        partition = message.partition(),
                        offset = message.offset(),
                        "the Kafka key is not the event's job_key"
                    );
                    batch
                        .poison
                        .push(poison(DeadLetterReason::KafkaKeyMismatch(mismatch)));
                    return;
                }
                let span = event_span(
                    message.headers(),
                    &event.job_key,
                    message.partition(),
                    message.offset(),
                );
                batch.events.push(SourcedEvent {
                    event,
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().map(<[u8]>::to_vec),
                    payload: payload.to_vec(),
                    span,
                });
            }
            Err(error) => batch
                .poison
                .push(poison(DeadLetterReason::Undecodable(error.to_string()))),
        }
    }

    /// Commits the batch's offsets, synchronously: when this returns Ok, a restart resumes after
    /// the batch. A failure (e.g. the partitions were reassigned meanwhile) only means the batch
    /// will be projected again, which the merge makes harmless.
    pub fn commit(&self, batch: &Batch) -> anyhow::Result<()> {
        let mut offsets = TopicPartitionList::new();
        for (&partition, &next) in &batch.next_offsets {
            offsets.add_partition_offset(&self.topic, partition, Offset::Offset(next))?;
        }
        self.consumer.commit(&offsets, CommitMode::Sync)?;
        Ok(())
    }

    /// Messages in the assigned partitions not yet consumed: high watermark minus position.
    pub fn lag(&self) -> Option<i64> {
        let assignment = self.consumer.assignment().ok()?;
        let positions = self.consumer.position().ok()?;
        let mut lag = 0;
        for element in assignment.elements() {
            let (_, high) = self
                .consumer
                .fetch_watermarks(element.topic(), element.partition(), Duration::from_secs(2))
                .ok()?;
            let position = positions
                .find_partition(element.topic(), element.partition())
                .and_then(|p| match p.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                });
            lag += position.map_or(high, |p| (high - p).max(0));
        }
        Some(lag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use rdkafka::message::{Header, OwnedHeaders};
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[test]
    fn the_event_span_continues_the_trace_from_the_kafka_headers() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let headers = OwnedHeaders::new().insert(Header {
            key: "traceparent",
            value: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        });
        tracing::subscriber::with_default(subscriber, || {
            let span = event_span(Some(&headers), "job", 0, 7);
            let trace_id = span.context().span().span_context().trace_id();
            assert_eq!(trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        });
    }

    #[test]
    fn a_kafka_key_other_than_the_job_key_is_a_mismatch_with_both_keys() {
        let key = "intel/torch-xpu-ops/d-1/xpu-ci/job/42";
        assert_eq!(check_key(Some(key.as_bytes()), key), Ok(()));
        let other = check_key(Some(b"intel/torch-xpu-ops/d-2/xpu-ci/job/43"), key)
            .expect_err("different keys");
        assert_eq!(other.left, "intel/torch-xpu-ops/d-2/xpu-ci/job/43");
        assert_eq!(other.right, key);
        let reason = DeadLetterReason::KafkaKeyMismatch(other);
        assert_eq!(reason.kind(), "job_key_mismatch");
        assert!(reason.to_string().contains("d-2"), "{reason}");
        assert!(reason.to_string().contains("d-1"), "{reason}");
        let none = check_key(None, key).expect_err("no key");
        assert_eq!(none.left, "<no key>");
    }
}
