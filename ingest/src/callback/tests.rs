//! Example-based tests of `validate_callback`: the contract's fixtures, one named refusal per
//! rule (each asserting the offending field's path), and the cuts.

use serde_json::{json, Value};

use super::*;
use oot_contract::*;

pub(super) const IN_PROGRESS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/in_progress.json"
));
pub(super) const COMPLETED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/completed.json"
));
pub(super) const NIGHTLY: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/nightly_completed.json"
));

const WF: &str = "untrusted.callback_payload.workflow";
const CP: &str = "untrusted.callback_payload";

pub(super) fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

pub(super) fn validate(doc: &Value) -> Result<ValidatedCallback, ValidationError> {
    let body = serde_json::to_vec(doc).expect("serializable");
    validate_callback(&body, &Limits::default())
}

/// `a.b[2].c` -> `/a/b/2/c` (test paths never contain `.`, `[` or `/` inside keys).
pub(super) fn pointer(path: &str) -> String {
    format!("/{}", path.replace(['.', '['], "/").replace(']', ""))
}

fn split_last(path: &str) -> (String, String) {
    let p = pointer(path);
    let at = p.rfind('/').expect("pointer has a slash");
    (p[..at].to_owned(), p[at + 1..].to_owned())
}

/// `doc` with the field at `path` set to `value` (its parent must exist).
pub(super) fn with(doc: &Value, path: &str, value: Value) -> Value {
    let mut doc = doc.clone();
    let (parent, last) = split_last(path);
    match doc.pointer_mut(&parent).expect("parent exists") {
        Value::Object(map) => {
            map.insert(last, value);
        }
        Value::Array(items) => {
            let i: usize = last.parse().expect("array index");
            items[i] = value;
        }
        other => panic!("parent of {path} is {other}"),
    }
    doc
}

/// `doc` without the field at `path`.
pub(super) fn without(doc: &Value, path: &str) -> Value {
    let mut doc = doc.clone();
    let (parent, last) = split_last(path);
    if let Some(Value::Object(map)) = doc.pointer_mut(&parent) {
        map.remove(&last);
    }
    doc
}

pub(super) fn problems_of(result: Result<ValidatedCallback, ValidationError>) -> Vec<Problem> {
    match result {
        Ok(v) => panic!("expected a refusal, got {:?}", v.job_key()),
        Err(e) => e.problems(),
    }
}

/// Asserts the document is refused with a problem at `field`; returns that problem's message.
#[track_caller]
fn refused_at(doc: &Value, field: &str) -> String {
    let problems = problems_of(validate(doc));
    match problems.iter().find(|p| p.field == field) {
        Some(p) => p.message.clone(),
        None => panic!("no problem at {field}; got {problems:#?}"),
    }
}

fn accepted(doc: &Value) -> ValidatedCallback {
    match validate(doc) {
        Ok(v) => v,
        Err(e) => panic!("expected acceptance, got {:#?}", e.problems()),
    }
}

// ---------------------------------------------------------------- fixtures and acceptance

#[test]
fn in_progress_fixture_is_accepted() {
    let v = accepted(&fixture(IN_PROGRESS));
    assert_eq!(v.verified_repo().as_str(), "intel/torch-xpu-ops");
    assert_eq!(v.level(), Some(RepoLevel::L2));
    assert_eq!(v.queue_time(), Some(12.345));
    assert_eq!(v.execution_time(), None);
    assert_eq!(v.event_type().as_str(), "pull_request");
    assert_eq!(
        v.delivery_id().as_str(),
        "a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1"
    );
    assert_eq!(v.upstream_repo().as_str(), "pytorch/pytorch");
    assert_eq!(v.pr_number().map(|n| n.get()), Some(179565));
    assert_eq!(
        v.head_sha().map(CommitSha::as_str),
        Some("3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b7c8d9e0f")
    );
    let w = v.workflow();
    assert_eq!(w.schema_version(), "1");
    assert_eq!(w.status(), Status::InProgress);
    assert_eq!(w.conclusion(), None);
    assert_eq!(w.name().as_str(), "xpu-ci");
    assert_eq!(
        w.url().as_str(),
        "https://github.com/intel/torch-xpu-ops/actions/runs/9876543210"
    );
    assert_eq!(w.job_name().as_str(), "linux-xpu / test (default, 1, 4)");
    assert_eq!(w.check_run_id().get(), 28374650001);
    assert_eq!(w.run_id().as_str(), "9876543210");
    assert_eq!(w.run_attempt().get(), 1);
    assert_eq!(
        w.started_at().map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-04-28T10:15:30Z")
    );
    assert_eq!(w.completed_at(), None);
    assert_eq!(w.test_results(), None);
    assert_eq!(w.failed_tests(), None);
    assert_eq!(w.environment(), None);
    assert_eq!(w.artifact_url(), None);
    assert!(v.truncations().is_empty());
    assert_eq!(
        v.payload()
            .and_then(|p| p.pointer("/pull_request/title"))
            .and_then(Value::as_str),
        Some("[inductor] fuse pointwise epilogues into matmul templates")
    );
}

