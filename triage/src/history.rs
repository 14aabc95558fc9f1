//! One test's history: per slot, what each job said about it, newest first (the strip of the
//! test's page, docs/contract.md §12.11).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::index::{latest_attempts, one_per_key};
use crate::observation::{JobOutcome, JobRef, JobResult, JobSlot, TestId};
use crate::passed::{result_of, TestResult};

/// What one job said about the test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub job: JobRef,
    pub outcome: JobOutcome,
    pub result: TestResult,
    /// Whether this is its run's latest attempt; the others are shown, but only the latest
    /// counts for the status (§12.3).
    pub latest_attempt: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotHistory {
    pub slot: JobSlot,
    /// Every job of the slot (every trigger, every attempt), newest first in job order.
    pub points: Vec<HistoryPoint>,
}

/// The history of `test` in each slot where some job failed it, by slot. Slots that never
/// failed it are left out: a job there that passed it cannot tell whether it runs the test.
pub fn test_history(observations: &[JobResult], test: &TestId) -> Vec<SlotHistory> {
    slot_histories(observations, test)
        .into_iter()
        .filter(|history| {
            history
                .points
                .iter()
                .any(|p| p.result == TestResult::Failed)
        })
        .collect()
}

/// The history of `test` in every slot of `observations`, by slot: for a reader that was given
/// only some jobs of each slot (the newest, and the nightlies) and knows from elsewhere where the
/// test failed. A job's later attempts are first seen after it, so the newest jobs of a slot
/// hold their runs' latest attempts.
pub fn slot_histories(observations: &[JobResult], test: &TestId) -> Vec<SlotHistory> {
    let jobs = one_per_key(observations);
    let latest = latest_attempts(&jobs);
    let mut by_slot: BTreeMap<&JobSlot, Vec<HistoryPoint>> = BTreeMap::new();
    for (job, latest_attempt) in jobs.iter().zip(latest).rev() {
        by_slot.entry(&job.slot).or_default().push(HistoryPoint {
            job: JobRef::of(job),
            outcome: job.outcome,
            result: result_of(job, test),
            latest_attempt,
        });
    }
    by_slot
        .into_iter()
        .map(|(slot, points)| SlotHistory {
            slot: slot.clone(),
            points,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{job, test_id, With};
    use crate::Trigger;

    #[test]
    fn the_history_is_newest_first_per_slot_that_failed_the_test() {
        let rows = vec![
            job("a1", Trigger::PullRequest(1), 10, &["t"]).run("a", 1),
            job("a2", Trigger::PullRequest(1), 20, &[]).run("a", 2),
            job("n", Trigger::Nightly, 15, &[]).no_counts(),
            job("x", Trigger::Nightly, 15, &[]).slot("never"),
        ];
        let history = test_history(&rows, &test_id("t"));
        assert_eq!(history.len(), 1);
        let strip: Vec<(&str, TestResult, bool)> = history[0]
            .points
            .iter()
            .map(|p| (p.job.job_key.as_str(), p.result, p.latest_attempt))
            .collect();
        assert_eq!(
            strip,
            [
                ("a2", TestResult::Passed, true),
                ("n", TestResult::Unknown, true),
                ("a1", TestResult::Failed, false),
            ]
        );
        let every = slot_histories(&rows, &test_id("t"));
        let slots: Vec<&str> = every.iter().map(|h| h.slot.job_name.as_str()).collect();
        assert_eq!(slots, ["never", "test"], "every slot, by slot");
        assert_eq!(every[1], history[0]);
    }
}
