//! The header's fingerprint is the spec's CRC-64-AVRO (Rabin) of the schema's Parsing Canonical
//! Form, checked against an implementation written here from the Avro specification rather than
//! against apache-avro itself.

// A test that cannot unwrap its setup has already failed; panicking says where.
#![allow(clippy::unwrap_used)]

mod common;

use oot_avro::{current_fingerprint, encode_event, fingerprints, SchemaRegistry};

/// CRC-64-AVRO as given in the Avro specification ("Schema Fingerprints").
fn crc64_avro(data: &[u8]) -> u64 {
    const EMPTY: u64 = 0xc15d_213a_a4d7_a795;
    let mut table = [0u64; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut fp = i as u64;
        for _ in 0..8 {
            fp = (fp >> 1) ^ (EMPTY & (fp & 1).wrapping_neg());
        }
        *slot = fp;
    }
    data.iter().fold(EMPTY, |fp, &b| {
        (fp >> 8) ^ table[((fp ^ u64::from(b)) & 0xff) as usize]
    })
}

#[test]
fn reference_implementation_matches_spec_test_vectors() {
    // From the Avro repository's share/test/data/schema-tests.txt.
    assert_eq!(crc64_avro(br#""null""#) as i64, 7195948357588979594);
    assert_eq!(crc64_avro(br#""boolean""#) as i64, -6970731678124411036);
    assert_eq!(
        crc64_avro(br#"{"name":"foo","type":"fixed","size":15}"#) as i64,
        1756455273707447556
    );
}

#[test]
fn header_fingerprint_is_rabin_of_canonical_form() {
    let current = SchemaRegistry::production().current();
    let canonical = current.canonical_form();
    let expected = crc64_avro(canonical.as_bytes());

    assert_eq!(current.fingerprint().value(), expected);
    assert_eq!(current_fingerprint().value(), expected);

    let bytes = encode_event(&common::full_event()).unwrap();
    let header_fp = u64::from_le_bytes(bytes[2..10].try_into().unwrap());
    assert_eq!(header_fp, expected);
}

#[test]
fn canonical_form_keeps_structure_and_drops_docs_and_defaults() {
    let canonical = SchemaRegistry::production().current().canonical_form();
    assert!(canonical.starts_with(r#"{"name":"dev.oothud.CallbackEvent","type":"record""#));
    assert!(canonical.contains(r#""name":"dev.oothud.FailedTest""#));
    for stripped in [r#""doc""#, r#""default""#, r#""logicalType""#] {
        assert!(!canonical.contains(stripped), "{stripped} in {canonical}");
    }
}

#[test]
fn every_registered_version_has_its_own_fingerprint() {
    let registry = SchemaRegistry::production();
    let listed = fingerprints();
    assert_eq!(listed.len(), registry.versions().len());
    for (version, fp) in listed {
        let schema = registry.by_fingerprint(fp).unwrap();
        assert_eq!(schema.version(), version);
        assert_eq!(fp.value(), crc64_avro(schema.canonical_form().as_bytes()));
    }
}
