//! The two projections the views read: completed jobs from ClickHouse ([`completed`], and what
//! the failing-tests view reads of them, [`triage`], and one test's history, [`test_history`]), running jobs from DynamoDB ([`live`]), and the
//! alert evaluator's alerts from its own DynamoDB table ([`alerts`]). Every read has a deadline; a store that fails or misses it
//! answers a [`StoreError`] naming itself, which the HTTP edge turns into a 503.
//!
//! What a store holds is read back through the contract's types: a row or item whose value is
//! not a word of the contract ([`Unreadable`]) is logged and left out of the answer rather than
//! failing the whole view, since one foreign or pre-validation row should not hide every other
//! job (and a 503 would blame a store that is answering fine).

use std::time::Duration;

pub mod alerts;
pub mod completed;
pub mod deliveries;
pub mod live;
pub mod pr_triage;
pub mod rollups;
pub mod test_history;
pub mod triage;

/// How long a view waits for one store: past this a dashboard is better served by a 503 it can
/// retry than by a hanging request.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// A store did not answer in time, or answered with an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{store} unavailable: {detail}")]
pub struct StoreError {
    /// `clickhouse` or `dynamodb`: the name callers are told.
    pub store: &'static str,
    /// The store's own error, for the log only (it may name hosts and tables).
    pub detail: String,
}

/// Why one stored job is not shown: the column or attribute that is missing or holds a value
/// the contract refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct Unreadable {
    pub name: &'static str,
    pub problem: String,
}

impl Unreadable {
    pub fn missing(name: &'static str) -> Self {
        Self {
            name,
            problem: "missing".to_owned(),
        }
    }

    pub fn invalid(name: &'static str, problem: oot_contract::InvalidValue) -> Self {
        Self {
            name,
            problem: problem.message().to_owned(),
        }
    }

    /// This, as the reason the job `key` is left out.
    pub fn of(self, key: &str) -> Skipped {
        Skipped {
            key: key.to_owned(),
            why: self,
        }
    }
}

/// A stored job left out of an answer, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {why}")]
pub struct Skipped {
    pub key: String,
    pub why: Unreadable,
}

/// Every row `query` answers from ClickHouse within `timeout`, or the store error a view
/// answers 503 with.
async fn fetch_rows<R>(
    query: clickhouse::query::Query,
    timeout: std::time::Duration,
) -> Result<Vec<R>, StoreError>
where
    R: clickhouse::RowOwned + clickhouse::RowRead,
{
    const STORE: &str = "clickhouse";
    match tokio::time::timeout(timeout, query.fetch_all::<R>()).await {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(error)) => Err(StoreError {
            store: STORE,
            detail: error.to_string(),
        }),
        Err(_) => Err(StoreError {
            store: STORE,
            detail: format!("no answer within {timeout:?}"),
        }),
    }
}

/// `parsed`, or why the value stored under `name` is not shown.
fn read<T>(
    name: &'static str,
    parsed: Result<T, oot_contract::InvalidValue>,
) -> Result<T, Unreadable> {
    parsed.map_err(|problem| Unreadable::invalid(name, problem))
}

/// The jobs that read back, each other one logged with its key and left out.
fn readable<T>(store: &'static str, rows: impl IntoIterator<Item = Result<T, Skipped>>) -> Vec<T> {
    rows.into_iter()
        .filter_map(|row| match row {
            Ok(job) => Some(job),
            Err(Skipped { key, why }) => {
                tracing::warn!(store, key, %why, "a stored job does not read back; not shown");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_rows_are_left_out_and_the_rest_kept() {
        let rows = vec![
            Ok(1),
            Err(Unreadable::missing("run_attempt").of("b")),
            Ok(3),
        ];
        assert_eq!(readable("clickhouse", rows), [1, 3]);
    }

    #[test]
    fn unreadable_names_what_is_wrong() {
        let why = Unreadable::invalid("status", oot_contract::InvalidValue::new("bad"));
        assert_eq!(why.to_string(), "status: bad");
        assert_eq!(why.of("k").to_string(), "k: status: bad");
    }
}
