//! Everything ingest accepts can be stored (issue 9): callbacks generated at every edge of the
//! contract (every part of the key at its cap, control characters in the environment, 1,000
//! failed tests with their longest texts, huge and tiny numbers) that validate must encode to
//! Avro and back, merge in the projector, and give a DynamoDB item within DynamoDB's limits (the
//! 400 KB item, the 1,024-byte index sort key, number texts) and a ClickHouse row. No servers:
//! ingest's validation and event, and the projector's merge and item, are called directly.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use oot_contract::dynamo::{attr, is_number};
use oot_contract::limits::{DYNAMODB_ITEM_BYTES, MAX_INDEXED_JOB_KEY_BYTES, MAX_SECONDS};
use oot_e2e::fixtures::{COMPLETED, IN_PROGRESS};
use oot_ingest::callback::{validate_callback_at, Limits};
use oot_projector::completed_rows::CompletedJobRow;
use oot_projector::job_table::job_item;
use oot_projector::merge::{merge_event, JobRecord};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use time::macros::datetime;

const RECEIVED_AT: time::OffsetDateTime = datetime!(2026-04-28 11:00 UTC);

/// Text of `len` chars of one kind: the escapes that grow most, multibyte, or plain.
fn text(kind: u8, len: usize) -> String {
    let unit = match kind % 5 {
        0 => "\u{1}", // six bytes once escaped
        1 => "\"",    // two
        2 => "🦀",    // four bytes of UTF-8
        3 => "é\\\n", // mixed
        _ => "x",
    };
    unit.repeat(len).chars().take(len).collect()
}

/// A key part within its cap: no control characters, not blank.
fn key_text(kind: u8, bytes: usize) -> String {
    let unit = if kind.is_multiple_of(2) { "ü" } else { "x" };
    let mut s = unit.repeat(bytes);
    while s.len() > bytes {
        s.pop();
    }
    if s.is_empty() {
        s.push('x');
    }
    s
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(1e-200),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(1e200),
        Just(f64::MAX),
        Just(MAX_SECONDS),
        Just(0.1 + 0.2),
        0.0..MAX_SECONDS,
        (-330.0f64..310.0).prop_map(|e| 10f64.powf(e)),
    ]
}

#[derive(Debug, Clone)]
struct Edges {
    completed: bool,
    owner_len: usize,
    name_len: usize,
    delivery_len: usize,
    workflow: (u8, usize),
    job_name: (u8, usize),
    check_run_id: u64,
    queue_time: f64,
    execution_time: f64,
    failed_tests: usize,
    test_text: u8,
    duration: f64,
    env_entries: usize,
    env_key: (u8, usize),
    env_value: (u8, usize),
    counts: u64,
}

fn edges() -> impl Strategy<Value = Edges> {
    let sizes = (
        any::<bool>(),
        prop_oneof![Just(39usize), 1usize..39],
        prop_oneof![Just(100usize), 1usize..100],
        prop_oneof![Just(128usize), 1usize..128],
        (any::<u8>(), prop_oneof![Just(256usize), 1usize..256]),
        (any::<u8>(), prop_oneof![Just(512usize), 1usize..512]),
        prop_oneof![Just(u64::MAX), 1u64..],
    );
    let values = (
        number(),
        number(),
        prop_oneof![2 => 0usize..4, 1 => Just(1_000usize)],
        any::<u8>(),
        number(),
        prop_oneof![Just(64usize), Just(70usize), 0usize..64],
        (any::<u8>(), prop_oneof![Just(128usize), 1usize..128]),
        (
            any::<u8>(),
            prop_oneof![Just(512usize), Just(600usize), 0usize..512],
        ),
        prop_oneof![Just(100_000_000u64), 0u64..100_000_000],
    );
    (sizes, values).prop_map(|(s, v)| Edges {
        completed: s.0,
        owner_len: s.1,
        name_len: s.2,
        delivery_len: s.3,
        workflow: s.4,
        job_name: s.5,
        check_run_id: s.6,
        queue_time: v.0,
        execution_time: v.1,
        failed_tests: v.2,
        test_text: v.3,
        duration: v.4,
        env_entries: v.5,
        env_key: v.6,
        env_value: v.7,
        counts: v.8,
    })
}

fn set(doc: &mut Value, pointer: &str, value: Value) {
    *doc.pointer_mut(pointer).unwrap() = value;
}

