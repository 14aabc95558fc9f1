//! How much a callback's word counts: [`Rank`], and values tagged with the rank of the callback
//! they came from ([`Sourced`]).

use std::cmp::Ordering;
use std::sync::Arc;

use oot_contract::{Conclusion, Status};
use serde::{Deserialize, Serialize};

use super::canon::Canon;

/// How final a callback is. The order of the variants is the order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// `in_progress`: the job has started; everything it says may still change.
    InProgress,
    /// `completed` with conclusion `timed_out`, or (never accepted by ingest) with none. The
    /// relay's sweeper reports jobs that never called back as `timed_out`; a real result that
    /// arrives after the sweep must still win, so a timeout counts less than any real verdict.
    TimedOut,
    /// `completed` with any other conclusion: the job's own final word.
    Concluded,
}

impl Stage {
    /// The stage of a callback from its `status` and `conclusion`. A `completed` callback
    /// without a conclusion is read as a timeout: it says the job ended, not how.
    pub fn of(status: Status, conclusion: Option<Conclusion>) -> Stage {
        match (status, conclusion) {
            (Status::InProgress, _) => Stage::InProgress,
            (Status::Completed, None | Some(Conclusion::TimedOut)) => Stage::TimedOut,
            (Status::Completed, Some(_)) => Stage::Concluded,
        }
    }
}

/// The precedence of one callback, computed from its content alone: never from when or how
/// often it was delivered, so every store and every replay ranks it the same.
///
/// Compared field by field in declaration order:
/// 1. [`Stage`]: `completed` over `in_progress`, a real conclusion over `timed_out`;
/// 2. `reported_at`, the job's own clock: the later `completed_at` (or, between two
///    `in_progress`, the later `started_at`) is the more recent word;
/// 3. `digest`, a SHA-256 of the callback's projected content (everything that goes into the
///    record, but not `event_id` nor `received_at`): an arbitrary but fixed choice between two
///    callbacks that differ in content yet agree on 1 and 2. Duplicate deliveries of one
///    callback have equal digests, so which copy arrived, and when, cannot change the record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Rank {
    pub stage: Stage,
    /// µs since the Unix epoch; `None` sorts first.
    pub reported_at: Option<i64>,
    /// Lower-case hex SHA-256 of the canonical content. Shared: every field a callback sets
    /// carries its rank, so a record holds ~25 copies of it; one allocation per callback
    /// instead of one per field (a replay makes and drops millions of records).
    pub digest: Arc<str>,
}

impl Rank {
    /// The rank of a callback of `stage`, with the job's `started_at` and `completed_at`, whose
    /// projected content has the given `digest`.
    pub(crate) fn of(
        stage: Stage,
        started_at: Option<i64>,
        completed_at: Option<i64>,
        digest: Arc<str>,
    ) -> Rank {
        let reported_at = match stage {
            Stage::InProgress => started_at,
            Stage::TimedOut | Stage::Concluded => completed_at,
        };
        Rank {
            stage,
            reported_at,
            digest,
        }
    }
}

/// A field value together with the rank of the callback that set it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sourced<T> {
    pub value: T,
    pub rank: Rank,
}

/// Which of two values of one field the record keeps: `Greater` if `a`.
///
/// The higher rank wins. Equal ranks mean the same callback content (or a SHA-256 collision),
/// so the values are normally equal; when they are not, the value with the shorter canonical
/// encoding wins, then the smaller one. "Shorter" is deliberate: a value cut to fit DynamoDB
/// (see [`super::FailedTests::bounded`]) keeps its source's rank, and must not lose to the full
/// value when a redelivery of that source is merged into the stored record, or every
/// redelivery would rewrite the item.
fn precedence<T: Canon>(a: &Sourced<T>, b: &Sourced<T>) -> Ordering {
    a.rank.cmp(&b.rank).then_with(|| {
        let (a, b) = (a.value.canon_bytes(), b.value.canon_bytes());
        b.len().cmp(&a.len()).then_with(|| b.cmp(&a))
    })
}

/// The least upper bound of two values of one field: the maximum in a total order, hence
/// commutative, associative and idempotent.
pub(crate) fn join<T: Canon + Clone>(a: &Sourced<T>, b: &Sourced<T>) -> Sourced<T> {
    if precedence(a, b) == Ordering::Less {
        b.clone()
    } else {
        a.clone()
    }
}

/// [`join`] for a field that a callback may lack: a value, whatever its rank, beats no
/// value, so a callback that lacks a field never clears it.
pub(crate) fn join_opt<T: Canon + Clone>(
    a: &Option<Sourced<T>>,
    b: &Option<Sourced<T>>,
) -> Option<Sourced<T>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(join(a, b)),
        (Some(v), None) | (None, Some(v)) => Some(v.clone()),
        (None, None) => None,
    }
}
