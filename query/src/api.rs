//! The JSON endpoints of the three views:
//!
//! - `GET /api/oot/summary?window=24h|7d|30d`
//! - `GET /api/oot/{org}/{repo}?window=..&page=N&per_page=M`
//! - `GET /api/oot/{org}/{repo}/tests?window=..`, the backend's failing tests
//! - `GET /api/oot/{org}/{repo}/tests/history?classname=..&name=..&window=..`, one test's history
//! - `GET /api/oot/{org}/{repo}/tests/diff?old=..&new=..&window=..` (or `old_from`, `old_until`,
//!   `new_from`, `new_until`), the backend's release diff
//! - `GET /api/oot/{org}/{repo}/scorecard`, the backend's readiness gates and level history
//! - `GET /api/oot/{org}/{repo}/nightly?window=..&page=N&per_page=M`, the backend's nightly runs
//! - `GET /api/oot/{org}/{repo}/trends?days=30|90`, the backend's figures per UTC day
//! - `GET /api/oot/{org}/{repo}/deliveries?outcome=..&window=..&page=N&per_page=M`, the
//!   backend's delivery log (docs/contract.md §16.7)
//! - `GET /api/oot/{org}/{repo}/alerts?window=..` and `GET /api/oot/alerts?window=..`, the
//!   backend's (or every backend's) open and recently closed alerts (docs/contract.md §17.6)
//! - `GET /api/oot/pr/{number}?upstream_repo=owner/name&window=..`
//!
//! Each answers its view as JSON, or as CSV with `?format=csv` (or `Accept: text/csv`; the
//! `table` parameter picks a view's other table), through the one wrapper
//! [`crate::csv_export::Export`].
//!
//! Each handler takes its parameters parsed at the edge ([`crate::extract`]: a 400 naming the one
//! that is wrong), reads both stores at once (a 503 naming a store that fails), and hands the
//! rows to its view's builder. A GitHub org named `pr` has no per-backend endpoint:
//! `/api/oot/pr/...` is the PR view, as in the contract.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use oot_contract::{RepoName, UpstreamPr};

use crate::baselines;
use crate::clock;
use crate::csv_export::Export;
use crate::error::ApiError;
use crate::extract::RepoPath;
use crate::job::SummaryJob;
use crate::kept::KeptAnswers;
use crate::observations::Observations;
use crate::params::{
    AlertsParams, AllAlertsParams, BackendParams, DeliveriesParams, FailingTestsParams,
    PageRequest, PrParams, PrTriageParams, ReleaseDiffParams, SummaryParams, TestHistoryParams,
    TrendsParams,
};
use crate::pr_triage::Shown;
use crate::rules::Window;
use crate::stores::alerts::AlertsLog;
use crate::stores::completed::CompletedJobs;
use crate::stores::deliveries::DeliveryLog;
use crate::stores::live::LiveJobs;
use crate::stores::rollups::Rollups;
use crate::stores::test_history::{slots_short_of, NEWEST_FIRST_SPAN};
use crate::stores::triage::Slots;
use crate::stores::StoreError;
use crate::tally::Tally;
use crate::target::TargetSummary;
use crate::views::alerts::{self, AlertsView};
use crate::views::backend::{self, BackendView};
use crate::views::deliveries::{self, CountsView, DeliveriesView};
use crate::views::failing_tests::{self, FailingTestsAnswer, FailingTestsView};
use crate::views::pr::{self, PrView};
use crate::views::pr_triage::{self, BackendTriage};
use crate::views::release_diff::ReleaseDiffView;
use crate::views::scorecard::{self, ScorecardView, ScorecardWindows, Verdicts};
use crate::views::summary::{self, Summary};
use crate::views::test_history::{self, JobDetails, SlotCounts, TestHistoryView};
use crate::views::trends::{self, TrendsView};

/// The stores every view reads.
pub struct Stores {
    pub completed: CompletedJobs,
    /// The hourly cells and per-repo latest the summary and the backend header read.
    pub rollups: Rollups,
    pub live: LiveJobs,
    /// The delivery log: what became of each callback (docs/contract.md §16).
    pub deliveries: DeliveryLog,
    /// The alerts the evaluator (`oot-alerts`) keeps beside the job table (docs/contract.md §17).
    pub alerts: AlertsLog,
    /// The readiness gates' thresholds (a setting, not a store: here because every handler's
    /// state is this).
    pub thresholds: oot_readiness::Thresholds,
    /// The summary's slowly changing figures, read at most once per [`SUMMARY_EXTRAS_MAX_AGE`].
    pub summary_extras: crate::cached::Cached<SummaryExtras>,
    /// Each backend's failing tests per window, kept and refreshed behind the requests
    /// (docs/contract.md §12.13 "Kept answers").
    pub failing_tests: KeptAnswers<(RepoName, Window), FailingTestsAnswer>,
    /// A PR's verdicts on each backend, kept while the backend's shown jobs stay the same
    /// (docs/contract.md §12.15 "Kept verdicts").
    pub pr_triages: KeptAnswers<PrTriageAsked, BackendTriage>,
}

