//! Avro single-object encoding of events: `C3 01`, the writer schema's 8-byte little-endian Rabin
//! fingerprint, then the binary datum.
//!
//! apache-avro's own single-object reader accepts exactly one writer schema and does no schema
//! resolution, so the header is handled here: the fingerprint picks the writer schema (and the
//! reader prepared for it) from a [`SchemaRegistry`], and the datum is then resolved to the
//! registry's current schema.
//!
//! Events of the current schema, the hot path of both ingest and projector, are serialized and
//! deserialized by apache-avro's schema-aware serde implementations, straight between the Rust
//! type and bytes. The [`Value`]-tree functions remain as the reference they are tested against,
//! and decoding falls back to them to diagnose whatever the direct path refuses.
//!
//! Decoding faces whatever is on the topic, so every failure is a [`DecodeError`], never a panic,
//! and the variant says which kind of poison it was.

use std::io::Read;

use apache_avro::{types::Value, writer::datum::GenericDatumWriter};
use serde::{de::DeserializeOwned, Serialize};

use crate::{
    event::CallbackEvent,
    schema::{Fingerprint, RegisteredSchema, SchemaRegistry},
};

/// The two bytes that open every single-object-encoded message (Avro spec).
pub const MARKER: [u8; 2] = [0xC3, 0x01];

/// Marker plus fingerprint.
pub const HEADER_LEN: usize = 10;

/// Why an event could not be encoded. With [`CallbackEvent`] and a consistent registry these do
/// not happen; they exist for the generic [`encode_with`] and to avoid panicking on a bug.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The Rust value could not be turned into an Avro value.
    #[error("cannot convert the event to an Avro value: {0}")]
    Serialize(#[source] apache_avro::Error),
    /// The value does not fit the current schema (the Rust type and the `.avsc` disagree).
    #[error("the event does not match schema {file_name}: {source}")]
    SchemaMismatch {
        /// The schema written with.
        file_name: &'static str,
        /// What did not match.
        #[source]
        source: apache_avro::Error,
    },
}

/// Why a message could not be decoded. All but [`DecodeError::Resolution`] and
/// [`DecodeError::Mapping`] describe the bytes (a poison message: dead-letter it); those two
/// describe this build (a registry or type bug: fix the code, then replay).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The message does not start with `C3 01`: not single-object encoded (e.g. JSON, another
    /// framing such as a Confluent schema-registry prefix `00`, or garbage).
    #[error("not an Avro single-object message: starts with {found:02x?}, expected c3 01")]
    BadMarker {
        /// The first two bytes found.
        found: [u8; 2],
    },
    /// Fewer bytes than the 10-byte header.
    #[error("message of {len} bytes is shorter than the 10-byte single-object header")]
    TruncatedHeader {
        /// The message length.
        len: usize,
    },
    /// The header names a schema this build does not know: corrupt bytes, or a producer running a
    /// newer schema than this consumer (deploy readers before writers).
    #[error("unknown writer schema fingerprint {fingerprint}")]
    UnknownFingerprint {
        /// The fingerprint found in the header.
        fingerprint: Fingerprint,
    },
    /// The datum ends before the writer schema says it should.
    #[error("datum truncated: ended before the end of a schema v{writer_version} record")]
    Truncated {
        /// Version of the writer schema the header named.
        writer_version: u32,
    },
    /// The datum is not valid for its writer schema (bad union index, invalid UTF-8, absurd
    /// length, ...).
    #[error("datum corrupt for schema v{writer_version}: {source}")]
    Corrupt {
        /// Version of the writer schema the header named.
        writer_version: u32,
        /// The decoder's complaint.
        #[source]
        source: apache_avro::Error,
    },
    /// A complete datum was read but bytes remain: the message is not what its header claims.
    #[error("{count} unexpected bytes after a complete schema v{writer_version} datum")]
    TrailingBytes {
        /// Version of the writer schema the header named.
        writer_version: u32,
        /// How many bytes were left over.
        count: usize,
    },
    /// A valid datum of an older version could not be resolved to the current schema: the
    /// registry's compatibility check should make this impossible.
    #[error("cannot resolve schema v{writer_version} data to the current schema: {source}")]
    Resolution {
        /// Version of the writer schema the header named.
        writer_version: u32,
        /// The resolver's complaint.
        #[source]
        source: apache_avro::Error,
    },
    /// The resolved value does not fit the Rust type (the Rust type and the current `.avsc`
    /// disagree).
    #[error("decoded value does not fit the Rust event type: {0}")]
    Mapping(#[source] apache_avro::Error),
}

