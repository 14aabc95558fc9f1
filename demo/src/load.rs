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
//! three hours and have only their `in_progress` callback.
//!
//! **Failed tests.** A failed job (12% of the completed ones) lists 1 to `2n − 1` failed tests,
//! `n` = `failed_tests_per_failure` on average, named from a pool of 20,000 PyTorch-like tests
//! (module and class, op, variant, dtype). Each backend has a failing set of 600 of them, 150
//! shared by every backend (an upstream break) and 450 its own; a quarter fail the whole time,
//! the others over one interval of 1 to `days` days (fixed, started, or failing still), and a
//! job fails only tests failing at its time, drawn with a skew, so some tests fail in most
//! failed jobs and others rarely, on nightlies and PRs alike: tests have histories. One PR in
//! five also breaks 1 to 3 tests of its own in a backend, which only its jobs fail.

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
    /// Failed tests of a failed job, on average (each lists 1 to `2n − 1`; 0: none).
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

/// The tests a backend runs: [`POOL_TESTS`] names (PyTorch's suites have tens of thousands of
/// tests), each made of a module and class, an op, a variant and a dtype (see [`pool_test`]).
const POOL_TESTS: u64 = 20_000;

/// Test modules and classes of the pool.
const TEST_CLASSES: &[&str] = &[
    "test.test_ops.TestCommon",
    "test.test_ops.TestMathBits",
    "test.test_ops.TestCompositeCompliance",
    "test.test_ops_gradients.TestBwdGradients",
    "test.test_ops_fwd_gradients.TestFwdGradients",
    "test.test_torch.TestTorchDeviceType",
    "test.test_nn.TestNNDeviceType",
    "test.nn.test_convolution.TestConvolutionNNDeviceType",
    "test.nn.test_pooling.TestPoolingNNDeviceType",
    "test.nn.test_embedding.TestEmbeddingNNDeviceType",
    "test.test_linalg.TestLinalg",
    "test.test_reductions.TestReductions",
    "test.test_binary_ufuncs.TestBinaryUfuncs",
    "test.test_unary_ufuncs.TestUnaryUfuncs",
    "test.test_indexing.TestIndexing",
    "test.test_shape_ops.TestShapeOps",
    "test.test_sort_and_select.TestSortAndSelect",
    "test.test_tensor_creation_ops.TestTensorCreation",
    "test.test_type_promotion.TestTypePromotion",
    "test.test_view_ops.TestViewOps",
    "test.test_transformers.TestSDPA",
    "test.test_transformers.TestTransformers",
    "test.test_matmul_cuda.TestMatmul",
    "test.test_foreach.TestForeach",
    "test.test_autograd.TestAutogradDeviceType",
    "test.test_optim.TestOptimRenewed",
    "test.test_sparse.TestSparse",
    "test.test_segment_reductions.TestSegmentReductions",
    "test.test_scatter_gather_ops.TestScatterGather",
    "test.test_complex.TestComplexTensor",
    "test.functorch.test_vmap.TestVmapOperatorsOpInfo",
    "test.functorch.test_ops.TestOperators",
    "test.inductor.test_torchinductor.CommonTemplate",
    "test.inductor.test_torchinductor_opinfo.TestInductorOpInfo",
    "test.inductor.test_fused_attention.TestSDPAPatternRewriter",
    "test.dynamo.test_repros.ReproTests",
    "test.distributed.test_c10d_common.CommonDistributedDataParallelTest",
    "test.distributed.test_c10d_xccl.ProcessGroupXCCLTest",
    "test.test_dataloader.TestDataLoader",
    "test.test_serialization.TestSerialization",
];

/// Ops of the pool's test names.
const TEST_OPS: &[&str] = &[
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "exp",
    "log",
    "sqrt",
    "rsqrt",
    "sigmoid",
    "tanh",
    "gelu",
    "silu",
    "relu",
    "softmax",
    "log_softmax",
    "layer_norm",
    "batch_norm",
    "group_norm",
    "rms_norm",
    "matmul",
    "addmm",
    "baddbmm",
    "bmm",
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose2d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "interpolate",
    "embedding",
    "embedding_bag",
    "index_put",
    "index_add",
    "index_select",
    "gather",
    "scatter",
    "scatter_reduce",
    "take_along_dim",
    "masked_fill",
    "where",
    "cumsum",
    "cumprod",
    "sum",
    "mean",
    "var",
    "std",
    "norm",
    "max",
    "min",
    "argmax",
    "topk",
    "sort",
    "unique",
    "cat",
    "stack",
    "nonzero",
];

