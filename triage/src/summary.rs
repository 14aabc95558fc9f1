//! A backend's failing tests in a window (docs/contract.md §12.10): one row per (test,
//! slot) failing in the window (§12.5: a latest attempt first seen in the window failed it).
//! A test whose every failure a re-run hid is not failing (its runs passed, as rates count them,
//! §11.2); [`crate::flaky_tests`] lists it.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::flaky::{flaky_shas, nightly_flips, FlipScore};
use crate::index::{Index, Pos, SlotNo, TestNo, Window};
use crate::observation::{JobRef, JobResult, JobSlot, TestId};
use crate::status::{judge, Status};

/// One failing test of the backend in one slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailingTest {
    pub test: TestId,
    pub slot: JobSlot,
    pub status: Status,
    /// The nightly the status compared with (§12.5); none when the slot has no nightly.
    pub baseline: Option<JobRef>,
    /// Runs of the slot in the window whose latest attempt failed the test.
    pub runs_failed: u64,
    /// Runs of the slot in the window (latest attempts first seen in it), whatever they did.
    pub runs_of_job: u64,
    /// Distinct upstream PRs among the failed runs.
    pub prs_hit: u64,
    /// Those PRs' numbers, ascending (`prs_hit` of them).
    pub prs: Vec<u64>,
    /// `first_seen_at` of the first and last failed runs' latest attempts.
    pub first_failure_at: i64,
    pub last_failure_at: i64,
    /// §12.6: it failed and passed on one commit in the window (every attempt counts).
    pub flaky: bool,
    pub flip: FlipScore,
}

/// The failing tests of the backend in the window starting at `since`, in [`summary_order`].
/// `observations` are the backend's completed jobs of the window and, for the baselines, its
/// earlier nightlies.
pub fn failing_tests(observations: &[JobResult], since: i64) -> Vec<FailingTest> {
    let index = Index::new(observations);
    let window = Window::new(&index, since);
    let mut rows: Vec<FailingTest> = index
        .failures()
        .filter_map(|(test, slot, failing)| failing_test(&index, &window, test, slot, failing))
        .collect();
    rows.sort_by(summary_order);
    rows
}

/// The summary's order: new first, then known, then fixed; within a status the most failed
/// runs first; then by test (classname, name), then by slot (workflow, job), so the order is
/// total.
pub fn summary_order(a: &FailingTest, b: &FailingTest) -> Ordering {
    a.status
        .cmp(&b.status)
        .then(b.runs_failed.cmp(&a.runs_failed))
        .then_with(|| a.test.cmp(&b.test))
        .then_with(|| a.slot.cmp(&b.slot))
}

