//! Events survive encode -> decode unchanged, and the Rust types mirror the current schema.

// A test that cannot unwrap its setup has already failed; panicking says where.
#![allow(clippy::unwrap_used)]

mod common;

use apache_avro::{schema::RecordSchema, types::Value, Schema};
use oot_avro::{
    current_fingerprint, decode_event, decode_value_with, encode_event, encode_value_with,
    CallbackEvent, FailedTest, SchemaRegistry, TestCounts, WorkflowRun, SCHEMA_VERSIONS,
};
use proptest::prelude::*;

#[test]
fn full_event_round_trips() {
    let event = common::full_event();
    let bytes = encode_event(&event).unwrap();
    assert_eq!(decode_event(&bytes).unwrap(), event);
}

#[test]
fn minimal_event_round_trips() {
    let event = common::minimal_event();
    let bytes = encode_event(&event).unwrap();
    assert_eq!(decode_event(&bytes).unwrap(), event);
}

#[test]
fn message_starts_with_single_object_header_of_current_schema() {
    let bytes = encode_event(&common::minimal_event()).unwrap();
    assert_eq!(&bytes[..2], &[0xC3, 0x01]);
    assert_eq!(&bytes[2..10], &current_fingerprint().to_le_bytes());
}

#[test]
fn production_registry_is_valid_and_current_is_last() {
    let registry = SchemaRegistry::new(SCHEMA_VERSIONS).unwrap();
    let last = SCHEMA_VERSIONS.last().unwrap();
    assert_eq!(registry.current().version(), last.version);
    assert_eq!(registry.versions().len(), SCHEMA_VERSIONS.len());
    assert_eq!(
        SchemaRegistry::production().current().fingerprint(),
        registry.current().fingerprint()
    );
}

/// Field names of every record in `value`, dotted by path, in order.
fn value_fields(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Record(fields) => {
            for (name, v) in fields {
                let p = format!("{path}{name}");
                out.push(p.clone());
                value_fields(v, &format!("{p}."), out);
            }
        }
        Value::Union(_, inner) => value_fields(inner, path, out),
        Value::Array(items) => {
            if let Some(first) = items.first() {
                value_fields(first, &format!("{path}[]."), out);
            }
        }
        _ => {}
    }
}

fn schema_fields(schema: &Schema, path: &str, out: &mut Vec<String>) {
    match schema {
        Schema::Record(RecordSchema { fields, .. }) => {
            for f in fields {
                let p = format!("{path}{}", f.name);
                out.push(p.clone());
                schema_fields(&f.schema, &format!("{p}."), out);
            }
        }
        Schema::Union(u) => {
            for v in u.variants() {
                schema_fields(v, path, out);
            }
        }
        Schema::Array(a) => schema_fields(&a.items, &format!("{path}[]."), out),
        _ => {}
    }
}

/// Encoding fills schema fields missing from the Rust value with their defaults, so a schema bump
/// without a Rust type bump would silently write defaults; this catches it.
#[test]
fn rust_types_have_exactly_the_current_schema_fields() {
    let value = apache_avro::to_value(common::full_event()).unwrap();
    let mut from_rust = Vec::new();
    value_fields(&value, "", &mut from_rust);
    let mut from_schema = Vec::new();
    schema_fields(
        SchemaRegistry::production().current().schema(),
        "",
        &mut from_schema,
    );
    assert_eq!(from_rust, from_schema);
}

fn opt_string() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(any::<String>())
}

// NaN never equals itself, so generated doubles are finite or infinite but not NaN.
fn opt_f64() -> impl Strategy<Value = Option<f64>> {
    proptest::option::of(any::<f64>().prop_filter("not NaN", |f| !f.is_nan()))
}

fn failed_test() -> impl Strategy<Value = FailedTest> {
    (
        any::<String>(),
        any::<String>(),
        opt_string(),
        opt_string(),
        opt_f64(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(name, classname, message, stacktrace, duration_s, mt, st)| FailedTest {
                name,
                classname,
                message,
                stacktrace,
                duration_s,
                message_truncated: mt,
                stacktrace_truncated: st,
            },
        )
}

fn workflow() -> impl Strategy<Value = WorkflowRun> {
    (
        (opt_string(), any::<String>(), opt_string(), any::<String>()),
        (
            any::<String>(),
            any::<String>(),
            any::<String>(),
            any::<String>(),
        ),
        (any::<i64>(), proptest::option::of(any::<i64>())),
        proptest::option::of(any::<i64>()),
        proptest::option::of(
            (
                any::<i64>(),
                any::<i64>(),
                any::<i64>(),
                proptest::option::of(any::<i64>()),
            )
                .prop_map(|(passed, failed, skipped, total)| TestCounts {
                    passed,
                    failed,
                    skipped,
                    total,
                }),
        ),
        proptest::collection::vec(failed_test(), 0..4),
        (opt_string(), opt_string()),
    )
        .prop_map(
            |(
                (schema_version, status, conclusion, name),
                (url, job_name, check_run_id, run_id),
                (run_attempt, started_at),
                completed_at,
                test_results,
                failed_tests,
                (environment_json, artifact_url),
            )| WorkflowRun {
                schema_version,
                status,
                conclusion,
                name,
                url,
                job_name,
                check_run_id,
                run_id,
                run_attempt,
                started_at,
                completed_at,
                test_results,
                failed_tests,
                environment_json,
                artifact_url,
            },
        )
}

fn event() -> impl Strategy<Value = CallbackEvent> {
    (
        (
            any::<String>(),
            any::<i64>(),
            any::<String>(),
            any::<String>(),
        ),
        (opt_string(), opt_f64(), opt_f64(), any::<String>()),
        (
            any::<String>(),
            opt_string(),
            proptest::option::of(any::<i64>()),
            opt_string(),
        ),
        workflow(),
        proptest::collection::vec(any::<String>(), 0..3),
        any::<String>(),
    )
        .prop_map(
            |(
                (event_id, received_at, job_key, verified_repo),
                (downstream_repo_level, queue_time, execution_time, event_type),
                (delivery_id, upstream_repo, pr_number, head_sha),
                workflow,
                truncations,
                relay_document,
            )| CallbackEvent {
                event_id,
                received_at,
                job_key,
                verified_repo,
                downstream_repo_level,
                queue_time,
                execution_time,
                event_type,
                delivery_id,
                upstream_repo,
                pr_number,
                head_sha,
                workflow,
                truncations,
                relay_document,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_events_round_trip(event in event()) {
        let bytes = encode_event(&event).unwrap();
        prop_assert_eq!(decode_event(&bytes).unwrap(), event);
    }

    /// `encode_event` serializes straight to bytes; the `Value`-tree path it replaced (and that
    /// wrote the committed fixture) must give the same bytes for every event.
    #[test]
    fn direct_encoding_matches_the_value_path(event in event()) {
        let registry = SchemaRegistry::production();
        let reference =
            encode_value_with(registry, apache_avro::to_value(&event).unwrap()).unwrap();
        prop_assert_eq!(encode_event(&event).unwrap(), reference);
    }

    /// Likewise `decode_event` deserializes straight from bytes.
    #[test]
    fn direct_decoding_matches_the_value_path(event in event()) {
        let bytes = encode_event(&event).unwrap();
        let value = decode_value_with(SchemaRegistry::production(), &bytes).unwrap();
        let reference: CallbackEvent = apache_avro::from_value(&value).unwrap();
        prop_assert_eq!(decode_event(&bytes).unwrap(), reference);
    }
}
