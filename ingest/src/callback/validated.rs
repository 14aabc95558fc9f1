//! The result of validation: one callback whose every field has passed its rule, with free
//! text already cut to the limits. Read-only: fields are private to the `callback` module and
//! exposed through accessors, so nothing outside can build an unchecked one.
//!
//! `Option` means "not sent" (or sent as null) wherever the contract makes a field optional:
//! the merge rules need to tell "did not report" apart from "reported empty", so that an
//! `in_progress` callback never clears what a `completed` one set.

use serde_json::Value;

use oot_contract::{
    CommitSha, Conclusion, DeliveryId, EventType, HttpsUrl, JobKey, JobName, NumericId, PrNumber,
    RepoLevel, RepoName, RunAttempt, Status, TestCounts, Timestamp, WorkflowName,
};

/// One validated relay callback.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedCallback {
    pub(super) job_key: JobKey,
    pub(super) verified_repo: RepoName,
    pub(super) level: Option<RepoLevel>,
    pub(super) queue_time: Option<f64>,
    pub(super) execution_time: Option<f64>,
    pub(super) event_type: EventType,
    pub(super) delivery_id: DeliveryId,
    pub(super) upstream_repo: RepoName,
    pub(super) pr_number: Option<PrNumber>,
    pub(super) head_sha: Option<CommitSha>,
    pub(super) workflow: Workflow,
    pub(super) truncations: Vec<String>,
    pub(super) original: Value,
}

impl ValidatedCallback {
    /// `{verified_repo}/{delivery_id}/{workflow.name}/{workflow.job_name}/{check_run_id}`.
    pub fn job_key(&self) -> &JobKey {
        &self.job_key
    }

    /// `trusted.verified_repo`: the downstream repo, as the relay verified it.
    pub fn verified_repo(&self) -> &RepoName {
        &self.verified_repo
    }

    /// `trusted.downstream_repo_level`, when sent.
    pub fn level(&self) -> Option<RepoLevel> {
        self.level
    }

    /// `trusted.ci_metrics.queue_time` in seconds (0 ..= ten years, to the microsecond); known
    /// only at `in_progress`.
    pub fn queue_time(&self) -> Option<f64> {
        self.queue_time
    }

    /// `trusted.ci_metrics.execution_time` in seconds (0 ..= ten years, to the microsecond);
    /// known only at `completed`.
    pub fn execution_time(&self) -> Option<f64> {
        self.execution_time
    }

    /// `untrusted.callback_payload.event_type`, `pull_request` when not sent.
    pub fn event_type(&self) -> &EventType {
        &self.event_type
    }

    pub fn delivery_id(&self) -> &DeliveryId {
        &self.delivery_id
    }

    /// `payload.repository.full_name`: the upstream repo (e.g. `pytorch/pytorch`).
    pub fn upstream_repo(&self) -> &RepoName {
        &self.upstream_repo
    }

    /// The upstream PR: always present for `pull_request` events, when sent for others.
    pub fn pr_number(&self) -> Option<PrNumber> {
        self.pr_number
    }

    /// The upstream commit the job tested: always present for `pull_request`, `push`,
    /// `nightly` and `periodic` events, when sent for others.
    pub fn head_sha(&self) -> Option<&CommitSha> {
        self.head_sha.as_ref()
    }

    pub fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    /// What was cut, one human-readable line each (empty when nothing was).
    pub fn truncations(&self) -> &[String] {
        &self.truncations
    }

    /// `untrusted.callback_payload.payload`, the whole upstream webhook, as sent. Always an
    /// object in practice (the upstream repo inside it is required); `Option` only because it
    /// is looked up in [`Self::original`].
    pub fn payload(&self) -> Option<&Value> {
        self.original.pointer("/untrusted/callback_payload/payload")
    }

    /// The whole parsed request document, unmodified: unknown fields included and nothing cut.
    /// This is "the relay's original document" the event log keeps; mind that its
    /// `failed_tests` are not bounded by [`super::Limits`].
    pub fn original(&self) -> &Value {
        &self.original
    }

    /// Takes the original document out without copying it.
    pub fn into_original(self) -> Value {
        self.original
    }
}