fn failing_test(
    index: &Index<'_>,
    window: &Window,
    test: TestNo,
    slot: SlotNo,
    failing: &[Pos],
) -> Option<FailingTest> {
    let judged = judge(index, test, slot, failing, window.start)?;
    let failed_runs: Vec<Pos> = failing
        .iter()
        .copied()
        .filter(|&pos| pos >= window.start && index.latest[pos])
        .collect();
    let prs_hit: BTreeSet<u64> = failed_runs
        .iter()
        .filter_map(|&pos| index.jobs[pos].pr())
        .collect();
    Some(FailingTest {
        test: index.tests[test as usize].clone(),
        slot: index.slots[slot as usize].clone(),
        status: judged.status,
        baseline: judged.baseline.map(|pos| JobRef::of(index.jobs[pos])),
        runs_failed: failed_runs.len() as u64,
        runs_of_job: window.runs(slot),
        prs_hit: prs_hit.len() as u64,
        prs: prs_hit.into_iter().collect(),
        first_failure_at: index.jobs[judged.first_failure].run.first_seen_at,
        last_failure_at: index.jobs[judged.last_failure].run.first_seen_at,
        flaky: !flaky_shas(index, window, slot, failing).is_empty(),
        flip: nightly_flips(index, window, slot, failing),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{job, With};
    use crate::Trigger;

    fn names(rows: &[FailingTest]) -> Vec<(&str, &str, Status)> {
        rows.iter()
            .map(|r| (r.test.name.as_str(), r.slot.job_name.as_str(), r.status))
            .collect()
    }

    #[test]
    fn new_first_then_known_then_fixed_then_most_failed_then_name() {
        let rows = vec![
            job("n0", Trigger::Nightly, 5, &["known", "gone"]),
            job("p1", Trigger::PullRequest(1), 10, &["known", "b", "a"]),
            job("p2", Trigger::PullRequest(2), 11, &["b"]),
            job("p3", Trigger::PullRequest(2), 12, &["known"]),
            job("n1", Trigger::Nightly, 20, &["known"]),
            job("x1", Trigger::PullRequest(3), 10, &["a"]).slot("other"),
        ];
        let summary = failing_tests(&rows, 8);
        assert_eq!(
            names(&summary),
            [
                ("b", "test", Status::New),
                ("a", "other", Status::New),
                ("a", "test", Status::New),
                ("known", "test", Status::Known),
            ]
        );
        let gone = failing_tests(&rows, 0);
        assert_eq!(
            names(&gone).last(),
            Some(&("gone", "test", Status::Fixed)),
            "gone failed on n0 only, n1 passed it"
        );
    }

    #[test]
    fn counts_are_of_latest_attempts_in_the_window() {
        let rows = vec![
            job("old", Trigger::PullRequest(9), 1, &["t"]),
            job("n0", Trigger::Nightly, 5, &[]),
            job("a1", Trigger::PullRequest(1), 10, &["t"]).run("a", 1),
            job("a2", Trigger::PullRequest(1), 11, &["t"]).run("a", 2),
            job("b1", Trigger::PullRequest(1), 12, &["t"]).run("b", 1),
            job("c1", Trigger::PullRequest(2), 13, &["t"]).run("c", 1),
            job("c2", Trigger::PullRequest(2), 14, &[]).run("c", 2),
            job("d1", Trigger::Other, 15, &["t"]).run("d", 1),
            job("e1", Trigger::Nightly, 16, &[]).no_counts(),
        ];
        let summary = failing_tests(&rows, 8);
        assert_eq!(summary.len(), 1);
        let row = &summary[0];
        assert_eq!(
            (row.runs_failed, row.runs_of_job, row.prs_hit),
            (3, 5, 1),
            "runs a, b, d failed; a, b, c, d, e ran; c's failure was re-run away"
        );
        assert_eq!(row.prs, [1]);
        assert_eq!((row.first_failure_at, row.last_failure_at), (11, 15));
        assert!(row.flaky, "c failed then passed on one commit");
        assert_eq!(row.status, Status::New);
        assert_eq!(
            row.baseline.as_ref().map(|b| b.job_key.as_str()),
            Some("n0")
        );
    }

    #[test]
    fn a_failure_re_run_away_is_not_in_the_summary() {
        let rows = vec![
            job("a1", Trigger::PullRequest(1), 10, &["t"]).run("a", 1),
            job("a2", Trigger::PullRequest(1), 11, &[]).run("a", 2),
        ];
        assert!(failing_tests(&rows, 0).is_empty());
        assert_eq!(crate::flaky_tests(&rows, 0).len(), 1);
    }

    #[test]
    fn a_job_without_counts_still_reports_its_failures() {
        let rows = vec![job("p", Trigger::PullRequest(1), 10, &["t"]).no_counts()];
        let summary = failing_tests(&rows, 0);
        assert_eq!(names(&summary), [("t", "test", Status::New)]);
        assert!(!summary[0].flaky);
    }

    #[test]
    fn the_summary_serializes_for_the_json_endpoints() {
        let rows = vec![job("p", Trigger::PullRequest(1), 10, &["t"])];
        let json = serde_json::to_value(failing_tests(&rows, 0)).unwrap();
        assert_eq!(json[0]["status"], "new");
        assert_eq!(json[0]["test"]["name"], "t");
        assert_eq!(json[0]["baseline"], serde_json::Value::Null);
        assert_eq!(json[0]["flip"]["score"], 0.0);
    }
}
