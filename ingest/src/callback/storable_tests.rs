//! Tests of the rules that keep every accepted callback storable and every refusal small
//! (issue 9): bounded durations, the job key within the indexes' limit, the stored budgets of
//! the failed tests, the environment and the notes, timestamps not far ahead of receipt, and the
//! problem list bounded.

use serde_json::{json, Value};
use time::macros::datetime;
use time::OffsetDateTime;

use super::tests::{fixture, problems_of, validate, with, COMPLETED, IN_PROGRESS};
use super::*;
use oot_contract::limits::{
    MAX_INDEXED_JOB_KEY_BYTES, MAX_PROBLEMS_LISTED, MAX_PROBLEM_TEXT_BYTES,
    MAX_STORED_ENVIRONMENT_BYTES, MAX_STORED_FAILED_TESTS_BYTES, MAX_STORED_TRUNCATION_NOTES_BYTES,
};

const WF: &str = "untrusted.callback_payload.workflow";

#[track_caller]
fn accepted(doc: &Value) -> ValidatedCallback {
    match validate(doc) {
        Ok(v) => v,
        Err(e) => panic!("expected acceptance, got {:#?}", e.problems()),
    }
}

#[track_caller]
fn refused_at(doc: &Value, field: &str) -> String {
    let problems = problems_of(validate(doc));
    match problems.iter().find(|p| p.field == field) {
        Some(p) => p.message.clone(),
        None => panic!("no problem at {field}; got {problems:#?}"),
    }
}

#[test]
fn durations_beyond_ten_years_are_refused_naming_the_field() {
    // `1e200` was accepted and stopped the projector: DynamoDB refuses the number.
    for (doc, path) in [
        (IN_PROGRESS, "trusted.ci_metrics.queue_time"),
        (COMPLETED, "trusted.ci_metrics.execution_time"),
        (
            COMPLETED,
            "untrusted.callback_payload.workflow.failed_tests[0].duration_s",
        ),
    ] {
        let message = refused_at(&with(&fixture(doc), path, json!(1e200)), path);
        assert!(message.contains("at most"), "{message}");
        let ok = with(&fixture(doc), path, json!(315_000_000.0));
        accepted(&ok);
    }
}

#[test]
fn tiny_durations_are_rounded_to_the_microsecond() {
    let doc = with(
        &fixture(IN_PROGRESS),
        "trusted.ci_metrics.queue_time",
        json!(1e-200),
    );
    assert_eq!(accepted(&doc).queue_time(), Some(0.0));
    let doc = with(
        &fixture(IN_PROGRESS),
        "trusted.ci_metrics.queue_time",
        json!(0.1 + 0.2),
    );
    assert_eq!(accepted(&doc).queue_time(), Some(0.3));
}

fn with_key_parts(job_name_bytes: usize) -> Value {
    let doc = with(
        &fixture(IN_PROGRESS),
        "trusted.verified_repo",
        json!(format!("{}/{}", "o".repeat(39), "n".repeat(100))),
    );
    let doc = with(
        &doc,
        "untrusted.callback_payload.delivery_id",
        json!("d".repeat(128)),
    );
    let doc = with(&doc, &format!("{WF}.name"), json!("w".repeat(256)));
    with(
        &doc,
        &format!("{WF}.job_name"),
        json!("j".repeat(job_name_bytes)),
    )
}

#[test]
fn job_keys_over_the_index_limit_are_refused_naming_the_job_name() {
    let check_run_id_len = fixture(IN_PROGRESS)["untrusted"]["callback_payload"]["workflow"]
        ["check_run_id"]
        .as_str()
        .map_or(0, str::len);
    let besides_job_name = 140 + 128 + 256 + check_run_id_len + 4;
    let fits = accepted(&with_key_parts(
        MAX_INDEXED_JOB_KEY_BYTES - besides_job_name,
    ));
    assert_eq!(fits.job_key().as_str().len(), MAX_INDEXED_JOB_KEY_BYTES);

    let message = refused_at(
        &with_key_parts(MAX_INDEXED_JOB_KEY_BYTES - besides_job_name + 1),
        &format!("{WF}.job_name"),
    );
    assert!(
        message.contains("1024") && message.contains("refused rather than cut"),
        "{message}"
    );
}

fn failed_test_at_its_limits(i: usize) -> Value {
    // Control characters: six bytes each once stored as JSON.
    json!({
        "name": format!("test_{i}_{}", "\u{1}".repeat(600)),
        "classname": "\u{2}".repeat(600),
        "message": "\u{3}".repeat(2_000),
        "stacktrace": "\u{4}".repeat(5_000),
        "duration_s": 1e-9,
    })
}

