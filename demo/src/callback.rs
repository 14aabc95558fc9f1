//! The one place that builds relay callbacks (`{trusted, untrusted}` JSON documents, as in
//! `docs/contract.md`) from the contract's values: the demo stream, the end-to-end tests and
//! the ingest benchmark all build theirs here.
//!
//! A [`Job`] is what a job's two callbacks share (who ran it, what triggered it, its ids);
//! [`Job::in_progress`] and [`Job::completed`] make its [`Callback`]s, which [`Callback::to_json`]
//! renders. [`sample`] rebuilds the contract's sample callbacks (`tests/fixtures/*.json`) value
//! for value, so a test can start from a known-good callback and change only what it is about.

use oot_contract::{
    Conclusion, DeliveryId, InvalidValue, JobKey, JobName, NumericId, RepoLevel, RepoName, Status,
    TestCounts, WorkflowName,
};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// What triggered the downstream run: the upstream event the relay forwarded.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// A push to an upstream pull request (`event_type` `pull_request`).
    PullRequest(PullRequest),
    /// A scheduled run on an upstream commit (`event_type` `nightly`).
    Nightly {
        upstream: RepoName,
        head_sha: String,
    },
}

/// The upstream pull request of a `pull_request` trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRequest {
    pub upstream: RepoName,
    pub number: u64,
    pub title: String,
    pub author: String,
    pub head_sha: String,
    pub branch: String,
}

impl Trigger {
    /// The callback's `event_type`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::PullRequest(_) => "pull_request",
            Self::Nightly { .. } => "nightly",
        }
    }

    /// The upstream event's payload, as GitHub sends it (the parts the contract reads).
    pub fn payload(&self) -> Value {
        match self {
            Self::PullRequest(pr) => json!({
                "action": "synchronize",
                "number": pr.number,
                "pull_request": {
                    "number": pr.number,
                    "title": pr.title,
                    "user": {"login": pr.author},
                    "head": {"sha": pr.head_sha, "ref": pr.branch},
                    "base": {"ref": "main"},
                    "labels": [{"name": "ciflow/trunk"}],
                },
                "repository": {"full_name": pr.upstream.as_str()},
            }),
            Self::Nightly { upstream, head_sha } => json!({
                "repository": {"full_name": upstream.as_str()},
                "head_sha": head_sha,
            }),
        }
    }
}

/// One downstream job attempt: what its two callbacks share.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The downstream repo, as the relay verified it.
    pub repo: RepoName,
    pub level: RepoLevel,
    pub trigger: Trigger,
    pub delivery_id: String,
    pub workflow: String,
    pub job_name: String,
    pub run_id: u64,
    pub run_attempt: u32,
    pub check_run_id: u64,
}

impl Job {
    /// The workflow run's page on GitHub.
    pub fn run_url(&self) -> String {
        format!(
            "https://github.com/{}/actions/runs/{}",
            self.repo, self.run_id
        )
    }

    /// The URL of artifact `artifact` of the run.
    pub fn artifact_url(&self, artifact: u64) -> String {
        format!("{}/artifacts/{artifact}", self.run_url())
    }

    /// The job key ingest derives from this job's callbacks (refused if a part is not valid).
    pub fn key(&self) -> Result<JobKey, InvalidValue> {
        Ok(JobKey::new(
            &self.repo,
            &DeliveryId::parse(&self.delivery_id)?,
            &WorkflowName::parse(&self.workflow)?,
            &JobName::parse(&self.job_name)?,
            &NumericId::parse(&self.check_run_id.to_string())?,
        ))
    }

    /// The callback sent when the job starts.
    pub fn in_progress(&self, started_at: OffsetDateTime, queue_time: f64) -> Callback {
        Callback {
            job: self.clone(),
            status: Status::InProgress,
            conclusion: None,
            started_at: Some(started_at),
            completed_at: None,
            queue_time: Some(queue_time),
            execution_time: None,
            test_results: None,
            failed_tests: None,
            environment: None,
            artifact_url: None,
        }
    }

    /// The callback sent when the job ends; no test results, environment or artifact yet.
    pub fn completed(
        &self,
        conclusion: Conclusion,
        completed_at: OffsetDateTime,
        execution_time: Option<f64>,
    ) -> Callback {
        Callback {
            job: self.clone(),
            status: Status::Completed,
            conclusion: Some(conclusion),
            started_at: None,
            completed_at: Some(completed_at),
            queue_time: None,
            execution_time,
            test_results: None,
            failed_tests: None,
            environment: None,
            artifact_url: None,
        }
    }
}

