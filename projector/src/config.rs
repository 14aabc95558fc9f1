//! The projector's command line: `run` (the default), `migrate` or `replay`, with its settings.

use std::net::SocketAddr;
use std::time::Duration;

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
    /// Create the topics, the DynamoDB table and the ClickHouse table where missing, then exit.
    Migrate,
    /// Rebuild both projections from the log into fresh tables, then exit.
    Replay(crate::replay::ReplayArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ProjectorConfig {
    /// Address of the health endpoints and `/metrics`.
    #[arg(long, env = "OOT_PROJECTOR_LISTEN", default_value = "127.0.0.1:8082")]
    pub listen: SocketAddr,

    /// Consumer group of the projectors (instances of one group share the partitions).
    #[arg(long, env = "OOT_PROJECTOR_GROUP", default_value = "oot-projector")]
    pub group: String,

    /// A batch closes at this many events...
    #[arg(long, env = "OOT_PROJECTOR_BATCH_EVENTS", default_value_t = 2000)]
    pub batch_events: usize,

    /// ...or this long (ms) after its first event.
    #[arg(long, env = "OOT_PROJECTOR_BATCH_WAIT_MS", default_value_t = 100)]
    pub batch_wait_ms: u64,

    #[command(flatten)]
    pub stores: StoreSettings,
}

impl ProjectorConfig {
    pub fn batch_wait(&self) -> Duration {
        Duration::from_millis(self.batch_wait_ms)
    }
}