#[test]
fn failed_tests_are_cut_to_their_stored_budget() {
    // 1,000 entries of 1,000 bytes each: a 1 MB body, some 36 MB of JSON once escaped.
    let tests: Vec<Value> = (0..1_000).map(failed_test_at_its_limits).collect();
    let v = accepted(&with(
        &fixture(COMPLETED),
        &format!("{WF}.failed_tests"),
        Value::Array(tests),
    ));
    let kept = v.workflow().failed_tests().expect("failed_tests");
    let stored = serde_json::to_string(kept).expect("serializes");
    assert!(
        stored.len() <= MAX_STORED_FAILED_TESTS_BYTES,
        "{} bytes",
        stored.len()
    );
    assert!(!kept.is_empty() && kept.len() < 1_000);
    assert_eq!(kept[0].name().len(), 512, "text is cut first, as before");
    assert_eq!(
        v.truncations()[0],
        format!(
            "{WF}.failed_tests: kept {} of 1000 entries (the list is stored in at most \
             {MAX_STORED_FAILED_TESTS_BYTES} bytes of JSON)",
            kept.len()
        ),
        "the entries dropped whole are the first note"
    );
    let notes = serde_json::to_string(v.truncations()).expect("serializes");
    assert!(notes.len() <= MAX_STORED_TRUNCATION_NOTES_BYTES);
}

#[test]
fn a_small_stored_budget_drops_entries_from_the_end() {
    let limits = Limits {
        max_stored_failed_tests_bytes: 300,
        ..Limits::default()
    };
    let tests: Vec<Value> = (0..10)
        .map(|i| json!({"name": format!("test_{i}"), "message": "m"}))
        .collect();
    let doc = with(
        &fixture(COMPLETED),
        &format!("{WF}.failed_tests"),
        Value::Array(tests),
    );
    let body = serde_json::to_vec(&doc).expect("serializes");
    let v = validate_callback(&body, &limits).expect("accepted");
    let kept = v.workflow().failed_tests().expect("failed_tests");
    let names: Vec<&str> = kept.iter().map(FailedTest::name).collect();
    assert_eq!(names, ["test_0", "test_1"]);
    assert!(serde_json::to_string(kept).expect("json").len() <= 300);
}

#[test]
fn the_environment_is_cut_to_its_stored_budget_counting_escapes() {
    // 63 entries of 512 control characters (32 KB sent, 194 KB once escaped) and a label.
    let env: serde_json::Map<String, Value> = (0..63)
        .map(|i| (format!("k{i:02}"), json!("\u{7}".repeat(512))))
        .chain([("short".to_owned(), json!("xpu"))])
        .collect();
    let v = accepted(&with(
        &fixture(COMPLETED),
        &format!("{WF}.environment"),
        Value::Object(env),
    ));
    let stored = v.workflow().environment().expect("environment").to_string();
    assert!(
        stored.len() <= MAX_STORED_ENVIRONMENT_BYTES,
        "{} bytes",
        stored.len()
    );
    let env = v
        .workflow()
        .environment()
        .and_then(Value::as_object)
        .expect("object");
    assert_eq!(env.len(), 64, "values are cut before entries are dropped");
    assert_eq!(
        env.get("short"),
        Some(&json!("xpu")),
        "short labels stay whole"
    );
    assert!(v
        .truncations()
        .iter()
        .any(|n| n.contains("environment.k00: cut from 512 to")));
}

#[test]
fn environment_keys_that_alone_do_not_fit_drop_entries() {
    let key = |i: usize| format!("{i:02}{}", "\u{8}".repeat(126));
    let env: serde_json::Map<String, Value> = (0..64).map(|i| (key(i), json!(true))).collect();
    let v = accepted(&with(
        &fixture(COMPLETED),
        &format!("{WF}.environment"),
        Value::Object(env),
    ));
    let stored = v.workflow().environment().expect("environment").to_string();
    assert!(stored.len() <= MAX_STORED_ENVIRONMENT_BYTES);
    let kept = v
        .workflow()
        .environment()
        .and_then(Value::as_object)
        .map_or(0, |e| e.len());
    assert!(kept > 0 && kept < 64, "kept {kept}");
    assert!(v.truncations().iter().any(|n| n.contains(&format!(
        "kept {kept} of 64 entries (the environment is stored in at most"
    ))));
}

