//! The HTTP surface of ingest: `POST /api/oot/results` and the OpenAPI description of it.
//!
//! Checks run cheapest first, and each stops the request before the next costs anything: the
//! token (a header), the content type, the size (the declared length, then the bytes as they
//! stream in: a body over the limit is refused before it is buffered whole), validation, the
//! rate limit of the verified repo, and only then the log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::routing::{get, post};
use axum::Router;

use crate::auth::{IngestTokens, TOKEN_HEADER};
use crate::body_budget::BodyBudget;
use crate::callback::{validate_callback_at, Limits};
use crate::clock::Clock;
use crate::event::build_event;
use crate::metrics::IngestMetrics;
use crate::publish::{EventPublisher, PublishError};
use crate::rate_limit::{retry_after_seconds, Decision, SlidingWindowLimiter};
use crate::response::{Accepted, Refusal};

/// The OpenAPI description of this service, kept in the repo beside the crate.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");

/// What the endpoint needs, shared by every request.
pub struct IngestState {
    pub tokens: IngestTokens,
    pub limits: Limits,
    pub max_body_bytes: usize,
    /// The bytes of bodies read, parsed and validated at once.
    pub body_budget: BodyBudget,
    pub limiter: SlidingWindowLimiter,
    pub rate_limit: u32,
    pub rate_window: Duration,
    pub publisher: EventPublisher,
    /// `Retry-After` of a 503: about how long a broker outage is worth waiting out.
    pub unavailable_retry_after: Duration,
    /// What `received_at` is read from: the system clock outside tests.
    pub clock: Clock,
    /// Refusals by reason, the producer's queue and the HTTP metrics, served at `/metrics`.
    pub metrics: IngestMetrics,
}

pub fn routes(state: Arc<IngestState>) -> Router {
    Router::new()
        .route("/api/oot/results", post(post_result))
        .route("/api/oot/openapi.yaml", get(openapi))
        .with_state(state)
}

async fn openapi() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

async fn read_body_within(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, Refusal> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(Refusal::TooLarge { limit });
    }
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let too_large = std::error::Error::source(&error)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if too_large {
            Refusal::TooLarge { limit }
        } else {
            Refusal::UnreadableBody(error.to_string())
        }
    })
}

#[tracing::instrument(
    name = "post_result",
    skip_all,
    fields(job_key, verified_repo, event_id, status)
)]
async fn post_result(
    State(state): State<Arc<IngestState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Accepted, Refusal> {
    let outcome = accept_result(&state, &headers, body).await;
    let span = tracing::Span::current();
    match &outcome {
        Ok(_) => span.record("status", 202),
        Err(refusal) => {
            state.metrics.refused(refusal);
            tracing::info!(reason = %refusal, "callback refused");
            span.record("status", refusal.status().as_u16())
        }
    };
    outcome
}

async fn accept_result(
    state: &IngestState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, Refusal> {
    let presented = headers
        .get(TOKEN_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !state.tokens.accepts(presented) {
        return Err(Refusal::Unauthorized {
            header: TOKEN_HEADER,
        });
    }
    if !is_json(headers) {
        return Err(Refusal::UnsupportedMediaType);
    }
    let received_at = state.clock.now();
    // Held from before the body is read until the event is built (the parsed tree is the big
    // part); weighed by the declared length, else by the most a body may be.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let body_permit = state
        .body_budget
        .acquire(
            declared
                .unwrap_or(state.max_body_bytes)
                .min(state.max_body_bytes),
        )
        .await;
    let body = read_body_within(headers, body, state.max_body_bytes).await?;
    let callback =
        validate_callback_at(&body, &state.limits, received_at).map_err(Refusal::Invalid)?;

    let span = tracing::Span::current();
    span.record("job_key", callback.job_key().as_str());
    span.record("verified_repo", callback.verified_repo().as_str());

    let repo = callback.verified_repo().as_str();
    let admitted_at = Instant::now();
    if let Decision::Reject { retry_after } = state.limiter.check(repo, admitted_at) {
        return Err(Refusal::RateLimited {
            repo: repo.to_owned(),
            limit: state.rate_limit,
            window_secs: state.rate_window.as_secs(),
            retry_after_secs: retry_after_seconds(retry_after),
        });
    }

    let event_id = uuid::Uuid::now_v7();
    span.record("event_id", tracing::field::display(event_id));
    let event = build_event(&callback, event_id, received_at, &body);
    // The event holds what the log needs; the tree and the body go before the broker's wait.
    drop(callback);
    drop(body);
    drop(body_permit);
    let outcome = state.publisher.publish(&event).await;
    if outcome.is_err() {
        // Nothing was logged: the slot goes back, so a relay retrying through a broker outage
        // is not rate-limited once the broker is back.
        state.limiter.release(&event.verified_repo, admitted_at);
    }
    match outcome {
        Ok(_) => Ok(Accepted {
            event_id: event.event_id,
            job_key: event.job_key,
            truncated: event.truncations,
        }),
        Err(PublishError::Unavailable(error)) => {
            tracing::warn!(%error, "event log unavailable");
            Err(Refusal::LogUnavailable {
                retry_after_secs: retry_after_seconds(state.unavailable_retry_after),
            })
        }
        Err(PublishError::Encode(error)) => {
            tracing::error!(%error, "event could not be encoded");
            Err(Refusal::Internal)
        }
    }
}