#[test]
fn completed_fixture_is_accepted() {
    let v = accepted(&fixture(COMPLETED));
    assert_eq!(v.queue_time(), None);
    assert_eq!(v.execution_time(), Some(1782.0));
    let w = v.workflow();
    assert_eq!(w.status(), Status::Completed);
    assert_eq!(w.conclusion(), Some(Conclusion::Failure));
    assert_eq!(w.started_at(), None);
    assert_eq!(
        w.completed_at().map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-04-28T10:45:12Z")
    );
    let counts = w.test_results().expect("test_results");
    assert_eq!(
        (
            counts.passed(),
            counts.failed(),
            counts.skipped(),
            counts.total()
        ),
        (8430, 2, 20, Some(8452))
    );
    let failed = w.failed_tests().expect("failed_tests");
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].name(), "test_matmul_epilogue_bf16");
    assert_eq!(
        failed[0].classname(),
        Some("test.inductor.test_fused_attention.TestFusion")
    );
    assert_eq!(failed[0].duration_s(), Some(4.2));
    assert!(!failed[0].message_truncated() && !failed[0].stacktrace_truncated());
    assert_eq!(
        w.environment()
            .and_then(|e| e.get("device"))
            .and_then(Value::as_str),
        Some("Intel Data Center GPU Max 1550")
    );
    assert_eq!(
        w.artifact_url().map(HttpsUrl::as_str),
        Some("https://github.com/intel/torch-xpu-ops/actions/runs/9876543210/artifacts/3141592653")
    );
    assert!(v.truncations().is_empty());
    assert_eq!(v.original(), &fixture(COMPLETED));
}

#[test]
fn nightly_fixture_is_accepted() {
    let v = accepted(&fixture(NIGHTLY));
    assert_eq!(v.event_type().as_str(), "nightly");
    assert_eq!(v.event_type().kind(), EventKind::Nightly);
    assert_eq!(v.pr_number(), None);
    assert_eq!(
        v.head_sha().map(CommitSha::as_str),
        Some("b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0")
    );
    let w = v.workflow();
    assert_eq!(w.conclusion(), Some(Conclusion::Success));
    assert!(w.started_at().is_some() && w.completed_at().is_some());
    let counts = w.test_results().expect("test_results");
    assert_eq!(counts.total(), None);
    assert_eq!(counts.total_or_sum(), 51234 + 812);
    assert_eq!(w.failed_tests().map(<[FailedTest]>::len), Some(0));
}

#[test]
fn job_key_has_the_exact_reference_format() {
    let expected = [
        (
            IN_PROGRESS,
            "intel/torch-xpu-ops/a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1/xpu-ci/\
             linux-xpu / test (default, 1, 4)/28374650001",
        ),
        (
            COMPLETED,
            "intel/torch-xpu-ops/a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1/xpu-ci/\
             linux-xpu / test (default, 1, 4)/28374650001",
        ),
        (
            NIGHTLY,
            "intel/torch-xpu-ops/b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0/xpu-nightly/\
             linux-xpu / nightly (full)/28374659999",
        ),
    ];
    for (text, key) in expected {
        let v = accepted(&fixture(text));
        assert_eq!(v.job_key().as_str(), key);
        // Built from the validated parts, so it also equals the format applied to them.
        let w = v.workflow();
        assert_eq!(
            v.job_key().to_string(),
            format!(
                "{}/{}/{}/{}/{}",
                v.verified_repo(),
                v.delivery_id(),
                w.name(),
                w.job_name(),
                w.check_run_id()
            )
        );
    }
    // Both callbacks of one job share the key.
    assert_eq!(
        accepted(&fixture(IN_PROGRESS)).job_key(),
        accepted(&fixture(COMPLETED)).job_key()
    );
}

#[test]
fn event_type_defaults_to_pull_request() {
    let doc = without(&fixture(IN_PROGRESS), &format!("{CP}.event_type"));
    assert_eq!(accepted(&doc).event_type().as_str(), "pull_request");
    let doc = with(
        &fixture(IN_PROGRESS),
        &format!("{CP}.event_type"),
        Value::Null,
    );
    assert_eq!(accepted(&doc).event_type().as_str(), "pull_request");
}

