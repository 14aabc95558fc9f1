//! Demo data: a realistic stream of relay callbacks sent through the real ingest endpoint, so a
//! fresh local stack shows populated pages (see the `oot-demo` binary and `compose/up.sh`). Each
//! callback is built by [`crate::callback`].
//!
//! The content (backends, PRs, outcomes, failed tests) comes from a seeded generator, so two runs
//! with one seed send the same story; the delivery ids, run ids and check run ids are fresh per
//! run, so a second run adds jobs instead of merging into the first run's.
//!
//! Everything goes through `POST /api/oot/results` rather than straight into the stores: the demo
//! then exercises validation, the event log and the projector exactly as the relay would.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use oot_contract::{Conclusion, InvalidValue, RepoLevel, RepoName, TestCounts};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::callback::{FailedTest, Job, PullRequest, Trigger};
use crate::rng::Rng;

/// Callbacks in flight at once: enough to be quick, few enough not to look like a flood.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Tries per callback when ingest asks to come back later (429 or 503 with `Retry-After`).
const MAX_TRIES: u32 = 5;
/// The longest wait on a `Retry-After` before giving up on that callback.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(65);

/// The upstream repo every demo PR belongs to.
pub const UPSTREAM_REPO: &str = "pytorch/pytorch";

/// A downstream backend of the demo.
struct Backend {
    repo: &'static str,
    level: RepoLevel,
    workflow: &'static str,
    nightly_workflow: &'static str,
    legs: &'static [&'static str],
    environment: fn() -> Value,
    /// Typical execution time of a leg, in seconds.
    duration_s: (u64, u64),
    /// Out of 100 completed jobs: how many fail, time out, are cancelled (the rest pass).
    failure_pct: u64,
    timeout_pct: u64,
    cancel_pct: u64,
    /// Out of 100 PRs: how many this backend runs on (not every backend runs on every PR).
    coverage_pct: u64,
}

const BACKENDS: &[Backend] = &[
    Backend {
        repo: "intel/torch-xpu-ops",
        level: RepoLevel::L2,
        workflow: "xpu-ci",
        nightly_workflow: "xpu-nightly",
        legs: &[
            "linux-xpu / test (default, 1, 4)",
            "linux-xpu / test (default, 2, 4)",
            "linux-xpu / test (default, 3, 4)",
            "linux-xpu / test (default, 4, 4)",
            "windows-xpu / test (default, 1, 1)",
        ],
        environment: || {
            json!({"device": "Intel Data Center GPU Max 1550", "driver": "1.3.29735",
                   "oneapi": "2025.1", "python": "3.12"})
        },
        duration_s: (1_500, 3_600),
        failure_pct: 12,
        timeout_pct: 2,
        cancel_pct: 3,
        coverage_pct: 90,
    },
    Backend {
        repo: "ascend/pytorch",
        level: RepoLevel::L3,
        workflow: "npu-ci",
        nightly_workflow: "npu-nightly",
        legs: &[
            "linux-aarch64-npu / test (default, 1, 2)",
            "linux-aarch64-npu / test (default, 2, 2)",
            "linux-aarch64-npu / test (distributed, 1, 1)",
        ],
        environment: || {
            json!({"device": "Ascend 910B", "cann": "8.0.RC3", "driver": "24.1.rc3",
                   "python": "3.11"})
        },
        duration_s: (2_400, 5_400),
        failure_pct: 18,
        timeout_pct: 4,
        cancel_pct: 4,
        coverage_pct: 75,
    },
    Backend {
        repo: "riscv-farm/pytorch-riscv",
        level: RepoLevel::L4,
        workflow: "riscv-ci",
        nightly_workflow: "riscv-nightly",
        legs: &[
            "linux-riscv64 / build",
            "linux-riscv64 / test (smoke, 1, 1)",
        ],
        environment: || {
            json!({"device": "SiFive HiFive Premier P550", "kernel": "6.6.21", "gcc": "14.2",
                   "python": "3.12"})
        },
        duration_s: (5_400, 12_600),
        failure_pct: 20,
        timeout_pct: 12,
        cancel_pct: 5,
        coverage_pct: 50,
    },
    Backend {
        repo: "cambricon/torch_mlu",
        level: RepoLevel::L3,
        workflow: "mlu-ci",
        nightly_workflow: "mlu-nightly",
        legs: &[
            "linux-mlu / test (default, 1, 2)",
            "linux-mlu / test (default, 2, 2)",
            "linux-mlu / build",
        ],
        environment: || {
            json!({"device": "MLU370-X8", "cntoolkit": "3.15.2", "driver": "6.2.10",
                   "python": "3.10"})
        },
        duration_s: (1_800, 4_200),
        failure_pct: 10,
        timeout_pct: 3,
        cancel_pct: 6,
        coverage_pct: 65,
    },
];