/// What a PR's verdicts on one backend were judged for: the PR, the other-PRs window, and the
/// backend's shown completed jobs as the PR view showed them (a job completing, re-run or
/// changing its failures changes the key, and that backend is judged again at once; the
/// backends of a PR judged again at one request are judged together, in the same few queries
/// as one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrTriageAsked {
    pub pr: UpstreamPr,
    pub other_prs_window: Window,
    pub repo: RepoName,
    /// The backend's shown completed jobs.
    pub shown: Vec<ShownJob>,
}

/// A shown completed job as judged: its key, completion time and failed count.
pub type ShownJob = (String, Option<String>, Option<u64>);

/// How many PRs' verdicts are judged at once: each is a few queries in a row, each query for
/// all the PR's backends judged.
const PR_TRIAGES_JUDGED_AT_ONCE: usize = 8;

impl Stores {
    /// The stores over `clickhouse`'s tables and the DynamoDB job table `dynamo_table`, each
    /// read given `timeout`.
    ///
    /// ClickHouse reads use its cache of decompressed blocks (`use_uncompressed_cache`, off by
    /// default): every view reads short key ranges, a few dozen granules scattered over the
    /// parts, and without the cache each granule costs decompressing its whole block of each
    /// column (64 KB or more) for a few rows. Measured at 10M jobs: a backend page's jobs 150 ms
    /// cold, 50 ms from the cache. The server uses the cache only for reads under
    /// `merge_tree_max_rows_to_use_cache` rows, so a large read cannot flush it.
    pub fn connect(
        clickhouse: &oot_platform::settings::ClickHouseSettings,
        dynamo: aws_sdk_dynamodb::Client,
        dynamo_table: &str,
        timeout: std::time::Duration,
    ) -> Self {
        let reads = clickhouse
            .client()
            .with_setting("use_uncompressed_cache", "1");
        let table = clickhouse.qualified_table();
        Self {
            deliveries: DeliveryLog::new(reads.clone(), &table, timeout),
            rollups: Rollups::new(reads.clone(), &table, timeout),
            completed: CompletedJobs::new(reads, table, timeout),
            alerts: AlertsLog::new(dynamo.clone(), dynamo_table, timeout),
            live: LiveJobs::new(dynamo, dynamo_table.to_owned(), timeout),
            thresholds: oot_readiness::Thresholds::default(),
            summary_extras: crate::cached::Cached::new(SUMMARY_EXTRAS_MAX_AGE),
            failing_tests: KeptAnswers::new(
                Duration::from_secs(crate::config::DEFAULT_FAILING_TESTS_FRESH_FOR_S),
                crate::config::DEFAULT_MAX_CONCURRENT_FAILING_TESTS.into(),
            ),
            pr_triages: KeptAnswers::new(
                Duration::from_secs(crate::config::DEFAULT_PR_TRIAGE_FRESH_FOR_S),
                PR_TRIAGES_JUDGED_AT_ONCE,
            ),
        }
    }

    /// The same stores, keeping a PR's verdicts `fresh_for` while its shown jobs stay the same
    /// (zero: every request judges them).
    pub fn with_pr_triage_kept(self, fresh_for: Duration) -> Self {
        Self {
            pr_triages: KeptAnswers::new(fresh_for, PR_TRIAGES_JUDGED_AT_ONCE),
            ..self
        }
    }

    /// The same stores, keeping the failing tests' answers `fresh_for` (zero: every request
    /// computes its own) and computing at most `max_computing` of them at once.
    pub fn with_failing_tests_kept(self, fresh_for: Duration, max_computing: usize) -> Self {
        Self {
            failing_tests: KeptAnswers::new(fresh_for, max_computing),
            ..self
        }
    }

    /// The same stores, judging readiness against `thresholds`.
    pub fn with_thresholds(self, thresholds: oot_readiness::Thresholds) -> Self {
        Self { thresholds, ..self }
    }
}

/// Every view's JSON but the failing tests' ([`failing_tests_routes`]).
pub fn routes(stores: Arc<Stores>) -> Router {
    Router::new()
        .route("/api/oot/summary", get(summary_view))
        .route("/api/oot/pr/{number}", get(pr_view))
        .route("/api/oot/{org}/{repo}", get(backend_view))
        .route(
            "/api/oot/{org}/{repo}/tests/history",
            get(test_history_view),
        )
        .route("/api/oot/{org}/{repo}/tests/diff", get(release_diff_view))
        .route("/api/oot/{org}/{repo}/scorecard", get(scorecard_view))
        .route("/api/oot/{org}/{repo}/nightly", get(nightly_view))
        .route("/api/oot/{org}/{repo}/trends", get(trends_view))
        .route("/api/oot/{org}/{repo}/deliveries", get(deliveries_view))
        .route("/api/oot/{org}/{repo}/alerts", get(alerts_view))
        .route("/api/oot/alerts", get(all_alerts_view))
        .with_state(stores)
}

/// The failing tests' JSON: served under a limit of its own (`crate::app`), as one request holds
/// every job of its window (contract §12.13).
pub fn failing_tests_routes(stores: Arc<Stores>) -> Router {
    Router::new()
        .route("/api/oot/{org}/{repo}/tests", get(failing_tests_view))
        .with_state(stores)
}

