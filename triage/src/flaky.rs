//! Flakiness (docs/contract.md §12.6). Both read every attempt, not only the latest: a
//! failure a re-run hid is exactly what flakiness is about.
//!
//! - **Flaky**: a test is flaky in a slot when, on one upstream commit, some job of the slot in
//!   the window failed it and another passed it (§12.2): attempt 1 failed and attempt 2 passed,
//!   or two runs of the same job on one commit, whatever triggered them.
//! - **Flip score**: over the slot's nightly attempts in the window, in job order, the test's
//!   known results (unknowns skipped): transitions between passed and failed divided by (known
//!   results − 1); 0 with fewer than 2 known results. 0 for a constant series, 1 for a strictly
//!   alternating one.

use serde::{Deserialize, Serialize};

use crate::index::{Index, Pos, ShaNo, SlotNo, Window};
use crate::observation::{JobResult, JobSlot, TestId};
use crate::passed::{reports_passes, TestResult};

/// How often a test's nightly result flipped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FlipScore {
    /// Passed→failed and failed→passed changes between consecutive known results.
    pub transitions: u64,
    pub known_results: u64,
    /// `transitions / (known_results - 1)`, in [0, 1]; 0 with fewer than 2 known results.
    pub score: f64,
}

impl FlipScore {
    pub fn new(transitions: u64, known_results: u64) -> FlipScore {
        let score = match known_results.checked_sub(1) {
            Some(gaps) if gaps > 0 => transitions as f64 / gaps as f64,
            _ => 0.0,
        };
        FlipScore {
            transitions,
            known_results,
            score,
        }
    }
}

/// The flip score of a series of results, oldest first.
pub fn flip_score(results: impl IntoIterator<Item = TestResult>) -> FlipScore {
    let mut known_results = 0;
    let mut transitions = 0;
    let mut previous = None;
    for result in results.into_iter().filter(|r| r.is_known()) {
        known_results += 1;
        if previous.is_some_and(|p| p != result) {
            transitions += 1;
        }
        previous = Some(result);
    }
    FlipScore::new(transitions, known_results)
}

/// A test flaky in a slot in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlakyTest {
    pub test: TestId,
    pub slot: JobSlot,
    /// The commits it both failed and passed on, sorted.
    pub shas: Vec<String>,
    pub flip: FlipScore,
}

/// Every (test, slot) flaky in the window starting at `since`, by test then slot. It includes
/// tests whose every failure a re-run hid, which the failing-tests summary leaves out.
pub fn flaky_tests(observations: &[JobResult], since: i64) -> Vec<FlakyTest> {
    let index = Index::new(observations);
    let window = Window::new(&index, since);
    let mut flaky: Vec<FlakyTest> = index
        .failures()
        .filter_map(|(test, slot, failing)| {
            let shas = flaky_shas(&index, &window, slot, failing);
            (!shas.is_empty()).then(|| FlakyTest {
                test: index.tests[test as usize].clone(),
                slot: index.slots[slot as usize].clone(),
                shas: shas.into_iter().map(str::to_owned).collect(),
                flip: nightly_flips(&index, &window, slot, failing),
            })
        })
        .collect();
    flaky.sort_by(|a, b| (&a.test, &a.slot).cmp(&(&b.test, &b.slot)));
    flaky
}

/// The commits (sorted) on which the window's jobs of `slot` both failed and passed a test,
/// given the jobs that failed it (`failing`, ascending): a commit where more jobs report passes
/// than there are reporting jobs that failed it has a job that passed it.
pub(crate) fn flaky_shas<'a>(
    index: &Index<'a>,
    window: &Window,
    slot: SlotNo,
    failing: &[Pos],
) -> Vec<&'a str> {
    let in_window = &failing[failing.partition_point(|&pos| pos < window.start)..];
    let mut failures_by_sha: Vec<(ShaNo, bool)> = in_window
        .iter()
        .map(|&pos| (index.sha_of[pos], reports_passes(index.jobs[pos])))
        .collect();
    failures_by_sha.sort_unstable();
    let mut shas: Vec<&str> = failures_by_sha
        .chunk_by(|a, b| a.0 == b.0)
        .filter_map(|same_sha| {
            let sha = same_sha.first()?.0;
            let reporting_failures = same_sha.iter().filter(|(_, reports)| *reports).count() as u64;
            (window.reporting_on_sha(slot, sha) > reporting_failures).then(|| index.sha(sha))
        })
        .collect();
    shas.sort_unstable();
    shas
}

/// The flip score of a test over the window's nightly attempts of `slot`, from the jobs that
/// failed it (`failing`, ascending), without reading every nightly: the known results are the
/// attempts that report passes plus the failing ones that do not, and each failure's place
/// among them (its rank) tells where the failed stretches are.
pub(crate) fn nightly_flips(
    index: &Index<'_>,
    window: &Window,
    slot: SlotNo,
    failing: &[Pos],
) -> FlipScore {
    let reporting = window.reporting_nightly_attempts(slot);
    let in_window = &failing[failing.partition_point(|&pos| pos < window.start)..];
    let mut silent_failures_before = 0u64;
    let mut failed_ranks = Vec::new();
    for &pos in in_window {
        let job = index.jobs[pos];
        if !job.is_nightly() {
            continue;
        }
        let reporting_before = reporting.partition_point(|&r| r < pos) as u64;
        failed_ranks.push(reporting_before + silent_failures_before);
        if !reports_passes(job) {
            silent_failures_before += 1;
        }
    }
    let known_results = reporting.len() as u64 + silent_failures_before;
    FlipScore::new(
        transitions_around(&failed_ranks, known_results),
        known_results,
    )
}

