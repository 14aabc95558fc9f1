//! Building the ingest service and running it until stopped: `build` makes sure the event topic
//! exists and binds, `run_until_stopped` serves until the token is cancelled.

use anyhow::Context as _;
use oot_platform::health::{health_routes, Readiness};
use oot_platform::migrate;
use oot_platform::probes::kafka_probe;
use oot_platform::shutdown::serve_until_cancelled;
use tokio_util::sync::CancellationToken;

use crate::config::IngestConfig;

pub struct Application {
    listener: tokio::net::TcpListener,
    router: axum::Router,
}

impl Application {
    pub async fn build(config: IngestConfig) -> anyhow::Result<Self> {
        config.kafka.validate()?;
        migrate::ensure_topic(&config.kafka).await?;
        let readiness = Readiness::new(vec![kafka_probe(&config.kafka)?]);
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
        tracing::info!(address = ?self.listener.local_addr().ok(), "ingest listening");
        serve_until_cancelled(self.listener, self.router, shutdown).await?;
        Ok(())
    }
}
