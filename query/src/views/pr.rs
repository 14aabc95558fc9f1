//! The PR section (`/pr/{number}`): for one upstream PR, each backend's jobs (the latest attempt
//! of the newest run of each, running ones included) and a headline such as
//! "3/4 passed, 1 running", for the PR as a whole and per backend.

use std::collections::BTreeMap;

use serde::Serialize;

use oot_contract::{PrNumber, UpstreamPr};

use crate::clock::rfc3339;
use crate::job::{Job, JobState};
use crate::rules::{in_window, latest_of_each_job, with_running, Window};
use crate::views::cell::JobCell;
use crate::views::pr_triage::{BackendTriage, PrTriageSummary};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrView {
    pub upstream_repo: String,
    pub pr_number: PrNumber,
    /// The window asked for; `null`: every job of the PR still retained.
    pub window: Option<&'static str>,
    pub generated_at: Option<String>,
    pub headline: String,
    pub counts: StateCounts,
    pub backends: Vec<BackendJobs>,
    /// "Is it mine?" over the backends ([`crate::views::pr_triage`]); absent from the jobs view
    /// alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triage: Option<PrTriageSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackendJobs {
    pub downstream_repo: String,
    pub level: Option<String>,
    pub headline: String,
    pub counts: StateCounts,
    /// By workflow, then job name.
    pub jobs: Vec<JobCell>,
    /// The verdicts on this backend's failing tests; absent from the jobs view alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triage: Option<BackendTriage>,
}

/// Jobs shown, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StateCounts {
    pub total: u64,
    pub passed: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub cancelled: u64,
    pub running: u64,
    pub skipped: u64,
    /// Neutral, action required, stale, unknown.
    pub other: u64,
}

impl StateCounts {
    pub(crate) fn add(&mut self, state: JobState) {
        self.total += 1;
        let bucket = match state {
            JobState::Success => &mut self.passed,
            JobState::Failure => &mut self.failed,
            JobState::TimedOut => &mut self.timed_out,
            JobState::Cancelled => &mut self.cancelled,
            JobState::Running => &mut self.running,
            JobState::Skipped => &mut self.skipped,
            JobState::Neutral | JobState::ActionRequired | JobState::Stale | JobState::Unknown => {
                &mut self.other
            }
        };
        *bucket += 1;
    }

    fn merge(&mut self, other: &StateCounts) {
        self.total += other.total;
        self.passed += other.passed;
        self.failed += other.failed;
        self.timed_out += other.timed_out;
        self.cancelled += other.cancelled;
        self.running += other.running;
        self.skipped += other.skipped;
        self.other += other.other;
    }
}