/// The transitions of a series of `known` results that failed exactly at `failed_ranks`
/// (ascending, each < `known`) and passed elsewhere: each transition touches one failure, on
/// the side where its neighbour passed.
fn transitions_around(failed_ranks: &[u64], known: u64) -> u64 {
    let mut transitions = 0;
    for (i, &rank) in failed_ranks.iter().enumerate() {
        let failed_before = i
            .checked_sub(1)
            .is_some_and(|prev| failed_ranks[prev] + 1 == rank);
        let failed_after = failed_ranks
            .get(i + 1)
            .is_some_and(|&next| next == rank + 1);
        if rank > 0 && !failed_before {
            transitions += 1;
        }
        if rank + 1 < known && !failed_after {
            transitions += 1;
        }
    }
    transitions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{job, test_id, With};
    use crate::Trigger;
    use TestResult::{Failed as F, Passed as P, Unknown as U};

    #[test]
    fn the_flip_score_counts_changes_between_known_results() {
        assert_eq!(flip_score([]).score, 0.0);
        assert_eq!(flip_score([F]).score, 0.0, "one result: nothing to flip");
        assert_eq!(flip_score([F, F, F]).score, 0.0);
        assert_eq!(flip_score([P, F, P, F]).score, 1.0);
        let score = flip_score([P, P, F, F, P]);
        assert_eq!((score.transitions, score.known_results), (2, 5));
        assert_eq!(score.score, 0.5);
        assert_eq!(
            flip_score([P, U, U, F, U]),
            flip_score([P, F]),
            "unknowns are skipped"
        );
    }

    #[test]
    fn transitions_from_ranks_agree_with_the_series() {
        assert_eq!(transitions_around(&[], 4), 0);
        assert_eq!(transitions_around(&[0, 1, 2], 3), 0);
        assert_eq!(transitions_around(&[1], 3), 2);
        assert_eq!(transitions_around(&[0, 2], 4), 3);
        assert_eq!(transitions_around(&[3], 4), 1);
    }

    fn flaky_pairs(rows: &[JobResult], since: i64) -> Vec<(String, Vec<String>)> {
        flaky_tests(rows, since)
            .into_iter()
            .map(|f| (f.test.name, f.shas))
            .collect()
    }

    #[test]
    fn a_test_that_failed_then_passed_on_a_re_run_is_flaky() {
        let rows = vec![
            job("a1", Trigger::PullRequest(1), 10, &["t"]).run("r", 1),
            job("a2", Trigger::PullRequest(1), 20, &[]).run("r", 2),
        ];
        assert_eq!(
            flaky_pairs(&rows, 0),
            [("t".to_owned(), vec!["sha".to_owned()])]
        );
    }

    #[test]
    fn two_runs_on_one_commit_that_disagree_make_it_flaky_whatever_triggered_them() {
        let rows = vec![
            job("n", Trigger::Nightly, 10, &["t"]).sha("c1"),
            job("p", Trigger::PullRequest(4), 20, &["u"]).sha("c1"),
        ];
        let pairs = flaky_pairs(&rows, 0);
        assert_eq!(
            pairs,
            [
                ("t".to_owned(), vec!["c1".to_owned()]),
                ("u".to_owned(), vec!["c1".to_owned()])
            ]
        );
    }

    #[test]
    fn a_pass_on_another_commit_or_another_slot_or_without_counts_is_not_flakiness() {
        let rows = vec![
            job("a", Trigger::Nightly, 10, &["t"]).sha("c1"),
            job("b", Trigger::Nightly, 20, &[]).sha("c2"),
            job("c", Trigger::Nightly, 30, &[]).sha("c1").slot("other"),
            job("d", Trigger::Nightly, 40, &[]).sha("c1").no_counts(),
            job("e", Trigger::Nightly, 50, &["t"]).sha("c1"),
        ];
        assert!(flaky_tests(&rows, 0).is_empty());
    }

    #[test]
    fn only_the_window_counts() {
        let rows = vec![
            job("a", Trigger::Nightly, 10, &["t"]),
            job("b", Trigger::Nightly, 20, &[]),
        ];
        assert_eq!(flaky_tests(&rows, 0).len(), 1);
        assert!(flaky_tests(&rows, 11).is_empty());
    }

    #[test]
    fn the_flip_score_reads_every_nightly_attempt_of_the_window() {
        let rows = vec![
            job("old", Trigger::Nightly, 5, &[]).sha("c0"),
            job("n1", Trigger::Nightly, 10, &["t"])
                .sha("c1")
                .run("1", 1),
            job("n1b", Trigger::Nightly, 11, &[]).sha("c1").run("1", 2),
            job("pr", Trigger::PullRequest(3), 12, &["t"]).sha("c9"),
            job("n2", Trigger::Nightly, 20, &[]).sha("c2").no_counts(),
            job("n3", Trigger::Nightly, 30, &["t"]).sha("c3"),
        ];
        let flaky = flaky_tests(&rows, 10);
        assert_eq!(flaky.len(), 1);
        // n1 failed, n1b passed, n2 unknown, n3 failed: F P F, 2 transitions over 3 results.
        assert_eq!(flaky[0].flip, FlipScore::new(2, 3));
        let index = Index::new(&rows);
        let test = index.test_number(&test_id("t")).unwrap();
        let window = Window::new(&index, 10);
        let naive = flip_score(
            (window.start..index.jobs.len())
                .filter(|&p| index.jobs[p].is_nightly())
                .map(|p| index.result(p, test)),
        );
        assert_eq!(flaky[0].flip, naive);
    }
}
