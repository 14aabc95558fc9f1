//! Building the evaluator and running it until stopped (the projector's shape): `build` checks
//! the settings and the rules file, creates the alerts table, reloads the state the last run
//! stored, joins its consumer group on the callback and deliveries topics and binds `/healthz`,
//! `/readyz` and `/metrics`; `run_until_stopped` evaluates batch after batch:
//!
//! 1. a batch: the messages read until `--batch-wait-ms` after its first (or 500), and a clock
//!    tick when one is due (`stale`, refusals leaving the hour);
//! 2. each completed job's run and each refusal applied to the state ([`Evaluator`]);
//! 3. what changed stored in the alerts table, with the webhook deliveries of every alert
//!    opened or closed (retried while DynamoDB is away, for as long as it takes);
//! 4. only then the batch's offsets committed: a crash before redelivers the batch, which
//!    changes nothing already stored (a run already recorded is no change; an alert already
//!    open does not open again; a delivery already recorded is not recorded again);
//! 5. the new deliveries handed to the dispatcher ([`crate::dispatch`]).
//!
//! A callback event of a schema this build does not know (a newer ingest) stops the evaluator
//! with an error before anything of its batch is committed, as the projector halts: skipping
//! it would make a state no replay by the newer build gives. Other undecodable messages are
//! skipped and counted (the projector dead-letters them; they project nothing).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use oot_platform::consumer_progress::{commit_stored_offsets, mark_processed};
use oot_platform::deliveries_table::ensure_deliveries_topic;
use oot_platform::health::{health_routes, Readiness};
use oot_platform::http_metrics::metrics_routes;
use oot_platform::migrate::ensure_topic;
use oot_platform::probes::{dynamo_probe, kafka_probe};
use oot_platform::settings::DynamoSettings;
use oot_platform::shutdown::serve_until_cancelled;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::Message;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::config::AlertsConfig;
use crate::dispatch::{now_micros, Outbox};
use crate::evaluator::{run_of, Changes, Evaluator};
use crate::metrics::AlertsMetrics;
use crate::settings::{AlertsSettings, SECRET_VARIABLE};
use crate::store::AlertStore;

/// Messages per batch at most.
const BATCH_MESSAGES: usize = 500;
/// Pause after a consumption error (the broker is away; librdkafka reconnects).
const CONSUME_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// The rules file's configuration, or the defaults when none is given.
pub fn load_config(settings: &AlertsSettings) -> anyhow::Result<AlertsConfig> {
    Ok(match &settings.alerts_config {
        Some(path) => AlertsConfig::load(path)?,
        None => AlertsConfig::default(),
    })
}

/// Creates whatever of the topics and the alerts table is missing.
pub async fn migrate(settings: &AlertsSettings) -> anyhow::Result<()> {
    settings.kafka.validate()?;
    settings.dynamo.validate()?;
    let topic = ensure_topic(&settings.kafka).await?;
    tracing::info!(topic = %settings.kafka.topic, outcome = ?topic, "kafka topic");
    let deliveries = ensure_deliveries_topic(&settings.kafka).await?;
    tracing::info!(topic = %settings.kafka.deliveries_topic, outcome = ?deliveries, "kafka deliveries topic");
    let store = AlertStore::new(
        settings.dynamo.client().await,
        &settings.dynamo.table,
        settings.retention_secs(),
    );
    let created = store.ensure_table().await?;
    tracing::info!(table = %store.table(), created, "dynamodb alerts table");
    Ok(())
}

pub struct Application {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    consumer: StreamConsumer,
    store: AlertStore,
    evaluator: Evaluator,
    outbox: Arc<Outbox>,
    metrics: AlertsMetrics,
    secret: SecretString,
    settings: AlertsSettings,
}

