//! `oot-avro` owns the event contract of the OOT results topic: the Avro schema of a
//! [`CallbackEvent`] (one per accepted callback, see `schemas/*.avsc`), its Rust types, and the
//! single-object encoding that makes every Kafka message self-describing.
//!
//! Modules:
//! - [`schema`]: the registry of every schema version ever written, keyed by fingerprint;
//! - [`event`]: the Rust types of the current schema;
//! - [`codec`]: single-object encoding and decoding with schema resolution;
//! - [`receipt`]: the delivery receipt, one per refused callback on the deliveries topic, with
//!   its own registry of versions under the same rules.
//!
//! # Changing the schema
//!
//! Every message carries only its writer schema's fingerprint, and the log is replayed from the
//! start, so every version ever written must stay decodable. Changes must be backward compatible:
//! a new field needs a `default` (readers fill it in for older events); never remove, rename
//! (apache-avro's resolver ignores aliases) or change the type of a field; never edit a released
//! `.avsc` in a way that changes its canonical form. To add version N:
//!
//! 1. copy the latest file to `schemas/callback_event.vN.avsc` and make the change there;
//! 2. append it to [`SCHEMA_VERSIONS`] (the registry refuses it if an older version cannot be
//!    resolved to it, or if it has the same fingerprint as an older one);
//! 3. update the Rust types in [`event`] to the new fields;
//! 4. keep `tests/fixtures/callback_event.v1.bin` (and add a `vN.bin`): the tests decode a
//!    fixture of every version ever written with the current reader.
//!
//! Deploy consumers (projector) before producers (ingest): an old reader rejects a new
//! fingerprint with [`DecodeError::UnknownFingerprint`].

pub mod codec;
pub mod event;
pub mod receipt;
pub mod schema;

pub use codec::{
    decode_event, decode_value_with, decode_with, encode_event, encode_value_with, encode_with,
    read_fingerprint, writer_schema, DecodeError, EncodeError,
};
pub use event::{CallbackEvent, FailedTest, TestCounts, WorkflowRun};
pub use receipt::{
    decode_receipt, encode_receipt, receipt_registry, DeliveryReceipt, ReceiptProblem,
    RECEIPT_SCHEMA_VERSIONS,
};
pub use schema::{
    current_fingerprint, fingerprints, Fingerprint, RegisteredSchema, SchemaError, SchemaRegistry,
    SchemaSource, SCHEMA_VERSIONS,
};

/// Re-exported so callers of the generic functions need not depend on apache-avro themselves.
pub use apache_avro;