/// Titles of the demo's upstream PRs (cycled).
const PR_TITLES: &[(&str, &str)] = &[
    (
        "[inductor] fuse pointwise epilogues into matmul templates",
        "fuse-epilogue",
    ),
    (
        "[dynamo] guard on tensor subclass metadata",
        "subclass-guards",
    ),
    (
        "Add bf16 support for torch.linalg.svd on XPU",
        "xpu-svd-bf16",
    ),
    (
        "[c10d] make ProcessGroup shutdown idempotent",
        "pg-shutdown",
    ),
    ("[export] preserve module call signatures", "export-sig"),
    (
        "Fix overflow in torch.cumsum for int8 inputs",
        "cumsum-int8",
    ),
    (
        "[aten] vectorize index_put_ with accumulate=True",
        "index-put-vec",
    ),
    (
        "[quant] PT2E: fold conv-bn for grouped convolutions",
        "pt2e-convbn",
    ),
    (
        "Remove deprecated torch.cuda.amp entry points",
        "rm-cuda-amp",
    ),
    (
        "[inductor] cache autotuning results across processes",
        "autotune-cache",
    ),
    (
        "[profiler] record device memory events on PrivateUse1",
        "privateuse1-mem",
    ),
    (
        "[nn] faster nn.functional.scaled_dot_product_attention masks",
        "sdpa-mask",
    ),
];

const FAILED_TESTS: &[(&str, &str, &str)] = &[
    (
        "test_matmul_epilogue_bf16",
        "test.inductor.test_fused_attention.TestFusion",
        "AssertionError: Tensor-likes are not close! Mismatched elements: 3 / 4096",
    ),
    (
        "test_conv_backward_channels_last",
        "test.test_nn.TestConvolutionNNDeviceType",
        "RuntimeError: UR error",
    ),
    (
        "test_sdpa_dropout_fp16",
        "test.test_transformers.TestSDPA",
        "AssertionError: Scalars are not close! Expected 0.1 but got 0.1003",
    ),
    (
        "test_allreduce_coalesced",
        "test.distributed.test_c10d_common.ProcessGroupTest",
        "RuntimeError: HCCL error: timeout waiting for rank 3",
    ),
    (
        "test_index_put_accumulate_large",
        "test.test_indexing.TestIndexingDeviceType",
        "RuntimeError: device-side assertion failed: index out of bounds",
    ),
    (
        "test_cumsum_int8",
        "test.test_reductions.TestReductionsDeviceType",
        "AssertionError: Tensor-likes are not equal!",
    ),
    (
        "test_compile_resnet18_inference",
        "test.inductor.test_torchinductor.GPUTests",
        "torch._dynamo.exc.BackendCompilerFailed: backend='inductor' raised: NotImplementedError",
    ),
    (
        "test_svd_bf16",
        "test.test_linalg.TestLinalgDeviceType",
        "NotImplementedError: aten::_linalg_svd.U is not implemented for bfloat16",
    ),
    (
        "test_autocast_float16_lstm",
        "test.test_autocast.TestAutocast",
        "AssertionError: dtype mismatch: torch.float32 != torch.float16",
    ),
    (
        "test_memory_stats_reset",
        "test.test_device_memory.TestMemory",
        "AssertionError: 4096 != 0 : peak bytes not reset",
    ),
    (
        "test_fft_rfftn_odd_sizes",
        "test.test_spectral_ops.TestFFTDeviceType",
        "RuntimeError: unsupported FFT plan",
    ),
    (
        "test_vmap_batch_norm",
        "test.functorch.test_vmap.TestVmapOperators",
        "RuntimeError: Batch norm got a batched tensor as input",
    ),
];

