//! A backend's recent refused callbacks, from the delivery log (docs/contract.md §16), as the
//! `refusals` rule reads them. Pure. Bounded: the rule asks only whether more than its limit
//! fell within an hour, so the newest `limit + 1` refusals are all it needs.

use serde::{Deserialize, Serialize};

/// One refused callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// µs: when ingest received it.
    pub received_at: i64,
    pub receipt_id: String,
    /// ingest's refusal reason (`invalid`, `rate_limited`, ...).
    pub outcome: String,
}

/// The newest refusals of a backend, oldest first, each receipt once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalWindow {
    pub recent: Vec<Refusal>,
}

impl RefusalWindow {
    /// Records a refusal, keeping the newest `cap`; `true` when the window changed.
    pub fn record(
        &mut self,
        received_at: i64,
        receipt_id: &str,
        outcome: &str,
        cap: usize,
    ) -> bool {
        if cap == 0 || self.recent.iter().any(|r| r.receipt_id == receipt_id) {
            return false;
        }
        let key = |r: &Refusal| (r.received_at, r.receipt_id.clone());
        let new = Refusal {
            received_at,
            receipt_id: receipt_id.to_owned(),
            outcome: outcome.to_owned(),
        };
        let at = self.recent.partition_point(|r| key(r) < key(&new));
        if self.recent.len() >= cap && at == 0 {
            return false;
        }
        self.recent.insert(at, new);
        while self.recent.len() > cap {
            self.recent.remove(0);
        }
        true
    }

    /// The refusals received in `(since, until]`, oldest first.
    pub fn within(&self, since: i64, until: i64) -> Vec<&Refusal> {
        self.recent
            .iter()
            .filter(|r| r.received_at > since && r.received_at <= until)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_are_kept_once_each() {
        let mut window = RefusalWindow::default();
        assert!(window.record(5, "e", "invalid", 2));
        assert!(window.record(3, "c", "invalid", 2));
        assert!(
            !window.record(3, "c", "invalid", 2),
            "the same receipt again"
        );
        assert!(
            !window.record(1, "a", "invalid", 2),
            "older than a full window"
        );
        assert!(window.record(9, "i", "rate_limited", 2));
        let ids: Vec<&str> = window
            .recent
            .iter()
            .map(|r| r.receipt_id.as_str())
            .collect();
        assert_eq!(ids, ["e", "i"]);
        assert_eq!(window.within(5, 9).len(), 1);
    }
}
