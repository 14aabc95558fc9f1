//! The HTTP edge of the views: each view's parameters taken from a request's path and query
//! string, as an axum extractor whose rejection is the 400 naming the parameter. The JSON
//! endpoints and the pages both extract through here; the loaders behind them only ever see
//! parsed parameters.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::params::{
    BackendParams, FailingTestsParams, PrParams, PrTriageParams, ReleaseDiffParams, SummaryParams,
    TestHistoryParams,
};

fn query(parts: &Parts) -> Option<&str> {
    parts.uri.query()
}

impl<S: Send + Sync> FromRequestParts<S> for SummaryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        SummaryParams::parse(query(parts))
    }
}

/// The `{org}` and `{repo}` of a backend's path. A path axum cannot decode (e.g. not UTF-8) is
/// a bad repo, like any other bad repo.
async fn org_and_repo<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<(String, String), ApiError> {
    let Path(org_and_repo) = Path::<(String, String)>::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::invalid("repo", e.body_text()))?;
    Ok(org_and_repo)
}

/// A backend named by its path alone (`/…/{org}/{repo}/…`), for views that take no other
/// parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoPath(pub oot_contract::RepoName);

impl<S: Send + Sync> FromRequestParts<S> for RepoPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (org, repo) = org_and_repo(parts, state).await?;
        crate::params::downstream_repo(&org, &repo).map(RepoPath)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BackendParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (org, repo) = org_and_repo(parts, state).await?;
        BackendParams::parse(&org, &repo, query(parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FailingTestsParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (org, repo) = org_and_repo(parts, state).await?;
        FailingTestsParams::parse(&org, &repo, query(parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for crate::params::AlertsParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (org, repo) = org_and_repo(parts, state).await?;
        crate::params::AlertsParams::parse(&org, &repo, query(parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TestHistoryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (org, repo) = org_and_repo(parts, state).await?;
        TestHistoryParams::parse(&org, &repo, query(parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ReleaseDiffParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (org, repo) = org_and_repo(parts, state).await?;
        ReleaseDiffParams::parse(&org, &repo, query(parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for crate::params::TrendsParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (org, repo) = org_and_repo(parts, state).await?;
        crate::params::TrendsParams::parse(&org, &repo, query(parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for crate::params::AllAlertsParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        crate::params::AllAlertsParams::parse(query(parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for crate::params::DeliveriesParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (org, repo) = org_and_repo(parts, state).await?;
        crate::params::DeliveriesParams::parse(&org, &repo, query(parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PrTriageParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(number) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid("number", e.body_text()))?;
        PrTriageParams::parse(&number, query(parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PrParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(number) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid("number", e.body_text()))?;
        PrParams::parse(&number, query(parts))
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    async fn status_of(uri: &str) -> (StatusCode, String) {
        let router = Router::new()
            .route(
                "/s",
                get(|p: SummaryParams| async move { p.window.as_str() }),
            )
            .route(
                "/b/{org}/{repo}",
                get(|p: BackendParams| async move { p.repo.to_string() }),
            )
            .route("/p/{number}", get(|p: PrParams| async move { p.pr.key() }))
            .route(
                "/t/{org}/{repo}/tests",
                get(|p: FailingTestsParams| async move { p.window.as_str() }),
            )
            .route(
                "/h/{org}/{repo}/tests/history",
                get(|p: TestHistoryParams| async move { p.test.name }),
            )
            .route(
                "/d/{org}/{repo}/tests/diff",
                get(|p: ReleaseDiffParams| async move { p.window.as_str() }),
            );
        let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.into_response();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn parameters_are_parsed_at_the_edge() {
        assert_eq!(
            status_of("/s?window=24h").await,
            (StatusCode::OK, "24h".into())
        );
        assert_eq!(
            status_of("/b/intel/torch-xpu-ops").await,
            (StatusCode::OK, "intel/torch-xpu-ops".into())
        );
        assert_eq!(
            status_of("/t/intel/torch-xpu-ops/tests?window=30d").await,
            (StatusCode::OK, "30d".into())
        );
        assert_eq!(
            status_of("/h/a/b/tests/history?classname=&name=x%3A%3Ay%20%2F%20z").await,
            (StatusCode::OK, "x::y / z".into())
        );
        assert_eq!(
            status_of("/d/a/b/tests/diff?old=abcdef0").await,
            (StatusCode::OK, "30d".into())
        );
        assert_eq!(
            status_of("/p/5?upstream_repo=pytorch/audio").await,
            (StatusCode::OK, "pytorch/audio#5".into())
        );
        for (uri, parameter) in [
            ("/s?window=1y", "window"),
            ("/b/intel%2Fx/y", "repo"),
            ("/b/intel/%FF", "repo"),
            ("/p/abc", "number"),
            ("/t/intel/%FF/tests", "repo"),
            ("/t/intel/x/tests?window=1y", "window"),
            ("/h/intel/x/tests/history?name=t", "classname"),
            ("/h/intel/x/tests/history?classname=C", "name"),
            ("/h/-x/y/tests/history?classname=C&name=t", "repo"),
            ("/d/-x/y/tests/diff", "repo"),
            ("/d/a/b/tests/diff?new=nothex!", "new"),
            ("/d/a/b/tests/diff?old_from=2026-04-01", "old_until"),
        ] {
            let (status, body) = status_of(uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert!(
                body.contains(&format!("\"parameter\":\"{parameter}\"")),
                "{uri}: {body}"
            );
        }
    }
}
