//! The per-backend view (`/oot/{org}/{repo}`): a header of rates and averages, a matrix of
//! upstream targets (rows: PRs, and nightly/push/periodic runs) by job (columns), and the
//! failed tests of the failed jobs on the page.
//!
//! - Header: the same tally as the summary's line for this repo (the latest attempt of each run
//!   in the window, running attempts included, counted when completed: [`counted_attempts`]),
//!   plus the number of jobs running now.
//! - Rows: one per upstream PR (`upstream_repo#pr_number`), or, for events without a PR, one per
//!   upstream delivery (a nightly run, a push). Newest first: by the latest `first_seen_at` of
//!   the row's jobs, so a PR pushed to today is on top even when its number is old.
//! - Columns: every (workflow, job name) of the window, so pages share them.
//! - Cells: the latest attempt of the newest run of that job for that row, running included
//!   ([`crate::rules`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use oot_contract::PrNumber;
use serde::Serialize;

use crate::clock::rfc3339;
use crate::job::{Job, JobState};
use crate::params::PageRequest;
use crate::rules::{counted_attempts, in_window, latest_of_each_job, with_running, Window};
use crate::tally::{Ratio, Tally};
use crate::views::cell::{JobCell, Links};
use crate::views::failed_tests::{self, FailedTest};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackendView {
    pub downstream_repo: String,
    pub level: Option<String>,
    pub window: &'static str,
    pub since: Option<String>,
    pub generated_at: Option<String>,
    pub header: Header,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    pub page: Page,
    /// Failed jobs shown on this page, with their failed tests, in row then column order.
    pub failures: Vec<Failure>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    /// successes / (success + failure + timed_out); `null` with no such job in the window.
    pub pass_rate: Option<Ratio>,
    /// timed_out / (success + failure + timed_out).
    pub timeout_rate: Option<Ratio>,
    pub completed: u64,
    pub successes: u64,
    pub failures: u64,
    pub timed_out: u64,
    pub cancelled: u64,
    pub other: u64,
    pub running: u64,
    pub avg_queue_time_s: Option<f64>,
    pub avg_execution_time_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Column {
    pub workflow_name: String,
    pub job_name: String,
}

/// What a row stands for upstream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// `pull_request` for a PR row, else the event type (`nightly`, `push`, `periodic`, ...).
    pub kind: String,
    /// `pytorch/pytorch#179565`, or `nightly pytorch/pytorch@b1c2d3e`.
    pub label: String,
    pub upstream_repo: Option<String>,
    pub pr_number: Option<PrNumber>,
    /// The upstream commit of the row's most recent job.
    pub head_sha: Option<String>,
    /// The upstream delivery of a row without a PR.
    pub delivery_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub target: Target,
    /// The latest `first_seen_at` of the row's jobs.
    pub last_seen_at: Option<String>,
    /// One per column: the job shown there, or `null`.
    pub cells: Vec<Option<JobCell>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Page {
    pub page: usize,
    pub per_page: usize,
    pub total_rows: usize,
    pub total_pages: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub job_key: String,
    pub row_label: String,
    pub workflow_name: String,
    pub job_name: String,
    pub state: JobState,
    pub run_attempt: u32,
    pub links: Links,
    /// The failed-test count the job reported.
    pub failed_tests_reported: Option<u64>,
    /// The first [`failed_tests::MAX_LISTED`] failed tests.
    pub failed_tests: Vec<FailedTest>,
    /// Failed tests in the list beyond those shown.
    pub failed_tests_omitted: u64,
}

/// Which row a job belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum RowKey {
    Pr {
        upstream_repo: String,
        pr_number: PrNumber,
    },
    Delivery {
        event_type: String,
        upstream_repo: String,
        delivery_id: String,
    },
}

impl RowKey {
    fn of(job: &Job) -> RowKey {
        let upstream_repo = job.upstream_repo.clone().unwrap_or_default();
        match job.pr_number {
            Some(pr_number) => RowKey::Pr {
                upstream_repo,
                pr_number,
            },
            None => RowKey::Delivery {
                event_type: job.event_type.clone(),
                upstream_repo,
                delivery_id: job.delivery_id.clone(),
            },
        }
    }

