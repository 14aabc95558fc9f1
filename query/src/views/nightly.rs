//! The nightly view (`/oot/{org}/{repo}/nightly`, docs/contract.md §12.17): a backend's
//! nightly runs as a matrix of upstream commits by job.
//!
//! - **Nightly**: a job without an upstream PR whose event type is one of
//!   [`oot_contract::EventType::NIGHTLY_RUNS`] ([`oot_contract::is_nightly_run`], as the triage
//!   rules and the running nightlies' index read it; a PR number wins over the event type, and
//!   a `push` is not taken for a run on main, since the stores keep no branch). PR jobs and
//!   other events are not shown, so a backend that also runs on PRs shows the same nightlies
//!   as one that runs only nightly.
//! - **Rows**: one per upstream commit (`upstream_repo`, head commit), whatever delivery or
//!   event type brought its jobs: a commit dispatched twice (a `nightly` and a `periodic`, or a
//!   re-delivery) is one row listing both deliveries. A delivery that named no commit (allowed
//!   for event types other than `nightly` and `periodic`, §4.3) is a row of its own. Newest
//!   first by when the row's first job was first seen (so a re-run of an old nightly does not
//!   move its commit up), then by commit; paginated (`page`, `per_page`).
//! - **Columns**: every (workflow, job name) of the window's nightly jobs, so pages share them.
//! - **Cells**: the latest attempt of the newest run of that job on that commit, running
//!   included (§11.2: [`latest_of_each_job`] over the completed and the running jobs, a job in
//!   both shown completed): state, run link, and the failed-test count the job reported.
//! - Per row: the cells' states counted with the PR view's headline ("3/4 passed, 1 failed").
//!
//! Built by [`build`], a pure function of the window's nightly jobs (completed, from the read
//! tables; running, from the running-jobs index) and the time.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::clock::rfc3339;
use crate::job::Job;
use crate::params::PageRequest;
use crate::rules::{in_window, latest_of_each_job, with_running, Window};
use crate::target::TargetKey;
use crate::views::backend::{column_of, page_range, Column, Page};
use crate::views::cell::JobCell;
use crate::views::pr::{headline, StateCounts};

/// The upstream repo a commit is linked on when a job names none (every nightly names one: the
/// contract requires it).
const DEFAULT_UPSTREAM_REPO: &str = crate::params::DEFAULT_UPSTREAM_REPO;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NightlyView {
    pub downstream_repo: String,
    pub window: &'static str,
    pub since: Option<String>,
    pub generated_at: Option<String>,
    /// The event types read as nightly runs, when the job has no PR.
    pub event_types: Vec<&'static str>,
    pub columns: Vec<Column>,
    pub rows: Vec<CommitRow>,
    pub page: Page,
    /// Rows of the whole window, every page: the view reads every nightly of the window, so
    /// the total is known (unlike the backend view's).
    pub total_rows: usize,
}

/// One upstream commit's nightlies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommitRow {
    pub upstream_repo: Option<String>,
    /// `null` for a delivery that named no commit.
    pub head_sha: Option<String>,
    /// The commit on GitHub; `null` without a commit.
    pub commit_url: Option<String>,
    /// The upstream deliveries whose jobs the row holds, by event type then id.
    pub deliveries: Vec<Delivery>,
    /// When the row's first job was first seen (its place in the order), and its last.
    pub first_seen_at: Option<String>,
    pub last_seen_at: Option<String>,
    /// "3/4 passed, 1 failed": the cells' states.
    pub headline: String,
    pub counts: StateCounts,
    /// One per column: the job shown there, or `null`. `tests.failed` is its failed-test count.
    pub cells: Vec<Option<JobCell>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Delivery {
    pub event_type: String,
    pub delivery_id: String,
}

/// What a row stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum RowKey {
    Commit {
        upstream_repo: String,
        sha: String,
    },
    /// A delivery that named no commit.
    Delivery {
        upstream_repo: String,
        event_type: String,
        delivery_id: String,
    },
}