/// Variants of the pool's test names (`""` for the plain test).
const TEST_VARIANTS: &[&str] = &[
    "",
    "_out",
    "_inplace",
    "_backward",
    "_channels_last",
    "_non_contiguous",
    "_large",
    "_compiled",
];

const TEST_DTYPES: &[&str] = &[
    "float32",
    "float16",
    "bfloat16",
    "float64",
    "int64",
    "complex64",
];

/// What failing tests say, by kind.
const TEST_MESSAGES: &[&str] = &[
    "AssertionError: Tensor-likes are not close!",
    "AssertionError: Scalars are not equal!",
    "RuntimeError: expected stride to match",
    "RuntimeError: device-side assert triggered",
    "NotImplementedError: The operator is not currently implemented for the device",
    "RuntimeError: UR error",
    "TimeoutError: collective timed out after 300 s",
    "AssertionError: The values for attribute 'dtype' do not match",
    "RuntimeError: Batch norm got a batched tensor as input",
    "torch._dynamo.exc.Unsupported: call_function in skip_files",
];

/// Test `index` of the pool (below [`POOL_TESTS`]) as (name, classname, message): distinct
/// indices give distinct tests.
fn pool_test(index: u64) -> (String, &'static str, &'static str) {
    let combinations =
        (TEST_CLASSES.len() * TEST_OPS.len() * TEST_VARIANTS.len() * TEST_DTYPES.len()) as u64;
    // A multiplier prime to the number of combinations scatters neighbouring indices over
    // classes and ops, one to one.
    let mut c = index.wrapping_mul(7_919) % combinations;
    let mut digit = |radix: usize| {
        let d = (c % radix as u64) as usize;
        c /= radix as u64;
        d
    };
    let class = TEST_CLASSES[digit(TEST_CLASSES.len())];
    let op = TEST_OPS[digit(TEST_OPS.len())];
    let variant = TEST_VARIANTS[digit(TEST_VARIANTS.len())];
    let dtype = TEST_DTYPES[digit(TEST_DTYPES.len())];
    let message = TEST_MESSAGES[(mix(index) % TEST_MESSAGES.len() as u64) as usize];
    (format!("test_{op}{variant}_{dtype}"), class, message)
}

/// Tests of each backend's failing set: what fails in its jobs, nightlies and PRs alike.
const FAILING_PER_BACKEND: u64 = 600;
/// The first tests of every failing set are the same tests on every backend, failing at the
/// same times (an upstream change that breaks every backend); the rest are the backend's own.
const SHARED_FAILING: u64 = 150;
/// Share (%) of a failing set that fails the whole time; each other test fails over one
/// interval of 1 to `days` days, starting up to a week before the loaded days (so some were
/// fixed, some started in the window, some fail still).
const CHRONIC_PERCENT: u64 = 25;
/// Share (%) of (PR, backend) pairs where the PR breaks tests of its own: 1 to 3 tests, from a
/// part of the pool no failing set holds, failed by every failed job of the PR in the backend.
const PR_BREAKS_PERCENT: u64 = 20;
/// The pool's first half holds the failing sets, the second the PRs' own broken tests.
const PR_TESTS_FROM: u64 = POOL_TESTS / 2;

/// Test `k` of backend `backend`'s failing set: its pool index and when it fails, as seconds
/// before `now`: from `since_ago` to `until_ago` (negative: still failing).
struct Failing {
    pool: u64,
    since_ago: i64,
    until_ago: i64,
}

impl Failing {
    fn of(backend: usize, k: u64, days: u32) -> Self {
        let shared = k < SHARED_FAILING;
        let pool = if shared {
            k
        } else {
            SHARED_FAILING
                + (backend as u64 * (FAILING_PER_BACKEND - SHARED_FAILING) + k - SHARED_FAILING)
                    % (PR_TESTS_FROM - SHARED_FAILING)
        };
        // A shared test fails at the same times on every backend.
        let h = mix(0x7e57 ^ mix(if shared { k } else { mix(backend as u64) ^ k }));
        let day = 86_400_i64;
        let days = i64::from(days.max(1));
        if h % 100 < CHRONIC_PERCENT {
            return Self {
                pool,
                since_ago: i64::MAX,
                until_ago: i64::MIN,
            };
        }
        let h = mix(h);
        let since_ago = (h % ((days + 7) * day) as u64) as i64;
        let length = (1 + (mix(h) % days as u64) as i64) * day;
        Self {
            pool,
            since_ago,
            until_ago: since_ago - length,
        }
    }

