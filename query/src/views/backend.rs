//! The per-backend view (`/oot/{org}/{repo}`): a header of rates and averages, a matrix of
//! upstream targets (rows: PRs, and nightly/push/periodic runs) by job (columns), and the
//! failed tests of the failed jobs on the page.
//!
//! - Header: the same tally as the summary's line for this repo (the latest attempt of each run
//!   in the window, running attempts included, counted when completed: [`counted_attempts`]),
//!   plus the number of runs running now: whose latest attempt is running ([`running_runs`]),
//!   the rates' rule, so a run is either running or counted.
//! - Rows: one per upstream PR (`upstream_repo#pr_number`), or, for events without a PR, one per
//!   upstream delivery (a nightly run, a push) ([`TargetKey`]). Newest first: by the latest
//!   `first_seen_at` of the row's jobs, so a PR pushed to today is on top even when its number
//!   is old; then by label.
//! - Columns: every (workflow, job name) of the window, so pages share them.
//! - Cells: the latest attempt of the newest run of that job for that row, running included
//!   ([`crate::rules`]).
//!
//! Built two ways, which give the same view for the same data:
//!
//! - [`plan`] then [`BackendPlan::build`], what the service does: from the window's targets
//!   with their newest job (the targets table), the window's columns (the columns table), the
//!   running jobs, and the completed jobs of only the targets it needs
//!   ([`BackendPlan::targets_to_read`]: the page's rows), and the latest completed attempt of
//!   the running jobs' runs (the rollup ledger, by key: [`BackendPlan::running_runs`]). No read
//!   grows with the jobs of the window: the header's tally is the repo's rollup cells
//!   (`crate::stores::rollups`).
//! - [`baseline_build`], from every completed job of the window: the reference the tests and
//!   the benchmark compare with.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use oot_contract::PrNumber;
use serde::Serialize;

use crate::clock::rfc3339;
use crate::job::{Job, JobState};
use crate::params::PageRequest;
use crate::rules::{
    counted_attempts, in_window, latest_completed, latest_of_each_job, run_of, running_runs,
    with_running, CompletedRank, RunKey, Window,
};
use crate::tally::{Ratio, Tally};
use crate::target::{Newest, TargetKey, TargetSummary};
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
    /// Rows after this page (older targets). No total is given: counting a month's targets
    /// exactly costs more than the page (docs/contract.md §11.6), and people page newer/older.
    pub has_more: bool,
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

