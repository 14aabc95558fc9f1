//! The query service's command line.

use std::net::SocketAddr;

use clap::Parser;
use oot_platform::settings::{ClickHouseSettings, DynamoSettings};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "oot-query",
    version,
    about = "Serves the OOT views over the two projections"
)]
pub struct QueryConfig {
    /// Address the views are served on.
    #[arg(long, env = "OOT_QUERY_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub dynamo: DynamoSettings,

    #[command(flatten)]
    pub clickhouse: ClickHouseSettings,

    /// The readiness gates' thresholds and windows (TOML, e.g. `readiness/readiness.toml`);
    /// without it, the defaults that file documents (RFC-0054's revised gates).
    #[arg(long, env = "OOT_READINESS_THRESHOLDS")]
    pub readiness_thresholds: Option<std::path::PathBuf>,
}