    fn target(&self, head_sha: Option<String>) -> Target {
        match self {
            RowKey::Pr {
                upstream_repo,
                pr_number,
            } => Target {
                kind: "pull_request".to_owned(),
                label: format!("{upstream_repo}#{pr_number}"),
                upstream_repo: Some(upstream_repo.clone()),
                pr_number: Some(*pr_number),
                head_sha,
                delivery_id: None,
            },
            RowKey::Delivery {
                event_type,
                upstream_repo,
                delivery_id,
            } => {
                let at = match &head_sha {
                    Some(sha) => sha.chars().take(7).collect::<String>(),
                    None => delivery_id.clone(),
                };
                Target {
                    kind: event_type.clone(),
                    label: format!("{event_type} {upstream_repo}@{at}"),
                    upstream_repo: (!upstream_repo.is_empty()).then(|| upstream_repo.clone()),
                    pr_number: None,
                    head_sha,
                    delivery_id: Some(delivery_id.clone()),
                }
            }
        }
    }
}

/// A row while building: its target, its newest activity and the job shown per column.
struct BuiltRow {
    target: Target,
    last_seen_at: i64,
    jobs: BTreeMap<Column, Job>,
}

fn column_of(job: &Job) -> Column {
    Column {
        workflow_name: job.workflow_name.clone(),
        job_name: job.job_name.clone(),
    }
}

fn is_drill_down(job: &Job) -> bool {
    !job.is_running() && (job.state == JobState::Failure || job.tests.failed.unwrap_or(0) > 0)
}

