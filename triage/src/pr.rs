//! "Is it mine?": for one upstream PR, whether each of its failing tests on a backend came with
//! the PR (docs/contract.md §12.8).
//!
//! The PR's job in a slot is the one the PR view shows (§11.2): the latest attempt of its newest
//! run (higher `run_id` as a number, ids that are not numbers first; then the higher attempt,
//! then the higher job key), whenever it was first seen. Each test that job failed is:
//!
//! - **known on nightly** when the PR job's baseline failed it: the last nightly of the slot
//!   before the PR job, else the slot's first nightly (§12.5's rule, with the PR job as the
//!   failure);
//! - else **seen on other PRs** when a job of the same slot on another PR, first seen in the
//!   window, failed it (every attempt counts: a failure a re-run hid is still a sign the
//!   failure is not this PR's), with the number of those PRs;
//! - else **new on this PR**.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::index::{Index, Pos, SlotNo, TestNo};
use crate::observation::{JobRef, JobResult, JobSlot, TestId};
use crate::passed::TestResult;

/// Whether a PR's failing test is the PR's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum PrVerdict {
    NewOnThisPr,
    /// Failing on other PRs too, not on the nightly: likely upstream or flaky.
    SeenOnOtherPrs {
        count: u64,
    },
    KnownOnNightly,
}

impl PrVerdict {
    /// The page's order: what is likely the PR's first.
    fn rank(self) -> u8 {
        match self {
            PrVerdict::NewOnThisPr => 0,
            PrVerdict::SeenOnOtherPrs { .. } => 1,
            PrVerdict::KnownOnNightly => 2,
        }
    }
}

/// One failing test of the PR in one slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrFailingTest {
    pub test: TestId,
    pub slot: JobSlot,
    #[serde(flatten)]
    pub verdict: PrVerdict,
    /// The PR's job that failed it.
    pub job: JobRef,
    /// The nightly it was compared with; none when the slot has no nightly.
    pub baseline: Option<JobRef>,
}

/// How many of the PR's failing tests (per slot) got each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrHeadline {
    pub new_on_this_pr: u64,
    pub seen_on_other_prs: u64,
    pub known_on_nightly: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrTriage {
    pub headline: PrHeadline,
    /// New on this PR first, then seen on other PRs, then known; then by slot and test.
    pub tests: Vec<PrFailingTest>,
}

/// Per test and slot, the number of other PRs (not the judged one) with a job of the slot first
/// seen in the window that failed the test, every attempt counting; tests and slots no other PR
/// failed are absent.
pub type OtherPrs = HashMap<(TestId, JobSlot), u64>;

/// The verdicts on PR `pr`'s failing tests. `observations` are the backend's jobs of the PR,
/// of the window starting at `since` (the other PRs), and its nightlies (the baselines).
pub fn is_it_mine(observations: &[JobResult], pr: u64, since: i64) -> PrTriage {
    is_it_mine_counted(observations, pr, &other_prs(observations, pr, since))
}

/// The other PRs of [`OtherPrs`] counted from `observations`: what a store that counts them
/// for the service (contract §12.15) must equal.
pub fn other_prs(observations: &[JobResult], pr: u64, since: i64) -> OtherPrs {
    let mut prs: HashMap<(&TestId, &JobSlot), BTreeSet<u64>> = HashMap::new();
    for job in observations.iter().filter(|j| j.in_window(since)) {
        let Some(number) = job.pr().filter(|&n| n != pr) else {
            continue;
        };
        for test in &job.failed {
            prs.entry((test, &job.slot)).or_default().insert(number);
        }
    }
    prs.into_iter()
        .map(|((test, slot), numbers)| ((test.clone(), slot.clone()), numbers.len() as u64))
        .collect()
}

