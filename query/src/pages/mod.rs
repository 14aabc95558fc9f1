//! The HTML pages of the three views, for people: server-rendered, no JavaScript.
//!
//! - `GET /` redirects to `GET /oot`, the global summary;
//! - `GET /oot/{org}/{repo}?window=..&page=N&per_page=M`, one backend, with its readiness;
//! - `GET /oot/{org}/{repo}/tests?window=..`, one backend's failing tests;
//! - `GET /oot/{org}/{repo}/tests/history?classname=..&name=..&window=..`, one test's history;
//! - `GET /oot/{org}/{repo}/tests/diff?old=..&new=..&window=..`, one backend's release diff;
//! - `GET /oot/{org}/{repo}/trends?days=30|90`, one backend's figures per day, as charts;
//! - `GET /oot/{org}/{repo}/nightly?window=..&page=N&per_page=M`, one backend's nightly runs;
//! - `GET /oot/{org}/{repo}/deliveries?outcome=..&window=..&page=N`, one backend's delivery
//!   log (what became of each callback, each refusal with its reasons);
//! - `GET /oot/{org}/{repo}/alerts?window=..` and `GET /oot/alerts?window=..`, one backend's (or
//!   every backend's) open and recently closed alerts;
//! - `GET /pr/{number}?upstream_repo=owner/name&window=..`, one upstream PR;
//! - `GET /badge/{org}/{repo}.svg`, one backend's status badge (an image, for READMEs);
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
//! - [`nightly`], a backend's nightly runs by upstream commit; [`badge`], its status badge (an
//!   SVG image with the pages' headers, which an `<img>` embedding does not mind).
//! - [`deliveries`], a backend's delivery log, and its counts on the backend page; [`alerts`],
//!   the alerts of a backend or of all.
//! - [`trends`], a backend's figures per day and the summary's sparklines, drawn by [`charts`]
//!   (SVG in the page, no script nor inline style; every number also text).

pub mod alerts;
pub mod backend;
pub mod badge;
pub mod charts;
pub mod deliveries;
pub mod failing_tests;
pub mod format;
pub mod layout;
pub mod nightly;
pub mod pr;
pub mod release_diff;
pub mod scorecard;
pub mod security;
pub mod summary;
pub mod test_history;
pub mod trends;

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
        .route("/oot/{org}/{repo}/tests/history", get(test_history_page))
        .route("/oot/{org}/{repo}/tests/diff", get(release_diff_page))
        .route("/oot/{org}/{repo}/trends", get(trends_page))
        .route("/oot/{org}/{repo}/nightly", get(nightly_page))
        .route("/oot/{org}/{repo}/deliveries", get(deliveries_page))
        .route("/oot/{org}/{repo}/alerts", get(alerts_page))
        .route("/oot/alerts", get(all_alerts_page))
        .route("/pr/{number}", get(pr_page))
        .route("/badge/{org}/{file}", get(badge_image))
        .route("/static/oot.css", get(stylesheet))
        .with_state(stores);
    security::secured(router)
}

/// The failing tests' page: served under a limit of its own, as its JSON is
/// ([`crate::api::failing_tests_routes`]).
pub fn failing_tests_routes(stores: Arc<Stores>) -> Router {
    let router = Router::new()
        .route("/oot/{org}/{repo}/tests", get(failing_tests_page))
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
    let trends = crate::params::TrendsParams {
        repo: repo.clone(),
        days: crate::views::trends::TrendDays::DEFAULT,
    };
    let alerts = crate::params::AlertsParams {
        repo: repo.clone(),
        window: params.window,
    };
    let (view, readiness, trends, deliveries, alerts) = tokio::try_join!(
        api::load_backend(&stores, params),
        api::load_scorecard(&stores, &repo),
        api::load_trends(&stores, trends),
        api::delivery_counts_at(&stores, &repo, clock::now()),
        api::load_alerts(&stores, alerts),
    )?;
    let sections = backend::Sections {
        readiness: Some(&readiness),
        trends: Some(&trends),
        deliveries: Some(&deliveries),
        alerts: Some(&alerts),
    };
    Ok(html(backend::render(&view, &sections, clock::now())))
}

