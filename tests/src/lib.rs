//! Helpers of the end-to-end tests, which run against the real local stack that
//! `compose/stack.sh up` starts (the README's test command starts it first).
//!
//! Every test gets its own topic, DynamoDB table and ClickHouse table ([`TestStores::unique`]),
//! so tests run in parallel on one stack and never see each other's data. The stack's addresses
//! come from the same `OOT_*` variables the services read, with the same loopback defaults.

pub mod bench;
pub mod drill;
pub mod story;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use oot_platform::settings::StoreSettings;

#[derive(Parser)]
struct StoresFromEnv {
    #[command(flatten)]
    stores: StoreSettings,
}

/// Settings of the local stack, with names of the test's own.
pub struct TestStores {
    pub settings: StoreSettings,
}

/// A name no other test (or earlier run) uses: `{prefix}_{12 hex digits}`.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &id[..12])
}

/// What the end-to-end tests' topics and DynamoDB tables are named after (`e2e-…`), and their
/// ClickHouse tables (`e2e_…`): what `drop-test-leftovers` deletes.
pub const TEST_NAME_PREFIX: &str = "e2e";

/// The ClickHouse database of the end-to-end tests' tables.
pub const TEST_DATABASE: &str = "oot_hud_e2e";

impl TestStores {
    /// The stack's addresses, a fresh topic (and deliveries topic), a fresh DynamoDB table and a
    /// fresh ClickHouse table (in the shared `oot_hud_e2e` database). Nothing is created yet.
    pub fn unique(prefix: &str) -> Self {
        let mut settings = StoresFromEnv::parse_from(["oot-e2e"]).stores;
        settings.kafka.topic =
            unique_name(&format!("{TEST_NAME_PREFIX}-{prefix}")).replace('_', "-");
        settings.kafka.deliveries_topic = format!("{}-deliveries", settings.kafka.topic);
        settings.kafka.partitions = 3;
        settings.dynamo.table = unique_name(&format!("{TEST_NAME_PREFIX}-{prefix}"));
        settings.clickhouse.database = TEST_DATABASE.to_owned();
        settings.clickhouse.table = unique_name(&format!("{TEST_NAME_PREFIX}_{prefix}"));
        Self { settings }
    }

    /// For a test that makes a table as an older stack had it, before `migrate`: creates the
    /// test's ClickHouse database and returns the server's version (for the DDL it renders).
    pub async fn clickhouse_database_made(&self) -> anyhow::Result<String> {
        let system = self.settings.clickhouse.client().with_database("system");
        let version: String = system.query("SELECT version()").fetch_one().await?;
        system
            .query(&format!(
                "CREATE DATABASE IF NOT EXISTS {}",
                self.settings.clickhouse.database
            ))
            .execute()
            .await?;
        Ok(version)
    }
}

/// Sets up telemetry once per test binary, as the services do, so trace context flows; logs
/// print only when `TEST_LOG` names a filter (e.g. `TEST_LOG=info`).
pub fn init_telemetry() {
    static TELEMETRY: std::sync::OnceLock<Option<oot_platform::telemetry::TelemetryGuard>> =
        std::sync::OnceLock::new();
    TELEMETRY.get_or_init(|| {
        let filter = std::env::var("TEST_LOG").unwrap_or_else(|_| "off".to_owned());
        oot_platform::telemetry::init_telemetry_with_filter("oot-e2e", &filter).ok()
    });
}

/// Polls `condition` until it holds or `deadline` passes; tests wait on conditions, never on
/// fixed sleeps.
pub async fn eventually<F, Fut>(
    deadline: Duration,
    what: &str,
    mut condition: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    loop {
        if condition().await {
            return Ok(());
        }
        if start.elapsed() > deadline {
            anyhow::bail!("{what}: not true within {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A service binary of the workspace, built by `cargo build --workspace --bins` next to the
/// test binaries (`target/<profile>/`).
pub fn service_binary(name: &str) -> anyhow::Result<PathBuf> {
    let test_exe = std::env::current_exe()?;
    let profile_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| anyhow::anyhow!("no target directory above {}", test_exe.display()))?;
    let binary = profile_dir.join(name);
    anyhow::ensure!(
        binary.is_file(),
        "{} is not built; run `cargo build --workspace --bins` first (compose/test.sh does)",
        binary.display()
    );
    Ok(binary)
}

/// The relay's token in the tests; the second one shows a rotation (both valid).
pub const TEST_TOKENS: [&str; 2] = ["e2e-relay-secret-current", "e2e-relay-secret-next-000"];

/// The contract's sample callbacks (`tests/fixtures`, see `docs/contract.md`).
pub mod fixtures {
    pub const IN_PROGRESS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/in_progress.json"
    ));
    pub const COMPLETED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/completed.json"
    ));
    pub const NIGHTLY_COMPLETED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/nightly_completed.json"
    ));

    /// A fixture as JSON, to change before sending.
    pub fn json(text: &str) -> serde_json::Value {
        serde_json::from_str(text).expect("fixtures are JSON")
    }
}