impl RowKey {
    fn of(job: &Job) -> RowKey {
        let upstream_repo = job.upstream_repo.clone().unwrap_or_default();
        match &job.head_sha {
            Some(sha) => RowKey::Commit {
                upstream_repo,
                sha: sha.clone(),
            },
            None => RowKey::Delivery {
                upstream_repo,
                event_type: job.event_type.clone(),
                delivery_id: job.delivery_id.clone(),
            },
        }
    }
}

/// Whether `job` is a nightly run (module docs).
pub fn is_nightly(job: &Job) -> bool {
    oot_contract::is_nightly_run(&job.event_type, job.pr_number.is_some())
}

/// The commit on GitHub, for a commit id the contract allows (hex digits only: anything else
/// gets no link).
pub fn commit_url(upstream_repo: Option<&str>, sha: &str) -> Option<String> {
    if sha.is_empty() || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let repo = upstream_repo
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_UPSTREAM_REPO);
    Some(format!("https://github.com/{repo}/commit/{sha}"))
}

/// A row while building.
struct BuiltRow {
    key: RowKey,
    first_seen_at: i64,
    last_seen_at: i64,
    deliveries: BTreeSet<Delivery>,
    shown: BTreeMap<Column, Job>,
}

/// A nightly delivery of the window as the stores sum it up (`nightly_deliveries.sql`): its
/// upstream commit and when its first job in the window was first seen. The rows of the view
/// and their order come from these; the jobs are read for one page's deliveries only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NightlyDelivery {
    pub upstream_repo: String,
    pub head_sha: Option<String>,
    pub event_type: String,
    pub delivery_id: String,
    pub first_seen_at: i64,
}

impl NightlyDelivery {
    fn row_key(&self) -> RowKey {
        match &self.head_sha {
            Some(sha) => RowKey::Commit {
                upstream_repo: self.upstream_repo.clone(),
                sha: sha.clone(),
            },
            None => RowKey::Delivery {
                upstream_repo: self.upstream_repo.clone(),
                event_type: self.event_type.clone(),
                delivery_id: self.delivery_id.clone(),
            },
        }
    }

    /// The by-target table's key of its jobs.
    pub fn target(&self) -> TargetKey {
        TargetKey::Delivery {
            event_type: self.event_type.clone(),
            upstream_repo: self.upstream_repo.clone(),
            delivery_id: self.delivery_id.clone(),
        }
    }
}

/// The window's rows in their order, and the page's: what [`build_page`] shows, and whose
/// deliveries' jobs it needs ([`NightlyPlan::targets_to_read`]).
#[derive(Debug, Clone)]
pub struct NightlyPlan {
    page: PageRequest,
    total_rows: usize,
    has_more: bool,
    /// The page's rows, in order, each with when its first job was first seen.
    rows: Vec<(RowKey, i64)>,
    /// The completed deliveries of the page's rows.
    targets: Vec<TargetKey>,
}

impl NightlyPlan {
    /// The deliveries whose completed jobs the page shows.
    pub fn targets_to_read(&self) -> &[TargetKey] {
        &self.targets
    }
}

/// Which job of what was read the view shows: `repo`'s nightlies first seen in the window.
fn kept<'a>(repo: &'a str, since: i64) -> impl Fn(&Job) -> bool + 'a {
    move |j: &Job| j.downstream_repo == repo && in_window(j.first_seen_at, since) && is_nightly(j)
}

/// Orders the rows of `repo`'s nightly view for `window` ending at `now`: every commit (or
/// commit-less delivery) of the window's nightly `deliveries` and of the repo's `running` jobs,
/// newest first by when its first job was first seen, ties by key; then takes page `page`.
pub fn plan(
    repo: &str,
    window: Window,
    now: i64,
    deliveries: &[NightlyDelivery],
    running: &[Job],
    page: PageRequest,
) -> NightlyPlan {
    let since = window.since(now);
    let keep = kept(repo, since);
    let mut first_seen: BTreeMap<RowKey, i64> = BTreeMap::new();
    let mut note = |key: RowKey, at: i64| {
        let first = first_seen.entry(key).or_insert(at);
        *first = (*first).min(at);
    };
    for delivery in deliveries
        .iter()
        .filter(|d| in_window(d.first_seen_at, since))
    {
        note(delivery.row_key(), delivery.first_seen_at);
    }
    for job in running.iter().filter(|j| keep(j) && j.is_running()) {
        note(RowKey::of(job), job.first_seen_at);
    }
    let mut rows: Vec<(RowKey, i64)> = first_seen.into_iter().collect();
    // Newest first; ties (two commits first seen in one second) by key, so the order never
    // depends on the order rows were read in.
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total_rows = rows.len();
    let range = page_range(page, total_rows);
    let has_more = total_rows > range.end;
    let rows: Vec<(RowKey, i64)> = rows
        .into_iter()
        .skip(range.start)
        .take(range.len())
        .collect();
    let on_page: BTreeSet<&RowKey> = rows.iter().map(|(key, _)| key).collect();
    let targets = deliveries
        .iter()
        .filter(|d| in_window(d.first_seen_at, since) && on_page.contains(&d.row_key()))
        .map(NightlyDelivery::target)
        .collect();
    NightlyPlan {
        page,
        total_rows,
        has_more,
        rows,
        targets,
    }
}

