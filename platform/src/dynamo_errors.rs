//! Which DynamoDB errors are about the request's data, and so will fail the same way however
//! often the request is sent, and which are outages to wait out. Every writer of the service
//! (the projector's job table, the alert evaluator's state) classifies its errors here, so a
//! refusal of one item is set aside visibly instead of retried forever.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Service error codes about the request's data (a number out of range, an item over 400 KB, a
/// key too long, an item collection over 10 GB). Throttling
/// (`ProvisionedThroughputExceededException`, `ThrottlingException`, `RequestLimitExceeded`),
/// `InternalServerError`, `TransactionInProgressException` and every other code are transient,
/// as are the errors that would refuse every request alike (a missing table, credentials).
const REFUSAL_CODES: &[&str] = &[
    "ValidationException",
    "ItemCollectionSizeLimitExceededException",
];

/// Whether a service error `code` (maybe with a `namespace#` prefix) and HTTP `status` are a
/// refusal of the data rather than an outage.
pub fn is_refusal(code: &str, status: Option<u16>) -> bool {
    let code = code.rsplit('#').next().unwrap_or(code);
    REFUSAL_CODES.contains(&code) && status.is_none_or(|s| s < 500)
}

/// A DynamoDB error, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DynamoFailure {
    /// The request's data was refused for good ([`is_refusal`]): its code and the whole message.
    Refused { code: String, message: String },
    /// Anything else, worth waiting out: the whole message.
    Unavailable(String),
}

/// Classifies `error` (see [`is_refusal`]).
pub fn classify<E>(error: &SdkError<E>) -> DynamoFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = error
        .as_service_error()
        .and_then(|e| e.code())
        .map(str::to_owned);
    let status = error.raw_response().map(|r| r.status().as_u16());
    let message = DisplayErrorContext(error).to_string();
    match code {
        Some(code) if is_refusal(&code, status) => DynamoFailure::Refused { code, message },
        _ => DynamoFailure::Unavailable(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_of_the_data_are_permanent() {
        assert!(is_refusal("ValidationException", Some(400)));
        assert!(is_refusal(
            "com.amazonaws.dynamodb.v20120810#ValidationException",
            Some(400)
        ));
        assert!(is_refusal("ItemCollectionSizeLimitExceededException", None));
        for transient in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "InternalServerError",
            "ResourceNotFoundException",
            "UnrecognizedClientException",
        ] {
            assert!(!is_refusal(transient, Some(400)), "{transient}");
        }
        assert!(
            !is_refusal("ValidationException", Some(503)),
            "a 5xx is an outage"
        );
    }
}
