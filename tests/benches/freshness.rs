//! Freshness benchmark (issue 10): how long after ingest's 202 a completed job shows in the
//! views, under a sustained stream of callbacks through the release `oot-ingest`,
//! `oot-projector` and `oot-query` (processes on loopback, their own topic, group and tables).
//!
//! ```sh
//! compose/stack.sh up
//! cargo bench -p oot-e2e --bench freshness                       # 1,000 callbacks/s for 60 s
//! BENCH_RATE=200 BENCH_SECS=15 cargo bench -p oot-e2e --bench freshness
//! ```
//!
//! The stream: `BENCH_RATE` callbacks/s (default 1,000) for `BENCH_SECS` s (60), half
//! `in_progress`, half `completed` (each job's completed callback `BENCH_RUN_SECS`, 2 s, after
//! its in_progress one, so the stream runs that much longer), built by `oot_demo::callback` with
//! realistic sizes (test counts, environment, artifact; three failed tests with stack traces on
//! failures), ~40 jobs per upstream PR over 8 backends; at most `BENCH_IN_FLIGHT` (256) requests
//! in flight. One in `BENCH_SAMPLE` (50) completed callbacks is followed: from its 202, the PR
//! view's JSON (`/api/oot/pr/{n}`) is polled every `BENCH_POLL_MS` (50) ms until the job shows
//! completed (so a figure includes up to one poll interval and one request); `BENCH_VISIBLE_SECS`
//! (60) gives up. At the end the projector's `oot_projector_freshness_seconds` histogram (ingest
//! received → committed) and `oot_projector_visible_seconds` (→ its job's row inserted) are
//! read, with its batches, and the group's lag when the stream stopped
//! and once drained (`BENCH_DRAIN_SECS`, 120); each service's CPU time over the run and peak RSS,
//! and the followers' poll rate (their load on the query service) are printed too. The topic and tables are dropped unless `BENCH_KEEP=1`;
//! `BENCH_SKIP_BUILD=1` skips the release build. The projector runs with its production
//! defaults; any `OOT_PROJECTOR_*` setting in the environment reaches it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oot_contract::{Conclusion, RepoLevel, TestCounts};
use oot_e2e::bench::{
    build_release, cpu_seconds, drop_stores, env_flag, env_number, histogram_quantile,
    histogram_share_within, ms, process_cpu_seconds, start_query, Latencies,
};
use oot_e2e::callbacks::{repo, FailedTest, Job, PullRequest, Trigger};
use oot_e2e::drill::{
    group_position, metric_value, mib, post, start_ingest, start_projector, wait_caught_up,
    ServiceProcess,
};
use oot_e2e::{unique_name, TestStores};
use oot_platform::settings::StoreSettings;
use serde_json::json;
use tokio::time::Instant;

const FRESHNESS: &str = "oot_projector_freshness_seconds";
const VISIBLE: &str = "oot_projector_visible_seconds";
const AIM: Duration = Duration::from_secs(1);
const FIRST_PR: u64 = 400_000;
const JOBS_PER_PR: u64 = 40;
/// The warm-up job: on a PR of its own, after the stream's.
const WARM_JOB: u64 = JOBS_PER_PR * 1_000_000;

const BACKENDS: [(&str, &str, &str); 8] = [
    ("intel/torch-xpu-ops", "xpu-ci", "linux-xpu"),
    ("ascend/pytorch", "npu-ci", "linux-aarch64-npu"),
    ("riscv-farm/pytorch-riscv", "riscv-ci", "linux-riscv64"),
    ("cambricon/torch_mlu", "mlu-ci", "linux-mlu"),
    ("amd/pytorch-rocm-ext", "rocm-ci", "linux-rocm"),
    ("huawei/torch-npu-lite", "lite-ci", "linux-lite"),
    ("tenstorrent/pytorch-tt", "tt-ci", "linux-tt"),
    ("graphcore/poptorch-oot", "ipu-ci", "linux-ipu"),
];