/// The callback of `e`, `completed` or not (the same job either way).
fn callback(e: &Edges, completed: bool) -> Value {
    let mut doc: Value =
        serde_json::from_str(if completed { COMPLETED } else { IN_PROGRESS }).unwrap();
    let repo = format!("{}/{}", "o".repeat(e.owner_len), "n".repeat(e.name_len));
    set(&mut doc, "/trusted/verified_repo", json!(repo));
    set(
        &mut doc,
        "/trusted/ci_metrics",
        json!({"queue_time": e.queue_time, "execution_time": e.execution_time}),
    );
    let cp = "/untrusted/callback_payload";
    set(
        &mut doc,
        &format!("{cp}/delivery_id"),
        json!("d".repeat(e.delivery_len)),
    );
    let wf = format!("{cp}/workflow");
    set(
        &mut doc,
        &format!("{wf}/name"),
        json!(key_text(e.workflow.0, e.workflow.1)),
    );
    set(
        &mut doc,
        &format!("{wf}/job_name"),
        json!(key_text(e.job_name.0, e.job_name.1)),
    );
    set(
        &mut doc,
        &format!("{wf}/check_run_id"),
        json!(e.check_run_id.to_string()),
    );
    let w = doc.pointer_mut(&wf).unwrap().as_object_mut().unwrap();
    if completed {
        let tests: Vec<Value> = (0..e.failed_tests)
            .map(|i| {
                json!({
                    "name": format!("{i}{}", text(e.test_text, 600)),
                    "classname": text(e.test_text.wrapping_add(1), 600),
                    "message": text(e.test_text.wrapping_add(2), 2_000),
                    "stacktrace": text(e.test_text.wrapping_add(3), 5_000),
                    "duration_s": e.duration,
                })
            })
            .collect();
        w.insert("failed_tests".into(), Value::Array(tests));
        w.insert(
            "test_results".into(),
            json!({"passed": e.counts, "failed": e.counts, "skipped": e.counts, "total": e.counts}),
        );
    }
    let env: Map<String, Value> = (0..e.env_entries)
        .map(|i| {
            let key = format!("{i:02}{}", text(e.env_key.0, e.env_key.1.saturating_sub(2)));
            let key: String = key.chars().take(128).collect();
            let mut key = key;
            while key.len() > 128 {
                key.pop();
            }
            let value = match i % 4 {
                0 => json!(e.queue_time),
                1 => json!(i.is_multiple_of(3)),
                2 => Value::Null,
                _ => json!(text(e.env_value.0, e.env_value.1)),
            };
            (key, value)
        })
        .collect();
    w.insert("environment".into(), Value::Object(env));
    doc
}

/// The item's size as DynamoDB counts it: each attribute's name and value bytes (a number's
/// text is an upper bound on its stored size).
fn item_bytes(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    other => panic!("unexpected attribute type {other:?}"),
                }
        })
        .sum()
}

fn check_item(record: &JobRecord) -> Result<(), TestCaseError> {
    let item = job_item(record, u64::MAX).map_err(TestCaseError::fail)?;
    let bytes = item_bytes(&item);
    prop_assert!(bytes < DYNAMODB_ITEM_BYTES, "item of {} bytes", bytes);
    for (name, value) in &item {
        if let AttributeValue::N(n) = value {
            prop_assert!(is_number(n), "{} = {} is not a DynamoDB number", name, n);
        }
        if let AttributeValue::S(s) = value {
            prop_assert!(
                !s.is_empty() || name == attr::FAILED_TESTS_JSON,
                "{} is empty",
                name
            );
        }
    }
    let key = match item.get(attr::DYNAMO_KEY) {
        Some(AttributeValue::S(key)) => key.len(),
        _ => 0,
    };
    prop_assert!(
        key > 0 && key <= MAX_INDEXED_JOB_KEY_BYTES,
        "key of {} bytes",
        key
    );
    for partition in [attr::DOWNSTREAM_REPO, attr::UPSTREAM_PR] {
        if let Some(AttributeValue::S(v)) = item.get(partition) {
            prop_assert!(v.len() <= 2_048);
        }
    }
    if record.is_completed() {
        prop_assert!(CompletedJobRow::of(record, 1, 0).is_some());
    }
    Ok(())
}

/// The event of a body that validated, through the Avro codec.
fn logged_event(body: &[u8]) -> Option<oot_avro::CallbackEvent> {
    let callback = validate_callback_at(body, &Limits::default(), RECEIVED_AT).ok()?;
    let event = oot_ingest::event::build_event(&callback, uuid::Uuid::nil(), RECEIVED_AT, body);
    let bytes = oot_avro::encode_event(&event).unwrap();
    let decoded = oot_avro::decode_event(&bytes).unwrap();
    assert_eq!(decoded, event);
    Some(decoded)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn every_accepted_callback_is_storable(e in edges()) {
        let first = serde_json::to_vec(&callback(&e, e.completed)).unwrap();
        let second = serde_json::to_vec(&callback(&e, !e.completed)).unwrap();
        let events: Vec<_> = [first, second].iter().filter_map(|b| logged_event(b)).collect();
        let mut merged: Option<JobRecord> = None;
        for event in &events {
            let alone = JobRecord::from_event(event).unwrap();
            check_item(&alone)?;
            let next = merge_event(merged.as_ref(), event).unwrap().record;
            check_item(&next)?;
            merged = Some(next);
        }
        // What was refused was refused for a reason a store would have given.
        let key_len = e.owner_len + 1 + e.name_len + e.delivery_len
            + key_text(e.workflow.0, e.workflow.1).len()
            + key_text(e.job_name.0, e.job_name.1).len()
            + e.check_run_id.to_string().len() + 4;
        let storable = key_len <= MAX_INDEXED_JOB_KEY_BYTES
            && [e.queue_time, e.execution_time, e.duration]
                .iter()
                .all(|v| (0.0..=MAX_SECONDS).contains(v));
        if storable && events.len() < 2 {
            let refused = [e.completed, !e.completed].iter().find_map(|&c| {
                let body = serde_json::to_vec(&callback(&e, c)).unwrap();
                validate_callback_at(&body, &Limits::default(), RECEIVED_AT).err()
            });
            prop_assert!(false, "refused though storable: {:?}", refused.map(|r| r.problems()));
        }
    }
}
