//! A backend's failing tests (`/oot/{org}/{repo}/tests`, contract §12.10): each test failing
//! in the window in each job slot, new first, with its status against the baseline nightly, how
//! often it failed, the PRs it hit, and whether it is flaky; and a headline counting them.
//!
//! The rows are [`oot_triage::failing_tests`]'s, in its order ([`oot_triage::summary_order`]),
//! computed once per backend and window into a [`FailingTestsAnswer`] that many requests read
//! (kept, `crate::kept`); this module shapes an answer for one request: its filter and page,
//! times as RFC 3339, the baseline as the nightly it was, a few of the PRs with their upstream
//! repo.

use std::collections::HashMap;

use serde::Serialize;

use oot_triage::{FailingTest, FlipScore, JobRef, Status};

use crate::clock::rfc3339;
use crate::params::{FailingTestsFilter, FailingTestsParams};

/// PRs listed per test (the newest numbers); `prs_hit` counts them all.
pub const PRS_LISTED: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailingTestsView {
    pub downstream_repo: String,
    pub window: &'static str,
    pub since: Option<String>,
    /// When the answer was computed (it is kept and refreshed behind the requests, contract
    /// §12.13 "Kept answers").
    pub generated_at: Option<String>,
    /// Seconds from `generated_at` to this request.
    pub age_seconds: u64,
    /// Baselines before the window were looked for back to this time (contract §12.13): a slot
    /// whose last nightly is older is answered as if it had none before the window.
    pub baselines_since: Option<String>,
    /// Every row of the window, whatever the filter.
    pub headline: Headline,
    /// Which rows are listed.
    pub filter: FailingTestsFilter,
    /// How many rows the filter keeps, on every page.
    pub matching: u64,
    /// The page listed; `null` when every row the filter keeps is.
    pub page: Option<TestsPage>,
    /// The rows the filter keeps (on the page asked for): new, then known, then fixed; within a
    /// status the most failed runs first.
    pub tests: Vec<FailingTestLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TestsPage {
    /// 1-based.
    pub page: usize,
    pub per_page: usize,
    /// More rows the filter keeps after this page.
    pub has_more: bool,
}

/// How many (test, slot) rows have each status, and how many are flaky.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Headline {
    pub failing: u64,
    pub new: u64,
    pub known: u64,
    pub fixed: u64,
    pub flaky: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailingTestLine {
    /// `''` when the job sent none.
    pub classname: String,
    pub name: String,
    pub workflow_name: String,
    pub job_name: String,
    pub status: Status,
    /// Runs of the slot in the window whose latest attempt failed the test, out of
    /// `runs_of_job`, the runs of the slot in the window.
    pub runs_failed: u64,
    pub runs_of_job: u64,
    /// Distinct upstream PRs among the failed runs; [`PRS_LISTED`] of them in `prs`, highest
    /// number first.
    pub prs_hit: u64,
    pub prs: Vec<PrRef>,
    pub first_failure_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub flaky: bool,
    pub flip: FlipScore,
    /// The nightly the status compared with; `null` when the slot has none.
    pub baseline: Option<Baseline>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrRef {
    /// `null` when no job read named it.
    pub upstream_repo: Option<String>,
    pub number: u64,
}

/// A nightly job, as the status compared with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Baseline {
    pub job_key: String,
    /// `null` when the job named no commit.
    pub upstream_sha: Option<String>,
    pub run_id: String,
    pub run_attempt: u32,
    pub first_seen_at: Option<String>,
}

impl Baseline {
    fn of(job: &JobRef) -> Baseline {
        Baseline {
            job_key: job.job_key.clone(),
            upstream_sha: (!job.upstream_sha.is_empty()).then(|| job.upstream_sha.clone()),
            run_id: job.run_id.clone(),
            run_attempt: job.run_attempt,
            first_seen_at: rfc3339(job.first_seen_at),
        }
    }
}

/// The rules' rows for one backend and window: what a request's view is cut from.
#[derive(Debug, Clone, PartialEq)]
pub struct FailingTestsAnswer {
    /// The window's start and when the answer was computed, seconds.
    pub since: i64,
    pub computed_at: i64,
    /// How far back baselines were looked for.
    pub baselines_since: i64,
    /// The rules' rows, each with only the [`PRS_LISTED`] newest of its `prs`.
    pub rows: Vec<FailingTest>,
    /// The upstream repo of each PR number a row lists (of [`PRS_LISTED`] per row).
    pub upstream_of_prs: HashMap<u64, String>,
}

impl FailingTestsAnswer {
    /// The answer of `rows` for the window from `since`, computed at `computed_at`;
    /// `upstream_of_pr` names the PRs the rows list.
    pub fn new(
        since: i64,
        computed_at: i64,
        baselines_since: i64,
        mut rows: Vec<FailingTest>,
        upstream_of_pr: impl Fn(u64) -> Option<String>,
    ) -> Self {
        // Only the newest are listed (`prs_hit` counts them all): a test failing on most PRs of
        // a month would keep thousands of numbers per row.
        for row in &mut rows {
            let listed_from = row.prs.len().saturating_sub(PRS_LISTED);
            row.prs.drain(..listed_from);
        }
        let upstream_of_prs = rows
            .iter()
            .flat_map(listed_prs)
            .filter_map(|number| upstream_of_pr(number).map(|repo| (number, repo)))
            .collect();
        Self {
            since,
            computed_at,
            baselines_since,
            rows,
            upstream_of_prs,
        }
    }
}

/// The PRs a row lists: its newest [`PRS_LISTED`], highest number first.
fn listed_prs(row: &FailingTest) -> impl Iterator<Item = u64> + '_ {
    row.prs.iter().rev().take(PRS_LISTED).copied()
}