/// The nightly view's page `plan` names: its rows from the `completed` jobs of their
/// deliveries and the repo's `running` jobs (anything else read is left out), under the
/// window's `columns` (those of its completed nightlies; the running ones' are added).
pub fn build_page(
    repo: &str,
    window: Window,
    now: i64,
    plan: NightlyPlan,
    columns: Vec<Column>,
    completed: Vec<Job>,
    running: Vec<Job>,
) -> NightlyView {
    let since = window.since(now);
    let keep = kept(repo, since);
    let completed: Vec<Job> = completed
        .into_iter()
        .filter(|j| keep(j) && !j.is_running())
        .collect();
    let running: Vec<Job> = running
        .into_iter()
        .filter(|j| keep(j) && j.is_running())
        .collect();
    let columns: Vec<Column> = columns
        .into_iter()
        .chain(running.iter().map(column_of))
        .collect::<BTreeSet<Column>>()
        .into_iter()
        .collect();
    let on_page: BTreeMap<&RowKey, usize> = plan
        .rows
        .iter()
        .enumerate()
        .map(|(i, (key, _))| (key, i))
        .collect();
    let mut jobs_of: Vec<Vec<Job>> = vec![Vec::new(); plan.rows.len()];
    for job in with_running(completed, running, |j| j.job_key.as_str()) {
        if let Some(&i) = on_page.get(&RowKey::of(&job)) {
            jobs_of[i].push(job);
        }
    }
    let rows = plan
        .rows
        .iter()
        .zip(jobs_of)
        .map(|((key, first_seen_at), jobs)| {
            let last_seen_at = jobs
                .iter()
                .map(|j| j.first_seen_at)
                .max()
                .unwrap_or(*first_seen_at);
            let deliveries = jobs
                .iter()
                .map(|j| Delivery {
                    event_type: j.event_type.clone(),
                    delivery_id: j.delivery_id.clone(),
                })
                .collect();
            let shown = latest_of_each_job(jobs)
                .into_iter()
                .map(|j| (column_of(&j), j))
                .collect();
            let row = BuiltRow {
                key: key.clone(),
                first_seen_at: *first_seen_at,
                last_seen_at,
                deliveries,
                shown,
            };
            commit_row(row, &columns)
        })
        .collect();
    NightlyView {
        downstream_repo: repo.to_owned(),
        window: window.as_str(),
        since: rfc3339(since),
        generated_at: rfc3339(now),
        event_types: oot_contract::EventType::NIGHTLY_RUNS.to_vec(),
        columns,
        rows,
        page: Page {
            page: plan.page.page,
            per_page: plan.page.per_page,
            has_more: plan.has_more,
        },
        total_rows: plan.total_rows,
    }
}