    fn fails_at(&self, ago: i64) -> bool {
        self.until_ago <= ago && ago <= self.since_ago
    }
}

/// A uniform number in `[0, 1)`.
fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
}

/// The pool indices of the tests a failed job fails: 1 to `2 × mean − 1` of them (none when
/// `mean` is 0), distinct. First its PR's own broken tests, if its PR breaks some in this
/// backend; then tests of the backend's failing set failing `ago` seconds before now, drawn
/// with a skew (rank `⌊600·u²⌋`): the first of the set fail in most failed jobs, the last in
/// few, so tests have histories, frequent and rare.
fn failed_test_indices(
    rng: &mut Rng,
    mean: usize,
    backend: usize,
    pr: Option<u64>,
    ago: i64,
    days: u32,
) -> Vec<u64> {
    if mean == 0 {
        return Vec::new();
    }
    let count = rng.range(1, 2 * mean as u64) as usize;
    let mut picked = Vec::with_capacity(count);
    if let Some(pr) = pr {
        let h = mix(pr ^ mix(0x00b8_eac5 ^ backend as u64));
        if h % 100 < PR_BREAKS_PERCENT {
            for j in 0..1 + mix(h) % 3 {
                let own = PR_TESTS_FROM + mix(h ^ mix(j)) % (POOL_TESTS - PR_TESTS_FROM);
                if picked.len() < count && !picked.contains(&own) {
                    picked.push(own);
                }
            }
        }
    }
    let mut taken = vec![false; FAILING_PER_BACKEND as usize];
    let mut attempts = 8 * count + 64;
    while picked.len() < count && attempts > 0 {
        attempts -= 1;
        let u = unit(rng);
        let k = ((u * u * FAILING_PER_BACKEND as f64) as u64).min(FAILING_PER_BACKEND - 1);
        if taken[k as usize] {
            continue;
        }
        let test = Failing::of(backend, k, days);
        if test.fails_at(ago) {
            taken[k as usize] = true;
            picked.push(test.pool);
        }
    }
    picked
}

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

/// The failed tests of a failed job of `backend` (of `pr`, unless a nightly) that completed
/// `ago` seconds before now: [`failed_test_indices`], each with its message and a stack trace.
fn failed_tests(
    rng: &mut Rng,
    spec: &LoadSpec,
    backend: usize,
    pr: Option<u64>,
    ago: i64,
) -> Vec<FailedTest> {
    let mean = spec.failed_tests_per_failure;
    failed_test_indices(rng, mean, backend, pr, ago, spec.days)
        .into_iter()
        .map(|index| {
            let (name, classname, message) = pool_test(index);
            let stacktrace = format!(
                "Traceback (most recent call last):\n  File \"{}.py\", line {}, in {name}\n{message}",
                classname.replace('.', "/"),
                rng.range(100, 3_000)
            );
            FailedTest {
                name,
                classname: classname.to_owned(),
                message: message.to_owned(),
                stacktrace: Some(stacktrace),
                duration_s: Some(rng.range(1, 600) as f64 / 10.0),
            }
        })
        .collect()
}

