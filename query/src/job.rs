//! One job as the views see it, whichever store it came from: a running job from DynamoDB or a
//! completed one from ClickHouse. Times are seconds since the epoch (UTC).

use oot_contract::{Conclusion, PrNumber, Status};
use serde::Serialize;

use crate::rules::{Attempt, AttemptFacts};

/// What a job shows: `running`, or its GitHub conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Success,
    Failure,
    TimedOut,
    Cancelled,
    Skipped,
    Neutral,
    ActionRequired,
    Stale,
    /// A completed job stored without a conclusion (ingest requires one, so only older or
    /// foreign rows; a stored conclusion that does not parse is not shown at all, see
    /// [`crate::stores`]).
    Unknown,
}

impl JobState {
    /// The state of a job from its status and, once completed, its conclusion.
    pub fn of(status: Status, conclusion: Option<Conclusion>) -> JobState {
        if status == Status::InProgress {
            return JobState::Running;
        }
        match conclusion {
            Some(Conclusion::Success) => JobState::Success,
            Some(Conclusion::Failure) => JobState::Failure,
            Some(Conclusion::TimedOut) => JobState::TimedOut,
            Some(Conclusion::Cancelled) => JobState::Cancelled,
            Some(Conclusion::Skipped) => JobState::Skipped,
            Some(Conclusion::Neutral) => JobState::Neutral,
            Some(Conclusion::ActionRequired) => JobState::ActionRequired,
            Some(Conclusion::Stale) => JobState::Stale,
            None => JobState::Unknown,
        }
    }

    /// A verdict on the backend: the job ran and passed, failed, or never finished. Only these
    /// count in a pass rate's denominator (see [`crate::tally`]).
    pub fn is_verdict(self) -> bool {
        matches!(
            self,
            JobState::Success | JobState::Failure | JobState::TimedOut
        )
    }
}

/// Test counts a job reported (each `None` when not reported).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TestCounts {
    pub total: Option<u64>,
    pub passed: Option<u64>,
    pub failed: Option<u64>,
    pub skipped: Option<u64>,
}

/// How long a job ran, in seconds: the relay's `execution_time` when it measured one, else
/// `completed_at - started_at`; `None` when neither is known (or the numbers make no sense).
pub fn duration_s(
    execution_time: Option<f64>,
    started_at: Option<i64>,
    completed_at: Option<i64>,
) -> Option<f64> {
    if let Some(seconds) = execution_time.filter(|s| s.is_finite() && *s >= 0.0) {
        return Some(seconds);
    }
    match (started_at, completed_at) {
        (Some(start), Some(end)) if end >= start => Some((end - start) as f64),
        _ => None,
    }
}

/// One job, running or completed.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub job_key: String,
    pub downstream_repo: String,
    pub level: Option<String>,
    pub upstream_repo: Option<String>,
    pub pr_number: Option<PrNumber>,
    pub head_sha: Option<String>,
    pub delivery_id: String,
    pub event_type: String,
    pub workflow_run_url: String,
    pub workflow_name: String,
    pub job_name: String,
    pub check_run_id: String,
    pub run_id: String,
    pub run_attempt: u32,
    pub state: JobState,
    /// `None` while running.
    pub conclusion: Option<Conclusion>,
    pub queue_time: Option<f64>,
    pub execution_time: Option<f64>,
    pub first_seen_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub tests: TestCounts,
    pub artifact_url: Option<String>,
}

impl Job {
    pub fn duration_s(&self) -> Option<f64> {
        duration_s(self.execution_time, self.started_at, self.completed_at)
    }

    pub fn is_running(&self) -> bool {
        self.state == JobState::Running
    }
}

impl Attempt for Job {
    fn attempt(&self) -> AttemptFacts<'_> {
        AttemptFacts {
            downstream_repo: &self.downstream_repo,
            workflow_name: &self.workflow_name,
            job_name: &self.job_name,
            run_id: &self.run_id,
            run_attempt: self.run_attempt,
            job_key: &self.job_key,
        }
    }
}

