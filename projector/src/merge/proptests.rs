//! Property tests: the merge is a join-semilattice, so any order and any repetition of a job's
//! deliveries folds to the same record; and the record obeys the rules of `mod.rs`.

use oot_avro::event::{CallbackEvent, FailedTest, TestCounts};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, Index};

use super::tests::{fold, in_progress};
use super::*;

/// Small pools, so that equal values, equal times and equal ranks are common.
fn arb_failed_test() -> impl Strategy<Value = FailedTest> {
    (
        select(vec!["test_add", "test_mul", "test_\"odd\"\n"]),
        option::of(prop_oneof![
            select(vec!["boom".to_string(), String::new()]),
            any::<String>()
        ]),
        option::of("[a-z \\n]{0,300}"),
        option::of(select(vec![0.0, 1.5, 1e-7])),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(name, message, stacktrace, duration_s, message_truncated, stacktrace_truncated)| {
                FailedTest {
                    name: name.into(),
                    classname: "test_ops.TestXPU".into(),
                    message,
                    stacktrace,
                    duration_s,
                    message_truncated,
                    stacktrace_truncated,
                }
            },
        )
}

fn arb_seconds() -> impl Strategy<Value = f64> {
    prop_oneof![select(vec![0.0, 12.3, 60.0]), -1e9..1e9f64]
}

/// One callback of the job of `tests::JOB_KEY`, valid as ingest lets it through: started_at
/// only on in_progress, conclusion and completed_at only on completed.
fn arb_event() -> impl Strategy<Value = CallbackEvent> {
    let lifecycle = (
        any::<bool>(),
        select(vec![
            "success",
            "failure",
            "cancelled",
            "timed_out",
            "skipped",
        ]),
        0..3i64,
        option::of(arb_seconds()),
        option::of(arb_seconds()),
    );
    let upstream = (
        option::of(select(vec!["pytorch/pytorch", "pytorch/vision"])),
        option::of(1..3i64),
        option::of(select(vec!["abc", "def"])),
        option::of(select(vec!["L1", "L2"])),
        select(vec!["pull_request", "push"]),
        select(vec![
            "https://example.com/runs/1",
            "https://example.com/runs/2",
        ]),
    );
    let results = (
        option::of((0..3i64, 0..3i64, 0..3i64, option::of(0..10i64))),
        vec(arb_failed_test(), 0..4),
        option::of(select(vec![
            "https://example.com/a",
            "https://example.com/b",
        ])),
        option::of(select(vec![r#"{"device":"a"}"#, r#"{"device":"b"}"#])),
        vec(
            select(vec!["failed_tests: kept 1000 of 1523 entries"]),
            0..2,
        ),
    );
    (lifecycle, upstream, results).prop_map(
        |(
            (done, conclusion, minute, queue_time, execution_time),
            (upstream_repo, pr_number, head_sha, level, event_type, url),
            (counts, failed_tests, artifact_url, environment, truncations),
        )| {
            let mut e = in_progress();
            let t = 1_777_370_130_000_000 + minute * 60_000_000;
            if done {
                e.workflow.status = "completed".into();
                e.workflow.conclusion = Some(conclusion.into());
                e.workflow.started_at = None;
                e.workflow.completed_at = Some(t);
            } else {
                e.workflow.started_at = Some(t);
            }
            e.queue_time = queue_time;
            e.execution_time = execution_time;
            e.upstream_repo = upstream_repo.map(Into::into);
            e.pr_number = pr_number;
            e.head_sha = head_sha.map(Into::into);
            e.downstream_repo_level = level.map(Into::into);
            e.event_type = event_type.into();
            e.workflow.url = url.into();
            e.workflow.test_results = counts.map(|(passed, failed, skipped, total)| TestCounts {
                passed,
                failed,
                skipped,
                total,
            });
            e.workflow.failed_tests = failed_tests;
            e.workflow.artifact_url = artifact_url.map(Into::into);
            e.workflow.environment_json = environment.map(Into::into);
            e.truncations = truncations.into_iter().map(Into::into).collect();
            e
        },
    )
}

/// `events` stamped as deliveries: a fresh event id and receive time each.
fn stamp(events: Vec<CallbackEvent>, times: &[i64]) -> Vec<CallbackEvent> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e.event_id = format!("ev-{i}");
            e.received_at = times[i % times.len()];
            e
        })
        .collect()
}

/// A job's deliveries: 1..6 distinct callbacks, each delivered at least once, some several
/// times (same content, new event id, new receive time).
pub(crate) fn arb_deliveries() -> impl Strategy<Value = (Vec<CallbackEvent>, Vec<CallbackEvent>)> {
    (
        vec(arb_event(), 1..6),
        vec(any::<Index>(), 0..6),
        vec(0..1_000_000i64, 12),
    )
        .prop_map(|(callbacks, extra, times)| {
            let mut all = callbacks.clone();
            all.extend(extra.iter().map(|i| i.get(&callbacks).clone()));
            (callbacks, stamp(all, &times))
        })
}

