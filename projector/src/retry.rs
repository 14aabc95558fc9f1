//! Waiting out a store outage: a call is retried with backoff until it succeeds, fails for good,
//! or the projector stops. Skipping instead would let the batch's offsets be committed with
//! effects missing, so an outage only ever delays the projection.
//!
//! Errors are classified ([`Transient`]): what may go away by itself (timeouts, throttling,
//! connection failures, 5xx, a busy server, and anything that would fail every job alike, such
//! as a missing table or bad credentials) is retried; only an error about the data of the call
//! (DynamoDB's `ValidationException`, ClickHouse's parse and range errors) is permanent. The
//! pipeline then finds the one job the store refuses ([`bisect`]) and parks it, instead of
//! retrying forever and stalling every partition behind it.

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

/// ClickHouse error codes that are about the data of the statement: the same rows would fail
/// again, whenever sent. Every other code (network, timeouts, too many parts or queries, memory,
/// read-only replicas, unknown table, authentication...) is waited out: it is about the server,
/// and would refuse innocent rows just the same.
const CLICKHOUSE_DATA_ERRORS: &[u32] = &[
    6,   // CANNOT_PARSE_TEXT
    26,  // CANNOT_PARSE_QUOTED_STRING
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    32,  // ATTEMPT_TO_READ_AFTER_EOF
    33,  // CANNOT_READ_ALL_DATA
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    53,  // TYPE_MISMATCH
    62,  // SYNTAX_ERROR (also "Max query size exceeded")
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    117, // INCORRECT_DATA
    131, // TOO_LARGE_STRING_SIZE
    321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
];

/// The `Code: N` of a ClickHouse server error (18.16 writes `Code: 62, e.displayText() = ...`,
/// current releases `Code: 62. DB::Exception: ...`).
pub fn clickhouse_code(error: &clickhouse::error::Error) -> Option<u32> {
    let clickhouse::error::Error::BadResponse(text) = error else {
        return None;
    };
    let rest = &text[text.find("Code: ")? + "Code: ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Transient unless the server refused the statement's data (see [`CLICKHOUSE_DATA_ERRORS`]).
impl Transient for clickhouse::error::Error {
    fn is_transient(&self) -> bool {
        !clickhouse_code(self).is_some_and(|code| CLICKHOUSE_DATA_ERRORS.contains(&code))
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

/// Stores `items` with `store` (retried with backoff while its failures are transient); when a
/// permanent failure remains, halves the slice and tries each half, down to single items, so
/// the items a store refuses alone are found in O(k log n) calls and no innocent item is
/// refused with them. Returns the refused items' indexes, each with its error; `Err` only when
/// stopped.
pub async fn bisect<'a, T, E, F, Fut>(
    what: &str,
    shutdown: &CancellationToken,
    items: &'a [T],
    store: F,
) -> Result<Vec<(usize, E)>, Failed<E>>
where
    E: Transient + Display,
    F: Fn(&'a [T]) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut refused = Vec::new();
    // Ranges still to store, depth first, so indexes come out in order.
    let mut pending = vec![(0, items.len())];
    while let Some((start, end)) = pending.pop() {
        let Some(slice) = items.get(start..end).filter(|s| !s.is_empty()) else {
            continue;
        };
        match with_retries(what, shutdown, || store(slice)).await {
            Ok(()) => {}
            Err(Failed::Stopped) => return Err(Failed::Stopped),
            Err(Failed::Permanent(error)) if end - start == 1 => refused.push((start, error)),
            Err(Failed::Permanent(error)) => {
                tracing::warn!(step = what, items = end - start, %error, "refused for good; splitting to find the culprit");
                let middle = start + (end - start) / 2;
                pending.push((middle, end));
                pending.push((start, middle));
            }
        }
    }
    Ok(refused)
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

    #[derive(Debug)]
    struct Refusal(bool);
    impl Transient for Refusal {
        fn is_transient(&self) -> bool {
            self.0
        }
    }
    impl std::fmt::Display for Refusal {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "refused (transient: {})", self.0)
        }
    }

    #[tokio::test]
    async fn bisecting_finds_exactly_the_refused_items_and_stores_the_rest() {
        let items: Vec<u32> = (0..37).collect();
        let stored = std::sync::Mutex::new(Vec::new());
        let flaky = std::sync::atomic::AtomicU32::new(0);
        let refused = bisect(
            "test",
            &CancellationToken::new(),
            &items,
            |slice: &[u32]| {
                // A transient failure now and then must not count as a refusal.
                let transient = flaky.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 5 == 1;
                let result = if transient {
                    Err(Refusal(true))
                } else if slice.iter().any(|&i| i == 3 || i == 30) {
                    Err(Refusal(false))
                } else {
                    stored.lock().map(|mut s| s.extend_from_slice(slice)).ok();
                    Ok(())
                };
                async move { result }
            },
        )
        .await
        .unwrap_or_else(|_| panic!("not stopped"));
        assert_eq!(refused.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [3, 30]);
        let mut stored = stored.into_inner().unwrap_or_default();
        stored.sort_unstable();
        let innocent: Vec<u32> = (0..37).filter(|&i| i != 3 && i != 30).collect();
        assert_eq!(stored, innocent, "every innocent item stored, once");
    }

    #[test]
    fn clickhouse_errors_about_the_data_are_permanent_the_rest_transient() {
        use clickhouse::error::Error;
        let old = Error::BadResponse(
            "Code: 27, e.displayText() = DB::Exception: Cannot parse input".into(),
        );
        let new = Error::BadResponse("Code: 62. DB::Exception: Max query size exceeded".into());
        let busy = Error::BadResponse("Code: 252. DB::Exception: Too many parts".into());
        let missing = Error::BadResponse("Code: 60. DB::Exception: Table x doesn't exist".into());
        assert_eq!(clickhouse_code(&old), Some(27));
        assert!(!old.is_transient());
        assert!(!new.is_transient());
        assert!(busy.is_transient());
        assert!(
            missing.is_transient(),
            "fails every row alike: wait, never park"
        );
        assert!(Error::TimedOut.is_transient());
        assert!(Error::BadResponse("502 Bad Gateway".into()).is_transient());
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