/// The verdicts on PR `pr`'s failing tests, the other PRs counted already: `observations` need
/// only the PR's jobs and the slots' nightlies.
pub fn is_it_mine_counted(observations: &[JobResult], pr: u64, other_prs: &OtherPrs) -> PrTriage {
    let index = Index::new(observations);
    let mut tests: Vec<PrFailingTest> = pr_jobs(&index, pr)
        .into_iter()
        .flat_map(|(slot, pos)| {
            let index = &index;
            index.failed(pos).iter().map(move |&test| {
                let baseline = index.baseline(slot, pos);
                PrFailingTest {
                    test: index.tests[test as usize].clone(),
                    slot: index.slots[slot as usize].clone(),
                    verdict: verdict(index, test, slot, baseline, other_prs),
                    job: JobRef::of(index.jobs[pos]),
                    baseline: baseline.map(|b| JobRef::of(index.jobs[b])),
                }
            })
        })
        .collect();
    tests.sort_by(|a, b| {
        (a.verdict.rank(), &a.slot, &a.test).cmp(&(b.verdict.rank(), &b.slot, &b.test))
    });
    PrTriage {
        headline: headline(&tests),
        tests,
    }
}

/// The PR's job in each slot: the latest attempt of its newest run.
fn pr_jobs(index: &Index<'_>, pr: u64) -> HashMap<SlotNo, Pos> {
    let mut shown: HashMap<SlotNo, Pos> = HashMap::new();
    for (pos, job) in index.jobs.iter().enumerate() {
        if job.pr() != Some(pr) {
            continue;
        }
        shown
            .entry(index.slot_of[pos])
            .and_modify(|kept| {
                if newness(job) > newness(index.jobs[*kept]) {
                    *kept = pos;
                }
            })
            .or_insert(pos);
    }
    shown
}

/// How new a job is among a PR's jobs of one slot (§11.2, `latest_of_each_job`).
fn newness(job: &JobResult) -> (Option<u64>, &str, u32, &str) {
    let run = &job.run;
    (
        run.run_id.parse().ok(),
        &run.run_id,
        run.run_attempt,
        &run.job_key,
    )
}

fn verdict(
    index: &Index<'_>,
    test: TestNo,
    slot: SlotNo,
    baseline: Option<Pos>,
    other_prs: &OtherPrs,
) -> PrVerdict {
    if baseline.is_some_and(|b| index.result(b, test) == TestResult::Failed) {
        return PrVerdict::KnownOnNightly;
    }
    let key = (
        index.tests[test as usize].clone(),
        index.slots[slot as usize].clone(),
    );
    match other_prs.get(&key).copied().unwrap_or(0) {
        0 => PrVerdict::NewOnThisPr,
        count => PrVerdict::SeenOnOtherPrs { count },
    }
}

