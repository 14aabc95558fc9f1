//! Cost of `validate_callback` per body, on the contract's three fixtures, beside the floor it
//! cannot go below while it parses to a `serde_json::Value`: `serde_json::from_slice` alone,
//! measured in the same run so the numbers compare.
//!
//! ```sh
//! cargo bench -p oot-ingest --bench validate
//! BENCH_ITERS=1000000 cargo bench -p oot-ingest --bench validate
//! ```
//!
//! Each case runs `BENCH_ITERS` (default 200,000) calls in 10 batches after a warm-up; the
//! median batch is reported (less sensitive to a noisy neighbour than the mean), with the
//! fastest batch beside it.

use std::hint::black_box;
use std::time::Instant;

use oot_ingest::callback::{validate_callback, Limits};
use serde_json::Value;

// The service runs on mimalloc (see `main.rs`); validation is allocation-heavy, so measuring
// with the system allocator would misstate what the endpoint pays.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FIXTURES: [(&str, &str); 3] = [
    (
        "completed",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/completed.json"
        )),
    ),
    (
        "in_progress",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/in_progress.json"
        )),
    ),
    (
        "nightly_completed",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/nightly_completed.json"
        )),
    ),
];

const BATCHES: usize = 10;

/// Median and minimum ns per call of `f` over `iters` calls.
fn time(iters: usize, mut f: impl FnMut()) -> (f64, f64) {
    let per_batch = (iters / BATCHES).max(1);
    for _ in 0..per_batch.min(10_000) {
        f();
    }
    let mut batches: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            start.elapsed().as_nanos() as f64 / per_batch as f64
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    (batches[BATCHES / 2], batches[0])
}

fn main() {
    let iters: usize = std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let limits = Limits::default();
    println!("{iters} iterations per case; ns/op as median (min) of {BATCHES} batches");
    println!(
        "{:<20} {:>18} {:>22} {:>10}",
        "fixture", "validate_callback", "from_slice::<Value>", "overhead"
    );
    for (name, text) in FIXTURES {
        let body = text.as_bytes();
        // A fixture that stopped validating would make the timing meaningless.
        validate_callback(body, &limits).expect("fixture validates");
        let (validate, validate_min) = time(iters, || {
            black_box(validate_callback(black_box(body), &limits)).ok();
        });
        let (parse, parse_min) = time(iters, || {
            black_box(serde_json::from_slice::<Value>(black_box(body))).ok();
        });
        println!(
            "{name:<20} {:>18} {:>22} {:>10}",
            format!("{validate:.0} ({validate_min:.0})"),
            format!("{parse:.0} ({parse_min:.0})"),
            format!("{:.0}", validate - parse),
        );
    }
}
