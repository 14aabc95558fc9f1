//! Release to release: a backend's failing tests on one set of nightlies against another
//! (docs/contract.md §12.9).
//!
//! Each set is one nightly per slot: among the slot's nightly series (§12.4: latest attempts),
//! the last one on the given commit, or first seen in the given time range. Per slot and per
//! test either chosen job failed:
//!
//! - **still failing**: failed in both;
//! - **newly failing**: failed in the new set, not in the old one (it passed, the old job said
//!   nothing about it, or the slot has no old nightly), as §12.5 calls a test new when its
//!   baseline says nothing;
//! - **fixed**: failed in the old set and passed in the new one;
//! - **unknown**: failed in the old set, and the new set says nothing about it (its job
//!   reported no counts or stopped part way, or the slot has no new nightly): calling it fixed
//!   would need a pass.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::index::{Index, Pos, SlotNo, TestNo};
use crate::observation::{JobRef, JobResult, JobSlot, TestId};
use crate::passed::TestResult;

/// Which nightlies a side of the diff takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NightlySet {
    /// The nightlies on one upstream commit (compared without regard to case).
    Sha(String),
    /// The nightlies first seen at or after `from` and before `until` (seconds).
    Between { from: i64, until: i64 },
}

impl NightlySet {
    /// Whether `job` is of this set by its commit or its first-seen time (whether it is a
    /// nightly is not asked: the diff only looks in the nightly series).
    pub fn holds(&self, job: &JobResult) -> bool {
        match self {
            NightlySet::Sha(sha) => job.run.upstream_sha.eq_ignore_ascii_case(sha),
            NightlySet::Between { from, until } => (*from..*until).contains(&job.run.first_seen_at),
        }
    }
}

/// How a test changed between the two sets; the order is the diff's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffStatus {
    NewlyFailing,
    Fixed,
    StillFailing,
    Unknown,
}

