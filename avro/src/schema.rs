//! The schema registry: every version of the event schema ever written to the topic, keyed by the
//! Rabin fingerprint that each single-object-encoded message carries in its header.
//!
//! The registry is a static list compiled into the binary (no schema-registry service): a reader
//! can decode a message exactly when it was built with the writer's `.avsc`.

use std::{fmt, sync::LazyLock};

use apache_avro::{
    rabin::Rabin,
    schema::{Names, NamesRef, ResolvedSchema},
    schema_compatibility::{Compatibility, SchemaCompatibility},
    GenericSingleObjectReader, Schema,
};

use crate::codec;

/// One `.avsc` file of the event schema, embedded at compile time.
#[derive(Debug, Clone, Copy)]
pub struct SchemaSource {
    /// Version number, also in the file name; strictly increasing along [`SCHEMA_VERSIONS`].
    pub version: u32,
    /// File name under `avro/schemas/`, for error messages and operators.
    pub file_name: &'static str,
    /// The schema JSON text.
    pub json: &'static str,
}

/// Every schema version ever written to the topic, oldest first; the last one is the current
/// version, used to write and as the reader schema that all older versions resolve to.
///
/// Never remove or edit an entry whose events may still be in the log (or in a backup that may be
/// replayed): old messages carry only their writer's fingerprint.
pub const SCHEMA_VERSIONS: &[SchemaSource] = &[SchemaSource {
    version: 1,
    file_name: "callback_event.v1.avsc",
    json: include_str!("../schemas/callback_event.v1.avsc"),
}];

/// An 8-byte CRC-64-AVRO (Rabin) fingerprint of a schema's Parsing Canonical Form.
///
/// Canonical form drops docs, defaults, aliases and logical types, so two files differing only in
/// those have the same fingerprint; the registry refuses such pairs (see
/// [`SchemaError::DuplicateFingerprint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// Fingerprint of `schema`'s Parsing Canonical Form.
    pub fn of(schema: &Schema) -> Self {
        let digest = schema.fingerprint::<Rabin>();
        let mut bytes = [0u8; 8];
        // Rabin's output size is fixed at 8 bytes by its Digest impl; copying at most 8 keeps this
        // total even if that ever changed (the fingerprint test would then fail loudly).
        let n = digest.bytes.len().min(8);
        bytes[..n].copy_from_slice(&digest.bytes[..n]);
        Self::from_le_bytes(bytes)
    }

    /// From the 8 little-endian bytes of a single-object header.
    pub fn from_le_bytes(bytes: [u8; 8]) -> Self {
        Self(u64::from_le_bytes(bytes))
    }

    /// The 8 little-endian bytes as written in a single-object header.
    pub fn to_le_bytes(self) -> [u8; 8] {
        self.0.to_le_bytes()
    }

    /// The fingerprint as an unsigned integer (Java's `SchemaNormalization` shows it as a signed
    /// `long`: same bits).
    pub fn value(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#018x}", self.0)
    }
}

/// A parsed schema version with its fingerprint, and what the codec needs of it, prepared once.
///
/// apache-avro reads and writes against a schema plus a map from type names to the named types
/// that `Schema::Ref` nodes point to. Left to itself it rebuilds that map (walking the schema and
/// cloning every name) on every call, a large part of what encoding one event used to cost.
pub struct RegisteredSchema {
    version: u32,
    file_name: &'static str,
    fingerprint: Fingerprint,
    schema: Schema,
    /// Every named type of `schema` by full name, as apache-avro would collect them; or none when
    /// `schema` has no references (a named type mentioned by name after its definition), as in
    /// every version so far, since apache-avro consults the map only to follow references.
    /// Owned because apache-avro wants a map of references, which cannot be stored next to the
    /// schema it borrows from; see [`RegisteredSchema::names`].
    names: Names,
    /// Reads this version's messages; it resolves and owns its own copy of the schema.
    reader: GenericSingleObjectReader,
}

impl RegisteredSchema {
    /// Version number from [`SchemaSource::version`].
    pub fn version(&self) -> u32 {
        self.version
    }

    /// File name from [`SchemaSource::file_name`].
    pub fn file_name(&self) -> &'static str {
        self.file_name
    }

    /// Fingerprint written in the header of messages of this version.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The parsed schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The names apache-avro needs to follow [`Self::schema`]'s references. Costs nothing (no
    /// allocation) for a schema without references.
    pub(crate) fn names(&self) -> NamesRef<'_> {
        self.names
            .iter()
            .map(|(name, schema)| (name.clone(), schema))
            .collect()
    }

    /// Reads whole single-object messages (header included) of this version.
    pub(crate) fn reader(&self) -> &GenericSingleObjectReader {
        &self.reader
    }

    /// Parsing Canonical Form, the text the fingerprint is computed over.
    pub fn canonical_form(&self) -> String {
        self.schema().canonical_form()
    }
}