#[test]
fn optional_fields_may_be_absent_or_null() {
    let mut doc = fixture(COMPLETED);
    for path in [
        "trusted.downstream_repo_level",
        "trusted.ci_metrics",
        &format!("{WF}.schema_version"),
        &format!("{WF}.test_results"),
        &format!("{WF}.failed_tests"),
        &format!("{WF}.environment"),
        &format!("{WF}.artifact_url"),
    ] {
        accepted(&with(&doc, path, Value::Null));
        doc = without(&doc, path);
    }
    let v = accepted(&doc);
    assert_eq!(v.level(), None);
    assert_eq!(v.workflow().schema_version(), "1");
    assert_eq!(v.workflow().failed_tests(), None);
}

#[test]
fn unknown_fields_are_accepted_and_carried_uninterpreted() {
    let mut doc = fixture(COMPLETED);
    doc = with(&doc, "relay_version", json!("2.1"));
    doc = with(&doc, "trusted.oidc_subject", json!({"sub": "repo:intel/x"}));
    doc = with(&doc, &format!("{CP}.extra"), json!([1, 2, 3]));
    doc = with(&doc, &format!("{WF}.runner"), json!({"os": "linux"}));
    doc = with(&doc, &format!("{WF}.failed_tests[0].retries"), json!(3));
    doc = with(&doc, &format!("{WF}.test_results.xfailed"), json!(7));
    let v = accepted(&doc);
    assert_eq!(v.original().pointer("/relay_version"), Some(&json!("2.1")));
    assert_eq!(
        v.original()
            .pointer("/untrusted/callback_payload/workflow/runner/os"),
        Some(&json!("linux"))
    );
}

#[test]
fn pr_number_may_come_from_payload_number_alone() {
    let doc = without(
        &fixture(IN_PROGRESS),
        &format!("{CP}.payload.pull_request.number"),
    );
    assert_eq!(accepted(&doc).pr_number().map(|n| n.get()), Some(179565));
}

#[test]
fn head_sha_for_pull_request_may_come_from_payload_head_sha() {
    let doc = without(
        &fixture(IN_PROGRESS),
        &format!("{CP}.payload.pull_request.head"),
    );
    let doc = with(
        &doc,
        &format!("{CP}.payload.head_sha"),
        json!("A".repeat(40)),
    );
    assert_eq!(
        accepted(&doc).head_sha().map(CommitSha::as_str),
        Some("a".repeat(40).as_str())
    );
}

#[test]
fn push_events_take_the_head_sha_from_after() {
    let doc = with(
        &fixture(NIGHTLY),
        &format!("{CP}.event_type"),
        json!("push"),
    );
    let doc = without(&doc, &format!("{CP}.payload.head_sha"));
    let doc = with(&doc, &format!("{CP}.payload.after"), json!("c".repeat(40)));
    let v = accepted(&doc);
    assert_eq!(v.event_type().kind(), EventKind::Push);
    assert_eq!(
        v.head_sha().map(CommitSha::as_str),
        Some("c".repeat(40).as_str())
    );
}

#[test]
fn unknown_event_types_need_no_pr_or_commit() {
    let doc = with(
        &fixture(NIGHTLY),
        &format!("{CP}.event_type"),
        json!("workflow_dispatch"),
    );
    let doc = without(&doc, &format!("{CP}.payload.head_sha"));
    let v = accepted(&doc);
    assert_eq!(v.event_type().kind(), EventKind::Other);
    assert_eq!(v.head_sha(), None);
}

#[test]
fn completed_at_equal_to_started_at_is_accepted() {
    let doc = with(
        &fixture(NIGHTLY),
        &format!("{WF}.completed_at"),
        json!("2026-04-29T04:00:00+02:00"),
    );
    let v = accepted(&doc);
    assert_eq!(v.workflow().started_at(), v.workflow().completed_at());
}

// ---------------------------------------------------------------- refusals, one per rule

#[test]
fn body_that_is_not_json_is_refused_with_line_and_column() {
    let err =
        validate_callback(b"{\n  \"trusted\": ", &Limits::default()).expect_err("truncated JSON");
    let ValidationError::NotJson { line, column, .. } = &err else {
        panic!("expected NotJson, got {err:?}");
    };
    assert_eq!((*line, *column), (2, 13));
    assert_eq!(err.code(), "invalid_json");
    let body = err.to_json();
    assert_eq!(body["error"], "invalid_json");
    assert_eq!(body["line"], 2);
    assert_eq!(body["problems"][0]["field"], "$");
    for bad in [
        &b""[..],
        b"not json",
        b"{} trailing",
        b"{\"a\":\xff}",
        b"\xef\xbb\xbf{}",
    ] {
        assert!(matches!(
            validate_callback(bad, &Limits::default()),
            Err(ValidationError::NotJson { .. })
        ));
    }
}