struct Config {
    rate: u64,
    secs: u64,
    run_secs: f64,
    sample: u64,
    poll: Duration,
    visible_timeout: Duration,
    in_flight: usize,
    drain: Duration,
    keep: bool,
}

impl Config {
    fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            rate: env_number("BENCH_RATE", 1_000)?.max(2),
            secs: env_number("BENCH_SECS", 60)?.max(1),
            run_secs: env_number("BENCH_RUN_SECS", 2)? as f64,
            sample: env_number("BENCH_SAMPLE", 50)?.max(1),
            poll: Duration::from_millis(env_number("BENCH_POLL_MS", 50)?.max(1)),
            visible_timeout: Duration::from_secs(env_number("BENCH_VISIBLE_SECS", 60)?),
            in_flight: usize::try_from(env_number("BENCH_IN_FLIGHT", 256)?)?.max(1),
            drain: Duration::from_secs(env_number("BENCH_DRAIN_SECS", 120)?),
            keep: env_flag("BENCH_KEEP"),
        })
    }
}

/// Job `j` of the stream: backend `j % 8`, PR `j / 40`, so each (backend, job name) is once in
/// its PR and every job has a line of its own in the PR view.
fn job(run: &str, j: u64) -> Job {
    let (name, workflow, platform) = BACKENDS[(j % BACKENDS.len() as u64) as usize];
    let pr = FIRST_PR + j / JOBS_PER_PR;
    let leg = (j / BACKENDS.len() as u64) % (JOBS_PER_PR / BACKENDS.len() as u64) + 1;
    Job {
        repo: repo(name),
        level: [RepoLevel::L2, RepoLevel::L3, RepoLevel::L4][(j % 3) as usize],
        trigger: Trigger::PullRequest(PullRequest {
            upstream: repo("pytorch/pytorch"),
            number: pr,
            title: format!("[bench] a change to the compiler, number {pr}"),
            author: format!("dev{}", pr % 97),
            head_sha: format!("{pr:0>40}"),
            branch: format!("bench/{pr}"),
        }),
        delivery_id: format!("{run}-{pr}-{}", j % BACKENDS.len() as u64),
        workflow: workflow.to_owned(),
        job_name: format!("{platform} / test (default, {leg}, 5)"),
        run_id: 30_000_000_000 + j,
        run_attempt: 1,
        check_run_id: 50_000_000_000 + j,
    }
}