/// Callbacks built by the one callback builder ([`oot_demo::callback`]), and what the tests
/// build theirs from.
pub mod callbacks {
    use oot_contract::RepoName;
    pub use oot_demo::callback::{sample, Callback, FailedTest, Job, PullRequest, Trigger};

    /// `name` as a repo (a test's literal: panics if it is not a valid one).
    pub fn repo(name: &str) -> RepoName {
        RepoName::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// The sample callbacks' upstream PR renumbered `pr`, with head commit `{pr:0>40}`.
    pub fn upstream_pr(pr: u64) -> Trigger {
        Trigger::PullRequest(PullRequest {
            number: pr,
            head_sha: format!("{pr:0>40}"),
            ..sample::pull_request()
        })
    }

    /// `seconds` before now.
    pub fn ago(seconds: i64) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() - time::Duration::seconds(seconds)
    }
}

/// Ingest settings for a test: port 0, the test tokens, the given stores, and a short delivery
/// timeout so outage tests answer quickly.
pub fn ingest_config(stores: &StoreSettings) -> oot_ingest::config::IngestConfig {
    oot_ingest::config::IngestConfig {
        listen: "127.0.0.1:0".parse().expect("literal address"),
        tokens: Some(secrecy::SecretString::from(TEST_TOKENS.join(","))),
        max_body_bytes: 2 * 1024 * 1024,
        max_body_bytes_in_flight: 32 * 1024 * 1024,
        body_read_timeout_ms: 30_000,
        rate_limit: 0,
        rate_window_secs: 60,
        receipt_limit: 0,
        delivery_timeout_ms: 3_000,
        linger_ms: 5,
        unavailable_retry_after_secs: 5,
        kafka: stores.kafka.clone(),
    }
}

/// An ingest service running in this process until dropped.
pub struct TestIngest {
    pub base_url: String,
    pub client: reqwest::Client,
    shutdown: tokio_util::sync::CancellationToken,
}

impl TestIngest {
    /// Builds (creating the topic) and serves ingest with `config`, on the system clock.
    pub async fn spawn(config: oot_ingest::config::IngestConfig) -> anyhow::Result<Self> {
        Self::spawn_with_clock(config, oot_ingest::clock::Clock::system()).await
    }

    /// [`TestIngest::spawn`], with events stamped by `clock`.
    pub async fn spawn_with_clock(
        config: oot_ingest::config::IngestConfig,
        clock: oot_ingest::clock::Clock,
    ) -> anyhow::Result<Self> {
        init_telemetry();
        let app = oot_ingest::app::Application::build_with_clock(config, clock).await?;
        Ok(Self::serving(app.port(), |shutdown| async move {
            if let Err(error) = app.run_until_stopped(shutdown).await {
                eprintln!("ingest stopped with an error: {error:?}");
            }
        }))
    }

    /// Serves only the endpoint's routes over `state`, without building the application (no
    /// topic creation): for brokers that are not there.
    pub async fn spawn_routes(state: oot_ingest::routes::IngestState) -> anyhow::Result<Self> {
        init_telemetry();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let router = oot_ingest::routes::routes(std::sync::Arc::new(state));
        Ok(Self::serving(port, |shutdown| async move {
            let _ = oot_platform::shutdown::serve_until_cancelled(listener, router, shutdown).await;
        }))
    }

    fn serving<F, Fut>(port: u16, run: F) -> Self
    where
        F: FnOnce(tokio_util::sync::CancellationToken) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let shutdown = tokio_util::sync::CancellationToken::new();
        tokio::spawn(run(shutdown.clone()));
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            shutdown,
        }
    }

    /// POSTs `body` as JSON with `token` (none when `None`).
    pub async fn post_with_token(
        &self,
        body: impl Into<reqwest::Body>,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/api/oot/results", self.base_url))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.header("x-hud-internal-bot", token);
        }
        request.send().await.expect("ingest answers")
    }

    /// POSTs a callback with the first test token.
    pub async fn post_callback(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.post_with_token(body, Some(TEST_TOKENS[0])).await
    }
}

