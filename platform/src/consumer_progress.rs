//! How a consumer group of the service records what it has processed: at least once, without
//! ever blocking the task that consumes.
//!
//! A batch's offsets are *stored* once its work is done ([`mark_processed`]), and librdkafka
//! commits the stored offsets in the background every [`COMMIT_INTERVAL_MS`], when partitions
//! are revoked, and when the consumer closes. A synchronous commit was tried first: while the
//! group coordinator is away (a broker restart), `rd_kafka_commit` waits for it, and the
//! rebalance that follows a session timeout can only be served by the thread stuck in that
//! commit, so the consumer never resumed (seen in the Kafka-restart drill). Storing is a local
//! operation that returns at once; what it loses against a synchronous commit is at most one
//! interval of work, projected again after a crash, which every consumer here makes harmless.

use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::error::KafkaResult;
use rdkafka::{Offset, TopicPartitionList};

/// How often librdkafka commits the stored offsets. Short, so the group's committed position
/// (the lag metric, a restart's starting point) trails the work by about a second.
pub const COMMIT_INTERVAL_MS: u32 = 1_000;

/// Consumer settings for [`mark_processed`]: nothing stored by librdkafka on its own (a message
/// handed to us is not processed yet), stored offsets committed in the background.
pub fn commit_stored_offsets(config: &mut rdkafka::ClientConfig) -> &mut rdkafka::ClientConfig {
    config
        .set("enable.auto.offset.store", "false")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", COMMIT_INTERVAL_MS.to_string())
}

/// Stores `next_offsets` ((topic, partition) → the offset of the next message to process) for
/// the background commit. Fails for a partition no longer assigned to this consumer (a
/// rebalance took it): its new owner processes the batch again.
pub fn mark_processed<'a, C: ConsumerContext>(
    consumer: &impl Consumer<C>,
    next_offsets: impl IntoIterator<Item = (&'a str, i32, i64)>,
) -> KafkaResult<()> {
    let mut offsets = TopicPartitionList::new();
    for (topic, partition, next) in next_offsets {
        offsets.add_partition_offset(topic, partition, Offset::Offset(next))?;
    }
    if offsets.count() == 0 {
        return Ok(());
    }
    consumer.store_offsets(&offsets)
}