impl fmt::Debug for RegisteredSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredSchema")
            .field("version", &self.version)
            .field("file_name", &self.file_name)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Why a list of schema sources is not a valid registry.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The list is empty: there would be no schema to write with.
    #[error("a schema registry needs at least one schema version")]
    Empty,
    /// A `.avsc` file is not a valid Avro schema.
    #[error("schema {file_name} does not parse: {source}")]
    Parse {
        /// The offending file.
        file_name: &'static str,
        /// The parser's complaint.
        #[source]
        source: apache_avro::Error,
    },
    /// Versions must be strictly increasing so that the last one is unambiguously current.
    #[error("schema {file_name} has version {version}, not above the previous version {previous}")]
    VersionOrder {
        /// The offending file.
        file_name: &'static str,
        /// Its version.
        version: u32,
        /// The version listed before it.
        previous: u32,
    },
    /// Two versions have the same canonical form, so a reader could not tell them apart.
    #[error("schemas {first} and {second} have the same fingerprint {fingerprint} (they differ only in docs, defaults, aliases or logical types)")]
    DuplicateFingerprint {
        /// The earlier file.
        first: &'static str,
        /// The later file.
        second: &'static str,
        /// Their common fingerprint.
        fingerprint: Fingerprint,
    },
    /// An older version cannot always be resolved to the current one: the change was not
    /// backward compatible (a new field without a default, a type changed, ...).
    #[error("events written with {writer} cannot always be read with the current schema {reader}: {reason}")]
    Incompatible {
        /// The older (writer) file.
        writer: &'static str,
        /// The current (reader) file.
        reader: &'static str,
        /// What the compatibility check found.
        reason: String,
    },
}

/// The set of schema versions a process can read, and the one it writes.
#[derive(Debug)]
pub struct SchemaRegistry {
    /// Oldest first; non-empty (checked in [`SchemaRegistry::new`]).
    versions: Vec<RegisteredSchema>,
}

static PRODUCTION: LazyLock<SchemaRegistry> = LazyLock::new(|| {
    SchemaRegistry::new(SCHEMA_VERSIONS)
        .expect("invariant: the embedded SCHEMA_VERSIONS form a valid registry (checked by tests)")
});

impl SchemaRegistry {
    /// Parses and checks `sources` (oldest first; the last is current): versions strictly
    /// increasing, fingerprints distinct, and every older version fully readable by the current.
    pub fn new(sources: &[SchemaSource]) -> Result<Self, SchemaError> {
        let mut versions: Vec<RegisteredSchema> = Vec::with_capacity(sources.len());
        for source in sources {
            let schema = Schema::parse_str(source.json).map_err(|e| SchemaError::Parse {
                file_name: source.file_name,
                source: e,
            })?;
            if let Some(previous) = versions.last() {
                if source.version <= previous.version {
                    return Err(SchemaError::VersionOrder {
                        file_name: source.file_name,
                        version: source.version,
                        previous: previous.version,
                    });
                }
            }
            let fingerprint = Fingerprint::of(&schema);
            if let Some(twin) = versions.iter().find(|v| v.fingerprint == fingerprint) {
                return Err(SchemaError::DuplicateFingerprint {
                    first: twin.file_name,
                    second: source.file_name,
                    fingerprint,
                });
            }
            // Resolving the names here also means a schema with dangling references never gets
            // into a registry.
            let unresolvable = |e| SchemaError::Parse {
                file_name: source.file_name,
                source: e,
            };
            let resolved = ResolvedSchema::new(&schema).map_err(unresolvable)?;
            let names = if has_refs(&schema) {
                resolved
                    .get_names()
                    .iter()
                    .map(|(name, named)| (name.clone(), Schema::clone(named)))
                    .collect()
            } else {
                Names::new()
            };
            // The reader checks each message's header against this one: the very bytes the
            // registry looks messages up by, not a second fingerprint computed by apache-avro.
            let reader = GenericSingleObjectReader::builder()
                .schema(schema.clone())
                .header(codec::header(fingerprint).to_vec())
                .build()
                .map_err(unresolvable)?;
            versions.push(RegisteredSchema {
                version: source.version,
                file_name: source.file_name,
                fingerprint,
                schema,
                names,
                reader,
            });
        }
        let Some(current) = versions.last() else {
            return Err(SchemaError::Empty);
        };
        for older in &versions[..versions.len() - 1] {
            let incompatible = |reason: String| SchemaError::Incompatible {
                writer: older.file_name,
                reader: current.file_name,
                reason,
            };
            match SchemaCompatibility::can_read(older.schema(), current.schema()) {
                Ok(Compatibility::Full) => {}
                Ok(Compatibility::Partial) => {
                    return Err(incompatible(
                        "only partially compatible (some values would fail to resolve)".into(),
                    ))
                }
                Err(e) => return Err(incompatible(e.to_string())),
            }
        }
        Ok(Self { versions })
    }

