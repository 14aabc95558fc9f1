//! The dead-letter topic: messages of the event topic that cannot be projected (undecodable, not
//! the contract's words, or keyed to another job), kept byte for byte with the reason, so they
//! never block their partition and are never silently lost.

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
}

impl DeadLetterReason {
    /// The `dead_letter_kind` header, for filtering the topic without parsing the reason.
    pub fn kind(&self) -> &'static str {
        match self {
            DeadLetterReason::Undecodable(_) => "undecodable",
            DeadLetterReason::KafkaKeyMismatch(_)
            | DeadLetterReason::Refused(Refused::KeyMismatch(_)) => "job_key_mismatch",
            DeadLetterReason::Refused(Refused::Invalid(_)) => "invalid_event",
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
        let headers = OwnedHeaders::new()
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
