//! Building the projector and running it until stopped (the shape of zero-to-production's
//! `Application`): `build` checks the settings, creates what is missing, joins the consumer
//! group and binds; `run_until_stopped` projects batch after batch until the token is cancelled,
//! finishing and committing the batch in hand before it returns.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use oot_avro::CallbackEvent;
use oot_platform::deliveries_table::ensure_deliveries_topic;
use oot_platform::health::{health_routes, Readiness};
use oot_platform::migrate;
use oot_platform::probes::{clickhouse_probe, dynamo_probe, kafka_probe};
use oot_platform::settings::StoreSettings;
use oot_platform::shutdown::serve_until_cancelled;
use tokio_util::sync::CancellationToken;

use crate::config::ProjectorConfig;
use crate::dead_letter::{dead_letter_topic, DeadLetterReason, DeadLetters};
use crate::delivery_rows::{DeliveryRow, DeliveryRows};
use crate::metrics::ProjectorMetrics;
// Re-exported where callers have always found it; it lives beside `Stores`.
pub use crate::pipeline::stores_of;
use crate::pipeline::{
    insert_rows, keep_rollups, now_micros, store_jobs, JobsStored, ProjectError, Projected,
    RowsStored, Stores,
};
use crate::retry::{with_retries, Failed};
use crate::source::{Batch, ConsumerFatal, EventSource, Poison};

pub struct Application {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    /// The consumer in use; replaced by a new one built from `consumer_config` when librdkafka
    /// declares it unusable (the lag reporter follows the replacement).
    source: tokio::sync::watch::Sender<Arc<EventSource>>,
    consumer_config: rdkafka::ClientConfig,
    dead_letters: DeadLetters,
    stores: Stores,
    /// The delivery log: the accepted events' rows (written with each batch), and the receipts
    /// of refusals (their own consumer, [`crate::receipts`]).
    deliveries: DeliveryRows,
    metrics: ProjectorMetrics,
    config: ProjectorConfig,
}

/// Creates whatever of the topics and the two tables is missing, and logs what it found.
pub async fn migrate_all(stores: &StoreSettings) -> anyhow::Result<()> {
    stores.validate()?;
    let topic = migrate::ensure_topic(&stores.kafka).await?;
    tracing::info!(topic = %stores.kafka.topic, outcome = ?topic, "kafka topic");
    let mut dead = stores.kafka.clone();
    dead.topic = dead_letter_topic(&stores.kafka.topic);
    let outcome = migrate::ensure_topic(&dead).await?;
    tracing::info!(topic = %dead.topic, ?outcome, "kafka dead-letter topic");
    let outcome = ensure_deliveries_topic(&stores.kafka).await?;
    tracing::info!(topic = %stores.kafka.deliveries_topic, ?outcome, "kafka deliveries topic");
    let dynamo = stores.dynamo.client().await;
    let table = migrate::ensure_job_table(&dynamo, &stores.dynamo).await?;
    tracing::info!(table = %stores.dynamo.table, outcome = ?table, "dynamodb table");
    let clickhouse = stores.clickhouse.client();
    let completed = migrate::ensure_clickhouse(&clickhouse, &stores.clickhouse).await?;
    tracing::info!(table = %stores.clickhouse.qualified_table(), outcome = ?completed, "clickhouse table");
    Ok(())
}

