//! `oot-demo`: relay callbacks built from the contract's values, and a realistic stream of them
//! sent through the ingest endpoint.
//!
//! - [`callback`]: the one builder of callback documents, used by the demo, the end-to-end tests
//!   and the ingest benchmark; its [`callback::sample`]s are the contract's sample callbacks.
//! - [`story`]: the demo stream (four backends, thirty upstream PRs, failures, re-runs, running
//!   jobs, a nightly each) and sending it, as the `oot-demo` binary and `compose/up.sh` do.
//! - [`load`]: N synthetic jobs validated as ingest does and written straight to the event topic
//!   (the `oot-load` binary), to fill a stack for the benchmarks.
//! - [`readiness`]: weeks of history of three backends (eligible for L3, failing two gates at
//!   L3, nightly only), written to the event topic as ingest would have logged it, so the
//!   readiness scorecard has something to judge.
//! - [`rng`]: the one seeded random source of all of these and of the benchmarks.

pub mod callback;
pub mod load;
pub mod readiness;
pub mod rng;
pub mod story;

pub use story::{plan, send, send_demo, DemoPlan, DemoReport, DEFAULT_CONCURRENCY};