    /// The registry of [`SCHEMA_VERSIONS`], used by [`crate::encode_event`] and
    /// [`crate::decode_event`].
    pub fn production() -> &'static SchemaRegistry {
        &PRODUCTION
    }

    /// The version new events are written with, and that older ones are resolved to.
    pub fn current(&self) -> &RegisteredSchema {
        // Indexing is safe: `new` refuses an empty list.
        &self.versions[self.versions.len() - 1]
    }

    /// All versions, oldest first.
    pub fn versions(&self) -> &[RegisteredSchema] {
        &self.versions
    }

    /// The version whose fingerprint is `fingerprint`, if this registry knows it.
    pub fn by_fingerprint(&self, fingerprint: Fingerprint) -> Option<&RegisteredSchema> {
        self.versions.iter().find(|v| v.fingerprint == fingerprint)
    }
}

/// Fingerprints of all production schema versions, oldest first.
pub fn fingerprints() -> Vec<(u32, Fingerprint)> {
    SchemaRegistry::production()
        .versions()
        .iter()
        .map(|v| (v.version, v.fingerprint))
        .collect()
}

/// Fingerprint of the current production schema (the one [`crate::encode_event`] writes).
pub fn current_fingerprint() -> Fingerprint {
    SchemaRegistry::production().current().fingerprint
}

/// Whether `schema` contains a `Schema::Ref`.
fn has_refs(schema: &Schema) -> bool {
    match schema {
        Schema::Ref { .. } => true,
        Schema::Record(record) => record.fields.iter().any(|field| has_refs(&field.schema)),
        Schema::Union(union) => union.variants().iter().any(has_refs),
        Schema::Array(array) => has_refs(&array.items),
        Schema::Map(map) => has_refs(&map.types),
        // Listed rather than `_`, so that an apache-avro upgrade adding a variant that contains
        // schemas fails to compile here instead of silently missing references.
        Schema::Null
        | Schema::Boolean
        | Schema::Int
        | Schema::Long
        | Schema::Float
        | Schema::Double
        | Schema::Bytes
        | Schema::String
        | Schema::Enum(_)
        | Schema::Fixed(_)
        | Schema::Decimal(_)
        | Schema::BigDecimal
        | Schema::Uuid(_)
        | Schema::Date
        | Schema::TimeMillis
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos
        | Schema::Duration(_) => false,
    }
}

#[cfg(test)]
mod tests {
    // A test that cannot unwrap its setup has already failed; panicking says where.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn names_of(json: &'static str) -> Vec<String> {
        let source = SchemaSource {
            version: 1,
            file_name: "test.avsc",
            json,
        };
        let registry = SchemaRegistry::new(&[source]).unwrap();
        let mut names: Vec<String> = registry
            .current()
            .names()
            .keys()
            .map(|name| name.fullname(None))
            .collect();
        names.sort();
        names
    }

    /// A reference needs the map, under the full names apache-avro looks them up by.
    #[test]
    fn a_schema_with_references_keeps_its_named_types() {
        let names = names_of(
            r#"{"type": "record", "name": "R", "namespace": "n", "fields": [
                {"name": "a", "type": {"type": "record", "name": "P", "fields": []}},
                {"name": "b", "type": ["null", {"type": "array", "items": "P"}]}
            ]}"#,
        );
        assert_eq!(names, ["n.P", "n.R"]);
    }

    /// Without references apache-avro never looks a name up, so the codec's per-call map stays
    /// empty and free.
    #[test]
    fn a_schema_without_references_needs_no_names() {
        let names = names_of(
            r#"{"type": "record", "name": "R", "namespace": "n", "fields": [
                {"name": "a", "type": {"type": "record", "name": "P", "fields": []}},
                {"name": "b", "type": ["null", {"type": "array", "items": "string"}]}
            ]}"#,
        );
        assert!(names.is_empty(), "{names:?}");
    }
}
