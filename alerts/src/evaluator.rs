//! The evaluator's state and how the log moves it: each completed job's run goes into its
//! slot's history and the slot's rules are judged; each refusal goes into its backend's
//! window; a clock tick judges what time alone changes (`stale`, refusals leaving the hour).
//! Pure: no I/O, so the same log always gives the same state ([`crate::app`] stores it and
//! commits the log's offsets after).

use std::collections::{BTreeMap, BTreeSet};

use oot_avro::{CallbackEvent, DeliveryReceipt};
use oot_contract::alerts::{RunLink, StoredAlert};

use crate::config::AlertsConfig;
use crate::history::{trigger_word, Rated, Recorded, Run, SlotHistory};
use crate::lifecycle::{AlertKey, OpenAlerts, Transition};
use crate::refusals::RefusalWindow;
use crate::rules::{self, Rule, Verdict};

/// A job slot of a backend.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotKey {
    pub backend: String,
    pub workflow_name: String,
    pub job_name: String,
}

/// Everything the evaluator knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluator {
    pub config: AlertsConfig,
    pub slots: BTreeMap<SlotKey, SlotHistory>,
    pub refusals: BTreeMap<String, RefusalWindow>,
    pub open: OpenAlerts,
}

/// What a step changed: the items to store before the log's offsets are committed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub slots: BTreeSet<SlotKey>,
    pub refusals: BTreeSet<String>,
    /// In the order they happened (an alert may open and close within one batch).
    pub transitions: Vec<Transition>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty() && self.refusals.is_empty() && self.transitions.is_empty()
    }
}

/// The run a completed callback event reports, or `None` for an event that is not one
/// (`in_progress`, or completed without a conclusion).
pub fn run_of(event: &CallbackEvent) -> Option<(SlotKey, Run)> {
    if event.workflow.status != "completed" {
        return None;
    }
    let conclusion = event.workflow.conclusion.clone()?;
    let pr_number = event.pr_number.and_then(|n| u64::try_from(n).ok());
    let link = RunLink {
        job_key: event.job_key.clone(),
        run_id: event.workflow.run_id.clone(),
        run_attempt: u32::try_from(event.workflow.run_attempt).unwrap_or(u32::MAX),
        upstream_sha: event.head_sha.clone(),
        pr_number,
        trigger: trigger_word(&event.event_type, pr_number).to_owned(),
        url: event.workflow.url.clone(),
        received_at: event.received_at,
        conclusion,
    };
    let key = SlotKey {
        backend: event.verified_repo.clone(),
        workflow_name: event.workflow.name.clone(),
        job_name: event.workflow.job_name.clone(),
    };
    Some((
        key,
        Run {
            rated: Rated::of(&link.conclusion),
            link,
        },
    ))
}

impl Evaluator {
    pub fn new(config: AlertsConfig) -> Evaluator {
        Evaluator {
            config,
            ..Evaluator::default()
        }
    }

    /// A completed run of a slot, received at `run.link.received_at`: recorded, then the slot's
    /// rules judged at that time.
    pub fn on_run(&mut self, key: SlotKey, run: Run, changes: &mut Changes) {
        let rules = self.config.rules(&key.backend);
        let at = run.link.received_at;
        let slot = self.slots.entry(key.clone()).or_default();
        if slot.record(run, rules.runs_kept(), rules.nightlies_kept()) == Recorded::Unchanged {
            // A redelivery or an attempt already superseded: no rule can say anything new.
            return;
        }
        changes.slots.insert(key.clone());
        let verdicts = [
            (Rule::FailingStreak, rules::failing_streak(slot, &rules)),
            (Rule::MOfK, rules::m_of_k(slot, &rules)),
            (Rule::PassRate, rules::pass_rate(slot, &rules)),
            // A result is what ends staleness; judged at the result's time it clears.
            (Rule::Stale, rules::stale(slot, &rules, at)),
        ];
        for (rule, verdict) in verdicts {
            self.apply(slot_alert(&key, rule), verdict, at, changes);
        }
    }

