//! The delivery receipt's contract (`schemas/delivery_receipt.v1.avsc`): receipts survive
//! encode -> decode unchanged, the Rust type mirrors the schema, the header carries the receipt
//! schema's own fingerprint (never a callback event's), and bytes written by v1 stay readable.
//!
//! `fixtures/delivery_receipt.v1.bin` is [`full_receipt`] encoded while v1 was current, written
//! once by the ignored test `write_v1_receipt_fixture` and committed; never regenerate it.

// A test that cannot unwrap its setup has already failed; panicking says where.
#![allow(clippy::unwrap_used)]

use apache_avro::Schema;
use oot_avro::{
    decode_event, decode_receipt, encode_receipt, read_fingerprint, receipt_registry, DecodeError,
    DeliveryReceipt, ReceiptProblem, SchemaRegistry, RECEIPT_SCHEMA_VERSIONS,
};

const V1_FIXTURE: &[u8] = include_bytes!("fixtures/delivery_receipt.v1.bin");

/// Every optional field set, non-ASCII text, a problem list: the content of the v1 fixture (do
/// not edit it; add another sample instead).
fn full_receipt() -> DeliveryReceipt {
    DeliveryReceipt {
        receipt_id: "0196f0c2-7a1b-7c3d-8e4f-5a6b7c8d9e0f".into(),
        received_at: 1_777_373_112_123_456,
        verified_repo: "intel/torch-xpu-ops".into(),
        outcome: "invalid".into(),
        status: 400,
        error: "validation_failed".into(),
        message: "callback failed validation: untrusted.callback_payload.workflow.run_attempt: must be positive, got \"0\"".into(),
        problems: vec![
            ReceiptProblem {
                field: "untrusted.callback_payload.workflow.run_attempt".into(),
                message: "must be positive, got \"0\"".into(),
            },
            ReceiptProblem {
                field: "untrusted.callback_payload.workflow.failed_tests[3].name".into(),
                message: "is required — ünïcödé ✓".into(),
            },
        ],
        problems_total: 57,
        delivery_id: Some("a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1".into()),
        job_key: Some("intel/torch-xpu-ops/a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1/xpu-ci/linux-xpu / test (default, 1, 4)/28374650001".into()),
        retry_after_seconds: Some(7),
        body_bytes: Some(2_713),
        body_excerpt: Some(r#"{"trusted":{"verified_repo":"intel/torch-xpu-ops"},"untrusted":{"#.into()),
    }
}

/// Nothing optional: a 429 whose job could not be keyed, as small as a receipt gets.
fn minimal_receipt() -> DeliveryReceipt {
    DeliveryReceipt {
        receipt_id: "0196f0c2-7a1b-7c3d-8e4f-000000000000".into(),
        received_at: 0,
        verified_repo: "a/b".into(),
        outcome: "rate_limited".into(),
        status: 429,
        error: "rate_limited".into(),
        message: String::new(),
        problems: vec![],
        problems_total: 0,
        delivery_id: None,
        job_key: None,
        retry_after_seconds: None,
        body_bytes: None,
        body_excerpt: None,
    }
}

#[test]
fn receipts_round_trip() {
    for receipt in [full_receipt(), minimal_receipt()] {
        let bytes = encode_receipt(&receipt).unwrap();
        assert_eq!(decode_receipt(&bytes).unwrap(), receipt);
    }
}

#[test]
fn the_registry_is_valid_and_the_header_names_its_current_schema() {
    let registry = SchemaRegistry::new(RECEIPT_SCHEMA_VERSIONS).unwrap();
    assert_eq!(
        registry.current().fingerprint(),
        receipt_registry().current().fingerprint()
    );
    let bytes = encode_receipt(&minimal_receipt()).unwrap();
    assert_eq!(&bytes[..2], &[0xC3, 0x01]);
    assert_eq!(
        &bytes[2..10],
        &receipt_registry().current().fingerprint().to_le_bytes()
    );
    let canonical = receipt_registry().current().canonical_form();
    assert!(
        canonical.starts_with(r#"{"name":"dev.oothud.DeliveryReceipt","type":"record""#),
        "{canonical}"
    );
}

/// A receipt on the callbacks topic (or an event on the deliveries topic) is refused as an
/// unknown schema, never read as the other.
#[test]
fn a_receipt_is_never_read_as_a_callback_event() {
    let bytes = encode_receipt(&full_receipt()).unwrap();
    assert!(matches!(
        decode_event(&bytes),
        Err(DecodeError::UnknownFingerprint { .. })
    ));
    assert_ne!(
        receipt_registry().current().fingerprint(),
        SchemaRegistry::production().current().fingerprint()
    );
}

/// The Rust type has exactly the schema's fields, in its order.
#[test]
fn the_rust_type_mirrors_the_schema() {
    let Schema::Record(record) = receipt_registry().current().schema() else {
        panic!("a record");
    };
    let schema_fields: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
    let value = apache_avro::to_value(full_receipt()).unwrap();
    let apache_avro::types::Value::Record(fields) = value else {
        panic!("a record value");
    };
    let rust_fields: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(rust_fields, schema_fields);
}

/// Fingerprint of `delivery_receipt.v1.avsc`'s canonical form, pinned: if this changes, v1.avsc
/// was edited in a way that orphans every v1 receipt on the topic.
const V1_FINGERPRINT: u64 = 0xb624_c626_ba28_22f1;

#[test]
fn the_v1_fixture_names_v1_and_decodes_with_the_current_reader() {
    let fingerprint = read_fingerprint(V1_FIXTURE).unwrap();
    assert_eq!(fingerprint.value(), V1_FINGERPRINT, "{fingerprint}");
    let writer = receipt_registry().by_fingerprint(fingerprint).unwrap();
    assert_eq!(writer.file_name(), "delivery_receipt.v1.avsc");
    assert_eq!(decode_receipt(V1_FIXTURE).unwrap(), full_receipt());
}

/// Writes the v1 fixture. Run once, while v1 is the current receipt schema:
/// `cargo test -p oot-avro --test receipt -- --ignored write_v1_receipt_fixture`
#[test]
#[ignore = "writes the committed fixture; run by hand only when it is first created"]
fn write_v1_receipt_fixture() {
    assert_eq!(
        receipt_registry().current().version(),
        1,
        "the current receipt schema is no longer v1: the v1 fixture must not be regenerated"
    );
    let bytes = encode_receipt(&full_receipt()).unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/delivery_receipt.v1.bin"
    );
    std::fs::write(path, bytes).unwrap();
}