async fn summary_view(
    State(stores): State<Arc<Stores>>,
    params: SummaryParams,
    export: Export<Summary>,
) -> Result<Response, ApiError> {
    Ok(export.answer(&load_summary(&stores, params).await?))
}

async fn backend_view(
    State(stores): State<Arc<Stores>>,
    params: BackendParams,
    export: Export<BackendView>,
) -> Result<Response, ApiError> {
    Ok(export.answer(&load_backend(&stores, params).await?))
}

async fn failing_tests_view(
    State(stores): State<Arc<Stores>>,
    params: FailingTestsParams,
    export: Export<FailingTestsView>,
) -> Result<Response, ApiError> {
    Ok(export.answer(&load_failing_tests(&stores, &params).await?))
}

async fn test_history_view(
    State(stores): State<Arc<Stores>>,
    params: TestHistoryParams,
    export: Export<TestHistoryView>,
) -> Result<Response, ApiError> {
    Ok(export.answer(&load_test_history(&stores, params).await?))
}

async fn release_diff_view(
    State(stores): State<Arc<Stores>>,
    params: ReleaseDiffParams,
    export: Export<ReleaseDiffView>,
) -> Result<Response, ApiError> {
    Ok(export.answer(&load_release_diff(&stores, params).await?))
}

async fn nightly_view(
    State(stores): State<Arc<Stores>>,
    params: BackendParams,
    export: Export<crate::views::nightly::NightlyView>,
) -> Result<Response, ApiError> {
    Ok(export.answer(&load_nightly(&stores, params).await?))
}

async fn scorecard_view(
    State(stores): State<Arc<Stores>>,
    repo: RepoPath,
    export: Export<ScorecardView>,
) -> Result<Response, ApiError> {
    Ok(export.answer(&load_scorecard(&stores, &repo.0).await?))
}

async fn trends_view(
    State(stores): State<Arc<Stores>>,
    params: TrendsParams,
    export: Export<TrendsView>,
) -> Result<Response, ApiError> {
    Ok(export.answer(&load_trends(&stores, params).await?))
}

async fn deliveries_view(
    State(stores): State<Arc<Stores>>,
    params: DeliveriesParams,
    export: Export<DeliveriesView>,
) -> Result<Response, ApiError> {
    Ok(export.answer(&load_deliveries(&stores, params).await?))
}

async fn alerts_view(
    State(stores): State<Arc<Stores>>,
    params: AlertsParams,
    export: Export<AlertsView>,
) -> Result<Response, ApiError> {
    Ok(export.answer(&load_alerts(&stores, params).await?))
}

async fn all_alerts_view(
    State(stores): State<Arc<Stores>>,
    params: AllAlertsParams,
    export: Export<AlertsView>,
) -> Result<Response, ApiError> {
    Ok(export.answer(&load_all_alerts(&stores, params).await?))
}

async fn pr_view(
    State(stores): State<Arc<Stores>>,
    params: PrTriageParams,
    export: Export<PrView>,
) -> Result<Response, ApiError> {
    Ok(export.answer(&load_pr_triage(&stores, params).await?))
}

// The loaders below are the whole of each view but its encoding: the JSON endpoints above and
// the pages ([`crate::pages`]) both call them, so a page can never show other rules than the API.
// They fail only when a store does: their parameters are already valid.

/// The summary of the window asked for, ending now: two reads of the rollups (the window's
/// cells, every repo's latest), whatever the number of jobs.
/// The summary as served: [`summary_at`] with each repo's readiness verdicts ([`verdicts_at`])
/// and daily pass rates ([`pass_rate_daily_at`]), read at once.
pub async fn load_summary(stores: &Stores, params: SummaryParams) -> Result<Summary, StoreError> {
    let now = clock::now();
    let (mut summary, extras) = tokio::try_join!(
        summary_at(stores, params.window, now),
        stores
            .summary_extras
            .get_or_load(|| summary_extras_at(stores, now)),
    )?;
    summary.attach_readiness(&extras.verdicts);
    summary.attach_pass_rate_daily(
        &extras.pass_rate_daily,
        &trends::no_results(extras.read_at, trends::TrendDays::DEFAULT.days()),
    );
    Ok(summary)
}

/// What the summary shows beside its window's counts that changes slowly: read at most once a
/// minute per service ([`SUMMARY_EXTRAS_MAX_AGE`], [`crate::cached`]).
pub struct SummaryExtras {
    pub read_at: i64,
    pub verdicts: std::collections::BTreeMap<String, Verdicts>,
    pub pass_rate_daily: std::collections::BTreeMap<String, Vec<trends::DailyPassRate>>,
}

/// How old the summary's verdicts and sparklines may be (docs/contract.md §14.8).
pub const SUMMARY_EXTRAS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// Every repo's verdicts and daily pass rates at `now`, read at once.
pub async fn summary_extras_at(stores: &Stores, now: i64) -> Result<SummaryExtras, StoreError> {
    let (verdicts, pass_rate_daily) =
        tokio::try_join!(verdicts_at(stores, now), pass_rate_daily_at(stores, now))?;
    Ok(SummaryExtras {
        read_at: now,
        verdicts,
        pass_rate_daily,
    })
}

