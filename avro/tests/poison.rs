//! Whatever bytes arrive on the topic, decoding returns an error naming the problem and never
//! panics: the projector dead-letters on these errors.

// A test that cannot unwrap its setup has already failed; panicking says where.
#![allow(clippy::unwrap_used)]

mod common;

use oot_avro::{
    current_fingerprint, decode_event, decode_value_with, encode_event, CallbackEvent, DecodeError,
    SchemaRegistry,
};
use proptest::prelude::*;

fn header() -> Vec<u8> {
    let mut h = vec![0xC3, 0x01];
    h.extend_from_slice(&current_fingerprint().to_le_bytes());
    h
}

#[test]
fn short_inputs_are_truncated_headers() {
    for input in [&[][..], &[0xC3], &[0xC3, 0x01], &header()[..9]] {
        match decode_event(input) {
            Err(DecodeError::TruncatedHeader { len }) => assert_eq!(len, input.len()),
            other => panic!("{input:02x?}: expected TruncatedHeader, got {other:?}"),
        }
    }
}

#[test]
fn wrong_marker_is_bad_marker() {
    let json = br#"{"trusted":{}}"#;
    // A Confluent schema-registry frame: magic 0, 4-byte schema id, datum.
    let confluent = [0x00, 0, 0, 0, 42, 2, b'a'];
    let mut swapped = encode_event(&common::minimal_event()).unwrap();
    swapped.swap(0, 1);
    for input in [&json[..], &confluent, &swapped, &[0xC3, 0x02]] {
        match decode_event(input) {
            Err(DecodeError::BadMarker { found }) => assert_eq!(found, [input[0], input[1]]),
            other => panic!("{input:02x?}: expected BadMarker, got {other:?}"),
        }
    }
}

#[test]
fn unknown_fingerprint_is_reported_with_its_value() {
    let mut bytes = encode_event(&common::minimal_event()).unwrap();
    bytes[2] ^= 0xFF;
    let expected = u64::from_le_bytes(bytes[2..10].try_into().unwrap());
    match decode_event(&bytes) {
        Err(DecodeError::UnknownFingerprint { fingerprint }) => {
            assert_eq!(fingerprint.value(), expected);
        }
        other => panic!("expected UnknownFingerprint, got {other:?}"),
    }
}

#[test]
fn every_strict_prefix_is_truncated() {
    for event in [common::full_event(), common::minimal_event()] {
        let bytes = encode_event(&event).unwrap();
        for len in 10..bytes.len() {
            match decode_event(&bytes[..len]) {
                Err(DecodeError::Truncated { writer_version: 1 }) => {}
                other => panic!("prefix of {len}/{} bytes: got {other:?}", bytes.len()),
            }
        }
    }
}

#[test]
fn header_without_datum_is_truncated() {
    assert!(matches!(
        decode_event(&header()),
        Err(DecodeError::Truncated { .. })
    ));
}

#[test]
fn extra_bytes_after_the_datum_are_trailing_bytes() {
    let mut bytes = encode_event(&common::minimal_event()).unwrap();
    bytes.extend_from_slice(b"xyz");
    match decode_event(&bytes) {
        Err(DecodeError::TrailingBytes {
            writer_version: 1,
            count: 3,
        }) => {}
        other => panic!("expected TrailingBytes, got {other:?}"),
    }
}

#[test]
fn invalid_datum_is_corrupt() {
    // event_id's length is zigzag -1.
    let mut negative_len = header();
    negative_len.extend_from_slice(&[0x01, b'a']);
    // event_id is one byte of invalid UTF-8.
    let mut bad_utf8 = header();
    bad_utf8.extend_from_slice(&[0x02, 0xFF]);
    // A varint longer than 10 bytes.
    let mut overlong = header();
    overlong.extend_from_slice(&[0xFF; 11]);
    // event_id claims 2^62 bytes: refused by the allocation limit before reading.
    let mut huge = header();
    huge.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    for input in [negative_len, bad_utf8, overlong, huge] {
        match decode_event(&input) {
            Err(DecodeError::Corrupt {
                writer_version: 1, ..
            }) => {}
            other => panic!("{input:02x?}: expected Corrupt, got {other:?}"),
        }
    }
}

