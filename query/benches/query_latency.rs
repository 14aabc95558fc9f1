//! Latency of the query service's JSON endpoints at production-like volume: p50/p95 of each
//! view with `BENCH_ROWS` completed jobs in ClickHouse (default 1,000,000) and `BENCH_LIVE`
//! running jobs in DynamoDB (default 10,000).
//!
//!   compose/stack.sh up && cargo bench -p oot-query --bench query_latency
//!   BENCH_ROWS=100000 BENCH_LIVE=1000 BENCH_REQUESTS=20 cargo bench -p oot-query --bench query_latency
//!
//! Every run makes its own tables (database `oot_hud_bench`, DynamoDB `bench-*`), loads them
//! straight (ClickHouse INSERTs of `CompletedJobRow`, DynamoDB BatchWriteItem of `job_item`s:
//! the projector's own row and item layouts, without the event log in between, which is not what
//! is measured), serves the query service in this process over them, and drops them at the end
//! unless `BENCH_KEEP=1`. Requests are sequential, so the figures are latencies, not throughput.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops where it breaks

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use clap::Parser;
use futures::StreamExt as _;
use oot_avro::{CallbackEvent, FailedTest, TestCounts, WorkflowRun};
use oot_projector::completed_rows::CompletedJobRow;
use oot_projector::merge::JobRecord;
use oot_query::config::QueryConfig;

const BACKENDS: usize = 20;
const PRS: u64 = 5_000;
const JOB_NAMES: usize = 20;
const DAYS: u32 = 30;
/// Rows per ClickHouse INSERT, and INSERTs in flight.
const INSERT_ROWS: usize = 100_000;
const INSERTS_IN_FLIGHT: usize = 4;
/// BatchWriteItem's limit, and batches in flight.
const BATCH_ITEMS: usize = 25;
const BATCHES_IN_FLIGHT: usize = 16;
const FIRST_PR: u64 = 150_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| v.replace('_', "").parse().expect(name))
        .unwrap_or(default)
}

use oot_demo::rng::Rng;

fn backend(i: usize) -> (String, &'static str) {
    let orgs = [
        "intel",
        "ascend",
        "riscv-farm",
        "cambricon",
        "amd",
        "arm",
        "ibm",
        "apple",
        "qualcomm",
        "google",
    ];
    let repo = format!("{}/pytorch-backend-{i:02}", orgs[i % orgs.len()]);
    (repo, ["L1", "L2", "L3", "L4"][i % 4])
}

fn job_name(j: usize) -> String {
    match j {
        0 => "linux / build".to_owned(),
        1 => "linux / lint".to_owned(),
        _ => format!("linux / test (default, {}, {})", j - 1, JOB_NAMES - 2),
    }
}

/// When PR `pr` was pushed: spread over the window, later PRs later (as GitHub numbers them).
fn pr_pushed_at(now: u32, pr: u64) -> u32 {
    let span = DAYS * 86_400;
    now - span + (u64::from(span) * pr / PRS) as u32
}

fn failed_tests_json(n: u64) -> String {
    let tests: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "name": format!("test_case_{i}"),
                "classname": "test.test_ops.TestCommonDevice",
                "message": "AssertionError: Tensor-likes are not close!",
                "stacktrace": "Traceback (most recent call last):\n  File \"test/test_ops.py\", line 812\nAssertionError",
                "duration_s": 1.5,
                "message_truncated": false,
                "stacktrace_truncated": false,
            })
        })
        .collect();
    serde_json::Value::Array(tests).to_string()
}

