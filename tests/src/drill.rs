//! Helpers of the fault drills (`tests/tests/e2e/drills.rs`) and the soak benchmark
//! (`tests/benches/soak.rs`): the service binaries started as real processes (so they can be
//! killed with -9 and their memory read from `/proc`), a stream of callbacks, and what the
//! stores and the consumer group hold afterwards, read from the stores themselves.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use oot_platform::settings::{KafkaSettings, StoreSettings};

use crate::callbacks::{sample, Job};
use crate::TEST_TOKENS;

/// A port nothing listens on now (bound, read, released).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Where the drills' service logs go: `<target dir>/drill-logs/`.
fn log_dir(binary: &Path) -> PathBuf {
    let dir = binary
        .parent()
        .and_then(Path::parent)
        .map_or_else(std::env::temp_dir, Path::to_path_buf)
        .join("drill-logs");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A service binary running as a child process (killed when dropped), its output in a log file.
pub struct ServiceProcess {
    pub name: String,
    pub base_url: String,
    pub log: PathBuf,
    child: tokio::process::Child,
}

impl ServiceProcess {
    /// Starts `binary` with `env` (on top of this process's environment) and waits until it
    /// answers `/healthz` on `port` (60 s at most).
    pub async fn start(
        binary: &Path,
        name: &str,
        port: u16,
        env: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let log = log_dir(binary).join(format!("{}.log", crate::unique_name(name)));
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let mut command = tokio::process::Command::new(binary);
        command
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        let child = command.spawn()?;
        let mut service = Self {
            name: name.to_owned(),
            base_url: format!("http://127.0.0.1:{port}"),
            log,
            child,
        };
        let healthz = format!("{}/healthz", service.base_url);
        let started = tokio::time::Instant::now();
        loop {
            if let Some(status) = service.child.try_wait()? {
                anyhow::bail!(
                    "{name} exited during start-up ({status}); log {}:\n{}",
                    service.log.display(),
                    service.log_tail(40)
                );
            }
            let answered = reqwest::get(&healthz)
                .await
                .is_ok_and(|r| r.status().is_success());
            if answered {
                return Ok(service);
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "{name} did not answer {healthz} within 60 s; log {}",
                service.log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL, and waits for the process to be gone.
    pub async fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// SIGTERM, and waits (30 s at most) for the process to stop.
    pub async fn terminate(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        if let Some(pid) = self.pid() {
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        Ok(
            tokio::time::timeout(Duration::from_secs(30), self.child.wait())
                .await
                .ok()
                .transpose()?,
        )
    }

    /// Peak resident memory so far (`VmHWM` of `/proc/<pid>/status`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid()?, "VmHWM:")
    }

    /// Resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid()?, "VmRSS:")
    }

    /// The last `lines` lines of the process's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// GETs `/metrics` and sums the samples of `metric` (a counter's `_total` too), if present.
    pub async fn metric(&self, metric: &str) -> Option<f64> {
        metric_value(&metrics_text(&self.base_url).await.ok()?, metric)
    }
}

impl Drop for ServiceProcess {
    /// The log is kept when the test fails (a panic is unwinding), removed otherwise.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// The `/metrics` text of the service at `base_url`.
pub async fn metrics_text(base_url: &str) -> reqwest::Result<String> {
    reqwest::get(format!("{base_url}/metrics"))
        .await?
        .text()
        .await
}

/// The sum of the samples of `metric` (or `{metric}_total`) in a Prometheus/OpenMetrics text.
pub fn metric_value(text: &str, metric: &str) -> Option<f64> {
    let total = format!("{metric}_total");
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name_and_labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let name = name_and_labels
            .split_once('{')
            .map_or(name_and_labels, |(name, _)| name);
        if name == metric || name == total {
            if let Ok(value) = value.trim().parse::<f64>() {
                *found.get_or_insert(0.0) += value;
            }
        }
    }
    found
}

/// The environment that points a service at `stores` (the stack's addresses are inherited
/// from the `OOT_*` variables of this process, or the services' loopback defaults).
pub fn store_env(stores: &StoreSettings) -> Vec<(&'static str, String)> {
    vec![
        ("OOT_KAFKA_BROKERS", stores.kafka.brokers.clone()),
        ("OOT_KAFKA_TOPIC", stores.kafka.topic.clone()),
        (
            "OOT_KAFKA_DELIVERIES_TOPIC",
            stores.kafka.deliveries_topic.clone(),
        ),
        ("OOT_KAFKA_PARTITIONS", stores.kafka.partitions.to_string()),
        ("OOT_DYNAMO_ENDPOINT", stores.dynamo.endpoint.clone()),
        ("OOT_DYNAMO_TABLE", stores.dynamo.table.clone()),
        ("OOT_CLICKHOUSE_URL", stores.clickhouse.url.clone()),
        (
            "OOT_CLICKHOUSE_DATABASE",
            stores.clickhouse.database.clone(),
        ),
        ("OOT_CLICKHOUSE_TABLE", stores.clickhouse.table.clone()),
        (
            "RUST_LOG",
            std::env::var("DRILL_LOG").unwrap_or_else(|_| "info".to_owned()),
        ),
    ]
}

/// The real `oot-ingest` binary on a free port, writing to `stores`' topic, with the test
/// tokens and no rate limit.
pub async fn start_ingest(stores: &StoreSettings) -> anyhow::Result<ServiceProcess> {
    let binary = crate::service_binary("oot-ingest")?;
    let port = free_port()?;
    let mut env = store_env(stores);
    env.extend([
        ("OOT_INGEST_LISTEN", format!("127.0.0.1:{port}")),
        ("OOT_INGEST_TOKENS", TEST_TOKENS.join(",")),
        ("OOT_INGEST_RATE_LIMIT", "0".to_owned()),
        ("OOT_INGEST_DELIVERY_TIMEOUT_MS", "3000".to_owned()),
    ]);
    ServiceProcess::start(&binary, "oot-ingest", port, &env).await
}

/// The real `oot-projector` binary on a free port, in consumer group `group`, over `stores`.
/// Every start of a drill's projector is the same static member of its group (one instance per
/// group), as a restarted production projector is, so a restart takes its partitions back at
/// once instead of waiting for the session timeout.
pub async fn start_projector(
    stores: &StoreSettings,
    group: &str,
) -> anyhow::Result<ServiceProcess> {
    let binary = crate::service_binary("oot-projector")?;
    let port = free_port()?;
    let mut env = store_env(stores);
    env.extend([
        ("OOT_PROJECTOR_LISTEN", format!("127.0.0.1:{port}")),
        ("OOT_PROJECTOR_GROUP", group.to_owned()),
        ("OOT_PROJECTOR_INSTANCE_ID", format!("{group}-projector")),
    ]);
    ServiceProcess::start(&binary, "oot-projector", port, &env).await
}

/// POSTs `body` to a running ingest with the first test token: its status and body text.
pub async fn post(
    client: &reqwest::Client,
    ingest: &str,
    body: impl Into<reqwest::Body>,
) -> anyhow::Result<(u16, String)> {
    let response = client
        .post(format!("{ingest}/api/oot/results"))
        .header("content-type", "application/json")
        .header("x-hud-internal-bot", TEST_TOKENS[0])
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// Job `n` of a drill's stream: the sample job with its own delivery id and ids.
pub fn stream_job(drill: &str, n: u64) -> Job {
    Job {
        delivery_id: format!("{drill}-{n}"),
        run_id: 1_000_000 + n,
        check_run_id: 5_000_000 + n,
        ..sample::job()
    }
}

/// The conclusion job `n` of a stream ends with (success, failure or cancelled in turn).
pub fn stream_conclusion(n: u64) -> oot_contract::Conclusion {
    match n % 3 {
        0 => oot_contract::Conclusion::Success,
        1 => oot_contract::Conclusion::Failure,
        _ => oot_contract::Conclusion::Cancelled,
    }
}

/// The two callbacks (running, then completed with [`stream_conclusion`]) of job `n`.
pub fn stream_callbacks(drill: &str, n: u64) -> [serde_json::Value; 2] {
    let job = stream_job(drill, n);
    let now = time::OffsetDateTime::now_utc();
    let running = job.in_progress(now - time::Duration::seconds(60), 1.5);
    let done = job.completed(stream_conclusion(n), now, Some(60.0));
    [running.to_json(), done.to_json()]
}

/// Posts both callbacks of job `n`, retrying a 503 (the log is away) for up to `patience`;
/// errors on any other answer than 202.
pub async fn post_job(
    client: &reqwest::Client,
    ingest: &str,
    drill: &str,
    n: u64,
    patience: Duration,
) -> anyhow::Result<()> {
    for body in stream_callbacks(drill, n) {
        let body = body.to_string();
        let started = tokio::time::Instant::now();
        loop {
            let (status, text) = post(client, ingest, body.clone()).await?;
            match status {
                202 => break,
                503 if started.elapsed() < patience => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                _ => anyhow::bail!("job {n} answered {status}: {text}"),
            }
        }
    }
    Ok(())
}

/// Committed position and end of every partition of the topic, for `group`: how far behind the
/// group's commits are (what must reach 0), read from Kafka itself, not from the projector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPosition {
    pub committed: i64,
    pub end: i64,
    /// Committed position of each partition.
    pub partitions: std::collections::BTreeMap<i32, i64>,
}

impl GroupPosition {
    pub fn lag(&self) -> i64 {
        self.end - self.committed
    }

    /// Whether every partition has committed past where it stood in `earlier` (or is at the
    /// end, having nothing to commit).
    pub fn every_partition_moved_since(&self, earlier: &GroupPosition) -> bool {
        !earlier.partitions.is_empty()
            && earlier.partitions.iter().all(|(partition, before)| {
                self.partitions
                    .get(partition)
                    .is_some_and(|now| now > before)
            })
    }
}

/// The [`GroupPosition`] of `group` on `kafka.topic` (blocking calls on a blocking thread).
pub async fn group_position(kafka: &KafkaSettings, group: &str) -> anyhow::Result<GroupPosition> {
    let config = kafka.client_config();
    let topic = kafka.topic.clone();
    let group = group.to_owned();
    tokio::task::spawn_blocking(move || {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        use rdkafka::{Offset, TopicPartitionList};
        let consumer: BaseConsumer = config
            .clone()
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()?;
        let timeout = Duration::from_secs(10);
        let metadata = consumer.fetch_metadata(Some(&topic), timeout)?;
        let mut partitions = TopicPartitionList::new();
        let mut bounds = HashMap::new();
        for t in metadata.topics() {
            for p in t.partitions() {
                partitions.add_partition(&topic, p.id());
                bounds.insert(p.id(), consumer.fetch_watermarks(&topic, p.id(), timeout)?);
            }
        }
        let committed = consumer.committed_offsets(partitions, timeout)?;
        let mut position = GroupPosition {
            committed: 0,
            end: 0,
            partitions: std::collections::BTreeMap::new(),
        };
        for element in committed.elements() {
            let (low, high) = bounds.get(&element.partition()).copied().unwrap_or((0, 0));
            let at = match element.offset() {
                Offset::Offset(at) => at,
                _ => low,
            };
            position.committed += at.clamp(low, high);
            position.end += high;
            position
                .partitions
                .insert(element.partition(), at.clamp(low, high));
        }
        Ok(position)
    })
    .await?
}

/// Items per page of the helpers' table scans. Without a `Limit`, dynoxide reads every row from
/// the page's start key to the end of the table out of SQLite for each page, then keeps the
/// first 1 MB: a scan is quadratic in the table's size. With the soak's big items (~30 per
/// 1 MB page) a scan of 45,000 jobs took about an hour and grew dynoxide to 4 GB, so the edge
/// phase seemed never to catch up. DynamoDB itself reads at most `Limit` items per page too.
const SCAN_PAGE_ITEMS: i32 = 100;

/// Every item of the job table (a paginated scan), by `dynamoKey`.
pub async fn all_items(
    stores: &StoreSettings,
) -> anyhow::Result<HashMap<String, HashMap<String, AttributeValue>>> {
    let client = stores.dynamo.client().await;
    let mut items = HashMap::new();
    let mut start = None;
    loop {
        let answer = client
            .scan()
            .table_name(&stores.dynamo.table)
            .consistent_read(true)
            .limit(SCAN_PAGE_ITEMS)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in answer.items() {
            items.insert(crate::attr_s(item, "dynamoKey"), item.clone());
        }
        match answer.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return Ok(items),
        }
    }
}

/// The `dynamoKey` of every item of the job table (a paginated scan of the key only).
pub async fn item_keys(
    stores: &StoreSettings,
) -> anyhow::Result<std::collections::HashSet<String>> {
    let client = stores.dynamo.client().await;
    let mut keys = std::collections::HashSet::new();
    let mut start = None;
    loop {
        let answer = client
            .scan()
            .table_name(&stores.dynamo.table)
            .projection_expression("dynamoKey")
            .limit(SCAN_PAGE_ITEMS)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        keys.extend(
            answer
                .items()
                .iter()
                .map(|item| crate::attr_s(item, "dynamoKey")),
        );
        match answer.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return Ok(keys),
        }
    }
}

/// How many items the job table holds (a paginated `COUNT` scan).
pub async fn item_count(stores: &StoreSettings) -> anyhow::Result<u64> {
    let client = stores.dynamo.client().await;
    let mut count = 0u64;
    let mut start = None;
    loop {
        let answer = client
            .scan()
            .table_name(&stores.dynamo.table)
            .select(aws_sdk_dynamodb::types::Select::Count)
            .limit(SCAN_PAGE_ITEMS)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        count += u64::try_from(answer.count())?;
        match answer.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return Ok(count),
        }
    }
}

