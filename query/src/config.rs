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
}
