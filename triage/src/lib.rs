//! Test triage for one backend (issue 11, docs/contract.md §12): which tests fail, since
//! when, whether that is new, known or fixed, whether they are flaky, where on upstream main
//! they broke, whether a PR's reds are its own, and what changed between two releases.
//!
//! Pure rules over plain data: the caller (the query service) reads one backend's completed
//! jobs of a window, with their failed tests and the nightlies before it, into [`JobResult`]s,
//! and every function here answers from those alone, in time about linear in their number. No
//! answer depends on the order of the input (ties go by job key).
//!
//! - [`observation`]: the input (a job, its run, its slot, its failed tests) and the job order.
//! - [`passed`]: what a job says about one test when only failures are reported.
//! - [`status`]: new, known or fixed against the baseline nightly.
//! - [`flaky`]: failed and passed on one commit; the flip score over the nightlies.
//! - [`regression`]: last passing and first failing nightly commits.
//! - [`pr`]: "is it mine?" for a PR's failing tests.
//! - [`diff`]: one set of nightlies against another.
//! - [`summary`]: the backend's failing tests in a window, sorted new first.
//! - [`history`]: one test's results per job, newest first.

pub mod diff;
pub mod flaky;
pub mod history;
mod index;
pub mod observation;
pub mod passed;
pub mod pr;
pub mod regression;
pub mod status;
pub mod summary;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod testkit;

pub use diff::{release_diff, DiffEntry, DiffSlot, DiffStatus, NightlySet, ReleaseDiff};
pub use flaky::{flaky_tests, flip_score, FlakyTest, FlipScore};
pub use history::{slot_histories, test_history, HistoryPoint, SlotHistory};
pub use observation::{JobOutcome, JobRef, JobResult, JobSlot, RunOf, TestId, Trigger};
pub use passed::{counts_cover_failed_list, reports_passes, result_of, TestResult};
pub use pr::{
    is_it_mine, is_it_mine_counted, other_prs, OtherPrs, PrFailingTest, PrHeadline, PrTriage,
    PrVerdict,
};
pub use regression::{compare_url, regression_range, RegressionRange};
pub use status::Status;
pub use summary::{failing_tests, summary_order, FailingTest};
