//! Property tests of `validate_callback`: it never panics on any input, every refusal names a
//! field, mutations of a valid fixture are refused under the mutated field's path, and
//! generated valid callbacks are accepted with the exact job key.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::tests::{
    fixture, pointer, problems_of, validate, with, without, COMPLETED, IN_PROGRESS, NIGHTLY,
};
use super::*;
use oot_contract::*;

const CP: &str = "untrusted.callback_payload";
const WF: &str = "untrusted.callback_payload.workflow";

/// Keys that steer generated documents into the validator's interesting paths.
fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "trusted", "untrusted", "callback_payload", "workflow", "payload", "verified_repo",
            "status", "conclusion", "started_at", "completed_at", "failed_tests",
            "test_results", "environment", "run_attempt", "repository", "full_name",
            "pull_request", "number", "head", "sha", "head_sha", "event_type", "delivery_id",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z_]{0,10}",
        1 => any::<String>(),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        prop::sample::select(vec![
            "in_progress",
            "completed",
            "success",
            "L2",
            "1",
            "0",
            "-1",
            "intel/torch-xpu-ops",
            "https://github.com/a/b",
            "2026-04-28T10:15:30Z",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((arb_key(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Every refusal is a well-formed 400 body naming at least one field.
fn check_refusal(err: &ValidationError) -> Result<(), TestCaseError> {
    let body = err.to_json();
    prop_assert!(body["error"].is_string());
    let problems = body["problems"].as_array().cloned().unwrap_or_default();
    prop_assert!(!problems.is_empty());
    for p in problems {
        prop_assert!(p["field"].as_str().is_some_and(|f| !f.is_empty()));
        prop_assert!(p["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    Ok(())
}

/// What every accepted callback guarantees, whatever it was built from.
fn check_accepted(v: &ValidatedCallback) -> Result<(), TestCaseError> {
    let w = v.workflow();
    prop_assert_eq!(
        v.job_key().as_str(),
        format!(
            "{}/{}/{}/{}/{}",
            v.verified_repo(),
            v.delivery_id(),
            w.name(),
            w.job_name(),
            w.check_run_id()
        )
    );
    match w.status() {
        Status::InProgress => {
            prop_assert!(w.conclusion().is_none());
            prop_assert!(w.started_at().is_some());
            prop_assert!(w.completed_at().is_none());
        }
        Status::Completed => {
            prop_assert!(w.conclusion().is_some());
            prop_assert!(w.completed_at().is_some());
        }
    }
    if let (Some(s), Some(c)) = (w.started_at(), w.completed_at()) {
        prop_assert!(s <= c);
    }
    if v.event_type().kind() == EventKind::PullRequest {
        prop_assert!(v.pr_number().is_some());
        prop_assert!(v.head_sha().is_some());
    }
    for t in w.failed_tests().unwrap_or_default() {
        prop_assert!(t.message().map_or(0, str::len) <= 1024);
        prop_assert!(t.stacktrace().map_or(0, str::len) <= 4096);
    }
    prop_assert!(w.failed_tests().map_or(0, <[FailedTest]>::len) <= 1000);
    Ok(())
}

fn check_outcome(result: &Result<ValidatedCallback, ValidationError>) -> Result<(), TestCaseError> {
    match result {
        Ok(v) => check_accepted(v),
        Err(e) => check_refusal(e),
    }
}

fn arb_fixture() -> impl Strategy<Value = (&'static str, Value)> {
    prop::sample::select(vec![
        ("in_progress", IN_PROGRESS),
        ("completed", COMPLETED),
        ("nightly", NIGHTLY),
    ])
    .prop_map(|(name, text)| (name, fixture(text)))
}

/// Fields whose absence must be refused, for a fixture of the given name.
fn required_paths(name: &str) -> Vec<String> {
    let mut paths: Vec<String> = vec![
        "trusted".into(),
        "trusted.verified_repo".into(),
        "untrusted".into(),
        CP.into(),
        format!("{CP}.delivery_id"),
        format!("{CP}.payload.repository.full_name"),
        WF.into(),
    ];
    for f in [
        "status",
        "name",
        "url",
        "job_name",
        "check_run_id",
        "run_id",
        "run_attempt",
    ] {
        paths.push(format!("{WF}.{f}"));
    }
    match name {
        "in_progress" => {
            paths.push(format!("{WF}.started_at"));
            paths.push(format!("{CP}.payload.pull_request.head.sha"));
        }
        "completed" => {
            paths.push(format!("{WF}.conclusion"));
            paths.push(format!("{WF}.completed_at"));
            paths.push(format!("{WF}.test_results.passed"));
            paths.push(format!("{WF}.failed_tests[0].name"));
        }
        _ => {
            paths.push(format!("{WF}.conclusion"));
            paths.push(format!("{WF}.completed_at"));
            paths.push(format!("{CP}.payload.head_sha"));
        }
    }
    paths
}

/// Every path present in `doc`, objects and leaves alike.
fn all_paths(doc: &Value, prefix: &str, out: &mut Vec<String>) {
    match doc {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(path.clone());
                all_paths(v, &path, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let path = format!("{prefix}[{i}]");
                out.push(path.clone());
                all_paths(v, &path, out);
            }
        }
        _ => {}
    }
}

/// A value of another JSON type than `original` (null counts: it reads as absent).
fn other_type(original: &Value) -> impl Strategy<Value = Value> {
    let kind = std::mem::discriminant(original);
    arb_json().prop_filter("a different JSON type", move |v| {
        std::mem::discriminant(v) != kind
            // Integers and floats share a JSON type but the count fields want integers; keep
            // the mutation unambiguous.
            && !(v.is_number() && kind == std::mem::discriminant(&json!(0)))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let result = validate_callback(&body, &Limits::default());
        check_outcome(&result)?;
    }

    #[test]
    fn arbitrary_json_never_panics(doc in arb_json()) {
        let body = serde_json::to_vec(&doc).expect("serializable");
        let result = validate_callback(&body, &Limits::default());
        if !doc.is_object() {
            let is_not_an_object = matches!(result, Err(ValidationError::NotAnObject { .. }));
            prop_assert!(is_not_an_object);
        }
        check_outcome(&result)?;
    }

    #[test]
    fn arbitrary_json_anywhere_in_a_fixture_never_panics(
        (doc, path) in arb_fixture().prop_flat_map(|(_, doc)| {
            let mut paths = Vec::new();
            all_paths(&doc, "", &mut paths);
            (Just(doc), prop::sample::select(paths))
        }),
        value in arb_json(),
    ) {
        check_outcome(&validate(&with(&doc, &path, value)))?;
    }

    #[test]
    fn removing_a_required_field_is_refused_naming_it(
        (doc, path, as_null) in arb_fixture().prop_flat_map(|(name, doc)| {
            (Just(doc), prop::sample::select(required_paths(name)), any::<bool>())
        }),
    ) {
        prop_assume!(doc.pointer(&pointer(&path)).is_some());
        let mutated = if as_null { with(&doc, &path, Value::Null) } else { without(&doc, &path) };
        let problems = problems_of(validate(&mutated));
        prop_assert!(
            problems.iter().any(|p| p.field == path),
            "no problem at {} in {:?}", path, problems
        );
    }

    #[test]
    fn changing_a_required_fields_type_is_refused_naming_it(
        (doc, path, value) in arb_fixture().prop_flat_map(|(name, doc)| {
            (Just(doc), prop::sample::select(required_paths(name)))
        }).prop_flat_map(|(doc, path)| {
            let original = doc.pointer(&pointer(&path)).cloned().unwrap_or(Value::Null);
            (Just(doc), Just(path), other_type(&original))
        }),
    ) {
        let problems = problems_of(validate(&with(&doc, &path, value.clone())));
        prop_assert!(
            problems.iter().any(|p| p.field == path),
            "{} set to {} not refused there: {:?}", path, value, problems
        );
    }

    #[test]
    fn generated_valid_callbacks_are_accepted_with_the_exact_key(
        owner in "[a-z0-9]([a-z0-9]|-[a-z0-9]){0,10}",
        repo in "[A-Za-z0-9_][A-Za-z0-9._-]{0,30}",
        delivery in "[A-Za-z0-9][A-Za-z0-9._:-]{0,60}",
        name in "[^\\p{Cc}]{1,40}",
        job_name in "[^\\p{Cc}]{1,80}",
        check_run_id in 1u64..,
        run_attempt in 1u32..,
        in_progress in any::<bool>(),
    ) {
        prop_assume!(!name.trim().is_empty() && !job_name.trim().is_empty());
        let mut doc = fixture(if in_progress { IN_PROGRESS } else { COMPLETED });
        for (path, value) in [
            ("trusted.verified_repo".to_owned(), json!(format!("{owner}/{repo}"))),
            (format!("{CP}.delivery_id"), json!(delivery)),
            (format!("{WF}.name"), json!(name)),
            (format!("{WF}.job_name"), json!(job_name)),
            (format!("{WF}.check_run_id"), json!(check_run_id.to_string())),
            (format!("{WF}.run_attempt"), json!(run_attempt.to_string())),
        ] {
            doc = with(&doc, &path, value);
        }
        let v = validate(&doc).map_err(|e| TestCaseError::fail(format!("{:?}", e.problems())))?;
        check_accepted(&v)?;
        prop_assert_eq!(
            v.job_key().as_str(),
            format!("{owner}/{repo}/{delivery}/{name}/{job_name}/{check_run_id}")
        );
        prop_assert_eq!(v.workflow().run_attempt().get(), run_attempt);
    }

    #[test]
    fn messages_are_cut_to_a_prefix_on_a_char_boundary(message in ".{0,700}") {
        // `.` draws from all of Unicode, so multi-byte chars straddle the limit often.
        let path = format!("{WF}.failed_tests[0].message");
        let v = validate(&with(&fixture(COMPLETED), &path, json!(message)))
            .map_err(|e| TestCaseError::fail(format!("{:?}", e.problems())))?;
        let t = &v.workflow().failed_tests().unwrap_or_default()[0];
        let kept = t.message().unwrap_or_default();
        prop_assert!(kept.len() <= 1024);
        prop_assert!(message.starts_with(kept));
        prop_assert_eq!(t.message_truncated(), message.len() > 1024);
        prop_assert_eq!(t.message_truncated(), !v.truncations().is_empty());
        if t.message_truncated() {
            // Nothing more would fit: the next char crosses the limit.
            let next = message[kept.len()..].chars().next().map_or(0, char::len_utf8);
            prop_assert!(kept.len() + next > 1024);
        }
    }
}
