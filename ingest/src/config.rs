//! The ingest service's command line and settings.

use std::net::SocketAddr;

use clap::Parser;
use oot_platform::settings::KafkaSettings;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "oot-ingest",
    version,
    about = "Accepts relay callbacks and appends them to the event log"
)]
pub struct IngestConfig {
    /// Address the callback endpoint is served on.
    #[arg(long, env = "OOT_INGEST_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub kafka: KafkaSettings,
}