/// The view of `repo` for `window` ending at `now`, page `page`: everything but the failed
/// tests' lists, which [`BackendView::failed_job_keys`] and [`BackendView::attach_failed_tests`]
/// fill in from a second read.
pub fn build(
    repo: &str,
    window: Window,
    now: i64,
    completed: Vec<Job>,
    running: Vec<Job>,
    page: PageRequest,
) -> BackendView {
    let since = window.since(now);
    let keep = |j: &Job| j.downstream_repo == repo && in_window(j.first_seen_at, since);
    let completed: Vec<Job> = completed.into_iter().filter(keep).collect();
    let running: Vec<Job> = running
        .into_iter()
        .filter(|j| keep(j) && j.is_running())
        .collect();

    let mut tally = Tally::default();
    let counted = counted_attempts(completed.clone(), running.clone(), |j| j.job_key.as_str());
    for job in counted {
        tally.add(job.state, job.duration_s(), job.queue_time);
    }
    let all = with_running(completed, running, |j| j.job_key.as_str());
    let level = all
        .iter()
        .filter(|j| j.level.is_some())
        .max_by_key(|j| j.first_seen_at)
        .and_then(|j| j.level.clone());

    let mut by_row: BTreeMap<RowKey, Vec<Job>> = BTreeMap::new();
    for job in all {
        by_row.entry(RowKey::of(&job)).or_default().push(job);
    }
    let mut rows: Vec<BuiltRow> = by_row
        .into_iter()
        .map(|(key, jobs)| {
            let newest = jobs.iter().max_by_key(|j| j.first_seen_at);
            let last_seen_at = newest.map_or(0, |j| j.first_seen_at);
            let head_sha = newest.and_then(|j| j.head_sha.clone());
            let shown = latest_of_each_job(jobs)
                .into_iter()
                .map(|j| (column_of(&j), j))
                .collect();
            BuiltRow {
                target: key.target(head_sha),
                last_seen_at,
                jobs: shown,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.last_seen_at
            .cmp(&a.last_seen_at)
            .then_with(|| a.target.label.cmp(&b.target.label))
    });
    let running_now = rows
        .iter()
        .flat_map(|r| r.jobs.values())
        .filter(|j| j.is_running())
        .count() as u64;
    let columns: Vec<Column> = rows
        .iter()
        .flat_map(|r| r.jobs.keys().cloned())
        .collect::<BTreeSet<Column>>()
        .into_iter()
        .collect();

    let total_rows = rows.len();
    let first = (page.page - 1).saturating_mul(page.per_page);
    let page_rows: Vec<BuiltRow> = rows.into_iter().skip(first).take(page.per_page).collect();
    let mut failures = Vec::new();
    let rows = page_rows
        .into_iter()
        .map(|row| {
            let cells = columns
                .iter()
                .map(|column| row.jobs.get(column).map(JobCell::of))
                .collect();
            for job in row.jobs.values().filter(|j| is_drill_down(j)) {
                failures.push(Failure {
                    job_key: job.job_key.clone(),
                    row_label: row.target.label.clone(),
                    workflow_name: job.workflow_name.clone(),
                    job_name: job.job_name.clone(),
                    state: job.state,
                    run_attempt: job.run_attempt,
                    links: Links::of(job),
                    failed_tests_reported: job.tests.failed,
                    failed_tests: Vec::new(),
                    failed_tests_omitted: 0,
                });
            }
            Row {
                target: row.target,
                last_seen_at: rfc3339(row.last_seen_at),
                cells,
            }
        })
        .collect();

    BackendView {
        downstream_repo: repo.to_owned(),
        level,
        window: window.as_str(),
        since: rfc3339(since),
        generated_at: rfc3339(now),
        header: Header {
            pass_rate: tally.pass_rate(),
            timeout_rate: tally.timeout_rate(),
            completed: tally.completed,
            successes: tally.successes,
            failures: tally.failures,
            timed_out: tally.timed_out,
            cancelled: tally.cancelled,
            other: tally.other,
            running: running_now,
            avg_queue_time_s: tally.avg_queue_time_s(),
            avg_execution_time_s: tally.avg_duration_s(),
        },
        columns,
        rows,
        page: Page {
            page: page.page,
            per_page: page.per_page,
            total_rows,
            total_pages: total_rows.div_ceil(page.per_page),
        },
        failures,
    }
}

impl BackendView {
    /// The jobs whose failed tests the page lists.
    pub fn failed_job_keys(&self) -> Vec<String> {
        self.failures.iter().map(|f| f.job_key.clone()).collect()
    }

    /// Fills the failure drill-down from each job's `failed_tests_json`.
    pub fn attach_failed_tests(&mut self, json_by_key: &HashMap<String, String>) {
        for failure in &mut self.failures {
            if let Some(json) = json_by_key.get(&failure.job_key) {
                let listed = failed_tests::list(&failure.job_key, json);
                failure.failed_tests = listed.tests;
                failure.failed_tests_omitted = listed.omitted;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::cell::tests::{job, pr as pr_number};

    const NOW: i64 = 2_000_000;

    fn page(page: usize, per_page: usize) -> PageRequest {
        PageRequest { page, per_page }
    }

    fn at(mut j: Job, first_seen_at: i64) -> Job {
        j.first_seen_at = first_seen_at;
        j
    }

    fn pr_job(key: &str, pr: u32, job_name: &str, run: &str, attempt: u32, state: JobState) -> Job {
        let mut j = job("a/b", key);
        j.pr_number = Some(pr_number(pr));
        j.job_name = job_name.to_owned();
        j.run_id = run.to_owned();
        j.run_attempt = attempt;
        j.state = state;
        j.first_seen_at = NOW - 100;
        if state == JobState::Running {
            j.completed_at = None;
            j.conclusion = None;
        }
        j
    }

    #[test]
    fn the_matrix_shows_the_latest_attempt_and_running_jobs() {
        let completed = vec![
            pr_job("k1", 1, "test", "100", 1, JobState::Failure),
            pr_job("k2", 1, "test", "100", 2, JobState::Success),
            pr_job("k3", 1, "build", "100", 1, JobState::Success),
        ];
        let running = vec![pr_job("k4", 1, "lint", "100", 1, JobState::Running)];
        let view = build("a/b", Window::Day, NOW, completed, running, page(1, 10));
        let names: Vec<&str> = view.columns.iter().map(|c| c.job_name.as_str()).collect();
        assert_eq!(names, ["build", "lint", "test"]);
        let cells = &view.rows[0].cells;
        assert_eq!(cells[1].as_ref().unwrap().state, JobState::Running);
        assert_eq!(cells[2].as_ref().unwrap().job_key, "k2");
        assert_eq!(view.header.running, 1);
        let rate = view.header.pass_rate.unwrap();
        assert_eq!((rate.numerator, rate.denominator), (2, 2));
        assert!(view.failures.is_empty(), "the failed attempt is not shown");
    }

    #[test]
    fn a_running_copy_of_a_completed_job_is_not_shown() {
        let completed = vec![pr_job("k1", 1, "test", "100", 1, JobState::Failure)];
        let running = vec![pr_job("k1", 1, "test", "100", 1, JobState::Running)];
        let view = build("a/b", Window::Day, NOW, completed, running, page(1, 10));
        assert_eq!(view.header.running, 0);
        assert_eq!(
            view.rows[0].cells[0].as_ref().unwrap().state,
            JobState::Failure
        );
        assert_eq!(view.failed_job_keys(), ["k1"]);
    }

    #[test]
    fn rows_are_newest_first_and_paginated() {
        let completed: Vec<Job> = (1..=5)
            .map(|pr| {
                at(
                    pr_job(
                        &format!("k{pr}"),
                        pr,
                        "test",
                        &pr.to_string(),
                        1,
                        JobState::Success,
                    ),
                    NOW - 1000 + pr as i64,
                )
            })
            .collect();
        let view = build(
            "a/b",
            Window::Day,
            NOW,
            completed.clone(),
            vec![],
            page(2, 2),
        );
        let labels: Vec<&str> = view.rows.iter().map(|r| r.target.label.as_str()).collect();
        assert_eq!(labels, ["pytorch/pytorch#3", "pytorch/pytorch#2"]);
        assert_eq!(
            view.page,
            Page {
                page: 2,
                per_page: 2,
                total_rows: 5,
                total_pages: 3
            }
        );
        let past_the_end = build("a/b", Window::Day, NOW, completed, vec![], page(9, 2));
        assert!(past_the_end.rows.is_empty());
        assert_eq!(
            past_the_end.header.completed, 5,
            "the header covers every row"
        );
    }

    #[test]
    fn a_nightly_is_its_own_row() {
        let mut nightly = pr_job("k1", 1, "nightly", "7", 1, JobState::Success);
        nightly.pr_number = None;
        nightly.event_type = "nightly".to_owned();
        nightly.delivery_id = "night-1".to_owned();
        let view = build("a/b", Window::Day, NOW, vec![nightly], vec![], page(1, 10));
        let target = &view.rows[0].target;
        assert_eq!(target.kind, "nightly");
        assert_eq!(target.label, "nightly pytorch/pytorch@abcdef0");
        assert_eq!(target.delivery_id.as_deref(), Some("night-1"));
    }

    #[test]
    fn jobs_outside_the_window_or_of_other_repos_are_left_out() {
        let old = at(
            pr_job("k1", 1, "test", "1", 1, JobState::Failure),
            NOW - 90_000,
        );
        let mut other = pr_job("k2", 2, "test", "1", 1, JobState::Failure);
        other.downstream_repo = "c/d".to_owned();
        let view = build(
            "a/b",
            Window::Day,
            NOW,
            vec![old, other],
            vec![],
            page(1, 10),
        );
        assert!(view.rows.is_empty());
        assert_eq!(view.header.pass_rate, None, "no data is not 100%");
    }

    #[test]
    fn failed_tests_are_attached_to_their_failure() {
        let mut failed = pr_job("k1", 1, "test", "1", 1, JobState::Failure);
        failed.tests.failed = Some(1);
        let mut view = build("a/b", Window::Day, NOW, vec![failed], vec![], page(1, 10));
        view.attach_failed_tests(&HashMap::from([(
            "k1".to_owned(),
            r#"[{"name":"test_x","message":"boom"}]"#.to_owned(),
        )]));
        let failure = &view.failures[0];
        assert_eq!(failure.failed_tests[0].name.as_deref(), Some("test_x"));
        assert_eq!(failure.failed_tests_reported, Some(1));
        assert_eq!(failure.row_label, "pytorch/pytorch#1");
    }
}