/// Encodes `event` with the current production schema.
pub fn encode_event(event: &CallbackEvent) -> Result<Vec<u8>, EncodeError> {
    encode_with(SchemaRegistry::production(), event)
}

/// Decodes a message written with any production schema version, resolved to the current one.
pub fn decode_event(bytes: &[u8]) -> Result<CallbackEvent, DecodeError> {
    decode_with(SchemaRegistry::production(), bytes)
}

/// Room for a typical event without regrowing the buffer (the sample completed callback is
/// 2.6 KiB, most of it the relay document).
const ENCODE_CAPACITY: usize = 4096;

/// Encodes `value` with `registry`'s current schema. `T`'s serde shape must match that schema:
/// a field the schema lacks is an error, a schema field `T` lacks gets its default.
///
/// apache-avro's schema-aware serializer writes `value` straight to bytes, against the names
/// resolved once in the registry: no [`Value`] tree, no resolution pass, no per-call writer. It
/// writes the bytes [`encode_value_with`] writes for `apache_avro::to_value(value)` (tested).
pub fn encode_with<T: Serialize>(
    registry: &SchemaRegistry,
    value: &T,
) -> Result<Vec<u8>, EncodeError> {
    let current = registry.current();
    let mut out = Vec::with_capacity(ENCODE_CAPACITY);
    out.extend_from_slice(&header(current.fingerprint()));
    match apache_avro::write_avro_datum_ref(current.schema(), &current.names(), value, &mut out) {
        Ok(_) => Ok(out),
        // The serializer cannot say whether the value or the schema is at fault; whether serde
        // can produce a `Value` at all can, and errors are rare enough to pay for asking.
        Err(source) => Err(match apache_avro::to_value(value) {
            Err(unconvertible) => EncodeError::Serialize(unconvertible),
            Ok(_) => EncodeError::SchemaMismatch {
                file_name: current.file_name(),
                source,
            },
        }),
    }
}

/// Encodes an Avro value with `registry`'s current schema.
pub fn encode_value_with(registry: &SchemaRegistry, value: Value) -> Result<Vec<u8>, EncodeError> {
    let current = registry.current();
    let mismatch = |source| EncodeError::SchemaMismatch {
        file_name: current.file_name(),
        source,
    };
    // Serde yields plain longs for timestamps and positional union indices; resolving rewrites
    // them to the schema's logical types and union branches, and rejects a shape mismatch.
    let value = value
        .resolve_with_names(current.schema(), &current.names())
        .map_err(mismatch)?;
    let writer = GenericDatumWriter::builder(current.schema())
        .build()
        .map_err(mismatch)?;
    let mut out = Vec::with_capacity(ENCODE_CAPACITY);
    out.extend_from_slice(&header(current.fingerprint()));
    writer.write_value(&mut out, value).map_err(mismatch)?;
    Ok(out)
}

/// Decodes a message written with any version in `registry`, resolved to its current schema.
///
/// A message of the current version (the common case) is deserialized straight into `T` by
/// apache-avro's schema-aware deserializer, with no [`Value`] tree in between. Messages of older
/// versions, and any message that path refuses, go through [`decode_value_with`] and
/// `apache_avro::from_value`: that path alone decides what is an error and which kind, so the
/// fast path can only ever turn a success into the same success, sooner.
pub fn decode_with<T: DeserializeOwned>(
    registry: &SchemaRegistry,
    bytes: &[u8],
) -> Result<T, DecodeError> {
    let writer = writer_schema(registry, bytes)?;
    if writer.fingerprint() == registry.current().fingerprint() {
        if let Some(value) = deserialize_exact(writer, bytes) {
            return Ok(value);
        }
    }
    let value = decode_value_with(registry, bytes)?;
    apache_avro::from_value(&value).map_err(DecodeError::Mapping)
}

