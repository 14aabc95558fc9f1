//! The Kafka source: batches of decoded events with the offsets they came from, and the commit
//! of those offsets once the batch's effects are stored.
//!
//! A batch is closed by size (`max_events`, or [`EventSource::with_batch_bytes`] of payload) or
//! by time (`max_wait` after its first message). Messages that cannot be decoded, or whose Kafka
//! key is not their event's `job_key`, are not dropped and do not block their partition: they
//! travel in the batch as [`Poison`] for the dead-letter topic, and their offsets are committed
//! with the rest once they are there.
//!
//! One exception: a message whose header names a schema fingerprint this build does not know
//! was written by a newer ingest (deployed before the projector). It is not poison, the
//! projector is out of date, so its partition is **halted**: paused in the consumer, nothing at
//! or after that offset is taken nor committed, an error is logged and
//! `oot_projector_halted_partitions` counts it. The other partitions go on. Deploying the
//! projector that knows the schema (a restart) resumes from the committed offset.
//!
//! Consumption errors (a broker restarting, a connection lost) are logged and waited out:
//! librdkafka reconnects by itself, so the projector never exits for them.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use oot_avro::CallbackEvent;
use oot_platform::consumer_progress::{commit_stored_offsets, mark_processed};
use opentelemetry::propagation::Extractor;
use rdkafka::consumer::{Consumer, StreamConsumer};
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
    /// The message's own headers (trace context), kept for the dead-letter topic.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
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
    /// The message's own headers, restored by a redrive.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub reason: DeadLetterReason,
}

/// A message's headers as owned pairs.
fn owned_headers<H: Headers>(headers: Option<&H>) -> Vec<(String, Option<Vec<u8>>)> {
    headers.map_or_else(Vec::new, |headers| {
        headers
            .iter()
            .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
            .collect()
    })
}