/// The completed-jobs table: rows after `FINAL` (what the views read), distinct keys among
/// them, and rows physically stored (every inserted version before merges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowCounts {
    pub latest_rows: u64,
    pub distinct_keys: u64,
    pub physical_rows: u64,
}

pub async fn row_counts(stores: &StoreSettings) -> anyhow::Result<RowCounts> {
    let table = stores.clickhouse.qualified_table();
    let client = stores.clickhouse.client();
    let (latest_rows, distinct_keys): (u64, u64) = client
        .query(&format!(
            "SELECT count(), uniqExact(dynamoKey) FROM {table} FINAL"
        ))
        .fetch_one()
        .await?;
    let physical_rows = client
        .query(&format!("SELECT count() FROM {table}"))
        .fetch_one()
        .await?;
    Ok(RowCounts {
        latest_rows,
        distinct_keys,
        physical_rows,
    })
}

/// How many messages the dead-letter topic of `kafka.topic` holds (0 when it does not exist).
pub fn dead_letter_count(kafka: &KafkaSettings) -> i64 {
    let mut dead = kafka.clone();
    dead.topic = format!("{}.dead-letter", kafka.topic);
    crate::count_messages(&dead).unwrap_or(0)
}

/// Waits until `group`'s commits reach the end of the topic (and the end stops moving), or
/// `deadline` passes: the final position.
pub async fn wait_caught_up(
    kafka: &KafkaSettings,
    group: &str,
    deadline: Duration,
) -> anyhow::Result<GroupPosition> {
    let started = tokio::time::Instant::now();
    loop {
        let position = group_position(kafka, group).await;
        if let Ok(position) = &position {
            if position.lag() == 0 && position.end > 0 {
                return Ok(position.clone());
            }
        }
        if started.elapsed() > deadline {
            let position = position?;
            anyhow::bail!(
                "group {group} still {} messages behind after {deadline:?} ({position:?})",
                position.lag()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// KiB as MiB, for printing.
pub fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "?".to_owned(),
        |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
    )
}

#[cfg(test)]
mod tests {
    use super::metric_value;

    #[test]
    fn metric_values_are_read_with_or_without_total_and_labels() {
        let text = "# HELP x\noot_projector_consumer_lag 7\noot_projector_events_total 12\n\
                    req_total{route=\"/a\",status=\"200\"} 3\nreq_total{route=\"/b\"} 4\n# EOF\n";
        assert_eq!(metric_value(text, "oot_projector_consumer_lag"), Some(7.0));
        assert_eq!(metric_value(text, "oot_projector_events"), Some(12.0));
        assert_eq!(metric_value(text, "req"), Some(7.0));
        assert_eq!(metric_value(text, "absent"), None);
    }
}