/// One failed test of a completed job.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedTest {
    pub name: String,
    pub classname: String,
    pub message: String,
    pub stacktrace: Option<String>,
    pub duration_s: Option<f64>,
}

impl FailedTest {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "classname": self.classname,
            "message": self.message,
            "stacktrace": self.stacktrace,
            "duration_s": self.duration_s,
        })
    }
}

/// One callback of a [`Job`]. The optional parts (`None`) are left out of the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Callback {
    pub job: Job,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    pub started_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
    pub queue_time: Option<f64>,
    pub execution_time: Option<f64>,
    pub test_results: Option<TestCounts>,
    pub failed_tests: Option<Vec<FailedTest>>,
    pub environment: Option<Value>,
    pub artifact_url: Option<String>,
}

fn rfc3339(at: Option<OffsetDateTime>) -> Value {
    at.and_then(|at| at.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}

impl Callback {
    /// With test counts and the failed tests (`[]` for none).
    pub fn with_tests(self, counts: TestCounts, failed: Vec<FailedTest>) -> Self {
        Self {
            test_results: Some(counts),
            failed_tests: Some(failed),
            ..self
        }
    }

    /// With the environment the job reports (device, driver, ...).
    pub fn with_environment(self, environment: Value) -> Self {
        Self {
            environment: Some(environment),
            ..self
        }
    }

    /// With an artifact URL.
    pub fn with_artifact_url(self, url: String) -> Self {
        Self {
            artifact_url: Some(url),
            ..self
        }
    }

    /// The callback as the relay sends it.
    pub fn to_json(&self) -> Value {
        let job = &self.job;
        let mut workflow = Map::new();
        let mut put = |key: &str, value: Value| {
            workflow.insert(key.to_owned(), value);
        };
        put("schema_version", json!("1"));
        put("status", json!(self.status.as_str()));
        put("conclusion", json!(self.conclusion.map(|c| c.as_str())));
        put("name", json!(job.workflow));
        put("url", json!(job.run_url()));
        put("job_name", json!(job.job_name));
        put("check_run_id", json!(job.check_run_id.to_string()));
        put("run_id", json!(job.run_id.to_string()));
        put("run_attempt", json!(job.run_attempt.to_string()));
        put("started_at", rfc3339(self.started_at));
        put("completed_at", rfc3339(self.completed_at));
        if let Some(counts) = &self.test_results {
            let mut results = json!({
                "passed": counts.passed(),
                "failed": counts.failed(),
                "skipped": counts.skipped(),
            });
            if let Some(total) = counts.total() {
                results["total"] = json!(total);
            }
            put("test_results", results);
        }
        if let Some(failed) = &self.failed_tests {
            put(
                "failed_tests",
                Value::Array(failed.iter().map(FailedTest::to_json).collect()),
            );
        }
        if let Some(environment) = &self.environment {
            put("environment", environment.clone());
        }
        if let Some(url) = &self.artifact_url {
            put("artifact_url", json!(url));
        }
        json!({
            "trusted": {
                "verified_repo": job.repo.as_str(),
                "downstream_repo_level": job.level.as_str(),
                "ci_metrics": {
                    "queue_time": self.queue_time,
                    "execution_time": self.execution_time,
                },
            },
            "untrusted": {
                "callback_payload": {
                    "event_type": job.trigger.event_type(),
                    "delivery_id": job.delivery_id,
                    "payload": job.trigger.payload(),
                    "workflow": Value::Object(workflow),
                }
            }
        })
    }
}

/// The contract's sample callbacks (`tests/fixtures/*.json`), value for value: one job of
/// `intel/torch-xpu-ops` on upstream PR 179565 (running, then failed with two tests), and one
/// nightly. Tests start from these and change what they are about.
pub mod sample {
    use super::*;
    use time::macros::datetime;

    /// A literal of this module; the samples are fixed, valid values.
    fn repo(name: &str) -> RepoName {
        RepoName::parse(name).unwrap_or_else(|e| panic!("sample repo {name}: {e}"))
    }

    fn counts(passed: u64, failed: u64, skipped: u64, total: Option<u64>) -> TestCounts {
        TestCounts::new(passed, failed, skipped, total)
            .unwrap_or_else(|e| panic!("sample test counts: {e}"))
    }

    pub const REPO: &str = "intel/torch-xpu-ops";
    pub const UPSTREAM_REPO: &str = "pytorch/pytorch";
    pub const PR_NUMBER: u64 = 179_565;

    /// `intel/torch-xpu-ops`'s test environment in the samples.
    pub fn environment() -> Value {
        json!({"device": "Intel Data Center GPU Max 1550", "driver": "1.3.29735",
               "oneapi": "2025.1", "python": "3.12"})
    }

    /// The samples' upstream pull request.
    pub fn pull_request() -> PullRequest {
        PullRequest {
            upstream: repo(UPSTREAM_REPO),
            number: PR_NUMBER,
            title: "[inductor] fuse pointwise epilogues into matmul templates".to_owned(),
            author: "someone".to_owned(),
            head_sha: "3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b7c8d9e0f".to_owned(),
            branch: "fuse-epilogue".to_owned(),
        }
    }

    /// The job of `in_progress.json` and `completed.json`.
    pub fn job() -> Job {
        Job {
            repo: repo(REPO),
            level: RepoLevel::L2,
            trigger: Trigger::PullRequest(pull_request()),
            delivery_id: "a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1".to_owned(),
            workflow: "xpu-ci".to_owned(),
            job_name: "linux-xpu / test (default, 1, 4)".to_owned(),
            run_id: 9_876_543_210,
            run_attempt: 1,
            check_run_id: 28_374_650_001,
        }
    }

    /// The job of `nightly_completed.json`.
    pub fn nightly_job() -> Job {
        let sha = "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0";
        Job {
            trigger: Trigger::Nightly {
                upstream: repo(UPSTREAM_REPO),
                head_sha: sha.to_owned(),
            },
            delivery_id: sha.to_owned(),
            workflow: "xpu-nightly".to_owned(),
            job_name: "linux-xpu / nightly (full)".to_owned(),
            run_id: 9_876_549_999,
            check_run_id: 28_374_659_999,
            ..job()
        }
    }

    /// The two failed tests of `completed.json`.
    pub fn failed_tests() -> Vec<FailedTest> {
        vec![
            FailedTest {
                name: "test_matmul_epilogue_bf16".to_owned(),
                classname: "test.inductor.test_fused_attention.TestFusion".to_owned(),
                message: "AssertionError: Tensor-likes are not close! Mismatched elements: 3 / 4096"
                    .to_owned(),
                stacktrace: Some(
                    "Traceback (most recent call last):\n  File \"test/inductor/test_fused_attention.py\", \
                     line 812, in test_matmul_epilogue_bf16\n    self.assertEqual(out, ref)\n\
                     AssertionError: Tensor-likes are not close!"
                        .to_owned(),
                ),
                duration_s: Some(4.2),
            },
            FailedTest {
                name: "test_conv_backward_channels_last".to_owned(),
                classname: "test.test_nn.TestConvolutionNNDeviceTypeXPU".to_owned(),
                message: "RuntimeError: UR error".to_owned(),
                stacktrace: Some("RuntimeError: UR error\n  at level_zero/adapter.cpp:221".to_owned()),
                duration_s: Some(0.8),
            },
        ]
    }

    /// `in_progress.json`.
    pub fn in_progress() -> Callback {
        job().in_progress(datetime!(2026-04-28 10:15:30 UTC), 12.345)
    }

    /// `completed.json`: failed, two failed tests.
    pub fn completed() -> Callback {
        let job = job();
        let artifact = job.artifact_url(3_141_592_653);
        job.completed(
            Conclusion::Failure,
            datetime!(2026-04-28 10:45:12 UTC),
            Some(1782.0),
        )
        .with_tests(counts(8430, 2, 20, Some(8452)), failed_tests())
        .with_environment(environment())
        .with_artifact_url(artifact)
    }

    /// `nightly_completed.json`: passed, counts without a total.
    pub fn nightly_completed() -> Callback {
        Callback {
            started_at: Some(datetime!(2026-04-29 02:00:00 UTC)),
            ..nightly_job().completed(
                Conclusion::Success,
                datetime!(2026-04-29 05:12:40 UTC),
                Some(11560.0),
            )
        }
        .with_tests(counts(51_234, 0, 812, None), Vec::new())
        .with_environment(environment())
    }

    /// Test counts of a job that passed `passed` tests (none failed or skipped).
    pub fn all_passed(passed: u64) -> TestCounts {
        counts(passed, 0, 0, Some(passed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_samples_are_the_contracts_sample_callbacks() {
        assert_eq!(sample::in_progress().to_json(), fixture("in_progress.json"));
        assert_eq!(sample::completed().to_json(), fixture("completed.json"));
        assert_eq!(
            sample::nightly_completed().to_json(),
            fixture("nightly_completed.json")
        );
    }

    #[test]
    fn the_job_key_is_the_one_ingest_derives() {
        assert_eq!(
            sample::job().key().unwrap().as_str(),
            "intel/torch-xpu-ops/a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1/xpu-ci/\
             linux-xpu / test (default, 1, 4)/28374650001"
        );
    }
}
