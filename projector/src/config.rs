//! The projector's command line: `run` (the default) or `migrate`, with the stores' settings.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use oot_platform::settings::StoreSettings;

#[derive(Debug, Parser)]
#[command(
    name = "oot-projector",
    version,
    about = "Projects the callback events into DynamoDB and ClickHouse"
)]
pub struct ProjectorCli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub config: ProjectorConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the projector until SIGTERM (the default).
    Run,
    /// Create the topic, the DynamoDB table and the ClickHouse table where missing, then exit.
    Migrate,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ProjectorConfig {
    /// Address of the health endpoints (and later the metrics).
    #[arg(long, env = "OOT_PROJECTOR_LISTEN", default_value = "127.0.0.1:8082")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub stores: StoreSettings,
}