fn headline(tests: &[PrFailingTest]) -> PrHeadline {
    let mut headline = PrHeadline::default();
    for test in tests {
        let count = match test.verdict {
            PrVerdict::NewOnThisPr => &mut headline.new_on_this_pr,
            PrVerdict::SeenOnOtherPrs { .. } => &mut headline.seen_on_other_prs,
            PrVerdict::KnownOnNightly => &mut headline.known_on_nightly,
        };
        *count += 1;
    }
    headline
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{job, With};
    use crate::Trigger;

    fn verdicts(triage: &PrTriage) -> Vec<(&str, &str, PrVerdict)> {
        triage
            .tests
            .iter()
            .map(|t| (t.test.name.as_str(), t.slot.job_name.as_str(), t.verdict))
            .collect()
    }

    #[test]
    fn each_failing_test_of_the_pr_gets_one_verdict() {
        let rows = vec![
            job("n0", Trigger::Nightly, 5, &["nightly"]),
            job("o1", Trigger::PullRequest(2), 10, &["elsewhere"]),
            job("o2", Trigger::PullRequest(3), 11, &["elsewhere"]),
            job("o3", Trigger::PullRequest(3), 12, &["elsewhere"]),
            job(
                "mine",
                Trigger::PullRequest(1),
                20,
                &["mine", "nightly", "elsewhere"],
            ),
        ];
        let triage = is_it_mine(&rows, 1, 0);
        assert_eq!(
            verdicts(&triage),
            [
                ("mine", "test", PrVerdict::NewOnThisPr),
                ("elsewhere", "test", PrVerdict::SeenOnOtherPrs { count: 2 }),
                ("nightly", "test", PrVerdict::KnownOnNightly),
            ]
        );
        assert_eq!(
            triage.headline,
            PrHeadline {
                new_on_this_pr: 1,
                seen_on_other_prs: 1,
                known_on_nightly: 1
            }
        );
        assert_eq!(
            triage.tests[0]
                .baseline
                .as_ref()
                .map(|b| b.job_key.as_str()),
            Some("n0")
        );
    }

    #[test]
    fn the_newest_run_of_the_pr_is_judged() {
        // Run 99 is newer than run 100 only as text; attempt 2 of run 100 is its latest.
        let rows = vec![
            job("a", Trigger::PullRequest(1), 10, &["old"]).run("99", 1),
            job("b", Trigger::PullRequest(1), 11, &["first"]).run("100", 1),
            job("c", Trigger::PullRequest(1), 12, &["retry"]).run("100", 2),
        ];
        assert_eq!(
            verdicts(&is_it_mine(&rows, 1, 0)),
            [("retry", "test", PrVerdict::NewOnThisPr)]
        );
    }

    #[test]
    fn other_prs_count_only_in_the_window_and_in_the_same_slot_with_every_attempt() {
        let rows = vec![
            job("before", Trigger::PullRequest(2), 5, &["t"]),
            job("slot", Trigger::PullRequest(3), 10, &["t"]).slot("other"),
            job("nightly", Trigger::Nightly, 11, &[]),
            job("r1", Trigger::PullRequest(4), 12, &["u"]).run("r", 1),
            job("r2", Trigger::PullRequest(4), 13, &[]).run("r", 2),
            job("mine", Trigger::PullRequest(1), 20, &["t", "u"]),
        ];
        assert_eq!(
            verdicts(&is_it_mine(&rows, 1, 8)),
            [
                ("t", "test", PrVerdict::NewOnThisPr),
                ("u", "test", PrVerdict::SeenOnOtherPrs { count: 1 }),
            ]
        );
    }

    #[test]
    fn the_pr_jobs_own_time_picks_its_baseline() {
        let rows = vec![
            job("n1", Trigger::Nightly, 10, &[]),
            job("mine", Trigger::PullRequest(1), 15, &["t"]),
            job("n2", Trigger::Nightly, 20, &["t"]),
        ];
        let triage = is_it_mine(&rows, 1, 0);
        assert_eq!(verdicts(&triage), [("t", "test", PrVerdict::NewOnThisPr)]);
        // Without a nightly before the PR job, the first nightly is the baseline.
        let triage = is_it_mine(&rows[1..], 1, 0);
        assert_eq!(
            verdicts(&triage),
            [("t", "test", PrVerdict::KnownOnNightly)]
        );
    }

    #[test]
    fn a_pr_without_failures_or_jobs_has_an_empty_headline() {
        let rows = vec![job("mine", Trigger::PullRequest(1), 15, &[])];
        assert_eq!(is_it_mine(&rows, 1, 0).headline, PrHeadline::default());
        assert!(is_it_mine(&rows, 2, 0).tests.is_empty());
    }

    #[test]
    fn verdicts_serialize_flat() {
        let rows = vec![
            job("o", Trigger::PullRequest(2), 10, &["t"]),
            job("mine", Trigger::PullRequest(1), 20, &["t"]),
        ];
        let json = serde_json::to_value(is_it_mine(&rows, 1, 0)).unwrap();
        assert_eq!(json["tests"][0]["verdict"], "seen_on_other_prs");
        assert_eq!(json["tests"][0]["count"], 1);
        assert_eq!(json["headline"]["seen_on_other_prs"], 1);
    }
}