#[test]
fn body_that_is_not_an_object_is_refused() {
    for (body, found) in [
        ("[]", "an array"),
        ("\"x\"", "a string"),
        ("1", "a number"),
        ("null", "null"),
    ] {
        let err = validate_callback(body.as_bytes(), &Limits::default()).expect_err("refused");
        assert_eq!(err, ValidationError::NotAnObject { found });
        assert_eq!(err.to_json()["error"], "validation_failed");
        assert_eq!(err.to_json()["problems"][0]["field"], "$");
    }
}

#[test]
fn validation_error_renders_as_the_400_body() {
    let doc = without(&fixture(IN_PROGRESS), "trusted.verified_repo");
    let doc = with(&doc, &format!("{WF}.run_attempt"), json!("0"));
    let err = validate(&doc).expect_err("refused");
    assert_eq!(
        err.to_json(),
        json!({
            "error": "validation_failed",
            "problems": [
                {"field": "trusted.verified_repo", "message": "is required"},
                {"field": "untrusted.callback_payload.workflow.run_attempt",
                 "message": "must be positive, got \"0\""},
            ],
            // Added with issue 9: the count of every problem, listed or not.
            "problems_total": 2
        })
    );
    assert_eq!(
        serde_json::to_value(&err).expect("serializes"),
        err.to_json()
    );
    assert!(err
        .to_string()
        .contains("trusted.verified_repo: is required"));
}

#[test]
fn missing_top_level_objects_are_refused() {
    let doc = fixture(IN_PROGRESS);
    for path in ["trusted", "untrusted", CP, WF] {
        assert_eq!(refused_at(&without(&doc, path), path), "is required");
    }
    // A missing parent is one problem, not one per child.
    assert_eq!(problems_of(validate(&without(&doc, "untrusted"))).len(), 1);
}

#[test]
fn every_missing_required_field_is_reported_at_once() {
    let fields = [
        "status",
        "name",
        "url",
        "job_name",
        "check_run_id",
        "run_id",
        "run_attempt",
    ];
    let mut doc = without(&fixture(COMPLETED), "trusted.verified_repo");
    doc = without(&doc, &format!("{CP}.delivery_id"));
    for f in fields {
        doc = without(&doc, &format!("{WF}.{f}"));
    }
    let problems = problems_of(validate(&doc));
    let mut expected = vec![
        "trusted.verified_repo".to_owned(),
        format!("{CP}.delivery_id"),
    ];
    expected.extend(fields.iter().map(|f| format!("{WF}.{f}")));
    for path in &expected {
        assert!(
            problems
                .iter()
                .any(|p| &p.field == path && p.message == "is required"),
            "{path} missing from {problems:#?}"
        );
    }
}

#[test]
fn wrong_types_are_refused() {
    let doc = fixture(COMPLETED);
    for (path, value, expected) in [
        ("trusted", json!("x"), "expected an object, got a string"),
        (
            "trusted.verified_repo",
            json!(1),
            "expected a string, got a number",
        ),
        (
            "trusted.ci_metrics",
            json!([]),
            "expected an object, got an array",
        ),
        (CP, json!(true), "expected an object, got a boolean"),
        (WF, json!([]), "expected an object, got an array"),
        (
            &format!("{WF}.run_attempt"),
            json!(1),
            "expected a string, got a number",
        ),
        (
            &format!("{WF}.check_run_id"),
            json!(28374650001u64),
            "expected a string, got a number",
        ),
        (
            &format!("{WF}.schema_version"),
            json!(1),
            "expected a string, got a number",
        ),
        (
            &format!("{WF}.test_results"),
            json!("8430"),
            "expected an object, got a string",
        ),
        (
            &format!("{WF}.failed_tests"),
            json!({}),
            "expected an array, got an object",
        ),
        (
            &format!("{WF}.environment"),
            json!("x"),
            "expected an object, got a string",
        ),
        (
            &format!("{CP}.payload"),
            json!("x"),
            "expected an object, got a string",
        ),
    ] {
        assert_eq!(
            refused_at(&with(&doc, path, value), path),
            expected,
            "{path}"
        );
    }
}

#[test]
fn verified_repo_must_be_owner_slash_name() {
    for bad in ["intel", "intel/torch/xpu", "-intel/x", "intel/x y", ""] {
        let doc = with(&fixture(IN_PROGRESS), "trusted.verified_repo", json!(bad));
        refused_at(&doc, "trusted.verified_repo");
    }
}