/// What one run of the demo sent and how ingest answered.
#[derive(Debug, Default, Clone)]
pub struct DemoReport {
    /// This run's id (part of every delivery id it sent).
    pub run_id: String,
    pub sent: usize,
    pub accepted: usize,
    /// Refused callbacks by reason (`"400 invalid: ..."`, or a transport error).
    pub refused: BTreeMap<String, usize>,
    /// Jobs by what the demo made of them (`success`, `failure`, `running`, `rerun`, ...).
    pub jobs: BTreeMap<String, usize>,
    /// PR numbers the demo used, and of those, one with a job left running and one with a re-run.
    pub pr_numbers: Vec<u64>,
    pub pr_with_running_job: Option<u64>,
    pub pr_with_rerun: Option<u64>,
    pub backends: Vec<String>,
}

impl DemoReport {
    pub fn refused_total(&self) -> usize {
        self.refused.values().sum()
    }
}

/// The callbacks of one run, in the order a relay would plausibly send them.
pub struct DemoPlan {
    pub callbacks: Vec<Value>,
    /// The test-triage story ([`TRIAGE_BACKEND`]): sent after `callbacks`, one at a time and in
    /// this order, since the triage rules order jobs by when ingest first saw them (contract
    /// §12.1) and its job keys grow in this order (for jobs first seen in the same second).
    pub in_order: Vec<Value>,
    pub report: DemoReport,
}

/// The backend of the test-triage story: one slot of it shows each state of contract §12.
pub const TRIAGE_BACKEND: &str = "intel/torch-xpu-ops";
/// The slot (workflow, job) of the triage story: a leg of the backend's PR workflow, which its
/// nightly schedule also runs, so PR jobs have a nightly baseline in the same slot.
pub const TRIAGE_SLOT: (&str, &str) = ("xpu-ci", "linux-xpu / test (default, 1, 4)");
/// The classname of the triage story's tests.
pub const TRIAGE_CLASS: &str = "test.test_ops.TestCommonXPU";
/// New on PR [`TRIAGE_PRS`]`[0]`: the nightly before it passed it.
pub const TEST_NEW: &str = "test_layer_norm_backward_bf16_xpu";
/// Known: fails on every nightly and on PR [`TRIAGE_PRS`]`[0]`.
pub const TEST_KNOWN: &str = "test_histc_float64_xpu";
/// Fixed: failed on the first two nightlies, passes on the latest.
pub const TEST_FIXED: &str = "test_cdist_grad_p2_xpu";
/// Flaky: attempt 1 of PR [`TRIAGE_PRS`]`[1]` failed it, attempt 2 (same commit) passed it;
/// PR [`TRIAGE_PRS`]`[2]` fails it again, so it is failing (new) and flagged flaky.
pub const TEST_FLAKY: &str = "test_multinomial_stress_xpu";
/// A regression range: passed on nightly 1, fails from nightly 2 on.
pub const TEST_REGRESSION: &str = "test_addmm_relu_fusion_xpu";
/// The upstream PRs of the triage story (outside the random PRs' 160,000..170,000).
pub const TRIAGE_PRS: [u64; 3] = [170_101, 170_102, 170_103];

/// One leg of a backend's run: its job, and the backend it belongs to.
struct Leg<'a> {
    backend: &'a Backend,
    job: Job,
}

impl Leg<'_> {
    fn in_progress(&self, started_at: OffsetDateTime, queue_time: f64) -> Value {
        self.job.in_progress(started_at, queue_time).to_json()
    }

    fn completed(
        &self,
        rng: &mut Rng,
        conclusion: Conclusion,
        started_at: OffsetDateTime,
        completed_at: OffsetDateTime,
    ) -> Value {
        let execution = (completed_at - started_at).whole_seconds() as f64;
        let mut callback = self
            .job
            .completed(conclusion, completed_at, Some(execution))
            .with_environment((self.backend.environment)());
        // Jobs that ran their tests report counts; a timed-out or cancelled job has none, and
        // a build leg runs no tests.
        let ran_tests = matches!(conclusion, Conclusion::Success | Conclusion::Failure)
            && !self.job.job_name.ends_with("/ build");
        if ran_tests {
            let failed = if conclusion == Conclusion::Failure {
                rng.range(1, 21)
            } else {
                0
            };
            let passed = rng.range(3_000, 12_000);
            let skipped = rng.range(50, 900);
            let failed_tests = (0..failed)
                .map(|i| failed_test(rng, self.backend, i))
                .collect();
            // Within the contract's caps by construction; counts left out rather than a panic.
            if let Ok(counts) =
                TestCounts::new(passed, failed, skipped, Some(passed + failed + skipped))
            {
                callback = callback.with_tests(counts, failed_tests);
            }
            callback = callback.with_artifact_url(self.job.artifact_url(self.job.check_run_id + 7));
        }
        callback.to_json()
    }
}

