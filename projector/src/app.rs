//! Building the projector and running it until stopped (the shape of zero-to-production's
//! `Application`): `build` binds and connects, so a test can read the real port before `run`.

use anyhow::Context as _;
use oot_platform::health::{health_routes, Readiness};
use oot_platform::migrate;
use oot_platform::probes::{clickhouse_probe, dynamo_probe, kafka_probe};
use oot_platform::settings::StoreSettings;
use oot_platform::shutdown::serve_until_cancelled;
use tokio_util::sync::CancellationToken;

use crate::config::ProjectorConfig;

pub struct Application {
    listener: tokio::net::TcpListener,
    router: axum::Router,
}

/// Creates whatever of the topic and the two tables is missing, and logs what it found.
pub async fn migrate_all(stores: &StoreSettings) -> anyhow::Result<()> {
    stores.validate()?;
    let topic = migrate::ensure_topic(&stores.kafka).await?;
    tracing::info!(topic = %stores.kafka.topic, outcome = ?topic, "kafka topic");
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
        migrate_all(&config.stores).await?;
        let readiness = Readiness::new(vec![
            kafka_probe(&config.stores.kafka)?,
            dynamo_probe(config.stores.dynamo.client().await, &config.stores.dynamo),
            clickhouse_probe(config.stores.clickhouse.client(), &config.stores.clickhouse),
        ]);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        Ok(Self {
            listener,
            router: health_routes(readiness),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(address = ?self.listener.local_addr().ok(), "projector serving health endpoints");
        serve_until_cancelled(self.listener, self.router, shutdown).await?;
        Ok(())
    }
}