#[test]
fn bad_union_index_is_corrupt() {
    let event = common::minimal_event();
    let bytes = encode_event(&event).unwrap();
    // Fields before the first union: event_id, received_at, job_key, verified_repo. Rebuild that
    // prefix to find the offset of downstream_repo_level's branch index.
    let zigzag = |n: i64| {
        let mut z = ((n << 1) ^ (n >> 63)) as u64;
        let mut out = vec![];
        loop {
            let byte = (z & 0x7F) as u8;
            z >>= 7;
            if z == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out
    };
    let string = |s: &str| {
        let mut out = zigzag(s.len() as i64);
        out.extend_from_slice(s.as_bytes());
        out
    };
    let mut prefix = header();
    prefix.extend(string(&event.event_id));
    prefix.extend(zigzag(event.received_at));
    prefix.extend(string(&event.job_key));
    prefix.extend(string(&event.verified_repo));
    assert_eq!(&bytes[..prefix.len()], &prefix[..]);
    assert_eq!(
        bytes[prefix.len()],
        0x00,
        "null branch of downstream_repo_level"
    );

    let mut corrupt = bytes.clone();
    corrupt[prefix.len()] = zigzag(7)[0];
    match decode_event(&corrupt) {
        Err(DecodeError::Corrupt {
            writer_version: 1, ..
        }) => {}
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn errors_have_readable_messages() {
    let err = decode_event(b"{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "not an Avro single-object message: starts with [7b, 7d], expected c3 01"
    );
    let err = decode_event(&header()[..4]).unwrap_err();
    assert!(err.to_string().contains("4 bytes"), "{err}");
}

/// What the `Value`-tree decoder (the reference that `decode_event` short-cuts for current-version
/// messages) makes of `bytes`, errors as text. Debug-formatted: a mutated double may be NaN.
fn reference_decode(bytes: &[u8]) -> String {
    let result = decode_value_with(SchemaRegistry::production(), bytes).and_then(|value| {
        apache_avro::from_value::<CallbackEvent>(&value).map_err(DecodeError::Mapping)
    });
    format!("{:?}", result.map_err(|e| e.to_string()))
}

fn direct_decode(bytes: &[u8]) -> String {
    format!("{:?}", decode_event(bytes).map_err(|e| e.to_string()))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_event(&bytes);
    }

    #[test]
    fn arbitrary_datum_after_a_valid_header_never_panics(
        datum in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut bytes = header();
        bytes.extend_from_slice(&datum);
        let _ = decode_event(&bytes);
    }

    #[test]
    fn mutated_valid_messages_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode_event(&common::full_event()).unwrap();
        for (at, byte) in edits {
            let i = at.index(bytes.len() - 10) + 10;
            bytes[i] = byte;
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep.max(10));
        let _ = decode_event(&bytes);
    }

    /// Damaged messages get the same verdict (the same event, or the same error) from the direct
    /// decoder as from the reference: the direct path must not accept what the reference refuses.
    #[test]
    fn mutated_messages_decode_like_the_value_path(
        event in prop_oneof![Just(common::full_event()), Just(common::minimal_event())],
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        cut_it in any::<bool>(),
    ) {
        let mut bytes = encode_event(&event).unwrap();
        for (at, byte) in edits {
            let i = at.index(bytes.len() - 10) + 10;
            bytes[i] = byte;
        }
        if cut_it {
            bytes.truncate(cut.index(bytes.len() + 1).max(10));
        }
        prop_assert_eq!(direct_decode(&bytes), reference_decode(&bytes));
    }
}
