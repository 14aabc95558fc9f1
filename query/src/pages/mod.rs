//! The HTML pages of the three views, for people: server-rendered, no JavaScript.
//!
//! - `GET /` redirects to `GET /oot`, the global summary;
//! - `GET /oot/{org}/{repo}?window=..&page=N&per_page=M`, one backend, with its readiness;
//! - `GET /oot/{org}/{repo}/tests?window=..`, one backend's failing tests;
//! - `GET /oot/{org}/{repo}/tests/history?classname=..&name=..&window=..`, one test's history;
//! - `GET /oot/{org}/{repo}/tests/diff?old=..&new=..&window=..`, one backend's release diff;
//! - `GET /pr/{number}?upstream_repo=owner/name&window=..`, one upstream PR;
//! - `GET /static/oot.css`, the one stylesheet.
//!
//! Each page is built from the same view model as its JSON endpoint, loaded by the same
//! function ([`crate::api::load_summary`] etc.), so the two cannot disagree. Templates are
//! `maud` markup: every interpolated value is HTML-escaped, and no page marks downstream text
//! as pre-escaped. Links to downstream URLs are `https` only ([`format::external_link`]).
//!
//! - [`format`]: one value shown (state, rate, time, link); [`layout`]: the shared frame;
//! - [`summary`], [`backend`], [`pr`]: the three pages, and [`failing_tests`], a backend's
//!   failing tests, [`test_history`], one test's, and [`release_diff`], two sets of nightlies
//!   compared; [`scorecard`], the readiness section and verdicts; [`security`]: their response
//!   headers.

pub mod backend;
pub mod failing_tests;
pub mod format;
pub mod layout;
pub mod pr;
pub mod release_diff;
pub mod scorecard;
pub mod security;
pub mod summary;
pub mod test_history;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::Markup;

use crate::api::{self, Stores};
use crate::clock;
use crate::error::{ApiError, RETRY_AFTER_SECS};
use crate::params::{
    BackendParams, FailingTestsParams, PrTriageParams, ReleaseDiffParams, SummaryParams,
    TestHistoryParams,
};
use crate::stores::StoreError;

/// The stylesheet, compiled in so the service is one file to deploy.
const STYLESHEET: &str = include_str!("../../static/oot.css");

pub fn routes(stores: Arc<Stores>) -> Router {
    let router = Router::new()
        .route("/", get(|| async { Redirect::to("/oot") }))
        .route("/oot", get(summary_page))
        .route("/oot/{org}/{repo}", get(backend_page))
        .route("/oot/{org}/{repo}/tests", get(failing_tests_page))
        .route("/oot/{org}/{repo}/tests/history", get(test_history_page))
        .route("/oot/{org}/{repo}/tests/diff", get(release_diff_page))
        .route("/pr/{number}", get(pr_page))
        .route("/static/oot.css", get(stylesheet))
        .with_state(stores);
    security::secured(router)
}

/// A page's answer: the page, or an error page with the status the JSON endpoint would give.
type PageResult = Result<Html<String>, PageError>;

fn html(markup: Markup) -> Html<String> {
    Html(markup.into_string())
}

// Parameters are extracted as `Result`s so that a bad one is answered with an error page, not
// with the JSON rejection of the extractor (see [`crate::extract`]).

async fn summary_page(
    State(stores): State<Arc<Stores>>,
    params: Result<SummaryParams, ApiError>,
) -> PageResult {
    let view = api::load_summary(&stores, params?).await?;
    Ok(html(summary::render(&view, clock::now())))
}

async fn backend_page(
    State(stores): State<Arc<Stores>>,
    params: Result<BackendParams, ApiError>,
) -> PageResult {
    let params = params?;
    let repo = params.repo.clone();
    let (view, readiness) = tokio::try_join!(
        api::load_backend(&stores, params),
        api::load_scorecard(&stores, &repo)
    )?;
    Ok(html(backend::render(&view, Some(&readiness), clock::now())))
}

async fn failing_tests_page(
    State(stores): State<Arc<Stores>>,
    params: Result<FailingTestsParams, ApiError>,
) -> PageResult {
    let view = api::load_failing_tests(&stores, params?).await?;
    Ok(html(failing_tests::render(&view, clock::now())))
}

async fn test_history_page(
    State(stores): State<Arc<Stores>>,
    params: Result<TestHistoryParams, ApiError>,
) -> PageResult {
    let view = api::load_test_history(&stores, params?).await?;
    Ok(html(test_history::render(&view, clock::now())))
}

async fn release_diff_page(
    State(stores): State<Arc<Stores>>,
    params: Result<ReleaseDiffParams, ApiError>,
) -> PageResult {
    let view = api::load_release_diff(&stores, params?).await?;
    Ok(html(release_diff::render(&view, clock::now())))
}

async fn pr_page(
    State(stores): State<Arc<Stores>>,
    params: Result<PrTriageParams, ApiError>,
) -> PageResult {
    let view = api::load_pr_triage(&stores, params?).await?;
    Ok(html(pr::render(&view, clock::now())))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        STYLESHEET,
    )
}

/// An [`ApiError`] answered as a page.
pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        PageError(error)
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        PageError(error.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let now = clock::now();
        let (heading, message) = match &self.0 {
            ApiError::InvalidParameter { parameter, message } => (
                "Bad request".to_owned(),
                format!("Parameter {parameter}: {message}"),
            ),
            ApiError::StoreUnavailable { store, detail } => {
                // As the JSON answer: the store's own error goes to the log only.
                tracing::warn!(store, %detail, "a store failed a page's query");
                (
                    "Temporarily unavailable".to_owned(),
                    format!("{store} did not answer; try again in {RETRY_AFTER_SECS} seconds."),
                )
            }
        };
        let page = layout::error_page(status.as_u16(), &heading, &message, now);
        let mut response = (status, html(page)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}