impl Application {
    pub async fn build(settings: AlertsSettings) -> anyhow::Result<Self> {
        let config = load_config(&settings)?;
        let secret = match (&settings.webhook_secret, config.any_webhook()) {
            (Some(secret), _) => secret.clone(),
            (None, false) => SecretString::from(""),
            (None, true) => anyhow::bail!(
                "webhooks are configured but {SECRET_VARIABLE} is not set: their bodies must be signed"
            ),
        };
        migrate(&settings).await?;
        let dynamo = settings.dynamo.client().await;
        let store = AlertStore::new(
            dynamo.clone(),
            &settings.dynamo.table,
            settings.retention_secs(),
        );
        let (evaluator, pending) = store.load().await?.into_evaluator(config);
        tracing::info!(
            slots = evaluator.slots.len(),
            open_alerts = evaluator.open.len(),
            pending_webhooks = pending.len(),
            "state reloaded"
        );
        let outbox = Arc::new(Outbox::default());
        outbox.add(pending);
        let consumer = subscribe(&settings)?;
        let metrics = AlertsMetrics::new();
        metrics
            .open
            .set(i64::try_from(evaluator.open.len()).unwrap_or(i64::MAX));
        let alerts_table = DynamoSettings {
            table: store.table().to_owned(),
            ..settings.dynamo.clone()
        };
        let readiness = Readiness::new(vec![
            kafka_probe(&settings.kafka)?,
            dynamo_probe(dynamo, &alerts_table),
        ]);
        let router = health_routes(readiness).merge(metrics_routes(metrics.registry.clone()));
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        Ok(Self {
            listener,
            router,
            consumer,
            store,
            evaluator,
            outbox,
            metrics,
            secret,
            settings,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn metrics(&self) -> AlertsMetrics {
        self.metrics.clone()
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Application {
            listener,
            router,
            consumer,
            store,
            evaluator,
            outbox,
            metrics,
            secret,
            settings,
        } = self;
        tracing::info!(address = ?listener.local_addr().ok(), group = %settings.group, "alert evaluator running");
        let server = tokio::spawn(serve_until_cancelled(listener, router, shutdown.clone()));
        let dispatcher = tokio::spawn(crate::dispatch::run(
            outbox.clone(),
            store.clone(),
            evaluator.config.webhooks,
            secret,
            metrics.clone(),
            shutdown.clone(),
        ));
        let mut state = Evaluating {
            store,
            evaluator,
            outbox,
            metrics,
            settings,
        };
        let mut ticks = tokio::time::interval(state.settings.tick());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let evaluated = loop {
            if shutdown.is_cancelled() {
                break Ok(());
            }
            let step = tokio::select! {
                () = shutdown.cancelled() => break Ok(()),
                _ = ticks.tick() => {
                    let mut changes = Changes::default();
                    state.evaluator.on_tick(now_micros(), &mut changes);
                    state.settle(&consumer, changes, &BTreeMap::new(), &shutdown).await
                }
                received = consumer.recv() => match received {
                    Ok(first) => state.batch(&consumer, first, &shutdown).await,
                    Err(error) => {
                        if let Some((code, reason)) = consumer.client().fatal_error() {
                            break Err(anyhow::anyhow!("the Kafka consumer hit a fatal error: {code:?}: {reason}"));
                        }
                        tracing::warn!(%error, "consumption error; waiting for the broker");
                        tokio::time::sleep(CONSUME_ERROR_PAUSE).await;
                        Ok(())
                    }
                },
            };
            if let Err(error) = step {
                break Err(error);
            }
        };
        shutdown.cancel();
        if let Err(error) = dispatcher.await {
            tracing::warn!(%error, "the webhook dispatcher ended abnormally");
        }
        server.await.context("health server task")??;
        evaluated
    }
}

/// The evaluator while it runs: what a batch is applied to and stored with.
struct Evaluating {
    store: AlertStore,
    evaluator: Evaluator,
    outbox: Arc<Outbox>,
    metrics: AlertsMetrics,
    settings: AlertsSettings,
}

impl Evaluating {
    /// One batch from its first message: read the rest, apply, store, commit.
    async fn batch(
        &mut self,
        consumer: &StreamConsumer,
        first: BorrowedMessage<'_>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let mut changes = Changes::default();
        let mut offsets = BTreeMap::new();
        apply(
            &mut self.evaluator,
            &self.settings,
            &self.metrics,
            &first,
            &mut changes,
            &mut offsets,
        )?;
        drop(first);
        let deadline = tokio::time::Instant::now() + self.settings.batch_wait();
        let mut taken = 1;
        while taken < BATCH_MESSAGES {
            match tokio::time::timeout_at(deadline, consumer.recv()).await {
                Ok(Ok(message)) => {
                    apply(
                        &mut self.evaluator,
                        &self.settings,
                        &self.metrics,
                        &message,
                        &mut changes,
                        &mut offsets,
                    )?;
                    taken += 1;
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "consumption error; storing the batch so far");
                    break;
                }
                Err(_) => break,
            }
        }
        self.settle(consumer, changes, &offsets, shutdown).await
    }

    /// Stores `changes`, then commits `offsets`, then hands the new deliveries over.
    async fn settle(
        &mut self,
        consumer: &StreamConsumer,
        changes: Changes,
        offsets: &BTreeMap<(String, i32), i64>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let recorded = if changes.is_empty() {
            Vec::new()
        } else {
            let mut delay = Duration::from_millis(100);
            loop {
                match self
                    .store
                    .store(&self.evaluator, &changes, self.settings.hud_url.as_deref())
                    .await
                {
                    Ok(stored) => {
                        self.metrics.refused_items.inc_by(stored.refused as u64);
                        break stored.recorded;
                    }
                    Err(error) => {
                        tracing::warn!(error = %format!("{error:#}"), retry_in = ?delay, "alert state not stored; retrying");
                    }
                }
                tokio::select! {
                    // Not stored, not committed: the batch is read again after a restart.
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        };
        let processed = offsets
            .iter()
            .map(|((topic, partition), &next)| (topic.as_str(), *partition, next));
        if let Err(error) = mark_processed(consumer, processed) {
            // Evaluated again by the next reader: harmless, the state already holds it.
            tracing::warn!(%error, "offsets not stored for commit; the batch will be evaluated again (harmlessly)");
        }
        for transition in &changes.transitions {
            let alert = transition.alert();
            tracing::info!(alert = %alert.id, kind = transition.kind(), rule = %alert.rule, backend = %alert.backend, job = ?alert.job_name, summary = %alert.summary, "alert");
            self.metrics
                .count_transition(&alert.rule, transition.kind());
        }
        self.metrics.batches.inc();
        self.metrics
            .open
            .set(i64::try_from(self.evaluator.open.len()).unwrap_or(i64::MAX));
        self.outbox.add(recorded);
        Ok(())
    }
}

/// Applies one message to the evaluator and notes its offset.
fn apply(
    evaluator: &mut Evaluator,
    settings: &AlertsSettings,
    metrics: &AlertsMetrics,
    message: &BorrowedMessage<'_>,
    changes: &mut Changes,
    offsets: &mut BTreeMap<(String, i32), i64>,
) -> anyhow::Result<()> {
    let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
    let payload = message.payload().unwrap_or_default();
    if topic == settings.kafka.topic {
        match oot_avro::decode_event(payload) {
            Ok(event) => {
                if let Some((slot, run)) = run_of(&event) {
                    metrics.events.inc();
                    evaluator.on_run(slot, run, changes);
                }
            }
            Err(error @ oot_avro::DecodeError::UnknownFingerprint { .. }) => {
                anyhow::bail!(
                    "{topic}[{partition}]@{offset} was written with a schema this evaluator does not know ({error}); deploy the oot-alerts that knows it, which resumes here"
                );
            }
            Err(error) => {
                metrics.undecodable.inc();
                tracing::warn!(%topic, partition, offset, %error, "an undecodable event; skipped");
            }
        }
    } else {
        match oot_avro::decode_receipt(payload) {
            Ok(receipt) => {
                metrics.events.inc();
                evaluator.on_refusal(&receipt, changes);
            }
            Err(error) => {
                metrics.undecodable.inc();
                tracing::warn!(%topic, partition, offset, %error, "an undecodable receipt; skipped");
            }
        }
    }
    offsets.insert((topic.to_owned(), partition), offset + 1);
    Ok(())
}

fn subscribe(settings: &AlertsSettings) -> anyhow::Result<StreamConsumer> {
    let kafka = &settings.kafka;
    let consumer: StreamConsumer = commit_stored_offsets(&mut kafka.client_config())
        .set("group.id", &settings.group)
        // A new group reads the log from its start: the state is a projection of all of it.
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        // A DynamoDB outage is waited out with retries; the group should not evict us.
        .set("max.poll.interval.ms", "900000")
        // Events carry the relay's document (up to 2 MiB); a small prefetch in small fetches
        // bounds memory, as the projector's does (projector/src/source.rs).
        .set("queued.max.messages.kbytes", "4096")
        .set("max.partition.fetch.bytes", "65536")
        .set("fetch.max.bytes", "262144")
        .set("message.max.bytes", "262144")
        .create()
        .context("creating the Kafka consumer")?;
    consumer.subscribe(&[&kafka.topic, &kafka.deliveries_topic])?;
    Ok(consumer)
}
