//! The alert evaluator's storage (docs/contract.md §17): its DynamoDB table beside the job
//! table, the keys of its items and the index of every backend's alerts, and the stored shape
//! of an alert and of a webhook delivery. Written by `oot-alerts`, read by the query service.
//!
//! One table, hash key [`attr::PK`] and range key [`attr::SK`]:
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | an alert | `alerts#{backend}` ([`backend_partition`]) | [`alert_sort_key`]: `a#{opened_at:020}#{id}` |
//! | a webhook delivery of it | the same | [`webhook_sort_key`]: the alert's `sk` + `#w#{kind}#{n}` |
//! | a slot's recent runs | `slots#{backend}` | `{workflow}` + U+001F + `{job}` |
//! | a backend's recent refusals | `refusals` | `{backend}` |
//!
//! A backend's alerts and their deliveries are one key range, newest first when read
//! backwards; alerts and deliveries also carry [`attr::ALL_PK`]/[`attr::ALL_SK`], the keys of
//! the sparse index [`ALL_ALERTS_INDEX`], so every backend's alerts are one range of it too.

use serde::{Deserialize, Serialize};

/// The alerts table's name for the job table `job_table`.
pub fn alerts_table(job_table: &str) -> String {
    format!("{job_table}-alerts")
}

/// The sparse index holding every alert and webhook delivery, all backends, newest first.
pub const ALL_ALERTS_INDEX: &str = "all-alerts-index";

/// The one partition of [`ALL_ALERTS_INDEX`]: alerts are few (they open when a job breaks),
/// so one partition holds them all.
pub const ALL_PARTITION: &str = "alerts";

/// Attribute names.
pub mod attr {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const ALL_PK: &str = "all_pk";
    pub const ALL_SK: &str = "all_sk";
    /// What the item is: one of [`super::kind`].
    pub const KIND: &str = "kind";
    /// The item's content as JSON ([`super::StoredAlert`], [`super::StoredWebhook`], or the
    /// evaluator's own state).
    pub const BODY: &str = "body";
    /// Seconds since the epoch after which DynamoDB's time to live deletes the item: set on a
    /// closed alert and on every webhook delivery (their transition's time plus the retention),
    /// never on an open alert or on the evaluator's own state.
    pub const EXPIRES_AT: &str = "expires_at";
}

/// The values of [`attr::KIND`].
pub mod kind {
    pub const ALERT: &str = "alert";
    pub const WEBHOOK: &str = "webhook";
    pub const SLOT: &str = "slot";
    pub const REFUSALS: &str = "refusals";
}

/// The partition of `backend`'s alerts and their webhook deliveries.
pub fn backend_partition(backend: &str) -> String {
    format!("alerts#{backend}")
}

/// The partition of `backend`'s slots' recent runs.
pub fn slots_partition(backend: &str) -> String {
    format!("slots#{backend}")
}

/// The partition of every backend's recent refusals (one item per backend).
pub const REFUSALS_PARTITION: &str = "refusals";

/// An alert's sort key: its opening time (µs, zero-padded so text order is time order), then
/// its id.
pub fn alert_sort_key(opened_at_micros: i64, id: &str) -> String {
    format!("a#{:020}#{id}", opened_at_micros.max(0))
}

/// The sort key of webhook delivery `n` (the `n`th configured URL) of an alert's `kind`
/// (`opened` or `closed`): after its alert's in key order.
pub fn webhook_sort_key(alert_sort_key: &str, kind: &str, n: usize) -> String {
    format!("{alert_sort_key}#w#{kind}#{n:03}")
}

/// An alert as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAlert {
    /// Deterministic: the same log gives the same ids (docs/contract.md §17.3).
    pub id: String,
    /// `failing_streak`, `m_of_k`, `pass_rate`, `stale` or `refusals`.
    pub rule: String,
    pub backend: String,
    /// The job slot; `None` for a backend-wide rule (`refusals`).
    pub workflow_name: Option<String>,
    pub job_name: Option<String>,
    /// What holds, in one sentence.
    pub summary: String,
    /// The first failing run of the streak or window (`None` for `stale` and `refusals`).
    pub first_failing: Option<RunLink>,
    /// The runs the rule judged when it opened, newest first.
    pub runs: Vec<RunLink>,
    /// µs since the epoch: the time (ingest's clock) of what opened it.
    pub opened_at: i64,
    /// µs; `None` while open.
    pub closed_at: Option<i64>,
    /// Why it closed, in one sentence.
    pub closed_because: Option<String>,
}

impl StoredAlert {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

/// One run as an alert names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLink {
    pub job_key: String,
    pub run_id: String,
    pub run_attempt: u32,
    /// `success`, `failure`, `timed_out`, ...
    pub conclusion: String,
    /// The upstream commit tested, when known.
    pub upstream_sha: Option<String>,
    /// The upstream PR, for a PR run.
    pub pr_number: Option<u64>,
    /// `nightly`, `pull_request`, `other` (the triage's trigger).
    pub trigger: String,
    /// The downstream workflow run (`workflow_run_url`).
    pub url: String,
    /// µs: when ingest first received a callback of the job.
    pub received_at: i64,
}

/// One webhook delivery (an alert's opening or closing, to one URL) as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWebhook {
    pub alert_id: String,
    /// `opened` or `closed`.
    pub kind: String,
    /// The URL POSTed to. Never served: a webhook URL often holds its own secret.
    pub url: String,
    /// The URL's scheme and host, what the views show.
    pub target: String,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    pub attempts: u32,
    /// µs: when it may be tried next (pending only).
    pub next_attempt_at: i64,
    pub last_attempt_at: Option<i64>,
    /// The last failure: an HTTP status or a connection error.
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
    /// The exact bytes sent each time (signed as they are).
    pub body: String,
}

/// The values of [`StoredWebhook::state`].
pub mod webhook_state {
    pub const PENDING: &str = "pending";
    pub const SENT: &str = "sent";
    pub const FAILED: &str = "failed";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_time_and_deliveries_follow_their_alert() {
        let early = alert_sort_key(9, "b");
        let late = alert_sort_key(10, "a");
        assert!(early < late, "{early} {late}");
        let delivery = webhook_sort_key(&early, "opened", 0);
        assert!(delivery > early && delivery < late);
        assert_eq!(alerts_table("t"), "t-alerts");
    }
}
