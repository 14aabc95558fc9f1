//! Schema evolution: events written with an older version are read by a newer reader (new fields
//! get their defaults), the reader picks the writer schema by the header's fingerprint, and the
//! registry refuses changes that would break that.
//!
//! The "v2" here is test-only (`schemas/testdata/callback_event.v2.avsc`: v1 plus a string field
//! `ingest_instance` with default "unknown"); production registers v1 only.

// A test that cannot unwrap its setup has already failed; panicking says where.
#![allow(clippy::unwrap_used)]

mod common;

use apache_avro::types::Value;
use oot_avro::{
    decode_value_with, decode_with, encode_with, writer_schema, CallbackEvent, DecodeError,
    SchemaError, SchemaRegistry, SchemaSource, SCHEMA_VERSIONS,
};
use serde::{Deserialize, Serialize};

const V2: SchemaSource = SchemaSource {
    version: 2,
    file_name: "testdata/callback_event.v2.avsc",
    json: include_str!("../schemas/testdata/callback_event.v2.avsc"),
};

/// The Rust type a v2 would bring: the v1 fields plus the new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CallbackEventV2 {
    #[serde(flatten)]
    v1: CallbackEvent,
    ingest_instance: String,
}

fn v1_registry() -> SchemaRegistry {
    SchemaRegistry::new(SCHEMA_VERSIONS).unwrap()
}

fn v2_registry() -> SchemaRegistry {
    SchemaRegistry::new(&[SCHEMA_VERSIONS[0], V2]).unwrap()
}

fn field<'v>(value: &'v Value, name: &str) -> &'v Value {
    match value {
        Value::Record(fields) => fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no field {name}")),
        other => panic!("not a record: {other:?}"),
    }
}

#[test]
fn v1_event_read_with_v2_reader_gets_the_default() {
    let event = common::full_event();
    let v1_bytes = encode_with(&v1_registry(), &event).unwrap();

    let read: CallbackEventV2 = decode_with(&v2_registry(), &v1_bytes).unwrap();
    assert_eq!(read.ingest_instance, "unknown");
    assert_eq!(read.v1, event);

    let value = decode_value_with(&v2_registry(), &v1_bytes).unwrap();
    assert_eq!(
        field(&value, "ingest_instance"),
        &Value::String("unknown".into())
    );
}

#[test]
fn v2_event_round_trips_with_v2_registry() {
    let event = CallbackEventV2 {
        v1: common::full_event(),
        ingest_instance: "ingest-7f9c".into(),
    };
    let bytes = encode_with(&v2_registry(), &event).unwrap();
    let read: CallbackEventV2 = decode_with(&v2_registry(), &bytes).unwrap();
    assert_eq!(read, event);

    let minimal = CallbackEventV2 {
        v1: common::minimal_event(),
        ingest_instance: String::new(),
    };
    let bytes = encode_with(&v2_registry(), &minimal).unwrap();
    assert_eq!(
        decode_with::<CallbackEventV2>(&v2_registry(), &bytes).unwrap(),
        minimal
    );
}

#[test]
fn reader_picks_the_writer_schema_by_fingerprint() {
    let registry = v2_registry();
    let v1_bytes = encode_with(&v1_registry(), &common::minimal_event()).unwrap();
    let v2_bytes = encode_with(
        &registry,
        &CallbackEventV2 {
            v1: common::minimal_event(),
            ingest_instance: "i-1".into(),
        },
    )
    .unwrap();

    assert_ne!(v1_bytes[2..10], v2_bytes[2..10]);
    assert_eq!(writer_schema(&registry, &v1_bytes).unwrap().version(), 1);
    assert_eq!(writer_schema(&registry, &v2_bytes).unwrap().version(), 2);

    // One reader, one topic, both versions interleaved.
    let read: Vec<CallbackEventV2> = [&v1_bytes, &v2_bytes, &v1_bytes]
        .iter()
        .map(|b| decode_with(&registry, b).unwrap())
        .collect();
    let instances: Vec<&str> = read.iter().map(|e| e.ingest_instance.as_str()).collect();
    assert_eq!(instances, ["unknown", "i-1", "unknown"]);
}

#[test]
fn v1_only_reader_rejects_v2_event_as_unknown_fingerprint() {
    let v2 = v2_registry();
    let bytes = encode_with(
        &v2,
        &CallbackEventV2 {
            v1: common::minimal_event(),
            ingest_instance: "i-1".into(),
        },
    )
    .unwrap();
    match decode_with::<CallbackEvent>(&v1_registry(), &bytes) {
        Err(DecodeError::UnknownFingerprint { fingerprint }) => {
            assert_eq!(fingerprint, v2.current().fingerprint());
        }
        other => panic!("expected UnknownFingerprint, got {other:?}"),
    }
}

/// Appends `field_json` to the top-level fields of the v1 schema text.
fn v1_with_field(field_json: &str) -> &'static str {
    let v1 = SCHEMA_VERSIONS[0].json.trim_end();
    let body = v1
        .strip_suffix('}')
        .and_then(|s| s.trim_end().strip_suffix(']'))
        .unwrap();
    Box::leak(format!("{body}, {field_json}]}}").into_boxed_str())
}

#[test]
fn registry_refuses_a_new_field_without_default() {
    let bad = SchemaSource {
        version: 2,
        file_name: "bad.v2.avsc",
        json: v1_with_field(r#"{"name": "ingest_instance", "type": "string"}"#),
    };
    match SchemaRegistry::new(&[SCHEMA_VERSIONS[0], bad]) {
        Err(SchemaError::Incompatible { writer, reader, .. }) => {
            assert_eq!(writer, "callback_event.v1.avsc");
            assert_eq!(reader, "bad.v2.avsc");
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
}

#[test]
fn registry_refuses_a_changed_field_type() {
    let v1 = SCHEMA_VERSIONS[0].json;
    let changed = v1.replacen(
        r#"{"name": "run_attempt", "type": "long""#,
        r#"{"name": "run_attempt", "type": "string""#,
        1,
    );
    assert_ne!(changed, v1);
    let bad = SchemaSource {
        version: 2,
        file_name: "bad.v2.avsc",
        json: Box::leak(changed.into_boxed_str()),
    };
    assert!(matches!(
        SchemaRegistry::new(&[SCHEMA_VERSIONS[0], bad]),
        Err(SchemaError::Incompatible { .. })
    ));
}

#[test]
fn registry_refuses_versions_with_the_same_fingerprint() {
    // Docs are not part of the canonical form: a doc-only edit is not a new version.
    let same = SchemaSource {
        version: 2,
        file_name: "doc-only.v2.avsc",
        json: Box::leak(
            SCHEMA_VERSIONS[0]
                .json
                .replacen("One accepted CI callback", "A CI callback", 1)
                .into_boxed_str(),
        ),
    };
    assert!(matches!(
        SchemaRegistry::new(&[SCHEMA_VERSIONS[0], same]),
        Err(SchemaError::DuplicateFingerprint { .. })
    ));
}

#[test]
fn registry_refuses_unordered_empty_or_invalid_lists() {
    assert!(matches!(
        SchemaRegistry::new(&[V2, SCHEMA_VERSIONS[0]]),
        Err(SchemaError::VersionOrder { .. })
    ));
    assert!(matches!(SchemaRegistry::new(&[]), Err(SchemaError::Empty)));
    let broken = SchemaSource {
        version: 1,
        file_name: "broken.avsc",
        json: r#"{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}"#,
    };
    assert!(matches!(
        SchemaRegistry::new(&[broken]),
        Err(SchemaError::Parse { .. })
    ));
}
