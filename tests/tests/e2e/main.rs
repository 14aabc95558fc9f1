//! The end-to-end tests, one binary (one link, one copy of the workspace in the target dir) with
//! a module per area. They run against the local stack (`compose/stack.sh up`); see
//! `tests/src/lib.rs` for the helpers.
//!
//! The tests that disturb the stack are `#[ignore]`d and run by name from `compose/test.sh`:
//! `pages::` (headless Chromium), `outages::` (stop servers; one at a time) and
//! `persistence::` (around a stack restart), e.g.
//! `cargo test -p oot-e2e --test e2e -- --ignored outages:: --test-threads=1`.

mod alerts;
mod bounded;
mod compose_file;
mod deliveries;
mod demo;
mod drills;
mod exports;
mod failed_tests;
mod failing_tests;
mod ingest;
mod load;
mod metrics;
mod nightly;
mod outages;
mod pages;
mod parking;
mod persistence;
mod pr_triage;
mod projector;
mod projector_restart;
mod query;
mod read_model;
mod release_diff;
mod running_index;
mod scorecard;
mod services;
mod stack_smoke;
mod storable;
mod test_history;
mod trends;