/// Every repo's pass rate per UTC day over the last 30 (the summary's sparklines): one read of
/// every repo's cells of those days, grouped per repo and day, the rate sums alone
/// (docs/contract.md §14.9).
pub async fn pass_rate_daily_at(
    stores: &Stores,
    now: i64,
) -> Result<std::collections::BTreeMap<String, Vec<trends::DailyPassRate>>, StoreError> {
    let range = trends::TrendDays::DEFAULT;
    let rows = stores.rollups.daily_rates(range.first_day(now)).await?;
    Ok(trends::daily_pass_rates(now, range.days(), &rows))
}

/// The summary of `window` ending at `now`, from the rollups.
pub async fn summary_at(stores: &Stores, window: Window, now: i64) -> Result<Summary, StoreError> {
    let (figures, latest) = tokio::try_join!(
        stores.rollups.summary(window.since(now)),
        stores.rollups.latest(),
    )?;
    Ok(summary::from_rollups(window, now, figures, latest))
}

/// The summary as it was computed before the rollups: every completed job of the window read
/// with `FINAL` and counted here. Kept as the baseline the read benchmark and the tests compare
/// the rollups with; no route uses it.
pub async fn baseline_summary(
    stores: &Stores,
    window: Window,
    now: i64,
) -> Result<Summary, StoreError> {
    let (jobs, running, last_results) = tokio::try_join!(
        stores.completed.summary_jobs(window.since(now)),
        stores.live.running_everywhere(),
        stores.completed.repo_last_results(),
    )?;
    let running = running.into_iter().map(SummaryJob::of).collect();
    Ok(summary::build(window, now, jobs, running, last_results))
}

/// One backend's view: a page of its matrix over the window, with the page's failed tests.
pub async fn load_backend(
    stores: &Stores,
    params: BackendParams,
) -> Result<BackendView, StoreError> {
    backend_at(stores, params, clock::now()).await
}

/// [`load_backend`] at `now`. The header's tally is the repo's rollup cells; the matrix is read
/// from the read tables: the window's targets of the repo with their newest job, its columns and
/// its running jobs; then the completed jobs of only the targets the page shows
/// ([`backend::BackendPlan::targets_to_read`]) and, for the header's running count, the latest
/// completed attempt of the running jobs' runs from the rollup ledger, by key; then the failed
/// tests of the page's failed jobs.
pub async fn backend_at(
    stores: &Stores,
    params: BackendParams,
    now: i64,
) -> Result<BackendView, StoreError> {
    let BackendParams { repo, window, page } = params;
    let since = window.since(now);
    let (targets, columns, running, figures) = tokio::try_join!(
        newest_targets(stores, &repo, since, now, page),
        stores.completed.backend_columns(&repo, since),
        stores.live.running_of_repo(&repo),
        stores.rollups.repo(&repo, since),
    )?;
    let plan = backend::plan(repo.as_str(), window, now, targets, running, page);
    let (on_page, running_runs) = (plan.targets_to_read(), plan.running_runs());
    let (jobs, latest_completed) = tokio::try_join!(
        stores.completed.target_jobs(&repo, since, &on_page),
        stores.live.latest_completed(&running_runs),
    )?;
    let mut view = plan.build(
        columns,
        jobs,
        &latest_completed,
        Tally::of_figures(&figures),
    );
    // After the jobs, by the keys of the failed ones the page shows: asked beside them (the
    // failed jobs of the page's targets, found again in the by-target table), it saved a round
    // trip but cost 96 ms of ClickHouse CPU where the read by key cost 18 from the jobs table
    // (10M jobs), and costs ~5 from the failed-test lists table it reads now.
    let failed_tests = stores
        .completed
        .failed_tests(&repo, &view.failed_job_keys())
        .await?;
    view.attach_failed_tests(&failed_tests);
    Ok(view)
}

/// One backend's nightly runs over the window: upstream commits by job (docs/contract.md
/// §12.17). It takes the per-backend view's parameters (repo, window, page).
pub async fn load_nightly(
    stores: &Stores,
    params: BackendParams,
) -> Result<crate::views::nightly::NightlyView, StoreError> {
    nightly_at(stores, params, clock::now()).await
}

/// [`load_nightly`] at `now` (docs/contract.md §12.17): at once, the window's nightly
/// deliveries summed up (each with its commit and first job's time), its columns, and the repo's
/// running nightlies (their own index); from those the rows are ordered and the page's taken
/// ([`nightly::plan`]); then only the page's deliveries' jobs are read (the by-target table, by
/// key). A request holds a page of jobs, whatever the window's size.
pub async fn nightly_at(
    stores: &Stores,
    params: BackendParams,
    now: i64,
) -> Result<crate::views::nightly::NightlyView, StoreError> {
    use crate::views::nightly;
    let BackendParams { repo, window, page } = params;
    let since = window.since(now);
    // To the end of the current hour: no job is first seen later.
    let until = crate::rules::start_of_hour(now) + crate::rules::HOUR;
    let (deliveries, columns, running) = tokio::try_join!(
        stores.completed.nightly_deliveries(&repo, since, until),
        stores.completed.nightly_columns(&repo, since, until),
        stores.live.running_nightlies_of_repo(&repo),
    )?;
    let plan = nightly::plan(repo.as_str(), window, now, &deliveries, &running, page);
    let completed = stores
        .completed
        .target_jobs(&repo, since, plan.targets_to_read())
        .await?;
    Ok(nightly::build_page(
        repo.as_str(),
        window,
        now,
        plan,
        columns,
        completed,
        running,
    ))
}

