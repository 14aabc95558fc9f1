//! How the callbacks of one job become one job record (contract section 3). Pure: no I/O.
//!
//! # The rule
//!
//! A job (one `job_key`) receives a few callbacks: normally one `in_progress` and one
//! `completed`, but the relay may deliver any of them twice, in any order, and its sweeper may
//! add a `completed`/`timed_out` for a job it believes lost. The job record is decided by the
//! *content* of the callbacks received, never by the order they arrived in or how often:
//!
//! 1. **Callbacks are ranked**, most final first:
//!    - a `completed` callback with a real conclusion (`success`, `failure`, `cancelled`, ...);
//!    - a `completed` callback with conclusion `timed_out`. The sweeper's synthetic timeout
//!      must not hide the job's real result when that arrives late, so a real conclusion
//!      always outranks a timeout, whichever came first;
//!    - an `in_progress` callback. A late or repeated `in_progress` therefore never turns a
//!      finished job back into a running one.
//!
//!    Within one of these groups the callback with the later time wins (`completed_at`, or
//!    `started_at` between two `in_progress`). Two callbacks that differ in content yet tie on
//!    both are ordered by a SHA-256 digest of their content: arbitrary, but fixed, so every
//!    store and every replay picks the same one. Duplicate deliveries of one callback have the
//!    same content, so their delivery ids and receive times do not matter.
//!
//! 2. **Each field is taken from the highest-ranked callback that carries it.** A callback that
//!    lacks a field (null, or an empty list) never clears it: `started_at` and `queue_time`
//!    from `in_progress` survive the `completed` that carries nulls for them, and
//!    `execution_time` from `completed` survives a late `in_progress`. One consequence: if two
//!    *different* real completions were ever received for one job, a field that only the
//!    lower-ranked one reported (say, its failed tests) stays in the record beside the winner's
//!    conclusion. Nothing is lost, and the contract does not expect two real completions.
//!
//! 3. `first_seen_at` is the earliest time we received any callback of the job.
//!
//! A re-run (higher `run_attempt`) has its own `check_run_id`, hence its own `job_key` and its
//! own record; records of different jobs are never merged ([`JobKeyMismatch`]).
//!
//! # Why it can be merged one callback at a time
//!
//! Each field keeps the [`Rank`] of the callback it came from ([`Sourced`]), and merging two
//! records takes per field the value of higher rank: a maximum over a total order. That makes
//! [`JobRecord::merge`] commutative, associative and idempotent (a join-semilattice), so the
//! projector can merge each delivery into the stored record, a replay can merge the log into
//! whatever is stored, and all end with the record that merging every callback at once gives.
//! No past callback needs to be kept. The property tests in `proptests.rs` check exactly this.
//!
//! # Failed tests in DynamoDB
//!
//! ClickHouse gets the full list ([`JobRecord::failed_tests_json`]). The DynamoDB item, limited
//! to 400 KB, gets a [`JobRecord::bounded`] copy whose list fits
//! [`DYNAMODB_FAILED_TESTS_BUDGET`] bytes: stack traces go first, then messages, then entries
//! from the end, each cut marked (see [`FailedTests::bounded`]). Bounding keeps the rank and
//! commutes with merging, so the stored copy stays exactly what a replay would write.

mod canon;
mod failed;
mod rank;
mod record;
mod stored;

#[cfg(test)]
pub(crate) mod proptests;
#[cfg(test)]
pub(crate) mod tests;

pub use failed::{failed_tests_json, FailedTests, DYNAMODB_FAILED_TESTS_BUDGET};
pub use rank::{Rank, Sourced, Stage};
pub use record::{
    merge_callbacks, merge_event, InvalidEvent, JobKeyMismatch, JobRecord, JobView, Merged, Refused,
};
pub use stored::{from_stored, to_stored};
