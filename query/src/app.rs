//! Building the query service and running it until stopped: `build` binds and prepares the two
//! tables (idempotently, so the service can start before the projector) and routes the health
//! checks, the views' JSON endpoints and their pages, and `/metrics` (requests by route and
//! status, latency, in flight); `run_until_stopped` serves.

use std::sync::Arc;

use anyhow::Context as _;
use oot_platform::health::{health_routes, Readiness};
use oot_platform::http_metrics::prometheus_client::registry::Registry;
use oot_platform::http_metrics::{metrics_routes, HttpMetrics};
use oot_platform::migrate;
use oot_platform::probes::{clickhouse_probe, dynamo_probe};
use oot_platform::shutdown::serve_until_cancelled;
use tokio_util::sync::CancellationToken;

use crate::api::{self, Stores};
use crate::config::QueryConfig;
use crate::pages;
use crate::stores::STORE_TIMEOUT;

pub struct Application {
    listener: tokio::net::TcpListener,
    router: axum::Router,
}

impl Application {
    pub async fn build(config: QueryConfig) -> anyhow::Result<Self> {
        config.dynamo.validate()?;
        config.clickhouse.validate()?;
        let thresholds = match &config.readiness_thresholds {
            Some(path) => oot_readiness::Thresholds::load(path)?,
            None => oot_readiness::Thresholds::default(),
        };
        let dynamo = config.dynamo.client().await;
        let clickhouse = config.clickhouse.client();
        migrate::ensure_job_table(&dynamo, &config.dynamo).await?;
        migrate::ensure_clickhouse(&clickhouse, &config.clickhouse).await?;
        let readiness = Readiness::new(vec![
            dynamo_probe(dynamo.clone(), &config.dynamo),
            clickhouse_probe(clickhouse.clone(), &config.clickhouse),
        ]);
        let timeout = STORE_TIMEOUT;
        let stores = Arc::new(
            Stores::connect(&config.clickhouse, dynamo, &config.dynamo.table, timeout)
                .with_thresholds(thresholds),
        );
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let mut registry = Registry::default();
        let metrics = HttpMetrics::register(&mut registry, "query");
        let router = health_routes(readiness)
            .merge(api::routes(stores.clone()))
            .merge(pages::routes(stores))
            .merge(metrics_routes(Arc::new(registry)));
        Ok(Self {
            listener,
            // After every route, so each request is recorded under its matched route.
            router: metrics.instrument(router),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(address = ?self.listener.local_addr().ok(), "query service listening");
        serve_until_cancelled(self.listener, self.router, shutdown).await?;
        Ok(())
    }
}
