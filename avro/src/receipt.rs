//! The second contract of this crate: the delivery receipt (`schemas/delivery_receipt.v1.avsc`),
//! one per authenticated callback ingest refuses, on the deliveries topic (`oot-deliveries`).
//!
//! Its schemas live in their own registry ([`RECEIPT_SCHEMA_VERSIONS`]), under the same rules
//! as the callback event's (see the crate docs): every version ever written stays readable,
//! changes are backward compatible, readers (the projector) are deployed before writers
//! (ingest). The same single-object encoding makes each message self-describing; a receipt's
//! fingerprint is never a callback event's (the record names differ), so a message on the wrong
//! topic is refused as an unknown schema, never misread.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::codec::{decode_with, encode_with, DecodeError, EncodeError};
use crate::schema::{SchemaRegistry, SchemaSource};

/// Every receipt schema version ever written, oldest first; the last is current.
pub const RECEIPT_SCHEMA_VERSIONS: &[SchemaSource] = &[SchemaSource {
    version: 1,
    file_name: "delivery_receipt.v1.avsc",
    json: include_str!("../schemas/delivery_receipt.v1.avsc"),
}];

static RECEIPTS: LazyLock<SchemaRegistry> = LazyLock::new(|| {
    SchemaRegistry::new(RECEIPT_SCHEMA_VERSIONS).expect(
        "invariant: the embedded RECEIPT_SCHEMA_VERSIONS form a valid registry (checked by tests)",
    )
});

/// The registry of [`RECEIPT_SCHEMA_VERSIONS`].
pub fn receipt_registry() -> &'static SchemaRegistry {
    &RECEIPTS
}

/// One refused callback (Avro record `dev.oothud.DeliveryReceipt`); the `.avsc` docs are the
/// reference for each field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReceipt {
    /// UUIDv7 (hyphenated text) of this receipt.
    pub receipt_id: String,
    /// When ingest received the request, µs since the Unix epoch.
    pub received_at: i64,
    /// The refused document's `trusted.verified_repo`; also the Kafka message key.
    pub verified_repo: String,
    /// Ingest's refusal reason (`invalid`, `rate_limited`, `log_unavailable`, `internal`, ...).
    pub outcome: String,
    /// The HTTP status answered.
    pub status: i32,
    /// The answer's `error` code.
    pub error: String,
    /// The answer's message.
    pub message: String,
    /// The problems as the 400 listed them.
    pub problems: Vec<ReceiptProblem>,
    /// Every problem found, listed or not.
    pub problems_total: i64,
    pub delivery_id: Option<String>,
    pub job_key: Option<String>,
    pub retry_after_seconds: Option<i64>,
    pub body_bytes: Option<i64>,
    /// At most 1 KiB of the body's start.
    pub body_excerpt: Option<String>,
}

/// One problem of a refused document (Avro record `dev.oothud.ReceiptProblem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptProblem {
    pub field: String,
    pub message: String,
}

/// Encodes `receipt` with the current receipt schema.
pub fn encode_receipt(receipt: &DeliveryReceipt) -> Result<Vec<u8>, EncodeError> {
    encode_with(receipt_registry(), receipt)
}

/// Decodes a receipt written with any receipt schema version, resolved to the current one.
pub fn decode_receipt(bytes: &[u8]) -> Result<DeliveryReceipt, DecodeError> {
    decode_with(receipt_registry(), bytes)
}
