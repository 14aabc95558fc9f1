//! Alerts open once and close once (docs/contract.md §17.2): the open alerts, one per
//! (backend, slot, rule) at most, and what a rule's [`Verdict`] does to them. Pure.
//!
//! An alert's id is a digest of its backend, slot, rule, what anchors it (the first failing
//! run's job key, a receipt's id) and when it opened (the time of what opened it, from the
//! log): the same log evaluated again (a replay, a batch redelivered after a crash) gives the
//! same alert the same id, which is what the webhook's `Idempotency-Key` is made of.

use std::collections::BTreeMap;

use oot_contract::alerts::StoredAlert;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::{Rule, Verdict};

/// Which alert: a backend's rule on one slot, or backend-wide (`slot` `None`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AlertKey {
    pub backend: String,
    /// `(workflow name, job name)`.
    pub slot: Option<(String, String)>,
    pub rule: Rule,
}

/// What a verdict did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Opened(StoredAlert),
    Closed(StoredAlert),
}

impl Transition {
    pub fn alert(&self) -> &StoredAlert {
        match self {
            Transition::Opened(alert) | Transition::Closed(alert) => alert,
        }
    }

    /// `opened` or `closed`: the webhook's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Transition::Opened(_) => "opened",
            Transition::Closed(_) => "closed",
        }
    }
}

/// The alert id: 32 hex digits of SHA-256 over the key, the anchor and the opening time.
pub fn alert_id(key: &AlertKey, anchor: &str, opened_at: i64) -> String {
    let mut digest = Sha256::new();
    let (workflow, job) = key
        .slot
        .as_ref()
        .map_or(("", ""), |(w, j)| (w.as_str(), j.as_str()));
    // Separated by NUL, which none of the parts can hold (the contract refuses control
    // characters in names), so two different keys never digest the same text.
    for part in [
        key.backend.as_str(),
        workflow,
        job,
        key.rule.as_str(),
        anchor,
        &opened_at.to_string(),
    ] {
        digest.update(part.as_bytes());
        digest.update([0u8]);
    }
    digest
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The open alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenAlerts {
    open: BTreeMap<AlertKey, StoredAlert>,
}

impl OpenAlerts {
    /// The open alerts as stored (on start-up).
    pub fn from_stored(alerts: impl IntoIterator<Item = StoredAlert>) -> OpenAlerts {
        let mut open = BTreeMap::new();
        for alert in alerts.into_iter().filter(StoredAlert::is_open) {
            let Some(rule) = Rule::parse(&alert.rule) else {
                tracing::warn!(id = %alert.id, rule = %alert.rule, "a stored alert of an unknown rule; left alone");
                continue;
            };
            let slot = match (&alert.workflow_name, &alert.job_name) {
                (Some(w), Some(j)) => Some((w.clone(), j.clone())),
                _ => None,
            };
            let key = AlertKey {
                backend: alert.backend.clone(),
                slot,
                rule,
            };
            open.insert(key, alert);
        }
        OpenAlerts { open }
    }

    pub fn get(&self, key: &AlertKey) -> Option<&StoredAlert> {
        self.open.get(key)
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&AlertKey, &StoredAlert)> {
        self.open.iter()
    }

    /// Applies `verdict` on `key` at `at` (µs): opens an alert when it holds and none is open,
    /// closes the open one when it clears; otherwise nothing.
    pub fn apply(&mut self, key: &AlertKey, verdict: Verdict, at: i64) -> Option<Transition> {
        match verdict {
            Verdict::Holds(evidence) if !self.open.contains_key(key) => {
                let (workflow_name, job_name) = match &key.slot {
                    Some((w, j)) => (Some(w.clone()), Some(j.clone())),
                    None => (None, None),
                };
                let evidence = *evidence;
                let alert = StoredAlert {
                    id: alert_id(key, &evidence.anchor, at),
                    rule: key.rule.as_str().to_owned(),
                    backend: key.backend.clone(),
                    workflow_name,
                    job_name,
                    summary: evidence.summary,
                    first_failing: evidence.first_failing,
                    runs: evidence.runs,
                    opened_at: at,
                    closed_at: None,
                    closed_because: None,
                };
                self.open.insert(key.clone(), alert.clone());
                Some(Transition::Opened(alert))
            }
            Verdict::Clears(reason) => {
                let mut alert = self.open.remove(key)?;
                // Never before it opened, whatever order the log's clocks give.
                alert.closed_at = Some(at.max(alert.opened_at));
                alert.closed_because = Some(reason);
                Some(Transition::Closed(alert))
            }
            Verdict::Holds(_) | Verdict::Keeps => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Evidence;

    fn key() -> AlertKey {
        AlertKey {
            backend: "a/b".into(),
            slot: Some(("ci".into(), "test".into())),
            rule: Rule::FailingStreak,
        }
    }

    fn holds() -> Verdict {
        Verdict::Holds(Box::new(Evidence {
            summary: "red".into(),
            first_failing: None,
            runs: vec![],
            anchor: "a/b/d-1/ci/test/1".into(),
        }))
    }

    #[test]
    fn an_alert_opens_once_stays_open_and_closes_once() {
        let mut open = OpenAlerts::default();
        let opened = open.apply(&key(), holds(), 10);
        assert!(matches!(opened, Some(Transition::Opened(_))));
        assert_eq!(
            open.apply(&key(), holds(), 11),
            None,
            "no repeat while open"
        );
        assert_eq!(open.apply(&key(), Verdict::Keeps, 12), None);
        let closed = open.apply(&key(), Verdict::Clears("mended".into()), 13);
        let Some(Transition::Closed(alert)) = closed else {
            panic!("closes");
        };
        assert_eq!((alert.opened_at, alert.closed_at), (10, Some(13)));
        assert_eq!(
            open.apply(&key(), Verdict::Clears("again".into()), 14),
            None
        );
        assert!(open.is_empty());
    }

    #[test]
    fn ids_are_the_same_for_the_same_occurrence_and_differ_otherwise() {
        let id = alert_id(&key(), "x", 1);
        assert_eq!(id, alert_id(&key(), "x", 1));
        assert_eq!(id.len(), 32);
        assert_ne!(id, alert_id(&key(), "x", 2));
        assert_ne!(id, alert_id(&key(), "y", 1));
        let other = AlertKey {
            rule: Rule::MOfK,
            ..key()
        };
        assert_ne!(id, alert_id(&other, "x", 1));
    }

    #[test]
    fn the_open_alerts_come_back_from_the_store() {
        let mut open = OpenAlerts::default();
        let Some(Transition::Opened(alert)) = open.apply(&key(), holds(), 10) else {
            panic!("opens");
        };
        let mut closed = alert.clone();
        closed.closed_at = Some(20);
        let restored = OpenAlerts::from_stored([alert, closed]);
        assert_eq!(restored, open);
    }
}