/// A reordering of `items`, and some of them delivered again (exact repeats).
pub(crate) fn shuffled_with_repeats<T: Clone>(
    items: &[T],
    swaps: &[Index],
    repeats: &[Index],
) -> Vec<T> {
    let mut out = items.to_vec();
    out.extend(repeats.iter().map(|i| i.get(items).clone()));
    for (k, swap) in swaps.iter().enumerate() {
        let i = k % out.len();
        let j = swap.index(out.len());
        out.swap(i, j);
    }
    out
}

/// The stored form without `first_seen_at`, which alone depends on which deliveries arrived.
fn without_first_seen(r: &JobRecord) -> serde_json::Value {
    let mut v = serde_json::to_value(r).expect("serializable");
    if let Some(map) = v.as_object_mut() {
        map.remove("first_seen_at");
    }
    v
}

fn record_of(events: &[CallbackEvent]) -> JobRecord {
    fold(events)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_order_and_repetition_folds_to_the_same_record(
        (_, deliveries) in arb_deliveries(),
        swaps_a in vec(any::<Index>(), 24),
        swaps_b in vec(any::<Index>(), 24),
        repeats_a in vec(any::<Index>(), 0..6),
        repeats_b in vec(any::<Index>(), 0..6),
    ) {
        let a = record_of(&shuffled_with_repeats(&deliveries, &swaps_a, &repeats_a));
        let b = record_of(&shuffled_with_repeats(&deliveries, &swaps_b, &repeats_b));
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a, &record_of(&deliveries));
    }

    #[test]
    fn redeliveries_only_move_first_seen_at(
        (callbacks, deliveries) in arb_deliveries(),
        swaps in vec(any::<Index>(), 24),
    ) {
        let once = record_of(&stamp(callbacks, &[5_000_000]));
        let many = record_of(&shuffled_with_repeats(&deliveries, &swaps, &[]));
        prop_assert_eq!(without_first_seen(&once), without_first_seen(&many));
        let earliest = deliveries.iter().map(|e| e.received_at).min();
        prop_assert_eq!(Some(many.view().first_seen_at), earliest);
    }

    #[test]
    fn merge_is_commutative_associative_idempotent(
        xs in vec(arb_event(), 1..4),
        ys in vec(arb_event(), 1..4),
        zs in vec(arb_event(), 1..4),
        times in vec(0..1_000_000i64, 3),
    ) {
        let a = record_of(&stamp(xs, &times[0..1]));
        let b = record_of(&stamp(ys, &times[1..2]));
        let c = record_of(&stamp(zs, &times[2..3]));
        let ab = a.merge(&b).expect("same job");
        prop_assert_eq!(&ab, &b.merge(&a).expect("same job"));
        prop_assert_eq!(
            ab.merge(&c).expect("same job"),
            a.merge(&b.merge(&c).expect("same job")).expect("same job")
        );
        prop_assert_eq!(&a.merge(&a).expect("same job"), &a);
        // The join is an upper bound: merging either input again changes nothing.
        prop_assert_eq!(&ab.merge(&a).expect("same job"), &ab);
    }

    #[test]
    fn any_completed_callback_makes_the_job_completed((callbacks, deliveries) in arb_deliveries()) {
        let r = record_of(&deliveries);
        let any_completed = callbacks.iter().any(|e| e.workflow.status == "completed");
        prop_assert_eq!(r.is_completed(), any_completed);
        prop_assert_eq!(r.view().status.as_str(), if any_completed { "completed" } else { "in_progress" });
        prop_assert_eq!(r.view().conclusion.is_some(), any_completed);
        let any_real = callbacks.iter().any(|e| {
            e.workflow.conclusion.as_deref().is_some_and(|c| c != "timed_out")
        });
        if any_real {
            prop_assert_ne!(r.view().conclusion, Some(oot_contract::Conclusion::TimedOut));
        }
    }

    #[test]
    fn the_top_ranked_callback_decides_the_outcome((callbacks, deliveries) in arb_deliveries()) {
        let r = record_of(&deliveries);
        let top = callbacks
            .iter()
            .max_by(|a, b| {
                let rank = |e| JobRecord::from_event(e).expect("valid").rank().clone();
                rank(a).cmp(&rank(b))
            })
            .expect("non-empty");
        let v = r.view();
        let top_record = JobRecord::from_event(top).expect("valid");
        prop_assert_eq!(r.rank(), top_record.rank());
        prop_assert_eq!(v.status.as_str(), top.workflow.status.as_str());
        prop_assert_eq!(v.conclusion.map(|c| c.as_str()), top.workflow.conclusion.as_deref());
        if top.workflow.completed_at.is_some() {
            prop_assert_eq!(v.completed_at, top.workflow.completed_at);
        }
        if !top.workflow.failed_tests.is_empty() {
            prop_assert_eq!(v.failed_test_list, top.workflow.failed_tests.as_slice());
        }
    }

    #[test]
    fn a_field_any_callback_set_is_never_cleared((callbacks, deliveries) in arb_deliveries()) {
        let v_record = record_of(&deliveries);
        let v = v_record.view();
        let any = |f: &dyn Fn(&CallbackEvent) -> bool| callbacks.iter().any(f);
        prop_assert_eq!(v.started_at.is_some(), any(&|e| e.workflow.started_at.is_some()));
        prop_assert_eq!(v.completed_at.is_some(), any(&|e| e.workflow.completed_at.is_some()));
        prop_assert_eq!(v.queue_time.is_some(), any(&|e| e.queue_time.is_some()));
        prop_assert_eq!(v.execution_time.is_some(), any(&|e| e.execution_time.is_some()));
        prop_assert_eq!(v.upstream_repo.is_some(), any(&|e| e.upstream_repo.is_some()));
        prop_assert_eq!(v.pr_number.is_some(), any(&|e| e.pr_number.is_some()));
        prop_assert_eq!(v.pytorch_head_sha.is_some(), any(&|e| e.head_sha.is_some()));
        prop_assert_eq!(
            v.downstream_repo_level.is_some(),
            any(&|e| e.downstream_repo_level.is_some())
        );
        prop_assert_eq!(v.total_tests.is_some(), any(&|e| e.workflow.test_results.is_some()));
        prop_assert_eq!(
            !v.failed_test_list.is_empty(),
            any(&|e| !e.workflow.failed_tests.is_empty())
        );
        prop_assert_eq!(v.artifact_url.is_some(), any(&|e| e.workflow.artifact_url.is_some()));
        prop_assert_eq!(v.environment.is_some(), any(&|e| e.workflow.environment_json.is_some()));
        prop_assert_eq!(!v.truncations.is_empty(), any(&|e| !e.truncations.is_empty()));
    }

    #[test]
    fn bounding_commutes_with_merging(
        (_, deliveries) in arb_deliveries(),
        swaps in vec(any::<Index>(), 24),
        budget in 0usize..1_500,
    ) {
        // The DynamoDB path: merge each delivery into the stored, bounded record.
        let order = shuffled_with_repeats(&deliveries, &swaps, &[]);
        let mut stored: Option<JobRecord> = None;
        for e in &order {
            let merged = merge_event(stored.as_ref(), e).expect("same job");
            stored = Some(merged.record.bounded(budget));
        }
        let stored = stored.expect("non-empty");
        prop_assert_eq!(&stored, &record_of(&deliveries).bounded(budget));
        // Any redelivery leaves the stored item as it is, and needs no write.
        for e in &deliveries {
            let again = merge_event(Some(&stored), e).expect("same job");
            prop_assert!(!again.changed);
        }
    }

    #[test]
    fn stored_form_round_trips((_, deliveries) in arb_deliveries()) {
        let r = record_of(&deliveries);
        // The serde form, which the stored form builds on...
        let text = serde_json::to_string(&r).expect("serialize");
        let back: JobRecord = serde_json::from_str(&text).expect("deserialize");
        prop_assert_eq!(&back, &r);
        // ...and the stored form (each rank listed once) of the copy an item holds.
        let bounded = r.bounded(20_000);
        let stored = super::to_stored(&bounded).expect("stored");
        prop_assert_eq!(super::from_stored(&stored).expect("read back"), bounded);
    }

    #[test]
    fn bounded_failed_tests_fit_and_stay_valid_json(
        tests in vec(arb_failed_test(), 0..40),
        budget in 2usize..4_000,
    ) {
        let full = FailedTests::new(tests);
        let cut = full.bounded(budget);
        let json = cut.to_json();
        prop_assert!(json.len() <= budget, "{} > {}", json.len(), budget);
        prop_assert_eq!(&cut.bounded(budget), &cut);
        let parsed: Vec<FailedTest> = serde_json::from_str(&json).expect("valid JSON");
        prop_assert_eq!(&parsed, &cut.tests);
        prop_assert_eq!(cut.tests.len() as u64 + cut.omitted, full.tests.len() as u64);
        for (kept, original) in cut.tests.iter().zip(&full.tests) {
            prop_assert_eq!(&kept.name, &original.name);
            prop_assert!(kept.message.is_none() || kept.message == original.message);
            prop_assert!(kept.stacktrace.is_none() || kept.stacktrace == original.stacktrace);
            prop_assert!(kept.message == original.message || kept.message_truncated);
            prop_assert!(kept.stacktrace == original.stacktrace || kept.stacktrace_truncated);
        }
        if full.to_json().len() <= budget {
            prop_assert_eq!(&cut, &full);
        }
    }
}