/// The nightly deliveries `completed` (of any repo, window or trigger) hold of `repo`'s window:
/// what the stores sum up in `nightly_deliveries.sql`, from the jobs themselves.
pub fn deliveries_of(repo: &str, since: i64, completed: &[Job]) -> Vec<NightlyDelivery> {
    let keep = kept(repo, since);
    let mut deliveries: BTreeMap<(String, String, String), NightlyDelivery> = BTreeMap::new();
    for job in completed.iter().filter(|j| keep(j) && !j.is_running()) {
        let upstream_repo = job.upstream_repo.clone().unwrap_or_default();
        let key = (
            upstream_repo.clone(),
            job.event_type.clone(),
            job.delivery_id.clone(),
        );
        let delivery = deliveries.entry(key).or_insert_with(|| NightlyDelivery {
            upstream_repo,
            head_sha: job.head_sha.clone(),
            event_type: job.event_type.clone(),
            delivery_id: job.delivery_id.clone(),
            first_seen_at: job.first_seen_at,
        });
        delivery.first_seen_at = delivery.first_seen_at.min(job.first_seen_at);
    }
    deliveries.into_values().collect()
}

/// The nightly view of `repo` for `window` ending at `now`, page `page`, from the window's
/// completed jobs (any jobs: those of other repos, outside the window or not nightly are left
/// out) and the repo's running jobs: [`plan`] and [`build_page`] on the jobs at hand. The
/// service reads the plan's inputs and the page's jobs apart (`api::nightly_at`); this is the
/// same view from everything at once.
pub fn build(
    repo: &str,
    window: Window,
    now: i64,
    completed: Vec<Job>,
    running: Vec<Job>,
    page: PageRequest,
) -> NightlyView {
    let since = window.since(now);
    let deliveries = deliveries_of(repo, since, &completed);
    let keep = kept(repo, since);
    let columns: Vec<Column> = completed
        .iter()
        .filter(|j| keep(j) && !j.is_running())
        .map(column_of)
        .collect();
    let plan = plan(repo, window, now, &deliveries, &running, page);
    build_page(repo, window, now, plan, columns, completed, running)
}

