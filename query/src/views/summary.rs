//! The global summary (`/oot`): one line per downstream repo, worst first.
//!
//! Repos come from the whole completed-jobs table (its retention), so a repo with nothing in the
//! window is still listed: with no pass rate, `stale`, and the days since its last result.
//! Worst first means: repos without a pass rate (nothing to judge: a backend that stopped
//! reporting needs a look first), longest silent first; then by pass rate, lowest first, the
//! one with more verdicts first on a tie; then by name.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::clock::{days_between, rfc3339};
use crate::job::SummaryJob;
use crate::rules::{counted_attempts, in_window, Window};
use crate::stores::completed::RepoLastResult;
use crate::stores::rollups::RepoFigures;
use crate::tally::{Ratio, Tally};
use crate::views::scorecard::Verdicts;
use crate::views::trends::DailyPassRate;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub window: &'static str,
    /// Start of the window (RFC 3339).
    pub since: Option<String>,
    pub generated_at: Option<String>,
    pub repos: Vec<RepoSummary>,
}

impl Summary {
    /// Each line's readiness verdicts, from every repo's (a repo with none is not judged).
    pub fn attach_readiness(&mut self, verdicts: &BTreeMap<String, Verdicts>) {
        for repo in &mut self.repos {
            repo.readiness = verdicts.get(&repo.downstream_repo).copied();
        }
    }

