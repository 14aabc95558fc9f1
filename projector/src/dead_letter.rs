//! The dead-letter topic: messages of the event topic that cannot be decoded, kept byte for byte
//! with the reason, so they never block their partition and are never silently lost.

use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::source::Poison;

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
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "dead_letter_reason",
                value: Some(poison.reason.as_str()),
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
        tracing::warn!(partition = poison.partition, offset = poison.offset, reason = %poison.reason, "event sent to the dead-letter topic");
        Ok(())
    }
}
