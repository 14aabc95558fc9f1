//! Synthetic load: N jobs (and their failed tests) written straight to the event topic, as the
//! Avro events ingest would have written for them, so a stack can be filled to 10M jobs for the
//! benchmarks in minutes rather than hours of HTTP.
//!
//! Each job's callbacks are built by [`crate::callback`], rendered to the relay's JSON, and passed
//! through ingest's own validation ([`oot_ingest::callback::validate_callback_at`]) and event
//! builder ([`oot_ingest::event::build_event`]) at the time ingest would have received them:
//! what is loaded is exactly what ingest would log. Only the HTTP hop (authentication, rate limit)
//! is skipped. The events are produced keyed by job key with an idempotent `acks=all`, lz4
//! producer and the `event_id` header, as ingest's publisher does; the projector (live) or
//! `oot-projector replay` then fills the tables.
//!
//! One seed gives the same jobs (same keys, outcomes and times relative to `now`): loading a seed
//! twice merges into the same jobs instead of adding new ones; use another seed for more jobs.
//! Completed jobs end uniformly over the last `days` days; `running` jobs started in the last
//! three hours and have only their `in_progress` callback. Failed jobs carry
//! `failed_tests_per_failure` failed tests drawn from a small pool, so failing tests recur.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use oot_avro::CallbackEvent;
use oot_contract::{Conclusion, RepoLevel, RepoName, TestCounts};
use oot_ingest::callback::{validate_callback_at, Limits};
use oot_platform::settings::KafkaSettings;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde_json::json;
use time::OffsetDateTime;

use crate::callback::{FailedTest, Job, PullRequest, Trigger};
use crate::rng::Rng;

/// What to load.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSpec {
    /// Jobs (job keys) to generate, running ones included.
    pub jobs: u64,
    /// Downstream repos the jobs are spread over.
    pub backends: usize,
    /// Completed jobs end within this many days before `now`.
    pub days: u32,
    /// Jobs left running (only their `in_progress` callback); at most `jobs`.
    pub running: u64,
    /// Failed tests of each failed job.
    pub failed_tests_per_failure: usize,
    pub seed: u64,
}

/// What a load wrote.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LoadReport {
    pub jobs: u64,
    pub running: u64,
    pub failed: u64,
    pub events: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

impl LoadReport {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The first backends are the demo's; more are numbered.
const NAMED_BACKENDS: &[(&str, &str, &str)] = &[
    ("intel/torch-xpu-ops", "xpu-ci", "linux-xpu"),
    ("ascend/pytorch", "npu-ci", "linux-aarch64-npu"),
    ("riscv-farm/pytorch-riscv", "riscv-ci", "linux-riscv64"),
    ("cambricon/torch_mlu", "mlu-ci", "linux-mlu"),
    ("amd/pytorch-rocm-ext", "rocm-ci", "linux-rocm"),
    ("huawei/torch-npu-lite", "lite-ci", "linux-lite"),
    ("tenstorrent/pytorch-tt", "tt-ci", "linux-tt"),
    ("graphcore/poptorch-oot", "ipu-ci", "linux-ipu"),
];

const FAILED_TESTS: &[(&str, &str, &str)] = &[
    (
        "test_matmul_epilogue_bf16",
        "test.inductor.test_matmul.TestMatmul",
        "AssertionError: Tensor-likes are not close!",
    ),
    (
        "test_conv2d_channels_last",
        "test.nn.test_convolution.TestConvolutionNN",
        "RuntimeError: expected stride to match",
    ),
    (
        "test_sdpa_fused_kernel",
        "test.test_transformers.TestSDPA",
        "AssertionError: Scalars are not equal!",
    ),
    (
        "test_all_reduce_sum",
        "test.distributed.test_c10d.ProcessGroupTest",
        "TimeoutError: collective timed out after 300 s",
    ),
    (
        "test_vmap_batch_norm",
        "test.functorch.test_vmap.TestVmapOperators",
        "RuntimeError: Batch norm got a batched tensor as input",
    ),
    (
        "test_index_put_accumulate",
        "test.test_indexing.TestIndexing",
        "RuntimeError: device-side assert triggered",
    ),
];

/// A stateless mix of numbers (splitmix64): each job's choices depend on the seed and its index
/// only, so jobs are generated in any order, on any thread, the same.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn seconds(s: u64) -> time::Duration {
    time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX))
}

/// A callback's JSON body and when ingest receives it.
type Body = (Vec<u8>, OffsetDateTime);

