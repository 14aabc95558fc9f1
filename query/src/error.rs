//! The views' error answers, each a JSON body naming what to fix:
//! `{"error":"invalid_parameter","parameter":"window","message":"..."}` (400) or
//! `{"error":"store_unavailable","store":"clickhouse","message":"..."}` (503, with
//! `Retry-After`). A store's own error text goes to the log, not to the caller.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::stores::StoreError;

/// How long a caller should wait before asking again after a 503.
pub const RETRY_AFTER_SECS: u64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A path or query parameter that cannot be served.
    #[error("{parameter}: {message}")]
    InvalidParameter {
        parameter: &'static str,
        message: String,
    },
    /// A store did not answer, or answered with an error.
    #[error("{store} unavailable: {detail}")]
    StoreUnavailable { store: &'static str, detail: String },
}

impl ApiError {
    pub fn invalid(parameter: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::InvalidParameter {
            parameter,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::StoreUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::StoreUnavailable {
            store: error.store,
            detail: error.detail,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            ApiError::InvalidParameter { parameter, message } => (
                status,
                Json(json!({
                    "error": "invalid_parameter",
                    "parameter": parameter,
                    "message": message,
                })),
            )
                .into_response(),
            ApiError::StoreUnavailable { store, detail } => {
                tracing::warn!(store, %detail, "a store failed a view's query");
                let mut response = (
                    status,
                    Json(json!({
                        "error": "store_unavailable",
                        "store": store,
                        "message": format!("{store} did not answer; try again shortly"),
                        "retry_after_seconds": RETRY_AFTER_SECS,
                    })),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
                response
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_error_is_a_503_naming_the_store() {
        let error = ApiError::from(StoreError {
            store: "dynamodb",
            detail: "connection refused".to_owned(),
        });
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(matches!(
            error,
            ApiError::StoreUnavailable {
                store: "dynamodb",
                ..
            }
        ));
    }
}
