//! Waiting out a store outage: a call is retried with backoff until it succeeds, fails for good,
//! or the projector stops. Skipping instead would let the batch's offsets be committed with
//! effects missing, so an outage only ever delays the projection.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::job_table::JobTableError;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Whether an error may go away by itself, so the call is worth repeating.
pub trait Transient {
    fn is_transient(&self) -> bool;
}

impl Transient for JobTableError {
    fn is_transient(&self) -> bool {
        matches!(self, JobTableError::Unavailable(_))
    }
}

/// ClickHouse answers every failure of a valid INSERT or SELECT alike; all are waited out.
impl Transient for clickhouse::error::Error {
    fn is_transient(&self) -> bool {
        true
    }
}

/// The dead-letter producer's errors (broker unreachable, timeouts) are waited out.
impl Transient for anyhow::Error {
    fn is_transient(&self) -> bool {
        true
    }
}

/// Why [`with_retries`] gave up.
#[derive(Debug)]
pub enum Failed<E> {
    /// The projector is stopping; the call may or may not have taken effect.
    Stopped,
    /// An error that retrying cannot fix (e.g. a conditional write that lost a race).
    Permanent(E),
}

/// Runs `attempt` until it succeeds or fails permanently, backing off from 100 ms to 5 s
/// between transient failures, or until `shutdown`. `what` names the step in the logs.
pub async fn with_retries<T, E, F, Fut>(
    what: &str,
    shutdown: &CancellationToken,
    mut attempt: F,
) -> Result<T, Failed<E>>
where
    E: Transient + Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut delay = FIRST_DELAY;
    let mut failures = 0u32;
    loop {
        match attempt().await {
            Ok(value) => {
                if failures > 0 {
                    tracing::info!(step = what, failures, "store reachable again");
                }
                return Ok(value);
            }
            Err(error) if error.is_transient() => {
                failures += 1;
                tracing::warn!(step = what, failures, %error, retry_in = ?delay, "store unavailable; retrying");
            }
            Err(error) => return Err(Failed::Permanent(error)),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Err(Failed::Stopped),
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(MAX_DELAY);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let calls = Cell::new(0);
        let result = with_retries("test", &CancellationToken::new(), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(JobTableError::Unavailable("down".into()))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert!(matches!(result, Ok(3)));
    }

    #[tokio::test]
    async fn permanent_errors_are_returned_at_once() {
        let calls = Cell::new(0);
        let result: Result<(), _> = with_retries("test", &CancellationToken::new(), || {
            calls.set(calls.get() + 1);
            async { Err(JobTableError::Conflict("k".into())) }
        })
        .await;
        assert!(matches!(
            result,
            Err(Failed::Permanent(JobTableError::Conflict(_)))
        ));
        assert_eq!(calls.get(), 1);
    }

    #[tokio::test]
    async fn a_stop_ends_the_retries() {
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let result: Result<(), _> = with_retries("test", &shutdown, || async {
            Err(JobTableError::Unavailable("down".into()))
        })
        .await;
        assert!(matches!(result, Err(Failed::Stopped)));
    }
}
