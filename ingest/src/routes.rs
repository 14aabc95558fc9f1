//! The HTTP surface of ingest: `POST /api/oot/results` and the OpenAPI description of it.
//!
//! Checks run cheapest first, and each stops the request before the next costs anything: the
//! token (a header), the content type, the size (the declared length, then the bytes as they
//! stream in: a body over the limit is refused before it is buffered whole) and the time the
//! body takes to arrive (a slow sender is cut off with 408), validation, the rate limit of the
//! verified repo, and only then the log.
//!
//! Every refusal of an authenticated request also leaves a delivery receipt
//! ([`crate::receipts`]) when the document names its repo: produced after the answer is decided,
//! without waiting for the broker, so it never delays nor changes the answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::routing::{get, post};
use axum::Router;

use crate::auth::{IngestTokens, TOKEN_HEADER};
use crate::body_budget::BodyBudget;
use crate::callback::{validate_callback_identified, Identity, Limits};
use crate::clock::Clock;
use crate::event::build_event;
use crate::metrics::IngestMetrics;
use crate::publish::{EventPublisher, PublishError};
use crate::rate_limit::{retry_after_seconds, Decision, SlidingWindowLimiter};
use crate::receipts::{excerpt, Attempt, ReceiptPublisher, EXCERPT_BYTES};
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
    /// Longest time to receive a body once its bytes are counted in `body_budget`.
    pub body_read_timeout: Duration,
    pub limiter: SlidingWindowLimiter,
    pub rate_limit: u32,
    pub rate_window: Duration,
    pub publisher: EventPublisher,
    /// The delivery receipts of refused callbacks (fire and forget).
    pub receipts: ReceiptPublisher,
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
    let mut attempt = Attempt::default();
    let outcome = accept_result(&state, &headers, body, &mut attempt).await;
    let span = tracing::Span::current();
    match &outcome {
        Ok(_) => span.record("status", 202),
        Err(refusal) => {
            state.metrics.refused(refusal);
            tracing::info!(reason = %refusal, "callback refused");
            state.receipts.record(refusal, &attempt);
            span.record("status", refusal.status().as_u16())
        }
    };
    outcome
}