#[test]
fn upstream_full_name_must_be_owner_slash_name() {
    let path = format!("{CP}.payload.repository.full_name");
    refused_at(&with(&fixture(IN_PROGRESS), &path, json!("pytorch")), &path);
}

#[test]
fn upstream_repo_is_required() {
    let path = format!("{CP}.payload.repository.full_name");
    let message = refused_at(&without(&fixture(IN_PROGRESS), &path), &path);
    assert!(message.contains("upstream repo"), "{message}");
    // Also when the whole payload is missing: the field is still named in full.
    refused_at(
        &without(&fixture(IN_PROGRESS), &format!("{CP}.payload")),
        &path,
    );
    refused_at(
        &with(
            &fixture(IN_PROGRESS),
            &format!("{CP}.payload.repository"),
            json!("x"),
        ),
        &format!("{CP}.payload.repository"),
    );
}

#[test]
fn downstream_repo_level_must_be_l1_to_l4() {
    for bad in ["L0", "L5", "l2", "2", ""] {
        let doc = with(
            &fixture(IN_PROGRESS),
            "trusted.downstream_repo_level",
            json!(bad),
        );
        refused_at(&doc, "trusted.downstream_repo_level");
    }
}

#[test]
fn ci_metrics_must_be_non_negative_seconds() {
    let doc = with(
        &fixture(IN_PROGRESS),
        "trusted.ci_metrics.queue_time",
        json!(-1.5),
    );
    refused_at(&doc, "trusted.ci_metrics.queue_time");
    let doc = with(
        &fixture(IN_PROGRESS),
        "trusted.ci_metrics.execution_time",
        json!("12"),
    );
    refused_at(&doc, "trusted.ci_metrics.execution_time");
}

#[test]
fn delivery_id_must_be_a_key_safe_token() {
    let path = format!("{CP}.delivery_id");
    for bad in ["", "a/b", "a b", &"x".repeat(129)] {
        refused_at(&with(&fixture(IN_PROGRESS), &path, json!(bad)), &path);
    }
}

#[test]
fn event_type_must_look_like_an_event_name() {
    let path = format!("{CP}.event_type");
    for bad in ["", "pull request", "pull_request\n", &"e".repeat(65)] {
        refused_at(&with(&fixture(IN_PROGRESS), &path, json!(bad)), &path);
    }
    refused_at(&with(&fixture(IN_PROGRESS), &path, json!(1)), &path);
}

#[test]
fn status_must_be_in_progress_or_completed() {
    let path = format!("{WF}.status");
    for bad in ["queued", "COMPLETED", ""] {
        refused_at(&with(&fixture(COMPLETED), &path, json!(bad)), &path);
    }
}

#[test]
fn conclusion_is_required_on_completed() {
    let path = format!("{WF}.conclusion");
    let message = refused_at(&without(&fixture(COMPLETED), &path), &path);
    assert_eq!(message, "is required when status is \"completed\"");
    refused_at(&with(&fixture(COMPLETED), &path, Value::Null), &path);
}

#[test]
fn conclusion_must_be_a_github_conclusion() {
    let path = format!("{WF}.conclusion");
    for bad in ["passed", "Success", "error"] {
        refused_at(&with(&fixture(COMPLETED), &path, json!(bad)), &path);
    }
}

#[test]
fn conclusion_must_be_null_on_in_progress() {
    let path = format!("{WF}.conclusion");
    let message = refused_at(&with(&fixture(IN_PROGRESS), &path, json!("success")), &path);
    assert!(message.contains("in_progress"), "{message}");
}

#[test]
fn completed_at_is_required_on_completed() {
    let path = format!("{WF}.completed_at");
    refused_at(&without(&fixture(COMPLETED), &path), &path);
}

#[test]
fn completed_at_must_be_null_on_in_progress() {
    let path = format!("{WF}.completed_at");
    let doc = with(&fixture(IN_PROGRESS), &path, json!("2026-04-28T10:45:12Z"));
    refused_at(&doc, &path);
}

#[test]
fn started_at_is_required_on_in_progress() {
    let path = format!("{WF}.started_at");
    let message = refused_at(&without(&fixture(IN_PROGRESS), &path), &path);
    assert_eq!(message, "is required when status is \"in_progress\"");
}

