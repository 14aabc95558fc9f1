//! The query service's command line.

use std::net::SocketAddr;

use clap::Parser;
use oot_platform::settings::{ClickHouseSettings, DynamoSettings};

/// How many view requests are worked on at once by default ([`QueryConfig::max_concurrent_views`]):
/// the busiest backend's page holds ~10 MB while it runs, so 4 keep the service under 100 MB.
pub const DEFAULT_MAX_CONCURRENT_VIEWS: u16 = 4;

/// How many failing-tests requests are worked on at once by default
/// ([`QueryConfig::max_concurrent_failing_tests`]).
pub const DEFAULT_MAX_CONCURRENT_FAILING_TESTS: u16 = 1;

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

    /// How many requests for views (JSON endpoints and pages) are worked on at once; the rest
    /// wait their turn. A request holds its view's store answers while it runs (the busiest
    /// backend's page at 10M jobs: ~10 MB, most of it its 1,256 running jobs), so this bounds
    /// the service's memory whatever the number of clients. Health checks and `/metrics` are
    /// never held back. Raise it with the memory given, or where the stores answer slower.
    #[arg(
        long,
        env = "OOT_QUERY_MAX_CONCURRENT_VIEWS",
        default_value_t = DEFAULT_MAX_CONCURRENT_VIEWS,
        value_parser = clap::value_parser!(u16).range(1..=4096)
    )]
    pub max_concurrent_views: u16,

    /// How many failing-tests requests (JSON, CSV or page) are worked on at once, apart from
    /// the other views' limit: each holds every job of its window while the rules run (the
    /// busiest backend of the 10M benchmark: ~200 MB for a week, ~1.2 GB for a month), so the
    /// service's memory is about this many of them plus the other views'. More wait their turn.
    #[arg(
        long,
        env = "OOT_QUERY_MAX_CONCURRENT_FAILING_TESTS",
        default_value_t = DEFAULT_MAX_CONCURRENT_FAILING_TESTS,
        value_parser = clap::value_parser!(u16).range(1..=4096)
    )]
    pub max_concurrent_failing_tests: u16,

    /// The readiness gates' thresholds and windows (TOML, e.g. `readiness/readiness.toml`);
    /// without it, the defaults that file documents (RFC-0054's revised gates).
    #[arg(long, env = "OOT_READINESS_THRESHOLDS")]
    pub readiness_thresholds: Option<std::path::PathBuf>,
}