/// The callbacks of job `index` of `spec` as (JSON body, received at), in the order sent.
fn job_callbacks(
    spec: &LoadSpec,
    index: u64,
    now: OffsetDateTime,
) -> anyhow::Result<(Vec<Body>, bool, bool)> {
    let mut rng = Rng::seeded(mix(spec.seed ^ mix(index)));
    let backend = (rng.next_u64() % spec.backends.max(1) as u64) as usize;
    let (repo, workflow, platform) = match NAMED_BACKENDS.get(backend) {
        Some(&(repo, workflow, platform)) => {
            (repo.to_owned(), workflow.to_owned(), platform.to_owned())
        }
        None => (
            format!("oot-load/backend-{backend:02}"),
            format!("b{backend:02}-ci"),
            format!("linux-b{backend:02}"),
        ),
    };
    let level = [RepoLevel::L2, RepoLevel::L3, RepoLevel::L4][backend % 3];
    // About 40 jobs per upstream PR; one in twenty jobs is a nightly.
    let prs = (spec.jobs / 40).max(10);
    let nightly = rng.per_mille(50);
    let pr = 150_000 + rng.range(0, prs);
    let upstream = RepoName::parse("pytorch/pytorch")?;
    let head_sha = format!("{:016x}{:016x}{:08x}", mix(pr), mix(pr ^ 1), pr as u32);
    let trigger = if nightly {
        Trigger::Nightly {
            upstream,
            head_sha: format!("{:016x}{:016x}{:08x}", mix(index), mix(index ^ 7), 0),
        }
    } else {
        Trigger::PullRequest(PullRequest {
            upstream,
            number: pr,
            title: format!("[load] synthetic change {pr}"),
            author: format!("dev{}", pr % 97),
            head_sha,
            branch: format!("load/{pr}"),
        })
    };
    let run_key = if nightly { index } else { pr };
    // Each job its own workflow run: on GitHub a run holds one job of each name per attempt,
    // so two jobs of one name (two pushes to a PR) are two runs. Unique per seed and job (a
    // hash modulo 10^9 collided ~1,000 times in 10M jobs, and jobs sharing a run id count as
    // attempts of one run); seeds 10^11 apart.
    let run_id = 20_000_000_000 + (spec.seed % 1_000) * 100_000_000_000 + index;
    let leg = rng.range(1, 7);
    let job = Job {
        repo: RepoName::parse(&repo)?,
        level,
        trigger,
        delivery_id: format!("load-{}-{run_key}-{backend}", spec.seed),
        workflow,
        job_name: format!("{platform} / test (default, {leg}, 6)"),
        run_id,
        run_attempt: if rng.per_mille(40) { 2 } else { 1 },
        check_run_id: 40_000_000_000 + mix(spec.seed.wrapping_add(index)) % 1_000_000_000_000,
    };
    let queue_time = rng.range(5, 1_800) as f64 + 0.25;
    let duration = rng.range(600, 7_200);
    let running = index < spec.running;
    let mut out = Vec::with_capacity(2);
    if running {
        let started = now - seconds(rng.range(60, 3 * 3_600));
        let body = serde_json::to_vec(&job.in_progress(started, queue_time).to_json())?;
        out.push((body, started + time::Duration::SECOND));
        return Ok((out, true, false));
    }
    let window = u64::from(spec.days.max(1)) * 86_400;
    let completed_at = now - seconds(rng.range(60, window));
    let started = completed_at - seconds(duration);
    let body = serde_json::to_vec(&job.in_progress(started, queue_time).to_json())?;
    out.push((body, started + time::Duration::SECOND));
    let roll = rng.range(0, 1000);
    let conclusion = match roll {
        0..120 => Conclusion::Failure,
        120..150 => Conclusion::TimedOut,
        150..190 => Conclusion::Cancelled,
        _ => Conclusion::Success,
    };
    let mut callback = job.completed(conclusion, completed_at, Some(duration as f64));
    let failed = conclusion == Conclusion::Failure;
    match conclusion {
        Conclusion::Success | Conclusion::Failure => {
            let failures = if failed {
                (0..spec.failed_tests_per_failure)
                    .map(|n| {
                        let (name, classname, message) =
                            FAILED_TESTS[(rng.next_u64() % FAILED_TESTS.len() as u64) as usize];
                        FailedTest {
                            name: if n == 0 {
                                name.to_owned()
                            } else {
                                format!("{name}_{n}")
                            },
                            classname: classname.to_owned(),
                            message: message.to_owned(),
                            stacktrace: Some(format!(
                                "Traceback (most recent call last):\n  File \"{}.py\", line {}, in {name}\n{message}",
                                classname.replace('.', "/"),
                                rng.range(100, 3_000)
                            )),
                            duration_s: Some(rng.range(1, 600) as f64 / 10.0),
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let passed = rng.range(2_000, 9_000);
            let skipped = rng.range(0, 400);
            let failed_n = failures.len() as u64;
            let counts =
                TestCounts::new(passed, failed_n, skipped, Some(passed + failed_n + skipped))?;
            callback = callback
                .with_tests(counts, failures)
                .with_environment(json!({"device": platform, "python": "3.12"}))
                .with_artifact_url(job.artifact_url(run_id % 1_000_000));
        }
        _ => {}
    }
    let body = serde_json::to_vec(&callback.to_json())?;
    out.push((body, completed_at + time::Duration::SECOND));
    Ok((out, false, failed))
}

/// The events ingest would have logged for job `index` of `spec` (validated as ingest does),
/// with whether it is running and whether it failed.
pub fn job_events(
    spec: &LoadSpec,
    index: u64,
    now: OffsetDateTime,
    limits: &Limits,
) -> anyhow::Result<(Vec<CallbackEvent>, bool, bool)> {
    let (callbacks, running, failed) = job_callbacks(spec, index, now)?;
    let mut events = Vec::with_capacity(callbacks.len());
    for (body, received_at) in callbacks {
        events.push(
            event_of_body(&body, received_at, limits)
                .map_err(|e| anyhow::anyhow!("job {index}: {e}"))?,
        );
    }
    Ok((events, running, failed))
}

/// The event ingest would log for callback `body` received at `received_at` (validated as
/// ingest validates it); an error naming the problem when ingest would refuse it.
pub fn event_of_body(
    body: &[u8],
    received_at: OffsetDateTime,
    limits: &Limits,
) -> anyhow::Result<CallbackEvent> {
    let validated = validate_callback_at(body, limits, received_at)
        .map_err(|e| anyhow::anyhow!("ingest refuses the callback: {e}"))?;
    Ok(oot_ingest::event::build_event(
        &validated,
        uuid::Uuid::now_v7(),
        received_at,
        body,
    ))
}

/// The event ingest would log for `callback` received at `received_at`, with ingest's default
/// limits.
pub fn event_of(
    callback: &crate::callback::Callback,
    received_at: OffsetDateTime,
) -> anyhow::Result<CallbackEvent> {
    let body = serde_json::to_vec(&callback.to_json())?;
    event_of_body(&body, received_at, &Limits::default())
}

/// One encoded event, ready to produce.
struct Encoded {
    key: String,
    event_id: String,
    payload: Vec<u8>,
}

struct Chunk {
    messages: Vec<Encoded>,
    running: u64,
    failed: u64,
}

fn encode_range(
    spec: &LoadSpec,
    now: OffsetDateTime,
    range: std::ops::Range<u64>,
) -> anyhow::Result<Chunk> {
    let limits = Limits::default();
    let mut chunk = Chunk {
        messages: Vec::with_capacity(2 * (range.end - range.start) as usize),
        running: 0,
        failed: 0,
    };
    for index in range {
        let (events, running, failed) = job_events(spec, index, now, &limits)?;
        chunk.running += u64::from(running);
        chunk.failed += u64::from(failed);
        for event in events {
            chunk.messages.push(Encoded {
                payload: oot_avro::encode_event(&event).context("encoding an event")?,
                key: event.job_key,
                event_id: event.event_id,
            });
        }
    }
    Ok(chunk)
}

/// Jobs per chunk a generator thread encodes at a time.
const CHUNK_JOBS: u64 = 2_000;
/// Messages produced but not yet acknowledged at once.
const IN_FLIGHT: usize = 100_000;

/// The producer: as ingest's (idempotent, `acks=all`, lz4), with a longer linger and larger
/// batches, since throughput is all that matters here.
fn producer(kafka: &KafkaSettings) -> anyhow::Result<FutureProducer> {
    Ok(kafka
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "500000")
        .set("queue.buffering.max.kbytes", "1048576")
        .create()?)
}

/// Generates `spec`'s jobs around `now` on `threads` threads and produces their events to
/// `kafka.topic` (created if missing), waiting until the broker has all of them.
pub async fn load(
    kafka: &KafkaSettings,
    spec: &LoadSpec,
    now: OffsetDateTime,
    threads: usize,
) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(spec.backends > 0, "--backends must be at least 1");
    anyhow::ensure!(
        spec.running <= spec.jobs,
        "--running must be at most --jobs"
    );
    oot_platform::migrate::ensure_topic(kafka).await?;
    let producer = producer(kafka)?;
    let started = Instant::now();
    let threads = threads.max(1);
    let (sender, mut chunks) = tokio::sync::mpsc::channel::<anyhow::Result<Chunk>>(threads * 2);
    let mut generators = Vec::with_capacity(threads);
    for thread in 0..threads as u64 {
        let sender = sender.clone();
        let spec = spec.clone();
        generators.push(std::thread::spawn(move || {
            let mut start = thread * CHUNK_JOBS;
            while start < spec.jobs {
                let end = (start + CHUNK_JOBS).min(spec.jobs);
                let chunk = encode_range(&spec, now, start..end);
                let failed = chunk.is_err();
                if sender.blocking_send(chunk).is_err() || failed {
                    return;
                }
                start += threads as u64 * CHUNK_JOBS;
            }
        }));
    }
    drop(sender);

    let mut report = LoadReport {
        jobs: spec.jobs,
        ..LoadReport::default()
    };
    let mut in_flight = VecDeque::with_capacity(IN_FLIGHT);
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk?;
        report.running += chunk.running;
        report.failed += chunk.failed;
        for message in chunk.messages {
            let headers = OwnedHeaders::new_with_capacity(1).insert(Header {
                key: "event_id",
                value: Some(message.event_id.as_bytes()),
            });
            let mut record = FutureRecord::to(&kafka.topic)
                .key(message.key.as_bytes())
                .payload(&message.payload)
                .headers(headers);
            loop {
                match producer.send_result(record) {
                    Ok(delivery) => {
                        in_flight.push_back(delivery);
                        break;
                    }
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull,
                        ),
                        back,
                    )) => {
                        record = back;
                        match in_flight.pop_front() {
                            Some(delivery) => acknowledged(delivery.await)?,
                            None => tokio::time::sleep(Duration::from_millis(5)).await,
                        }
                    }
                    Err((error, _)) => return Err(error).context("producing an event"),
                }
            }
            report.events += 1;
            report.bytes += message.payload.len() as u64;
            while in_flight.len() >= IN_FLIGHT {
                if let Some(delivery) = in_flight.pop_front() {
                    acknowledged(delivery.await)?;
                }
            }
        }
    }
    for delivery in in_flight {
        acknowledged(delivery.await)?;
    }
    producer.flush(Duration::from_secs(60))?;
    for generator in generators {
        generator
            .join()
            .map_err(|_| anyhow::anyhow!("a generator thread panicked"))?;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

fn acknowledged<Canceled>(
    delivery: Result<rdkafka::producer::future_producer::OwnedDeliveryResult, Canceled>,
) -> anyhow::Result<()> {
    match delivery {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((error, _))) => Err(error).context("the broker refused an event"),
        Err(_) => anyhow::bail!("the producer dropped an event"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(jobs: u64) -> LoadSpec {
        LoadSpec {
            jobs,
            backends: 8,
            days: 30,
            running: jobs / 10,
            failed_tests_per_failure: 3,
            seed: 7,
        }
    }

    #[test]
    fn every_generated_callback_passes_ingest_validation() {
        let now = OffsetDateTime::now_utc();
        let limits = Limits::default();
        let spec = spec(500);
        let mut running = 0;
        let mut failed = 0;
        let mut events = 0;
        for index in 0..spec.jobs {
            let (job, r, f) = job_events(&spec, index, now, &limits).expect("valid");
            assert!(job.iter().all(|e| e.job_key == job[0].job_key));
            running += u64::from(r);
            failed += u64::from(f);
            events += job.len();
        }
        assert_eq!(running, 50);
        assert!(failed > 20, "{failed} failed jobs");
        assert_eq!(events as u64, 2 * 500 - 50);
    }

    #[test]
    fn one_seed_gives_the_same_jobs() {
        let now = OffsetDateTime::now_utc();
        let limits = Limits::default();
        let spec = spec(50);
        for index in 0..spec.jobs {
            let (a, ..) = job_events(&spec, index, now, &limits).expect("valid");
            let (b, ..) = job_events(&spec, index, now, &limits).expect("valid");
            assert_eq!(a[0].job_key, b[0].job_key);
            assert_eq!(a.last().map(|e| &e.workflow), b.last().map(|e| &e.workflow));
        }
    }
}
