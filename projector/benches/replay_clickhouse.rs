//! `replay --only clickhouse` throughput, beside a bulk INSERT of the same rows into a fresh
//! table in the same run (the ceiling: ClickHouse's own ingest rate for these rows).
//!
//! Run with the stack up (`compose/stack.sh up`):
//!
//! ```sh
//! cargo bench -p oot-projector --bench replay_clickhouse                      # 200k events
//! BENCH_EVENTS=1000000 cargo bench -p oot-projector --bench replay_clickhouse
//! ```
//!
//! The events are loaded by `oot_demo::load` (two callbacks per job, validated as ingest does)
//! into a fresh topic; the tables made are dropped at the end.

use std::time::Instant;

use clap::Parser;
use oot_demo::load::{load, LoadSpec};
use oot_platform::settings::StoreSettings;
use oot_projector::completed_rows::{CompletedJobRow, ROW_COLUMNS};
use oot_projector::replay::{replay, ReplayArgs};
use tokio_util::sync::CancellationToken;

// No `#[global_allocator]`: the system allocator, as the `oot-projector` binary uses (see its
// main.rs), so the figures are the binary's.

#[derive(Parser)]
struct StoresFromEnv {
    #[command(flatten)]
    stores: StoreSettings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let id = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let mut stores = StoresFromEnv::parse_from(["bench"]).stores;
    stores.kafka.topic = format!("bench-replay-ch-{id}");
    stores.kafka.deliveries_topic = format!("bench-replay-ch-{id}-deliveries");

    let spec = LoadSpec {
        jobs: events / 2,
        backends: 8,
        days: 30,
        running: 0,
        failed_tests_per_failure: 3,
        seed: 1,
    };
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let loaded = load(
        &stores.kafka,
        &spec,
        time::OffsetDateTime::now_utc(),
        threads,
    )
    .await?;
    println!(
        "loaded     {} events ({:.1} MB) in {:.1}s: {:.0} events/s",
        loaded.events,
        loaded.bytes as f64 / 1e6,
        loaded.elapsed.as_secs_f64(),
        loaded.events_per_second()
    );

    let replayed_table = format!("bench_replay_ch_{id}");
    let args = ReplayArgs::clickhouse_only(&replayed_table);
    let started = Instant::now();
    let report = replay(&stores, &args, false, &CancellationToken::new()).await?;
    let replay_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(report.events == loaded.events, "replayed {report:?}");

    // The same rows, read back, then inserted in one bulk INSERT into a fresh table.
    let mut replayed = stores.clone();
    replayed.clickhouse.table = replayed_table.clone();
    let client = replayed.clickhouse.client();
    let rows: Vec<CompletedJobRow> = client
        .query(&format!("SELECT {ROW_COLUMNS} FROM {replayed_table}"))
        .fetch_all()
        .await?;
    let mut bulk = stores.clone();
    bulk.clickhouse.table = format!("bench_bulk_{id}");
    oot_platform::migrate::ensure_clickhouse(&bulk.clickhouse.client(), &bulk.clickhouse).await?;
    let started = Instant::now();
    let mut insert = client
        .insert::<CompletedJobRow>(&bulk.clickhouse.table)
        .await?;
    for row in &rows {
        insert.write(row).await?;
    }
    insert.end().await?;
    let bulk_secs = started.elapsed().as_secs_f64();

    let replay_rate = report.events as f64 / replay_secs;
    let bulk_rate = rows.len() as f64 / bulk_secs;
    println!(
        "replay     {} events -> {} rows in {replay_secs:.2}s: {replay_rate:.0} events/s ({:.0} rows/s)",
        report.events,
        report.rows,
        report.rows as f64 / replay_secs
    );
    println!(
        "bulk       {} rows in one INSERT in {bulk_secs:.2}s: {bulk_rate:.0} rows/s",
        rows.len()
    );
    println!(
        "ratio      replay rows/s / bulk rows/s = {:.2}",
        (report.rows as f64 / replay_secs) / bulk_rate
    );
    // Every table the two made (their read tables, views and rollups too), and the topics: a run
    // of 200k events leaves ~330 MB of log otherwise, and a broker with thousands of partitions
    // starts slowly.
    let made: Vec<String> = client
        .query(
            "SELECT name FROM system.tables WHERE database = currentDatabase() \
             AND (position(name, ?) = 1 OR position(name, ?) = 1)",
        )
        .bind(replayed_table.as_str())
        .bind(bulk.clickhouse.table.as_str())
        .fetch_all()
        .await?;
    for table in made {
        client
            .query(&format!("DROP TABLE IF EXISTS `{table}`"))
            .execute()
            .await?;
    }
    delete_topics(&stores).await?;
    Ok(())
}

/// Deletes the bench's event and delivery topics.
async fn delete_topics(stores: &StoreSettings) -> anyhow::Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = stores.kafka.client_config().create()?;
    let options = AdminOptions::new().operation_timeout(Some(std::time::Duration::from_secs(30)));
    let topics = [
        stores.kafka.topic.as_str(),
        stores.kafka.deliveries_topic.as_str(),
    ];
    for result in admin.delete_topics(&topics, &options).await? {
        if let Err((topic, code)) = result {
            eprintln!("the topic {topic} was not deleted: {code}");
        }
    }
    Ok(())
}
