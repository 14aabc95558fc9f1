//! The dead-letter topic: messages of the event topic that cannot be projected (undecodable, not
//! the contract's words, keyed to another job, or refused by a store), kept byte for byte, with
//! their original headers and the reason, so they never block their partition, are never
//! silently lost, and can be put back on the event topic once the cause is fixed
//! (`oot-projector redrive`, [`crate::redrive`]).

use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::merge::{JobKeyMismatch, Refused};
use crate::source::Poison;

/// Why a message goes to the dead-letter topic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeadLetterReason {
    /// Not an event of any schema this build knows.
    #[error("{0}")]
    Undecodable(String),
    /// The message's Kafka key (`left`) is not the event's `job_key` (`right`): it was
    /// partitioned as another job's, so it is not projected as this one's.
    #[error("the Kafka message key is not the event's job_key: {0}")]
    KafkaKeyMismatch(JobKeyMismatch),
    /// Decoded, but refused by the merge: a value that is not the contract's, or a stored
    /// record of the job under another key.
    #[error(transparent)]
    Refused(Refused),
    /// Decoded and merged, but a store refused the job's write for good (e.g. DynamoDB's
    /// "Number overflow", an item too large): the job's events of the batch are parked here so
    /// the rest of the partition moves on.
    #[error("parked: {0}")]
    Parked(StoreRefusal),
}

/// Which store refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    DynamoDb,
    ClickHouse,
}

impl Store {
    pub fn as_str(self) -> &'static str {
        match self {
            Store::DynamoDb => "dynamodb",
            Store::ClickHouse => "clickhouse",
        }
    }
}

/// A store's permanent refusal of one job: which store, its error code, and its message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} refused job {job_key} ({code}): {message}", store.as_str())]
pub struct StoreRefusal {
    pub store: Store,
    pub job_key: String,
    /// The store's error code (`ValidationException`, ClickHouse's `Code: 62`, ...): few
    /// distinct values, so it labels the `parked` metric.
    pub code: String,
    pub message: String,
}

impl StoreRefusal {
    /// The `reason` label of `oot_projector_parked_total`: `{store}:{code}`.
    pub fn label(&self) -> String {
        format!("{}:{}", self.store.as_str(), self.code)
    }
}

impl DeadLetterReason {
    /// The `dead_letter_kind` header, for filtering the topic without parsing the reason.
    pub fn kind(&self) -> &'static str {
        match self {
            DeadLetterReason::Undecodable(_) => "undecodable",
            DeadLetterReason::KafkaKeyMismatch(_)
            | DeadLetterReason::Refused(Refused::KeyMismatch(_)) => "job_key_mismatch",
            DeadLetterReason::Refused(Refused::Invalid(_)) => "invalid_event",
            DeadLetterReason::Parked(_) => "parked",
        }
    }

    /// The two keys, when the reason is that they disagree.
    pub fn key_mismatch(&self) -> Option<&JobKeyMismatch> {
        match self {
            DeadLetterReason::KafkaKeyMismatch(m)
            | DeadLetterReason::Refused(Refused::KeyMismatch(m)) => Some(m),
            _ => None,
        }
    }
}

/// The headers the projector adds to a dead letter (on top of the message's own); `redrive`
/// removes exactly these.
pub const DEAD_LETTER_HEADERS: [&str; 5] = [
    "dead_letter_reason",
    "dead_letter_kind",
    "source_topic",
    "source_partition",
    "source_offset",
];

/// The dead-letter topic of an event topic.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dead-letter")
}

pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    source_topic: String,
}

impl DeadLetters {
    pub fn new(config: &rdkafka::ClientConfig, source_topic: &str) -> anyhow::Result<Self> {
        let producer = config
            .clone()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create()?;
        Ok(Self {
            producer,
            topic: dead_letter_topic(source_topic),
            source_topic: source_topic.to_owned(),
        })
    }

    /// Appends `poison` to the dead-letter topic and waits for the broker's acknowledgement.
    pub async fn send(&self, poison: &Poison) -> anyhow::Result<()> {
        let partition = poison.partition.to_string();
        let offset = poison.offset.to_string();
        let reason = poison.reason.to_string();
        // The message's own headers first (trace context...), so a redrive restores them as they
        // were; a header of the message that has a dead-letter name is dropped, not duplicated.
        let mut headers = OwnedHeaders::new();
        for (key, value) in &poison.headers {
            if DEAD_LETTER_HEADERS.contains(&key.as_str()) {
                continue;
            }
            headers = headers.insert(Header {
                key: key.as_str(),
                value: value.as_deref(),
            });
        }
        let headers = headers
            .insert(Header {
                key: "dead_letter_reason",
                value: Some(reason.as_str()),
            })
            .insert(Header {
                key: "dead_letter_kind",
                value: Some(poison.reason.kind()),
            })
            .insert(Header {
                key: "source_topic",
                value: Some(self.source_topic.as_str()),
            })
            .insert(Header {
                key: "source_partition",
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: "source_offset",
                value: Some(offset.as_str()),
            });
        let mut record = FutureRecord::to(&self.topic)
            .payload(&poison.payload)
            .headers(headers);
        if let Some(key) = &poison.key {
            record = record.key(key);
        }
        self.producer
            .send(record, Duration::from_secs(5))
            .await
            .map_err(|(error, _)| anyhow::anyhow!("dead-letter topic {}: {error}", self.topic))?;
        tracing::warn!(partition = poison.partition, offset = poison.offset, kind = poison.reason.kind(), %reason, "event sent to the dead-letter topic");
        Ok(())
    }
}
