//! Rebuilding both projections from the log into fresh tables: the data engineer's tool for a
//! new projection, a backfill, or checking the live tables.
//!
//! The replay reads every partition from the beginning (or from the first offset at or after a
//! time) up to the end offsets it saw when it started, and projects through the same pipeline as
//! the live projector. It joins no consumer group and commits nothing, so it never disturbs the
//! live projector, and since the merge is order-independent the rebuilt tables hold what the
//! live ones hold for the same events.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use oot_avro::CallbackEvent;
use oot_platform::migrate::{self, Outcome};
use oot_platform::settings::StoreSettings;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::pipeline::{now_micros, project, stores_of};
use crate::source::check_key;

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// DynamoDB table to build; must not exist yet.
    #[arg(long = "into-dynamo-table")]
    pub into_dynamo_table: String,

    /// ClickHouse table to build (in the configured database); must not exist yet.
    #[arg(long = "into-clickhouse-table")]
    pub into_clickhouse_table: String,

    /// Start at the first event received at or after this RFC 3339 time (default: the beginning).
    #[arg(long = "from-time")]
    pub from_time: Option<String>,

    /// Events per batch.
    #[arg(long, default_value_t = 5000)]
    pub batch_events: usize,
}

/// What a replay did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayReport {
    pub events: u64,
    pub undecodable: u64,
    /// Decoded, but refused: keyed to another job, or not the contract's words. The live
    /// projector dead-lettered them; the replay skips them too.
    pub refused: u64,
    pub jobs_written: u64,
    pub rows: u64,
}

/// The first offset of each partition at or after `from` (ms since the epoch), or its beginning.
fn start_offsets(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: &[i32],
    from_ms: Option<i64>,
) -> anyhow::Result<TopicPartitionList> {
    let mut list = TopicPartitionList::new();
    for &partition in partitions {
        let offset = from_ms.map_or(Offset::Beginning, Offset::Offset);
        list.add_partition_offset(topic, partition, offset)?;
    }
    if from_ms.is_some() {
        list = consumer.offsets_for_times(list, Duration::from_secs(30))?;
    }
    Ok(list)
}

/// Replays `settings.kafka.topic` into the tables named in `args`.
pub async fn replay(
    settings: &StoreSettings,
    args: &ReplayArgs,
    show_progress: bool,
    shutdown: &CancellationToken,
) -> anyhow::Result<ReplayReport> {
    let mut target = settings.clone();
    target.dynamo.table = args.into_dynamo_table.clone();
    target.clickhouse.table = args.into_clickhouse_table.clone();
    target.validate()?;
    anyhow::ensure!(args.batch_events > 0, "--batch-events must be at least 1");
    let from_ms = args
        .from_time
        .as_deref()
        .map(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map(|at| (at.unix_timestamp_nanos() / 1_000_000) as i64)
                .with_context(|| format!("--from-time {t:?} is not RFC 3339"))
        })
        .transpose()?;

    let dynamo = target.dynamo.client().await;
    let created = migrate::ensure_job_table(&dynamo, &target.dynamo).await?;
    anyhow::ensure!(
        created == Outcome::Created,
        "DynamoDB table {} already exists; replay builds fresh tables",
        target.dynamo.table
    );
    let created =
        migrate::ensure_clickhouse(&target.clickhouse.client(), &target.clickhouse).await?;
    anyhow::ensure!(
        created == Outcome::Created,
        "ClickHouse table {} already exists; replay builds fresh tables",
        target.clickhouse.qualified_table()
    );
    let stores = stores_of(&target).await;

    let topic = &settings.kafka.topic;
    let group = format!("oot-replay-{}", uuid::Uuid::now_v7().simple());
    let mut config = settings.kafka.client_config();
    config
        .set("group.id", &group)
        .set("enable.auto.commit", "false");
    let metadata_client: BaseConsumer = config.create()?;
    let metadata = metadata_client.fetch_metadata(Some(topic), Duration::from_secs(30))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    anyhow::ensure!(
        !partitions.is_empty(),
        "topic {topic} has no partitions (does it exist?)"
    );

    let starts = start_offsets(&metadata_client, topic, &partitions, from_ms)?;
    let mut remaining: HashMap<i32, (i64, i64)> = HashMap::new(); // partition -> (next, end)
    let mut total = 0u64;
    for element in starts.elements() {
        let (low, high) = metadata_client.fetch_watermarks(
            topic,
            element.partition(),
            Duration::from_secs(30),
        )?;
        let start = match element.offset() {
            Offset::Offset(o) => o.max(low),
            Offset::End => high,
            _ => low,
        };
        if start < high {
            remaining.insert(element.partition(), (start, high));
            total += (high - start) as u64;
        }
    }
    let mut assignment = TopicPartitionList::new();
    for (&partition, &(start, _)) in &remaining {
        assignment.add_partition_offset(topic, partition, Offset::Offset(start))?;
    }
    let consumer: StreamConsumer = config.create()?;
    consumer.assign(&assignment)?;

    let progress = indicatif::ProgressBar::new(total);
    if !show_progress {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} replay [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );

    let mut report = ReplayReport::default();
    let mut batch: Vec<CallbackEvent> = Vec::new();
    while !remaining.is_empty() || !batch.is_empty() {
        let message = if remaining.is_empty() {
            None
        } else {
            let received = tokio::select! {
                () = shutdown.cancelled() => anyhow::bail!("replay stopped after {} events", report.events),
                received = tokio::time::timeout(Duration::from_millis(500), consumer.recv()) => received,
            };
            match received {
                Ok(message) => Some(message?.detach()),
                Err(_) => None,
            }
        };
        if let Some(message) = &message {
            let partition = message.partition();
            if let Some((next, end)) = remaining.get_mut(&partition) {
                if message.offset() < *end {
                    *next = message.offset() + 1;
                    progress.inc(1);
                    match oot_avro::decode_event(message.payload().unwrap_or_default()) {
                        Ok(event) => match check_key(message.key(), &event.job_key) {
                            Ok(()) => batch.push(event),
                            Err(_) => report.refused += 1,
                        },
                        Err(_) => report.undecodable += 1,
                    }
                }
                if *next >= *end {
                    remaining.remove(&partition);
                }
            }
        }
        let flush = batch.len() >= args.batch_events
            || (message.is_none() && !batch.is_empty())
            || remaining.is_empty();
        if flush && !batch.is_empty() {
            let events: Vec<&CallbackEvent> = batch.iter().collect();
            let projected = project(&stores, &events, now_micros(), shutdown)
                .await
                .map_err(|e| anyhow::anyhow!("projecting: {e}"))?;
            report.events += projected.events as u64;
            report.refused += projected.rejected.len() as u64;
            report.jobs_written += projected.writes as u64;
            report.rows += projected.rows as u64;
            batch.clear();
        }
    }
    progress.finish_and_clear();
    Ok(report)
}