/// Completed row number `i` of the synthetic history.
fn completed_row(i: u64, now: u32, rng: &mut Rng) -> CompletedJobRow {
    let b = rng.below(BACKENDS as u64) as usize;
    let (repo, level) = backend(b);
    let nightly = rng.below(100) < 3;
    let pr = rng.below(PRS);
    let job = job_name(rng.below(JOB_NAMES as u64) as usize);
    // One in ten jobs is a re-run (attempt 2 or 3 of the same run).
    let attempt = match rng.below(100) {
        0..=89 => 1,
        90..=97 => 2,
        _ => 3,
    };
    let conclusion = match rng.below(100) {
        0..=79 => "success",
        80..=91 => "failure",
        92..=95 => "timed_out",
        96..=98 => "cancelled",
        _ => "skipped",
    };
    let seen = (pr_pushed_at(now, pr) + rng.below(6 * 3_600) as u32).min(now - 60);
    let queue = rng.below(900) as f64;
    let execution = (600 + rng.below(7_200)) as f64;
    let started = seen + queue as u32;
    let failed = if conclusion == "failure" {
        1 + rng.below(20)
    } else {
        0
    };
    let passed = 2_000 + rng.below(8_000);
    let run_id = 10_000_000_000 + i / 8;
    let delivery_id = format!("{:016x}-{pr}", (b as u64) << 32 | pr);
    let workflow = "ci";
    let check_run_id = 30_000_000_000 + i;
    CompletedJobRow {
        dynamo_key: format!("{repo}/{delivery_id}/{workflow}/{job}/{check_run_id}"),
        version: 2,
        source_digest: format!("{:016x}", rng.next_u64()),
        first_seen_at: seen,
        projected_at: seen + 10,
        status: "completed".to_owned(),
        downstream_repo: repo.clone(),
        downstream_repo_level: level.to_owned(),
        upstream_repo: "pytorch/pytorch".to_owned(),
        pr_number: (!nightly).then_some(FIRST_PR + pr),
        pytorch_head_sha: format!("{:016x}{:016x}{:08x}", rng.next_u64(), rng.next_u64(), pr),
        delivery_id,
        event_type: if nightly { "nightly" } else { "pull_request" }.to_owned(),
        workflow_run_url: format!("https://github.com/{repo}/actions/runs/{run_id}"),
        workflow_name: workflow.to_owned(),
        job_name: job,
        check_run_id: check_run_id.to_string(),
        run_id: run_id.to_string(),
        run_attempt: attempt,
        conclusion: conclusion.to_owned(),
        queue_time: Some(queue),
        execution_time: Some(execution),
        started_at: Some(started),
        completed_at: started + execution as u32,
        total_tests: Some(passed + failed + 100),
        passed_tests: Some(passed),
        failed_tests: Some(failed),
        skipped_tests: Some(100),
        failed_tests_json: failed_tests_json(failed),
        artifact_url: format!("https://github.com/{repo}/actions/runs/{run_id}/artifacts/1"),
        environment: r#"{"device":"accelerator","driver":"1.0","python":"3.12"}"#.to_owned(),
    }
}

/// The DynamoDB item of running job `i`, built as the projector builds it.
fn running_item(i: u64, now: u32, rng: &mut Rng) -> HashMap<String, AttributeValue> {
    let b = rng.below(BACKENDS as u64) as usize;
    let (repo, level) = backend(b);
    // Running jobs belong to the most recent PRs.
    let pr = PRS - 1 - rng.below(PRS / 10);
    let job = job_name(rng.below(JOB_NAMES as u64) as usize);
    let delivery_id = format!("live-{:016x}-{pr}", (b as u64) << 32 | pr);
    let started = i64::from(now) - rng.below(3 * 3_600) as i64;
    let micros = started * 1_000_000;
    let run_id = 20_000_000_000 + i / 8;
    let check_run_id = 40_000_000_000 + i;
    let workflow = WorkflowRun {
        schema_version: Some("1".to_owned()),
        status: "in_progress".to_owned(),
        conclusion: None,
        name: "ci".to_owned(),
        url: format!("https://github.com/{repo}/actions/runs/{run_id}"),
        job_name: job.clone(),
        check_run_id: check_run_id.to_string(),
        run_id: run_id.to_string(),
        run_attempt: 1,
        started_at: Some(micros),
        completed_at: None,
        test_results: None::<TestCounts>,
        failed_tests: Vec::<FailedTest>::new(),
        environment_json: None,
        artifact_url: None,
    };
    let event = CallbackEvent {
        event_id: format!("00000000-0000-0000-0000-{i:012}"),
        received_at: micros,
        job_key: format!("{repo}/{delivery_id}/ci/{job}/{check_run_id}"),
        verified_repo: repo,
        downstream_repo_level: Some(level.to_owned()),
        queue_time: Some(rng.below(900) as f64),
        execution_time: None,
        event_type: "pull_request".to_owned(),
        delivery_id,
        upstream_repo: Some("pytorch/pytorch".to_owned()),
        pr_number: Some((FIRST_PR + pr) as i64),
        head_sha: Some(format!(
            "{:016x}{:016x}{:08x}",
            rng.next_u64(),
            rng.next_u64(),
            pr
        )),
        workflow,
        truncations: Vec::new(),
        relay_document: String::new(),
    };
    let record = JobRecord::from_event(&event).expect("a valid event");
    oot_projector::job_table::job_item(&record, 1).expect("an item")
}