/// What a target's row shows upstream; `head_sha` is that of the row's newest job.
fn target_of(key: &TargetKey, head_sha: Option<String>) -> Target {
    match key {
        TargetKey::Pr {
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
        TargetKey::Delivery {
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

/// A row while building: its target, its newest activity and the job shown per column.
struct BuiltRow {
    target: Target,
    last_seen_at: i64,
    jobs: BTreeMap<Column, Job>,
}

pub(crate) fn column_of(job: &Job) -> Column {
    Column {
        workflow_name: job.workflow_name.clone(),
        job_name: job.job_name.clone(),
    }
}

fn is_drill_down(job: &Job) -> bool {
    !job.is_running() && (job.state == JobState::Failure || job.tests.failed.unwrap_or(0) > 0)
}

/// Newest first, then by label. The sort is stable: rows that tie on both keep the order they
/// come in, which both builders make [`TargetKey`]'s.
fn sort_rows<R>(rows: &mut [R], of: impl Fn(&R) -> (i64, &str)) {
    rows.sort_by(|a, b| {
        let (a_seen, a_label) = of(a);
        let (b_seen, b_label) = of(b);
        b_seen.cmp(&a_seen).then_with(|| a_label.cmp(b_label))
    });
}

/// The rows of page `page` among `total` rows.
pub(crate) fn page_range(page: PageRequest, total: usize) -> std::ops::Range<usize> {
    let first = (page.page - 1).saturating_mul(page.per_page).min(total);
    first..first.saturating_add(page.per_page).min(total)
}

/// The header's tally: the latest attempt of each run among the completed and the running jobs,
/// counted when completed.
fn header_tally(completed: Vec<Job>, running: Vec<Job>) -> Tally {
    let mut tally = Tally::default();
    let counted = counted_attempts(completed, running, |j| j.job_key.as_str());
    for job in counted {
        tally.add(job.state, job.duration_s(), job.queue_time);
    }
    tally
}

/// The jobs of `repo` in the window starting at `since`.
fn in_view(repo: &str, since: i64) -> impl Fn(&Job) -> bool + '_ {
    move |j: &Job| j.downstream_repo == repo && in_window(j.first_seen_at, since)
}

/// What both builders end with.
struct Parts {
    level: Option<String>,
    tally: Tally,
    running_now: u64,
    columns: Vec<Column>,
    has_more: bool,
    page_rows: Vec<BuiltRow>,
}

fn finish(repo: &str, window: Window, now: i64, page: PageRequest, parts: Parts) -> BackendView {
    let Parts {
        level,
        tally,
        running_now,
        columns,
        has_more,
        page_rows,
    } = parts;
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
        since: rfc3339(window.since(now)),
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
            has_more,
        },
        failures,
    }
}

/// The view of `repo` for `window` ending at `now`, page `page`, from every completed job of
/// the window and the running jobs: everything but the failed tests' lists, which
/// [`BackendView::failed_job_keys`] and [`BackendView::attach_failed_tests`] fill in from a
/// second read. The reference [`plan`] is checked against; no route uses it.
pub fn baseline_build(
    repo: &str,
    window: Window,
    now: i64,
    completed: Vec<Job>,
    running: Vec<Job>,
    page: PageRequest,
) -> BackendView {
    let keep = in_view(repo, window.since(now));
    let completed: Vec<Job> = completed.into_iter().filter(|j| keep(j)).collect();
    let running: Vec<Job> = running
        .into_iter()
        .filter(|j| keep(j) && j.is_running())
        .collect();

    let tally = header_tally(completed.clone(), running.clone());
    let running_now = running_runs(&running, &latest_completed(&completed));
    let all = with_running(completed, running, |j| j.job_key.as_str());
    let level = all
        .iter()
        .filter(|j| j.level.is_some())
        .max_by_key(|j| (j.first_seen_at, j.job_key.as_str()))
        .and_then(|j| j.level.clone());

    let mut by_row: BTreeMap<TargetKey, Vec<Job>> = BTreeMap::new();
    for job in all {
        by_row.entry(TargetKey::of(&job)).or_default().push(job);
    }
    let mut rows: Vec<BuiltRow> = by_row
        .into_iter()
        .map(|(key, jobs)| {
            let newest = jobs
                .iter()
                .max_by_key(|j| (j.first_seen_at, j.job_key.as_str()));
            let last_seen_at = newest.map_or(0, |j| j.first_seen_at);
            let head_sha = newest.and_then(|j| j.head_sha.clone());
            let shown = latest_of_each_job(jobs)
                .into_iter()
                .map(|j| (column_of(&j), j))
                .collect();
            BuiltRow {
                target: target_of(&key, head_sha),
                last_seen_at,
                jobs: shown,
            }
        })
        .collect();
    sort_rows(&mut rows, |r| (r.last_seen_at, r.target.label.as_str()));
    let columns: Vec<Column> = rows
        .iter()
        .flat_map(|r| r.jobs.keys().cloned())
        .collect::<BTreeSet<Column>>()
        .into_iter()
        .collect();

    let range = page_range(page, rows.len());
    let has_more = rows.len() > range.end;
    let page_rows: Vec<BuiltRow> = rows
        .into_iter()
        .skip(range.start)
        .take(range.len())
        .collect();
    let parts = Parts {
        level,
        tally,
        running_now,
        columns,
        has_more,
        page_rows,
    };
    finish(repo, window, now, page, parts)
}

/// Whether `targets`, those of the window's newest hours back to some hour, place every row
/// through `page` and one more (so the page and whether more follow are known) and name the
/// repo's level: then no older hour can change the page (docs/contract.md §11.6). A target seen
/// in the hours read has its newest job there; a target not seen has only older jobs and ranks
/// below every one seen; the newest job with a level among the hours read is the window's.
pub fn targets_suffice(targets: &[TargetSummary], page: PageRequest) -> bool {
    let distinct: BTreeSet<&TargetKey> = targets.iter().map(|t| &t.key).collect();
    distinct.len() > page.page.saturating_mul(page.per_page)
        && targets.iter().any(|t| t.level.is_some())
}

/// The first span of hours a backend page reads its targets in, from the newest hour; each next
/// span, older, is this many times longer (1 h, 8 h, 64 h, 21 d, …: five reads at most for
/// 30 d). A busy backend fills a page from its newest hour (at 10M jobs a month, 1,700 targets
/// an hour: 6 hours read 65,000 rows where one reads 11,000); a quiet one needs a read or two
/// more, each of a few rows.
const FIRST_TARGET_SPAN_HOURS: i64 = 1;
const TARGET_SPAN_GROWTH: i64 = 8;

/// The targets of the window starting at `since` that page `page` needs, read by `read(from,
/// until)` (the targets with jobs first seen in those hours) span by span from the newest hour
/// back, until [`targets_suffice`] or the window's start.
///
/// A span that read nothing is not followed by a longer one from where it began: the backend
/// was quiet there (its CI down since some hour, or data loaded a day ago), and a longer span
/// would read the busy hours before in bulk (a day and more of a busy backend). Instead
/// `newest_hour(since, until)` names the newest hour before it with a target, and the next
/// span, as long as the empty one, ends with that hour; without one the window is read. Spans
/// grow only after a read that found something, so the reads stay few: each empty one is
/// followed by a lookup and a read that finds something.
pub async fn newest_targets<F, Fut, H, HFut, E>(
    since: i64,
    now: i64,
    page: PageRequest,
    mut read: F,
    mut newest_hour: H,
) -> Result<Vec<TargetSummary>, E>
where
    F: FnMut(i64, i64) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<TargetSummary>, E>>,
    H: FnMut(i64, i64) -> HFut,
    HFut: std::future::Future<Output = Result<Option<i64>, E>>,
{
    let mut targets = Vec::new();
    let mut until = crate::rules::start_of_hour(now) + crate::rules::HOUR;
    let mut span = FIRST_TARGET_SPAN_HOURS * crate::rules::HOUR;
    loop {
        let from = until.saturating_sub(span).max(since);
        let found = read(from, until).await?;
        let empty = found.is_empty();
        targets.extend(found);
        if from <= since || targets_suffice(&targets, page) {
            return Ok(targets);
        }
        until = from;
        if empty {
            match newest_hour(since, until).await? {
                Some(hour) => until = hour.min(until - crate::rules::HOUR) + crate::rules::HOUR,
                None => return Ok(targets),
            }
        } else {
            span = span.saturating_mul(TARGET_SPAN_GROWTH);
        }
    }
}

/// A row of the matrix, placed.
#[derive(Debug, Clone)]
struct PlannedRow {
    key: TargetKey,
    target: Target,
    last_seen_at: i64,
}

/// The matrix's rows in order and what a page must read next ([`plan`]).
#[derive(Debug, Clone)]
pub struct BackendPlan {
    repo: String,
    window: Window,
    now: i64,
    page: PageRequest,
    /// The repo's running jobs in the window.
    running: Vec<Job>,
    rows: Vec<PlannedRow>,
    level: Option<String>,
}

/// Orders the matrix's rows of `repo` for `window` ending at `now`: every target of the window
/// (`targets`, the completed jobs' newest per target, read from the targets table) and of the
/// running jobs, newest first. [`BackendPlan::targets_to_read`] then names the targets whose
/// jobs [`BackendPlan::build`] needs.
pub fn plan(
    repo: &str,
    window: Window,
    now: i64,
    targets: Vec<TargetSummary>,
    running: Vec<Job>,
    page: PageRequest,
) -> BackendPlan {
    let keep = in_view(repo, window.since(now));
    let running: Vec<Job> = running
        .into_iter()
        .filter(|j| keep(j) && j.is_running())
        .collect();
    // The completed jobs' newest first, then the running jobs': a running copy of a completed
    // job ties with it and loses, as the completed row is what the views show.
    let mut newest: BTreeMap<TargetKey, Option<Newest>> = BTreeMap::new();
    let mut level: Option<Newest> = None;
    for summary in targets {
        let kept = newest.entry(summary.key).or_default();
        *kept = Newest::newer(kept.take(), summary.newest);
        if let Some(with_level) = summary.level {
            level = Newest::newer(level, with_level);
        }
    }
    for job in &running {
        let kept = newest.entry(TargetKey::of(job)).or_default();
        *kept = Newest::newer(
            kept.take(),
            Newest {
                first_seen_at: job.first_seen_at,
                job_key: job.job_key.clone(),
                value: job.head_sha.clone(),
            },
        );
        if job.level.is_some() {
            let with_level = Newest {
                first_seen_at: job.first_seen_at,
                job_key: job.job_key.clone(),
                value: job.level.clone(),
            };
            level = Newest::newer(level, with_level);
        }
    }
    let mut rows: Vec<PlannedRow> = newest
        .into_iter()
        .filter_map(|(key, newest)| {
            let newest = newest?;
            Some(PlannedRow {
                target: target_of(&key, newest.value),
                last_seen_at: newest.first_seen_at,
                key,
            })
        })
        .collect();
    sort_rows(&mut rows, |r| (r.last_seen_at, r.target.label.as_str()));
    BackendPlan {
        repo: repo.to_owned(),
        window,
        now,
        page,
        running,
        rows,
        level: level.and_then(|l| l.value),
    }
}

impl BackendPlan {
    /// The targets whose completed jobs [`Self::build`] needs: the page's rows, for their cells.
    /// Every other row is shown by its target and newest job alone.
    pub fn targets_to_read(&self) -> Vec<TargetKey> {
        let range = page_range(self.page, self.rows.len());
        self.rows[range]
            .iter()
            .map(|r| r.key.clone())
            .collect::<BTreeSet<TargetKey>>()
            .into_iter()
            .collect()
    }

    /// The runs of the running jobs: [`Self::build`] needs the latest completed attempt of
    /// each (the rollup ledger's run states) to count the runs running now.
    pub fn running_runs(&self) -> Vec<RunKey> {
        self.running
            .iter()
            .map(run_of)
            .collect::<BTreeSet<RunKey>>()
            .into_iter()
            .collect()
    }

    /// The view, from the window's `columns` (the columns table), the completed jobs of
    /// [`Self::targets_to_read`] (`jobs`), and the header's tally (`tally`: what the repo's
    /// runs in the window count, from the rollup cells): everything but the failed tests'
    /// lists, as [`baseline_build`].
    pub fn build(
        self,
        columns: Vec<Column>,
        jobs: Vec<Job>,
        latest_completed: &HashMap<RunKey, CompletedRank>,
        tally: Tally,
    ) -> BackendView {
        let BackendPlan {
            repo,
            window,
            now,
            page,
            running,
            rows,
            level,
        } = self;
        let keep = in_view(&repo, window.since(now));
        let range = page_range(page, rows.len());
        let read: BTreeSet<TargetKey> = rows[range.clone()].iter().map(|r| r.key.clone()).collect();
        let completed: Vec<Job> = jobs
            .into_iter()
            .filter(|j| keep(j) && read.contains(&TargetKey::of(j)))
            .collect();
        let running_now = running_runs(&running, latest_completed);

        let columns: Vec<Column> = columns
            .into_iter()
            .chain(running.iter().map(column_of))
            .collect::<BTreeSet<Column>>()
            .into_iter()
            .collect();
        let mut by_row: BTreeMap<TargetKey, Vec<Job>> = BTreeMap::new();
        for job in with_running(completed, running, |j| j.job_key.as_str()) {
            by_row.entry(TargetKey::of(&job)).or_default().push(job);
        }
        let mut shown: BTreeMap<TargetKey, BTreeMap<Column, Job>> = by_row
            .into_iter()
            .map(|(key, jobs)| {
                let cells = latest_of_each_job(jobs)
                    .into_iter()
                    .map(|j| (column_of(&j), j))
                    .collect();
                (key, cells)
            })
            .collect();

        let has_more = rows.len() > range.end;
        let page_rows = rows
            .into_iter()
            .skip(range.start)
            .take(range.len())
            .map(|row| BuiltRow {
                jobs: shown.remove(&row.key).unwrap_or_default(),
                target: row.target,
                last_seen_at: row.last_seen_at,
            })
            .collect();
        let parts = Parts {
            level,
            tally,
            running_now,
            columns,
            has_more,
            page_rows,
        };
        finish(&repo, window, now, page, parts)
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
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::views::cell::tests::{job, pr as pr_number};

    const NOW: i64 = 2_000_000;

    /// What the targets table holds for `completed` (one version per job) in the hours from
    /// `from` to `until`: per target of `repo`, the newest job and the newest with a level.
    fn targets_table(repo: &str, from: i64, until: i64, completed: &[Job]) -> Vec<TargetSummary> {
        let keep = |j: &&Job| {
            j.downstream_repo == repo && j.first_seen_at >= from && j.first_seen_at < until
        };
        let mut by_target: BTreeMap<TargetKey, (Option<Newest>, Option<Newest>)> = BTreeMap::new();
        for j in completed.iter().filter(keep) {
            let (newest, level) = by_target.entry(TargetKey::of(j)).or_default();
            let this = |value: Option<String>| Newest {
                first_seen_at: j.first_seen_at,
                job_key: j.job_key.clone(),
                value,
            };
            *newest = Newest::newer(newest.take(), this(j.head_sha.clone()));
            if j.level.is_some() {
                *level = Newest::newer(level.take(), this(j.level.clone()));
            }
        }
        by_target
            .into_iter()
            .filter_map(|(key, (newest, level))| {
                Some(TargetSummary {
                    key,
                    newest: newest?,
                    level,
                })
            })
            .collect()
    }

    /// What `backend_newest_hour.sql` answers for `completed`: the newest hour from `from` to
    /// `until` with a job of `repo` first seen.
    fn newest_hour(repo: &str, from: i64, until: i64, completed: &[Job]) -> Option<i64> {
        completed
            .iter()
            .filter(|j| {
                j.downstream_repo == repo && j.first_seen_at >= from && j.first_seen_at < until
            })
            .map(|j| crate::rules::start_of_hour(j.first_seen_at))
            .max()
    }

    /// Ranges of hours, (from, until), as [`newest_targets`] asks for them.
    type Hours = Vec<(i64, i64)>;

    /// What [`newest_targets`] reads for page `page` of `repo`'s window from `since` at `now`,
    /// the read tables' answers computed from `completed`: the spans of hours read, the newest
    /// hours looked up, and the targets.
    fn read_newest(
        repo: &str,
        since: i64,
        now: i64,
        page: PageRequest,
        completed: &[Job],
    ) -> (Hours, Hours, Vec<TargetSummary>) {
        let (mut spans, mut lookups) = (Vec::new(), Vec::new());
        let targets = futures::executor::block_on(newest_targets(
            since,
            now,
            page,
            |from, until| {
                spans.push((from, until));
                std::future::ready(Ok::<_, ()>(targets_table(repo, from, until, completed)))
            },
            |from, until| {
                lookups.push((from, until));
                std::future::ready(Ok(newest_hour(repo, from, until, completed)))
            },
        ))
        .unwrap_or_default();
        (spans, lookups, targets)
    }

    /// Each of `pages` (of `per_page` rows) of `completed`'s week at NOW both ways ([`build`]).
    fn pages_equal_the_baselines(completed: &[Job], pages: &[usize], per_page: usize) {
        for &p in pages {
            let page = page(p, per_page);
            build("a/b", Window::Week, NOW, completed.to_vec(), vec![], page);
        }
    }

    /// The view as the service builds it, the read tables' answers computed from `completed`.
    pub(crate) fn via_plan(
        repo: &str,
        window: Window,
        now: i64,
        completed: Vec<Job>,
        running: Vec<Job>,
        page: PageRequest,
    ) -> BackendView {
        let since = window.since(now);
        let keep = in_view(repo, since);
        // Read span by span from the newest hour, as the service does.
        let (_, _, targets) = read_newest(repo, since, now, page, &completed);
        let columns: Vec<Column> = completed
            .iter()
            .filter(|j| keep(j))
            .map(column_of)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // The rollups' tally, as the baseline counts it (the rollup tests hold the two equal).
        let tally = header_tally(
            completed.iter().filter(|j| keep(j)).cloned().collect(),
            running
                .iter()
                .filter(|j| keep(j) && j.is_running())
                .cloned()
                .collect(),
        );
        let plan = plan(repo, window, now, targets, running, page);
        let wanted: BTreeSet<TargetKey> = plan.targets_to_read().into_iter().collect();
        let jobs = completed
            .iter()
            .filter(|j| keep(j) && wanted.contains(&TargetKey::of(j)))
            .cloned()
            .collect();
        // The ledger: the latest completed attempt of every run, by key. It holds every
        // attempt ever completed, the baseline the window's; they agree because a later attempt
        // is first seen after an earlier one (a re-run starts once its run has ended), which
        // this test's random times do not respect, so the window's are given here.
        let in_window: Vec<Job> = completed.iter().filter(|j| keep(j)).cloned().collect();
        let ledger = latest_completed(&in_window);
        let looked_up: HashMap<RunKey, CompletedRank> = plan
            .running_runs()
            .into_iter()
            .filter_map(|run| ledger.get(&run).map(|rank| (run, rank.clone())))
            .collect();
        plan.build(columns, jobs, &looked_up, tally)
    }

    /// Both builders, which must agree; the view.
    fn build(
        repo: &str,
        window: Window,
        now: i64,
        completed: Vec<Job>,
        running: Vec<Job>,
        page: PageRequest,
    ) -> BackendView {
        let baseline = baseline_build(repo, window, now, completed.clone(), running.clone(), page);
        let planned = via_plan(repo, window, now, completed, running, page);
        assert_eq!(
            serde_json::to_value(&planned).unwrap(),
            serde_json::to_value(&baseline).unwrap()
        );
        baseline
    }

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

    /// One job of a random matrix: which target (a PR, or a delivery with a head commit that
    /// other deliveries may share, so labels tie), which cell, which run and attempt, when.
    #[allow(clippy::type_complexity)]
    fn random_job() -> impl Strategy<Value = (Job, bool)> {
        (
            (0u32..8, 0usize..3, 0usize..3, 0usize..3, 0usize..4, 1u32..4),
            (
                0usize..5,
                0i64..40,
                0usize..3,
                0usize..3,
                any::<bool>(),
                0u64..3,
            ),
        )
            .prop_map(
                |(
                    (target, sha, workflow, name, run, attempt),
                    (state, seen, level, repo, copy, failed),
                )| {
                    let mut j = job(["a/b", "a/b", "c/d"][repo], "k");
                    if target >= 5 {
                        j.pr_number = None;
                        j.event_type =
                            ["nightly", "push", "nightly"][(target - 5) as usize].to_owned();
                        j.delivery_id = format!("d{}", target % 2);
                        j.upstream_repo = (target != 7).then(|| "pytorch/pytorch".to_owned());
                    } else {
                        j.pr_number = Some(pr_number(target + 1));
                    }
                    j.head_sha = [
                        None,
                        Some("aaaaaaa1".to_owned()),
                        Some("bbbbbbb2".to_owned()),
                    ][sha]
                        .clone();
                    j.workflow_name = ["ci", "nightly", "ci"][workflow].to_owned();
                    j.job_name = ["build", "test", "lint"][name].to_owned();
                    j.run_id = ["99", "100", "101", "x"][run].to_owned();
                    j.run_attempt = attempt;
                    j.state = [
                        JobState::Success,
                        JobState::Failure,
                        JobState::Running,
                        JobState::Cancelled,
                        JobState::TimedOut,
                    ][state];
                    if j.state == JobState::Running {
                        j.completed_at = None;
                        j.conclusion = None;
                    }
                    // Seconds apart, some a day old (outside a 24 h window), ties within a second.
                    j.first_seen_at = NOW - seen * 3_000;
                    j.level = [None, Some("L1".to_owned()), Some("L2".to_owned())][level].clone();
                    j.tests.failed = Some(failed);
                    (j, copy)
                },
            )
    }

    proptest! {
        /// The service's way (the read tables' answers, then only the targets a page needs)
        /// gives the baseline's view on every page, whatever the jobs: re-runs, running
        /// attempts, running copies of completed jobs, ties, other repos, old jobs.
        #[test]
        fn the_plan_gives_the_baselines_view_on_every_page(
            jobs in proptest::collection::vec(random_job(), 0..40),
            per_page in 1usize..5,
            week in any::<bool>(),
        ) {
            let mut completed = Vec::new();
            let mut running = Vec::new();
            for (i, (mut j, copy)) in jobs.into_iter().enumerate() {
                j.job_key = format!("k{i:02}");
                if j.is_running() {
                    running.push(j);
                } else {
                    if copy {
                        // DynamoDB still says running: the completed row wins.
                        let mut stale = j.clone();
                        stale.state = JobState::Running;
                        running.push(stale);
                    }
                    completed.push(j);
                }
            }
            let window = if week { Window::Week } else { Window::Day };
            let first = build("a/b", window, NOW, completed.clone(), running.clone(), page(1, per_page));
            let mut p = 1;
            let mut view = first;
            while view.page.has_more {
                p += 1;
                view = build("a/b", window, NOW, completed.clone(), running.clone(), page(p, per_page));
            }
            build("a/b", window, NOW, completed.clone(), running.clone(), page(p + 1, per_page));
        }
    }

    #[test]
    fn a_page_reads_the_newest_hours_until_its_rows_are_known() {
        // Three PRs an hour apart, each with a level, and one three days old.
        let mut completed: Vec<Job> = (1..=3)
            .map(|pr| {
                let mut j = pr_job(&format!("k{pr}"), pr, "test", "1", 1, JobState::Success);
                j.first_seen_at = NOW - i64::from(pr) * 3_600;
                j
            })
            .collect();
        let mut old = pr_job("k9", 9, "test", "1", 1, JobState::Failure);
        old.first_seen_at = NOW - 3 * 86_400;
        completed.push(old);
        let since = Window::Week.since(NOW);
        let reads = |page: PageRequest| {
            let (spans, _, targets) = read_newest("a/b", since, NOW, page, &completed);
            (spans.len(), targets.len())
        };
        // Page 1 of 2 rows needs 3 targets (2 and one more), first seen 1 to 3 hours ago: the
        // newest hour holds none of them (NOW is within it), so the newest hour with one is
        // looked up and read alone (PR 1), then the 8 hours before it (PRs 2 and 3).
        assert_eq!(reads(page(1, 2)), (3, 3));
        // Page 2 needs 5: the old PR is 3 days back, then the window ends with 4.
        let (spans, targets) = reads(page(2, 2));
        assert_eq!(targets, 4);
        assert!(spans > 1, "read further back");
        // Either way the page is the baseline's.
        pages_equal_the_baselines(&completed, &[1, 2, 3], 2);
    }

    #[test]
    fn a_backend_quiet_for_a_day_reads_from_its_newest_hour_not_a_longer_span() {
        // A busy backend (a PR every 10 minutes for two days) whose jobs stopped 30 hours ago:
        // its newest hour has 6, 55 to 5 minutes past it.
        let quiet_since = crate::rules::start_of_hour(NOW - 30 * 3_600) + 55 * 60;
        let completed: Vec<Job> = (0..288)
            .map(|i| {
                let mut j = pr_job(
                    &format!("k{i}"),
                    1_000 + i,
                    "test",
                    "1",
                    1,
                    JobState::Success,
                );
                j.first_seen_at = quiet_since - i64::from(i) * 600;
                j
            })
            .collect();
        let since = Window::Week.since(NOW);
        let (spans, lookups, targets) = read_newest("a/b", since, NOW, page(1, 5), &completed);
        // The newest hour (empty), the lookup, then the quiet hour's span: 6 targets there,
        // enough for a page of 5 and one more. Growing spans would have read 8 hours (empty)
        // and then 64 (all 288 PRs).
        let newest = crate::rules::start_of_hour(quiet_since);
        let hour = crate::rules::HOUR;
        let first = crate::rules::start_of_hour(NOW);
        assert_eq!(spans, vec![(first, first + hour), (newest, newest + hour)]);
        assert_eq!(lookups, vec![(since, first)]);
        assert_eq!(targets.len(), 6);
        // The page is the baseline's, and so are those that read further back.
        pages_equal_the_baselines(&completed, &[1, 2, 7, 60], 5);
        // A window with nothing in it: one read, one lookup, no rows.
        let (spans, lookups, nothing) = read_newest("c/d", since, NOW, page(1, 5), &completed);
        assert!(nothing.is_empty());
        assert_eq!((spans.len(), lookups.len()), (1, 1));
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
                has_more: true
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