impl Drop for TestIngest {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Reads every message of `topic` from the beginning until `expected` have arrived or 30 s pass.
pub async fn read_topic(
    kafka: &oot_platform::settings::KafkaSettings,
    expected: usize,
) -> anyhow::Result<Vec<rdkafka::message::OwnedMessage>> {
    use rdkafka::consumer::{Consumer, StreamConsumer};
    let consumer: StreamConsumer = kafka
        .client_config()
        .set("group.id", unique_name("e2e-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.subscribe(&[&kafka.topic])?;
    let mut messages = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while messages.len() < expected {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(message) => messages.push(message?.detach()),
            Err(_) => anyhow::bail!(
                "only {} of {expected} messages arrived on {}",
                messages.len(),
                kafka.topic
            ),
        }
    }
    Ok(messages)
}

/// How many messages `topic` holds (sum of its partitions' high watermarks; nothing is deleted
/// from the tests' topics).
pub fn count_messages(kafka: &oot_platform::settings::KafkaSettings) -> anyhow::Result<i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let client: BaseConsumer = kafka.client_config().create()?;
    let metadata = client.fetch_metadata(Some(&kafka.topic), Duration::from_secs(10))?;
    let mut total = 0;
    for topic in metadata.topics() {
        for partition in topic.partitions() {
            let (low, high) =
                client.fetch_watermarks(&kafka.topic, partition.id(), Duration::from_secs(10))?;
            total += high - low;
        }
    }
    Ok(total)
}

/// Stops or starts one server of the local stack (`compose/stack.sh stop|start NAME`), for the
/// outage tests that `compose/test.sh` runs alone after the others.
pub async fn stack_server(action: &str, server: &str) -> anyhow::Result<()> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../compose/stack.sh");
    let status = tokio::process::Command::new("bash")
        .args([script, action, server])
        .status()
        .await?;
    anyhow::ensure!(
        status.success(),
        "compose/stack.sh {action} {server} failed: {status}"
    );
    Ok(())
}

/// Fresh stores of the test's own, with ingest and a projector running on them.
pub async fn ingest_and_projector(prefix: &str) -> (TestStores, TestIngest, TestProjector) {
    let stores = TestStores::unique(prefix);
    let ingest = TestIngest::spawn(ingest_config(&stores.settings))
        .await
        .expect("ingest starts");
    let projector = TestProjector::spawn(projector_config(&stores.settings))
        .await
        .expect("the projector starts");
    (stores, ingest, projector)
}

/// Projector settings for a test: port 0, its own consumer group, small quick batches.
pub fn projector_config(stores: &StoreSettings) -> oot_projector::config::ProjectorConfig {
    oot_projector::config::ProjectorConfig {
        listen: "127.0.0.1:0".parse().expect("literal address"),
        group: unique_name("e2e-projector"),
        batch_events: 500,
        batch_bytes: oot_projector::source::DEFAULT_BATCH_BYTES,
        batch_wait_ms: 50,
        // Port 0: dynamic membership (tests start several projectors side by side).
        instance_id: None,
        session_timeout_ms: 10_000,
        stores: stores.clone(),
    }
}

