//! Unit tests of the merge rules, one scenario each.

use oot_avro::event::{CallbackEvent, FailedTest, TestCounts, WorkflowRun};
use oot_contract::{Conclusion, PrNumber, RepoLevel, Status};

use super::*;

pub(crate) const JOB_KEY: &str =
    "intel/torch-xpu-ops/d-1/xpu-ci/linux-xpu / test (default, 1, 4)/42";
const T0: i64 = 1_777_370_130_000_000; // 2026-04-28T10:15:30Z

/// An `in_progress` callback as ingest would write it.
pub(crate) fn in_progress() -> CallbackEvent {
    CallbackEvent {
        event_id: "ev-in-progress".into(),
        received_at: T0 + 1_000_000,
        job_key: JOB_KEY.into(),
        verified_repo: "intel/torch-xpu-ops".into(),
        downstream_repo_level: Some("L2".into()),
        queue_time: Some(12.3),
        execution_time: None,
        event_type: "pull_request".into(),
        delivery_id: "d-1".into(),
        upstream_repo: Some("pytorch/pytorch".into()),
        pr_number: Some(4242),
        head_sha: Some("0123abcd".into()),
        workflow: WorkflowRun {
            schema_version: Some("1".into()),
            status: "in_progress".into(),
            conclusion: None,
            name: "xpu-ci".into(),
            url: "https://github.com/intel/torch-xpu-ops/actions/runs/123".into(),
            job_name: "linux-xpu / test (default, 1, 4)".into(),
            check_run_id: "42".into(),
            run_id: "123".into(),
            run_attempt: 1,
            started_at: Some(T0),
            completed_at: None,
            test_results: None,
            failed_tests: vec![],
            environment_json: Some(r#"{"device":"Max 1550"}"#.into()),
            artifact_url: None,
        },
        truncations: vec![],
        relay_document: "{}".into(),
    }
}

/// A `completed` callback with `conclusion`, ending `minutes` after the start. Like the
/// relay's, it carries no `started_at` nor `queue_time`.
pub(crate) fn completed(conclusion: &str, minutes: i64) -> CallbackEvent {
    let mut e = in_progress();
    e.event_id = format!("ev-{conclusion}-{minutes}");
    e.received_at = T0 + minutes * 60_000_000 + 2_000_000;
    e.queue_time = None;
    e.execution_time = Some(minutes as f64 * 60.0);
    e.workflow.status = "completed".into();
    e.workflow.conclusion = Some(conclusion.into());
    e.workflow.started_at = None;
    e.workflow.completed_at = Some(T0 + minutes * 60_000_000);
    e.workflow.environment_json = None;
    if conclusion != "timed_out" {
        e.workflow.test_results = Some(TestCounts {
            passed: 8430,
            failed: 2,
            skipped: 20,
            total: Some(8452),
        });
        e.workflow.failed_tests = vec![
            failed_test("test_add", "boom"),
            failed_test("test_mul", "bang"),
        ];
        e.workflow.artifact_url = Some("https://example.com/artifacts/123".into());
    }
    e
}

/// The relay sweeper's synthetic timeout: completed, `timed_out`, nothing else known.
pub(crate) fn sweeper_timeout(minutes: i64) -> CallbackEvent {
    let mut e = completed("timed_out", minutes);
    e.execution_time = None;
    e
}

pub(crate) fn failed_test(name: &str, message: &str) -> FailedTest {
    FailedTest {
        name: name.into(),
        classname: "test_ops.TestXPU".into(),
        message: Some(message.into()),
        stacktrace: Some(format!("Traceback:\n  {name}\n{message}")),
        duration_s: Some(1.5),
        message_truncated: false,
        stacktrace_truncated: false,
    }
}

/// Another delivery of the same callback: same content, new id, received later.
pub(crate) fn redelivery(e: &CallbackEvent, n: i64) -> CallbackEvent {
    let mut copy = e.clone();
    copy.event_id = format!("{}-redelivery-{n}", e.event_id);
    copy.received_at += n * 1_000_000;
    copy
}

/// Folds the events into a record one delivery at a time, as the projector does.
pub(crate) fn fold(events: &[CallbackEvent]) -> JobRecord {
    let mut stored: Option<JobRecord> = None;
    for e in events {
        stored = Some(merge_event(stored.as_ref(), e).expect("same job").record);
    }
    stored.expect("at least one event")
}

#[test]
fn in_progress_alone_is_running() {
    let r = JobRecord::from_event(&in_progress()).expect("valid");
    let v = r.view();
    assert_eq!(v.status, Status::InProgress);
    assert!(!r.is_completed());
    assert_eq!(v.conclusion, None);
    assert_eq!(v.started_at, Some(T0));
    assert_eq!(v.queue_time, Some(12.3));
    assert_eq!(v.job_key.as_str(), JOB_KEY);
    assert_eq!(v.downstream_repo.as_str(), "intel/torch-xpu-ops");
    assert_eq!(v.pytorch_head_sha, Some("0123abcd"));
    assert_eq!(v.first_seen_at, T0 + 1_000_000);
    assert!(v.failed_test_list.is_empty());
    assert_eq!(r.failed_tests_json(), "[]");
}

#[test]
fn in_progress_then_completed_keeps_both_halves() {
    let r = fold(&[in_progress(), completed("failure", 30)]);
    let v = r.view();
    assert_eq!(v.status, Status::Completed);
    assert_eq!(v.conclusion, Some(Conclusion::Failure));
    // From in_progress, which the completed callback does not repeat.
    assert_eq!(v.started_at, Some(T0));
    assert_eq!(v.queue_time, Some(12.3));
    assert_eq!(v.environment, Some(r#"{"device":"Max 1550"}"#));
    // From completed.
    assert_eq!(v.completed_at, Some(T0 + 30 * 60_000_000));
    assert_eq!(v.execution_time, Some(1800.0));
    assert_eq!(v.total_tests, Some(8452));
    assert_eq!(v.failed_tests, Some(2));
    assert_eq!(v.failed_test_list.len(), 2);
    assert_eq!(v.artifact_url, Some("https://example.com/artifacts/123"));
    assert_eq!(v.first_seen_at, T0 + 1_000_000);
}

#[test]
fn late_in_progress_never_reopens_a_finished_job() {
    let forward = fold(&[in_progress(), completed("success", 30)]);
    let backward = fold(&[completed("success", 30), in_progress()]);
    assert_eq!(forward, backward);
    assert_eq!(backward.view().status, Status::Completed);
    assert_eq!(backward.view().conclusion, Some(Conclusion::Success));
    // Both sides' fields survive the other's nulls.
    assert_eq!(backward.view().started_at, Some(T0));
    assert_eq!(backward.view().execution_time, Some(1800.0));
}

#[test]
fn repeated_in_progress_after_completion_changes_nothing() {
    let done = fold(&[in_progress(), completed("success", 30)]);
    let again = merge_event(Some(&done), &redelivery(&in_progress(), 99)).expect("same job");
    assert!(!again.changed);
    assert_eq!(again.record, done);
}

#[test]
fn duplicates_do_not_change_the_record() {
    let ip = in_progress();
    let done = completed("failure", 30);
    let once = fold(&[ip.clone(), done.clone()]);
    let many = fold(&[
        redelivery(&done, 3),
        ip.clone(),
        done.clone(),
        redelivery(&ip, 1),
        redelivery(&done, 7),
    ]);
    assert_eq!(once, many);

    let redelivered = merge_event(Some(&once), &redelivery(&done, 5)).expect("same job");
    assert!(!redelivered.changed, "a redelivery must not cause a write");
}

#[test]
fn first_seen_at_is_the_earliest_receipt_whatever_the_order() {
    let ip = in_progress();
    let mut early = redelivery(&ip, 0);
    early.received_at = T0 - 5;
    let r = fold(&[completed("success", 30), ip, early]);
    assert_eq!(r.view().first_seen_at, T0 - 5);
}

#[test]
fn real_failure_after_the_sweepers_timeout_wins() {
    // The sweeper gave up at minute 60; the job's real result (ended at minute 45) arrives
    // after it.
    let r = fold(&[in_progress(), sweeper_timeout(60), completed("failure", 45)]);
    let v = r.view();
    assert_eq!(v.conclusion, Some(Conclusion::Failure));
    assert_eq!(v.completed_at, Some(T0 + 45 * 60_000_000));
    assert_eq!(v.execution_time, Some(2700.0));
    assert_eq!(v.failed_test_list.len(), 2);
    assert_eq!(r.rank().stage, Stage::Concluded);
}

#[test]
fn sweepers_timeout_after_the_real_failure_does_not_mask_it() {
    let forward = fold(&[in_progress(), sweeper_timeout(60), completed("failure", 45)]);
    let backward = fold(&[completed("failure", 45), sweeper_timeout(60), in_progress()]);
    assert_eq!(forward, backward);
    let late = merge_event(Some(&backward), &sweeper_timeout(90)).expect("same job");
    assert_eq!(late.record.view().conclusion, Some(Conclusion::Failure));
}

#[test]
fn a_timeout_counts_more_than_in_progress() {
    let r = fold(&[sweeper_timeout(60), in_progress()]);
    assert_eq!(r.view().status, Status::Completed);
    assert_eq!(r.view().conclusion, Some(Conclusion::TimedOut));
    assert_eq!(r.view().started_at, Some(T0));
}

#[test]
fn between_two_real_completions_the_later_one_wins() {
    let early = completed("failure", 30);
    let mut late = completed("success", 40);
    late.workflow.failed_tests = vec![];
    late.workflow.test_results = Some(TestCounts {
        passed: 8432,
        failed: 0,
        skipped: 20,
        total: None,
    });
    for order in [[early.clone(), late.clone()], [late.clone(), early.clone()]] {
        let v_record = fold(&order);
        let v = v_record.view();
        assert_eq!(v.conclusion, Some(Conclusion::Success));
        assert_eq!(v.completed_at, Some(T0 + 40 * 60_000_000));
        assert_eq!(v.execution_time, Some(2400.0));
        assert_eq!(v.failed_tests, Some(0));
        assert_eq!(v.total_tests, Some(8452), "total computed from the counts");
        // The documented consequence of "never cleared": the late callback listed no failed
        // tests, so the early one's list stays.
        assert_eq!(v.failed_test_list.len(), 2);
    }
}

#[test]
fn two_timeouts_the_later_one_wins() {
    let r = fold(&[sweeper_timeout(90), sweeper_timeout(60)]);
    assert_eq!(r.view().completed_at, Some(T0 + 90 * 60_000_000));
}

#[test]
fn equal_rank_different_content_is_decided_by_content_not_order() {
    let a = completed("failure", 30);
    let mut b = completed("cancelled", 30);
    b.execution_time = Some(1.0);
    let ab = fold(&[a.clone(), b.clone()]);
    let ba = fold(&[b, a]);
    assert_eq!(ab, ba);
    // Whole callbacks win, not a mix: conclusion and execution_time come from the same one.
    let v = ab.view();
    match v.conclusion {
        Some(Conclusion::Failure) => assert_eq!(v.execution_time, Some(1800.0)),
        Some(Conclusion::Cancelled) => assert_eq!(v.execution_time, Some(1.0)),
        other => panic!("unexpected conclusion {other:?}"),
    }
}

#[test]
fn fields_are_never_cleared_by_a_callback_that_lacks_them() {
    let mut ip = in_progress();
    ip.workflow.artifact_url = Some("https://example.com/early".into());
    let mut done = sweeper_timeout(60);
    done.upstream_repo = None;
    done.pr_number = None;
    done.head_sha = None;
    done.downstream_repo_level = None;
    done.truncations = vec![];
    let r = fold(&[ip, done]);
    let v = r.view();
    assert_eq!(v.status, Status::Completed);
    assert_eq!(v.upstream_repo.map(|r| r.as_str()), Some("pytorch/pytorch"));
    assert_eq!(v.pr_number, PrNumber::new(4242).ok());
    assert_eq!(v.pytorch_head_sha, Some("0123abcd"));
    assert_eq!(v.downstream_repo_level, Some(RepoLevel::L2));
    assert_eq!(v.artifact_url, Some("https://example.com/early"));
    assert_eq!(v.queue_time, Some(12.3));
    assert_eq!(v.started_at, Some(T0));
}

#[test]
fn higher_ranked_value_replaces_a_lower_ranked_one() {
    let mut done = completed("success", 30);
    done.queue_time = Some(99.0);
    let r = fold(&[done, in_progress()]);
    assert_eq!(r.view().queue_time, Some(99.0));
}

#[test]
fn different_jobs_are_refused() {
    let a = JobRecord::from_event(&in_progress()).expect("valid");
    let mut other = completed("success", 30);
    other.job_key = "intel/torch-xpu-ops/d-2/xpu-ci/other/43".into();
    let b = JobRecord::from_event(&other).expect("valid");
    let err = a.merge(&b).expect_err("different keys");
    assert_eq!(err.left, JOB_KEY);
    assert_eq!(err.right, other.job_key);
    assert!(merge_callbacks(&b, &a).is_err());
    assert!(merge_event(Some(&a), &other).is_err());
}

#[test]
fn stage_follows_status_and_conclusion() {
    assert_eq!(Stage::of(Status::InProgress, None), Stage::InProgress);
    // A status outside the contract never reaches the merge: the event is refused.
    assert!(Status::parse("queued").is_err());
    assert_eq!(
        Stage::of(Status::Completed, Some(Conclusion::TimedOut)),
        Stage::TimedOut
    );
    assert_eq!(Stage::of(Status::Completed, None), Stage::TimedOut);
    for &c in Conclusion::ALL {
        if c != Conclusion::TimedOut {
            assert_eq!(
                Stage::of(Status::Completed, Some(c)),
                Stage::Concluded,
                "{c}"
            );
        }
    }
    assert!(Stage::InProgress < Stage::TimedOut && Stage::TimedOut < Stage::Concluded);
}

#[test]
fn an_event_whose_strings_are_not_the_contracts_is_refused_with_the_field() {
    let mut queued = in_progress();
    queued.workflow.status = "queued".into();
    let err = JobRecord::from_event(&queued).expect_err("unknown status");
    assert_eq!(err.field, "workflow.status");
    assert!(err.to_string().contains("\"queued\""), "{err}");

    type Spoil = fn(&mut CallbackEvent);
    let cases: [(&str, Spoil); 6] = [
        ("workflow.conclusion", |e| {
            e.workflow.conclusion = Some("SUCCESS".into())
        }),
        ("verified_repo", |e| e.verified_repo = "not a repo".into()),
        ("downstream_repo_level", |e| {
            e.downstream_repo_level = Some("L9".into())
        }),
        ("job_key", |e| e.job_key = "too/short".into()),
        ("pr_number", |e| e.pr_number = Some(-1)),
        ("workflow.check_run_id", |e| {
            e.workflow.check_run_id = "042".into()
        }),
    ];
    for (field, spoil) in cases {
        let mut e = completed("success", 30);
        spoil(&mut e);
        let err = JobRecord::from_event(&e).expect_err(field);
        assert_eq!(err.field, field);
        // The whole event is refused, so merging it into a stored record changes nothing.
        let stored = fold(&[in_progress()]);
        assert_eq!(
            merge_event(Some(&stored), &e),
            Err(Refused::Invalid(err.clone()))
        );
    }
}

/// A merge state written by the version that stored every field as a string
/// (`merge_state_v1.json`: `fold(in_progress, completed failure 30).bounded(20_000)`).
pub(crate) const MERGE_STATE_V1: &str = include_str!("merge_state_v1.json");

#[test]
fn merge_state_written_before_the_fields_were_typed_still_reads() {
    let stored: JobRecord = serde_json::from_str(MERGE_STATE_V1).expect("reads the old form");
    let now = fold(&[in_progress(), completed("failure", 30)]).bounded(20_000);
    // Equal, ranks and digests included: the typed record digests and orders as before.
    assert_eq!(stored, now);
    assert_eq!(stored.view().status, Status::Completed);
    assert_eq!(stored.view().conclusion, Some(Conclusion::Failure));
    // And its serde form, which the stored form builds on, is the same byte for byte.
    assert_eq!(
        serde_json::to_string(&stored).expect("serialize"),
        MERGE_STATE_V1.trim_end()
    );
    let again = merge_event(Some(&stored), &completed("failure", 30)).expect("same job");
    assert!(!again.changed);
}

#[test]
fn rank_ignores_event_id_and_received_at() {
    let e = completed("failure", 30);
    let a = JobRecord::from_event(&e).expect("valid");
    let b = JobRecord::from_event(&redelivery(&e, 9)).expect("valid");
    assert_eq!(a.rank(), b.rank());
    assert_eq!(a.rank().digest.len(), 64);
}

#[test]
fn stored_form_round_trips() {
    let r = fold(&[in_progress(), completed("failure", 30)]);
    let text = serde_json::to_string(&r).expect("serialize");
    let back: JobRecord = serde_json::from_str(&text).expect("deserialize");
    assert_eq!(back, r);
    let bounded = r.bounded(20_000);
    let stored = super::to_stored(&bounded).expect("stored");
    assert_eq!(super::from_stored(&stored).expect("read back"), bounded);
}

#[test]
fn failed_tests_json_is_compact_and_escaped() {
    let t = FailedTest {
        name: "test_\"quoted\"".into(),
        classname: "C\\D".into(),
        message: Some("line1\nline2\u{1}é".into()),
        stacktrace: None,
        duration_s: Some(2.0),
        message_truncated: true,
        stacktrace_truncated: false,
    };
    let json = failed_tests_json(std::slice::from_ref(&t));
    assert_eq!(
        json,
        r#"[{"name":"test_\"quoted\"","classname":"C\\D","message":"line1\nline2\u0001é","stacktrace":null,"duration_s":2.0,"message_truncated":true,"stacktrace_truncated":false}]"#
    );
    let back: Vec<FailedTest> = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(back, vec![t]);
    assert_eq!(failed_tests_json(&[]), "[]");
}

fn big_list(n: usize) -> FailedTests {
    FailedTests::new(
        (0..n)
            .map(|i| FailedTest {
                name: format!("test_case_{i}"),
                classname: "test_ops.TestXPU".into(),
                message: Some("m".repeat(1024)),
                stacktrace: Some("s".repeat(4096)),
                duration_s: Some(0.5),
                message_truncated: false,
                stacktrace_truncated: true,
            })
            .collect(),
    )
}

#[test]
fn bounded_list_that_fits_is_unchanged() {
    let list = big_list(3);
    assert_eq!(list.bounded(DYNAMODB_FAILED_TESTS_BUDGET), list);
    assert!(!FailedTests::new(vec![failed_test("a", "b")]).is_cut());
}

#[test]
fn bounding_drops_stacktraces_before_messages() {
    let list = big_list(1000); // about 5.2 MB of JSON
    assert!(list.to_json().len() > 5_000_000);
    let cut = list.bounded(DYNAMODB_FAILED_TESTS_BUDGET);
    let json = cut.to_json();
    assert!(json.len() <= DYNAMODB_FAILED_TESTS_BUDGET);
    assert_eq!(cut.omitted, 0, "all 1000 names fit");
    assert_eq!(cut.tests.len(), 1000);
    assert!(cut.is_cut());
    // Messages come back first, from the first failure on; no budget is left for stacktraces.
    let with_message = cut.tests.iter().filter(|t| t.message.is_some()).count();
    assert!(with_message > 100, "{with_message}");
    assert!(cut.tests[0].message.is_some());
    assert!(cut.tests[999].message.is_none() && cut.tests[999].message_truncated);
    assert!(cut
        .tests
        .iter()
        .all(|t| t.stacktrace.is_none() && t.stacktrace_truncated));
    assert_eq!(cut.bounded(DYNAMODB_FAILED_TESTS_BUDGET), cut, "idempotent");
}

#[test]
fn bounding_keeps_stacktraces_of_the_first_failures_when_room_is_left() {
    let list = big_list(10);
    let full = list.to_json().len();
    let cut = list.bounded(full - 1);
    assert!(cut.to_json().len() < full);
    assert!(cut.tests.iter().all(|t| t.message.is_some()));
    assert!(cut.tests[0].stacktrace.is_some());
    assert!(cut.tests[9].stacktrace.is_none());
}

#[test]
fn bounding_drops_entries_from_the_end_only_when_names_do_not_fit() {
    let list = big_list(1000);
    let cut = list.bounded(10_000);
    assert!(cut.to_json().len() <= 10_000);
    assert!(cut.omitted > 0);
    assert_eq!(cut.tests.len() as u64 + cut.omitted, 1000);
    assert_eq!(cut.tests[0].name, "test_case_0");
    let again = cut.bounded(5_000);
    assert_eq!(
        again.tests.len() as u64 + again.omitted,
        1000,
        "omitted accumulates"
    );
    assert_eq!(list.bounded(0).tests.len(), 0);
    assert_eq!(list.bounded(0).omitted, 1000);
}

#[test]
fn bounded_record_ignores_redeliveries() {
    let mut done = completed("failure", 30);
    done.workflow.failed_tests = big_list(200).tests;
    let stored = fold(&[in_progress(), done.clone()]).bounded(20_000);
    assert!(stored
        .view()
        .failed_test_list
        .iter()
        .any(|t| t.stacktrace.is_none()));
    assert!(stored.failed_tests_json().len() <= 20_000);
    let again = merge_event(Some(&stored), &redelivery(&done, 1)).expect("same job");
    assert!(!again.changed);
    assert_eq!(again.record.bounded(20_000), stored);
    // The rank of the cut list is its source's, so a better callback still replaces it.
    let later = merge_event(Some(&stored), &completed("success", 50)).expect("same job");
    assert!(later.changed);
    assert_eq!(later.record.view().failed_test_list.len(), 2);
}
