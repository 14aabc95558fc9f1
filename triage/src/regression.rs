//! Where on upstream main a test broke (docs/contract.md §12.7).
//!
//! Over the slot's nightly series (§12.4: latest attempts, job order, every nightly passed in,
//! not only the window's), skipping the nightlies that say nothing about the test: when the last
//! known result is a failure, the **current failing streak** is the run of failures ending there;
//! its first nightly's commit is `first_fail`, and the commit of the nightly just before the
//! streak (known, so it passed) is `last_pass`, none when the streak starts the series. When
//! the last known result is a pass, or nothing is known, the test is not failing on main and
//! both are none.
//!
//! A `last_pass` equal to `first_fail` (two nightlies on one commit that disagree) is flakiness,
//! not a regression; the range is still reported as found.

use serde::{Deserialize, Serialize};

use crate::index::{latest_attempts, one_per_key};
use crate::observation::{JobResult, JobSlot, TestId};
use crate::passed::{result_of, TestResult};

/// The commits between which a test started failing on the nightly series.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegressionRange {
    pub last_pass: Option<String>,
    pub first_fail: Option<String>,
}

impl RegressionRange {
    /// The upstream diff of the range, when both ends are known.
    pub fn compare_url(&self) -> Option<String> {
        match (&self.last_pass, &self.first_fail) {
            (Some(last_pass), Some(first_fail)) => Some(compare_url(last_pass, first_fail)),
            _ => None,
        }
    }
}

/// GitHub's diff of upstream PyTorch between two commits.
pub fn compare_url(last_pass: &str, first_fail: &str) -> String {
    format!("https://github.com/pytorch/pytorch/compare/{last_pass}...{first_fail}")
}

/// The regression range of `test` in `slot` (module docs). `observations` may hold other slots
/// and triggers; only the slot's nightly series is read.
pub fn regression_range(
    observations: &[JobResult],
    test: &TestId,
    slot: &JobSlot,
) -> RegressionRange {
    let jobs = one_per_key(observations.iter().filter(|job| &job.slot == slot));
    let latest = latest_attempts(&jobs);
    let known_newest_first = jobs
        .iter()
        .zip(latest)
        .rev()
        .filter(|(job, latest)| *latest && job.is_nightly())
        .map(|(job, _)| (result_of(job, test), &job.run.upstream_sha))
        .filter(|(result, _)| result.is_known());
    let mut first_fail = None;
    for (result, sha) in known_newest_first {
        match result {
            TestResult::Failed => first_fail = Some(sha),
            _ => {
                return RegressionRange {
                    last_pass: first_fail.map(|_| sha.clone()),
                    first_fail: first_fail.cloned(),
                }
            }
        }
    }
    RegressionRange {
        last_pass: None,
        first_fail: first_fail.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{job, slot, test_id, With};
    use crate::Trigger;

    fn range(rows: &[JobResult]) -> (Option<String>, Option<String>) {
        let found = regression_range(rows, &test_id("t"), &slot("test"));
        (found.last_pass, found.first_fail)
    }

    fn shas(last_pass: Option<&str>, first_fail: Option<&str>) -> (Option<String>, Option<String>) {
        (last_pass.map(str::to_owned), first_fail.map(str::to_owned))
    }

    #[test]
    fn the_range_is_the_last_pass_before_the_failing_streak_and_its_first_failure() {
        let rows = vec![
            job("n1", Trigger::Nightly, 10, &["t"]).sha("c1"),
            job("n2", Trigger::Nightly, 20, &[]).sha("c2"),
            job("n3", Trigger::Nightly, 30, &["t"]).sha("c3"),
            job("n4", Trigger::Nightly, 40, &[]).sha("c4").no_counts(),
            job("n5", Trigger::Nightly, 50, &["t"]).sha("c5"),
            job("p", Trigger::PullRequest(1), 35, &[]).sha("c9"),
        ];
        assert_eq!(range(&rows), shas(Some("c2"), Some("c3")));
        assert_eq!(
            regression_range(&rows, &test_id("t"), &slot("test")).compare_url(),
            Some("https://github.com/pytorch/pytorch/compare/c2...c3".to_owned())
        );
    }

    #[test]
    fn a_streak_from_the_start_has_no_last_pass() {
        let rows = vec![
            job("n1", Trigger::Nightly, 10, &["t"]).sha("c1"),
            job("n2", Trigger::Nightly, 20, &["t"]).sha("c2"),
        ];
        assert_eq!(range(&rows), shas(None, Some("c1")));
        assert_eq!(
            regression_range(&rows, &test_id("t"), &slot("test")).compare_url(),
            None
        );
    }

    #[test]
    fn a_test_passing_on_the_last_known_nightly_has_no_range() {
        let rows = vec![
            job("n1", Trigger::Nightly, 10, &["t"]).sha("c1"),
            job("n2", Trigger::Nightly, 20, &[]).sha("c2"),
            job("n3", Trigger::Nightly, 30, &[]).sha("c3").no_counts(),
        ];
        assert_eq!(range(&rows), shas(None, None));
        assert_eq!(range(&[]), shas(None, None));
    }

    #[test]
    fn fixed_then_failing_again_starts_a_new_range() {
        let rows = vec![
            job("n1", Trigger::Nightly, 10, &[]).sha("c1"),
            job("n2", Trigger::Nightly, 20, &["t"]).sha("c2"),
            job("n3", Trigger::Nightly, 30, &[]).sha("c3"),
            job("n4", Trigger::Nightly, 40, &["t"]).sha("c4"),
        ];
        assert_eq!(range(&rows), shas(Some("c3"), Some("c4")));
    }

    #[test]
    fn only_latest_attempts_of_the_slots_nightlies_count() {
        let rows = vec![
            job("n1", Trigger::Nightly, 10, &[]).sha("c1"),
            job("n2a", Trigger::Nightly, 20, &["t"])
                .sha("c2")
                .run("n2", 1),
            job("n2b", Trigger::Nightly, 21, &[]).sha("c2").run("n2", 2),
            job("n3", Trigger::Nightly, 30, &["t"]).sha("c3"),
            job("x", Trigger::Nightly, 40, &[]).sha("c4").slot("other"),
        ];
        assert_eq!(range(&rows), shas(Some("c2"), Some("c3")));
    }

    #[test]
    fn same_second_nightlies_go_by_job_key() {
        let rows = vec![
            job("b", Trigger::Nightly, 10, &["t"]).sha("cb"),
            job("a", Trigger::Nightly, 10, &[]).sha("ca"),
        ];
        assert_eq!(range(&rows), shas(Some("ca"), Some("cb")));
    }
}