    /// Each line's daily pass rate (the sparkline), from every repo's; a repo with none gets
    /// `no_results` (a line with no run in those days has every day empty).
    pub fn attach_pass_rate_daily(
        &mut self,
        rates: &BTreeMap<String, Vec<DailyPassRate>>,
        no_results: &[DailyPassRate],
    ) {
        for repo in &mut self.repos {
            let daily = rates
                .get(&repo.downstream_repo)
                .map_or(no_results, Vec::as_slice);
            repo.pass_rate_daily = Some(daily.to_vec());
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepoSummary {
    pub downstream_repo: String,
    /// The relay's allowlist level (`L1`..`L4`) on the repo's latest job.
    pub level: Option<String>,
    /// successes / (success + failure + timed_out); `null` with no such job in the window.
    pub pass_rate: Option<Ratio>,
    /// Completed jobs counted (latest attempt of each run in the window).
    pub completed: u64,
    pub successes: u64,
    pub failures: u64,
    pub timed_out: u64,
    pub cancelled: u64,
    /// Skipped, neutral, action required, stale.
    pub other: u64,
    pub avg_duration_s: Option<f64>,
    /// Completion of the repo's latest completed job, in or before the window.
    pub last_run_at: Option<String>,
    pub days_since_last_result: Option<u64>,
    /// No completed job in the window.
    pub stale: bool,
    /// The RFC-0054 verdicts (docs/contract.md §14), over their own windows whatever the
    /// summary's; `null` where the served summary did not ask (the read-model tests compare the
    /// counts alone).
    pub readiness: Option<Verdicts>,
    /// The pass rate of each of the last 30 UTC days (today's so far last), oldest first, for
    /// the sparkline (docs/contract.md §14.9), whatever the summary's window; `null` where the
    /// served summary did not ask (as `readiness`).
    pub pass_rate_daily: Option<Vec<DailyPassRate>>,
}

/// Per repo while building: the tally and what is known of its last result.
#[derive(Default)]
struct Acc {
    tally: Tally,
    level: Option<(i64, String)>,
    last_completed_at: Option<i64>,
}

/// The summary of `window` ending at `now`, from the window's completed jobs, the running jobs
/// (only for the latest-attempt rule: a run whose latest attempt runs counts nothing) and every
/// repo's last result.
pub fn build(
    window: Window,
    now: i64,
    jobs: Vec<SummaryJob>,
    running: Vec<SummaryJob>,
    last_results: Vec<RepoLastResult>,
) -> Summary {
    let since = window.since(now);
    let mut repos: BTreeMap<String, Acc> = BTreeMap::new();
    for last in last_results {
        let acc = repos.entry(last.downstream_repo).or_default();
        acc.last_completed_at = acc.last_completed_at.max(Some(last.last_completed_at));
        if let Some(level) = last.level {
            // The table's latest level is authoritative over the window's (older) jobs.
            acc.level = Some((i64::MAX, level));
        }
    }
    let in_window_of = |jobs: Vec<SummaryJob>| -> Vec<SummaryJob> {
        jobs.into_iter()
            .filter(|j| in_window(j.first_seen_at, since))
            .collect()
    };
    let counted = counted_attempts(in_window_of(jobs), in_window_of(running), |j| {
        j.job_key.as_str()
    });
    for job in counted {
        let acc = repos.entry(job.downstream_repo.clone()).or_default();
        acc.tally.add(job.state, job.duration_s(), job.queue_time);
        acc.last_completed_at = acc.last_completed_at.max(job.completed_at);
        if let Some(level) = &job.level {
            if acc
                .level
                .as_ref()
                .is_none_or(|(at, _)| *at < job.first_seen_at)
            {
                acc.level = Some((job.first_seen_at, level.clone()));
            }
        }
    }
    summary_of(window, now, repos)
}

/// The summary of `window` ending at `now` from the rollups: what each repo's runs in the
/// window count ([`RepoFigures`], from the hourly cells) and every repo's latest (last result,
/// level). Equal to [`build`] over the same jobs (the rollups' exactness tests hold them so).
pub fn from_rollups(
    window: Window,
    now: i64,
    figures: Vec<RepoFigures>,
    latest: Vec<RepoLastResult>,
) -> Summary {
    let mut repos: BTreeMap<String, Acc> = BTreeMap::new();
    for last in latest {
        let acc = repos.entry(last.downstream_repo).or_default();
        acc.last_completed_at = acc.last_completed_at.max(Some(last.last_completed_at));
        acc.level = last.level.map(|level| (i64::MAX, level));
    }
    for repo in figures {
        // A repo whose runs in the window are all running counts nothing, and running jobs
        // never add a repo to the summary.
        if repo.figures.completed <= 0 {
            continue;
        }
        repos
            .entry(repo.downstream_repo)
            .or_default()
            .tally
            .add_figures(&repo.figures);
    }
    summary_of(window, now, repos)
}

/// The summary's lines, worst first.
fn summary_of(window: Window, now: i64, repos: BTreeMap<String, Acc>) -> Summary {
    let since = window.since(now);
    let mut lines: Vec<RepoSummary> = repos
        .into_iter()
        .map(|(downstream_repo, acc)| RepoSummary {
            downstream_repo,
            level: acc.level.map(|(_, level)| level),
            pass_rate: acc.tally.pass_rate(),
            completed: acc.tally.completed,
            successes: acc.tally.successes,
            failures: acc.tally.failures,
            timed_out: acc.tally.timed_out,
            cancelled: acc.tally.cancelled,
            other: acc.tally.other,
            avg_duration_s: acc.tally.avg_duration_s(),
            last_run_at: acc.last_completed_at.and_then(rfc3339),
            days_since_last_result: acc.last_completed_at.map(|at| days_between(at, now)),
            stale: acc.tally.completed == 0,
            readiness: None,
            pass_rate_daily: None,
        })
        .collect();
    lines.sort_by(worst_first);
    Summary {
        window: window.as_str(),
        since: rfc3339(since),
        generated_at: rfc3339(now),
        repos: lines,
    }
}

fn worst_first(a: &RepoSummary, b: &RepoSummary) -> Ordering {
    let by_rate = match (&a.pass_rate, &b.pass_rate) {
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => {
            let silence = |r: &RepoSummary| r.days_since_last_result.unwrap_or(u64::MAX);
            silence(b).cmp(&silence(a))
        }
        (Some(x), Some(y)) => x.cmp_rate(y).then(y.denominator.cmp(&x.denominator)),
    };
    by_rate.then_with(|| a.downstream_repo.cmp(&b.downstream_repo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobState;

    const NOW: i64 = 1_800_000_000;
    const DAY: i64 = 86_400;

    fn job(repo: &str, run: &str, attempt: u32, state: JobState) -> SummaryJob {
        SummaryJob {
            job_key: format!("{repo}/{run}/{attempt}"),
            downstream_repo: repo.to_owned(),
            level: Some("L1".to_owned()),
            workflow_name: "ci".to_owned(),
            job_name: "test".to_owned(),
            run_id: run.to_owned(),
            run_attempt: attempt,
            state,
            queue_time: None,
            execution_time: Some(100.0),
            first_seen_at: NOW - 3600,
            started_at: None,
            completed_at: Some(NOW - 3000),
        }
    }

    fn last(repo: &str, at: i64) -> RepoLastResult {
        RepoLastResult {
            downstream_repo: repo.to_owned(),
            last_completed_at: at,
            level: Some("L3".to_owned()),
        }
    }

    fn line<'a>(summary: &'a Summary, repo: &str) -> &'a RepoSummary {
        summary
            .repos
            .iter()
            .find(|r| r.downstream_repo == repo)
            .unwrap()
    }

    #[test]
    fn pass_rate_counts_the_latest_attempt_of_each_run() {
        let jobs = vec![
            job("a/a", "1", 1, JobState::Failure),
            job("a/a", "1", 2, JobState::Success),
            job("a/a", "2", 1, JobState::Failure),
            job("a/a", "3", 1, JobState::Cancelled),
        ];
        let summary = build(Window::Day, NOW, jobs, vec![], vec![]);
        let a = line(&summary, "a/a");
        let rate = a.pass_rate.unwrap();
        assert_eq!((rate.numerator, rate.denominator), (1, 2));
        assert_eq!((a.completed, a.cancelled, a.failures), (3, 1, 1));
        assert!(!a.stale);
        assert_eq!(a.days_since_last_result, Some(0));
    }

    #[test]
    fn a_run_whose_latest_attempt_runs_counts_no_failure() {
        // Attempt 1 failed and attempt 2 runs: the run has no outcome yet (the PR view shows
        // attempt 2 running, see `views::pr`), so the summary counts no failure for it.
        let completed = vec![
            job("a/a", "1", 1, JobState::Failure),
            job("a/a", "2", 1, JobState::Success),
        ];
        let mut running = job("a/a", "1", 2, JobState::Running);
        running.completed_at = None;
        let summary = build(Window::Day, NOW, completed, vec![running], vec![]);
        let a = line(&summary, "a/a");
        assert_eq!((a.completed, a.successes, a.failures), (1, 1, 0));
        let rate = a.pass_rate.unwrap();
        assert_eq!((rate.numerator, rate.denominator), (1, 1));
        // A running job alone does not make a repo a line of the summary.
        let mut elsewhere = job("new/repo", "1", 1, JobState::Running);
        elsewhere.completed_at = None;
        let summary = build(Window::Day, NOW, vec![], vec![elsewhere], vec![]);
        assert!(summary.repos.is_empty());
    }

    #[test]
    fn a_repo_with_nothing_in_the_window_is_stale_and_has_no_rate() {
        let mut old = job("b/b", "1", 1, JobState::Success);
        old.first_seen_at = NOW - 3 * DAY;
        let summary = build(
            Window::Day,
            NOW,
            vec![old],
            vec![],
            vec![last("b/b", NOW - 3 * DAY)],
        );
        let b = line(&summary, "b/b");
        assert_eq!(b.pass_rate, None);
        assert!(b.stale);
        assert_eq!(b.completed, 0);
        assert_eq!(b.days_since_last_result, Some(3));
        assert_eq!(b.level.as_deref(), Some("L3"));
    }

    #[test]
    fn worst_first_unknown_then_lowest_rate() {
        let jobs = vec![
            job("good/one", "1", 1, JobState::Success),
            job("half/one", "1", 1, JobState::Success),
            job("half/one", "2", 1, JobState::Failure),
            job("half/two", "1", 1, JobState::Success),
            job("half/two", "2", 1, JobState::TimedOut),
            job("half/two", "3", 1, JobState::Success),
            job("half/two", "4", 1, JobState::Failure),
            job("only/cancelled", "1", 1, JobState::Cancelled),
        ];
        let lasts = vec![
            last("silent/long", NOW - 20 * DAY),
            last("silent/short", NOW - 2 * DAY),
        ];
        let summary = build(Window::Day, NOW, jobs, vec![], lasts);
        let order: Vec<&str> = summary
            .repos
            .iter()
            .map(|r| r.downstream_repo.as_str())
            .collect();
        assert_eq!(
            order,
            [
                "silent/long",
                "silent/short",
                "only/cancelled",
                "half/two",
                "half/one",
                "good/one"
            ]
        );
    }
}
