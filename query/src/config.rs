//! The query service's command line.

use std::net::SocketAddr;

use clap::Parser;
use oot_platform::settings::{ClickHouseSettings, DynamoSettings};

/// How many view requests are worked on at once by default ([`QueryConfig::max_concurrent_views`]):
/// the busiest backend's page holds ~10 MB while it runs, so 4 keep the service under 100 MB.
pub const DEFAULT_MAX_CONCURRENT_VIEWS: u16 = 4;

/// How many failing-tests answers are computed at once by default
/// ([`QueryConfig::max_concurrent_failing_tests`]).
pub const DEFAULT_MAX_CONCURRENT_FAILING_TESTS: u16 = 1;

/// How many seconds a failing-tests answer is served before it is refreshed, by default
/// ([`QueryConfig::failing_tests_fresh_for_s`]): the rules over every job of a busy backend's
/// month take seconds, and a failing test's status moves at the pace of the nightlies.
pub const DEFAULT_FAILING_TESTS_FRESH_FOR_S: u64 = 60;

/// How many seconds a PR's verdicts on a backend are kept while its shown jobs there stay the
/// same, by default ([`QueryConfig::pr_triage_fresh_for_s`]): a PR page or a poller asks again and again
/// while the PR's jobs run, and the verdicts change with them, or with other PRs and nightlies
/// at a slower pace.
pub const DEFAULT_PR_TRIAGE_FRESH_FOR_S: u64 = 30;

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

    /// How many failing-tests answers (a backend's, over a window) are computed at once: each
    /// computation holds every job of its window while the rules run (the busiest backend of
    /// the 10M benchmark: ~200 MB for a week, ~1.2 GB for a month), so the service's memory is
    /// about this many of them plus the other views' and the kept answers. More wait their
    /// turn. Requests served a kept answer wait for none (their own limit is
    /// `max_concurrent_views`, apart from the other views').
    #[arg(
        long,
        env = "OOT_QUERY_MAX_CONCURRENT_FAILING_TESTS",
        default_value_t = DEFAULT_MAX_CONCURRENT_FAILING_TESTS,
        value_parser = clap::value_parser!(u16).range(1..=4096)
    )]
    pub max_concurrent_failing_tests: u16,

    /// How many seconds a backend's failing tests are served as computed before a request
    /// refreshes them behind it (docs/contract.md §12.13 "Kept answers"): at least ten times
    /// what they took to compute, and never older than ten times that. 0 keeps none: every
    /// request computes its own.
    #[arg(
        long,
        env = "OOT_QUERY_FAILING_TESTS_FRESH_FOR_S",
        default_value_t = DEFAULT_FAILING_TESTS_FRESH_FOR_S
    )]
    pub failing_tests_fresh_for_s: u64,

    /// How many seconds a PR's "is it mine?" verdicts on a backend are kept while its shown
    /// jobs there stay the same (docs/contract.md §12.15 "Kept verdicts"): a job completing or
    /// changing is judged at once; other PRs' and nightlies' new failures are seen once they are
    /// this old (at least ten times their computing time). 0 keeps none.
    #[arg(
        long,
        env = "OOT_QUERY_PR_TRIAGE_FRESH_FOR_S",
        default_value_t = DEFAULT_PR_TRIAGE_FRESH_FOR_S
    )]
    pub pr_triage_fresh_for_s: u64,

    /// The readiness gates' thresholds and windows (TOML, e.g. `readiness/readiness.toml`);
    /// without it, the defaults that file documents (RFC-0054's revised gates).
    #[arg(long, env = "OOT_READINESS_THRESHOLDS")]
    pub readiness_thresholds: Option<std::path::PathBuf>,
}