async fn deliveries_page(
    State(stores): State<Arc<Stores>>,
    params: Result<crate::params::DeliveriesParams, ApiError>,
) -> PageResult {
    let view = api::load_deliveries(&stores, params?).await?;
    Ok(html(deliveries::render(&view, clock::now())))
}

async fn alerts_page(
    State(stores): State<Arc<Stores>>,
    params: Result<crate::params::AlertsParams, ApiError>,
) -> PageResult {
    let view = api::load_alerts(&stores, params?).await?;
    Ok(html(alerts::render(&view, clock::now())))
}

async fn all_alerts_page(
    State(stores): State<Arc<Stores>>,
    params: Result<crate::params::AllAlertsParams, ApiError>,
) -> PageResult {
    let view = api::load_all_alerts(&stores, params?).await?;
    Ok(html(alerts::render(&view, clock::now())))
}

async fn trends_page(
    State(stores): State<Arc<Stores>>,
    params: Result<crate::params::TrendsParams, ApiError>,
) -> PageResult {
    let view = api::load_trends(&stores, params?).await?;
    Ok(html(trends::render(&view, clock::now())))
}

async fn failing_tests_page(
    State(stores): State<Arc<Stores>>,
    params: Result<FailingTestsParams, ApiError>,
) -> PageResult {
    let mut params = params?;
    // People read a page at a time; the JSON and the CSV give every row unless asked.
    params.page.get_or_insert(crate::params::FAILING_TESTS_PAGE);
    let view = api::load_failing_tests(&stores, &params).await?;
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

async fn nightly_page(
    State(stores): State<Arc<Stores>>,
    params: Result<BackendParams, ApiError>,
) -> PageResult {
    let view = api::load_nightly(&stores, params?).await?;
    Ok(html(nightly::render(&view, clock::now())))
}

/// A backend's badge (`/badge/{org}/{repo}.svg`, [`badge`]): its scorecard, drawn. A name that
/// is no repo is a red "invalid repo" badge answered 400, and a store that fails a grey one
/// answered 503, so a README shows what is wrong; a path not ending in `.svg` is a plain 404.
async fn badge_image(
    State(stores): State<Arc<Stores>>,
    path: Result<axum::extract::Path<(String, String)>, axum::extract::rejection::PathRejection>,
    headers: axum::http::HeaderMap,
) -> Response {
    let repo = match path {
        Ok(axum::extract::Path((org, file))) => match file.strip_suffix(".svg") {
            Some(name) => crate::params::downstream_repo(&org, name),
            None => {
                return (
                    StatusCode::NOT_FOUND,
                    "a badge is /badge/{org}/{repo}.svg\n",
                )
                    .into_response()
            }
        },
        Err(rejection) => Err(ApiError::invalid("repo", rejection.body_text())),
    };
    let repo = match repo {
        Ok(repo) => repo,
        Err(error) => {
            return badge::answer(
                StatusCode::BAD_REQUEST,
                &badge::Badge::invalid(&error.to_string()),
                None,
            )
        }
    };
    match api::load_scorecard(&stores, &repo).await {
        Ok(view) => badge::answer(
            StatusCode::OK,
            &badge::Badge::of_scorecard(&view),
            headers.get(header::IF_NONE_MATCH),
        ),
        Err(error) => {
            // As the pages: the store's own error goes to the log only.
            tracing::warn!(store = error.store, detail = %error.detail, "a store failed a badge's query");
            badge::answer(
                StatusCode::SERVICE_UNAVAILABLE,
                &badge::Badge::unavailable(error.store),
                None,
            )
        }
    }
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
