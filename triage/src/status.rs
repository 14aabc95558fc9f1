//! New, known or fixed: a failing test's status in a slot (docs/contract.md §12.5). Reads
//! latest attempts only (§12.3).
//!
//! A test is **failing in the window** in slot S when the latest attempt of some run of S first
//! seen in the window failed it; the earliest such job is its **first failure** F.
//!
//! - **Baseline**: the last nightly of S's series (§12.4) before F in job order (an earlier
//!   second, or the same second and a lower job key); if none is before F, the first nightly of
//!   the series (F itself or later: without history, "failing on main too" is the best
//!   answer); if S has no nightly at all, none.
//! - **fixed**: the window has a latest nightly L of S, L passed the test, a nightly of the
//!   series from the baseline on and before L failed it, and no latest attempt of S after L
//!   failed it. The failing nightly must be at or after the baseline so that a test fixed long
//!   ago and now failing on a PR is not called fixed, and the answer does not depend on how
//!   much history before the baseline the store passed.
//! - **known**: not fixed, and the baseline failed the test.
//! - **new**: otherwise: the baseline passed it, said nothing about it (no counts, stopped part
//!   way), or there is no baseline.
//!
//! Precedence: fixed, then known, then new; each (test, slot) has exactly one status.

use serde::{Deserialize, Serialize};

use crate::index::{Index, Pos, SlotNo, TestNo};
use crate::passed::TestResult;

/// A failing test's status; the order is the summary's (new first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    Known,
    Fixed,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::New, Status::Known, Status::Fixed];

    /// The word of the JSON, the CSV and the query string (as serde writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Known => "known",
            Status::Fixed => "fixed",
        }
    }

    /// The status [`Status::as_str`] names, exactly.
    pub fn parse(word: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == word)
    }
}

/// A failing test's status in a slot and what decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Judged {
    pub status: Status,
    pub baseline: Option<Pos>,
    /// The first and the last latest attempt of the window that failed the test.
    pub first_failure: Pos,
    pub last_failure: Pos,
}

/// The status of `test` in `slot` from the jobs that failed it (`failing`: every attempt,
/// ascending); `None` when it is not failing in the window starting at `window_start`.
pub(crate) fn judge(
    index: &Index<'_>,
    test: TestNo,
    slot: SlotNo,
    failing: &[Pos],
    window_start: Pos,
) -> Option<Judged> {
    let mut counted = failing
        .iter()
        .copied()
        .filter(|&pos| pos >= window_start && index.latest[pos]);
    let first_failure = counted.next()?;
    let last_failure = counted.next_back().unwrap_or(first_failure);
    let baseline = index.baseline(slot, first_failure);
    let status = if is_fixed(
        index,
        test,
        slot,
        failing,
        baseline,
        last_failure,
        window_start,
    ) {
        Status::Fixed
    } else if baseline.is_some_and(|b| index.result(b, test) == TestResult::Failed) {
        Status::Known
    } else {
        Status::New
    };
    Some(Judged {
        status,
        baseline,
        first_failure,
        last_failure,
    })
}