async fn load_clickhouse(
    settings: &oot_platform::settings::ClickHouseSettings,
    rows: usize,
    now: u32,
) {
    let client = settings.client();
    let chunks = rows.div_ceil(INSERT_ROWS);
    let inserts = (0..chunks).map(|chunk| {
        let client = client.clone();
        let table = settings.table.clone();
        async move {
            let first = chunk * INSERT_ROWS;
            let last = (first + INSERT_ROWS).min(rows);
            let mut rng = Rng::seeded(chunk as u64 + 1);
            let mut insert = client
                .insert::<CompletedJobRow>(&table)
                .await
                .expect("insert");
            for i in first..last {
                let row = completed_row(i as u64, now, &mut rng);
                insert.write(&row).await.expect("row written");
            }
            insert.end().await.expect("insert ends");
        }
    });
    futures::stream::iter(inserts)
        .buffer_unordered(INSERTS_IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
}

async fn load_dynamo(client: &aws_sdk_dynamodb::Client, table: &str, items: usize, now: u32) {
    let mut rng = Rng::seeded(0xD1A0);
    let all: Vec<_> = (0..items as u64)
        .map(|i| running_item(i, now, &mut rng))
        .collect();
    let batches = all.chunks(BATCH_ITEMS).map(|batch| {
        let mut pending: Vec<WriteRequest> = batch
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .expect("put"),
                    )
                    .build()
            })
            .collect();
        async move {
            // DynamoDB may hand part of a batch back as unprocessed: send it again.
            while !pending.is_empty() {
                let answer = client
                    .batch_write_item()
                    .request_items(table, std::mem::take(&mut pending))
                    .send()
                    .await
                    .expect("batch write");
                if let Some(rest) = answer.unprocessed_items().and_then(|u| u.get(table)) {
                    pending = rest.clone();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
    futures::stream::iter(batches)
        .buffer_unordered(BATCHES_IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1_000.0)
}

#[derive(Parser)]
struct StoresFromEnv {
    #[command(flatten)]
    stores: oot_platform::settings::StoreSettings,
}

#[tokio::main]
async fn main() {
    let rows = env_usize("BENCH_ROWS", 1_000_000);
    let live = env_usize("BENCH_LIVE", 10_000);
    let requests = env_usize("BENCH_REQUESTS", 50).max(1);
    let keep = std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1");
    // `cargo bench` passes `--bench`; nothing here takes arguments.
    let mut settings = StoresFromEnv::parse_from(["query_latency"]).stores;
    let suffix = format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            % 0xFFFF_FFFF
    );
    settings.clickhouse.database = "oot_hud_bench".to_owned();
    settings.clickhouse.table = format!("bench_{suffix}");
    settings.dynamo.table = format!("bench-{suffix}");
    let now = u32::try_from(oot_query::clock::now()).unwrap();

    println!(
        "query_latency: {rows} completed rows ({}), {live} running jobs (DynamoDB {}), {requests} requests per endpoint",
        settings.clickhouse.qualified_table(),
        settings.dynamo.table
    );
    let clickhouse = settings.clickhouse.client();
    oot_platform::migrate::ensure_clickhouse(&clickhouse, &settings.clickhouse)
        .await
        .expect("ClickHouse table (is the stack up? compose/stack.sh up)");
    let dynamo = settings.dynamo.client().await;
    oot_platform::migrate::ensure_job_table(&dynamo, &settings.dynamo)
        .await
        .expect("DynamoDB table");

    let started = Instant::now();
    load_clickhouse(&settings.clickhouse, rows, now).await;
    let took = started.elapsed();
    println!(
        "  loaded ClickHouse  {rows:>9} rows   in {:>6.1} s ({:.0} rows/s)",
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64()
    );
    let started = Instant::now();
    load_dynamo(&dynamo, &settings.dynamo.table, live, now).await;
    let took = started.elapsed();
    println!(
        "  loaded DynamoDB    {live:>9} items  in {:>6.1} s ({:.0} items/s)",
        took.as_secs_f64(),
        live as f64 / took.as_secs_f64()
    );

    let app = oot_query::app::Application::build(QueryConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        dynamo: settings.dynamo.clone(),
        clickhouse: settings.clickhouse.clone(),
    })
    .await
    .expect("query service");
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let http = reqwest::Client::new();

    // The busiest backend (backend 0 gets as many jobs as any), and PRs with completed and
    // running jobs, taken in turn so no two consecutive requests ask for the same PR.
    let (busy_backend, _) = backend(0);
    let recent_prs: Vec<u64> = (0..requests as u64)
        .map(|k| FIRST_PR + PRS - 1 - (k * 7) % (PRS / 10))
        .collect();
    let endpoints: Vec<(String, Vec<String>)> = vec![
        (
            "summary 24h".into(),
            vec!["/api/oot/summary?window=24h".into()],
        ),
        (
            "summary 7d".into(),
            vec!["/api/oot/summary?window=7d".into()],
        ),
        (
            "summary 30d".into(),
            vec!["/api/oot/summary?window=30d".into()],
        ),
        (
            "backend 7d, page 1".into(),
            vec![format!("/api/oot/{busy_backend}?window=7d")],
        ),
        (
            "backend 30d, page 1".into(),
            vec![format!("/api/oot/{busy_backend}?window=30d")],
        ),
        (
            "backend 30d, page 5".into(),
            vec![format!("/api/oot/{busy_backend}?window=30d&page=5")],
        ),
        (
            "PR (all retained)".into(),
            recent_prs
                .iter()
                .map(|pr| format!("/api/oot/pr/{pr}"))
                .collect(),
        ),
        (
            "PR 7d".into(),
            recent_prs
                .iter()
                .map(|pr| format!("/api/oot/pr/{pr}?window=7d"))
                .collect(),
        ),
    ];

    println!();
    println!(
        "  {:<22} {:>8} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "endpoint", "requests", "p50 ms", "p95 ms", "max ms", "mean ms", "body KiB"
    );
    for (name, paths) in &endpoints {
        // One untimed request first: connection set-up and the first read of cold parts.
        let warm = http
            .get(format!("{base}{}", paths[0]))
            .send()
            .await
            .unwrap();
        assert_eq!(
            warm.status().as_u16(),
            200,
            "{name}: {}",
            warm.text().await.unwrap()
        );
        let mut times = Vec::with_capacity(requests);
        let mut bytes = 0usize;
        for k in 0..requests {
            let path = &paths[k % paths.len()];
            let start = Instant::now();
            let response = http.get(format!("{base}{path}")).send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap();
            times.push(start.elapsed());
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
            bytes += body.len();
        }
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        times.sort_unstable();
        println!(
            "  {:<22} {:>8} {:>9} {:>9} {:>9} {:>9} {:>10.1}",
            name,
            requests,
            ms(percentile(&times, 0.50)),
            ms(percentile(&times, 0.95)),
            ms(times[times.len() - 1]),
            ms(mean),
            bytes as f64 / requests as f64 / 1024.0
        );
    }

    shutdown.cancel();
    let _ = server.await;
    if keep {
        println!(
            "\n  kept {} and DynamoDB {}",
            settings.clickhouse.qualified_table(),
            settings.dynamo.table
        );
    } else {
        clickhouse
            .query(&format!(
                "DROP TABLE IF EXISTS {}",
                settings.clickhouse.qualified_table()
            ))
            .execute()
            .await
            .expect("drop the ClickHouse table");
        dynamo
            .delete_table()
            .table_name(&settings.dynamo.table)
            .send()
            .await
            .expect("delete the DynamoDB table");
    }
}
