//! What triage reads: one backend's completed jobs, each with the tests it reported failing
//! (docs/contract.md §12.1).
//!
//! **Job order.** Every "before", "after", "earliest" and "latest" in this crate is the order of
//! [`JobResult::order`]: `first_seen_at` (our clock, §11.1), then the job key. Job keys are
//! unique, so the order is total and no answer depends on the order rows arrive in, including
//! between jobs first seen in the same second.

use serde::{Deserialize, Serialize};

/// A test as the callbacks name a failed one (contract §4.5); `classname` is empty when the job
/// sent none.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TestId {
    pub classname: String,
    pub name: String,
}

/// One job of the backend (a column of its matrix). A test's results are compared only within
/// one slot: another job runs on other hardware or with another configuration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobSlot {
    pub workflow_name: String,
    pub job_name: String,
}

/// What the upstream side ran the job for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A run on upstream main without a PR: scheduled, periodic, or a push to main. The
    /// backend's series on main, the only baseline of the rules.
    Nightly,
    /// A run for an upstream PR.
    PullRequest(u64),
    /// Anything else (a manual dispatch, a push to another branch): its failures are failures in
    /// the window, but it is never a baseline nor a PR.
    Other,
}

impl Trigger {
    /// The trigger of a job from its stored `event_type` and PR number: a nightly is one of
    /// [`oot_contract::EventType::NIGHTLY_RUNS`] without a PR, or a `push` to upstream main. A
    /// PR number wins (the contract keeps one sent with any event type). `push_to_main` says
    /// whether a `push` went to upstream main; the event type alone cannot tell.
    pub fn classify(event_type: &str, pr_number: Option<u64>, push_to_main: bool) -> Trigger {
        if let Some(number) = pr_number {
            return Trigger::PullRequest(number);
        }
        if oot_contract::is_nightly_run(event_type, false) {
            return Trigger::Nightly;
        }
        match event_type {
            "push" if push_to_main => Trigger::Nightly,
            _ => Trigger::Other,
        }
    }
}

/// How a completed job ended (the contract's conclusions, §11.4's classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    Success,
    Failure,
    TimedOut,
    Cancelled,
    /// Skipped, neutral, action required, stale, or no conclusion.
    Other,
}

impl JobOutcome {
    /// Whether the job's test run reached its end, so its counts cover every test it had.
    /// A cancelled or timed-out job stopped part way: a test it does not list may not have run.
    pub fn ran_to_the_end(self) -> bool {
        matches!(self, JobOutcome::Success | JobOutcome::Failure)
    }
}

/// Which run, attempt and upstream commit a job belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunOf {
    pub event: Trigger,
    /// The upstream commit tested, lower-case as stored (contract §2).
    pub upstream_sha: String,
    /// When ingest first received a callback of the job, seconds since the epoch (§11.1).
    pub first_seen_at: i64,
    /// Kept by re-runs: with the slot, it names the run.
    pub run_id: String,
    /// Raised by re-runs.
    pub run_attempt: u32,
    /// The job's identity (contract §2): unique per job.
    pub job_key: String,
}

/// One completed job of the backend: an observation of the tests it ran.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobResult {
    pub slot: JobSlot,
    pub run: RunOf,
    pub outcome: JobOutcome,
    /// The job reported test counts and its failed list holds every failure it counted
    /// ([`crate::counts_cover_failed_list`]): only then does a test missing from the list say
    /// the test passed.
    pub reported_counts: bool,
    /// The tests the job reported failing; order and repeats do not matter.
    pub failed: Vec<TestId>,
}

impl JobResult {
    /// The job's place in the job order (module docs).
    pub fn order(&self) -> (i64, &str) {
        (self.run.first_seen_at, &self.run.job_key)
    }

    pub fn is_nightly(&self) -> bool {
        self.run.event == Trigger::Nightly
    }

    /// The upstream PR the job ran for, if any.
    pub fn pr(&self) -> Option<u64> {
        match self.run.event {
            Trigger::PullRequest(number) => Some(number),
            _ => None,
        }
    }

    /// Whether the job is in the window starting at `since` (§11.1: first seen at or after it).
    pub fn in_window(&self, since: i64) -> bool {
        self.run.first_seen_at >= since
    }
}

/// A job an answer points at (a baseline, a compared nightly, a point of a history): enough to
/// name it and link to it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobRef {
    pub job_key: String,
    pub event: Trigger,
    pub upstream_sha: String,
    pub run_id: String,
    pub run_attempt: u32,
    pub first_seen_at: i64,
}

impl JobRef {
    pub fn of(job: &JobResult) -> JobRef {
        JobRef {
            job_key: job.run.job_key.clone(),
            event: job.run.event,
            upstream_sha: job.run.upstream_sha.clone(),
            run_id: job.run.run_id.clone(),
            run_attempt: job.run.run_attempt,
            first_seen_at: job.run.first_seen_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pr_number_makes_a_pr_whatever_the_event() {
        assert_eq!(
            Trigger::classify("pull_request", Some(7), false),
            Trigger::PullRequest(7)
        );
        assert_eq!(
            Trigger::classify("nightly", Some(7), true),
            Trigger::PullRequest(7)
        );
    }

    #[test]
    fn main_runs_without_a_pr_are_nightly() {
        for event in ["nightly", "periodic", "schedule"] {
            assert_eq!(Trigger::classify(event, None, false), Trigger::Nightly);
        }
        assert_eq!(Trigger::classify("push", None, true), Trigger::Nightly);
        assert_eq!(Trigger::classify("push", None, false), Trigger::Other);
        assert_eq!(
            Trigger::classify("workflow_dispatch", None, true),
            Trigger::Other
        );
        assert_eq!(
            Trigger::classify("pull_request", None, false),
            Trigger::Other
        );
    }

    #[test]
    fn only_success_and_failure_ran_to_the_end() {
        assert!(JobOutcome::Success.ran_to_the_end());
        assert!(JobOutcome::Failure.ran_to_the_end());
        for outcome in [
            JobOutcome::TimedOut,
            JobOutcome::Cancelled,
            JobOutcome::Other,
        ] {
            assert!(!outcome.ran_to_the_end(), "{outcome:?}");
        }
    }

    #[test]
    fn triggers_serialize_as_words() {
        assert_eq!(
            serde_json::to_string(&Trigger::Nightly).unwrap(),
            "\"nightly\""
        );
        assert_eq!(
            serde_json::to_string(&Trigger::PullRequest(5)).unwrap(),
            "{\"pull_request\":5}"
        );
    }
}