pub async fn load_scorecard(stores: &Stores, repo: &RepoName) -> Result<ScorecardView, StoreError> {
    scorecard_at(stores, repo, clock::now()).await
}

/// [`load_scorecard`] at `now`: the repo's rollup cells of the promotion and the demotion
/// windows and its level-history rows, read at once (docs/contract.md §14.3).
pub async fn scorecard_at(
    stores: &Stores,
    repo: &RepoName,
    now: i64,
) -> Result<ScorecardView, StoreError> {
    let windows = ScorecardWindows::at(now, &stores.thresholds);
    let (promotion, demotion, level_days) = tokio::try_join!(
        stores.rollups.gate_repo(repo, windows.promotion_since),
        stores.rollups.gate_repo(repo, windows.demotion_since),
        stores.rollups.level_days(Some(repo)),
    )?;
    Ok(scorecard::build(
        repo.as_str(),
        now,
        &stores.thresholds,
        &promotion,
        &demotion,
        &level_days,
    ))
}

/// Every repo's verdicts at `now` (the summary's readiness column), from every repo's cells of
/// both windows and every repo's level rows.
pub async fn verdicts_at(
    stores: &Stores,
    now: i64,
) -> Result<std::collections::BTreeMap<String, Verdicts>, StoreError> {
    let windows = ScorecardWindows::at(now, &stores.thresholds);
    let (promotion, demotion, level_days) = tokio::try_join!(
        stores.rollups.gate_summary(windows.promotion_since),
        stores.rollups.gate_summary(windows.demotion_since),
        stores.rollups.level_days(None),
    )?;
    Ok(scorecard::verdicts(
        now,
        &stores.thresholds,
        &promotion,
        &demotion,
        &level_days,
    ))
}

/// One backend's trends over the days asked for, ending today.
pub async fn load_trends(stores: &Stores, params: TrendsParams) -> Result<TrendsView, StoreError> {
    trends_at(stores, params, clock::now()).await
}

/// [`load_trends`] at `now` (docs/contract.md §14.9): the repo's rollup cells of the range, summed
/// per UTC day by ClickHouse (one key range, at most 90 rows back).
pub async fn trends_at(
    stores: &Stores,
    params: TrendsParams,
    now: i64,
) -> Result<TrendsView, StoreError> {
    let TrendsParams { repo, days } = params;
    let rows = stores.rollups.daily(&repo, days.first_day(now)).await?;
    Ok(trends::build(repo.as_str(), days, now, &rows))
}

/// The window's targets of `repo` a page needs ([`backend::newest_targets`]).
async fn newest_targets(
    stores: &Stores,
    repo: &RepoName,
    since: i64,
    now: i64,
    page: PageRequest,
) -> Result<Vec<TargetSummary>, StoreError> {
    backend::newest_targets(
        since,
        now,
        page,
        |from, until| stores.completed.backend_targets(repo, from, until),
        |from, until| stores.completed.backend_newest_hour(repo, from, until),
    )
    .await
}

/// The per-backend view as it was computed before the read tables: every completed job of the
/// window read with `FINAL` and placed here. Kept as the baseline the read benchmark and the
/// tests compare [`backend_at`] with; no route uses it.
pub async fn baseline_backend(
    stores: &Stores,
    params: BackendParams,
    now: i64,
) -> Result<BackendView, StoreError> {
    let BackendParams { repo, window, page } = params;
    let (completed, running) = tokio::try_join!(
        stores
            .completed
            .baseline_repo_jobs(&repo, window.since(now)),
        stores.live.running_of_repo(&repo),
    )?;
    let mut view = backend::baseline_build(repo.as_str(), window, now, completed, running, page);
    let failed_tests = stores
        .completed
        .failed_tests(&repo, &view.failed_job_keys())
        .await?;
    view.attach_failed_tests(&failed_tests);
    Ok(view)
}

/// One backend's failing tests in the window asked for, ending now: cut from the backend's
/// answer for the window, kept in `stores.failing_tests` and computed by [`failing_tests_at`]
/// when there is none to serve.
pub async fn load_failing_tests(
    stores: &Arc<Stores>,
    params: &FailingTestsParams,
) -> Result<FailingTestsView, StoreError> {
    let key = (params.repo.clone(), params.window);
    let computing = Arc::clone(stores);
    let (repo, window) = key.clone();
    let kept = stores
        .failing_tests
        .get(key, move || async move {
            let answer = failing_tests_at(&computing, &repo, window, clock::now()).await;
            if let Ok(answer) = &answer {
                tracing::info!(
                    repo = %repo,
                    window = window.as_str(),
                    rows = answer.rows.len(),
                    "failing tests computed"
                );
            }
            answer
        })
        .await?;
    Ok(failing_tests::build(params, &kept.value, clock::now()))
}