fn failed_test(rng: &mut Rng, backend: &Backend, index: u64) -> FailedTest {
    let (name, classname, message) = *rng.pick(FAILED_TESTS);
    // Parametrized names keep one callback's failed tests distinct.
    let name = if index == 0 {
        name.to_owned()
    } else {
        format!("{name}_{index}")
    };
    let file = classname
        .rsplit_once('.')
        .map_or(classname, |(module, _)| module)
        .replace('.', "/");
    let line = rng.range(100, 3_000);
    let stacktrace = format!(
        "Traceback (most recent call last):\n  File \"{file}.py\", line {line}, in {name}\n    \
         self.assertEqual(actual, expected)\n  File \"torch/testing/_internal/common_utils.py\", \
         line 4012, in assertEqual\n    raise error_metas.pop()[0].to_error(msg)\n{message}\n\
         (device: {})",
        backend.repo
    );
    FailedTest {
        name,
        classname: classname.to_owned(),
        message: message.to_owned(),
        stacktrace: Some(stacktrace),
        duration_s: Some(rng.range(1, 600) as f64 / 10.0),
    }
}

/// The demo's callbacks for `seed`, with run-unique ids from `run_nonce`, timed around `now`.
pub fn plan(seed: u64, run_nonce: u128, now: OffsetDateTime) -> Result<DemoPlan, InvalidValue> {
    let mut rng = Rng::seeded(seed);
    let upstream = RepoName::parse(UPSTREAM_REPO)?;
    let backends = BACKENDS
        .iter()
        .map(|backend| Ok((backend, RepoName::parse(backend.repo)?)))
        .collect::<Result<Vec<_>, InvalidValue>>()?;
    // Ids of this run: delivery ids mix the run nonce in; run and check run ids grow with the
    // wall clock (GitHub's do), so a later demo run's jobs are the later runs.
    let nonce_hi = (run_nonce >> 64) as u64;
    let nonce_lo = run_nonce as u64;
    let clock = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let mut next_run_id = 10_000_000_000 + (clock % 100_000_000) * 1_000;
    let mut next_check_run_id = next_run_id * 3;
    let mut report = DemoReport {
        run_id: format!("{run_nonce:032x}"),
        backends: BACKENDS.iter().map(|b| b.repo.to_owned()).collect(),
        ..DemoReport::default()
    };
    let mut callbacks = Vec::new();

    const PRS: u64 = 30;
    const HOUR: i64 = 3_600;
    let mut pr_numbers: Vec<u64> = Vec::new();
    while pr_numbers.len() < PRS as usize {
        let number = rng.range(160_000, 170_000);
        if !pr_numbers.contains(&number) {
            pr_numbers.push(number);
        }
    }
    // Pushes spread over the last three days, oldest first; the newest few still have jobs
    // running.
    let mut pushes: Vec<i64> = (0..PRS).map(|_| rng.range(0, 72 * 3_600) as i64).collect();
    pushes.sort_unstable_by(|a, b| b.cmp(a));
    for (index, (&number, &ago)) in pr_numbers.iter().zip(&pushes).enumerate() {
        let (title, branch) = *rng.pick(PR_TITLES);
        let head_sha = rng.hex(40);
        let delivery_id =
            uuid::Uuid::from_u64_pair(rng.next_u64() ^ nonce_hi, rng.next_u64() ^ nonce_lo)
                .to_string();
        let author = *rng.pick(&[
            "ezyang", "jansel", "malfet", "albanD", "guangyey", "wconstab",
        ]);
        let trigger = Trigger::PullRequest(PullRequest {
            upstream: upstream.clone(),
            number,
            title: title.to_owned(),
            author: author.to_owned(),
            head_sha,
            branch: branch.to_owned(),
        });
        let pushed_at = now - time::Duration::seconds(ago);
        let newest = index + 4 >= PRS as usize;
        for (backend, repo) in &backends {
            if !rng.percent(backend.coverage_pct) {
                continue;
            }
            let run_id = next_run_id;
            next_run_id += 1;
            for &job_name in backend.legs {
                let check_run_id = next_check_run_id;
                next_check_run_id += 1;
                let leg = Leg {
                    backend,
                    job: Job {
                        repo: repo.clone(),
                        level: backend.level,
                        trigger: trigger.clone(),
                        delivery_id: delivery_id.clone(),
                        workflow: backend.workflow.to_owned(),
                        job_name: job_name.to_owned(),
                        run_id,
                        run_attempt: 1,
                        check_run_id,
                    },
                };
                let queue = rng.range(5, 900);
                let started_at = pushed_at + time::Duration::seconds(queue as i64);
                let duration = rng.range(backend.duration_s.0, backend.duration_s.1) as i64;
                let mut completed_at = started_at + time::Duration::seconds(duration);
                callbacks.push(leg.in_progress(started_at, queue as f64));
                // A job that would finish in the future is still running now.
                if newest && (completed_at > now || rng.percent(40)) {
                    count(&mut report, "running");
                    report.pr_with_running_job.get_or_insert(number);
                    continue;
                }
                if completed_at > now {
                    completed_at = now - time::Duration::seconds(rng.range(30, 600) as i64);
                }
                let completed_at = completed_at.max(started_at + time::Duration::seconds(60));
                let roll = rng.range(0, 100);
                let conclusion = if roll < backend.failure_pct {
                    Conclusion::Failure
                } else if roll < backend.failure_pct + backend.timeout_pct {
                    Conclusion::TimedOut
                } else if roll < backend.failure_pct + backend.timeout_pct + backend.cancel_pct {
                    Conclusion::Cancelled
                } else {
                    Conclusion::Success
                };
                count(&mut report, conclusion.as_str());
                callbacks.push(leg.completed(&mut rng, conclusion, started_at, completed_at));
                // Someone re-runs about half of the failed jobs: same run, attempt 2, a new
                // check run; flaky tests mostly pass the second time.
                let rerun_starts =
                    completed_at + time::Duration::seconds(rng.range(300, 3_600) as i64);
                if matches!(conclusion, Conclusion::Failure | Conclusion::TimedOut)
                    && rng.percent(50)
                    && rerun_starts + time::Duration::seconds(duration) < now
                {
                    let rerun = Leg {
                        backend,
                        job: Job {
                            check_run_id: next_check_run_id,
                            run_attempt: 2,
                            ..leg.job
                        },
                    };
                    next_check_run_id += 1;
                    let rerun_ends = rerun_starts + time::Duration::seconds(duration);
                    let outcome = if rng.percent(75) {
                        Conclusion::Success
                    } else {
                        Conclusion::Failure
                    };
                    count(&mut report, &format!("rerun_{outcome}"));
                    report.pr_with_rerun.get_or_insert(number);
                    callbacks.push(rerun.in_progress(rerun_starts, 30.0));
                    callbacks.push(rerun.completed(&mut rng, outcome, rerun_starts, rerun_ends));
                }
            }
        }
    }
    report.pr_numbers = pr_numbers;

    // One nightly per backend, on last night's trunk commit.
    let nightly_sha = rng.hex(40);
    for (backend, repo) in &backends {
        let delivery_id =
            uuid::Uuid::from_u64_pair(rng.next_u64() ^ nonce_hi, rng.next_u64() ^ nonce_lo)
                .to_string();
        let run_id = next_run_id;
        next_run_id += 1;
        let leg = Leg {
            backend,
            job: Job {
                repo: repo.clone(),
                level: backend.level,
                trigger: Trigger::Nightly {
                    upstream: upstream.clone(),
                    head_sha: nightly_sha.clone(),
                },
                delivery_id,
                workflow: backend.nightly_workflow.to_owned(),
                job_name: "nightly (full)".to_owned(),
                run_id,
                run_attempt: 1,
                check_run_id: next_check_run_id,
            },
        };
        next_check_run_id += 1;
        let started_at =
            now - time::Duration::seconds(rng.range(12 * HOUR as u64, 20 * HOUR as u64) as i64);
        let completed_at = started_at
            + time::Duration::seconds(rng.range(3 * HOUR as u64, 6 * HOUR as u64) as i64);
        let conclusion = if rng.percent(70) {
            Conclusion::Success
        } else {
            Conclusion::Failure
        };
        count(&mut report, &format!("nightly_{conclusion}"));
        callbacks.push(leg.in_progress(started_at, 60.0));
        callbacks.push(leg.completed(&mut rng, conclusion, started_at, completed_at));
    }

    let (_, repo) = &backends[0];
    let triage = Triage {
        backend: &BACKENDS[0],
        repo,
        upstream: &upstream,
        nonce: (nonce_hi, nonce_lo),
        now,
    };
    let in_order = triage.callbacks(&mut rng, next_run_id, next_check_run_id);
    count(&mut report, "triage");
    Ok(DemoPlan {
        callbacks,
        in_order,
        report,
    })
}