/// How often the synthetic upstream dispatches its scheduled (nightly and periodic) runs:
/// every 4 hours, as upstream's periodic workflows do.
const NIGHTLY_RUN_SECS: i64 = 4 * 3_600;

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
    let leg = rng.range(1, 7);
    let run_attempt = if rng.per_mille(40) { 2 } else { 1 };
    let queue_time = rng.range(5, 1_800) as f64 + 0.25;
    let duration = rng.range(600, 7_200);
    let running = index < spec.running;
    let window = u64::from(spec.days.max(1)) * 86_400;
    // When the job starts (running) or ends (completed), drawn before the trigger: a nightly's
    // delivery is the scheduled run of its start.
    let ago = if running {
        rng.range(60, 3 * 3_600)
    } else {
        rng.range(60, window)
    };
    let started = if running {
        now - seconds(ago)
    } else {
        now - seconds(ago) - seconds(duration)
    };
    let upstream = RepoName::parse("pytorch/pytorch")?;
    let head_sha = format!("{:016x}{:016x}{:08x}", mix(pr), mix(pr ^ 1), pr as u32);
    // A nightly job belongs to a scheduled run: one every NIGHTLY_RUN_SECS, on one upstream
    // commit that every backend tests, one delivery per backend; as upstream dispatches them
    // (a run's jobs arrive together there; here they start at random times within its period).
    let scheduled_run = started.unix_timestamp().div_euclid(NIGHTLY_RUN_SECS) as u64;
    let trigger = if nightly {
        Trigger::Nightly {
            upstream,
            head_sha: format!(
                "{:016x}{:016x}{:08x}",
                mix(scheduled_run),
                mix(scheduled_run ^ 7),
                0
            ),
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
    let delivery_id = if nightly {
        format!("load-{}-n{scheduled_run}-{backend}", spec.seed)
    } else {
        format!("load-{}-{pr}-{backend}", spec.seed)
    };
    // Each job its own workflow run: on GitHub a run holds one job of each name per attempt,
    // so two jobs of one name (two pushes to a PR) are two runs. Unique per seed and job (a
    // hash modulo 10^9 collided ~1,000 times in 10M jobs, and jobs sharing a run id count as
    // attempts of one run); seeds 10^11 apart.
    let run_id = 20_000_000_000 + (spec.seed % 1_000) * 100_000_000_000 + index;
    let job = Job {
        repo: RepoName::parse(&repo)?,
        level,
        trigger,
        delivery_id,
        workflow,
        job_name: format!("{platform} / test (default, {leg}, 6)"),
        run_id,
        run_attempt,
        check_run_id: 40_000_000_000 + mix(spec.seed.wrapping_add(index)) % 1_000_000_000_000,
    };
    let mut out = Vec::with_capacity(2);
    if running {
        let body = serde_json::to_vec(&job.in_progress(started, queue_time).to_json())?;
        out.push((body, started + time::Duration::SECOND));
        return Ok((out, true, false));
    }
    let completed_at = now - seconds(ago);
    let ago = i64::try_from(ago).unwrap_or(i64::MAX);
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
                let pr = (!nightly).then_some(pr);
                failed_tests(&mut rng, spec, backend, pr, ago)
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

/// Produces `events` to `kafka.topic` (created if missing) in order, keyed and headed as ingest
/// produces them, and waits until the broker has all of them; how many were written. For the
/// few hundred events of a story (the demo's history), where [`load`]'s generator threads would
/// be out of place.
pub async fn publish(kafka: &KafkaSettings, events: &[CallbackEvent]) -> anyhow::Result<u64> {
    oot_platform::migrate::ensure_topic(kafka).await?;
    let producer = producer(kafka)?;
    let mut deliveries = Vec::with_capacity(events.len());
    for event in events {
        let payload = oot_avro::encode_event(event).context("encoding an event")?;
        let headers = OwnedHeaders::new_with_capacity(1).insert(Header {
            key: "event_id",
            value: Some(event.event_id.as_bytes()),
        });
        let record = FutureRecord::to(&kafka.topic)
            .key(event.job_key.as_bytes())
            .payload(&payload)
            .headers(headers);
        let delivery = producer
            .send_result(record)
            .map_err(|(error, _)| error)
            .context("producing an event")?;
        deliveries.push(delivery);
    }
    for delivery in deliveries {
        acknowledged(delivery.await)?;
    }
    producer.flush(Duration::from_secs(60))?;
    Ok(events.len() as u64)
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

    #[test]
    fn nightly_jobs_come_in_scheduled_runs_on_one_commit_per_run() {
        use std::collections::{BTreeMap, BTreeSet};
        let now = OffsetDateTime::now_utc();
        let limits = Limits::default();
        let spec = LoadSpec {
            days: 2,
            running: 0,
            ..spec(20_000)
        };
        // delivery -> (commits, backends); run -> (commits, backends)
        type Seen = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>;
        let mut deliveries: Seen = BTreeMap::new();
        let mut runs: BTreeMap<i64, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        let mut nightly_jobs = 0;
        for index in 0..spec.jobs {
            let (events, ..) = job_events(&spec, index, now, &limits).expect("valid");
            let first = &events[0];
            if first.pr_number.is_some() {
                continue;
            }
            nightly_jobs += 1;
            let sha = first.head_sha.clone().expect("a nightly names its commit");
            let run = first
                .workflow
                .started_at
                .expect("a start")
                .div_euclid(1_000_000 * NIGHTLY_RUN_SECS);
            assert!(
                first.delivery_id.contains(&format!("-n{run}-")),
                "{} is not the run of its start",
                first.delivery_id
            );
            for seen in [
                deliveries.entry(first.delivery_id.clone()).or_default(),
                runs.entry(run).or_default(),
            ] {
                seen.0.insert(sha.clone());
                seen.1.insert(first.verified_repo.clone());
            }
        }
        // 2 days (and a job's run time before) of 4-hour runs, each on one commit of its own,
        // dispatched to the 8 backends: every run but the window's first and last (partly
        // outside it, so a backend may have no job there) has jobs of all 8.
        assert!(nightly_jobs > 800, "{nightly_jobs} nightly jobs");
        assert!((12..=14).contains(&runs.len()), "{} runs", runs.len());
        let commits: BTreeSet<&String> = runs.values().flat_map(|(shas, _)| shas).collect();
        assert_eq!(commits.len(), runs.len(), "a commit per run");
        for (run, (shas, backends)) in runs.iter().skip(1).take(runs.len() - 2) {
            assert_eq!(shas.len(), 1, "run {run} tests {shas:?}");
            assert_eq!(backends.len(), 8, "run {run} went to {backends:?}");
        }
        assert!(
            deliveries.len() <= runs.len() * 8,
            "{} deliveries",
            deliveries.len()
        );
        for (id, (shas, backends)) in &deliveries {
            assert_eq!(shas.len(), 1, "delivery {id} tests {shas:?}");
            assert_eq!(backends.len(), 1, "delivery {id} went to {backends:?}");
        }
    }

    #[test]
    fn the_pool_names_distinct_tests() {
        let combinations =
            TEST_CLASSES.len() * TEST_OPS.len() * TEST_VARIANTS.len() * TEST_DTYPES.len();
        assert!(combinations as u64 >= POOL_TESTS);
        let names: std::collections::HashSet<(String, &str)> = (0..POOL_TESTS)
            .map(|i| {
                let (name, classname, _) = pool_test(i);
                (name, classname)
            })
            .collect();
        assert_eq!(names.len() as u64, POOL_TESTS);
    }

    #[test]
    fn failed_jobs_list_distinct_recurring_tests_on_nightlies_and_prs() {
        use std::collections::{HashMap, HashSet};
        let now = OffsetDateTime::now_utc();
        let limits = Limits::default();
        let spec = LoadSpec {
            failed_tests_per_failure: 40,
            running: 0,
            ..spec(2_000)
        };
        let mut failed_jobs = 0;
        let mut rows = 0;
        // (repo, classname, name) -> (failed jobs, on a nightly, on a PR)
        let mut tests: HashMap<(String, String, String), (u64, bool, bool)> = HashMap::new();
        for index in 0..spec.jobs {
            let (events, _, failed) = job_events(&spec, index, now, &limits).expect("valid");
            let last = events.last().expect("a completed event");
            assert!(last.truncations.is_empty(), "{:?}", last.truncations);
            let listed = &last.workflow.failed_tests;
            assert_eq!(failed, !listed.is_empty(), "job {index}");
            if !failed {
                continue;
            }
            failed_jobs += 1;
            rows += listed.len();
            assert!((1..2 * 40).contains(&listed.len()), "{}", listed.len());
            let distinct: HashSet<_> = listed.iter().map(|t| (&t.classname, &t.name)).collect();
            assert_eq!(
                distinct.len(),
                listed.len(),
                "job {index} lists a test twice"
            );
            let nightly = last.pr_number.is_none();
            for test in listed {
                let key = (
                    last.verified_repo.clone(),
                    test.classname.clone(),
                    test.name.clone(),
                );
                let seen = tests.entry(key).or_default();
                seen.0 += 1;
                seen.1 |= nightly;
                seen.2 |= !nightly;
            }
        }
        let mean = rows as f64 / failed_jobs as f64;
        assert!((36.0..44.0).contains(&mean), "{mean} tests per failed job");
        // Hundreds of failing tests per backend, some failing in most failed jobs, some on
        // nightlies and PRs both.
        let per_backend = tests.len() / spec.backends;
        assert!(
            (200..700).contains(&per_backend),
            "{per_backend} tests per backend"
        );
        let most = tests.values().map(|t| t.0).max().unwrap_or(0);
        assert!(
            most * 2 > failed_jobs / spec.backends as u64,
            "{most} of {failed_jobs}"
        );
        assert!(tests.values().filter(|t| t.1 && t.2).count() > 100);
        assert!(
            tests.values().filter(|t| t.0 == 1).count() > 10,
            "rare ones too"
        );
    }

    #[test]
    fn no_failed_tests_when_asked_for_none() {
        let now = OffsetDateTime::now_utc();
        let limits = Limits::default();
        let spec = LoadSpec {
            failed_tests_per_failure: 0,
            ..spec(300)
        };
        for index in 0..spec.jobs {
            let (events, ..) = job_events(&spec, index, now, &limits).expect("valid");
            assert!(events.iter().all(|e| e.workflow.failed_tests.is_empty()));
        }
    }
}