/// `repo`'s failing tests over `window` ending at `now` (docs/contract.md §12.13): the window's
/// jobs and failed-test rows of the repo and every slot's nightlies of the day before the window
/// ([`baselines::spans`]' first), at once; the rules run on them; then, for the slots whose
/// baseline may still be from before that ([`baselines::pending_slots`]), their nightlies of
/// the rest of the lookback; then whether the nightlies that became baselines failed the tests
/// they are baselines of. The rules run again after each read that added something: every
/// answer is [`oot_triage::failing_tests`]'s on what was read.
pub async fn failing_tests_at(
    stores: &Stores,
    repo: &RepoName,
    window: Window,
    now: i64,
) -> Result<FailingTestsAnswer, StoreError> {
    let since = window.since(now);
    // The first span's nightlies, of every slot, are read beside the window rather than after
    // the rules name the pending slots: most pending slots find their baseline there, and the
    // rules then run once less over the window's jobs (~0.3 s of CPU for a busy backend's
    // week). A nightly that is no baseline changes no answer.
    let [(day_from, day_until), rest_of_lookback] = baselines::spans(since);
    let (jobs, failures, day_before) = tokio::try_join!(
        stores.completed.failing_window_jobs(repo, since),
        stores.completed.failing_window_tests(repo, since),
        stores
            .completed
            .nightlies_before(repo, day_from, day_until, since, Slots::Every),
    )?;
    let mut observations = Observations::of_window(jobs, failures);
    observations.add_before_window(day_before);
    let mut rows = oot_triage::failing_tests(observations.results(), since);
    let pending: Vec<oot_triage::JobSlot> =
        baselines::pending_slots(&rows, since).into_iter().collect();
    if !pending.is_empty() {
        let (from, until) = rest_of_lookback;
        let of_pending = stores
            .completed
            .nightlies_before(repo, from, until, since, Slots::Only(&pending))
            .await?;
        if !of_pending.is_empty() {
            observations.add_before_window(of_pending);
            rows = oot_triage::failing_tests(observations.results(), since);
        }
    }
    let asked = baselines::asked_of_baselines(&rows, since, |key| observations.version_of(key));
    if !asked.is_empty() {
        let asked: Vec<(&RepoName, &baselines::Asked)> = asked.iter().map(|a| (repo, a)).collect();
        let failures = stores.completed.baseline_failed_tests(&asked).await?;
        observations.attach_asked(failures);
        rows = oot_triage::failing_tests(observations.results(), since);
    }
    Ok(FailingTestsAnswer::new(
        since,
        now,
        since - baselines::LOOKBACK,
        rows,
        |number| observations.upstream_of_pr(number).map(str::to_owned),
    ))
}

/// One test's history in one backend over the window asked for, ending now.
pub async fn load_test_history(
    stores: &Stores,
    params: TestHistoryParams,
) -> Result<TestHistoryView, StoreError> {
    test_history_at(stores, params, clock::now()).await
}

