//! Property tests of the rules: the order runs arrive in does not change a slot's history
//! (within its bound), the bound holds, an alert never opens twice without closing between,
//! and evaluating a log again from stored state gives what evaluating it at once gives.

use proptest::prelude::*;

use crate::config::{AlertsConfig, Rules};
use crate::evaluator::{Changes, Evaluator, SlotKey};
use crate::history::tests::run;
use crate::history::{Run, SlotHistory};
use crate::lifecycle::{OpenAlerts, Transition};

const CONCLUSIONS: [&str; 5] = ["success", "failure", "timed_out", "cancelled", "skipped"];

fn runs() -> impl Strategy<Value = Vec<Run>> {
    prop::collection::vec((1u64..40, 1u32..3, 0usize..5, any::<bool>()), 0..60).prop_map(|v| {
        v.into_iter()
            .map(|(id, attempt, c, nightly)| run(id, attempt, CONCLUSIONS[c], nightly))
            .collect()
    })
}

fn key() -> SlotKey {
    SlotKey {
        backend: "a/b".into(),
        workflow_name: "ci".into(),
        job_name: "test".into(),
    }
}

fn config(streak: u32, m: u32, k: u32, recovery: u32) -> AlertsConfig {
    AlertsConfig {
        defaults: Rules {
            failing_streak: streak,
            m_of_k_failures: m.min(k),
            m_of_k_runs: k,
            pass_rate_runs: 6,
            stale_days: 0,
            recovery_passes: recovery,
            ..Rules::default()
        },
        ..AlertsConfig::default()
    }
}

proptest! {
    /// Without eviction, a slot's history is the same whatever order its runs arrive in (each
    /// run's latest attempt, in newness order): the rules read the same runs.
    #[test]
    fn the_history_does_not_depend_on_arrival_order(runs in runs(), seed in any::<u64>()) {
        // One report per (run, attempt): two reports of one attempt are the same job.
        let mut unique: Vec<Run> = Vec::new();
        for r in runs {
            if !unique.iter().any(|u| u.link.run_id == r.link.run_id && u.link.run_attempt == r.link.run_attempt) {
                unique.push(r);
            }
        }
        let mut shuffled = unique.clone();
        // A deterministic shuffle from the seed.
        let n = shuffled.len();
        for i in (1..n).rev() {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        let mut a = SlotHistory::default();
        let mut b = SlotHistory::default();
        for r in unique { a.record(r, 1000, 1000); }
        for r in shuffled { b.record(r, 1000, 1000); }
        prop_assert_eq!(a, b);
    }

    /// A slot never keeps more runs than its bound, each run once, in newness order.
    #[test]
    fn a_slot_is_bounded_and_ordered(runs in runs(), cap in 1usize..8) {
        let mut slot = SlotHistory::default();
        for r in runs {
            slot.record(r, cap, cap);
            prop_assert!(slot.runs.len() <= cap && slot.nightly.len() <= cap);
        }
        for pair in slot.runs.windows(2) {
            prop_assert!(crate::history::newness(&pair[0].link) < crate::history::newness(&pair[1].link));
            prop_assert_ne!(&pair[0].link.run_id, &pair[1].link.run_id);
        }
    }

    /// For every alert key, transitions alternate opened, closed, opened...: an open alert is
    /// never sent twice, and only an open alert closes.
    #[test]
    fn alerts_alternate_open_and_closed(runs in runs(), streak in 1u32..4, m in 1u32..4, k in 1u32..6, recovery in 1u32..3) {
        let mut evaluator = Evaluator::new(config(streak, m, k, recovery));
        let mut transitions = Vec::new();
        for r in runs {
            let mut changes = Changes::default();
            evaluator.on_run(key(), r, &mut changes);
            transitions.extend(changes.transitions);
        }
        let mut open: std::collections::BTreeMap<String, bool> = Default::default();
        for t in &transitions {
            let was_open = open.get(&t.alert().rule).copied().unwrap_or(false);
            match t {
                Transition::Opened(_) => prop_assert!(!was_open, "opened twice: {transitions:?}"),
                Transition::Closed(_) => prop_assert!(was_open, "closed while not open"),
            }
            open.insert(t.alert().rule.clone(), matches!(t, Transition::Opened(_)));
        }
    }

    /// Stopping anywhere, storing the state and resuming from it gives the same transitions
    /// and the same state as one uninterrupted run; feeding the batch before the stop again (a
    /// redelivery after a crash before the commit) changes nothing.
    #[test]
    fn resuming_from_stored_state_repeats_nothing(runs in runs(), stop in 0usize..60) {
        let config = config(2, 2, 4, 1);
        let mut whole = Evaluator::new(config.clone());
        let mut all = Vec::new();
        for r in runs.clone() {
            let mut changes = Changes::default();
            whole.on_run(key(), r, &mut changes);
            all.extend(changes.transitions);
        }
        let stop = stop.min(runs.len());
        let mut first = Evaluator::new(config.clone());
        let mut resumed_transitions = Vec::new();
        for r in runs[..stop].iter().cloned() {
            let mut changes = Changes::default();
            first.on_run(key(), r, &mut changes);
            resumed_transitions.extend(changes.transitions);
        }
        // What the store keeps: the slots and the open alerts.
        let open: Vec<_> = first.open_alerts().cloned().collect();
        let mut resumed = Evaluator::new(config);
        resumed.slots = first.slots.clone();
        resumed.open = OpenAlerts::from_stored(open);
        for r in runs[..stop].iter().cloned() {
            let mut changes = Changes::default();
            resumed.on_run(key(), r, &mut changes);
            prop_assert!(changes.transitions.is_empty(), "a redelivered run repeated an alert");
        }
        for r in runs[stop..].iter().cloned() {
            let mut changes = Changes::default();
            resumed.on_run(key(), r, &mut changes);
            resumed_transitions.extend(changes.transitions);
        }
        prop_assert_eq!(resumed_transitions, all);
        prop_assert_eq!(resumed.slots, whole.slots);
        prop_assert_eq!(resumed.open, whole.open);
    }
}