#[test]
fn timestamps_must_be_rfc3339() {
    for (text, field) in [
        (IN_PROGRESS, "started_at"),
        (COMPLETED, "completed_at"),
        (NIGHTLY, "started_at"),
    ] {
        let path = format!("{WF}.{field}");
        for bad in [
            "2026-04-28 10:15:30",
            "2026-04-28T10:15:30",
            "yesterday",
            "1714300000",
        ] {
            refused_at(&with(&fixture(text), &path, json!(bad)), &path);
        }
        refused_at(&with(&fixture(text), &path, json!(1714300000)), &path);
    }
}

#[test]
fn completed_at_must_not_precede_started_at() {
    let path = format!("{WF}.completed_at");
    let doc = with(&fixture(NIGHTLY), &path, json!("2026-04-29T01:59:59Z"));
    let message = refused_at(&doc, &path);
    assert!(message.contains("before started_at"), "{message}");
}

#[test]
fn url_must_be_absolute_https() {
    let path = format!("{WF}.url");
    for bad in [
        "http://github.com/intel/torch-xpu-ops/actions/runs/1",
        "javascript:alert(1)",
        "/intel/torch-xpu-ops/actions/runs/1",
        "github.com/intel",
        "",
    ] {
        refused_at(&with(&fixture(IN_PROGRESS), &path, json!(bad)), &path);
    }
}

#[test]
fn artifact_url_must_be_absolute_https() {
    let path = format!("{WF}.artifact_url");
    for bad in ["http://example.com/a", "data:text/html,hi", "artifacts/1"] {
        refused_at(&with(&fixture(COMPLETED), &path, json!(bad)), &path);
    }
}

#[test]
fn run_attempt_must_be_a_positive_integer_string() {
    let path = format!("{WF}.run_attempt");
    for bad in ["0", "-1", "01", "1.5", "one", "", "4294967296"] {
        refused_at(&with(&fixture(IN_PROGRESS), &path, json!(bad)), &path);
    }
    let v = accepted(&with(&fixture(IN_PROGRESS), &path, json!("3")));
    assert_eq!(v.workflow().run_attempt().get(), 3);
}

#[test]
fn check_run_id_and_run_id_must_be_numeric_ids() {
    for field in ["check_run_id", "run_id"] {
        let path = format!("{WF}.{field}");
        for bad in ["", "abc", "0", "012", "1/2"] {
            refused_at(&with(&fixture(IN_PROGRESS), &path, json!(bad)), &path);
        }
    }
}

#[test]
fn workflow_and_job_names_over_their_cap_are_refused_not_cut() {
    let path = format!("{WF}.job_name");
    let doc = with(&fixture(IN_PROGRESS), &path, json!("j".repeat(513)));
    let message = refused_at(&doc, &path);
    assert!(message.contains("job key"), "{message}");
    accepted(&with(&fixture(IN_PROGRESS), &path, json!("j".repeat(512))));
    let path = format!("{WF}.name");
    refused_at(
        &with(&fixture(IN_PROGRESS), &path, json!("w".repeat(257))),
        &path,
    );
}

#[test]
fn key_names_must_not_be_blank_or_contain_control_characters() {
    for field in ["name", "job_name"] {
        let path = format!("{WF}.{field}");
        for bad in ["", "  ", "a\nb", "a\u{0}b"] {
            refused_at(&with(&fixture(IN_PROGRESS), &path, json!(bad)), &path);
        }
    }
}

#[test]
fn test_counts_must_not_be_negative() {
    for field in ["passed", "failed", "skipped", "total"] {
        let path = format!("{WF}.test_results.{field}");
        let message = refused_at(&with(&fixture(COMPLETED), &path, json!(-1)), &path);
        assert!(message.contains("negative"), "{message}");
    }
}

#[test]
fn test_counts_over_ten_to_the_eighth_are_refused() {
    let path = format!("{WF}.test_results.passed");
    refused_at(&with(&fixture(COMPLETED), &path, json!(100_000_001)), &path);
    refused_at(&with(&fixture(COMPLETED), &path, json!(1e300)), &path);
    accepted(&with(&fixture(COMPLETED), &path, json!(100_000_000)));
}

#[test]
fn test_counts_must_be_integers() {
    let path = format!("{WF}.test_results.failed");
    for bad in [json!(2.5), json!(2.0), json!("2"), json!(true)] {
        refused_at(&with(&fixture(COMPLETED), &path, bad), &path);
    }
}

#[test]
fn test_results_need_passed_failed_and_skipped() {
    for field in ["passed", "failed", "skipped"] {
        let path = format!("{WF}.test_results.{field}");
        refused_at(&without(&fixture(COMPLETED), &path), &path);
    }
}

#[test]
fn pull_request_events_must_name_their_pr() {
    let doc = without(
        &fixture(IN_PROGRESS),
        &format!("{CP}.payload.pull_request.number"),
    );
    let doc = without(&doc, &format!("{CP}.payload.number"));
    refused_at(&doc, &format!("{CP}.payload.pull_request.number"));
}