impl Application {
    pub async fn build(config: ProjectorConfig) -> anyhow::Result<Self> {
        config.stores.validate()?;
        anyhow::ensure!(
            config.batch_events > 0,
            "OOT_PROJECTOR_BATCH_EVENTS must be at least 1"
        );
        anyhow::ensure!(
            config.batch_bytes > 0,
            "OOT_PROJECTOR_BATCH_BYTES must be at least 1"
        );
        migrate_all(&config.stores).await?;
        let kafka = &config.stores.kafka;
        let mut consumer_config = kafka.client_config();
        // A short session and static membership: a crashed projector's partitions move (or, when
        // it restarts with the same instance id, come back to it) within seconds, not the 45 s
        // default session timeout.
        consumer_config.set("session.timeout.ms", config.session_timeout_ms.to_string());
        consumer_config.set(
            "heartbeat.interval.ms",
            (config.session_timeout_ms / 4).max(500).to_string(),
        );
        let instance_id = config.group_instance_id();
        if let Some(id) = &instance_id {
            consumer_config.set("group.instance.id", id);
        }
        tracing::info!(group = %config.group, instance_id = ?instance_id, session_timeout_ms = config.session_timeout_ms, "consumer group membership");
        let source =
            tokio::sync::watch::Sender::new(Arc::new(subscribe(&consumer_config, &config)?));
        let dead_letters = DeadLetters::new(&kafka.client_config(), &kafka.topic)?;
        let stores = stores_of(&config.stores).await;
        let deliveries = DeliveryRows::new(
            config.stores.clickhouse.client(),
            &config.stores.clickhouse.table,
        );
        let metrics = ProjectorMetrics::new();
        let readiness = Readiness::new(vec![
            kafka_probe(kafka)?,
            dynamo_probe(config.stores.dynamo.client().await, &config.stores.dynamo),
            clickhouse_probe(config.stores.clickhouse.client(), &config.stores.clickhouse),
        ]);
        let router = health_routes(readiness).merge(metrics.routes());
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        Ok(Self {
            listener,
            router,
            source,
            consumer_config,
            dead_letters,
            stores,
            deliveries,
            metrics,
            config,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn metrics(&self) -> ProjectorMetrics {
        self.metrics.clone()
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(address = ?self.listener.local_addr().ok(), group = %self.config.group, "projector running");
        let server = tokio::spawn(serve_until_cancelled(
            self.listener,
            self.router,
            shutdown.clone(),
        ));
        let lag = tokio::spawn(report_lag(
            self.source.subscribe(),
            self.metrics.clone(),
            shutdown.clone(),
        ));
        let retention = tokio::spawn(crate::retention::enforce_retention(
            self.config.stores.clickhouse.client(),
            self.config.stores.clickhouse.clone(),
            shutdown.clone(),
        ));
        let receipts = tokio::spawn(crate::receipts::run(
            receipts_consumer_config(&self.config),
            self.config.stores.kafka.deliveries_topic.clone(),
            crate::receipts::receipts_group(&self.config.group),
            self.deliveries.clone(),
            self.metrics.clone(),
            shutdown.clone(),
        ));
        let projected = loop {
            let source = self.source.borrow().clone();
            let outcome = project_until_stopped(
                &source,
                &self.dead_letters,
                &self.stores,
                &self.deliveries,
                &self.metrics,
                &self.config,
                &shutdown,
            )
            .await;
            match outcome {
                Err(error) if error.downcast_ref::<ConsumerFatal>().is_some() => {
                    // A fenced static member (seen after a broker restart) can never consume
                    // again; a new consumer rejoins the group and resumes from the committed
                    // offsets, so the process rides through instead of needing a restart.
                    tracing::error!(%error, "rebuilding the Kafka consumer");
                    drop(source);
                    match subscribe(&self.consumer_config, &self.config) {
                        Ok(fresh) => {
                            self.source.send_replace(Arc::new(fresh));
                            self.metrics.consumer_rebuilds.inc();
                        }
                        Err(error) => break Err(error),
                    }
                }
                other => break other,
            }
        };
        shutdown.cancel();
        lag.abort();
        retention.abort();
        // Its batch in hand is stored and committed first (or left uncommitted if stopped
        // mid-retry): nothing to abort.
        if let Err(error) = receipts.await {
            tracing::warn!(%error, "the delivery receipts' task ended abnormally");
        }
        server.await.context("health server task")??;
        projected
    }
}

/// The receipts consumer's settings: the event consumer's membership (session, static instance
/// id with its own suffix: two members of different groups may share an id, but a distinct one
/// reads better in the broker's logs).
fn receipts_consumer_config(config: &ProjectorConfig) -> rdkafka::ClientConfig {
    let mut consumer = config.stores.kafka.client_config();
    consumer.set("session.timeout.ms", config.session_timeout_ms.to_string());
    consumer.set(
        "heartbeat.interval.ms",
        (config.session_timeout_ms / 4).max(500).to_string(),
    );
    if let Some(id) = config.group_instance_id() {
        consumer.set("group.instance.id", format!("{id}-deliveries"));
    }
    consumer
}

/// The group's consumer of the event topic, with the batch bound of `config`.
fn subscribe(
    consumer_config: &rdkafka::ClientConfig,
    config: &ProjectorConfig,
) -> anyhow::Result<EventSource> {
    Ok(EventSource::subscribe(
        consumer_config.clone(),
        &config.stores.kafka.topic,
        &config.group,
    )?
    .with_batch_bytes(config.batch_bytes))
}

/// Refreshes the lag and the halted partitions every few seconds, beside the batch loop (which
/// may be stuck in retries: that is when the lag must keep telling the truth). While the
/// brokers do not answer, the last value stays.
async fn report_lag(
    source: tokio::sync::watch::Receiver<Arc<EventSource>>,
    metrics: ProjectorMetrics,
    shutdown: CancellationToken,
) {
    loop {
        let source = source.borrow().clone();
        let reader = source.clone();
        if let Ok(Some(lag)) = tokio::task::spawn_blocking(move || reader.lag()).await {
            metrics.consumer_lag.set(lag);
        }
        metrics
            .halted_partitions
            .set(i64::try_from(source.halted().len()).unwrap_or(i64::MAX));
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Sends `poison` to the dead-letter topic, waiting out an unreachable broker, and counts it.
/// `Ok(false)`: stopped before it was sent.
async fn dead_letter(
    dead_letters: &DeadLetters,
    metrics: &ProjectorMetrics,
    poison: &Poison,
    shutdown: &CancellationToken,
) -> anyhow::Result<bool> {
    match with_retries("dead-letter topic", shutdown, || dead_letters.send(poison)).await {
        Ok(()) => {
            metrics.dead_letters.inc();
            if poison.reason.key_mismatch().is_some() {
                metrics.job_key_mismatches.inc();
            }
            if let DeadLetterReason::Parked(refusal) = &poison.reason {
                metrics.count_parked(&refusal.label());
            }
            Ok(true)
        }
        Err(Failed::Stopped) => Ok(false),
        Err(Failed::Permanent(error)) => Err(error),
    }
}

/// Batches in hand at once, one per stage of [`project_until_stopped`].
const BATCHES_IN_HAND: usize = 3;

/// The projector's loop: batch, dead letters, both stores, refused and parked events, commit.
///
/// Three stages, each on its own batch, in order: the jobs merged into the job table
/// ([`store_jobs`]); their rows inserted into ClickHouse ([`insert_rows`], after which they
/// show in the views); the rollups kept, the delivery log written and the offsets committed
/// ([`keep_rollups`], [`settle`]). So a batch's rows are inserted while the previous batch's
/// rollups are kept, and the next batch's jobs stored. Each stage takes its batches in order,
/// so a batch's jobs are stored only after the previous batch's (a job in both merges onto its
/// latest item) and batches are committed in order, each once all its stages are done: a crash
/// redelivers what was not committed, which merges unchanged and re-sends its rows and cells,
/// as it always did. At most [`BATCHES_IN_HAND`] batches are held, one per stage.
///
/// When `shutdown` is cancelled no new batch is read, and the batches in hand are carried to
/// their commit (a stage stopped mid-retry leaves its batch, and those after it, uncommitted).
async fn project_until_stopped(
    source: &EventSource,
    dead_letters: &DeadLetters,
    stores: &Stores,
    deliveries: &DeliveryRows,
    metrics: &ProjectorMetrics,
    config: &ProjectorConfig,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let permits = tokio::sync::Semaphore::new(BATCHES_IN_HAND);
    let in_hand = &permits;
    // Capacity 1: the permits, not the channels, bound the batches held.
    let (to_insert, mut inserting) = tokio::sync::mpsc::channel::<(Batch, JobsStored)>(1);
    let (to_settle, mut settling) = tokio::sync::mpsc::channel::<(Batch, RowsStored)>(1);
    let read_and_store_jobs = async move {
        while !shutdown.is_cancelled() {
            // Waiting for a permit is cut short by a stop: the stage holding the permits may
            // have stopped mid-retry, and would give none back.
            let permit = tokio::select! {
                permit = in_hand.acquire() => match permit {
                    Ok(permit) => permit,
                    Err(_closed) => break,
                },
                () = shutdown.cancelled() => break,
            };
            let batch = source
                .next_batch(config.batch_events, config.batch_wait(), shutdown)
                .await?;
            metrics
                .halted_partitions
                .set(i64::try_from(source.halted().len()).unwrap_or(i64::MAX));
            if batch.is_empty() {
                continue;
            }
            for poison in &batch.poison {
                if !dead_letter(dead_letters, metrics, poison, shutdown).await? {
                    return Ok(());
                }
            }
            let stored = {
                let events: Vec<&CallbackEvent> = batch.events.iter().map(|e| &e.event).collect();
                store_jobs(stores, &events, shutdown).await
            };
            let stored = match stored {
                Ok(stored) => stored,
                // Stopped mid-retry: nothing is committed, the batch will be projected again.
                Err(ProjectError::Stopped) => return Ok(()),
                Err(error) => return Err(anyhow::Error::from(error)),
            };
            // The permit goes with the batch, given back once it is settled.
            permit.forget();
            if to_insert.send((batch, stored)).await.is_err() {
                break;
            }
        }
        Ok::<(), anyhow::Error>(())
    };
    let insert = async move {
        while let Some((batch, stored)) = inserting.recv().await {
            let inserted = match insert_rows(stores, stored, now_micros(), shutdown).await {
                Ok(inserted) => inserted,
                Err(ProjectError::Stopped) => return Ok(()),
                Err(error) => return Err(anyhow::Error::from(error)),
            };
            let now = now_micros();
            for sourced in inserted.shown_events().filter_map(|i| batch.events.get(i)) {
                let seconds = (now - sourced.event.received_at).max(0) as f64 / 1e6;
                metrics.visible_seconds.observe(seconds);
            }
            if to_settle.send((batch, inserted)).await.is_err() {
                break;
            }
        }
        Ok::<(), anyhow::Error>(())
    };
    // Each stage owns its channels' ends, so one that ends lets the others end too.
    let settle_in_order = async move {
        while let Some((batch, inserted)) = settling.recv().await {
            let rows = async {
                let projected = keep_rollups(stores, inserted, shutdown).await?;
                store_accepted_receipts(deliveries, metrics, &batch, &projected, shutdown).await?;
                Ok(projected)
            };
            let projected = match rows.await {
                Ok(projected) => projected,
                Err(ProjectError::Stopped) => return Ok(()),
                Err(error) => return Err(anyhow::Error::from(error)),
            };
            if !settle(source, dead_letters, metrics, &batch, &projected, shutdown).await? {
                return Ok(());
            }
            in_hand.add_permits(1);
        }
        Ok::<(), anyhow::Error>(())
    };
    tokio::try_join!(read_and_store_jobs, insert, settle_in_order)?;
    Ok(())
}

/// The delivery log's rows of `batch`'s events, now that its stores are written (the moment
/// each became visible): what became of each ([`Projected::outcomes`]), in one INSERT before
/// the batch is committed (a crash writes them again, as `unchanged`, which the first rows
/// outrank). Retried like the batch's other writes; a row refused for good is left out
/// ([`DeliveryRows::store`]), never the batch.
async fn store_accepted_receipts(
    deliveries: &DeliveryRows,
    metrics: &ProjectorMetrics,
    batch: &Batch,
    projected: &Projected,
    shutdown: &CancellationToken,
) -> Result<(), ProjectError> {
    let visible_at = now_micros();
    let rows: Vec<DeliveryRow> = batch
        .events
        .iter()
        .zip(&projected.outcomes)
        .map(|(sourced, outcome)| {
            DeliveryRow::accepted(&sourced.event, outcome, visible_at, visible_at)
        })
        .collect();
    let left_out = deliveries.store(&rows, shutdown).await?;
    metrics.count_receipts("accepted_rows", (rows.len() - left_out) as u64);
    metrics.count_receipts("refused_by_store", left_out as u64);
    Ok(())
}

/// A projected batch's end: its refused and parked events dead-lettered, its offsets committed,
/// its figures counted. `false` when stopped before its dead letters were written (nothing
/// committed: the batch will be projected again).
async fn settle(
    source: &EventSource,
    dead_letters: &DeadLetters,
    metrics: &ProjectorMetrics,
    batch: &Batch,
    projected: &Projected,
    shutdown: &CancellationToken,
) -> anyhow::Result<bool> {
    for rejected in &projected.rejected {
        let Some(sourced) = batch.events.get(rejected.index) else {
            anyhow::bail!("rejected event {} is not in the batch", rejected.index);
        };
        let poison = sourced.poison(rejected.reason.clone());
        if !dead_letter(dead_letters, metrics, &poison, shutdown).await? {
            return Ok(false);
        }
    }
    if let Err(error) = source.mark_processed(batch) {
        if let Some(fatal) = source.fatal() {
            return Err(fatal.into());
        }
        tracing::warn!(%error, "offsets not stored for commit; the batch will be projected again (harmlessly)");
    }
    let now = now_micros();
    for event in &batch.events {
        let seconds = (now - event.event.received_at).max(0) as f64 / 1e6;
        metrics.freshness_seconds.observe(seconds);
    }
    for (stage, took) in &projected.stages {
        metrics
            .stage_seconds
            .get_or_create(&vec![("stage".to_owned(), stage.as_str().to_owned())])
            .observe(took.as_secs_f64());
    }
    metrics.events.inc_by(projected.events as u64);
    metrics.batches.inc();
    metrics.dynamodb_writes.inc_by(projected.writes as u64);
    metrics.clickhouse_rows.inc_by(projected.rows as u64);
    tracing::debug!(
        ?projected,
        poison = batch.poison.len() + projected.rejected.len(),
        "batch projected and committed"
    );
    Ok(true)
}