fn commit_row(row: BuiltRow, columns: &[Column]) -> CommitRow {
    let mut counts = StateCounts::default();
    for job in row.shown.values() {
        counts.add(job.state);
    }
    let cells = columns
        .iter()
        .map(|column| row.shown.get(column).map(JobCell::of))
        .collect();
    let (upstream_repo, head_sha) = match row.key {
        RowKey::Commit { upstream_repo, sha } => (upstream_repo, Some(sha)),
        RowKey::Delivery { upstream_repo, .. } => (upstream_repo, None),
    };
    let upstream_repo = (!upstream_repo.is_empty()).then_some(upstream_repo);
    CommitRow {
        commit_url: head_sha
            .as_deref()
            .and_then(|sha| commit_url(upstream_repo.as_deref(), sha)),
        upstream_repo,
        head_sha,
        deliveries: row.deliveries.into_iter().collect(),
        first_seen_at: rfc3339(row.first_seen_at),
        last_seen_at: rfc3339(row.last_seen_at),
        headline: headline(&counts),
        counts,
        cells,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobState;
    use crate::views::cell::tests::{job, pr};

    const NOW: i64 = 2_000_000;
    const SHA_1: &str = "1111111111111111111111111111111111111111";
    const SHA_2: &str = "2222222222222222222222222222222222222222";
    const SHA_3: &str = "3333333333333333333333333333333333333333";

    fn page(page: usize, per_page: usize) -> PageRequest {
        PageRequest { page, per_page }
    }

    /// A completed nightly of `a/b` on `sha`, delivery `delivery`, job `name`, run `run`
    /// attempt `attempt`, first seen `ago` seconds before now.
    fn nightly(
        key: &str,
        sha: &str,
        delivery: &str,
        name: &str,
        (run, attempt): (&str, u32),
        state: JobState,
        ago: i64,
    ) -> Job {
        let mut j = job("a/b", key);
        j.pr_number = None;
        j.event_type = "nightly".to_owned();
        j.head_sha = Some(sha.to_owned());
        j.delivery_id = delivery.to_owned();
        j.job_name = name.to_owned();
        j.run_id = run.to_owned();
        j.run_attempt = attempt;
        j.state = state;
        j.first_seen_at = NOW - ago;
        if state == JobState::Running {
            j.conclusion = None;
            j.completed_at = None;
        }
        j
    }

    fn view(completed: Vec<Job>, running: Vec<Job>, p: PageRequest) -> NightlyView {
        build("a/b", Window::Week, NOW, completed, running, p)
    }

    fn shas(view: &NightlyView) -> Vec<&str> {
        view.rows
            .iter()
            .map(|r| r.head_sha.as_deref().unwrap_or("-"))
            .collect()
    }

    /// (job name, key, state) of each cell of `row`, `None` where empty.
    fn cells(row: &CommitRow) -> Vec<Option<(&str, &str, JobState)>> {
        row.cells
            .iter()
            .map(|c| {
                c.as_ref()
                    .map(|c| (c.job_name.as_str(), c.job_key.as_str(), c.state))
            })
            .collect()
    }

    #[test]
    fn rows_are_commits_newest_first_and_cells_their_latest_attempts() {
        use JobState::{Failure, Success};
        let completed = vec![
            nightly("k1", SHA_1, "d1", "test", ("10", 1), Success, 3 * 86_400),
            nightly("k2", SHA_1, "d1", "build", ("11", 1), Success, 3 * 86_400),
            // Commit 2: the test job failed, then was re-run and passed; the re-run is first
            // seen later, and does not move the commit above commit 3.
            nightly("k3", SHA_2, "d2", "test", ("20", 1), Failure, 2 * 86_400),
            nightly("k4", SHA_2, "d2", "test", ("20", 2), Success, 3_600),
            nightly("k5", SHA_3, "d3", "test", ("30", 1), Failure, 86_400),
        ];
        let v = view(completed, vec![], page(1, 10));
        assert_eq!(shas(&v), [SHA_3, SHA_2, SHA_1]);
        let names: Vec<&str> = v.columns.iter().map(|c| c.job_name.as_str()).collect();
        assert_eq!(names, ["build", "test"], "every job of the window, by name");
        assert_eq!(
            cells(&v.rows[1]),
            [None, Some(("test", "k4", Success))],
            "attempt 2, not the failed attempt 1"
        );
        assert_eq!(v.rows[1].headline, "1/1 passed");
        assert_eq!(v.rows[0].headline, "0/1 passed, 1 failed");
        assert_eq!(v.rows[2].headline, "2/2 passed");
        assert_eq!(
            v.rows[1].first_seen_at.as_deref(),
            rfc3339(NOW - 2 * 86_400).as_deref()
        );
        assert_eq!(
            v.rows[1].last_seen_at.as_deref(),
            rfc3339(NOW - 3_600).as_deref()
        );
        assert_eq!(
            v.rows[0].commit_url.as_deref(),
            Some(format!("https://github.com/pytorch/pytorch/commit/{SHA_3}").as_str())
        );
        assert_eq!(v.total_rows, 3);
        assert_eq!(v.event_types, ["nightly", "periodic", "schedule"]);
    }

    #[test]
    fn a_commit_delivered_twice_is_one_row_showing_the_newest_run() {
        use JobState::{Failure, Success};
        let mut periodic = nightly("k2", SHA_1, "d-b", "test", ("101", 1), Success, 100);
        periodic.event_type = "periodic".to_owned();
        let completed = vec![
            nightly("k1", SHA_1, "d-a", "test", ("100", 1), Failure, 200),
            periodic,
            nightly("k3", SHA_1, "d-a", "build", ("100", 1), Success, 200),
        ];
        let v = view(completed, vec![], page(1, 10));
        assert_eq!(v.rows.len(), 1);
        let row = &v.rows[0];
        assert_eq!(
            row.deliveries,
            [
                Delivery {
                    event_type: "nightly".into(),
                    delivery_id: "d-a".into()
                },
                Delivery {
                    event_type: "periodic".into(),
                    delivery_id: "d-b".into()
                },
            ]
        );
        assert_eq!(
            cells(row),
            [
                Some(("build", "k3", Success)),
                Some(("test", "k2", Success))
            ],
            "run 101 is newer than run 100"
        );
        assert_eq!(row.headline, "2/2 passed");
    }

    #[test]
    fn pr_jobs_other_events_other_repos_and_old_jobs_are_left_out() {
        use JobState::Success;
        let on_pr = {
            // A PR number wins over a nightly event type.
            let mut j = nightly("k1", SHA_1, "d1", "test", ("1", 1), Success, 100);
            j.pr_number = Some(pr(5));
            j
        };
        let push = {
            let mut j = nightly("k2", SHA_1, "d2", "test", ("2", 1), Success, 100);
            j.event_type = "push".to_owned();
            j
        };
        let other_repo = {
            let mut j = nightly("k3", SHA_1, "d3", "test", ("3", 1), Success, 100);
            j.downstream_repo = "c/d".to_owned();
            j
        };
        let old = nightly("k4", SHA_2, "d4", "test", ("4", 1), Success, 8 * 86_400);
        let pr_job = job("a/b", "k5");
        let v = view(
            vec![on_pr, push, other_repo, old, pr_job],
            vec![],
            page(1, 10),
        );
        assert!(v.rows.is_empty() && v.columns.is_empty(), "{v:?}");
        assert_eq!((v.total_rows, v.page.has_more), (0, false));
    }

    #[test]
    fn a_running_attempt_is_shown_and_a_running_copy_of_a_completed_job_is_not() {
        use JobState::{Failure, Running, Success};
        let completed = vec![
            nightly("k1", SHA_1, "d1", "test", ("10", 1), Failure, 500),
            nightly("k2", SHA_1, "d1", "build", ("11", 1), Success, 500),
        ];
        let running = vec![
            // Attempt 2 of the failed test job runs now.
            nightly("k3", SHA_1, "d1", "test", ("10", 2), Running, 60),
            // DynamoDB still says the build job runs: its completed row wins.
            nightly("k2", SHA_1, "d1", "build", ("11", 1), Running, 500),
            // A new commit whose only job is running.
            nightly("k4", SHA_2, "d2", "test", ("20", 1), Running, 30),
        ];
        let v = view(completed, running, page(1, 10));
        assert_eq!(shas(&v), [SHA_2, SHA_1]);
        assert_eq!(
            cells(&v.rows[1]),
            [
                Some(("build", "k2", Success)),
                Some(("test", "k3", Running))
            ]
        );
        assert_eq!(v.rows[1].headline, "1/2 passed, 1 running");
        assert_eq!(cells(&v.rows[0]), [None, Some(("test", "k4", Running))]);
    }

    #[test]
    fn the_failed_test_count_is_the_cells() {
        let mut failed = nightly("k1", SHA_1, "d1", "test", ("10", 1), JobState::Failure, 100);
        failed.tests.failed = Some(3);
        let v = view(vec![failed], vec![], page(1, 10));
        let cell = v.rows[0].cells[0].as_ref().expect("a cell");
        assert_eq!(cell.tests.failed, Some(3));
        assert_eq!(
            cell.links.workflow_run.as_deref(),
            Some("https://github.com/a/b/actions/runs/100")
        );
    }

    #[test]
    fn rows_are_paged_with_the_total_and_a_delivery_without_commit_is_its_own_row() {
        use JobState::Success;
        let mut completed: Vec<Job> = (1..=5)
            .map(|i| {
                let sha = i.to_string().repeat(40);
                nightly(
                    &format!("k{i}"),
                    &sha,
                    &format!("d{i}"),
                    "test",
                    (&i.to_string(), 1),
                    Success,
                    1_000 - i,
                )
            })
            .collect();
        let mut no_commit = nightly("k9", SHA_1, "d9", "test", ("9", 1), Success, 2_000);
        no_commit.head_sha = None;
        no_commit.event_type = "schedule".to_owned();
        completed.push(no_commit);
        let second = view(completed.clone(), vec![], page(2, 2));
        assert_eq!(shas(&second), ["3".repeat(40), "2".repeat(40)]);
        assert_eq!((second.total_rows, second.page.has_more), (6, true));
        let last = view(completed.clone(), vec![], page(3, 2));
        assert_eq!(shas(&last), ["1".repeat(40).as_str(), "-"]);
        assert!(!last.page.has_more);
        let row = &last.rows[1];
        assert_eq!(
            (row.head_sha.as_ref(), row.commit_url.as_ref()),
            (None, None)
        );
        assert_eq!(row.deliveries[0].delivery_id, "d9");
        let past = view(completed, vec![], page(9, 2));
        assert!(past.rows.is_empty());
        assert_eq!(
            past.columns.len(),
            1,
            "columns are the window's, on every page"
        );
    }

    /// What the service does: the plan from the deliveries summed up, then the page from the
    /// jobs of the page's deliveries alone (and every running job) — the same view as from every
    /// job of the window at once, on every page.
    #[test]
    fn a_page_built_from_its_own_deliveries_jobs_is_the_page_of_the_whole_window() {
        use JobState::{Failure, Running, Success};
        let mut completed: Vec<Job> = (1..=7)
            .flat_map(|i| {
                let sha = i.to_string().repeat(40);
                let delivery = format!("d{i}");
                [
                    nightly(
                        &format!("k{i}"),
                        &sha,
                        &delivery,
                        "test",
                        (&i.to_string(), 1),
                        Failure,
                        5_000 - 10 * i,
                    ),
                    nightly(
                        &format!("r{i}"),
                        &sha,
                        &delivery,
                        "test",
                        (&i.to_string(), 2),
                        Success,
                        4_000 - i,
                    ),
                    nightly(
                        &format!("b{i}"),
                        &sha,
                        &delivery,
                        "build",
                        (&i.to_string(), 1),
                        Success,
                        5_000 - 10 * i,
                    ),
                ]
            })
            .collect();
        // Commit 3 delivered again by a periodic run, and a delivery without a commit.
        let mut periodic = nightly(
            "p3",
            &"3".repeat(40),
            "p-d3",
            "lint",
            ("70", 1),
            Success,
            100,
        );
        periodic.event_type = "periodic".to_owned();
        completed.push(periodic);
        let mut no_commit = nightly("n1", SHA_1, "n-d1", "test", ("80", 1), Success, 4_975);
        no_commit.head_sha = None;
        no_commit.event_type = "schedule".to_owned();
        completed.push(no_commit);
        // Not the view's: an old nightly and a PR job.
        completed.push(nightly(
            "old",
            SHA_2,
            "d-old",
            "test",
            ("90", 1),
            Success,
            9 * 86_400,
        ));
        completed.push(job("a/b", "pr-job"));
        let running = vec![
            nightly(
                "run1",
                &"8".repeat(40),
                "d8",
                "test",
                ("81", 1),
                Running,
                10,
            ),
            nightly("run2", &"5".repeat(40), "d5", "test", ("5", 3), Running, 20),
        ];
        let since = Window::Week.since(NOW);
        let deliveries = deliveries_of("a/b", since, &completed);
        let columns: Vec<Column> = completed
            .iter()
            .filter(|j| kept("a/b", since)(j))
            .map(column_of)
            .collect();
        for number in 1..=5 {
            let asked = page(number, 2);
            let whole = view(completed.clone(), running.clone(), asked);
            let plan = plan("a/b", Window::Week, NOW, &deliveries, &running, asked);
            let targets: BTreeSet<StoredTargetKey> =
                plan.targets_to_read().iter().map(stored).collect();
            let of_page: Vec<Job> = completed
                .iter()
                .filter(|j| targets.contains(&(j.event_type.clone(), j.delivery_id.clone())))
                .cloned()
                .collect();
            let paged = build_page(
                "a/b",
                Window::Week,
                NOW,
                plan,
                columns.clone(),
                of_page,
                running.clone(),
            );
            assert_eq!(paged, whole, "page {number}");
        }
        assert_eq!(view(completed, running, page(1, 2)).total_rows, 9);
    }

    type StoredTargetKey = (String, String);

    fn stored(target: &TargetKey) -> StoredTargetKey {
        match target {
            TargetKey::Delivery {
                event_type,
                delivery_id,
                ..
            } => (event_type.clone(), delivery_id.clone()),
            TargetKey::Pr { .. } => panic!("a nightly is no PR target"),
        }
    }

    #[test]
    fn only_hex_commits_are_linked() {
        assert_eq!(
            commit_url(Some("pytorch/vision"), "abc123"),
            Some("https://github.com/pytorch/vision/commit/abc123".to_owned())
        );
        assert_eq!(
            commit_url(None, "abc123"),
            Some("https://github.com/pytorch/pytorch/commit/abc123".to_owned())
        );
        for bad in ["", "abc/../x", "g123", "abc?x=1"] {
            assert_eq!(commit_url(None, bad), None, "{bad}");
        }
    }
}