impl SourcedEvent {
    /// This event's message, for the dead-letter topic.
    pub fn poison(&self, reason: DeadLetterReason) -> Poison {
        Poison {
            partition: self.partition,
            offset: self.offset,
            key: self.key.clone(),
            payload: self.payload.clone(),
            headers: self.headers.clone(),
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
    /// Payload bytes of the batch's messages.
    pub bytes: usize,
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

/// Default event bound of a batch (`OOT_PROJECTOR_BATCH_EVENTS`). A batch's working set (the
/// events, their merged records, the DynamoDB items and the rows) grows with it: at 2,000 plain
/// callbacks it was ~30 MiB more peak memory than at 1,000, for the same throughput (README,
/// Measured).
pub const DEFAULT_BATCH_EVENTS: usize = 1000;

/// Default byte bound of a batch (`OOT_PROJECTOR_BATCH_BYTES`): with callbacks of hundreds of
/// KiB, 8 MiB kept the same events/s as 16 MiB for 20 MiB less peak memory.
pub const DEFAULT_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// How much librdkafka may prefetch (the one queue of the group consumer, uncompressed payload),
/// in KiB: more than a default batch of typical callbacks, so the next batch is ready when the
/// stores are done with this one.
const PREFETCH_KIB: u32 = 4 * 1024;

/// The most compressed bytes asked of one partition per fetch, and of all partitions together.
/// Ingest's events are lz4-compressed and JSON compresses very well (tens of times for repeated
/// failed tests or escaped control characters), and each fetched batch is decompressed whole,
/// beyond the prefetch bound: at librdkafka's defaults (1 MiB per partition, 50 MiB in all) the
/// decompressed fetches were ~200 MiB of the projector's 350 MiB peak in the soak's edge phase
/// (heaptrack). A record batch bigger than these is still fetched whole, alone (KIP-74; tested by
/// `bounded::the_projector_reads_messages_far_bigger_than_its_fetches`).
const FETCH_PARTITION_BYTES: u32 = 64 * 1024;
/// See [`FETCH_PARTITION_BYTES`].
const FETCH_BYTES: u32 = 256 * 1024;

/// How long librdkafka waits before fetching again once the prefetch is full: its 1 s default
/// would leave a small prefetch empty for most of a second.
const FETCH_QUEUE_BACKOFF_MS: u32 = 10;

/// Pause between attempts after a consumption error (the broker is away; librdkafka reconnects).
const CONSUME_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Whether a decode error means "written with a newer schema than this build knows".
pub fn is_unknown_schema(error: &oot_avro::DecodeError) -> bool {
    matches!(error, oot_avro::DecodeError::UnknownFingerprint { .. })
}

/// The consumer can no longer be used: librdkafka raised a fatal error (e.g. a static member
/// fenced by the group after a broker restart). Nothing of the batch in hand was committed; the
/// caller builds a new consumer, which takes the partitions back from the committed offsets.
#[derive(Debug, thiserror::Error)]
#[error("the Kafka consumer hit a fatal error and must be rebuilt: {code:?}: {reason}")]
pub struct ConsumerFatal {
    pub code: rdkafka::types::RDKafkaErrorCode,
    pub reason: String,
}

/// The consumer group's view of the event topic.
pub struct EventSource {
    consumer: StreamConsumer,
    topic: String,
    max_batch_bytes: usize,
    /// Halted partitions, each with the offset of the message it stopped at.
    halted: Mutex<BTreeMap<i32, i64>>,
}

impl EventSource {
    /// Joins `group_id` on `topic`. Offsets are committed only once [`EventSource::mark_processed`]
    /// stored them.
    /// Group membership settings (`group.instance.id`, `session.timeout.ms`) come in `config`.
    pub fn subscribe(
        mut config: rdkafka::ClientConfig,
        topic: &str,
        group_id: &str,
    ) -> anyhow::Result<Self> {
        let consumer: StreamConsumer = commit_stored_offsets(&mut config)
            .set("group.id", group_id)
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            // A store outage is waited out with retries; the group should not evict us meanwhile.
            .set("max.poll.interval.ms", "900000")
            // librdkafka prefetches up to 64 MiB by default, and fetches 1 MiB of compressed
            // events per partition, which decompress to tens of MiB: most of a projector's memory
            // while it is behind. A batch's worth, fetched in small pieces, keeps the pipeline
            // full (see the constants).
            .set("queued.max.messages.kbytes", PREFETCH_KIB.to_string())
            .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS.to_string())
            .set(
                "max.partition.fetch.bytes",
                FETCH_PARTITION_BYTES.to_string(),
            )
            .set("fetch.max.bytes", FETCH_BYTES.to_string())
            // Requests, not messages, for a consumer; librdkafka raises `fetch.max.bytes` to it.
            .set("message.max.bytes", FETCH_BYTES.to_string())
            .create()?;
        consumer.subscribe(&[topic])?;
        Ok(Self {
            consumer,
            topic: topic.to_owned(),
            max_batch_bytes: DEFAULT_BATCH_BYTES,
            halted: Mutex::new(BTreeMap::new()),
        })
    }

    /// The fatal error librdkafka raised on this consumer, if any: it cannot consume or commit
    /// again, however long one waits.
    pub fn fatal(&self) -> Option<ConsumerFatal> {
        self.consumer
            .client()
            .fatal_error()
            .map(|(code, reason)| ConsumerFatal { code, reason })
    }

    /// Closes batches at `bytes` of payload too (at least one message per batch).
    pub fn with_batch_bytes(mut self, bytes: usize) -> Self {
        self.max_batch_bytes = bytes.max(1);
        self
    }

    /// Waits for the next message (or `shutdown`), then collects more until `max_events`, the
    /// byte bound, or `max_wait` after the first. Consumption errors are logged and waited out
    /// (a batch in progress is returned as it is); only a fatal one, which waiting cannot
    /// cure, is returned ([`ConsumerFatal`]).
    pub async fn next_batch(
        &self,
        max_events: usize,
        max_wait: Duration,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Batch> {
        let mut batch = Batch::default();
        let first = loop {
            let received = tokio::select! {
                () = shutdown.cancelled() => return Ok(batch),
                message = self.consumer.recv() => message,
            };
            match received {
                Ok(message) => break message,
                Err(error) => {
                    if let Some(fatal) = self.fatal() {
                        return Err(fatal.into());
                    }
                    tracing::warn!(%error, retry_in = ?CONSUME_ERROR_PAUSE, "consumption error; waiting for the broker");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(batch),
                        () = tokio::time::sleep(CONSUME_ERROR_PAUSE) => {}
                    }
                }
            }
        };
        self.add(&mut batch, &first);
        drop(first);
        let deadline = tokio::time::Instant::now() + max_wait;
        while batch.len() < max_events && batch.bytes < self.max_batch_bytes {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(Ok(message)) => self.add(&mut batch, &message),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "consumption error; projecting the batch so far");
                    break;
                }
                Err(_) => break,
            }
        }
        Ok(batch)
    }

    /// Halts `partition` at `offset`: pauses it, so nothing at or after `offset` is projected
    /// or committed until a projector that knows the schema takes it over.
    fn halt(&self, partition: i32, offset: i64, error: &oot_avro::DecodeError) {
        let mut list = TopicPartitionList::new();
        list.add_partition(&self.topic, partition);
        if let Err(pause) = self.consumer.pause(&list) {
            // Still halted: `add` skips the partition's messages from `offset` on.
            tracing::warn!(partition, error = %pause, "cannot pause the partition");
        }
        if let Ok(mut halted) = self.halted.lock() {
            halted.insert(partition, offset);
        }
        tracing::error!(
            topic = %self.topic,
            partition,
            offset,
            %error,
            "partition halted: this message was written with a schema this projector does not \
             know (a newer ingest was deployed before the projector). Deploy the projector that \
             knows it; it resumes from this offset. Other partitions go on."
        );
    }

    /// The halted partitions and the offset each stopped at.
    pub fn halted(&self) -> BTreeMap<i32, i64> {
        self.halted.lock().map(|h| h.clone()).unwrap_or_default()
    }

    fn add(&self, batch: &mut Batch, message: &BorrowedMessage<'_>) {
        let (partition, offset) = (message.partition(), message.offset());
        let halted_at = self
            .halted
            .lock()
            .ok()
            .and_then(|h| h.get(&partition).copied());
        if let Some(at) = halted_at {
            if offset >= at {
                // Fetched before the pause took effect, or the partition came back (a rebalance):
                // neither taken nor committed.
                if offset == at {
                    let mut list = TopicPartitionList::new();
                    list.add_partition(&self.topic, partition);
                    let _ = self.consumer.pause(&list);
                }
                return;
            }
        }
        let payload = message.payload().unwrap_or_default();
        let decoded = oot_avro::decode_event(payload);
        if let Err(error) = &decoded {
            if is_unknown_schema(error) {
                self.halt(partition, offset, error);
                return;
            }
        }
        batch.next_offsets.insert(partition, offset + 1);
        batch.bytes += payload.len();
        let headers = owned_headers(message.headers());
        let poison = |reason, headers| Poison {
            partition,
            offset,
            key: message.key().map(<[u8]>::to_vec),
            payload: payload.to_vec(),
            headers,
            reason,
        };
        match decoded {
            Ok(mut event) => {
                // The relay's document (the whole request body, up to 2 MiB) is for replays and
                // audits from the log; projecting never reads it, and the payload kept for the
                // dead-letter topic holds it anyway. Held per event until the batch is
                // committed, it was a second copy of the batch's bytes.
                drop(std::mem::take(&mut event.relay_document));
                if let Err(mismatch) = check_key(message.key(), &event.job_key) {
                    tracing::error!(
                        kafka_key = %mismatch.left,
                        job_key = %mismatch.right,
                        partition,
                        offset,
                        "the Kafka key is not the event's job_key"
                    );
                    batch.poison.push(poison(
                        DeadLetterReason::KafkaKeyMismatch(mismatch),
                        headers,
                    ));
                    return;
                }
                let span = event_span(message.headers(), &event.job_key, partition, offset);
                batch.events.push(SourcedEvent {
                    event,
                    partition,
                    offset,
                    key: message.key().map(<[u8]>::to_vec),
                    payload: payload.to_vec(),
                    headers,
                    span,
                });
            }
            Err(error) => batch.poison.push(poison(
                DeadLetterReason::Undecodable(error.to_string()),
                headers,
            )),
        }
    }

    /// Marks the batch processed: its offsets are stored, and librdkafka commits them within
    /// [`COMMIT_INTERVAL_MS`](oot_platform::consumer_progress::COMMIT_INTERVAL_MS), on a
    /// revocation or on close (never blocking this task, see [`oot_platform::consumer_progress`]).
    /// A failure (the partitions were reassigned meanwhile) only means the batch will be
    /// projected again, which the merge makes harmless.
    pub fn mark_processed(&self, batch: &Batch) -> anyhow::Result<()> {
        mark_processed(
            &self.consumer,
            batch
                .next_offsets
                .iter()
                .map(|(&p, &next)| (self.topic.as_str(), p, next)),
        )?;
        Ok(())
    }

    /// Messages in the assigned partitions not yet projected: high watermark minus the group's
    /// COMMITTED offset (the low watermark where nothing is committed yet). Not the consumer's
    /// position, which runs ahead of the commit while a batch is stuck in retries or a partition
    /// is halted, and would read 0 exactly when something is wrong. Blocking (asks the
    /// brokers); `None` when they do not answer. Also forgets halted partitions no longer
    /// assigned here.
    pub fn lag(&self) -> Option<i64> {
        let assignment = self.consumer.assignment().ok()?;
        if let Ok(mut halted) = self.halted.lock() {
            halted.retain(|&p, _| assignment.find_partition(&self.topic, p).is_some());
        }
        let committed = self
            .consumer
            .committed_offsets(assignment.clone(), Duration::from_secs(5))
            .ok()?;
        let mut lag = 0;
        for element in assignment.elements() {
            let (low, high) = self
                .consumer
                .fetch_watermarks(element.topic(), element.partition(), Duration::from_secs(5))
                .ok()?;
            let done = committed
                .find_partition(element.topic(), element.partition())
                .and_then(|p| match p.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                })
                .unwrap_or(low);
            lag += (high - done.max(low)).max(0);
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