/// Like [`decode_with`] but stops at the Avro value (resolved to the current schema).
pub fn decode_value_with(registry: &SchemaRegistry, bytes: &[u8]) -> Result<Value, DecodeError> {
    let writer = writer_schema(registry, bytes)?;
    let value = decode_message(writer, bytes)?;
    let current = registry.current();
    if writer.fingerprint() == current.fingerprint() {
        return Ok(value);
    }
    value
        .resolve_with_names(current.schema(), &current.names())
        .map_err(|source| DecodeError::Resolution {
            writer_version: writer.version(),
            source,
        })
}

/// Reads the header's fingerprint without looking it up (for logging a dead letter).
pub fn read_fingerprint(bytes: &[u8]) -> Result<Fingerprint, DecodeError> {
    if let [a, b, ..] = *bytes {
        if [a, b] != MARKER {
            return Err(DecodeError::BadMarker { found: [a, b] });
        }
    }
    match bytes.get(2..HEADER_LEN) {
        Some(fp) => {
            let mut le = [0u8; 8];
            le.copy_from_slice(fp);
            Ok(Fingerprint::from_le_bytes(le))
        }
        None => Err(DecodeError::TruncatedHeader { len: bytes.len() }),
    }
}

/// The writer schema the message's header names, looked up in `registry`.
pub fn writer_schema<'r>(
    registry: &'r SchemaRegistry,
    bytes: &[u8],
) -> Result<&'r RegisteredSchema, DecodeError> {
    let fingerprint = read_fingerprint(bytes)?;
    registry
        .by_fingerprint(fingerprint)
        .ok_or(DecodeError::UnknownFingerprint { fingerprint })
}

/// The single-object header of messages written with the schema of `fingerprint`.
pub(crate) fn header(fingerprint: Fingerprint) -> [u8; HEADER_LEN] {
    let mut header = [0; HEADER_LEN];
    let (marker, fp) = header.split_at_mut(MARKER.len());
    marker.copy_from_slice(&MARKER);
    fp.copy_from_slice(&fingerprint.to_le_bytes());
    header
}

/// Deserializes a whole message of `writer`'s version into `T`, or `None` if anything is amiss
/// (the caller then finds out what with [`decode_message`]).
fn deserialize_exact<T: DeserializeOwned>(writer: &RegisteredSchema, bytes: &[u8]) -> Option<T> {
    let mut input = EofTracking {
        rest: bytes,
        ran_dry: false,
    };
    let value = writer.reader().read_deser(&mut input).ok()?;
    (!input.ran_dry && input.rest.is_empty()).then_some(value)
}

/// Decodes a whole message (its header already matched to `writer`) with its writer schema,
/// insisting that the datum spans the rest of `bytes` exactly.
fn decode_message(writer: &RegisteredSchema, bytes: &[u8]) -> Result<Value, DecodeError> {
    let writer_version = writer.version();
    let mut input = EofTracking {
        rest: bytes,
        ran_dry: false,
    };
    let result = writer.reader().read_value(&mut input);
    // Checked before the result: apache-avro turns some end-of-input cases into Null values
    // instead of errors, so success alone does not prove the datum was complete.
    if input.ran_dry {
        return Err(DecodeError::Truncated { writer_version });
    }
    let value = result.map_err(|source| DecodeError::Corrupt {
        writer_version,
        source,
    })?;
    if !input.rest.is_empty() {
        return Err(DecodeError::TrailingBytes {
            writer_version,
            count: input.rest.len(),
        });
    }
    Ok(value)
}

/// A byte-slice reader that remembers whether anyone asked for more than was left; the Avro
/// decoder reads exactly what the schema calls for, so that happening means truncation.
struct EofTracking<'a> {
    rest: &'a [u8],
    ran_dry: bool,
}

impl Read for EofTracking<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.len() > self.rest.len() {
            self.ran_dry = true;
        }
        let n = buf.len().min(self.rest.len());
        let (head, tail) = self.rest.split_at(n);
        buf[..n].copy_from_slice(head);
        self.rest = tail;
        Ok(n)
    }
}