/// The test-triage story: one slot of [`TRIAGE_BACKEND`] over three days, each job sent in
/// this order (contract §12):
///
/// | job | upstream | failed tests |
/// |---|---|---|
/// | nightly 1 | commit A | known, fixed |
/// | nightly 2 | commit B | known, fixed, regression |
/// | PR 1 | its head | known, new |
/// | PR 2, attempt 1 | its head | flaky |
/// | PR 2, attempt 2 | the same head | none: passed |
/// | nightly 3 (the latest) | commit C | known, regression |
/// | PR 3 | its head | flaky |
///
/// So `TEST_NEW` is new (nightly 2, its baseline, passed it), `TEST_KNOWN` known, `TEST_FIXED`
/// fixed (nightly 3 passes it), `TEST_FLAKY` new and flaky, and `TEST_REGRESSION` has the
/// regression range A...B. Every job reports counts its failed list covers, so a test it does
/// not list passed (§12.2).
struct Triage<'a> {
    backend: &'a Backend,
    repo: &'a RepoName,
    upstream: &'a RepoName,
    nonce: (u64, u64),
    now: OffsetDateTime,
}

impl Triage<'_> {
    fn callbacks(&self, rng: &mut Rng, first_run_id: u64, first_check_run_id: u64) -> Vec<Value> {
        const HOUR: i64 = 3_600;
        let nightly = |rng: &mut Rng| Trigger::Nightly {
            upstream: self.upstream.clone(),
            head_sha: rng.hex(40),
        };
        let pr = |rng: &mut Rng, index: usize| {
            let (title, branch) = PR_TITLES[index % PR_TITLES.len()];
            Trigger::PullRequest(PullRequest {
                upstream: self.upstream.clone(),
                number: TRIAGE_PRS[index],
                title: title.to_owned(),
                author: "guangyey".to_owned(),
                head_sha: rng.hex(40),
                branch: branch.to_owned(),
            })
        };
        let pr_2 = pr(rng, 1);
        // (hours ago, trigger, attempt, failed tests); attempt 2 re-runs the job before it.
        let story: Vec<(i64, Trigger, u32, &[&str])> = vec![
            (72, nightly(rng), 1, &[TEST_KNOWN, TEST_FIXED]),
            (
                48,
                nightly(rng),
                1,
                &[TEST_KNOWN, TEST_FIXED, TEST_REGRESSION],
            ),
            (36, pr(rng, 0), 1, &[TEST_KNOWN, TEST_NEW]),
            (30, pr_2.clone(), 1, &[TEST_FLAKY]),
            (29, pr_2, 2, &[]),
            (24, nightly(rng), 1, &[TEST_KNOWN, TEST_REGRESSION]),
            (6, pr(rng, 2), 1, &[TEST_FLAKY]),
        ];
        let (workflow, job_name) = TRIAGE_SLOT;
        let mut callbacks = Vec::new();
        let mut run_id = first_run_id;
        let mut delivery = 0;
        for (check_run_id, (ago, trigger, attempt, failed)) in (first_check_run_id..).zip(story) {
            if attempt == 1 {
                run_id += 1;
                delivery += 1;
            }
            // Delivery ids that grow in sending order: a job key orders jobs first seen in
            // the same second (§12.1).
            let delivery_id = uuid::Uuid::from_u64_pair(
                self.nonce.0 ^ 0x7269_6167_6500_0000,
                (self.nonce.1 & !0xffff) | delivery,
            )
            .to_string();
            let leg = Leg {
                backend: self.backend,
                job: Job {
                    repo: self.repo.clone(),
                    level: self.backend.level,
                    trigger,
                    delivery_id,
                    workflow: workflow.to_owned(),
                    job_name: job_name.to_owned(),
                    run_id,
                    run_attempt: attempt,
                    check_run_id,
                },
            };
            let started_at = self.now - time::Duration::seconds(ago * HOUR);
            let completed_at = started_at + time::Duration::seconds(rng.range(1_800, 3_600) as i64);
            let conclusion = if failed.is_empty() {
                Conclusion::Success
            } else {
                Conclusion::Failure
            };
            let failed_tests: Vec<FailedTest> = failed
                .iter()
                .map(|name| FailedTest {
                    name: (*name).to_owned(),
                    classname: TRIAGE_CLASS.to_owned(),
                    message: format!("AssertionError: Tensor-likes are not close! ({name})"),
                    stacktrace: Some(format!(
                        "Traceback (most recent call last):\n  File \"test/test_ops.py\", \
                         line 1387, in {name}\n    self.assertEqual(actual, expected)\n\
                         AssertionError: Tensor-likes are not close!"
                    )),
                    duration_s: Some(rng.range(1, 300) as f64 / 10.0),
                })
                .collect();
            let passed = rng.range(3_000, 12_000);
            let execution = (completed_at - started_at).whole_seconds() as f64;
            let mut completed = leg
                .job
                .completed(conclusion, completed_at, Some(execution))
                .with_environment((self.backend.environment)());
            if let Ok(counts) = TestCounts::new(
                passed,
                failed.len() as u64,
                0,
                Some(passed + failed.len() as u64),
            ) {
                completed = completed.with_tests(counts, failed_tests);
            }
            callbacks.push(leg.in_progress(started_at, 60.0));
            callbacks.push(completed.to_json());
        }
        callbacks
    }
}