/// The view of the failing tests `asked` for (a repo, a window, a filter and maybe a page),
/// served at `now` from `answer`: the headline over all its rows, then those the filter keeps,
/// on the page when one is asked for.
pub fn build(
    asked: &FailingTestsParams,
    answer: &FailingTestsAnswer,
    now: i64,
) -> FailingTestsView {
    let FailingTestsParams {
        repo,
        window,
        filter,
        page,
    } = asked;
    let (window, filter, page) = (*window, *filter, *page);
    let rows = &answer.rows;
    let mut headline = Headline::default();
    for row in rows {
        headline.count(row);
    }
    let kept = rows
        .iter()
        .filter(|row| filter.keeps(row.status, row.flaky));
    let mut matching = 0u64;
    let (skip, take) = page.map_or((0, usize::MAX), |page| {
        ((page.page - 1).saturating_mul(page.per_page), page.per_page)
    });
    let mut tests = Vec::new();
    for (at, row) in kept.enumerate() {
        matching += 1;
        if at >= skip && tests.len() < take {
            tests.push(line(row, &answer.upstream_of_prs));
        }
    }
    let page = page.map(|page| TestsPage {
        page: page.page,
        per_page: page.per_page,
        has_more: (skip as u64).saturating_add(take as u64) < matching,
    });
    FailingTestsView {
        downstream_repo: repo.to_string(),
        window: window.as_str(),
        since: rfc3339(answer.since),
        generated_at: rfc3339(answer.computed_at),
        age_seconds: u64::try_from(now.saturating_sub(answer.computed_at)).unwrap_or(0),
        baselines_since: rfc3339(answer.baselines_since),
        headline,
        filter,
        matching,
        page,
        tests,
    }
}

impl Headline {
    fn count(&mut self, row: &FailingTest) {
        self.failing += 1;
        match row.status {
            Status::New => self.new += 1,
            Status::Known => self.known += 1,
            Status::Fixed => self.fixed += 1,
        }
        if row.flaky {
            self.flaky += 1;
        }
    }
}