/// A projector running in this process until stopped or dropped.
pub struct TestProjector {
    pub base_url: String,
    pub metrics: oot_projector::metrics::ProjectorMetrics,
    shutdown: tokio_util::sync::CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestProjector {
    pub async fn spawn(config: oot_projector::config::ProjectorConfig) -> anyhow::Result<Self> {
        init_telemetry();
        let app = oot_projector::app::Application::build(config).await?;
        let base_url = format!("http://127.0.0.1:{}", app.port());
        let metrics = app.metrics();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Ok(Self {
            base_url,
            metrics,
            shutdown,
            task: Some(task),
        })
    }

    /// Stops it, waiting for the batch in hand to be stored and committed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Drop for TestProjector {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The DynamoDB item of `job_key`, if any.
pub async fn job_item(
    stores: &StoreSettings,
    job_key: &str,
) -> anyhow::Result<
    Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>,
> {
    let client = stores.dynamo.client().await;
    let answer = client
        .get_item()
        .table_name(&stores.dynamo.table)
        .key(
            "dynamoKey",
            aws_sdk_dynamodb::types::AttributeValue::S(job_key.to_owned()),
        )
        .consistent_read(true)
        .send()
        .await?;
    Ok(answer.item().cloned())
}

/// A string attribute of an item ("" when absent), and a number attribute.
pub fn attr_s(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    name: &str,
) -> String {
    match item.get(name) {
        Some(aws_sdk_dynamodb::types::AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    }
}

pub fn attr_n(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    name: &str,
) -> Option<f64> {
    match item.get(name) {
        Some(aws_sdk_dynamodb::types::AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// The latest version of every completed row (what the views read: `FINAL`), ordered by key.
pub async fn completed_rows(
    stores: &StoreSettings,
) -> anyhow::Result<Vec<oot_projector::completed_rows::CompletedJobRow>> {
    let sql = format!(
        "SELECT {} FROM {} FINAL ORDER BY dynamoKey",
        oot_projector::completed_rows::ROW_COLUMNS,
        stores.clickhouse.qualified_table()
    );
    Ok(stores.clickhouse.client().query(&sql).fetch_all().await?)
}

/// How many rows the table physically holds (all versions, before merges).
pub async fn physical_row_count(stores: &StoreSettings) -> anyhow::Result<u64> {
    let sql = format!(
        "SELECT count() FROM {}",
        stores.clickhouse.qualified_table()
    );
    Ok(stores.clickhouse.client().query(&sql).fetch_one().await?)
}

/// Query service settings for a test: port 0, the given stores.
pub fn query_config(stores: &StoreSettings) -> oot_query::config::QueryConfig {
    oot_query::config::QueryConfig {
        listen: "127.0.0.1:0".parse().expect("literal address"),
        dynamo: stores.dynamo.clone(),
        clickhouse: stores.clickhouse.clone(),
        max_concurrent_views: oot_query::config::DEFAULT_MAX_CONCURRENT_VIEWS,
        max_concurrent_failing_tests: oot_query::config::DEFAULT_MAX_CONCURRENT_FAILING_TESTS,
        // Every request computes: the tests read what they have just written.
        failing_tests_fresh_for_s: 0,
        pr_triage_fresh_for_s: 0,
        readiness_thresholds: None,
    }
}

/// A query service (or only its routes) running in this process until dropped.
pub struct TestQuery {
    pub base_url: String,
    pub client: reqwest::Client,
    shutdown: tokio_util::sync::CancellationToken,
}

impl TestQuery {
    /// Builds (preparing the tables) and serves the query service with `config`.
    pub async fn spawn(config: oot_query::config::QueryConfig) -> anyhow::Result<Self> {
        init_telemetry();
        let app = oot_query::app::Application::build(config).await?;
        let port = app.port();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            if let Err(error) = app.run_until_stopped(stop).await {
                eprintln!("query service stopped with an error: {error:?}");
            }
        });
        Ok(Self::at(port, shutdown))
    }

    /// Serves only the views' routes over `stores`, without building the application (no
    /// table preparation, no readiness): for stores that are not there.
    pub async fn spawn_routes(stores: oot_query::api::Stores) -> anyhow::Result<Self> {
        init_telemetry();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let router = oot_query::api::routes(std::sync::Arc::new(stores));
        let shutdown = tokio_util::sync::CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = oot_platform::shutdown::serve_until_cancelled(listener, router, stop).await;
        });
        Ok(Self::at(port, shutdown))
    }

    fn at(port: u16, shutdown: tokio_util::sync::CancellationToken) -> Self {
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            shutdown,
        }
    }

    /// GETs `path_and_query` (e.g. `/api/oot/summary?window=7d`): the status, the
    /// `Retry-After` header if any, and the body as JSON (`Null` when it is not JSON).
    pub async fn get(&self, path_and_query: &str) -> (u16, Option<String>, serde_json::Value) {
        let response = self.send_get(path_and_query).await;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("a readable body");
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        (status, retry_after, body)
    }

    /// GETs `path_and_query` for a body that is not JSON (a page, a CSV): the status and the
    /// text.
    pub async fn get_text(&self, path_and_query: &str) -> (u16, String) {
        let response = self.send_get(path_and_query).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("a readable body"))
    }

    async fn send_get(&self, path_and_query: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path_and_query}", self.base_url))
            .send()
            .await
            .expect("the query service answers")
    }
}

