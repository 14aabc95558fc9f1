//! Soak: callbacks at the edges of the contract through the real pipeline (the release
//! `oot-ingest` and `oot-projector` binaries as processes on loopback, their own topic, group
//! and tables on the local stack), after a baseline of as many plain fixture callbacks in the
//! same run. Prints accepted, refused by reason, projected, parked (dead letters), the lag at
//! the end (must be 0) and the peak RSS of each service; exits non-zero when the lag is not 0,
//! an accepted job is neither projected nor parked, or a service died.
//!
//! `cargo bench -p oot-e2e --bench soak` (with the stack up: `compose/stack.sh up`). It builds
//! the release service binaries first (`SOAK_SKIP_BUILD=1` to skip). Settings:
//! `BENCH_CALLBACKS` (default 100000 per phase), `BENCH_CONCURRENCY` (32 requests in flight),
//! `BENCH_DRAIN_SECS` (600: how long the projector may take to catch up), `BENCH_PHASES`
//! (`baseline,edges`).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use oot_contract::{Conclusion, RepoLevel, TestCounts};
use oot_e2e::callbacks::{repo, sample, Callback, FailedTest, Job};
use oot_e2e::drill::{
    dead_letter_count, group_position, item_keys, mib, post, row_counts, start_ingest,
    start_projector, wait_caught_up, ServiceProcess,
};
use oot_e2e::{unique_name, TestStores};
use serde_json::{json, Value};
use tokio::time::Instant;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A deterministic 64-bit mix of `i` (splitmix64), so a run can be repeated exactly.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn workflow(body: &mut Value) -> &mut Value {
    &mut body["untrusted"]["callback_payload"]["workflow"]
}

/// Job `i` of a phase: the sample job with its own ids.
fn job(phase: &str, i: u64) -> Job {
    Job {
        delivery_id: format!("{phase}-{i}"),
        run_id: 1_000_000 + i,
        check_run_id: 5_000_000 + i,
        ..sample::job()
    }
}

/// The baseline: the contract's sample completed callback, one job each.
fn plain(i: u64) -> (&'static str, String) {
    let callback = Callback {
        job: job("base", i),
        ..sample::completed()
    };
    ("plain", callback.to_json().to_string())
}

