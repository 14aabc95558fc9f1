//! Every answer of the callback endpoint: one variant per outcome a caller acts on, each with
//! its status code and a JSON body that names the problem (documented in `openapi.yaml`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;

use crate::callback::ValidationError;

/// 202: the event is in the log.
#[derive(Debug, Serialize)]
pub struct Accepted {
    pub event_id: String,
    pub job_key: String,
    /// What validation cut to the documented limits (empty when nothing was cut).
    pub truncated: Vec<String>,
}

impl IntoResponse for Accepted {
    fn into_response(self) -> Response {
        (StatusCode::ACCEPTED, Json(self)).into_response()
    }
}

/// Why a callback was not accepted. Nothing is stored in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("missing or invalid {header} header")]
    Unauthorized { header: &'static str },
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body could not be read: {0}")]
    UnreadableBody(String),
    #[error(
        "the request body did not arrive within {timeout_ms} ms (a sender this slow would hold \
         the bytes other callbacks are waiting for); send it again faster"
    )]
    BodyReadTimeout { timeout_ms: u64 },
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("rate limit of {limit} callbacks per {window_secs} s exceeded for {repo}")]
    RateLimited {
        repo: String,
        limit: u32,
        window_secs: u64,
        retry_after_secs: u64,
    },
    #[error("the event log cannot take the event now")]
    LogUnavailable { retry_after_secs: u64 },
    #[error("the event could not be encoded")]
    Internal,
}

impl Refusal {
    /// Every [`Refusal::reason`], for the metrics to show each from the start.
    pub const REASONS: [&'static str; 9] = [
        "unauthorized",
        "unsupported_media_type",
        "too_large",
        "unreadable_body",
        "body_read_timeout",
        "invalid",
        "rate_limited",
        "log_unavailable",
        "internal",
    ];

    /// The refusal's kind, from a fixed set (a metric label: never the message, which holds
    /// the sender's text).
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Unauthorized { .. } => "unauthorized",
            Refusal::UnsupportedMediaType => "unsupported_media_type",
            Refusal::TooLarge { .. } => "too_large",
            Refusal::UnreadableBody(_) => "unreadable_body",
            Refusal::BodyReadTimeout { .. } => "body_read_timeout",
            Refusal::Invalid(_) => "invalid",
            Refusal::RateLimited { .. } => "rate_limited",
            Refusal::LogUnavailable { .. } => "log_unavailable",
            Refusal::Internal => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Refusal::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::UnreadableBody(_) | Refusal::Invalid(_) => StatusCode::BAD_REQUEST,
            Refusal::BodyReadTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Refusal::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::LogUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Refusal::RateLimited {
                retry_after_secs, ..
            }
            | Refusal::LogUnavailable { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    fn body(&self) -> serde_json::Value {
        let message = self.to_string();
        match self {
            Refusal::Unauthorized { header } => {
                json!({"error": "unauthorized", "message": message, "header": header})
            }
            Refusal::UnsupportedMediaType => {
                json!({"error": "unsupported_media_type", "message": message})
            }
            Refusal::TooLarge { limit } => {
                json!({"error": "payload_too_large", "message": message, "limit_bytes": limit})
            }
            Refusal::UnreadableBody(_) => json!({"error": "unreadable_body", "message": message}),
            Refusal::BodyReadTimeout { timeout_ms } => {
                json!({"error": "body_read_timeout", "message": message, "timeout_ms": timeout_ms})
            }
            Refusal::Invalid(error) => error.to_json(),
            Refusal::RateLimited {
                repo,
                limit,
                window_secs,
                retry_after_secs,
            } => json!({
                "error": "rate_limited", "message": message, "verified_repo": repo,
                "limit": limit, "window_seconds": window_secs, "retry_after_seconds": retry_after_secs,
            }),
            Refusal::LogUnavailable { retry_after_secs } => {
                json!({"error": "log_unavailable", "message": message, "retry_after_seconds": retry_after_secs})
            }
            Refusal::Internal => json!({"error": "internal", "message": message}),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if matches!(
            self,
            Refusal::BodyReadTimeout { .. } | Refusal::TooLarge { .. }
        ) {
            // The rest of the body may still be on its way, unread: this connection cannot carry
            // another request. Said in the answer, the client does not put it back in its pool
            // to send the next callback on it.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
