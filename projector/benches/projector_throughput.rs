//! Projector and replay throughput over a log of N events (two callbacks per job), beside the
//! raw store rate measured in the same run: the same writes issued directly, one after another,
//! without coalescing or batching (a conditional PutItem per event, an INSERT per completed row).
//!
//! Run with the stack up (`compose/stack.sh up`):
//!
//! ```sh
//! cargo bench -p oot-projector --bench projector_throughput                  # 100k events
//! BENCH_EVENTS=20000 cargo bench -p oot-projector --bench projector_throughput
//! ```
//!
//! The raw rate is measured on the first `BENCH_RAW_EVENTS` (default 2,000) events only: issued
//! one by one, the whole log would take many minutes, and a rate is what is compared.

use std::time::{Duration, Instant};

use clap::Parser;
use oot_avro::{CallbackEvent, TestCounts, WorkflowRun};
use oot_platform::settings::StoreSettings;
use oot_projector::completed_rows::CompletedJobRow;
use oot_projector::job_table::JobTable;
use oot_projector::merge::JobRecord;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio_util::sync::CancellationToken;

// No `#[global_allocator]`: the system allocator, as the `oot-projector` binary uses (see its
// main.rs), so the figures are the binary's.

#[derive(Parser)]
struct StoresFromEnv {
    #[command(flatten)]
    stores: StoreSettings,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The two callbacks of job `n`, as ingest would have written them.
fn job_events(n: usize) -> [CallbackEvent; 2] {
    let key = format!(
        "bench/backend-{}/delivery-{n}/ci/test (default, {}, 4)/{}",
        n % 7,
        n % 4 + 1,
        1_000_000 + n
    );
    let base = 1_777_000_000_000_000i64 + (n as i64) * 1_000_000;
    let workflow = WorkflowRun {
        schema_version: Some("1".into()),
        status: "in_progress".into(),
        conclusion: None,
        name: "ci".into(),
        url: format!("https://github.com/bench/backend/actions/runs/{n}"),
        job_name: format!("test (default, {}, 4)", n % 4 + 1),
        check_run_id: format!("{}", 1_000_000 + n),
        run_id: format!("{n}"),
        run_attempt: 1,
        started_at: Some(base),
        completed_at: None,
        test_results: None,
        failed_tests: Vec::new(),
        environment_json: None,
        artifact_url: None,
    };
    let started = CallbackEvent {
        event_id: format!("00000000-0000-7000-8000-{n:012}"),
        received_at: base,
        job_key: key,
        verified_repo: format!("bench/backend-{}", n % 7),
        downstream_repo_level: Some("L2".into()),
        queue_time: Some(3.5),
        execution_time: None,
        event_type: "pull_request".into(),
        delivery_id: format!("delivery-{n}"),
        upstream_repo: Some("pytorch/pytorch".into()),
        pr_number: Some(100_000 + (n as i64 % 500)),
        head_sha: Some(format!("{n:040x}")),
        workflow,
        truncations: Vec::new(),
        relay_document: "{}".into(),
    };
    let mut completed = started.clone();
    completed.event_id = format!("00000000-0000-7000-9000-{n:012}");
    completed.received_at = base + 600_000_000;
    completed.queue_time = None;
    completed.execution_time = Some(600.0);
    completed.workflow.status = "completed".into();
    completed.workflow.conclusion = Some(
        if n.is_multiple_of(10) {
            "failure"
        } else {
            "success"
        }
        .into(),
    );
    completed.workflow.started_at = None;
    completed.workflow.completed_at = Some(base + 600_000_000);
    completed.workflow.test_results = Some(TestCounts {
        passed: 1000,
        failed: i64::from(n.is_multiple_of(10)),
        skipped: 3,
        total: None,
    });
    [started, completed]
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(1800);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not done within 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total = env_usize("BENCH_EVENTS", 100_000) / 2 * 2;
    let raw_sample = env_usize("BENCH_RAW_EVENTS", 2_000).min(total);
    let id = uuid::Uuid::now_v7().simple().to_string();
    let mut live = StoresFromEnv::parse_from(["bench"]).stores;
    live.kafka.topic = format!("bench-projector-{id}");
    // Its receipts consumer reads a topic of its own, not the stack's.
    live.kafka.deliveries_topic = format!("bench-projector-{id}-deliveries");
    live.dynamo.table = format!("bench-live-{id}");
    live.clickhouse.database = "oot_hud_bench".into();
    live.clickhouse.table = format!("bench_live_{id}");
    oot_projector::app::migrate_all(&live).await?;

    // The log: every job's in_progress, then its completed, keyed by job as ingest does.
    let events: Vec<CallbackEvent> = (0..total / 2).flat_map(job_events).collect();
    let producer: FutureProducer = live
        .kafka
        .client_config()
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        .create()?;
    let started = Instant::now();
    let sends = events.iter().map(|event| {
        let payload = oot_avro::encode_event(event).expect("encodes");
        let producer = &producer;
        let topic = &live.kafka.topic;
        async move {
            let record = FutureRecord::to(topic)
                .key(&event.job_key)
                .payload(&payload);
            producer
                .send(record, Duration::from_secs(30))
                .await
                .map_err(|(e, _)| e)
        }
    });
    for chunk in futures::stream::iter(sends)
        .buffer_unordered(10_000)
        .collect::<Vec<_>>()
        .await
    {
        chunk?;
    }
    producer.flush(Duration::from_secs(30))?;
    println!(
        "log of {total} events written in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // 1. The projector, live: from the first event to the last one committed.
    let config = oot_projector::config::ProjectorConfig {
        listen: "127.0.0.1:0".parse()?,
        group: format!("bench-{id}"),
        batch_events: oot_projector::source::DEFAULT_BATCH_EVENTS,
        batch_bytes: oot_projector::source::DEFAULT_BATCH_BYTES,
        batch_wait_ms: 100,
        instance_id: None,
        session_timeout_ms: 10_000,
        stores: live.clone(),
    };
    let app = oot_projector::app::Application::build(config).await?;
    let metrics = app.metrics();
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    wait_until("projector", || metrics.events.get() >= total as u64).await;
    let projector_secs = started.elapsed().as_secs_f64();
    shutdown.cancel();
    running.await??;

    // 2. Replay into fresh tables.
    let args = oot_projector::replay::ReplayArgs {
        batch_events: Some(5000),
        ..oot_projector::replay::ReplayArgs::both(
            format!("bench-replay-{id}"),
            format!("bench_replay_{id}"),
        )
    };
    let started = Instant::now();
    let report =
        oot_projector::replay::replay(&live, &args, false, &CancellationToken::new()).await?;
    let replay_secs = started.elapsed().as_secs_f64();
    assert_eq!(report.events, total as u64);

    // 3. Raw store rate: the same effects, one write per event, one after another.
    let mut raw = live.clone();
    raw.dynamo.table = format!("bench-raw-{id}");
    raw.clickhouse.table = format!("bench_raw_{id}");
    oot_projector::app::migrate_all(&raw).await?;
    let table = JobTable::new(raw.dynamo.client().await, &raw.dynamo.table);
    let clickhouse = raw.clickhouse.client();
    let started = Instant::now();
    for event in &events[..raw_sample] {
        let record = JobRecord::from_event(event)?;
        let version = table
            .save(&record, None)
            .await
            .or_else(|_| Ok::<u64, anyhow::Error>(0))?;
        if let Some(row) = CompletedJobRow::of(&record, version, 0) {
            let mut insert = clickhouse
                .insert::<CompletedJobRow>(&raw.clickhouse.table)
                .await?;
            insert.write(&row).await?;
            insert.end().await?;
        }
    }
    let raw_secs = started.elapsed().as_secs_f64();

    let rate = |events: usize, secs: f64| events as f64 / secs;
    let raw_rate = rate(raw_sample, raw_secs);
    println!();
    println!(
        "{:<34} {:>9} {:>9} {:>12} {:>10}",
        "mode", "events", "seconds", "events/s", "vs raw"
    );
    println!(
        "{:<34} {:>9} {:>9.1} {:>12.0} {:>10}",
        "raw store writes (one by one)", raw_sample, raw_secs, raw_rate, "1.0x"
    );
    for (mode, secs) in [
        ("projector (live, consumer group)", projector_secs),
        ("replay (fresh tables)", replay_secs),
    ] {
        println!(
            "{:<34} {:>9} {:>9.1} {:>12.0} {:>9.1}x",
            mode,
            total,
            secs,
            rate(total, secs),
            rate(total, secs) / raw_rate
        );
    }
    println!(
        "(projector: {} DynamoDB writes, {} ClickHouse rows for {} jobs)",
        metrics.dynamodb_writes.get(),
        metrics.clickhouse_rows.get(),
        total / 2
    );
    Ok(())
}

use futures::StreamExt as _;
