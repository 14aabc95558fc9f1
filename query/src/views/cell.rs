//! One job as the per-backend matrix and the PR view show it: its state, times, test counts and
//! links. Shared so both views (and the pages rendered from them) show a job alike.

use oot_contract::Conclusion;
use serde::Serialize;

use crate::clock::rfc3339;
use crate::job::{Job, JobState, TestCounts};

/// Links a page may render. Only `https://` URLs are passed on (ingest accepts nothing else,
/// but the stores may hold older rows): anything else is dropped here, not left to a renderer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Links {
    pub workflow_run: Option<String>,
    pub artifacts: Option<String>,
}

fn https_only(url: Option<&str>) -> Option<String> {
    url.filter(|u| u.starts_with("https://")).map(str::to_owned)
}

impl Links {
    pub fn of(job: &Job) -> Links {
        Links {
            workflow_run: https_only(Some(&job.workflow_run_url)),
            artifacts: https_only(job.artifact_url.as_deref()),
        }
    }
}

/// A job, shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobCell {
    pub job_key: String,
    pub workflow_name: String,
    pub job_name: String,
    pub state: JobState,
    pub conclusion: Option<Conclusion>,
    pub event_type: String,
    pub run_id: String,
    pub run_attempt: u32,
    pub check_run_id: String,
    pub head_sha: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    /// Seconds; `None` while running or when the job reported no way to tell.
    pub duration_s: Option<f64>,
    pub queue_time_s: Option<f64>,
    pub tests: TestCounts,
    pub links: Links,
}

impl JobCell {
    pub fn of(job: &Job) -> JobCell {
        JobCell {
            job_key: job.job_key.clone(),
            workflow_name: job.workflow_name.clone(),
            job_name: job.job_name.clone(),
            state: job.state,
            conclusion: job.conclusion,
            event_type: job.event_type.clone(),
            run_id: job.run_id.clone(),
            run_attempt: job.run_attempt,
            check_run_id: job.check_run_id.clone(),
            head_sha: job.head_sha.clone(),
            started_at: job.started_at.and_then(rfc3339),
            completed_at: job.completed_at.and_then(rfc3339),
            duration_s: job.duration_s(),
            queue_time_s: job.queue_time,
            tests: job.tests,
            links: Links::of(job),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use oot_contract::PrNumber;

    use super::*;

    pub(crate) fn pr(number: u32) -> PrNumber {
        PrNumber::new(u64::from(number)).unwrap()
    }

    /// A completed job for the views' tests; change what the test is about.
    pub(crate) fn job(repo: &str, key: &str) -> Job {
        Job {
            job_key: key.to_owned(),
            downstream_repo: repo.to_owned(),
            level: Some("L2".to_owned()),
            upstream_repo: Some("pytorch/pytorch".to_owned()),
            pr_number: Some(pr(1)),
            head_sha: Some("abcdef0123456789".to_owned()),
            delivery_id: "d1".to_owned(),
            event_type: "pull_request".to_owned(),
            workflow_run_url: "https://github.com/a/b/actions/runs/100".to_owned(),
            workflow_name: "ci".to_owned(),
            job_name: "test".to_owned(),
            check_run_id: "1".to_owned(),
            run_id: "100".to_owned(),
            run_attempt: 1,
            state: JobState::Success,
            conclusion: Some(Conclusion::Success),
            queue_time: Some(5.0),
            execution_time: Some(60.0),
            first_seen_at: 1_000,
            started_at: Some(1_000),
            completed_at: Some(1_060),
            tests: TestCounts::default(),
            artifact_url: None,
        }
    }

    #[test]
    fn only_https_links_are_passed_on() {
        let mut j = job("a/b", "k");
        j.artifact_url = Some("javascript:alert(1)".to_owned());
        let cell = JobCell::of(&j);
        assert_eq!(
            cell.links.workflow_run.as_deref(),
            Some("https://github.com/a/b/actions/runs/100")
        );
        assert_eq!(cell.links.artifacts, None);
        j.workflow_run_url = "http://github.com/a/b/actions/runs/100".to_owned();
        assert_eq!(JobCell::of(&j).links.workflow_run, None);
    }

    #[test]
    fn times_are_rfc3339_and_duration_is_derived() {
        let cell = JobCell::of(&job("a/b", "k"));
        assert_eq!(cell.started_at.as_deref(), Some("1970-01-01T00:16:40Z"));
        assert_eq!(cell.duration_s, Some(60.0));
    }

    /// The public JSON spells a conclusion as the contract (and the stores) do.
    #[test]
    fn conclusions_keep_their_json_spelling() {
        let mut j = job("a/b", "k");
        j.conclusion = Some(Conclusion::TimedOut);
        let json = serde_json::to_value(JobCell::of(&j)).unwrap();
        assert_eq!(json["conclusion"], "timed_out");
        j.conclusion = None;
        let json = serde_json::to_value(JobCell::of(&j)).unwrap();
        assert!(json["conclusion"].is_null());
    }
}