/// `untrusted.callback_payload.workflow`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub(super) schema_version: String,
    pub(super) status: Status,
    pub(super) conclusion: Option<Conclusion>,
    pub(super) name: WorkflowName,
    pub(super) url: HttpsUrl,
    pub(super) job_name: JobName,
    pub(super) check_run_id: NumericId,
    pub(super) run_id: NumericId,
    pub(super) run_attempt: RunAttempt,
    pub(super) started_at: Option<Timestamp>,
    pub(super) completed_at: Option<Timestamp>,
    pub(super) test_results: Option<TestCounts>,
    pub(super) failed_tests: Option<Vec<FailedTest>>,
    pub(super) environment: Option<Value>,
    pub(super) artifact_url: Option<HttpsUrl>,
}

impl Workflow {
    /// As sent (cut to a few bytes), `"1"` when not sent. Not interpreted.
    pub fn schema_version(&self) -> &str {
        &self.schema_version
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// Always `Some` on `completed`, always `None` on `in_progress`.
    pub fn conclusion(&self) -> Option<Conclusion> {
        self.conclusion
    }

    pub fn name(&self) -> &WorkflowName {
        &self.name
    }

    /// The workflow run's page.
    pub fn url(&self) -> &HttpsUrl {
        &self.url
    }

    pub fn job_name(&self) -> &JobName {
        &self.job_name
    }

    pub fn check_run_id(&self) -> &NumericId {
        &self.check_run_id
    }

    pub fn run_id(&self) -> &NumericId {
        &self.run_id
    }

    pub fn run_attempt(&self) -> &RunAttempt {
        &self.run_attempt
    }

    /// Always `Some` on `in_progress`; on `completed` when the reporter sent it.
    pub fn started_at(&self) -> Option<Timestamp> {
        self.started_at
    }

    /// Always `Some` on `completed`, always `None` on `in_progress`; never before
    /// `started_at`.
    pub fn completed_at(&self) -> Option<Timestamp> {
        self.completed_at
    }

    pub fn test_results(&self) -> Option<&TestCounts> {
        self.test_results.as_ref()
    }

    /// At most `Limits::max_failed_tests` entries, in the order sent, whose JSON text fits
    /// `Limits::max_stored_failed_tests_bytes`. `Some(&[])` when an
    /// empty list was sent, `None` when none was.
    pub fn failed_tests(&self) -> Option<&[FailedTest]> {
        self.failed_tests.as_deref()
    }

    /// A JSON object of labels (string, number, boolean or null values; strings cut), at most
    /// `Limits::max_environment_entries` entries; its compact JSON text fits
    /// `Limits::max_stored_environment_bytes`.
    pub fn environment(&self) -> Option<&Value> {
        self.environment.as_ref()
    }

    pub fn artifact_url(&self) -> Option<&HttpsUrl> {
        self.artifact_url.as_ref()
    }
}

/// One entry of `failed_tests`, with its free text cut to the limits. Serializes (serde) to
/// `{"name", "classname", "message", "stacktrace", "duration_s", "message_truncated",
/// "stacktrace_truncated"}`, the shape meant for `failed_tests_json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FailedTest {
    pub(super) name: String,
    pub(super) classname: Option<String>,
    pub(super) message: Option<String>,
    pub(super) stacktrace: Option<String>,
    pub(super) duration_s: Option<f64>,
    pub(super) message_truncated: bool,
    pub(super) stacktrace_truncated: bool,
}

impl FailedTest {
    /// Never empty; cut to `Limits::max_test_name_bytes`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Cut to `Limits::max_test_name_bytes`.
    pub fn classname(&self) -> Option<&str> {
        self.classname.as_deref()
    }

    /// Cut to `Limits::max_message_bytes` (see `message_truncated`).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Cut to `Limits::max_stacktrace_bytes` (see `stacktrace_truncated`).
    pub fn stacktrace(&self) -> Option<&str> {
        self.stacktrace.as_deref()
    }

    /// 0 ..= ten years, to the microsecond.
    pub fn duration_s(&self) -> Option<f64> {
        self.duration_s
    }

    pub fn message_truncated(&self) -> bool {
        self.message_truncated
    }

    pub fn stacktrace_truncated(&self) -> bool {
        self.stacktrace_truncated
    }
}