/// [`load_test_history`] at `now` (docs/contract.md §12.14): at once, the window's jobs of the
/// slots where the test failed, each with what its failed list says of the test, and the test's
/// failed-test rows of the window (one key range) for their messages, each counted only at its
/// job's version read (§10.3). The strip and the regression range are [`oot_triage`]'s on
/// those jobs.
pub async fn test_history_at(
    stores: &Stores,
    params: TestHistoryParams,
    now: i64,
) -> Result<TestHistoryView, StoreError> {
    let TestHistoryParams { repo, test, window } = params;
    let since = window.since(now);
    // The strip's jobs are looked for in the last day first: a busy slot's month is tens of
    // thousands of jobs to pick its newest from.
    let newest_from = since.max(crate::rules::start_of_hour(now) - NEWEST_FIRST_SPAN);
    let strip = test_history::STRIP_JOBS;
    let (mut jobs, nightlies, slot_jobs, failures) = tokio::try_join!(
        stores
            .completed
            .test_history_jobs(&repo, &test, (since, newest_from), None, strip),
        stores.completed.test_history_nightlies(&repo, &test, since),
        stores.completed.test_history_slot_jobs(&repo, &test, since),
        stores.completed.test_history_failures(&repo, &test, since),
    )?;
    if newest_from > since {
        // The slots that had fewer jobs than a strip in that day: the rest of the window.
        let failing: Vec<oot_triage::JobSlot> = failures
            .iter()
            .map(|f| f.slot.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let short = slots_short_of(strip, &failing, &jobs);
        let older = stores
            .completed
            .test_history_jobs(&repo, &test, (since, since), Some(&short), strip)
            .await?;
        jobs.extend(older);
    }
    jobs.extend(nightlies);
    // The failed-test rows say which jobs listed the test at their latest version (§10.3), with
    // their messages. A row not yet visible beside its job's (the projector sends the two
    // INSERTs at once) reads, for that moment, as a list without the test, as in every view of
    // failed tests.
    let messages: HashMap<(&str, u64), _> = failures
        .iter()
        .map(|f| ((f.job_key.as_str(), f.version), f))
        .collect();
    let observations = Observations::of_test(
        jobs.iter().map(|job| {
            let lists_test =
                messages.contains_key(&(job.facts.job_key.as_str(), job.facts.version));
            (job.facts.clone(), job.list(lists_test))
        }),
        &test,
    );
    let details: HashMap<String, JobDetails> = jobs
        .iter()
        .filter(|job| observations.version_of(&job.facts.job_key) == Some(job.facts.version))
        .map(|job| {
            let failure = messages.get(&(job.facts.job_key.as_str(), job.facts.version));
            let details = JobDetails {
                upstream_repo: job.facts.upstream_repo.clone(),
                event_type: job.facts.event_type.clone(),
                workflow_run_url: job.workflow_run_url.clone(),
                message: failure.and_then(|f| f.message.clone()),
                message_truncated: failure.is_some_and(|f| f.message_truncated),
            };
            (job.facts.job_key.clone(), details)
        })
        .collect();
    let mut counts: BTreeMap<oot_triage::JobSlot, SlotCounts> = slot_jobs
        .into_iter()
        .map(|(slot, jobs)| {
            let jobs = usize::try_from(jobs).unwrap_or(usize::MAX);
            (slot, SlotCounts { jobs, failed: 0 })
        })
        .collect();
    for failure in &failures {
        counts.entry(failure.slot.clone()).or_default().failed += 1;
    }
    Ok(test_history::build(
        repo.as_str(),
        &test,
        window,
        now,
        observations.results(),
        &details,
        &counts,
    ))
}

/// One backend's release diff as asked for, its window ending now. Unlike the other loaders it
/// can refuse its parameters: a commit prefix is looked up among the window's nightly commits.
pub async fn load_release_diff(
    stores: &Stores,
    params: ReleaseDiffParams,
) -> Result<ReleaseDiffView, ApiError> {
    release_diff_at(stores, params, clock::now()).await
}

/// [`load_release_diff`] at `now` (docs/contract.md §12.16): the nightlies of the window and of
/// the time ranges asked for, then the nightlies compared by key
/// ([`crate::release_diff::diff_at`]); the answer is [`oot_triage::release_diff`]'s on them.
pub async fn release_diff_at(
    stores: &Stores,
    params: ReleaseDiffParams,
    now: i64,
) -> Result<ReleaseDiffView, ApiError> {
    crate::release_diff::diff_at(&stores.completed, params, now).await
}

/// One upstream PR's view, over the window if one is asked for.
/// A backend's delivery log as served (docs/contract.md §16.7): [`deliveries_at`] now.
pub async fn load_deliveries(
    stores: &Stores,
    params: DeliveriesParams,
) -> Result<DeliveriesView, StoreError> {
    deliveries_at(stores, params, clock::now()).await
}

/// A backend's delivery log at `now`: the page's receipts (the newest of the window, read
/// slice by slice from the newest hour until the page is full) and the counts of the last 24
/// hours and 7 days, read at once.
pub async fn deliveries_at(
    stores: &Stores,
    params: DeliveriesParams,
    now: i64,
) -> Result<DeliveriesView, StoreError> {
    let DeliveriesParams {
        repo,
        window,
        outcome,
        page,
    } = params;
    // One more than the page: whether older ones follow.
    let wanted = page.page.saturating_mul(page.per_page).saturating_add(1);
    // A minute past now: a receipt stamped by an ingest whose clock is a little ahead is shown.
    let until = now.saturating_add(60);
    let (rows, counts) = tokio::try_join!(
        stores
            .deliveries
            .newest(&repo, outcome, window.since(now), until, wanted),
        delivery_counts_at(stores, &repo, now),
    )?;
    Ok(deliveries::build(
        repo.as_str(),
        window.as_str(),
        outcome.as_str(),
        page,
        &rows,
        counts,
        now,
    ))
}

/// The count of each outcome of `repo`'s deliveries over the last 24 hours and 7 days (the
/// backend page's section, the deliveries page's header), windows on the hour as every view's.
pub async fn delivery_counts_at(
    stores: &Stores,
    repo: &RepoName,
    now: i64,
) -> Result<Vec<CountsView>, StoreError> {
    let (day, week) = (Window::Day, Window::Week);
    let (last_day, last_week) = tokio::try_join!(
        stores.deliveries.counts(repo, day.since(now)),
        stores.deliveries.counts(repo, week.since(now)),
    )?;
    Ok(vec![
        CountsView::of(day.as_str(), day.since(now), &last_day),
        CountsView::of(week.as_str(), week.since(now), &last_week),
    ])
}

/// The most alerts a view lists: open ones and those closed in the window, newest opened first.
pub const ALERTS_SHOWN: usize = 200;

/// A backend's open and recently closed alerts as served (docs/contract.md §17.6): one Query
/// of its partition of the evaluator's table, newest first.
pub async fn load_alerts(stores: &Stores, params: AlertsParams) -> Result<AlertsView, StoreError> {
    alerts_at(stores, params, clock::now()).await
}

/// [`load_alerts`] at `now` (seconds).
pub async fn alerts_at(
    stores: &Stores,
    params: AlertsParams,
    now: i64,
) -> Result<AlertsView, StoreError> {
    let closed_since = params.window.since(now).saturating_mul(1_000_000);
    let records = stores
        .alerts
        .of_backend(&params.repo, closed_since, ALERTS_SHOWN)
        .await?;
    Ok(alerts::build(
        Some(params.repo.as_str()),
        params.window.as_str(),
        &records,
        now,
    ))
}

/// Every backend's open and recently closed alerts as served: one range of the evaluator's
/// index of all alerts.
pub async fn load_all_alerts(
    stores: &Stores,
    params: AllAlertsParams,
) -> Result<AlertsView, StoreError> {
    let now = clock::now();
    let closed_since = params.window.since(now).saturating_mul(1_000_000);
    let records = stores.alerts.all(closed_since, ALERTS_SHOWN).await?;
    Ok(alerts::build(None, params.window.as_str(), &records, now))
}

pub async fn load_pr(stores: &Stores, params: PrParams) -> Result<PrView, StoreError> {
    pr_at(stores, params, clock::now()).await
}

/// [`load_pr`] at `now`: the PR's completed jobs are one range of the by-target table.
pub async fn pr_at(stores: &Stores, params: PrParams, now: i64) -> Result<PrView, StoreError> {
    let PrParams { pr, window } = params;
    let since = window.map_or(0, |w| w.since(now));
    let (completed, running) = tokio::try_join!(
        stores.completed.pr_jobs(&pr, since),
        stores.live.running_of_pr(&pr),
    )?;
    Ok(pr::build(&pr, window, now, completed, running))
}

/// One upstream PR's view with "is it mine?" on each backend's failing tests, ending now.
pub async fn load_pr_triage(stores: &Stores, params: PrTriageParams) -> Result<PrView, StoreError> {
    pr_triage_at(stores, params, clock::now()).await
}

/// [`load_pr_triage`] at `now` (docs/contract.md §12.15): the PR view of [`pr_at`], then the
/// verdicts on the tests failing in each backend's shown completed jobs, all backends judged
/// together ([`crate::pr_triage::judge_backends`]), with other PRs looked for in
/// `other_prs_window`.
pub async fn pr_triage_at(
    stores: &Stores,
    params: PrTriageParams,
    now: i64,
) -> Result<PrView, StoreError> {
    let PrTriageParams {
        view: params,
        other_prs_window,
    } = params;
    let upstream_pr = params.pr.clone();
    let mut view = pr_at(stores, params, now).await?;
    let since = other_prs_window.since(now);
    let asked: Vec<PrTriageAsked> = view
        .backends
        .iter()
        .filter_map(|backend| {
            let repo = RepoName::parse(&backend.downstream_repo).ok()?;
            let shown = backend
                .jobs
                .iter()
                .filter(|job| job.state != crate::job::JobState::Running)
                .map(|job| {
                    (
                        job.job_key.clone(),
                        job.completed_at.clone(),
                        job.tests.failed,
                    )
                })
                .collect();
            Some(PrTriageAsked {
                pr: upstream_pr.clone(),
                other_prs_window,
                repo,
                shown,
            })
        })
        .collect();
    let completed = stores.completed.clone();
    // The backends whose verdicts are not kept, judged together.
    let judge = move |asked: Vec<PrTriageAsked>| {
        let completed = completed.clone();
        async move {
            let Some(pr) = asked.first().map(|a| a.pr.clone()) else {
                return Ok(Vec::new());
            };
            let backends: Vec<Shown> = asked
                .iter()
                .map(|a| Shown {
                    repo: a.repo.clone(),
                    job_keys: a.shown.iter().map(|(key, ..)| key.clone()).collect(),
                })
                .collect();
            let mut triages =
                crate::pr_triage::judge_backends(&completed, &pr, &backends, since).await?;
            let judged_at = clock::rfc3339(clock::now());
            for triage in &mut triages {
                triage.judged_at = judged_at.clone();
            }
            Ok::<_, StoreError>(triages)
        }
    };
    let kept = stores.pr_triages.get_many(&asked, judge).await?;
    let mut by_repo: HashMap<String, BackendTriage> = asked
        .iter()
        .zip(kept)
        .filter_map(|(asked, kept)| Some((asked.repo.to_string(), kept?.value.clone())))
        .collect();
    pr_triage::attach(&mut view, other_prs_window, now, |repo| {
        by_repo.remove(repo)
    });
    Ok(view)
}

/// The PR view as it was computed before the read tables: the PR's jobs read with `FINAL` from
/// the jobs table, which is ordered by downstream repo, so the read scans it. Kept as the
/// baseline the read benchmark and the tests compare [`pr_at`] with; no route uses it.
pub async fn baseline_pr(
    stores: &Stores,
    params: PrParams,
    now: i64,
) -> Result<PrView, StoreError> {
    let PrParams { pr, window } = params;
    let since = window.map_or(0, |w| w.since(now));
    let (completed, running) = tokio::try_join!(
        stores.completed.baseline_pr_jobs(&pr, since),
        stores.live.running_of_pr(&pr),
    )?;
    Ok(pr::build(&pr, window, now, completed, running))
}
