//! Helpers of the read and freshness benchmarks (`tests/benches/views.rs`,
//! `tests/benches/freshness.rs`): settings from the environment, the release service binaries,
//! latencies and their percentiles, quantiles of a Prometheus histogram, and dropping a
//! benchmark's topic and tables.

use std::path::Path;
use std::time::Duration;

use oot_platform::settings::{KafkaSettings, StoreSettings};

use crate::drill::{free_port, store_env, ServiceProcess};

/// A number from the environment (`_` separators allowed: `BENCH_JOBS=10_000_000`), or
/// `default` when unset; an error naming the variable when it is not a number.
pub fn env_number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(text) => text
            .replace('_', "")
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={text:?} is not a number: {e}")),
    }
}

/// Whether the environment variable `name` is `1` (or `true`).
pub fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Builds the release binaries of `packages` (`cargo build --release --locked -p ... --bins`,
/// a no-op when they are current), unless `BENCH_SKIP_BUILD=1`. A benchmark is a release
/// build, so its service binaries are found next to it (`target/release/`).
pub fn build_release(packages: &[&str]) -> anyhow::Result<()> {
    if env_flag("BENCH_SKIP_BUILD") {
        return Ok(());
    }
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    eprintln!(
        "building the release {} (BENCH_SKIP_BUILD=1 skips this)",
        packages.join(", ")
    );
    let mut command = std::process::Command::new(cargo);
    command.args(["build", "--release", "--locked"]);
    for package in packages {
        command.args(["-p", package]);
    }
    let status = command.arg("--bins").status()?;
    anyhow::ensure!(status.success(), "cargo build --release failed: {status}");
    Ok(())
}

/// The real `oot-query` binary on a free port over `stores`.
pub async fn start_query(stores: &StoreSettings) -> anyhow::Result<ServiceProcess> {
    let binary = crate::service_binary("oot-query")?;
    start_query_binary(&binary, stores).await
}

async fn start_query_binary(
    binary: &Path,
    stores: &StoreSettings,
) -> anyhow::Result<ServiceProcess> {
    let port = free_port()?;
    let mut env = store_env(stores);
    env.push(("OOT_QUERY_LISTEN", format!("127.0.0.1:{port}")));
    // As compose/up.sh starts it: its allocator gives freed memory back at once.
    env.push((
        "MIMALLOC_PURGE_DELAY",
        std::env::var("MIMALLOC_PURGE_DELAY").unwrap_or_else(|_| "0".to_owned()),
    ));
    ServiceProcess::start(binary, "oot-query", port, &env).await
}

/// Resets the peak resident memory (`VmHWM`) of `service` to its current RSS (writing `5` to
/// `/proc/<pid>/clear_refs`, Linux 4.0+), so a later [`ServiceProcess::peak_rss_kib`] is the
/// peak of what happened since. `false` when the kernel refused.
pub fn reset_peak_rss(service: &ServiceProcess) -> bool {
    service
        .pid()
        .is_some_and(|pid| std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok())
}

/// CPU time `service` has used so far (user + system), in seconds.
pub fn cpu_seconds(service: &ServiceProcess) -> Option<f64> {
    process_cpu_seconds(service.pid()?)
}

/// CPU time process `pid` has used so far (user + system, from `/proc/<pid>/stat`), in seconds.
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name and state.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

/// Latencies of one series of requests.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    sorted: Vec<Duration>,
    sum: Duration,
}

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let sum = samples.iter().sum();
        Self {
            sorted: samples,
            sum,
        }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The `p` quantile (0..=1) by the nearest-rank method; zero when empty.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.sorted.len() as f64 * p).ceil() as usize).clamp(1, self.sorted.len());
        self.sorted[rank - 1]
    }

    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }

    pub fn mean(&self) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        self.sum / u32::try_from(self.sorted.len()).unwrap_or(u32::MAX)
    }
}

/// Milliseconds with one decimal, for the tables.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1_000.0)
}

/// The `q` quantile (0..=1) of the histogram `metric` in a Prometheus/OpenMetrics text, from its
/// cumulative `{metric}_bucket{le=...}` samples, interpolated linearly within the bucket as
/// Prometheus's `histogram_quantile` does (the last finite bound when it falls in `+Inf`);
/// `None` when the histogram is absent or empty.
pub fn histogram_quantile(text: &str, metric: &str, q: f64) -> Option<f64> {
    let buckets = histogram_buckets(text, metric);
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(upper, count) in &buckets {
        if count >= rank {
            if upper.is_infinite() {
                return Some(lower);
            }
            if count <= below {
                return Some(upper);
            }
            return Some(lower + (upper - lower) * (rank - below) / (count - below));
        }
        (lower, below) = (upper, count);
    }
    Some(lower)
}

/// The share of the histogram's observations at or under `bound`, which must be one of its
/// bucket bounds (exact, where quantiles are interpolated); `None` when absent or empty.
pub fn histogram_share_within(text: &str, metric: &str, bound: f64) -> Option<f64> {
    let buckets = histogram_buckets(text, metric);
    let total = buckets.last()?.1;
    let within = buckets.iter().find(|(le, _)| *le == bound)?.1;
    (total > 0.0).then(|| within / total)
}

