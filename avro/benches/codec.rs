//! Times `encode_event` and `decode_event` on the full sample event against the original codec
//! path (serde -> `Value` tree -> `resolve` -> a writer/reader built per call), reimplemented
//! here so that both figures come from the same run on the same machine.
//!
//! `CARGO_TARGET_DIR=/tmp/target-avro cargo bench -p oot-avro --bench codec`
//! (optional first argument: iterations, default 200000).

// A bench that cannot set up has nothing to measure; panicking says where.
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use oot_avro::{
    apache_avro::{self, reader::datum::GenericDatumReader, writer::datum::GenericDatumWriter},
    codec::{HEADER_LEN, MARKER},
    decode_event, encode_event, CallbackEvent, SchemaRegistry,
};

/// The encoder as it was before the writer and schema names were cached: a `Value` tree from
/// serde, resolved to the schema, written by a writer built (names resolved) per call.
fn baseline_encode(event: &CallbackEvent) -> Vec<u8> {
    let current = SchemaRegistry::production().current();
    let value = apache_avro::to_value(event)
        .unwrap()
        .resolve(current.schema())
        .unwrap();
    let writer = GenericDatumWriter::builder(current.schema())
        .build()
        .unwrap();
    let mut out = Vec::with_capacity(HEADER_LEN + 512);
    out.extend_from_slice(&MARKER);
    out.extend_from_slice(&current.fingerprint().to_le_bytes());
    writer.write_value(&mut out, value).unwrap();
    out
}

/// The decoder as it was: a reader built per call, a `Value` tree, then `from_value`. Only the
/// current-version case is timed (no resolution), as in production today.
fn baseline_decode(bytes: &[u8]) -> CallbackEvent {
    let registry = SchemaRegistry::production();
    let fingerprint = oot_avro::read_fingerprint(bytes).unwrap();
    let writer = registry.by_fingerprint(fingerprint).unwrap();
    let mut datum = &bytes[HEADER_LEN..];
    let value = GenericDatumReader::builder(writer.schema())
        .build()
        .and_then(|reader| reader.read_value(&mut datum))
        .unwrap();
    assert!(datum.is_empty());
    apache_avro::from_value(&value).unwrap()
}

fn time<T>(iterations: u32, mut f: impl FnMut() -> T) -> Duration {
    // Warm caches, the allocator and the lazily built registry before measuring.
    for _ in 0..iterations / 20 {
        black_box(f());
    }
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(f());
    }
    start.elapsed() / iterations
}

fn main() {
    // `cargo bench` passes `--bench`; the first plain number, if any, is the iteration count.
    let iterations = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    let event = common::full_event();
    let bytes = encode_event(&event).unwrap();
    assert_eq!(bytes, baseline_encode(&event), "encodings differ");
    assert_eq!(decode_event(&bytes).unwrap(), event);
    assert_eq!(baseline_decode(&bytes), event);
    println!(
        "full sample event: {} bytes, {iterations} iterations",
        bytes.len()
    );

    let rows = [
        (
            "encode",
            time(iterations, || baseline_encode(black_box(&event))),
            time(iterations, || encode_event(black_box(&event)).unwrap()),
        ),
        (
            "decode",
            time(iterations, || baseline_decode(black_box(&bytes))),
            time(iterations, || decode_event(black_box(&bytes)).unwrap()),
        ),
    ];
    println!(
        "{:<8} {:>14} {:>14} {:>8}",
        "", "baseline ns/op", "now ns/op", "speedup"
    );
    for (name, before, after) in rows {
        println!(
            "{name:<8} {:>14} {:>14} {:>7.1}x",
            before.as_nanos(),
            after.as_nanos(),
            before.as_secs_f64() / after.as_secs_f64()
        );
    }
}
