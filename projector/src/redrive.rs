//! `oot-projector redrive`: puts dead letters back on the event topic, once what sent them there
//! is fixed (a store limit raised, a bug in the projector fixed and deployed), so they are
//! projected like any other event.
//!
//! Each dead letter is produced again byte for byte: same key (so the same partition as the
//! job's other events: the default partitioner hashes the key, as ingest's does), same payload,
//! the message's original headers (trace context), minus the headers the projector added
//! ([`DEAD_LETTER_HEADERS`]). Projecting an event twice is harmless (the merge is idempotent),
//! so a redrive that fails half way can simply be run again.
//!
//! **Where it starts.** Redrive commits how far it has read on the dead-letter topic under its own
//! consumer group (`--redrive-group`), after every message up to there is acknowledged on the
//! event topic; the next run starts there, so a message is redriven once. Messages left out by a
//! filter are passed over too (they are reported as skipped); `--from-offset` or `--from-time`
//! reads again from an earlier point. `--dry-run` prints what would be redriven and commits
//! nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use futures::stream::{FuturesUnordered, StreamExt as _};
use oot_platform::settings::KafkaSettings;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::dead_letter::{dead_letter_topic, DEAD_LETTER_HEADERS};

#[derive(Debug, Clone, Args)]
pub struct RedriveArgs {
    /// Print what would be redriven; produce nothing and commit nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Only dead letters of this kind (`parked`, `undecodable`, `invalid_event`,
    /// `job_key_mismatch`); repeat for several. Default: every kind.
    #[arg(long = "kind")]
    pub kinds: Vec<String>,

    /// Only dead letters whose reason contains this text (e.g. `ValidationException`).
    #[arg(long = "reason-contains")]
    pub reason_contains: Option<String>,

    /// Start at this offset of every partition of the dead-letter topic, instead of where the
    /// last redrive stopped.
    #[arg(long = "from-offset", conflicts_with = "from_time")]
    pub from_offset: Option<i64>,

    /// Start at the first dead letter written at or after this RFC 3339 time, instead of where
    /// the last redrive stopped.
    #[arg(long = "from-time")]
    pub from_time: Option<String>,

    /// Consumer group that remembers how far redrive has read the dead-letter topic.
    #[arg(long = "redrive-group", default_value = "oot-projector-redrive")]
    pub group: String,
}

/// What a redrive did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RedriveReport {
    /// Dead letters read.
    pub examined: u64,
    /// Put back on the event topic (or, with `--dry-run`, that would have been).
    pub redriven: u64,
    /// Left out by the filters.
    pub skipped: u64,
}

/// A dead letter's header as text.
fn header<'a>(message: &'a OwnedMessage, name: &str) -> Option<&'a str> {
    message
        .headers()?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
}

/// Whether a dead letter of `kind` and `reason` passes the filters of `args`.
pub fn selected(args: &RedriveArgs, kind: Option<&str>, reason: Option<&str>) -> bool {
    let kind_ok = args.kinds.is_empty() || kind.is_some_and(|k| args.kinds.iter().any(|a| a == k));
    let reason_ok = args
        .reason_contains
        .as_deref()
        .is_none_or(|text| reason.is_some_and(|r| r.contains(text)));
    kind_ok && reason_ok
}

/// The message's own headers: every header but the dead-letter ones, in order.
pub fn original_headers(message: &OwnedMessage) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new();
    if let Some(all) = message.headers() {
        for h in all.iter() {
            if !DEAD_LETTER_HEADERS.contains(&h.key) {
                headers = headers.insert(Header {
                    key: h.key,
                    value: h.value,
                });
            }
        }
    }
    headers
}

/// Where to start reading each partition of the dead-letter topic.
fn start_offsets(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: &[i32],
    args: &RedriveArgs,
) -> anyhow::Result<BTreeMap<i32, i64>> {
    let mut starts = BTreeMap::new();
    let mut list = TopicPartitionList::new();
    for &partition in partitions {
        list.add_partition(topic, partition);
    }
    let chosen = if let Some(from) = args.from_offset {
        for &partition in partitions {
            list.set_partition_offset(topic, partition, Offset::Offset(from))?;
        }
        list
    } else if let Some(at) = &args.from_time {
        let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("--from-time {at:?} is not RFC 3339"))?;
        let ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000)?;
        for &partition in partitions {
            list.set_partition_offset(topic, partition, Offset::Offset(ms))?;
        }
        consumer.offsets_for_times(list, Duration::from_secs(30))?
    } else {
        consumer.committed_offsets(list, Duration::from_secs(30))?
    };
    for &partition in partitions {
        let (low, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(30))?;
        let offset = match chosen.find_partition(topic, partition).map(|p| p.offset()) {
            Some(Offset::Offset(o)) => o.clamp(low, high),
            // After the last message for that time.
            Some(Offset::End) => high,
            // Nothing committed yet: from the beginning.
            _ => low,
        };
        starts.insert(partition, offset);
    }
    Ok(starts)
}