impl Drop for TestQuery {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The query service's stores over the given ClickHouse and DynamoDB (either may point at
/// nothing), each read given `timeout`, keeping no answer.
pub async fn query_stores(
    clickhouse: &oot_platform::settings::ClickHouseSettings,
    dynamo: &oot_platform::settings::DynamoSettings,
    timeout: Duration,
) -> oot_query::api::Stores {
    // Nothing kept: each call computes (the tests read what they have just written; the
    // benchmarks time the computation in process and the kept answers over HTTP).
    oot_query::api::Stores::connect(clickhouse, dynamo.client().await, &dynamo.table, timeout)
        .with_failing_tests_kept(Duration::ZERO, 1)
        .with_pr_triage_kept(Duration::ZERO)
}

/// The summary read from the rollups, in every window, as the baseline that counts every job
/// computes it; the rollups' summaries, 24 h first.
pub async fn rollups_match_baseline(
    settings: &StoreSettings,
) -> anyhow::Result<Vec<oot_query::views::summary::Summary>> {
    let stores = query_stores(
        &settings.clickhouse,
        &settings.dynamo,
        Duration::from_secs(10),
    )
    .await;
    let now = oot_query::clock::now();
    let mut summaries = Vec::new();
    for window in oot_query::rules::Window::ALL {
        let rollups = oot_query::api::summary_at(&stores, window, now).await?;
        let baseline = oot_query::api::baseline_summary(&stores, window, now).await?;
        anyhow::ensure!(
            rollups == baseline,
            "window {}: the rollups say {rollups:#?}\nthe baseline says {baseline:#?}",
            window.as_str()
        );
        summaries.push(rollups);
    }
    Ok(summaries)
}

/// How long before now [`aged_callback`]s are received.
pub const AGED_SECONDS: i64 = 10 * 86_400;

/// A failed job of `repo` completed [`AGED_SECONDS`] ago (received then, see [`seed_views`]):
/// a repo with nothing in any window but the 30-day one.
pub fn aged_callback(repo: &str) -> serde_json::Value {
    use oot_demo::callback::{sample, Job};
    let job = Job {
        repo: oot_contract::RepoName::parse(repo).expect("a valid test repo"),
        level: oot_contract::RepoLevel::L1,
        delivery_id: "d-1".to_owned(),
        workflow: "ci".to_owned(),
        job_name: "test".to_owned(),
        run_id: 1,
        run_attempt: 1,
        check_run_id: 1,
        ..sample::job()
    };
    let at = time::OffsetDateTime::now_utc() - time::Duration::seconds(AGED_SECONDS);
    job.completed(oot_contract::Conclusion::Failure, at, Some(60.0))
        .to_json()
}

/// A stack with seeded data projected, and a query service over it.
pub struct SeededViews {
    pub stores: TestStores,
    pub ingest: TestIngest,
    pub projector: TestProjector,
    pub query: TestQuery,
}

/// A clock for ingest that reads the system clock plus an offset the test moves.
#[derive(Clone, Default)]
pub struct TestClock {
    offset_seconds: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl TestClock {
    /// The system clock moved by `seconds`.
    pub fn offset_by(seconds: i64) -> Self {
        let clock = Self::default();
        clock.advance(seconds);
        clock
    }

    pub fn advance(&self, seconds: i64) {
        self.offset_seconds
            .fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }

    /// The clock ingest reads.
    pub fn clock(&self) -> oot_ingest::clock::Clock {
        let offset = self.offset_seconds.clone();
        oot_ingest::clock::Clock::from_fn(move || {
            let seconds = offset.load(std::sync::atomic::Ordering::SeqCst);
            time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds)
        })
    }
}

/// Posts each group of callbacks through ingest, each group seen by ingest a second after the
/// one before (rows are ordered by first-seen second; ingest's clock is moved, never waited
/// on, and starts as many seconds behind as there are groups, so no job is seen in the future),
/// after the `aged` callbacks, received [`AGED_SECONDS`] ago; waits until the projector has
/// projected them all, and starts a query service over the tables.
pub async fn seed_views(
    prefix: &str,
    groups: &[Vec<serde_json::Value>],
    aged: &[serde_json::Value],
) -> anyhow::Result<SeededViews> {
    let stores = TestStores::unique(prefix);
    let clock = TestClock::offset_by(-AGED_SECONDS);
    let ingest =
        TestIngest::spawn_with_clock(ingest_config(&stores.settings), clock.clock()).await?;
    let projector = TestProjector::spawn(projector_config(&stores.settings)).await?;
    let total: usize = groups.iter().map(Vec::len).sum::<usize>() + aged.len();
    for body in aged {
        let response = ingest.post_callback(body.to_string()).await;
        let status = response.status().as_u16();
        anyhow::ensure!(
            status == 202,
            "aged callback answered {status}: {}",
            response.text().await?
        );
    }
    clock.advance(AGED_SECONDS - i64::try_from(groups.len())?);
    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            clock.advance(1);
        }
        for body in group {
            let response = ingest.post_callback(body.to_string()).await;
            let status = response.status().as_u16();
            anyhow::ensure!(
                status == 202,
                "seed callback answered {status}: {}",
                response.text().await?
            );
        }
    }
    eventually(
        Duration::from_secs(60),
        "the projector projects every event",
        || async { projector.metrics.events.get() >= total as u64 },
    )
    .await?;
    let s = &stores.settings;
    let query = TestQuery::spawn(query_config(s)).await?;
    Ok(SeededViews {
        stores,
        ingest,
        projector,
        query,
    })
}