/// The answer to one request; `attempt` is filled in as its checks pass (when it came, whom
/// from, the body's size and start), for the receipt of a refusal.
async fn accept_result(
    state: &IngestState,
    headers: &HeaderMap,
    body: Body,
    attempt: &mut Attempt,
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
    attempt.received_at = Some(received_at);
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
    // The permit is held while the body arrives, so a sender trickling its bytes would hold it
    // for as long as it likes (and every callback waiting for the budget with it): the whole
    // body must arrive within the timeout. Leaving here drops the permit.
    let body = tokio::time::timeout(
        state.body_read_timeout,
        read_body_within(headers, body, state.max_body_bytes),
    )
    .await
    .map_err(|_| Refusal::BodyReadTimeout {
        timeout_ms: u64::try_from(state.body_read_timeout.as_millis()).unwrap_or(u64::MAX),
    })??;
    attempt.body_bytes = Some(body.len());
    let callback = match validate_callback_identified(&body, &state.limits, received_at) {
        Ok(callback) => callback,
        Err(refused) => {
            attempt.identity = refused.identity;
            attempt.excerpt = Some(excerpt(&body, EXCERPT_BYTES));
            return Err(Refusal::Invalid(refused.error));
        }
    };
    // Three short strings: what a later refusal (429, 503) is attributed by.
    attempt.identity = Identity {
        verified_repo: Some(callback.verified_repo().clone()),
        delivery_id: Some(callback.delivery_id().clone()),
        job_key: Some(callback.job_key().clone()),
    };

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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use axum::response::IntoResponse as _;
    use clap::Parser as _;
    use http_body_util::{BodyExt as _, Full};

    const TOKEN: &str = "a-test-token-of-enough-length";

    /// The endpoint's state with a body budget of `budget` bytes and a body read timeout of
    /// `timeout_ms`; no broker is reached (nothing here gets as far as the log).
    fn state(budget: usize, timeout_ms: u64) -> Arc<IngestState> {
        let config = crate::config::IngestConfig::parse_from([
            "oot-ingest",
            "--tokens",
            TOKEN,
            "--kafka-brokers",
            "127.0.0.1:9",
            "--max-body-bytes-in-flight",
            &budget.to_string(),
            "--body-read-timeout-ms",
            &timeout_ms.to_string(),
        ]);
        let state = crate::app::ingest_state(&config, Clock::system());
        Arc::new(state.unwrap_or_else(|e| panic!("state: {e:#}")))
    }

    fn headers(declared_length: usize) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TOKEN_HEADER, HeaderValue::from_static(TOKEN));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(declared_length));
        headers
    }

    /// A sender that sends the start of its body, then nothing more (the connection stays open).
    fn stalled_body() -> Body {
        Body::new(
            Full::new(axum::body::Bytes::from_static(b"{\"trusted\": "))
                .with_trailers(std::future::pending()),
        )
    }

    #[tokio::test]
    async fn a_body_that_does_not_arrive_in_time_is_refused_408_and_gives_its_budget_back() {
        let budget = 1024 * 1024;
        let declared = 600 * 1024;
        let state = state(budget, 300);
        let started = Instant::now();
        let slow = tokio::spawn({
            let state = state.clone();
            async move {
                let mut attempt = Attempt::default();
                accept_result(&state, &headers(declared), stalled_body(), &mut attempt).await
            }
        });
        // While its bytes trickle in, the sender holds its share of the budget...
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(state.body_budget.available(), budget - declared);

        // ...until the timeout cuts it off.
        let refusal = match tokio::time::timeout(Duration::from_secs(10), slow).await {
            Ok(Ok(Err(refusal))) => refusal,
            Ok(Ok(Ok(accepted))) => panic!("a body that never ended was accepted: {accepted:?}"),
            Ok(Err(error)) => panic!("task: {error}"),
            Err(_) => panic!("the slow sender still holds the budget after 10 s"),
        };
        let took = started.elapsed();
        assert!(
            matches!(refusal, Refusal::BodyReadTimeout { timeout_ms: 300 }),
            "{refusal:?}"
        );
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(5),
            "{took:?}"
        );
        assert_eq!(
            state.body_budget.available(),
            budget,
            "the budget was not given back"
        );
        assert_eq!(refusal.reason(), "body_read_timeout");

        let response = refusal.into_response();
        assert_eq!(response.status().as_u16(), 408);
        assert_eq!(response.headers()[header::CONNECTION], "close");
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(answer["error"], "body_read_timeout");
        assert_eq!(answer["timeout_ms"], 300);
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("did not arrive within 300 ms"),
            "{message}"
        );
    }

    /// The receipt of a refusal goes into the producer's queue and the answer is sent: with no
    /// broker at all (nothing listens on port 9), the 400 comes at once, and the receipt waits
    /// (counted neither produced nor failed until librdkafka gives up on it).
    #[tokio::test]
    async fn a_refusals_receipt_never_delays_its_answer() {
        let state = state(1024 * 1024, 30_000);
        let mut doc: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/completed.json"
        )))
        .unwrap_or_default();
        doc["untrusted"]["callback_payload"]["workflow"]["run_attempt"] = "0".into();
        let body = serde_json::to_vec(&doc).unwrap_or_default();
        for _ in 0..20 {
            let started = Instant::now();
            let answer = post_result(
                State(state.clone()),
                headers(body.len()),
                Body::from(body.clone()),
            )
            .await;
            assert!(
                matches!(answer, Err(Refusal::Invalid(_))),
                "{:?}",
                answer.map(|a| a.event_id)
            );
            assert!(
                started.elapsed() < Duration::from_millis(500),
                "{:?}",
                started.elapsed()
            );
        }
        let metrics = state.metrics.render();
        for result in ["unattributed", "over_budget", "queue_full", "produced"] {
            let zero = format!("oot_ingest_receipts_total{{result=\"{result}\"}} 0\n");
            assert!(metrics.contains(&zero), "{result}: {metrics}");
        }
    }

    #[tokio::test]
    async fn a_body_that_arrives_in_time_is_judged_on_its_content() {
        let state = state(1024 * 1024, 300);
        let body = Body::from("[]");
        let mut attempt = Attempt::default();
        let outcome = accept_result(&state, &headers(2), body, &mut attempt).await;
        assert!(
            matches!(outcome, Err(Refusal::Invalid(_))),
            "{:?}",
            outcome.map(|a| a.event_id)
        );
        assert_eq!(state.body_budget.available(), 1024 * 1024);
    }
}