/// `text` cut to at most `bytes` bytes at a character boundary.
fn cut(text: &str, bytes: usize) -> String {
    let mut end = bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn failed_tests(count: usize, message_bytes: usize) -> Vec<FailedTest> {
    (0..count)
        .map(|t| FailedTest {
            name: format!("test_{t}_{}", "x".repeat(t % 200)),
            classname: "test.inductor.test_torchinductor.GPUTests".to_owned(),
            message: cut(
                &"AssertionError: Tensor-likes are not close! ".repeat(64),
                message_bytes,
            ),
            stacktrace: Some(cut(
                &"  File \"x.py\", line 1, in f\n".repeat(200),
                message_bytes,
            )),
            duration_s: Some(t as f64 * 0.5),
        })
        .collect()
}

/// Callback `i` of the edges: what kind it is and its body.
fn edge(i: u64) -> (&'static str, String) {
    let r = mix(i);
    let pick = (r >> 8) % 1000;
    let mut j = job("edge", i);
    let now = time::OffsetDateTime::now_utc();
    let completed = |j: &Job, conclusion: Conclusion| {
        let artifact = j.artifact_url(3_141_592_653);
        j.completed(conclusion, now, Some(1782.0))
            .with_tests(sample::all_passed(8452), Vec::new())
            .with_environment(sample::environment())
            .with_artifact_url(artifact)
    };
    match pick {
        // Ordinary traffic: a job starting or ending.
        0..=349 => {
            let body = if r.is_multiple_of(2) {
                j.in_progress(now, 3.5).to_json()
            } else {
                completed(&j, Conclusion::Success).to_json()
            };
            ("ordinary", body.to_string())
        }
        // Names at their caps (multi-byte characters, to count bytes), the job key near or over
        // DynamoDB's 1,024-byte index limit.
        350..=429 => {
            j.repo = repo(&format!("{}/{}", "o".repeat(39), "r".repeat(100)));
            j.delivery_id = format!("{i}-{}", "d".repeat(100));
            j.workflow = cut(&"wörkflow-".repeat(40), 256);
            let job_bytes = if r.is_multiple_of(2) { 400 } else { 512 };
            j.job_name = cut(&format!("{i} / {}", "jöb ☃ ".repeat(100)), job_bytes);
            j.level = RepoLevel::L4;
            (
                "max-length names",
                completed(&j, Conclusion::Failure).to_json().to_string(),
            )
        }
        // Many failed tests, now and then a body close to the 2 MiB limit.
        430..=479 => {
            let (count, bytes) = if pick < 435 { (2_000, 700) } else { (200, 300) };
            let callback = completed(&j, Conclusion::Failure).with_tests(
                TestCounts::new(10, count as u64, 0, None)
                    .unwrap_or_else(|_| sample::all_passed(1)),
                failed_tests(count, bytes),
            );
            ("many failed tests", callback.to_json().to_string())
        }
        // Unicode and control characters in the environment (escaped, they grow 6x).
        480..=579 => {
            let mut environment = serde_json::Map::new();
            let keys = 1 + r % 64;
            for k in 0..keys {
                let value = "\u{0}\u{1}\u{7}\u{1b}\u{7f}é☃\u{1F600}\u{200B}\u{FEFF}\n"
                    .repeat(1 + (r as usize >> 20) % 400);
                environment.insert(format!("k{k}\u{1}ü"), value.into());
            }
            let callback = completed(&j, Conclusion::Success).with_environment(environment.into());
            (
                "control-character environment",
                callback.to_json().to_string(),
            )
        }
        // Huge and tiny numbers where numbers go.
        580..=679 => {
            let mut body = completed(&j, Conclusion::Success).to_json();
            let huge: [Value; 6] = [
                json!(1e200),
                json!(f64::MAX),
                json!(-1e200),
                json!(1e-300),
                json!(u64::MAX),
                json!(-0.0),
            ];
            let value = huge[(r % 6) as usize].clone();
            match (r >> 3) % 6 {
                0 => body["trusted"]["ci_metrics"]["queue_time"] = value,
                1 => body["trusted"]["ci_metrics"]["execution_time"] = value,
                2 => workflow(&mut body)["test_results"]["passed"] = value,
                3 => workflow(&mut body)["test_results"]["total"] = value,
                4 => {
                    workflow(&mut body)["failed_tests"] = json!([{
                        "name": "t", "classname": "c", "message": "m", "duration_s": value,
                    }]);
                }
                _ => workflow(&mut body)["run_attempt"] = json!("99999999999999999999999"),
            }
            ("huge numbers", body.to_string())
        }
        // Timestamps at the edges.
        680..=729 => {
            let mut body = completed(&j, Conclusion::Success).to_json();
            let at = [
                "1970-01-01T00:00:00Z",
                "2099-12-31T23:59:59Z",
                "9999-12-31T23:59:59Z",
                "2026-02-30T10:00:00Z",
            ][(r % 4) as usize];
            workflow(&mut body)["completed_at"] = json!(at);
            ("edge timestamps", body.to_string())
        }
        // Invalid callbacks: refused, never stored.
        730..=879 => {
            let mut body = completed(&j, Conclusion::Success).to_json();
            match r % 10 {
                0 => body["trusted"] = Value::Null,
                1 => workflow(&mut body)["status"] = json!("exploded"),
                2 => body["trusted"]["verified_repo"] = json!("not a repo"),
                3 => body["trusted"]["ci_metrics"]["queue_time"] = json!("soon"),
                4 => workflow(&mut body)["started_at"] = json!("yesterday"),
                5 => workflow(&mut body)["check_run_id"] = json!("-1"),
                6 => workflow(&mut body)["job_name"] = json!(""),
                7 => workflow(&mut body)["failed_tests"] = json!(vec![0; 10_000]),
                8 => return ("invalid", "{\"trusted\": ".to_owned()),
                _ => workflow(&mut body)["job_name"] = json!("x".repeat(5_000)),
            }
            ("invalid", body.to_string())
        }
        // Redelivery of an earlier callback (the relay retries): merged, not duplicated.
        _ => {
            let (_, body) = edge(i.saturating_sub(1 + r % 50));
            ("redelivery", body)
        }
    }
}

/// What one phase measured.
#[derive(Default)]
struct Outcome {
    by_kind: BTreeMap<&'static str, BTreeMap<String, u64>>,
    refused: BTreeMap<String, u64>,
    accepted: u64,
    truncated: u64,
    accepted_keys: HashSet<String>,
}

/// "400 invalid_callback: untrusted.callback_payload.workflow.status", digits folded to N.
fn refusal_reason(status: u16, text: &str) -> String {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let error = body["error"].as_str().unwrap_or("?");
    let field = body["problems"][0]["field"].as_str().unwrap_or("");
    let field: String = field
        .chars()
        .map(|c| if c.is_ascii_digit() { 'N' } else { c })
        .collect();
    let mut reason = format!("{status} {error}");
    if !field.is_empty() {
        reason.push_str(": ");
        reason.push_str(&field.replace("NN", "N").replace("NN", "N"));
    }
    reason
}

async fn send_all(
    ingest: &str,
    callbacks: u64,
    concurrency: usize,
    build: fn(u64) -> (&'static str, String),
) -> Outcome {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client");
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    futures::stream::iter(0..callbacks)
        .map(|i| {
            let (client, outcome, done) = (client.clone(), outcome.clone(), done.clone());
            async move {
                let (kind, body) = build(i);
                let answer = post(&client, ingest, body).await;
                let mut o = outcome.lock().unwrap_or_else(|e| e.into_inner());
                let label = match &answer {
                    Ok((202, text)) => {
                        o.accepted += 1;
                        let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                        if body["truncated"].as_array().is_some_and(|t| !t.is_empty()) {
                            o.truncated += 1;
                        }
                        if let Some(key) = body["job_key"].as_str() {
                            o.accepted_keys.insert(key.to_owned());
                        }
                        "202".to_owned()
                    }
                    Ok((status, text)) => {
                        let reason = refusal_reason(*status, text);
                        *o.refused.entry(reason.clone()).or_default() += 1;
                        reason
                    }
                    Err(error) => {
                        // The whole chain: "error sending request" alone does not say whether
                        // the connection was reset, closed early or timed out.
                        let reason = format!("no answer: {error:#}");
                        *o.refused.entry("no answer".to_owned()).or_default() += 1;
                        reason
                    }
                };
                *o.by_kind.entry(kind).or_default().entry(label).or_default() += 1;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n % 10_000 == 0 {
                    eprintln!(
                        "  {n} sent ({:.0}/s)",
                        n as f64 / started.elapsed().as_secs_f64()
                    );
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect::<()>()
        .await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "  sent {callbacks} callbacks in {secs:.1}s ({:.0}/s)",
        callbacks as f64 / secs
    );
    Arc::try_unwrap(outcome)
        .ok()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .unwrap_or_default()
}

/// The parked events' Kafka keys (job keys), read from the dead-letter topic.
async fn parked_keys(kafka: &oot_platform::settings::KafkaSettings, count: i64) -> HashSet<String> {
    use rdkafka::Message as _;
    let mut dead = kafka.clone();
    dead.topic = format!("{}.dead-letter", kafka.topic);
    let Ok(messages) = oot_e2e::read_topic(&dead, usize::try_from(count).unwrap_or(0)).await else {
        return HashSet::new();
    };
    messages
        .iter()
        .filter_map(|m| m.key().map(|k| String::from_utf8_lossy(k).into_owned()))
        .collect()
}

struct PhaseReport {
    name: &'static str,
    callbacks: u64,
    accepted: u64,
    refused: u64,
    jobs: usize,
    items: usize,
    rows: u64,
    parked: i64,
    lost: usize,
    lag: i64,
    metric_lag: Option<f64>,
    drain_secs: f64,
    ingest_peak: Option<u64>,
    projector_peak: Option<u64>,
    ingest_rss: Option<u64>,
    projector_rss: Option<u64>,
}

fn alive(service: &mut ServiceProcess) -> bool {
    match service.exited() {
        None => true,
        Some(status) => {
            println!(
                "  {} EXITED ({status}); log {}:\n{}",
                service.name,
                service.log.display(),
                service.log_tail(20)
            );
            false
        }
    }
}

async fn phase(
    name: &'static str,
    build: fn(u64) -> (&'static str, String),
    callbacks: u64,
    concurrency: usize,
    drain: Duration,
) -> anyhow::Result<(PhaseReport, bool)> {
    println!("\n== {name}: {callbacks} callbacks, {concurrency} in flight");
    let stores = TestStores::unique(&format!("soak_{name}"));
    let s = &stores.settings;
    let group = unique_name("soak-projector");
    let mut ingest = start_ingest(s).await?;
    let mut projector = start_projector(s, &group).await?;
    println!(
        "  topic {}, group {group}, tables {} / {}\n  logs {} {}",
        s.kafka.topic,
        s.dynamo.table,
        s.clickhouse.qualified_table(),
        ingest.log.display(),
        projector.log.display()
    );

    let outcome = send_all(&ingest.base_url, callbacks, concurrency, build).await;
    let (ingest_rss, projector_rss) = (ingest.rss_kib(), projector.rss_kib());
    let drain_started = Instant::now();
    let caught_up = wait_caught_up(&s.kafka, &group, drain).await;
    let drain_secs = drain_started.elapsed().as_secs_f64();
    match &caught_up {
        Ok(_) => println!(
            "  caught up (group commits at the end of the log) {drain_secs:.1}s after sending"
        ),
        Err(error) => println!("  NOT CAUGHT UP: {error}"),
    }
    let position = group_position(&s.kafka, &group).await?;
    // The projector's own lag metric must come down to 0 too (it is reported periodically).
    let mut metrics;
    let metric_deadline = Instant::now() + Duration::from_secs(30);
    loop {
        metrics = oot_e2e::drill::metrics_text(&projector.base_url).await?;
        let lag = oot_e2e::drill::metric_value(&metrics, "oot_projector_consumer_lag");
        if lag == Some(0.0) || Instant::now() > metric_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let metric = |m: &str| oot_e2e::drill::metric_value(&metrics, m);
    // Each check of the stores says how long it took: a slow one (the job table's scan once took
    // an hour) must not pass for a projector that never catches up.
    let checking = Instant::now();
    let items = item_keys(s).await?;
    println!(
        "  job table scanned: {} items in {:.1}s",
        items.len(),
        checking.elapsed().as_secs_f64()
    );
    let checking = Instant::now();
    let rows = row_counts(s).await?;
    let parked = dead_letter_count(&s.kafka);
    let parked_jobs = parked_keys(&s.kafka, parked).await;
    println!(
        "  completed rows and dead letters read in {:.1}s",
        checking.elapsed().as_secs_f64()
    );
    let lost: Vec<&String> = outcome
        .accepted_keys
        .iter()
        .filter(|k| !items.contains(*k) && !parked_jobs.contains(*k))
        .collect();
    // Ingest's own count of what it refused, beside what the senders saw.
    let ingest_metrics = oot_e2e::drill::metrics_text(&ingest.base_url).await?;
    let (ingest_peak, projector_peak) = (ingest.peak_rss_kib(), projector.peak_rss_kib());
    let services_alive = alive(&mut ingest) & alive(&mut projector);

    let refused: u64 = outcome.refused.values().sum();
    println!(
        "  accepted {} ({} with something cut), refused {refused}",
        outcome.accepted, outcome.truncated
    );
    for (kind, answers) in &outcome.by_kind {
        println!("    {kind:<30} {answers:?}");
    }
    println!("  refused by reason:");
    for (reason, count) in &outcome.refused {
        println!("    {count:>7}  {reason}");
    }
    println!("  ingest's refusals (oot_ingest_refused_total):");
    for line in ingest_metrics
        .lines()
        .filter(|l| l.starts_with("oot_ingest_refused_total") && !l.ends_with(" 0"))
    {
        println!("    {line}");
    }
    println!(
        "  projected: {} of {} accepted jobs have an item; {} latest completed rows ({} physical); projector events {:?}",
        items.len(),
        outcome.accepted_keys.len(),
        rows.latest_rows,
        rows.physical_rows,
        metric("oot_projector_events")
    );
    println!(
        "  parked: {parked} dead letters ({} jobs); metric dead_letters {:?}",
        parked_jobs.len(),
        metric("oot_projector_dead_letters")
    );
    for line in metrics
        .lines()
        .filter(|l| l.contains("parked") && !l.starts_with('#'))
    {
        println!("    {line}");
    }
    if !lost.is_empty() {
        println!(
            "  LOST (accepted, neither projected nor parked): {}, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(3)]
        );
    }
    println!(
        "  lag at the end: {} (group commits vs the log), metric {:?}; drained in {drain_secs:.1}s",
        position.lag(),
        metric("oot_projector_consumer_lag")
    );
    println!(
        "  RSS: ingest peak {} (at the end of sending {}), projector peak {} ({})",
        mib(ingest_peak),
        mib(ingest_rss),
        mib(projector_peak),
        mib(projector_rss)
    );
    let ok = services_alive
        && position.lag() == 0
        && metric("oot_projector_consumer_lag") == Some(0.0)
        && lost.is_empty()
        && caught_up.is_ok();
    let _ = projector.terminate().await;
    let _ = ingest.terminate().await;
    Ok((
        PhaseReport {
            name,
            callbacks,
            accepted: outcome.accepted,
            refused,
            jobs: outcome.accepted_keys.len(),
            items: items.len(),
            rows: rows.latest_rows,
            parked,
            lost: lost.len(),
            lag: position.lag(),
            metric_lag: metric("oot_projector_consumer_lag"),
            drain_secs,
            ingest_peak,
            projector_peak,
            ingest_rss,
            projector_rss,
        },
        ok,
    ))
}

/// Builds the release service binaries this benchmark starts (a no-op when they are current).
fn build_services() -> anyhow::Result<()> {
    if std::env::var_os("SOAK_SKIP_BUILD").is_some() {
        return Ok(());
    }
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    eprintln!("building the release oot-ingest and oot-projector");
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "oot-ingest",
            "-p",
            "oot-projector",
            "--bins",
        ])
        .status()?;
    anyhow::ensure!(status.success(), "cargo build --release failed: {status}");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    build_services()?;
    let callbacks = env_number("BENCH_CALLBACKS", 100_000);
    let concurrency = usize::try_from(env_number("BENCH_CONCURRENCY", 32))?;
    let drain = Duration::from_secs(env_number("BENCH_DRAIN_SECS", 600));
    let phases = std::env::var("BENCH_PHASES").unwrap_or_else(|_| "baseline,edges".to_owned());
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let started = Instant::now();
        let mut reports = Vec::new();
        let mut all_ok = true;
        for name in phases.split(',').map(str::trim) {
            let (report, ok) = match name {
                "baseline" => phase("baseline", plain, callbacks, concurrency, drain).await?,
                "edges" => phase("edges", edge, callbacks, concurrency, drain).await?,
                other => anyhow::bail!("no phase named {other} (baseline, edges)"),
            };
            all_ok &= ok;
            reports.push(report);
        }
        println!("\n== soak summary ({:.0}s)", started.elapsed().as_secs_f64());
        println!(
            "{:<9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>5} {:>4} {:>8} {:>8} {:>14} {:>14}",
            "phase", "callbacks", "accepted", "refused", "jobs", "items", "rows", "parked", "lost", "lag", "lag(m)", "drain s", "ingest peak", "projector peak"
        );
        for r in &reports {
            println!(
                "{:<9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>5} {:>4} {:>8} {:>8.1} {:>14} {:>14}",
                r.name,
                r.callbacks,
                r.accepted,
                r.refused,
                r.jobs,
                r.items,
                r.rows,
                r.parked,
                r.lost,
                r.lag,
                r.metric_lag.map_or("?".to_owned(), |l| l.to_string()),
                r.drain_secs,
                mib(r.ingest_peak),
                mib(r.projector_peak)
            );
            println!(
                "{:<9} RSS at the end of sending: ingest {}, projector {}",
                "", mib(r.ingest_rss), mib(r.projector_rss)
            );
        }
        anyhow::ensure!(all_ok, "the soak did not end clean: lag not 0, a job lost, or a service died (see above)");
        println!("soak ended clean: lag 0, nothing lost, every service up");
        Ok(())
    })
}
