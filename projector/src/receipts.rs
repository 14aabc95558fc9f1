//! The deliveries topic's consumer (docs/contract.md §16): ingest's receipts of refused
//! callbacks, written into the deliveries table in batches, inside the projector process.
//!
//! It is its own consumer group (`{OOT_PROJECTOR_GROUP}-deliveries`), beside the event
//! topic's, and its own task: nothing it does waits for the projection of events, and nothing
//! the projection does waits for it. A batch closes at [`BATCH_RECEIPTS`] receipts or
//! [`BATCH_WAIT`] after its first; its rows go in one INSERT (transient errors retried with
//! backoff, a row refused for good left out and counted, see [`crate::delivery_rows`]); only then
//! are its offsets stored for commit, so a crash writes a batch again, which the table collapses (each
//! row keyed by its receipt's id).
//!
//! A message that does not decode as a receipt is skipped, logged and counted
//! (`oot_projector_receipts_total{result="undecodable"}`): receipts are a diagnostic record,
//! not the source of any projection, and a newer ingest's receipt (deploy the projector first,
//! as for events) is not worth halting a partition for; it stays on the topic for its
//! retention (7 days) and can be read again by resetting the group's offsets.

use std::collections::BTreeMap;
use std::time::Duration;

use oot_platform::consumer_progress::{commit_stored_offsets, mark_processed};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::Message;
use tokio_util::sync::CancellationToken;

use crate::delivery_rows::{DeliveryRow, DeliveryRows};
use crate::metrics::ProjectorMetrics;
use crate::pipeline::now_micros;
use crate::retry::Failed;

/// Receipts per batch at most.
pub const BATCH_RECEIPTS: usize = 1000;
/// How long a batch waits for more receipts after its first: receipts need not be seen within
/// milliseconds, and fewer, bigger INSERTs are what ClickHouse wants.
pub const BATCH_WAIT: Duration = Duration::from_millis(500);
/// Pause after a consumption error (the broker is away; librdkafka reconnects).
const CONSUME_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// The consumer group of the receipts consumer of projectors in `group`.
pub fn receipts_group(group: &str) -> String {
    format!("{group}-deliveries")
}

/// One batch of receipts: their rows, and the offsets to commit once they are stored.
#[derive(Default)]
struct ReceiptBatch {
    rows: Vec<DeliveryRow>,
    next_offsets: BTreeMap<i32, i64>,
}

/// Reads the deliveries topic in consumer group `group` and writes each receipt into
/// `deliveries`, until `shutdown` (the batch in hand is stored and committed first). A consumer
/// librdkafka declares unusable is rebuilt from `config`.
pub async fn run(
    config: rdkafka::ClientConfig,
    topic: String,
    group: String,
    deliveries: DeliveryRows,
    metrics: ProjectorMetrics,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        let consumer = match subscribe(config.clone(), &topic, &group) {
            Ok(consumer) => consumer,
            Err(error) => {
                tracing::error!(%error, %topic, "cannot consume the deliveries topic; trying again");
                pause(&shutdown, CONSUME_ERROR_PAUSE * 5).await;
                continue;
            }
        };
        consume(&consumer, &topic, &deliveries, &metrics, &shutdown).await;
    }
}

fn subscribe(
    mut config: rdkafka::ClientConfig,
    topic: &str,
    group: &str,
) -> anyhow::Result<StreamConsumer> {
    let consumer: StreamConsumer = commit_stored_offsets(&mut config)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        // A ClickHouse outage is waited out with retries; the group should not evict us.
        .set("max.poll.interval.ms", "900000")
        // Receipts are small: a little prefetch is plenty.
        .set("queued.max.messages.kbytes", "4096")
        .create()?;
    consumer.subscribe(&[topic])?;
    Ok(consumer)
}

async fn pause(shutdown: &CancellationToken, how_long: Duration) {
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(how_long) => {}
    }
}

/// Batches from `consumer` until stopped, or until librdkafka declares it unusable.
async fn consume(
    consumer: &StreamConsumer,
    topic: &str,
    deliveries: &DeliveryRows,
    metrics: &ProjectorMetrics,
    shutdown: &CancellationToken,
) {
    loop {
        let Some(batch) = next_batch(consumer, metrics, shutdown).await else {
            return;
        };
        if batch.next_offsets.is_empty() {
            if consumer.client().fatal_error().is_some() {
                tracing::error!("the deliveries consumer hit a fatal error; rebuilding it");
                return;
            }
            continue;
        }
        match deliveries.store(&batch.rows, shutdown).await {
            Ok(left_out) => {
                metrics.count_receipts("refused_rows", (batch.rows.len() - left_out) as u64);
                metrics.count_receipts("refused_by_store", left_out as u64);
            }
            // Not stored, not committed: the batch is read again by whoever has the partitions.
            Err(Failed::Stopped) => return,
            Err(Failed::Permanent(error)) => {
                tracing::error!(%error, "delivery receipts not stored");
                return;
            }
        }
        if let Err(error) = mark_processed(
            consumer,
            batch
                .next_offsets
                .iter()
                .map(|(&p, &next)| (topic, p, next)),
        ) {
            // Written again by the next reader of those partitions: harmless (one row per id).
            tracing::warn!(%error, "delivery receipts' offsets not stored for commit");
        }
        if shutdown.is_cancelled() {
            return;
        }
    }
}

/// The next batch: waits for a first receipt (`None` once stopped), then takes more until
/// [`BATCH_RECEIPTS`] or [`BATCH_WAIT`]. An empty batch after a consumption error.
async fn next_batch(
    consumer: &StreamConsumer,
    metrics: &ProjectorMetrics,
    shutdown: &CancellationToken,
) -> Option<ReceiptBatch> {
    let mut batch = ReceiptBatch::default();
    let first = tokio::select! {
        () = shutdown.cancelled() => return None,
        message = consumer.recv() => message,
    };
    match first {
        Ok(message) => add(&mut batch, &message, metrics),
        Err(error) => {
            tracing::warn!(%error, "deliveries topic: consumption error; waiting for the broker");
            pause(shutdown, CONSUME_ERROR_PAUSE).await;
            return Some(batch);
        }
    }
    let deadline = tokio::time::Instant::now() + BATCH_WAIT;
    while batch.rows.len() < BATCH_RECEIPTS {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(message)) => add(&mut batch, &message, metrics),
            Ok(Err(error)) => {
                tracing::warn!(%error, "deliveries topic: consumption error; storing the batch so far");
                break;
            }
            Err(_) => break,
        }
    }
    Some(batch)
}

fn add(batch: &mut ReceiptBatch, message: &impl Message, metrics: &ProjectorMetrics) {
    batch
        .next_offsets
        .insert(message.partition(), message.offset() + 1);
    match oot_avro::decode_receipt(message.payload().unwrap_or_default()) {
        Ok(receipt) => batch.rows.push(DeliveryRow::refused(receipt, now_micros())),
        Err(error) => {
            metrics.count_receipts("undecodable", 1);
            tracing::error!(
                partition = message.partition(),
                offset = message.offset(),
                %error,
                "a message of the deliveries topic is not a receipt this projector can read; \
                 skipped (a newer ingest: deploy the projector first)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receipts_group_is_the_projectors_own() {
        assert_eq!(receipts_group("oot-projector"), "oot-projector-deliveries");
    }
}