#[test]
fn pr_numbers_must_agree_and_be_positive() {
    let doc = with(
        &fixture(IN_PROGRESS),
        &format!("{CP}.payload.number"),
        json!(1),
    );
    refused_at(&doc, &format!("{CP}.payload.number"));
    let path = format!("{CP}.payload.pull_request.number");
    for bad in [
        json!(0),
        json!(-5),
        json!("179565"),
        json!(1.5),
        json!(4_294_967_296u64),
    ] {
        refused_at(&with(&fixture(IN_PROGRESS), &path, bad), &path);
    }
}

#[test]
fn pull_request_events_must_name_their_head_commit() {
    let path = format!("{CP}.payload.pull_request.head.sha");
    refused_at(&without(&fixture(IN_PROGRESS), &path), &path);
    refused_at(&with(&fixture(IN_PROGRESS), &path, json!("abc")), &path);
}

#[test]
fn nightly_events_must_name_their_head_commit() {
    let path = format!("{CP}.payload.head_sha");
    let message = refused_at(&without(&fixture(NIGHTLY), &path), &path);
    assert!(message.contains("nightly"), "{message}");
    refused_at(
        &with(&fixture(NIGHTLY), &path, json!("z".repeat(40))),
        &path,
    );
}

#[test]
fn failed_test_entries_must_be_well_formed() {
    let ft = format!("{WF}.failed_tests");
    let doc = fixture(COMPLETED);
    refused_at(
        &with(&doc, &format!("{ft}[0]"), json!("x")),
        &format!("{ft}[0]"),
    );
    refused_at(
        &without(&doc, &format!("{ft}[1].name")),
        &format!("{ft}[1].name"),
    );
    refused_at(
        &with(&doc, &format!("{ft}[1].name"), json!("")),
        &format!("{ft}[1].name"),
    );
    for (field, value) in [
        ("classname", json!(5)),
        ("message", json!(["a"])),
        ("stacktrace", json!({})),
        ("duration_s", json!(-0.5)),
        ("duration_s", json!("1s")),
    ] {
        let path = format!("{ft}[0].{field}");
        refused_at(&with(&doc, &path, value), &path);
    }
}

#[test]
fn failed_tests_past_the_keep_limit_are_still_checked() {
    let limits = Limits {
        max_failed_tests: 1,
        ..Limits::default()
    };
    let path = format!("{WF}.failed_tests[1].duration_s");
    let doc = with(&fixture(COMPLETED), &path, json!(-1));
    let body = serde_json::to_vec(&doc).expect("serializable");
    let problems = problems_of(validate_callback(&body, &limits));
    assert!(problems.iter().any(|p| p.field == path), "{problems:#?}");
}

#[test]
fn environment_must_be_a_flat_map_of_labels() {
    let env = format!("{WF}.environment");
    let doc = fixture(COMPLETED);
    refused_at(
        &with(&doc, &format!("{env}.nested"), json!({"a": 1})),
        &format!("{env}.nested"),
    );
    refused_at(
        &with(&doc, &format!("{env}.list"), json!([1])),
        &format!("{env}.list"),
    );
    let long_key = "k".repeat(129);
    refused_at(
        &with(&doc, &format!("{env}.{long_key}"), json!("v")),
        &format!("{env}.{long_key}"),
    );
    let v = accepted(&with(&doc, &format!("{env}.cores"), json!(64)));
    assert_eq!(
        v.workflow().environment().and_then(|e| e.get("cores")),
        Some(&json!(64))
    );
}

// ---------------------------------------------------------------- cuts

fn failed_test(i: usize) -> Value {
    json!({"name": format!("test_{i}"), "classname": "C", "message": "m", "duration_s": 0.1})
}

#[test]
fn failed_tests_over_the_limit_are_dropped_and_reported() {
    let tests: Vec<Value> = (0..1523).map(failed_test).collect();
    let doc = with(
        &fixture(COMPLETED),
        &format!("{WF}.failed_tests"),
        Value::Array(tests),
    );
    let v = accepted(&doc);
    let kept = v.workflow().failed_tests().expect("failed_tests");
    assert_eq!(kept.len(), 1000);
    assert_eq!(kept[999].name(), "test_999");
    assert_eq!(
        v.truncations(),
        [format!("{WF}.failed_tests: kept 1000 of 1523 entries")]
    );
}