fn count(report: &mut DemoReport, what: &str) {
    *report.jobs.entry(what.to_owned()).or_default() += 1;
}

/// How ingest answered one callback.
enum Answer {
    Accepted,
    Refused(String),
}

async fn post_one(client: &reqwest::Client, url: &str, token: &str, body: &Value) -> Answer {
    let mut tries = 0;
    loop {
        tries += 1;
        let response = match client
            .post(url)
            .header("x-hud-internal-bot", token)
            .json(body)
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => return Answer::Refused(format!("not sent: {error}")),
        };
        let status = response.status();
        if status == reqwest::StatusCode::ACCEPTED {
            return Answer::Accepted;
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        // Over the rate limit or the log busy: wait as told, as the relay would.
        if let Some(wait) = retry_after.filter(|w| *w <= MAX_RETRY_WAIT) {
            if tries < MAX_TRIES {
                tokio::time::sleep(wait.max(Duration::from_millis(200))).await;
                continue;
            }
        }
        let text = response.text().await.unwrap_or_default();
        let reason = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                let error = v.get("error")?.as_str()?.to_owned();
                let message = v.get("message").and_then(Value::as_str).unwrap_or("");
                Some(format!("{error}: {message}"))
            })
            .unwrap_or_else(|| text.chars().take(200).collect());
        return Answer::Refused(format!("{} {reason}", status.as_u16()));
    }
}

