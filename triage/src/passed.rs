//! What a job says about one test when jobs report only their failures (docs/contract.md
//! §12.2, the "what passed means").
//!
//! - **Failed**: the test is in the job's failed list, whatever the job's conclusion (a listed
//!   test did fail, even in a cancelled job).
//! - **Passed**: the test is not in the list, the job reported counts that its list covers
//!   ([`JobResult::reported_counts`]) and its test run reached its end (conclusion `success` or
//!   `failure`). "Passed" here is "did not fail": a skipped test is not listed either.
//! - **Unknown**: otherwise. A job without counts, with a cut list, or stopped part way says
//!   nothing about the tests it does not list.

use serde::{Deserialize, Serialize};

use crate::observation::{JobResult, TestId};

/// A test's result in one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestResult {
    Passed,
    Failed,
    Unknown,
}

impl TestResult {
    pub fn is_known(self) -> bool {
        self != TestResult::Unknown
    }
}

/// Whether a test missing from the job's failed list passed in it.
pub fn reports_passes(job: &JobResult) -> bool {
    job.reported_counts && job.outcome.ran_to_the_end()
}

/// The test's result in the job (module docs).
pub fn result_of(job: &JobResult, test: &TestId) -> TestResult {
    if job.failed.contains(test) {
        TestResult::Failed
    } else if reports_passes(job) {
        TestResult::Passed
    } else {
        TestResult::Unknown
    }
}

/// What a store sets [`JobResult::reported_counts`] to: the job reported counts
/// (`failed_count`, its `test_results.failed`) and its list holds at least as many entries.
/// Ingest keeps the first 1,000 entries of a list (contract §4.5): past the cut, a test missing
/// from the list may have failed, so nothing is read into its absence.
pub fn counts_cover_failed_list(failed_count: Option<u64>, listed: usize) -> bool {
    failed_count.is_some_and(|count| u64::try_from(listed).is_ok_and(|listed| count <= listed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{job, test_id, With};
    use crate::{JobOutcome, Trigger};

    #[test]
    fn a_listed_test_failed_whatever_the_job_reported() {
        let cancelled = job("k", Trigger::Nightly, 10, &["a"])
            .outcome(JobOutcome::Cancelled)
            .no_counts();
        assert_eq!(result_of(&cancelled, &test_id("a")), TestResult::Failed);
    }

    #[test]
    fn a_test_missing_from_a_counted_list_passed() {
        let red = job("k", Trigger::Nightly, 10, &["a"]);
        assert_eq!(result_of(&red, &test_id("b")), TestResult::Passed);
        let green = job("k", Trigger::Nightly, 10, &[]).outcome(JobOutcome::Success);
        assert_eq!(result_of(&green, &test_id("b")), TestResult::Passed);
    }

    #[test]
    fn a_job_without_counts_says_nothing_about_tests_it_does_not_list() {
        let silent = job("k", Trigger::Nightly, 10, &["a"]).no_counts();
        assert_eq!(result_of(&silent, &test_id("b")), TestResult::Unknown);
        assert_eq!(result_of(&silent, &test_id("a")), TestResult::Failed);
    }

    #[test]
    fn a_job_stopped_part_way_says_nothing_about_tests_it_does_not_list() {
        for outcome in [
            JobOutcome::TimedOut,
            JobOutcome::Cancelled,
            JobOutcome::Other,
        ] {
            let stopped = job("k", Trigger::Nightly, 10, &[]).outcome(outcome);
            assert_eq!(
                result_of(&stopped, &test_id("b")),
                TestResult::Unknown,
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn a_cut_list_does_not_cover_its_counts() {
        assert!(counts_cover_failed_list(Some(0), 0));
        assert!(counts_cover_failed_list(Some(3), 3));
        assert!(
            counts_cover_failed_list(Some(2), 3),
            "a list may name more entries than the count, e.g. errors"
        );
        assert!(!counts_cover_failed_list(Some(5000), 1000));
        assert!(!counts_cover_failed_list(None, 0));
    }
}