/// The cumulative `(le, count)` buckets of histogram `metric`, by bound.
fn histogram_buckets(text: &str, metric: &str) -> Vec<(f64, f64)> {
    let bucket = format!("{metric}_bucket{{");
    let mut buckets: Vec<(f64, f64)> = text
        .lines()
        .filter(|line| line.starts_with(&bucket))
        .filter_map(|line| {
            let (labels, value) = line.rsplit_once(' ')?;
            let le = labels.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, value.trim().parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// Deletes `kafka.topic` and its dead-letter topic (a topic that is not there is not an error).
pub async fn delete_topic(kafka: &KafkaSettings) -> anyhow::Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::types::RDKafkaErrorCode;
    let admin: AdminClient<DefaultClientContext> = kafka.client_config().create()?;
    let dead = format!("{}.dead-letter", kafka.topic);
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in admin
        .delete_topics(&[kafka.topic.as_str(), dead.as_str()], &options)
        .await?
    {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((topic, code)) => anyhow::bail!("deleting topic {topic}: {code}"),
        }
    }
    Ok(())
}

/// Drops the ClickHouse tables of `clickhouse.table`: the table, and every table and view named
/// `{table}_...` beside it (rollups, read tables and their views), views first.
pub async fn drop_clickhouse_tables(
    clickhouse: &oot_platform::settings::ClickHouseSettings,
) -> anyhow::Result<Vec<String>> {
    let client = clickhouse.client().with_database("system");
    let prefix = format!("{}_", clickhouse.table);
    let mut tables: Vec<(String, String)> = client
        .query(
            "SELECT name, engine FROM system.tables WHERE database = ? \
             AND (name = ? OR startsWith(name, ?))",
        )
        .bind(&clickhouse.database)
        .bind(&clickhouse.table)
        .bind(&prefix)
        .fetch_all()
        .await?;
    tables.sort_by_key(|(name, engine)| (engine != "MaterializedView", name.clone()));
    let mut dropped = Vec::new();
    for (name, _) in tables {
        let qualified = format!("{}.{name}", clickhouse.database);
        client
            .query(&format!("DROP TABLE IF EXISTS {qualified}"))
            .execute()
            .await?;
        dropped.push(qualified);
    }
    Ok(dropped)
}

/// Deletes the DynamoDB job table `table` and its rollups' ledger (absent ones are skipped).
pub async fn delete_dynamo_tables(
    dynamo: &oot_platform::settings::DynamoSettings,
) -> anyhow::Result<Vec<String>> {
    let client = dynamo.client().await;
    let mut deleted = Vec::new();
    for table in [
        dynamo.table.clone(),
        oot_contract::rollup::ledger_table(&dynamo.table),
    ] {
        match client.delete_table().table_name(&table).send().await {
            Ok(_) => deleted.push(table),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) => {}
            Err(error) => {
                return Err(anyhow::Error::new(error.into_service_error())
                    .context(format!("deleting DynamoDB table {table}")));
            }
        }
    }
    Ok(deleted)
}

/// Whether the DynamoDB table `table` exists.
pub async fn dynamo_table_exists(
    dynamo: &oot_platform::settings::DynamoSettings,
) -> anyhow::Result<bool> {
    let client = dynamo.client().await;
    match client
        .describe_table()
        .table_name(&dynamo.table)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(error) => Err(anyhow::Error::new(error.into_service_error())),
    }
}

/// Drops everything a benchmark made under `stores`: the topic (and its dead letters), the
/// DynamoDB tables and the ClickHouse tables. What it dropped, for printing.
pub async fn drop_stores(stores: &StoreSettings) -> anyhow::Result<Vec<String>> {
    let mut dropped = drop_clickhouse_tables(&stores.clickhouse).await?;
    dropped.extend(delete_dynamo_tables(&stores.dynamo).await?);
    delete_topic(&stores.kafka).await?;
    dropped.push(format!("topic {}", stores.kafka.topic));
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let l = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(l.percentile(0.5), Duration::from_millis(50));
        assert_eq!(l.percentile(0.95), Duration::from_millis(95));
        assert_eq!(l.max(), Duration::from_millis(100));
        assert_eq!(Latencies::new(Vec::new()).percentile(0.5), Duration::ZERO);
    }

    #[test]
    fn histogram_quantiles_interpolate_within_buckets() {
        let text = "# TYPE f histogram\n\
                    f_sum 12.5\nf_count 100\n\
                    f_bucket{le=\"0.1\"} 10\nf_bucket{le=\"0.5\"} 90\n\
                    f_bucket{le=\"1.0\"} 99\nf_bucket{le=\"+Inf\"} 100\n";
        let q = |q| histogram_quantile(text, "f", q).unwrap();
        assert!((q(0.05) - 0.05).abs() < 1e-9);
        assert!((q(0.5) - 0.3).abs() < 1e-9);
        assert!((q(0.99) - 1.0).abs() < 1e-9);
        assert!((q(1.0) - 1.0).abs() < 1e-9, "+Inf: the last finite bound");
        assert_eq!(histogram_quantile(text, "g", 0.5), None);
        assert_eq!(histogram_share_within(text, "f", 0.5), Some(0.9));
        assert_eq!(histogram_share_within(text, "f", 0.7), None);
        assert_eq!(
            histogram_quantile("f_bucket{le=\"+Inf\"} 0\n", "f", 0.5),
            None
        );
    }
}