/// "3/4 passed, 1 running": passed over every job shown, then each other state that occurs, in
/// a fixed order; "no jobs" when there are none.
pub fn headline(counts: &StateCounts) -> String {
    if counts.total == 0 {
        return "no jobs".to_owned();
    }
    let mut parts = vec![format!("{}/{} passed", counts.passed, counts.total)];
    for (n, what) in [
        (counts.failed, "failed"),
        (counts.timed_out, "timed out"),
        (counts.cancelled, "cancelled"),
        (counts.running, "running"),
        (counts.skipped, "skipped"),
        (counts.other, "other"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

/// The view of `pr` at `now`, over `window` if one is given.
pub fn build(
    pr: &UpstreamPr,
    window: Option<Window>,
    now: i64,
    completed: Vec<Job>,
    running: Vec<Job>,
) -> PrView {
    let since = window.map_or(i64::MIN, |w| w.since(now));
    let keep = |j: &Job| {
        j.upstream_repo.as_deref() == Some(pr.repo.as_str())
            && j.pr_number == Some(pr.number)
            && in_window(j.first_seen_at, since)
    };
    let completed: Vec<Job> = completed.into_iter().filter(keep).collect();
    let running: Vec<Job> = running
        .into_iter()
        .filter(|j| keep(j) && j.is_running())
        .collect();
    let all = with_running(completed, running, |j| j.job_key.as_str());

    // Each backend's level is its newest job's (ties within a second to the higher key, so the
    // choice never depends on the order the rows were read in).
    let mut levels: BTreeMap<String, ((i64, String), String)> = BTreeMap::new();
    for job in &all {
        if let Some(level) = &job.level {
            let rank = (job.first_seen_at, job.job_key.clone());
            let newest = levels
                .get(&job.downstream_repo)
                .is_none_or(|(kept, _)| *kept < rank);
            if newest {
                levels.insert(job.downstream_repo.clone(), (rank, level.clone()));
            }
        }
    }
    let mut by_backend: BTreeMap<String, Vec<Job>> = BTreeMap::new();
    for job in latest_of_each_job(all) {
        by_backend
            .entry(job.downstream_repo.clone())
            .or_default()
            .push(job);
    }

    let mut counts = StateCounts::default();
    let backends = by_backend
        .into_iter()
        .map(|(downstream_repo, mut jobs)| {
            jobs.sort_by(|a, b| {
                (&a.workflow_name, &a.job_name).cmp(&(&b.workflow_name, &b.job_name))
            });
            let mut backend_counts = StateCounts::default();
            for job in &jobs {
                backend_counts.add(job.state);
            }
            counts.merge(&backend_counts);
            BackendJobs {
                level: levels.remove(&downstream_repo).map(|(_, level)| level),
                downstream_repo,
                headline: headline(&backend_counts),
                counts: backend_counts,
                jobs: jobs.iter().map(JobCell::of).collect(),
                triage: None,
            }
        })
        .collect();

    PrView {
        upstream_repo: pr.repo.to_string(),
        pr_number: pr.number,
        window: window.map(Window::as_str),
        generated_at: rfc3339(now),
        headline: headline(&counts),
        counts,
        backends,
        triage: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::cell::tests::{job, pr};

    fn counts(states: &[JobState]) -> StateCounts {
        let mut c = StateCounts::default();
        for s in states {
            c.add(*s);
        }
        c
    }

    #[test]
    fn headlines_read_like_the_contracts_example() {
        use JobState::*;
        assert_eq!(
            headline(&counts(&[Success, Success, Success, Running])),
            "3/4 passed, 1 running"
        );
        assert_eq!(
            headline(&counts(&[
                Success, Failure, TimedOut, Cancelled, Skipped, Neutral
            ])),
            "1/6 passed, 1 failed, 1 timed out, 1 cancelled, 1 skipped, 1 other"
        );
        assert_eq!(headline(&counts(&[Success])), "1/1 passed");
        assert_eq!(headline(&StateCounts::default()), "no jobs");
    }

    fn pytorch(number: u32) -> UpstreamPr {
        let repo = oot_contract::RepoName::parse("pytorch/pytorch").unwrap();
        UpstreamPr::new(repo, pr(number))
    }

    fn pr_job(repo: &str, key: &str, job_name: &str, attempt: u32, state: JobState) -> Job {
        let mut j = job(repo, key);
        j.job_name = job_name.to_owned();
        j.run_attempt = attempt;
        j.state = state;
        j
    }

    #[test]
    fn per_backend_latest_attempts_and_running_jobs() {
        let completed = vec![
            pr_job("b/b", "k1", "test", 1, JobState::Failure),
            pr_job("b/b", "k2", "test", 2, JobState::Success),
            pr_job("a/a", "k3", "test", 1, JobState::Success),
            pr_job("a/a", "k4", "build", 1, JobState::Success),
        ];
        let mut other_pr = pr_job("a/a", "k5", "lint", 1, JobState::Failure);
        other_pr.pr_number = Some(pr(2));
        let running = vec![pr_job("a/a", "k6", "lint", 1, JobState::Running), other_pr];
        let view = build(&pytorch(1), None, 10_000, completed, running);
        assert_eq!(view.headline, "3/4 passed, 1 running");
        let names: Vec<&str> = view
            .backends
            .iter()
            .map(|b| b.downstream_repo.as_str())
            .collect();
        assert_eq!(names, ["a/a", "b/b"]);
        assert_eq!(view.backends[0].headline, "2/3 passed, 1 running");
        assert_eq!(view.backends[1].jobs[0].run_attempt, 2);
        assert_eq!(view.backends[1].headline, "1/1 passed");
        assert_eq!(view.backends[0].level.as_deref(), Some("L2"));
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(
            (&json["upstream_repo"], &json["pr_number"]),
            (&serde_json::json!("pytorch/pytorch"), &serde_json::json!(1))
        );
    }

    #[test]
    fn a_window_leaves_older_jobs_out() {
        let mut old = pr_job("a/a", "k1", "test", 1, JobState::Failure);
        old.first_seen_at = 0;
        let view = build(
            &pytorch(1),
            Some(Window::Day),
            200_000,
            vec![old.clone()],
            vec![],
        );
        assert_eq!(view.headline, "no jobs");
        let all = build(&pytorch(1), None, 200_000, vec![old], vec![]);
        assert_eq!(all.headline, "0/1 passed, 1 failed");
    }
}
