//! Building the ingest service and running it until stopped: `build` checks the settings, makes
//! sure the event and deliveries topics exist, creates the producers and binds;
//! `run_until_stopped` serves until the token is cancelled, lets in-flight requests finish, then
//! flushes the producers.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use oot_platform::health::{health_routes, Readiness};
use oot_platform::migrate;
use oot_platform::probes::kafka_probe;
use oot_platform::shutdown::serve_until_cancelled;
use oot_platform::telemetry::http_request_span;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

use crate::auth::IngestTokens;
use crate::body_budget::BodyBudget;
use crate::callback::Limits;
use crate::clock::Clock;
use crate::config::IngestConfig;
use crate::metrics::IngestMetrics;
use crate::publish::{EventPublisher, PublisherSettings};
use crate::rate_limit::SlidingWindowLimiter;
use crate::receipts::ReceiptPublisher;
use crate::routes::{routes, IngestState};

pub struct Application {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    state: Arc<IngestState>,
}

/// The endpoint's shared state from its settings and `clock` (the system clock outside tests),
/// without touching the network (the producer connects lazily), so a test can serve [`routes`]
/// against any broker address.
pub fn ingest_state(config: &IngestConfig, clock: Clock) -> anyhow::Result<IngestState> {
    config.kafka.validate()?;
    let tokens = config.tokens.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "OOT_INGEST_TOKENS is not set; set it to the secret(s) shared with the relay"
        )
    })?;
    anyhow::ensure!(
        config.rate_window_secs > 0,
        "OOT_INGEST_RATE_WINDOW_SECS must be at least 1"
    );
    anyhow::ensure!(
        config.max_body_bytes_in_flight > 0,
        "OOT_INGEST_MAX_BODY_BYTES_IN_FLIGHT must be at least 1"
    );
    anyhow::ensure!(
        config.body_read_timeout_ms > 0,
        "OOT_INGEST_BODY_READ_TIMEOUT_MS must be at least 1"
    );
    anyhow::ensure!(
        config.delivery_timeout_ms > 0,
        "OOT_INGEST_DELIVERY_TIMEOUT_MS must be at least 1"
    );
    let rate_window = Duration::from_secs(config.rate_window_secs);
    let publisher = EventPublisher::new(
        &config.kafka,
        PublisherSettings {
            delivery_timeout: Duration::from_millis(config.delivery_timeout_ms),
            linger: Duration::from_millis(config.linger_ms),
        },
    )
    .context("creating the Kafka producer")?;
    let metrics = IngestMetrics::new(publisher.queue());
    let receipts = ReceiptPublisher::new(
        &config.kafka,
        config.receipt_limit,
        rate_window,
        metrics.receipts.clone(),
    )
    .context("creating the Kafka producer of delivery receipts")?;
    Ok(IngestState {
        tokens: IngestTokens::parse(tokens)?,
        limits: Limits::default(),
        max_body_bytes: config.max_body_bytes,
        body_budget: BodyBudget::new(config.max_body_bytes_in_flight),
        body_read_timeout: Duration::from_millis(config.body_read_timeout_ms),
        limiter: SlidingWindowLimiter::new(config.rate_limit, rate_window),
        rate_limit: config.rate_limit,
        rate_window,
        publisher,
        receipts,
        unavailable_retry_after: Duration::from_secs(config.unavailable_retry_after_secs),
        clock,
        metrics,
    })
}

impl Application {
    /// The service as it runs: events stamped by the system clock.
    pub async fn build(config: IngestConfig) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Clock::system()).await
    }

    /// The service with events stamped by `clock` (a test's, to see callbacks in distinct
    /// seconds without waiting).
    pub async fn build_with_clock(config: IngestConfig, clock: Clock) -> anyhow::Result<Self> {
        let state = Arc::new(ingest_state(&config, clock)?);
        migrate::ensure_topic(&config.kafka).await?;
        oot_platform::deliveries_table::ensure_deliveries_topic(&config.kafka).await?;
        let readiness = Readiness::new(vec![kafka_probe(&config.kafka)?]);
        let router = routes(state.clone())
            .merge(health_routes(readiness))
            .merge(state.metrics.routes());
        // After every route, so each request is recorded under its matched route.
        let router = state
            .metrics
            .http
            .instrument(router)
            .layer(TraceLayer::new_for_http().make_span_with(http_request_span));
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(address = ?self.listener.local_addr().ok(), "ingest listening");
        serve_until_cancelled(self.listener, self.router, shutdown).await?;
        // Every request has been answered; anything still queued belongs to none of them, but
        // flushing keeps the log free of surprises for whoever restarts us.
        if let Err(error) = self.state.publisher.flush(Duration::from_secs(10)) {
            tracing::warn!(%error, "producer not flushed at shutdown");
        }
        // The receipts of the last refusals: a few seconds at most, they are not worth more.
        if let Err(error) = self.state.receipts.flush(Duration::from_secs(5)) {
            tracing::warn!(%error, "delivery receipts not flushed at shutdown");
        }
        Ok(())
    }
}
