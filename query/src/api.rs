//! The JSON endpoints of the three views:
//!
//! - `GET /api/oot/summary?window=24h|7d|30d`
//! - `GET /api/oot/{org}/{repo}?window=..&page=N&per_page=M`
//! - `GET /api/oot/pr/{number}?upstream_repo=owner/name&window=..`
//!
//! Each handler checks its parameters (400 naming the one that is wrong), reads both stores at
//! once (503 naming a store that fails), and hands the rows to its view's builder. A GitHub org
//! named `pr` has no per-backend endpoint: `/api/oot/pr/...` is the PR view, as in the contract.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};

use crate::clock;
use crate::error::ApiError;
use crate::params::{self, QueryParams};
use crate::stores::completed::CompletedJobs;
use crate::stores::live::LiveJobs;
use crate::views::backend::{self, BackendView};
use crate::views::pr::{self, PrView};
use crate::views::summary::{self, Summary};

/// The stores every view reads.
pub struct Stores {
    pub completed: CompletedJobs,
    pub live: LiveJobs,
}

pub fn routes(stores: Arc<Stores>) -> Router {
    Router::new()
        .route("/api/oot/summary", get(summary_view))
        .route("/api/oot/pr/{number}", get(pr_view))
        .route("/api/oot/{org}/{repo}", get(backend_view))
        .with_state(stores)
}

async fn summary_view(
    State(stores): State<Arc<Stores>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Summary>, ApiError> {
    Ok(Json(load_summary(&stores, query.as_deref()).await?))
}

async fn backend_view(
    State(stores): State<Arc<Stores>>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<BackendView>, ApiError> {
    Ok(Json(load_backend(&stores, path, query.as_deref()).await?))
}

async fn pr_view(
    State(stores): State<Arc<Stores>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<PrView>, ApiError> {
    Ok(Json(load_pr(&stores, path, query.as_deref()).await?))
}

// The loaders below are the whole of each view but its encoding: the JSON endpoints above and
// the pages ([`crate::pages`]) both call them, so a page can never show other rules than the API.

/// The summary for a request's query string.
pub async fn load_summary(stores: &Stores, query: Option<&str>) -> Result<Summary, ApiError> {
    let params = QueryParams::parse(query);
    let window = params::window(&params)?;
    let now = clock::now();
    let (jobs, last_results) = tokio::try_join!(
        stores.completed.summary_jobs(window.since(now)),
        stores.completed.repo_last_results(),
    )?;
    Ok(summary::build(window, now, jobs, last_results))
}

/// The per-backend view for a request's `{org}/{repo}` path and query string.
pub async fn load_backend(
    stores: &Stores,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Option<&str>,
) -> Result<BackendView, ApiError> {
    let Path((org, repo)) = path.map_err(|e| ApiError::invalid("repo", e.body_text()))?;
    let repo = params::downstream_repo(&org, &repo)?;
    let params = QueryParams::parse(query);
    let window = params::window(&params)?;
    let page = params::page(&params)?;
    let now = clock::now();
    let (completed, running) = tokio::try_join!(
        stores.completed.repo_jobs(&repo, window.since(now)),
        stores.live.running_of_repo(&repo),
    )?;
    let mut view = backend::build(&repo, window, now, completed, running, page);
    let failed_tests = stores
        .completed
        .failed_tests(&repo, &view.failed_job_keys())
        .await?;
    view.attach_failed_tests(&failed_tests);
    Ok(view)
}

/// The PR view for a request's `{number}` path and query string.
pub async fn load_pr(
    stores: &Stores,
    path: Result<Path<String>, PathRejection>,
    query: Option<&str>,
) -> Result<PrView, ApiError> {
    let Path(number) = path.map_err(|e| ApiError::invalid("number", e.body_text()))?;
    let pr_number = params::pr_number(&number)?;
    let params = QueryParams::parse(query);
    let upstream_repo = params::upstream_repo(&params)?;
    let window = params::optional_window(&params)?;
    let now = clock::now();
    let since = window.map_or(0, |w| w.since(now));
    let (completed, running) = tokio::try_join!(
        stores.completed.pr_jobs(&upstream_repo, pr_number, since),
        stores.live.running_of_pr(&upstream_repo, pr_number),
    )?;
    Ok(pr::build(
        &upstream_repo,
        pr_number,
        window,
        now,
        completed,
        running,
    ))
}
