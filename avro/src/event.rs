//! The Rust shape of the current event schema (`schemas/callback_event.v1.avsc`), field for field;
//! the `.avsc` docs are the reference for each field's meaning.
//!
//! Timestamps are `i64` microseconds since the Unix epoch (UTC), the Avro `timestamp-micros`
//! representation, so no date library leaks into this crate's API. Counts and ids that the schema
//! declares `long` are `i64`.

use serde::{Deserialize, Serialize};

/// One accepted callback, as written to the event log (Avro record `dev.oothud.CallbackEvent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackEvent {
    /// UUID (hyphenated text) that ingest assigned to this callback.
    pub event_id: String,
    /// When ingest received the request, µs since the Unix epoch.
    pub received_at: i64,
    /// `{verified_repo}/{delivery_id}/{workflow.name}/{workflow.job_name}/{check_run_id}`; also
    /// the Kafka message key.
    pub job_key: String,
    /// Trusted: downstream repo (owner/name) from the relay-verified OIDC claim.
    pub verified_repo: String,
    /// Trusted: allowlist level `L1`..`L4`.
    pub downstream_repo_level: Option<String>,
    /// Trusted: seconds queued (in_progress callbacks).
    pub queue_time: Option<f64>,
    /// Trusted: seconds executing (completed callbacks).
    pub execution_time: Option<f64>,
    /// `pull_request`, `push`, `nightly`, `periodic`, ...
    pub event_type: String,
    /// Upstream webhook delivery id.
    pub delivery_id: String,
    /// Upstream repo (owner/name), `payload.repository.full_name`.
    pub upstream_repo: Option<String>,
    /// Upstream PR number.
    pub pr_number: Option<i64>,
    /// Upstream commit under test.
    pub head_sha: Option<String>,
    /// The validated workflow section.
    pub workflow: WorkflowRun,
    /// Notes of what validation cut, e.g. `failed_tests: kept 1000 of 1523`.
    pub truncations: Vec<String>,
    /// The request body exactly as received (UTF-8 JSON).
    pub relay_document: String,
}

/// The downstream job's self-reported state (Avro record `dev.oothud.WorkflowRun`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRun {
    /// Callback workflow format version declared by the downstream, e.g. `"1"`.
    pub schema_version: Option<String>,
    /// `"in_progress"` or `"completed"`.
    pub status: String,
    /// GitHub conclusion; `Some` only when completed.
    pub conclusion: Option<String>,
    /// Workflow name.
    pub name: String,
    /// https URL of the workflow run.
    pub url: String,
    /// Job name, unique per matrix leg.
    pub job_name: String,
    /// Check run id (decimal text).
    pub check_run_id: String,
    /// Workflow run id (decimal text).
    pub run_id: String,
    /// Positive run attempt.
    pub run_attempt: i64,
    /// Start time, µs since the Unix epoch (in_progress callbacks).
    pub started_at: Option<i64>,
    /// End time, µs since the Unix epoch (completed callbacks).
    pub completed_at: Option<i64>,
    /// Aggregate test counts, when reported.
    pub test_results: Option<TestCounts>,
    /// At most 1000 failed tests.
    pub failed_tests: Vec<FailedTest>,
    /// The `environment` object as compact JSON text.
    pub environment_json: Option<String>,
    /// https URL of the artifacts.
    pub artifact_url: Option<String>,
}

/// Aggregate test counts of one job (Avro record `dev.oothud.TestCounts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCounts {
    /// Tests that passed.
    pub passed: i64,
    /// Tests that failed.
    pub failed: i64,
    /// Tests that were skipped.
    pub skipped: i64,
    /// Total as reported; `None` when the job sent none.
    pub total: Option<i64>,
}

/// One failed test case (Avro record `dev.oothud.FailedTest`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedTest {
    /// Test name.
    pub name: String,
    /// Test class or module.
    pub classname: String,
    /// Failure message, at most 1 KiB.
    pub message: Option<String>,
    /// Stack trace, at most 4 KiB.
    pub stacktrace: Option<String>,
    /// Duration in seconds.
    pub duration_s: Option<f64>,
    /// Whether `message` was cut.
    pub message_truncated: bool,
    /// Whether `stacktrace` was cut.
    pub stacktrace_truncated: bool,
}