/// A completed job with only what the global summary needs (it reads every repo's jobs of a
/// window, so it leaves the URLs and names of the other views out).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryJob {
    pub job_key: String,
    pub downstream_repo: String,
    pub level: Option<String>,
    pub workflow_name: String,
    pub job_name: String,
    pub run_id: String,
    pub run_attempt: u32,
    pub state: JobState,
    pub queue_time: Option<f64>,
    pub execution_time: Option<f64>,
    pub first_seen_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
}

impl SummaryJob {
    /// What the summary reads of `job`.
    pub fn of(job: Job) -> SummaryJob {
        SummaryJob {
            job_key: job.job_key,
            downstream_repo: job.downstream_repo,
            level: job.level,
            workflow_name: job.workflow_name,
            job_name: job.job_name,
            run_id: job.run_id,
            run_attempt: job.run_attempt,
            state: job.state,
            queue_time: job.queue_time,
            execution_time: job.execution_time,
            first_seen_at: job.first_seen_at,
            started_at: job.started_at,
            completed_at: job.completed_at,
        }
    }

    pub fn duration_s(&self) -> Option<f64> {
        duration_s(self.execution_time, self.started_at, self.completed_at)
    }
}

impl Attempt for SummaryJob {
    fn attempt(&self) -> AttemptFacts<'_> {
        AttemptFacts {
            downstream_repo: &self.downstream_repo,
            workflow_name: &self.workflow_name,
            job_name: &self.job_name,
            run_id: &self.run_id,
            run_attempt: self.run_attempt,
            job_key: &self.job_key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_status_then_conclusion() {
        assert_eq!(JobState::of(Status::InProgress, None), JobState::Running);
        assert_eq!(
            JobState::of(Status::InProgress, Some(Conclusion::Failure)),
            JobState::Running
        );
        assert_eq!(
            JobState::of(Status::Completed, Some(Conclusion::Success)),
            JobState::Success
        );
        assert_eq!(
            JobState::of(Status::Completed, Some(Conclusion::TimedOut)),
            JobState::TimedOut
        );
        assert_eq!(
            JobState::of(Status::Completed, Some(Conclusion::ActionRequired)),
            JobState::ActionRequired
        );
        assert_eq!(JobState::of(Status::Completed, None), JobState::Unknown);
    }

    /// The JSON shows a job's state in the contract's spelling of its conclusion.
    #[test]
    fn every_conclusion_is_its_own_state_spelled_alike() {
        for conclusion in Conclusion::ALL {
            let state = JobState::of(Status::Completed, Some(*conclusion));
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, conclusion.as_str());
        }
    }

    #[test]
    fn only_pass_fail_and_timeout_are_verdicts() {
        let verdicts: Vec<JobState> = [
            JobState::Running,
            JobState::Success,
            JobState::Failure,
            JobState::TimedOut,
            JobState::Cancelled,
            JobState::Skipped,
            JobState::Neutral,
            JobState::ActionRequired,
            JobState::Stale,
            JobState::Unknown,
        ]
        .into_iter()
        .filter(|s| s.is_verdict())
        .collect();
        assert_eq!(
            verdicts,
            [JobState::Success, JobState::Failure, JobState::TimedOut]
        );
    }

    #[test]
    fn duration_prefers_the_relays_measure_then_the_timestamps() {
        assert_eq!(duration_s(Some(12.5), Some(0), Some(100)), Some(12.5));
        assert_eq!(duration_s(None, Some(100), Some(160)), Some(60.0));
        assert_eq!(duration_s(Some(f64::NAN), Some(100), Some(160)), Some(60.0));
        assert_eq!(duration_s(Some(-1.0), None, Some(160)), None);
        assert_eq!(duration_s(None, Some(200), Some(160)), None);
        assert_eq!(duration_s(None, None, Some(160)), None);
    }
}
