//! The three views as data: what a JSON endpoint serializes and a page renders. Each builder is
//! a pure function of the jobs read and the time, so the views are tested without stores.
//!
//! - [`summary`]: every downstream repo, worst first.
//! - [`backend`]: one downstream repo: header, PR-by-job matrix, failure drill-down.
//! - [`pr`]: one upstream PR across backends, with its headline.
//! - [`failing_tests`]: one downstream repo's failing tests, new first (the triage rules' rows).
//! - [`test_history`]: one test's results per job slot, with its regression range.
//! - [`release_diff`]: one downstream repo's failing tests on two sets of nightlies compared.
//! - [`scorecard`]: one downstream repo's readiness gates, verdicts and level history.
//! - [`nightly`]: one downstream repo's nightly runs, upstream commit by job.
//! - [`trends`]: one downstream repo's figures per day over 30 or 90 days; every repo's daily
//!   pass rate.
//! - [`deliveries`]: one downstream repo's delivery log, newest first, and its outcome counts.
//! - [`alerts`]: one downstream repo's (or every one's) open and recently closed alerts.
//! - [`cell`]: one job as the matrix and the PR view show it; [`failed_tests`]: the drill-down's list.

pub mod alerts;
pub mod backend;
pub mod cell;
pub mod deliveries;
pub mod failed_tests;
pub mod failing_tests;
pub mod nightly;
pub mod pr;
pub mod pr_triage;
pub mod release_diff;
pub mod scorecard;
pub mod summary;
pub mod test_history;
pub mod trends;

#[cfg(test)]
mod tests {
    //! One rule everywhere: the same jobs through every view.

    use super::*;
    use crate::job::{JobState, SummaryJob};
    use crate::params::PageRequest;
    use crate::rules::Window;
    use crate::views::cell::tests::{job, pr};

    #[test]
    fn a_running_attempt_2_is_shown_and_its_failed_attempt_1_is_not_counted() {
        let now = 10_000;
        let mut attempt_1 = job("a/a", "a/a/d/ci/test/1");
        attempt_1.state = JobState::Failure;
        let mut other_run = job("a/a", "a/a/d/ci/test/9");
        other_run.run_id = "99".to_owned();
        other_run.state = JobState::Success;
        let mut attempt_2 = job("a/a", "a/a/d/ci/test/2");
        attempt_2.run_attempt = 2;
        attempt_2.state = JobState::Running;
        attempt_2.completed_at = None;
        let completed = vec![attempt_1, other_run];
        let running = vec![attempt_2];

        let upstream = oot_contract::UpstreamPr::new(
            oot_contract::RepoName::parse("pytorch/pytorch").unwrap(),
            pr(1),
        );
        let pr_view = pr::build(&upstream, None, now, completed.clone(), running.clone());
        let shown = &pr_view.backends[0].jobs;
        assert_eq!(shown.len(), 1, "one job line: run 100's latest attempt");
        assert_eq!(
            (shown[0].run_attempt, shown[0].state),
            (2, JobState::Running)
        );
        assert_eq!(pr_view.headline, "0/1 passed, 1 running");

        let summary = summary::build(
            Window::Day,
            now,
            completed.iter().cloned().map(SummaryJob::of).collect(),
            running.iter().cloned().map(SummaryJob::of).collect(),
            vec![],
        );
        let line = &summary.repos[0];
        assert_eq!((line.completed, line.successes, line.failures), (1, 1, 0));

        let page = PageRequest {
            page: 1,
            per_page: 10,
        };
        let view = backend::tests::via_plan("a/a", Window::Day, now, completed, running, page);
        assert_eq!(
            (
                view.header.completed,
                view.header.failures,
                view.header.running
            ),
            (1, 0, 1)
        );
        assert_eq!(view.header.pass_rate, line.pass_rate);
        let cell = view.rows[0].cells.iter().flatten().next().unwrap();
        assert_eq!((cell.run_attempt, cell.state), (2, JobState::Running));
    }
}
