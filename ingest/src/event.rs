//! From a validated callback to the Avro event that goes on the log. Pure: the event id, the
//! receive time and the raw body come from the caller.
//!
//! The event keeps everything that passed validation: the normalized fields the projections use,
//! and the relay's document byte for byte (`relay_document`), so a later projection can be built
//! from the log alone, even from fields nobody reads today.

use oot_avro::{CallbackEvent, FailedTest, TestCounts, WorkflowRun};
use time::OffsetDateTime;

use crate::callback::ValidatedCallback;
use oot_contract::Timestamp;

fn micros(at: OffsetDateTime) -> i64 {
    // Validation keeps timestamps within 1970..2100, far inside i64 microseconds.
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

fn timestamp_micros(at: Option<Timestamp>) -> Option<i64> {
    at.map(|t| micros(t.get()))
}

fn count(value: u64) -> i64 {
    // Validation caps counts at 10^8.
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The event for `callback`, received at `received_at` with the request body `body`.
pub fn build_event(
    callback: &ValidatedCallback,
    event_id: uuid::Uuid,
    received_at: OffsetDateTime,
    body: &[u8],
) -> CallbackEvent {
    let workflow = callback.workflow();
    CallbackEvent {
        event_id: event_id.to_string(),
        received_at: micros(received_at),
        job_key: callback.job_key().as_str().to_owned(),
        verified_repo: callback.verified_repo().as_str().to_owned(),
        downstream_repo_level: callback.level().map(|level| level.as_str().to_owned()),
        queue_time: callback.queue_time(),
        execution_time: callback.execution_time(),
        event_type: callback.event_type().as_str().to_owned(),
        delivery_id: callback.delivery_id().as_str().to_owned(),
        upstream_repo: Some(callback.upstream_repo().as_str().to_owned()),
        pr_number: callback.pr_number().map(|pr| i64::from(pr.get())),
        head_sha: callback.head_sha().map(|sha| sha.as_str().to_owned()),
        workflow: WorkflowRun {
            schema_version: Some(workflow.schema_version().to_owned()),
            status: workflow.status().as_str().to_owned(),
            conclusion: workflow.conclusion().map(|c| c.as_str().to_owned()),
            name: workflow.name().as_str().to_owned(),
            url: workflow.url().as_str().to_owned(),
            job_name: workflow.job_name().as_str().to_owned(),
            check_run_id: workflow.check_run_id().as_str().to_owned(),
            run_id: workflow.run_id().as_str().to_owned(),
            run_attempt: i64::from(workflow.run_attempt().get()),
            started_at: timestamp_micros(workflow.started_at()),
            completed_at: timestamp_micros(workflow.completed_at()),
            test_results: workflow.test_results().map(|t| TestCounts {
                passed: count(t.passed()),
                failed: count(t.failed()),
                skipped: count(t.skipped()),
                total: t.total().map(count),
            }),
            failed_tests: workflow
                .failed_tests()
                .unwrap_or_default()
                .iter()
                .map(|t| FailedTest {
                    name: t.name().to_owned(),
                    classname: t.classname().unwrap_or_default().to_owned(),
                    message: t.message().map(str::to_owned),
                    stacktrace: t.stacktrace().map(str::to_owned),
                    duration_s: t.duration_s(),
                    message_truncated: t.message_truncated(),
                    stacktrace_truncated: t.stacktrace_truncated(),
                })
                .collect(),
            environment_json: workflow.environment().map(|env| env.to_string()),
            artifact_url: workflow.artifact_url().map(|url| url.as_str().to_owned()),
        },
        truncations: callback.truncations().to_vec(),
        // The body parsed as JSON, so it is UTF-8; lossy conversion only guards the impossible.
        relay_document: String::from_utf8_lossy(body).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callback::{validate_callback, Limits};

    const COMPLETED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/completed.json"
    ));
    const IN_PROGRESS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/in_progress.json"
    ));

    fn event_of(body: &str) -> CallbackEvent {
        let callback =
            validate_callback(body.as_bytes(), &Limits::default()).expect("fixture is valid");
        let received = OffsetDateTime::from_unix_timestamp(1_777_400_000).expect("valid time");
        build_event(&callback, uuid::Uuid::nil(), received, body.as_bytes())
    }

    #[test]
    fn completed_fixture_becomes_a_full_event() {
        let event = event_of(COMPLETED);
        assert_eq!(event.job_key, "intel/torch-xpu-ops/a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1/xpu-ci/linux-xpu / test (default, 1, 4)/28374650001");
        assert_eq!(event.received_at, 1_777_400_000_000_000);
        assert_eq!(event.pr_number, Some(179565));
        assert_eq!(event.upstream_repo.as_deref(), Some("pytorch/pytorch"));
        assert_eq!(event.workflow.status, "completed");
        assert_eq!(event.workflow.conclusion.as_deref(), Some("failure"));
        // 2026-04-28T10:45:12Z
        assert_eq!(event.workflow.completed_at, Some(1_777_373_112_000_000));
        assert_eq!(
            event.workflow.test_results.as_ref().map(|t| t.passed),
            Some(8430)
        );
        assert_eq!(event.workflow.failed_tests.len(), 2);
        assert_eq!(
            event.workflow.failed_tests[0].name,
            "test_matmul_epilogue_bf16"
        );
        let env: serde_json::Value =
            serde_json::from_str(event.workflow.environment_json.as_deref().unwrap_or("null"))
                .expect("json");
        assert_eq!(env["device"], "Intel Data Center GPU Max 1550");
        assert_eq!(
            event.relay_document, COMPLETED,
            "the relay's document is kept byte for byte"
        );
    }

    #[test]
    fn in_progress_fixture_carries_its_start_and_queue_time() {
        let event = event_of(IN_PROGRESS);
        assert_eq!(event.workflow.status, "in_progress");
        assert_eq!(event.workflow.conclusion, None);
        assert_eq!(event.queue_time, Some(12.345));
        assert_eq!(event.workflow.started_at, Some(1_777_371_330_000_000));
        assert!(event.workflow.failed_tests.is_empty());
    }

    #[test]
    fn events_round_trip_through_the_avro_codec() {
        for body in [COMPLETED, IN_PROGRESS] {
            let event = event_of(body);
            let bytes = oot_avro::encode_event(&event).expect("encodes");
            assert_eq!(oot_avro::decode_event(&bytes).expect("decodes"), event);
        }
    }
}