/// The nightlies compared in one slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSlot {
    pub slot: JobSlot,
    pub old: Option<JobRef>,
    pub new: Option<JobRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffEntry {
    pub test: TestId,
    pub slot: JobSlot,
    pub status: DiffStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseDiff {
    /// Every slot with a nightly in either set, by slot.
    pub slots: Vec<DiffSlot>,
    /// By status (newly failing, fixed, still failing, unknown), then slot, then test.
    pub tests: Vec<DiffEntry>,
}

/// The backend's failing tests on the `new` nightlies against the `old` ones.
pub fn release_diff(observations: &[JobResult], old: &NightlySet, new: &NightlySet) -> ReleaseDiff {
    let index = Index::new(observations);
    let chosen_old = chosen(&index, old);
    let chosen_new = chosen(&index, new);
    // By slot, not by number: numbers follow the input's order, the answer must not.
    let slots: BTreeSet<(&JobSlot, SlotNo)> = chosen_old
        .keys()
        .chain(chosen_new.keys())
        .map(|&number| (index.slots[number as usize], number))
        .collect();
    let mut tests = Vec::new();
    for &(slot, number) in &slots {
        let old_job = chosen_old.get(&number).copied();
        let new_job = chosen_new.get(&number).copied();
        let failed_in = |job: Option<Pos>| {
            job.into_iter()
                .flat_map(|pos| index.failed(pos).iter().copied())
        };
        let failing: BTreeSet<TestNo> = failed_in(old_job).chain(failed_in(new_job)).collect();
        let result = |job: Option<Pos>, test: TestNo| {
            job.map_or(TestResult::Unknown, |pos| index.result(pos, test))
        };
        tests.extend(failing.into_iter().map(|test| DiffEntry {
            test: index.tests[test as usize].clone(),
            slot: slot.clone(),
            status: change(result(old_job, test), result(new_job, test)),
        }));
    }
    tests.sort_by(|a, b| (a.status, &a.slot, &a.test).cmp(&(b.status, &b.slot, &b.test)));
    let job_ref = |pos: Option<&Pos>| pos.map(|&pos| JobRef::of(index.jobs[pos]));
    ReleaseDiff {
        slots: slots
            .into_iter()
            .map(|(slot, number)| DiffSlot {
                slot: slot.clone(),
                old: job_ref(chosen_old.get(&number)),
                new: job_ref(chosen_new.get(&number)),
            })
            .collect(),
        tests,
    }
}

/// Per slot, the last nightly of its series in `set`.
fn chosen(index: &Index<'_>, set: &NightlySet) -> HashMap<SlotNo, Pos> {
    (0..index.slots.len())
        .filter_map(|number| {
            let number = SlotNo::try_from(number).ok()?;
            let last = index
                .series(number)
                .iter()
                .rev()
                .find(|&&pos| set.holds(index.jobs[pos]))?;
            Some((number, *last))
        })
        .collect()
}

/// The change of a test that failed in at least one of the two jobs.
fn change(old: TestResult, new: TestResult) -> DiffStatus {
    match (old, new) {
        (TestResult::Failed, TestResult::Failed) => DiffStatus::StillFailing,
        (_, TestResult::Failed) => DiffStatus::NewlyFailing,
        (_, TestResult::Passed) => DiffStatus::Fixed,
        (_, TestResult::Unknown) => DiffStatus::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{job, With};
    use crate::Trigger;

    fn entries(diff: &ReleaseDiff) -> Vec<(&str, &str, DiffStatus)> {
        diff.tests
            .iter()
            .map(|e| (e.test.name.as_str(), e.slot.job_name.as_str(), e.status))
            .collect()
    }

    fn sha(s: &str) -> NightlySet {
        NightlySet::Sha(s.to_owned())
    }

    #[test]
    fn two_commits_compare_newly_failing_fixed_still_failing_and_unknown() {
        let rows = vec![
            job("o", Trigger::Nightly, 10, &["fixed", "still"]).sha("aaa"),
            job("n", Trigger::Nightly, 20, &["still", "new"]).sha("bbb"),
            job("o2", Trigger::Nightly, 10, &["lost"])
                .sha("aaa")
                .slot("quiet"),
            job("n2", Trigger::Nightly, 20, &[])
                .sha("bbb")
                .slot("quiet")
                .no_counts(),
            job("p", Trigger::PullRequest(1), 15, &["pr"]).sha("bbb"),
        ];
        let diff = release_diff(&rows, &sha("aaa"), &sha("BBB"));
        assert_eq!(
            entries(&diff),
            [
                ("new", "test", DiffStatus::NewlyFailing),
                ("fixed", "test", DiffStatus::Fixed),
                ("still", "test", DiffStatus::StillFailing),
                ("lost", "quiet", DiffStatus::Unknown),
            ]
        );
        let compared: Vec<(&str, Option<&str>, Option<&str>)> = diff
            .slots
            .iter()
            .map(|s| {
                (
                    s.slot.job_name.as_str(),
                    s.old.as_ref().map(|j| j.job_key.as_str()),
                    s.new.as_ref().map(|j| j.job_key.as_str()),
                )
            })
            .collect();
        assert_eq!(
            compared,
            [
                ("quiet", Some("o2"), Some("n2")),
                ("test", Some("o"), Some("n"))
            ]
        );
    }

    #[test]
    fn time_ranges_take_the_last_nightly_of_each_slot_in_them() {
        let rows = vec![
            job("a", Trigger::Nightly, 10, &["t"]),
            job("b", Trigger::Nightly, 20, &["u"]),
            job("c", Trigger::Nightly, 30, &["v"]),
            job("d", Trigger::Nightly, 40, &[]),
        ];
        let old = NightlySet::Between { from: 0, until: 30 };
        let new = NightlySet::Between {
            from: 30,
            until: 50,
        };
        assert_eq!(
            entries(&release_diff(&rows, &old, &new)),
            [("u", "test", DiffStatus::Fixed)]
        );
    }

    #[test]
    fn a_slot_on_one_side_only_is_newly_failing_or_unknown() {
        let rows = vec![
            job("o", Trigger::Nightly, 10, &["gone"])
                .sha("aaa")
                .slot("removed"),
            job("n", Trigger::Nightly, 20, &["added"])
                .sha("bbb")
                .slot("added"),
        ];
        assert_eq!(
            entries(&release_diff(&rows, &sha("aaa"), &sha("bbb"))),
            [
                ("added", "added", DiffStatus::NewlyFailing),
                ("gone", "removed", DiffStatus::Unknown),
            ]
        );
    }

    #[test]
    fn the_latest_attempt_of_a_nightly_run_is_compared() {
        let rows = vec![
            job("o", Trigger::Nightly, 10, &[]).sha("aaa"),
            job("n1", Trigger::Nightly, 20, &["t"])
                .sha("bbb")
                .run("n", 1),
            job("n2", Trigger::Nightly, 21, &[]).sha("bbb").run("n", 2),
        ];
        assert!(release_diff(&rows, &sha("aaa"), &sha("bbb"))
            .tests
            .is_empty());
    }

    #[test]
    fn a_set_against_itself_is_still_failing_only() {
        let rows = vec![
            job("o", Trigger::Nightly, 10, &["a", "b"]).sha("aaa"),
            job("o2", Trigger::Nightly, 10, &["c"])
                .sha("aaa")
                .slot("x")
                .no_counts(),
        ];
        let diff = release_diff(&rows, &sha("aaa"), &sha("aaa"));
        assert!(diff
            .tests
            .iter()
            .all(|e| e.status == DiffStatus::StillFailing));
        assert_eq!(diff.tests.len(), 3);
    }
}