    /// A refused callback of the backend: recorded, then the backend's refusal rule judged at
    /// its receive time.
    pub fn on_refusal(&mut self, receipt: &DeliveryReceipt, changes: &mut Changes) {
        let backend = receipt.verified_repo.clone();
        let rules = self.config.rules(&backend);
        let cap = rules.refusals_per_hour as usize + 1;
        let window = self.refusals.entry(backend.clone()).or_default();
        if !window.record(
            receipt.received_at,
            &receipt.receipt_id,
            &receipt.outcome,
            cap,
        ) {
            return;
        }
        changes.refusals.insert(backend.clone());
        let verdict = rules::refusals(window, &rules, receipt.received_at);
        self.apply(
            backend_alert(&backend, Rule::Refusals),
            verdict,
            receipt.received_at,
            changes,
        );
    }

    /// What time alone changes, judged at `now` (µs, the wall clock): slots with no result for
    /// too long, refusals leaving the last hour.
    pub fn on_tick(&mut self, now: i64, changes: &mut Changes) {
        let mut verdicts = Vec::new();
        for (key, slot) in &self.slots {
            let rules = self.config.rules(&key.backend);
            verdicts.push((
                slot_alert(key, Rule::Stale),
                rules::stale(slot, &rules, now),
            ));
        }
        for (backend, window) in &self.refusals {
            let rules = self.config.rules(backend);
            verdicts.push((
                backend_alert(backend, Rule::Refusals),
                rules::refusals(window, &rules, now),
            ));
        }
        for (key, verdict) in verdicts {
            self.apply(key, verdict, now, changes);
        }
    }

    fn apply(&mut self, key: AlertKey, verdict: Verdict, at: i64, changes: &mut Changes) {
        if let Some(transition) = self.open.apply(&key, verdict, at) {
            changes.transitions.push(transition);
        }
    }

    /// The open alerts, for the store and the views.
    pub fn open_alerts(&self) -> impl Iterator<Item = &StoredAlert> {
        self.open.iter().map(|(_, alert)| alert)
    }
}

fn slot_alert(key: &SlotKey, rule: Rule) -> AlertKey {
    AlertKey {
        backend: key.backend.clone(),
        slot: Some((key.workflow_name.clone(), key.job_name.clone())),
        rule,
    }
}

fn backend_alert(backend: &str, rule: Rule) -> AlertKey {
    AlertKey {
        backend: backend.to_owned(),
        slot: None,
        rule,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Rules;
    use crate::history::tests::run;

    pub(crate) fn slot_key() -> SlotKey {
        SlotKey {
            backend: "a/b".into(),
            workflow_name: "ci".into(),
            job_name: "test".into(),
        }
    }

    fn evaluator() -> Evaluator {
        Evaluator::new(AlertsConfig {
            defaults: Rules {
                failing_streak: 3,
                m_of_k_failures: 0,
                pass_rate_runs: 0,
                stale_days: 0,
                recovery_passes: 2,
                ..Rules::default()
            },
            ..AlertsConfig::default()
        })
    }

    #[test]
    fn a_nightly_streak_opens_once_and_closes_after_the_passes() {
        let mut evaluator = evaluator();
        let mut transitions = Vec::new();
        let outcomes = [
            "failure", "failure", "failure", "failure", "success", "success", "success",
        ];
        for (i, conclusion) in outcomes.into_iter().enumerate() {
            let mut changes = Changes::default();
            evaluator.on_run(
                slot_key(),
                run(i as u64 + 1, 1, conclusion, true),
                &mut changes,
            );
            transitions.extend(changes.transitions.into_iter().map(|t| (i, t.kind())));
        }
        assert_eq!(transitions, [(2, "opened"), (5, "closed")]);
    }

    #[test]
    fn a_redelivered_run_changes_nothing() {
        let mut evaluator = evaluator();
        let mut changes = Changes::default();
        evaluator.on_run(slot_key(), run(1, 1, "failure", true), &mut changes);
        assert!(!changes.is_empty());
        let mut again = Changes::default();
        evaluator.on_run(slot_key(), run(1, 1, "failure", true), &mut again);
        assert!(again.is_empty());
    }
}