fn is_fixed(
    index: &Index<'_>,
    test: TestNo,
    slot: SlotNo,
    failing: &[Pos],
    baseline: Option<Pos>,
    last_failure: Pos,
    window_start: Pos,
) -> bool {
    let (Some(&latest_nightly), Some(baseline)) = (index.series(slot).last(), baseline) else {
        return false;
    };
    latest_nightly >= window_start
        && index.result(latest_nightly, test) == TestResult::Passed
        && last_failure < latest_nightly
        && failing
            .iter()
            .any(|&pos| pos >= baseline && pos < latest_nightly && index.in_series(pos))
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_status_reads_back_from_its_word_as_serde_writes_it() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        assert_eq!(Status::parse("New"), None);
    }

    use super::*;
    use crate::observation::{JobResult, Trigger};
    use crate::testkit::{job, slot, test_id, With};

    /// The status of test `t` in slot `ci / test` in the window starting at `since`, and the
    /// key of its baseline.
    fn status(rows: &[JobResult], since: i64) -> Option<(Status, Option<String>)> {
        let index = Index::new(rows);
        let test = index.test_number(&test_id("t"))?;
        let slot = index.slot_number(&slot("test"))?;
        let failing = index.failing(test, slot);
        judge(&index, test, slot, failing, index.window_start(since)).map(|j| {
            (
                j.status,
                j.baseline.map(|b| index.jobs[b].run.job_key.clone()),
            )
        })
    }

    fn is(status: Status, baseline: &str) -> Option<(Status, Option<String>)> {
        Some((status, Some(baseline.to_owned())))
    }

    #[test]
    fn failing_on_a_pr_and_passing_on_the_nightly_before_is_new() {
        let rows = vec![
            job("n1", Trigger::Nightly, 10, &[]),
            job("p", Trigger::PullRequest(1), 20, &["t"]),
        ];
        assert_eq!(status(&rows, 0), is(Status::New, "n1"));
    }

    #[test]
    fn failing_on_the_nightly_before_is_known() {
        let rows = vec![
            job("n0", Trigger::Nightly, 5, &["t"]),
            job("p", Trigger::PullRequest(1), 20, &["t"]),
        ];
        // The baseline may be before the window.
        assert_eq!(status(&rows, 10), is(Status::Known, "n0"));
    }

    #[test]
    fn a_baseline_without_counts_makes_it_new() {
        let rows = vec![
            job("n0", Trigger::Nightly, 5, &[]).no_counts(),
            job("p", Trigger::PullRequest(1), 20, &["t"]),
        ];
        assert_eq!(status(&rows, 10), is(Status::New, "n0"));
    }

    #[test]
    fn without_any_nightly_it_is_new_with_no_baseline() {
        let rows = vec![
            job("p", Trigger::PullRequest(1), 20, &["t"]),
            job("o", Trigger::Other, 30, &["t"]),
        ];
        assert_eq!(status(&rows, 0), Some((Status::New, None)));
    }

    #[test]
    fn without_a_nightly_before_the_first_failure_the_first_nightly_decides() {
        let rows = vec![
            job("p", Trigger::PullRequest(1), 20, &["t"]),
            job("n1", Trigger::Nightly, 30, &["t"]),
        ];
        assert_eq!(status(&rows, 0), is(Status::Known, "n1"));
        let rows = vec![
            job("p", Trigger::PullRequest(1), 20, &["t"]),
            job("n1", Trigger::Nightly, 30, &[]),
        ];
        assert_eq!(status(&rows, 0), is(Status::New, "n1"));
    }

    #[test]
    fn a_first_failure_on_a_nightly_is_compared_with_the_nightly_before_it() {
        let rows = vec![
            job("n1", Trigger::Nightly, 10, &[]),
            job("n2", Trigger::Nightly, 20, &["t"]),
        ];
        assert_eq!(status(&rows, 15), is(Status::New, "n1"));
        // The first nightly failing with no history: it fails on main, so known.
        assert_eq!(status(&rows[1..], 0), is(Status::Known, "n2"));
    }

    #[test]
    fn same_second_ties_go_by_job_key() {
        // n0 failed t; then a nightly that passed it and a PR job that failed it were first
        // seen in the same second: the lower job key is the earlier. (A later failure keeps it
        // from being fixed.)
        let rows = |nightly_key: &str| {
            vec![
                job("n0", Trigger::Nightly, 10, &["t"]),
                job(nightly_key, Trigger::Nightly, 20, &[]),
                job("m-pr", Trigger::PullRequest(1), 20, &["t"]),
                job("later", Trigger::PullRequest(2), 30, &["t"]),
            ]
        };
        assert_eq!(status(&rows("a-nightly"), 15), is(Status::New, "a-nightly"));
        assert_eq!(status(&rows("z-nightly"), 15), is(Status::Known, "n0"));
    }

    #[test]
    fn only_the_latest_attempt_decides_the_status() {
        // The baseline's attempt 1 failed, its attempt 2 passed: the nightly passed.
        let rows = vec![
            job("n1a", Trigger::Nightly, 10, &["t"]).run("n1", 1),
            job("n1b", Trigger::Nightly, 11, &[]).run("n1", 2),
            job("p", Trigger::PullRequest(1), 20, &["t"]),
        ];
        assert_eq!(status(&rows, 15), is(Status::New, "n1b"));
        // A failure a re-run hid is no failure in the window.
        let rows = vec![
            job("p1", Trigger::PullRequest(1), 20, &["t"]).run("p", 1),
            job("p2", Trigger::PullRequest(1), 21, &[]).run("p", 2),
        ];
        assert_eq!(status(&rows, 0), None);
    }

    #[test]
    fn failed_on_a_nightly_and_passing_on_the_latest_is_fixed() {
        let rows = vec![
            job("n0", Trigger::Nightly, 5, &[]),
            job("n1", Trigger::Nightly, 10, &["t"]),
            job("p", Trigger::PullRequest(1), 15, &["t"]),
            job("n2", Trigger::Nightly, 20, &[]),
        ];
        assert_eq!(status(&rows, 8), is(Status::Fixed, "n0"));
    }

    #[test]
    fn fixed_then_failing_again_is_not_fixed() {
        let base = vec![
            job("n0", Trigger::Nightly, 5, &[]),
            job("n1", Trigger::Nightly, 10, &["t"]),
            job("n2", Trigger::Nightly, 20, &[]),
        ];
        let mut on_a_pr = base.clone();
        on_a_pr.push(job("p", Trigger::PullRequest(1), 25, &["t"]));
        assert_eq!(status(&on_a_pr, 8), is(Status::New, "n0"));
        let mut on_the_nightly = base;
        on_the_nightly.push(job("n3", Trigger::Nightly, 30, &["t"]));
        assert_eq!(status(&on_the_nightly, 8), is(Status::New, "n0"));
        // Had n0 failed too, it would be known.
        let mut known = on_the_nightly.clone();
        known[0] = job("n0", Trigger::Nightly, 5, &["t"]);
        assert_eq!(status(&known, 8), is(Status::Known, "n0"));
    }

    #[test]
    fn fixed_needs_the_latest_nightly_to_pass_it_in_the_window() {
        let rows = vec![
            job("n1", Trigger::Nightly, 10, &["t"]),
            job("n2", Trigger::Nightly, 20, &[]).no_counts(),
        ];
        assert_eq!(status(&rows, 0), is(Status::Known, "n1"), "n2 said nothing");
        let rows = vec![
            job("n1", Trigger::Nightly, 10, &["t"]),
            job("p", Trigger::PullRequest(2), 12, &["t"]),
            job("n2", Trigger::Nightly, 11, &[]),
        ];
        assert_eq!(
            status(&rows, 12),
            is(Status::New, "n2"),
            "the latest nightly is before the window"
        );
    }

    #[test]
    fn a_nightly_failure_before_the_baseline_does_not_make_it_fixed() {
        let rows = vec![
            job("n0", Trigger::Nightly, 5, &["t"]),
            job("n1", Trigger::Nightly, 10, &[]),
            job("p", Trigger::PullRequest(1), 15, &["t"]),
            job("n2", Trigger::Nightly, 20, &[]),
        ];
        assert_eq!(status(&rows, 12), is(Status::New, "n1"));
    }

    #[test]
    fn a_test_failing_only_on_prs_is_never_fixed() {
        let rows = vec![
            job("n1", Trigger::Nightly, 10, &[]),
            job("p", Trigger::PullRequest(1), 15, &["t"]),
            job("n2", Trigger::Nightly, 20, &[]),
        ];
        assert_eq!(status(&rows, 0), is(Status::New, "n1"));
    }

    #[test]
    fn a_test_failing_in_another_slot_is_judged_there() {
        let rows = vec![
            job("n1", Trigger::Nightly, 10, &["t"]).slot("other"),
            job("p", Trigger::PullRequest(1), 15, &["t"]),
        ];
        assert_eq!(status(&rows, 0), Some((Status::New, None)));
    }
}
