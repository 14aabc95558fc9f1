//! Helpers of the end-to-end tests, which run against the real local stack that
//! `compose/stack.sh up` starts (the README's test command starts it first).
//!
//! Every test gets its own topic, DynamoDB table and ClickHouse table ([`TestStores::unique`]),
//! so tests run in parallel on one stack and never see each other's data. The stack's addresses
//! come from the same `OOT_*` variables the services read, with the same loopback defaults.

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

impl TestStores {
    /// The stack's addresses, a fresh topic, a fresh DynamoDB table and a fresh ClickHouse table
    /// (in the shared `oot_hud_e2e` database). Nothing is created yet.
    pub fn unique(prefix: &str) -> Self {
        let mut settings = StoresFromEnv::parse_from(["oot-e2e"]).stores;
        settings.kafka.topic = unique_name(&format!("e2e-{prefix}")).replace('_', "-");
        settings.kafka.partitions = 3;
        settings.dynamo.table = unique_name(&format!("e2e-{prefix}"));
        settings.clickhouse.database = "oot_hud_e2e".to_owned();
        settings.clickhouse.table = unique_name(&format!("e2e_{prefix}"));
        Self { settings }
    }
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

/// A service binary of the workspace, built by `cargo test --workspace` next to the test
/// binaries (`target/<profile>/`).
pub fn service_binary(name: &str) -> anyhow::Result<PathBuf> {
    let test_exe = std::env::current_exe()?;
    let profile_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| anyhow::anyhow!("no target directory above {}", test_exe.display()))?;
    let binary = profile_dir.join(name);
    anyhow::ensure!(
        binary.is_file(),
        "{} is not built; run the tests with `cargo test --workspace` (compose/test.sh does)",
        binary.display()
    );
    Ok(binary)
}