#[test]
fn message_is_cut_to_1_kib_on_a_char_boundary() {
    // 1023 ASCII bytes then a 2-byte char straddling the limit: the char goes entirely.
    let message = format!("{}é tail", "a".repeat(1023));
    let path = format!("{WF}.failed_tests[0].message");
    let v = accepted(&with(&fixture(COMPLETED), &path, json!(message)));
    let t = &v.workflow().failed_tests().expect("failed_tests")[0];
    assert_eq!(t.message(), Some("a".repeat(1023).as_str()));
    assert!(t.message_truncated());
    assert!(!t.stacktrace_truncated());
    assert_eq!(
        v.truncations(),
        [format!(
            "{path}: cut from {} to 1023 bytes (limit 1024)",
            message.len()
        )]
    );
}

#[test]
fn stacktrace_is_cut_to_4_kib_on_a_char_boundary() {
    // 4 KiB of 3-byte chars: 4096 is not a multiple of 3, so the cut lands at 4095.
    let stack = "€".repeat(2000);
    let path = format!("{WF}.failed_tests[1].stacktrace");
    let v = accepted(&with(&fixture(COMPLETED), &path, json!(stack)));
    let t = &v.workflow().failed_tests().expect("failed_tests")[1];
    let kept = t.stacktrace().expect("stacktrace");
    assert_eq!(kept.len(), 4095);
    assert!(kept.chars().all(|c| c == '€'));
    assert!(t.stacktrace_truncated());
    assert!(!t.message_truncated());
}

#[test]
fn text_at_exactly_the_limit_is_not_cut() {
    let path = format!("{WF}.failed_tests[0].message");
    let v = accepted(&with(&fixture(COMPLETED), &path, json!("🦀".repeat(256))));
    let t = &v.workflow().failed_tests().expect("failed_tests")[0];
    assert_eq!(t.message().map(str::len), Some(1024));
    assert!(!t.message_truncated());
    assert!(v.truncations().is_empty());
}

#[test]
fn test_names_and_environment_values_are_cut() {
    let doc = with(
        &fixture(COMPLETED),
        &format!("{WF}.failed_tests[0].name"),
        json!("n".repeat(600)),
    );
    let doc = with(
        &doc,
        &format!("{WF}.failed_tests[0].classname"),
        json!("c".repeat(600)),
    );
    let doc = with(
        &doc,
        &format!("{WF}.environment.driver"),
        json!("ü".repeat(300)),
    );
    let v = accepted(&doc);
    let t = &v.workflow().failed_tests().expect("failed_tests")[0];
    assert_eq!(t.name().len(), 512);
    assert_eq!(t.classname().map(str::len), Some(512));
    let driver = v.workflow().environment().and_then(|e| e.get("driver"));
    assert_eq!(driver.and_then(Value::as_str).map(str::len), Some(512));
    assert_eq!(v.truncations().len(), 3);
}

#[test]
fn environment_over_the_entry_limit_is_cut() {
    let entries: serde_json::Map<String, Value> =
        (0..70).map(|i| (format!("k{i:02}"), json!(i))).collect();
    let doc = with(
        &fixture(COMPLETED),
        &format!("{WF}.environment"),
        Value::Object(entries),
    );
    let v = accepted(&doc);
    let env = v
        .workflow()
        .environment()
        .and_then(Value::as_object)
        .expect("object");
    assert_eq!(env.len(), 64);
    assert_eq!(
        v.truncations(),
        [format!("{WF}.environment: kept 64 of 70 entries")]
    );
}

#[test]
fn truncation_notes_are_bounded() {
    // 120 rather than 300 entries since issue 9: 300 cut entries (~1.2 KB of JSON each) no
    // longer fit the stored failed-tests budget, and the notes of dropped entries are not kept.
    let tests: Vec<Value> = (0..120)
        .map(|i| json!({"name": format!("t{i}"), "message": "x".repeat(2000)}))
        .collect();
    let doc = with(
        &fixture(COMPLETED),
        &format!("{WF}.failed_tests"),
        Value::Array(tests),
    );
    let v = accepted(&doc);
    assert_eq!(v.truncations().len(), 101);
    assert_eq!(
        v.truncations().last().map(String::as_str),
        Some("... and 20 more cuts not listed")
    );
    assert!(v
        .workflow()
        .failed_tests()
        .expect("failed_tests")
        .iter()
        .all(FailedTest::message_truncated));
}

#[test]
fn failed_tests_serialize_for_failed_tests_json() {
    let v = accepted(&fixture(COMPLETED));
    let json = serde_json::to_value(v.workflow().failed_tests()).expect("serializes");
    assert_eq!(json[1]["name"], "test_conv_backward_channels_last");
    assert_eq!(json[1]["message_truncated"], false);
}