fn line(row: &FailingTest, upstream_of_prs: &HashMap<u64, String>) -> FailingTestLine {
    let prs = listed_prs(row)
        .map(|number| PrRef {
            upstream_repo: upstream_of_prs.get(&number).cloned(),
            number,
        })
        .collect();
    FailingTestLine {
        status: row.status,
        runs_failed: row.runs_failed,
        runs_of_job: row.runs_of_job,
        prs_hit: row.prs_hit,
        prs,
        first_failure_at: rfc3339(row.first_failure_at),
        last_failure_at: rfc3339(row.last_failure_at),
        flaky: row.flaky,
        flip: row.flip,
        baseline: row.baseline.as_ref().map(Baseline::of),
        classname: row.test.classname.clone(),
        name: row.test.name.clone(),
        workflow_name: row.slot.workflow_name.clone(),
        job_name: row.slot.job_name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::PageRequest;
    use crate::rules::Window;
    use oot_contract::RepoName;
    use oot_triage::{JobSlot, TestId, Trigger};

    fn asked(
        window: Window,
        filter: FailingTestsFilter,
        page: Option<PageRequest>,
    ) -> FailingTestsParams {
        FailingTestsParams {
            repo: RepoName::parse("a/b").unwrap(),
            window,
            filter,
            page,
        }
    }

    const NOW: i64 = 1_777_400_000;

    /// The view `asked` for, served at [`NOW`] from an answer of `rows` computed a minute before.
    fn view_of_rows(
        asked: &FailingTestsParams,
        rows: Vec<FailingTest>,
        upstream_of_pr: impl Fn(u64) -> Option<String>,
    ) -> FailingTestsView {
        let since = asked.window.since(NOW);
        let answer = FailingTestsAnswer::new(since, NOW - 60, 0, rows, upstream_of_pr);
        build(asked, &answer, NOW)
    }

    fn row(name: &str, status: Status, flaky: bool, prs: Vec<u64>) -> FailingTest {
        FailingTest {
            test: TestId {
                classname: "T".to_owned(),
                name: name.to_owned(),
            },
            slot: JobSlot {
                workflow_name: "ci".to_owned(),
                job_name: "test".to_owned(),
            },
            status,
            baseline: None,
            runs_failed: 2,
            runs_of_job: 5,
            prs_hit: prs.len() as u64,
            prs,
            first_failure_at: 1_777_371_330,
            last_failure_at: 1_777_371_390,
            flaky,
            flip: FlipScore::new(0, 0),
        }
    }

    #[test]
    fn the_headline_counts_each_status_and_the_flaky_rows() {
        let rows = vec![
            row("a", Status::New, true, vec![]),
            row("b", Status::New, false, vec![]),
            row("c", Status::Known, true, vec![]),
            row("d", Status::Fixed, false, vec![]),
        ];
        let view = view_of_rows(
            &asked(Window::Week, FailingTestsFilter::default(), None),
            rows,
            |_| None,
        );
        assert_eq!(
            view.headline,
            Headline {
                failing: 4,
                new: 2,
                known: 1,
                fixed: 1,
                flaky: 2
            }
        );
        let names: Vec<&str> = view.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d"], "the rules' order is kept");
        assert_eq!(view.window, "7d");
        assert_eq!(view.since.as_deref(), Some("2026-04-21T18:00:00Z"));
        assert_eq!(view.generated_at.as_deref(), Some("2026-04-28T18:12:20Z"));
        assert_eq!(
            view.age_seconds, 60,
            "served a minute after it was computed"
        );
    }

    #[test]
    fn a_line_shows_the_newest_prs_times_and_the_baseline() {
        let mut failing = row("t", Status::Known, false, (1..=8).collect());
        failing.baseline = Some(JobRef {
            job_key: "k".to_owned(),
            event: Trigger::Nightly,
            upstream_sha: String::new(),
            run_id: "9".to_owned(),
            run_attempt: 2,
            first_seen_at: 1_777_371_330,
        });
        let view = view_of_rows(
            &asked(Window::Day, FailingTestsFilter::default(), None),
            vec![failing],
            |n| (n % 2 == 0).then(|| "pytorch/pytorch".to_owned()),
        );
        let line = &view.tests[0];
        let numbers: Vec<u64> = line.prs.iter().map(|p| p.number).collect();
        assert_eq!(numbers, [8, 7, 6, 5, 4]);
        assert_eq!(line.prs_hit, 8);
        assert_eq!(
            line.prs[0].upstream_repo.as_deref(),
            Some("pytorch/pytorch")
        );
        assert_eq!(line.prs[1].upstream_repo, None);
        assert_eq!(
            line.first_failure_at.as_deref(),
            Some("2026-04-28T10:15:30Z")
        );
        let baseline = line.baseline.as_ref().unwrap();
        assert_eq!(baseline.upstream_sha, None, "no commit named");
        assert_eq!((baseline.run_id.as_str(), baseline.run_attempt), ("9", 2));
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["tests"][0]["status"], "known");
        assert_eq!(json["tests"][0]["flip"]["score"], 0.0);
        assert_eq!(json["headline"]["known"], 1);
    }

    #[test]
    fn an_answer_keeps_only_the_prs_it_lists_and_their_upstream_repos() {
        let rows = vec![
            row("many", Status::New, false, (1..=8).collect()),
            row("few", Status::New, false, vec![3]),
        ];
        let answer = FailingTestsAnswer::new(0, NOW, 0, rows, |n| Some(format!("up/{n}")));
        assert_eq!(answer.rows[0].prs, [4, 5, 6, 7, 8]);
        assert_eq!(answer.rows[0].prs_hit, 8, "the count is of them all");
        assert_eq!(answer.rows[1].prs, [3]);
        let mut named: Vec<u64> = answer.upstream_of_prs.keys().copied().collect();
        named.sort_unstable();
        assert_eq!(named, [3, 4, 5, 6, 7, 8]);
    }

    fn names(view: &FailingTestsView) -> Vec<&str> {
        view.tests.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn the_filter_and_the_page_choose_the_rows_listed_and_the_headline_counts_all() {
        let rows = || {
            vec![
                row("a", Status::New, true, vec![]),
                row("b", Status::New, false, vec![]),
                row("c", Status::New, true, vec![]),
                row("d", Status::Known, true, vec![]),
                row("e", Status::Fixed, false, vec![]),
            ]
        };
        let view_of =
            |filter, page| view_of_rows(&asked(Window::Week, filter, page), rows(), |_| None);
        let flaky_new = FailingTestsFilter {
            status: Some(Status::New),
            flaky: Some(true),
        };
        let view = view_of(flaky_new, None);
        assert_eq!(names(&view), ["a", "c"]);
        assert_eq!((view.matching, view.page), (2, None));
        assert_eq!(view.headline.failing, 5, "the headline is not filtered");

        let page = |page, per_page| Some(PageRequest { page, per_page });
        let all = FailingTestsFilter::default();
        let first = view_of(all, page(1, 2));
        assert_eq!(names(&first), ["a", "b"]);
        assert_eq!(first.matching, 5);
        assert!(first.page.is_some_and(|p| p.has_more));
        let last = view_of(all, page(3, 2));
        assert_eq!(names(&last), ["e"]);
        assert!(last.page.is_some_and(|p| !p.has_more));
        let exact = view_of(all, page(1, 5));
        assert!(exact.page.is_some_and(|p| !p.has_more), "nothing after");
        let past = view_of(all, page(9, 2));
        assert!(past.tests.is_empty());
        assert_eq!(past.matching, 5);

        let not_flaky = view_of(
            FailingTestsFilter {
                status: None,
                flaky: Some(false),
            },
            page(1, 1),
        );
        assert_eq!(names(&not_flaky), ["b"]);
        assert_eq!(not_flaky.matching, 2);
        let json = serde_json::to_value(&not_flaky).unwrap();
        assert_eq!(json["filter"]["flaky"], false);
        assert_eq!(json["filter"]["status"], serde_json::Value::Null);
        assert_eq!(json["page"]["has_more"], true);
    }
}