/// Sends `callbacks` to `{ingest_url}/api/oot/results`, `concurrency` at a time, and adds the
/// answers to `report`.
pub async fn send(
    ingest_url: &str,
    token: &str,
    callbacks: Vec<Value>,
    concurrency: usize,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = format!("{}/api/oot/results", ingest_url.trim_end_matches('/'));
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let token: Arc<str> = Arc::from(token);
    let url: Arc<str> = Arc::from(url);
    let mut tasks = tokio::task::JoinSet::new();
    report.sent += callbacks.len();
    for body in callbacks {
        let permit = limit.clone().acquire_owned().await?;
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        tasks.spawn(async move {
            let answer = post_one(&client, &url, &token, &body).await;
            drop(permit);
            answer
        });
    }
    while let Some(answer) = tasks.join_next().await {
        match answer {
            Ok(Answer::Accepted) => report.accepted += 1,
            Ok(Answer::Refused(reason)) => *report.refused.entry(reason).or_default() += 1,
            Err(error) => *report.refused.entry(format!("task: {error}")).or_default() += 1,
        }
    }
    Ok(())
}

/// Builds the demo for `seed` (fresh ids for this run) and sends it to ingest.
pub async fn send_demo(ingest_url: &str, token: &str, seed: u64) -> anyhow::Result<DemoReport> {
    let plan = plan(
        seed,
        uuid::Uuid::now_v7().as_u128(),
        OffsetDateTime::now_utc(),
    )?;
    let mut report = plan.report;
    send(
        ingest_url,
        token,
        plan.callbacks,
        DEFAULT_CONCURRENCY,
        &mut report,
    )
    .await?;
    send(ingest_url, token, plan.in_order, 1, &mut report).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_tells_one_story_with_fresh_ids() {
        let now = OffsetDateTime::now_utc();
        let a = plan(7, 1, now).unwrap();
        let b = plan(7, 2, now).unwrap();
        assert_eq!(a.callbacks.len(), b.callbacks.len());
        assert_eq!(a.report.jobs, b.report.jobs);
        let delivery = |v: &Value| v["untrusted"]["callback_payload"]["delivery_id"].clone();
        assert_ne!(delivery(&a.callbacks[0]), delivery(&b.callbacks[0]));
    }

    #[test]
    fn the_demo_has_every_kind_of_job() {
        let plan = plan(42, 1, OffsetDateTime::now_utc()).unwrap();
        for kind in ["success", "failure", "running", "nightly_success"] {
            assert!(
                plan.report.jobs.contains_key(kind),
                "no {kind} job: {:?}",
                plan.report.jobs
            );
        }
        assert!(plan.report.jobs.keys().any(|k| k.starts_with("rerun_")));
        assert!(plan.report.pr_with_running_job.is_some());
        assert!(plan.report.pr_with_rerun.is_some());
        // The relay's default rate limit is 600 callbacks a minute per downstream repo.
        for backend in BACKENDS {
            let sent = plan
                .callbacks
                .iter()
                .filter(|c| c["trusted"]["verified_repo"] == backend.repo)
                .count();
            assert!(sent < 600, "{}: {sent} callbacks", backend.repo);
        }
    }

    #[test]
    fn the_triage_story_is_one_slot_sent_in_job_key_order() {
        let plan = plan(42, 1, OffsetDateTime::now_utc()).unwrap();
        assert_eq!(BACKENDS[0].repo, TRIAGE_BACKEND);
        let workflow = |c: &Value| c["untrusted"]["callback_payload"]["workflow"].clone();
        let completed: Vec<Value> = plan
            .in_order
            .iter()
            .filter(|c| workflow(c)["status"] == "completed")
            .map(workflow)
            .collect();
        assert_eq!(completed.len(), 7);
        let mut keys = Vec::new();
        for callback in &plan.in_order {
            assert_eq!(callback["trusted"]["verified_repo"], TRIAGE_BACKEND);
            let w = workflow(callback);
            assert_eq!(
                (w["name"].as_str(), w["job_name"].as_str()),
                (Some(TRIAGE_SLOT.0), Some(TRIAGE_SLOT.1))
            );
            let delivery = callback["untrusted"]["callback_payload"]["delivery_id"].clone();
            keys.push(format!("{delivery}/{}", w["check_run_id"]));
        }
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "job keys grow in sending order");
        // Every completed job reports counts its failed list covers (contract §12.2).
        for w in &completed {
            let listed = w["failed_tests"].as_array().unwrap().len() as u64;
            assert_eq!(w["test_results"]["failed"].as_u64(), Some(listed), "{w}");
        }
        let failed_by = |name: &str| -> Vec<usize> {
            (0..completed.len())
                .filter(|&i| {
                    completed[i]["failed_tests"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|t| t["name"] == name)
                })
                .collect()
        };
        // Jobs: nightly 1, nightly 2, PR 1, PR 2 attempt 1, PR 2 attempt 2, nightly 3, PR 3.
        assert_eq!(failed_by(TEST_NEW), [2]);
        assert_eq!(failed_by(TEST_KNOWN), [0, 1, 2, 5]);
        assert_eq!(failed_by(TEST_FIXED), [0, 1]);
        assert_eq!(failed_by(TEST_FLAKY), [3, 6]);
        assert_eq!(failed_by(TEST_REGRESSION), [1, 5]);
        assert_eq!(completed[3]["run_id"], completed[4]["run_id"]);
        assert_eq!(completed[4]["run_attempt"], "2");
    }
}