/// Redrives the dead letters of `kafka.topic` onto it; see the module docs.
pub async fn redrive(
    kafka: &KafkaSettings,
    args: &RedriveArgs,
    shutdown: &CancellationToken,
) -> anyhow::Result<RedriveReport> {
    kafka.validate()?;
    let dead = dead_letter_topic(&kafka.topic);
    let mut config = kafka.client_config();
    config
        .set("group.id", &args.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    let metadata_client: BaseConsumer = config.create()?;
    let metadata = metadata_client.fetch_metadata(Some(&dead), Duration::from_secs(30))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == dead && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    anyhow::ensure!(
        !partitions.is_empty(),
        "dead-letter topic {dead} has no partitions (does it exist?)"
    );
    let starts = start_offsets(&metadata_client, &dead, &partitions, args)?;
    // partition -> (next offset to read, end offset when the redrive started)
    let mut remaining: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    // Partitions read, and the offset after the last message read: what is committed (a
    // partition not read keeps its commit, even when `--from-offset` started it earlier).
    let mut reached: BTreeMap<i32, i64> = BTreeMap::new();
    for (&partition, &start) in &starts {
        let (_, high) =
            metadata_client.fetch_watermarks(&dead, partition, Duration::from_secs(30))?;
        if start < high {
            remaining.insert(partition, (start, high));
        }
    }
    let mut assignment = TopicPartitionList::new();
    for (&partition, &(start, _)) in &remaining {
        assignment.add_partition_offset(&dead, partition, Offset::Offset(start))?;
    }
    let consumer: StreamConsumer = config.create()?;
    consumer.assign(&assignment)?;
    let producer: FutureProducer = kafka
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()?;

    let mut report = RedriveReport::default();
    let mut deliveries = FuturesUnordered::new();
    while !remaining.is_empty() {
        let message = tokio::select! {
            () = shutdown.cancelled() => anyhow::bail!("redrive stopped; nothing committed, run it again"),
            received = tokio::time::timeout(Duration::from_secs(30), consumer.recv()) => received
                .map_err(|_| anyhow::anyhow!("no dead letter arrived for 30 s; nothing committed"))??
                .detach(),
        };
        let partition = message.partition();
        let Some(&(_, end)) = remaining.get(&partition) else {
            continue;
        };
        if message.offset() >= end {
            remaining.remove(&partition);
            continue;
        }
        report.examined += 1;
        reached.insert(partition, message.offset() + 1);
        if message.offset() + 1 >= end {
            remaining.remove(&partition);
        }
        let kind = header(&message, "dead_letter_kind");
        let reason = header(&message, "dead_letter_reason");
        if !selected(args, kind, reason) {
            report.skipped += 1;
            continue;
        }
        report.redriven += 1;
        let key = message
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned());
        println!(
            "{} {dead}/{partition}@{} kind={} key={} reason={}",
            if args.dry_run {
                "would redrive"
            } else {
                "redrive"
            },
            message.offset(),
            kind.unwrap_or("?"),
            key.as_deref().unwrap_or("<none>"),
            reason.unwrap_or("?"),
        );
        if args.dry_run {
            continue;
        }
        let topic = kafka.topic.clone();
        let producer = producer.clone();
        deliveries.push(async move {
            let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&topic)
                .payload(message.payload().unwrap_or_default())
                .headers(original_headers(&message));
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            producer
                .send(record, Duration::from_secs(30))
                .await
                .map(|_| ())
                .map_err(|(error, _)| {
                    anyhow::anyhow!(
                        "redriving {}/{}@{}: {error}",
                        message.topic(),
                        message.partition(),
                        message.offset()
                    )
                })
        });
    }
    // Commit only once every redriven message is acknowledged: a failure leaves the group where
    // it was, and running again redrives (harmlessly) what was already sent.
    while let Some(delivered) = deliveries.next().await {
        delivered?;
    }
    if !args.dry_run && report.examined > 0 {
        let mut offsets = TopicPartitionList::new();
        for (&partition, &next) in &reached {
            offsets.add_partition_offset(&dead, partition, Offset::Offset(next))?;
        }
        consumer
            .commit(&offsets, CommitMode::Sync)
            .context("committing how far redrive has read")?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: RedriveArgs,
    }

    #[test]
    fn filters_select_by_kind_and_reason_text() {
        let all = Cli::parse_from(["redrive"]).args;
        assert!(selected(&all, Some("parked"), Some("x")));
        assert!(selected(&all, None, None));
        let parked = Cli::parse_from(["redrive", "--kind", "parked", "--kind", "undecodable"]).args;
        assert!(selected(&parked, Some("parked"), None));
        assert!(selected(&parked, Some("undecodable"), None));
        assert!(!selected(&parked, Some("invalid_event"), None));
        assert!(!selected(&parked, None, None));
        let text = Cli::parse_from(["redrive", "--reason-contains", "Number overflow"]).args;
        assert!(selected(
            &text,
            Some("parked"),
            Some("dynamodb refused: Number overflow")
        ));
        assert!(!selected(&text, Some("parked"), Some("other")));
    }

    #[test]
    fn from_offset_and_from_time_are_exclusive() {
        let both = Cli::try_parse_from([
            "redrive",
            "--from-offset",
            "3",
            "--from-time",
            "2026-01-01T00:00:00Z",
        ]);
        assert!(both.is_err());
    }

    #[test]
    fn only_the_dead_letter_headers_are_removed() {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "traceparent",
                value: Some("00-abc-01"),
            })
            .insert(Header {
                key: "dead_letter_reason",
                value: Some("x"),
            })
            .insert(Header {
                key: "source_offset",
                value: Some("7"),
            });
        let message = OwnedMessage::new(
            Some(b"payload".to_vec()),
            Some(b"key".to_vec()),
            "t.dead-letter".to_owned(),
            rdkafka::Timestamp::NotAvailable,
            0,
            7,
            Some(headers),
        );
        let kept = original_headers(&message);
        let names: Vec<&str> = kept.iter().map(|h| h.key).collect();
        assert_eq!(names, ["traceparent"]);
        assert_eq!(
            kept.iter().next().and_then(|h| h.value),
            Some(&b"00-abc-01"[..])
        );
    }
}
