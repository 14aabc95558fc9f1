//! Bytes written by every schema version ever released stay readable by the current reader.
//!
//! `fixtures/callback_event.v1.bin` is `common::full_event()` encoded while v1 was current,
//! written once by the ignored test `write_v1_fixture` and committed; never regenerate it.
//! When v2 is released, add a `v2.bin` the same way and keep this one.

// A test that cannot unwrap its setup has already failed; panicking says where.
#![allow(clippy::unwrap_used)]

mod common;

use oot_avro::{decode_event, encode_with, read_fingerprint, SchemaRegistry, SCHEMA_VERSIONS};

const V1_FIXTURE: &[u8] = include_bytes!("fixtures/callback_event.v1.bin");

/// Fingerprint of `callback_event.v1.avsc`'s canonical form, pinned: if this changes, v1.avsc
/// was edited in a way that orphans every v1 event in the log.
const V1_FINGERPRINT: u64 = 0x9fef_2e58_9693_41ee;

#[test]
fn v1_fixture_decodes_with_the_current_reader() {
    let event = decode_event(V1_FIXTURE).unwrap();
    // A newer Rust type would add its new fields' defaults to this expectation.
    assert_eq!(event, common::full_event());
}

#[test]
fn v1_fixture_names_the_v1_schema() {
    let fingerprint = read_fingerprint(V1_FIXTURE).unwrap();
    assert_eq!(fingerprint.value(), V1_FINGERPRINT, "{fingerprint}");
    let registry = SchemaRegistry::production();
    let writer = registry.by_fingerprint(fingerprint).unwrap();
    assert_eq!(writer.version(), 1);
    assert_eq!(writer.file_name(), "callback_event.v1.avsc");
}

/// The encoder writes today exactly the bytes it wrote when the fixture was made: a rewrite of the
/// codec must not change the encoding (consumers compare and deduplicate on these bytes, and the
/// fixture was written by the original `Value`-tree encoder).
#[test]
fn encoding_the_fixture_event_with_v1_reproduces_the_fixture_bytes() {
    // A v1-only registry, so this keeps testing the v1 encoding after v2 becomes current. (When
    // the Rust type gains v2 fields, encode a v1-shaped value here instead.)
    let v1 = SchemaRegistry::new(&SCHEMA_VERSIONS[..1]).unwrap();
    let bytes = encode_with(&v1, &common::full_event()).unwrap();
    assert!(bytes == V1_FIXTURE, "{bytes:02x?}");
}

/// Writes the v1 fixture. Run once, while v1 is the current schema:
/// `cargo test -p oot-avro --test fixtures -- --ignored write_v1_fixture`
#[test]
#[ignore = "writes the committed fixture; run by hand only when it is first created"]
fn write_v1_fixture() {
    let registry = SchemaRegistry::production();
    assert_eq!(
        registry.current().version(),
        1,
        "the current schema is no longer v1: the v1 fixture must not be regenerated"
    );
    let bytes = oot_avro::encode_event(&common::full_event()).unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/callback_event.v1.bin"
    );
    std::fs::write(path, bytes).unwrap();
}