#[test]
fn truncation_notes_fit_their_stored_budget() {
    // Notes name environment keys, which can be control characters (six bytes each stored).
    let env: serde_json::Map<String, Value> = (0..64)
        .map(|i| {
            (
                format!("{i:02}{}", "\u{1}".repeat(126)),
                json!("v".repeat(600)),
            )
        })
        .collect();
    let limits = Limits {
        max_stored_environment_bytes: usize::MAX,
        ..Limits::default()
    };
    let doc = with(
        &fixture(COMPLETED),
        &format!("{WF}.environment"),
        Value::Object(env),
    );
    let body = serde_json::to_vec(&doc).expect("serializes");
    let v = validate_callback(&body, &limits).expect("accepted");
    let notes = serde_json::to_string(v.truncations()).expect("serializes");
    assert!(
        notes.len() <= MAX_STORED_TRUNCATION_NOTES_BYTES,
        "{}",
        notes.len()
    );
    assert!(v
        .truncations()
        .last()
        .is_some_and(|n| n.ends_with("more cuts not listed")));
}

#[test]
fn timestamps_more_than_a_day_after_receipt_are_refused() {
    let received = datetime!(2026-04-28 11:00 UTC);
    let at = |doc: &Value| {
        let body = serde_json::to_vec(doc).expect("serializes");
        validate_callback_at(&body, &Limits::default(), received)
    };
    // The fixture completed at 10:45; an hour ahead of the receiver's clock is skew.
    let skewed = with(
        &fixture(COMPLETED),
        &format!("{WF}.completed_at"),
        json!("2026-04-28T12:00:00Z"),
    );
    assert!(at(&skewed).is_ok());
    let far = with(
        &fixture(COMPLETED),
        &format!("{WF}.completed_at"),
        json!("2099-01-01T00:00:00Z"),
    );
    let problems = problems_of(at(&far));
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].field, format!("{WF}.completed_at"));
    assert!(problems[0]
        .message
        .contains("24 hours after ingest received"));
    let far_start = with(
        &fixture(IN_PROGRESS),
        &format!("{WF}.started_at"),
        json!("2026-04-30T11:00:01Z"),
    );
    assert_eq!(
        problems_of(at(&far_start))[0].field,
        format!("{WF}.started_at")
    );
    // `validate_callback` judges against the system clock.
    let tomorrow_plus = OffsetDateTime::now_utc() + time::Duration::days(2);
    let doc = with(
        &fixture(IN_PROGRESS),
        &format!("{WF}.started_at"),
        json!(tomorrow_plus
            .format(&time::format_description::well_known::Rfc3339)
            .expect("formats")),
    );
    assert!(validate(&doc).is_err());
}

#[test]
fn a_million_bad_entries_get_a_small_answer_with_the_count() {
    let numbers = format!("[{}]", vec!["1"; 1_000_000].join(","));
    let body = serde_json::to_string(&fixture(COMPLETED))
        .expect("serializes")
        .replacen(
            "\"failed_tests\":[",
            &format!("\"failed_tests\":{numbers},\"x\":["),
            1,
        );
    let err = validate_callback(body.as_bytes(), &Limits::default()).expect_err("refused");
    assert_eq!(err.problems().len(), MAX_PROBLEMS_LISTED);
    assert_eq!(err.problems_total(), 1_000_000);
    let answer = err.to_json().to_string();
    assert!(answer.len() < 16 * 1024, "{} bytes", answer.len());
    assert_eq!(err.to_json()["problems_total"], 1_000_000);
    assert!(
        err.to_string().len() < 16 * 1024,
        "the log line is bounded too"
    );
    assert!(err
        .to_string()
        .ends_with("and 999950 more problems not listed"));
}

#[test]
fn problem_texts_are_bounded() {
    let key = "k".repeat(100_000);
    let doc = with(
        &fixture(COMPLETED),
        &format!("{WF}.environment"),
        json!({ key: "v" }),
    );
    let problems = problems_of(validate(&doc));
    assert_eq!(problems.len(), 1);
    assert!(problems[0].field.len() <= MAX_PROBLEM_TEXT_BYTES);
    assert!(problems[0].field.ends_with('…'));
    let stamp = "9".repeat(100_000);
    let doc = with(
        &fixture(COMPLETED),
        &format!("{WF}.completed_at"),
        json!(stamp),
    );
    let message = refused_at(&doc, &format!("{WF}.completed_at"));
    assert!(message.len() <= MAX_PROBLEM_TEXT_BYTES);
}