fn conclusion(j: u64) -> Conclusion {
    match (j.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % 100 {
        0..12 => Conclusion::Failure,
        12..15 => Conclusion::TimedOut,
        15..19 => Conclusion::Cancelled,
        _ => Conclusion::Success,
    }
}

/// The body of job `j`'s in_progress (or completed) callback, as a downstream sends it.
fn body(run: &str, j: u64, completed: bool) -> anyhow::Result<String> {
    let job = job(run, j);
    let now = time::OffsetDateTime::now_utc();
    if !completed {
        return Ok(job
            .in_progress(now, 12.5 + (j % 600) as f64)
            .to_json()
            .to_string());
    }
    let conclusion = conclusion(j);
    let duration = 600 + (j * 37) % 6_600;
    let mut callback = job.completed(conclusion, now, Some(duration as f64));
    if matches!(conclusion, Conclusion::Success | Conclusion::Failure) {
        let failed: Vec<FailedTest> = if conclusion == Conclusion::Failure {
            (0..3)
                .map(|t| FailedTest {
                    name: format!("test_matmul_epilogue_bf16_{t}"),
                    classname: "test.inductor.test_matmul.TestMatmul".to_owned(),
                    message: "AssertionError: Tensor-likes are not close! Mismatched elements: 3 / 4096"
                        .to_owned(),
                    stacktrace: Some(format!(
                        "Traceback (most recent call last):\n  File \"test/inductor/test_matmul.py\", \
                         line {}, in test_matmul_epilogue_bf16_{t}\n    self.assertEqual(out, ref)\n\
                         AssertionError: Tensor-likes are not close!",
                        100 + t
                    )),
                    duration_s: Some(4.2),
                })
                .collect()
        } else {
            Vec::new()
        };
        let passed = 2_000 + (j * 7) % 7_000;
        let failed_n = failed.len() as u64;
        let counts = TestCounts::new(passed, failed_n, 20, Some(passed + failed_n + 20))?;
        let artifact = job.artifact_url(j);
        callback = callback
            .with_tests(counts, failed)
            .with_environment(
                json!({"device": job.job_name, "driver": "1.3.29735", "python": "3.12"}),
            )
            .with_artifact_url(artifact);
    }
    Ok(callback.to_json().to_string())
}

/// When each callback is due (from the start of the stream): job `j`'s in_progress at
/// `2j / rate`, its completed `run_secs` later; in time order.
fn schedule(config: &Config) -> Vec<(Duration, u64, bool)> {
    let jobs = config.rate * config.secs / 2;
    let gap = 2.0 / config.rate as f64;
    let mut due: Vec<(Duration, u64, bool)> = (0..jobs)
        .flat_map(|j| {
            let start = j as f64 * gap;
            [
                (Duration::from_secs_f64(start), j, false),
                (
                    Duration::from_secs_f64(start + config.run_secs + gap / 2.0),
                    j,
                    true,
                ),
            ]
        })
        .collect();
    due.sort_by_key(|&(at, j, completed)| (at, j, completed));
    due
}

/// Whether the PR view's JSON shows job `key` completed.
fn shows_completed(view: &serde_json::Value, key: &str) -> bool {
    view["backends"].as_array().is_some_and(|backends| {
        backends.iter().any(|b| {
            b["jobs"].as_array().is_some_and(|jobs| {
                jobs.iter()
                    .any(|job| job["job_key"] == key && job["state"] != "running")
            })
        })
    })
}

/// Polls the PR view of `pr` from `since` until job `key` shows completed: how long after
/// `since` it did (`None` after `timeout`), and how many requests that took.
async fn time_to_visible(
    http: &reqwest::Client,
    query: &str,
    pr: u64,
    key: &str,
    since: Instant,
    poll: Duration,
    timeout: Duration,
) -> (Option<Duration>, u64) {
    let url = format!("{query}/api/oot/pr/{pr}");
    let mut polls = 0;
    while since.elapsed() < timeout {
        polls += 1;
        if let Ok(response) = http.get(&url).send().await {
            if let Ok(view) = response.json::<serde_json::Value>().await {
                if shows_completed(&view, key) {
                    return (Some(since.elapsed()), polls);
                }
            }
        }
        tokio::time::sleep(poll).await;
    }
    (None, polls)
}

#[derive(Default)]
struct Outcome {
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    acknowledged: Vec<Duration>,
    visible: Vec<Duration>,
    never_visible: u64,
    polls: u64,
    last_answer: Option<Instant>,
}

/// The mutex's value, even if a task panicked holding it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// p50, p95 and p99 of `histogram`, from its buckets.
fn quantiles(text: &str, histogram: &str) -> String {
    [0.5, 0.95, 0.99]
        .iter()
        .map(|&q| {
            histogram_quantile(text, histogram, q).map_or_else(
                || format!("p{:.0} ?", q * 100.0),
                |s| format!("p{:.0} {:.0} ms", q * 100.0, s * 1_000.0),
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn run(config: Config) -> anyhow::Result<()> {
    let prefix = unique_name("fresh");
    let mut settings: StoreSettings = TestStores::unique("fresh").settings;
    settings.kafka.topic = prefix.clone();
    settings.kafka.partitions = 6;
    settings.dynamo.table = prefix.clone();
    settings.clickhouse.database = "oot_hud_bench".to_owned();
    settings.clickhouse.table = prefix.clone();
    let group = format!("{prefix}-projector");
    let mut ingest = start_ingest(&settings).await?;
    let mut projector = start_projector(&settings, &group).await?;
    let mut query = start_query(&settings).await?;
    println!(
        "freshness: topic {prefix}, group {group}, tables oot_hud_bench.{prefix} / DynamoDB {prefix}\n  \
         ingest {}, projector {}, query {}",
        ingest.base_url, projector.base_url, query.base_url
    );
    let http = reqwest::Client::new();

    // Warm-up: one job through the whole pipeline, so the group has joined before the clock runs.
    let warm_key = {
        let (status, text) = post(&http, &ingest.base_url, body("warm", WARM_JOB, false)?).await?;
        anyhow::ensure!(
            status == 202,
            "warm-up in_progress answered {status}: {text}"
        );
        let (status, text) = post(&http, &ingest.base_url, body("warm", WARM_JOB, true)?).await?;
        anyhow::ensure!(status == 202, "warm-up completed answered {status}: {text}");
        serde_json::from_str::<serde_json::Value>(&text)?["job_key"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let (warm, _) = time_to_visible(
        &http,
        &query.base_url,
        FIRST_PR + WARM_JOB / JOBS_PER_PR,
        &warm_key,
        Instant::now(),
        config.poll,
        Duration::from_secs(120),
    )
    .await;
    anyhow::ensure!(
        warm.is_some(),
        "the warm-up job never showed in the PR view"
    );
    println!(
        "  warm-up job visible {} ms after its 202 (the group's first assignment)",
        ms(warm.unwrap_or_default())
    );

    let due = schedule(&config);
    let total = due.len();
    let schedule_span = due.last().map_or(Duration::ZERO, |&(at, ..)| at);
    println!(
        "  sending {total} callbacks: {}/s for {} s (+{} s of completions), 1 in {} completed followed",
        config.rate, config.secs, config.run_secs, config.sample
    );
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let followers = Arc::new(Mutex::new(Vec::new()));
    let slots = Arc::new(tokio::sync::Semaphore::new(config.in_flight));
    let run = Arc::new(format!("{prefix}-run"));
    let config = Arc::new(config);
    let mut senders = Vec::with_capacity(total);
    let services = [
        ("ingest", &ingest),
        ("projector", &projector),
        ("query", &query),
    ];
    let cpu_before: Vec<Option<f64>> = services.iter().map(|(_, s)| cpu_seconds(s)).collect();
    let client_cpu_before = process_cpu_seconds(std::process::id());
    let started = Instant::now();
    let mut late = Duration::ZERO;
    for (at, j, completed) in due {
        tokio::time::sleep_until(started + at).await;
        late = late.max(started.elapsed().saturating_sub(at));
        let permit = slots.clone().acquire_owned().await?;
        let (http, ingest_url, query_url, outcome, followers, run, config) = (
            http.clone(),
            ingest.base_url.clone(),
            query.base_url.clone(),
            outcome.clone(),
            followers.clone(),
            run.clone(),
            config.clone(),
        );
        let followed = completed && j % config.sample == 0;
        senders.push(tokio::spawn(async move {
            let sent = Instant::now();
            let answer = match body(&run, j, completed) {
                Ok(body) => post(&http, &ingest_url, body).await,
                Err(e) => Err(e),
            };
            let acknowledged = Instant::now();
            drop(permit);
            let mut key = None;
            {
                let mut o = lock(&outcome);
                o.last_answer = o.last_answer.max(Some(acknowledged));
                match answer {
                    Ok((status, text)) => {
                        *o.statuses.entry(status).or_default() += 1;
                        if status == 202 {
                            o.acknowledged.push(acknowledged - sent);
                            if followed {
                                key = serde_json::from_str::<serde_json::Value>(&text)
                                    .ok()
                                    .and_then(|v| v["job_key"].as_str().map(str::to_owned));
                            }
                        }
                    }
                    Err(_) => o.errors += 1,
                }
            }
            let Some(key) = key else { return };
            let follower = tokio::spawn(async move {
                let pr = FIRST_PR + j / JOBS_PER_PR;
                let (visible, polls) = time_to_visible(
                    &http,
                    &query_url,
                    pr,
                    &key,
                    acknowledged,
                    config.poll,
                    config.visible_timeout,
                )
                .await;
                let mut o = lock(&outcome);
                o.polls += polls;
                match visible {
                    Some(after) => o.visible.push(after),
                    None => o.never_visible += 1,
                }
            });
            lock(&followers).push(follower);
        }));
    }
    for sender in senders {
        sender.await?;
    }
    let sending = {
        let o = lock(&outcome);
        o.last_answer.map_or(Duration::ZERO, |at| at - started)
    };
    let lag_at_stop = group_position(&settings.kafka, &group).await?.lag();
    let drained = Instant::now();
    let caught_up = wait_caught_up(&settings.kafka, &group, config.drain).await;
    let drain_secs = drained.elapsed().as_secs_f64();
    let followers = std::mem::take(&mut *lock(&followers));
    for follower in followers {
        follower.await?;
    }
    let lag_end = group_position(&settings.kafka, &group).await?.lag();
    let busy = started.elapsed().as_secs_f64();
    let mut cpu: Vec<String> = services
        .iter()
        .zip(&cpu_before)
        .map(
            |((name, service), before)| match (cpu_seconds(service), before) {
                (Some(after), Some(before)) => format!("{name} {:.1} s", after - before),
                _ => format!("{name} ?"),
            },
        )
        .collect();
    if let (Some(after), Some(before)) =
        (process_cpu_seconds(std::process::id()), client_cpu_before)
    {
        cpu.push(format!("this client {:.1} s", after - before));
    }
    // The projector's lag metric is refreshed every 5 s: give it the time to come down.
    let mut metrics = String::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(text) = oot_e2e::drill::metrics_text(&projector.base_url).await {
            metrics = text;
        }
        let lag = metric_value(&metrics, "oot_projector_consumer_lag");
        if lag == Some(0.0) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let peaks = [
        ("ingest", ingest.peak_rss_kib()),
        ("projector", projector.peak_rss_kib()),
        ("query", query.peak_rss_kib()),
    ];
    let all_alive = alive(&mut ingest) & alive(&mut projector) & alive(&mut query);

    let o = std::mem::take(&mut *lock(&outcome));
    let sent: u64 = o.statuses.values().sum::<u64>() + o.errors;
    let acknowledged = Latencies::new(o.acknowledged.clone());
    let visible = Latencies::new(o.visible.clone());
    println!("\n== freshness");
    let scheduled = schedule_span.as_secs_f64().max(1e-9);
    println!(
        "  sent {sent} callbacks in {:.1} s: {:.0}/s achieved, {:.0}/s scheduled ({total} over {scheduled:.1} s: \
         {}/s, then completions only); the sender fell up to {} ms behind; answers {:?}, errors {}",
        sending.as_secs_f64(),
        sent as f64 / sending.as_secs_f64().max(1e-9),
        total as f64 / scheduled,
        config.rate,
        ms(late),
        o.statuses,
        o.errors
    );
    println!(
        "  ingest 202 in p50 {} ms, p99 {} ms, max {} ms",
        ms(acknowledged.percentile(0.5)),
        ms(acknowledged.percentile(0.99)),
        ms(acknowledged.max())
    );
    println!(
        "  visible after 202 (PR view JSON, {} followed jobs, polled every {} ms): p50 {} ms, p95 {} ms, \
         p99 {} ms, max {} ms; not visible within {} s: {} (aim p99 <= {} ms: {})",
        visible.len(),
        config.poll.as_millis(),
        ms(visible.percentile(0.5)),
        ms(visible.percentile(0.95)),
        ms(visible.percentile(0.99)),
        ms(visible.max()),
        config.visible_timeout.as_secs(),
        o.never_visible,
        AIM.as_millis(),
        if o.never_visible == 0 && !visible.is_empty() && visible.percentile(0.99) <= AIM {
            "met"
        } else {
            "MISSED"
        }
    );
    for (histogram, until) in [
        (FRESHNESS, "committed"),
        (VISIBLE, "its job's row inserted"),
    ] {
        let count = metric_value(&metrics, &format!("{histogram}_count"));
        let sum = metric_value(&metrics, &format!("{histogram}_sum"));
        println!(
            "  projector {histogram} (ingest received -> {until}): {} events, mean {}, {} (from its buckets)",
            count.map_or("?".to_owned(), |c| format!("{c:.0}")),
            match (sum, count) {
                (Some(s), Some(c)) if c > 0.0 => format!("{:.0} ms", s / c * 1_000.0),
                _ => "?".to_owned(),
            },
            quantiles(&metrics, histogram)
        );
    }
    println!(
        "  projector: committed within 0.5 s {}, within 1 s {} (exact, from the bucket bounds)",
        histogram_share_within(&metrics, FRESHNESS, 0.5)
            .map_or("?".to_owned(), |s| format!("{:.1}%", s * 100.0)),
        histogram_share_within(&metrics, FRESHNESS, 1.0)
            .map_or("?".to_owned(), |s| format!("{:.1}%", s * 100.0))
    );
    let batches = metric_value(&metrics, "oot_projector_batches");
    let events = metric_value(&metrics, "oot_projector_events");
    if let (Some(batches), Some(events)) = (batches, events) {
        println!(
            "  projector: {events:.0} events in {batches:.0} batches ({:.0} events per batch; \
             one batch every {:.0} ms while the stream ran, wait {} ms)",
            events / batches.max(1.0),
            sending.as_secs_f64() * 1_000.0 / batches.max(1.0),
            std::env::var("OOT_PROJECTOR_BATCH_WAIT_MS").unwrap_or_else(|_| "100".to_owned())
        );
    }
    // Where a batch's time goes: the mean of each stage (oot_projector_stage_seconds).
    let stage_means: Vec<String> = ["jobs_read", "jobs_write", "clickhouse_insert", "rollups"]
        .iter()
        .filter_map(|stage| {
            let sample = |part: &str| {
                let prefix = format!("oot_projector_stage_seconds_{part}{{stage=\"{stage}\"}} ");
                metrics
                    .lines()
                    .find_map(|l| l.strip_prefix(prefix.as_str()))
                    .and_then(|v| v.trim().parse::<f64>().ok())
            };
            let (sum, count) = (sample("sum")?, sample("count")?);
            Some(format!("{stage} {:.0} ms", sum * 1_000.0 / count.max(1.0)))
        })
        .collect();
    println!("  projector: mean per batch: {}", stage_means.join(", "));
    println!(
        "  lag: {lag_at_stop} when the stream stopped; {lag_end} at the end (drained in {drain_secs:.1} s{}), \
         metric oot_projector_consumer_lag {:?}",
        if caught_up.is_ok() { "" } else { ", NOT caught up" },
        metric_value(&metrics, "oot_projector_consumer_lag")
    );
    println!(
        "  CPU used from the first callback to the end of the drain ({busy:.1} s, {} cores): {}; \
         the followers' polls: {} requests ({:.0}/s while sending)",
        std::thread::available_parallelism().map_or(0, usize::from),
        cpu.join(", "),
        o.polls,
        o.polls as f64 / sending.as_secs_f64().max(1e-9)
    );
    println!(
        "  peak RSS: {}",
        peaks
            .iter()
            .map(|(name, kib)| format!("{name} {}", mib(*kib)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let ok = all_alive && caught_up.is_ok() && o.never_visible == 0 && o.errors == 0;

    let _ = query.terminate().await;
    let _ = projector.terminate().await;
    let _ = ingest.terminate().await;
    if config.keep {
        println!("  kept topic, DynamoDB and ClickHouse tables {prefix}");
    } else {
        drop_stores(&settings).await?;
        println!("  dropped topic and tables {prefix} (BENCH_KEEP=1 keeps them)");
    }
    anyhow::ensure!(
        ok,
        "freshness benchmark: a service died, the projector did not catch up, a followed job never \
         showed, or a callback failed (see above)"
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    build_release(&["oot-ingest", "oot-projector", "oot-query"])?;
    tokio::runtime::Runtime::new()?.block_on(run(config))
}
