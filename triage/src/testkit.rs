//! Observations for the tests, short to write: a job of slot `ci / test` on commit `sha`, its
//! own run's first attempt, with counts, red when it lists failures.

use crate::observation::{JobOutcome, JobResult, JobSlot, RunOf, TestId, Trigger};

pub fn test_id(name: &str) -> TestId {
    TestId {
        classname: "TestSuite".to_owned(),
        name: name.to_owned(),
    }
}

pub fn slot(job_name: &str) -> JobSlot {
    JobSlot {
        workflow_name: "ci".to_owned(),
        job_name: job_name.to_owned(),
    }
}

pub fn job(key: &str, event: Trigger, first_seen_at: i64, failed: &[&str]) -> JobResult {
    JobResult {
        slot: slot("test"),
        run: RunOf {
            event,
            upstream_sha: "sha".to_owned(),
            first_seen_at,
            run_id: format!("run-{key}"),
            run_attempt: 1,
            job_key: key.to_owned(),
        },
        outcome: if failed.is_empty() {
            JobOutcome::Success
        } else {
            JobOutcome::Failure
        },
        reported_counts: true,
        failed: failed.iter().map(|name| test_id(name)).collect(),
    }
}

/// Changes to a test job, chained.
pub trait With {
    fn sha(self, sha: &str) -> Self;
    fn run(self, run_id: &str, attempt: u32) -> Self;
    fn slot(self, job_name: &str) -> Self;
    fn no_counts(self) -> Self;
    fn outcome(self, outcome: JobOutcome) -> Self;
}

impl With for JobResult {
    fn sha(mut self, sha: &str) -> Self {
        self.run.upstream_sha = sha.to_owned();
        self
    }

    fn run(mut self, run_id: &str, attempt: u32) -> Self {
        self.run.run_id = run_id.to_owned();
        self.run.run_attempt = attempt;
        self
    }

    fn slot(mut self, job_name: &str) -> Self {
        self.slot = slot(job_name);
        self
    }

    fn no_counts(mut self) -> Self {
        self.reported_counts = false;
        self
    }

    fn outcome(mut self, outcome: JobOutcome) -> Self {
        self.outcome = outcome;
        self
    }
}
