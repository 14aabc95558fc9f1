//! One test's history in one backend (`/oot/{org}/{repo}/tests/history`, contract §12.11,
//! §12.14): per job slot where it failed in the window, a strip of what each job said about it,
//! newest first, each with its run, trigger and failure message; and the slot's regression
//! range on the nightly series, or why there is none.
//!
//! The strip is [`oot_triage::slot_histories`]' and the range [`oot_triage::regression_range`]'s,
//! over the jobs of the slot read (its newest and its nightlies: contract §12.14); the slots
//! listed and their counts are the reads' ([`SlotCounts`]). This module only shapes them: the
//! newest [`STRIP_JOBS`] points, times as RFC 3339, and a word for the range ([`RangeFinding`]).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use oot_triage::{
    regression_range, slot_histories, HistoryPoint, JobOutcome, JobResult, JobSlot,
    RegressionRange, SlotHistory, TestId, TestResult, Trigger,
};

use crate::clock::rfc3339;
use crate::rules::Window;
use crate::views::failing_tests::PrRef;

/// Jobs shown per slot, the newest; `jobs_in_window` counts them all. The range is found over
/// every nightly of the window, not only those shown.
pub const STRIP_JOBS: usize = 50;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestHistoryView {
    pub downstream_repo: String,
    /// `''` when the jobs sent none.
    pub classname: String,
    pub name: String,
    pub window: &'static str,
    pub since: Option<String>,
    pub generated_at: Option<String>,
    /// At most this many points per slot ([`STRIP_JOBS`]).
    pub strip_jobs: usize,
    /// Slots where some job of the window failed the test, by workflow and job name; empty when
    /// none did (an unknown test included).
    pub slots: Vec<SlotLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotLine {
    pub workflow_name: String,
    pub job_name: String,
    /// Jobs of the slot in the window (every trigger and attempt), and how many failed the test.
    pub jobs_in_window: usize,
    pub failed_in_window: usize,
    pub regression: Regression,
    /// The newest [`STRIP_JOBS`] jobs, newest first.
    pub points: Vec<Point>,
}

/// Where the test broke on the slot's nightly series (§12.7), over the window's nightlies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Regression {
    pub finding: RangeFinding,
    pub last_pass: Option<String>,
    pub first_fail: Option<String>,
    /// `https://github.com/pytorch/pytorch/compare/{last_pass}...{first_fail}`, when found.
    pub compare_url: Option<String>,
}

/// What the nightly series says, in one word: why there is a range, or why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeFinding {
    /// Both ends known: the nightly that last passed, the first of the failing streak.
    Found,
    /// Failing on every nightly of the window that said anything: the last pass, if any, is
    /// before the window (a longer window may find it).
    NoPassInWindow,
    /// The last nightly that said anything passed it: not failing on main.
    PassingOnNightly,
    /// No nightly of the window said anything about it (none ran, or none reported counts).
    NoNightlyResult,
}

impl RangeFinding {
    /// The finding for `range`, given whether some nightly of the series knew the result.
    pub fn of(range: &RegressionRange, nightly_known: bool) -> RangeFinding {
        match (&range.last_pass, &range.first_fail) {
            (Some(_), Some(_)) => RangeFinding::Found,
            (None, Some(_)) => RangeFinding::NoPassInWindow,
            _ if nightly_known => RangeFinding::PassingOnNightly,
            _ => RangeFinding::NoNightlyResult,
        }
    }
}

/// One job of the strip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// `failed`, `passed` (did not fail: §12.2) or `unknown`.
    pub result: TestResult,
    pub outcome: JobOutcome,
    /// Whether it is its run's latest attempt (only those count for the status, §12.3).
    pub latest_attempt: bool,
    pub job_key: String,
    pub run_id: String,
    pub run_attempt: u32,
    pub first_seen_at: Option<String>,
    /// `nightly`, `pull_request` or `other` (§12.1).
    pub trigger: &'static str,
    /// The upstream PR, for `pull_request`.
    pub pr: Option<PrRef>,
    pub event_type: String,
    /// `null` when the job named no commit.
    pub upstream_sha: Option<String>,
    pub workflow_run_url: Option<String>,
    /// The failure message, for a failed point that has one.
    pub message: Option<String>,
    pub message_truncated: bool,
}

/// What a point shows beyond the rules' answer, read with its job at the version the rules
/// read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobDetails {
    pub upstream_repo: Option<String>,
    pub event_type: String,
    pub workflow_run_url: Option<String>,
    /// The test's failure message at that version, if it listed the test.
    pub message: Option<String>,
    pub message_truncated: bool,
}

/// What a slot ran in the window: its jobs (every trigger and attempt) and how many of them
/// failed the test (at their latest version), counted by the reads, as the jobs the rules are
/// given may be only some of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotCounts {
    pub jobs: usize,
    pub failed: usize,
}

impl SlotCounts {
    /// The counts of each slot of `jobs` when they are all the slots' jobs of the window.
    pub fn of_all(jobs: &[JobResult], test: &TestId) -> BTreeMap<JobSlot, SlotCounts> {
        slot_histories(jobs, test)
            .into_iter()
            .map(|history| {
                let counts = SlotCounts {
                    jobs: history.points.len(),
                    failed: history
                        .points
                        .iter()
                        .filter(|p| p.result == TestResult::Failed)
                        .count(),
                };
                (history.slot, counts)
            })
            .collect()
    }
}

/// The history of `test` in `repo` over `window` ending at `now`: a line for each slot whose
/// `counts` have a failure, its strip and range from the slot's `jobs` as the rules read them,
/// and each job's details by key.
pub fn build(
    repo: &str,
    test: &TestId,
    window: Window,
    now: i64,
    jobs: &[JobResult],
    details: &HashMap<String, JobDetails>,
    counts: &BTreeMap<JobSlot, SlotCounts>,
) -> TestHistoryView {
    let mut histories: BTreeMap<JobSlot, SlotHistory> = slot_histories(jobs, test)
        .into_iter()
        .map(|history| (history.slot.clone(), history))
        .collect();
    let slots = counts
        .iter()
        .filter(|(_, counts)| counts.failed > 0)
        .map(|(slot, counts)| {
            let history = histories.remove(slot).unwrap_or_else(|| SlotHistory {
                slot: slot.clone(),
                points: Vec::new(),
            });
            slot_line(history, *counts, jobs, test, details)
        })
        .collect();
    TestHistoryView {
        downstream_repo: repo.to_owned(),
        classname: test.classname.clone(),
        name: test.name.clone(),
        window: window.as_str(),
        since: rfc3339(window.since(now)),
        generated_at: rfc3339(now),
        strip_jobs: STRIP_JOBS,
        slots,
    }
}

fn slot_line(
    history: SlotHistory,
    counts: SlotCounts,
    jobs: &[JobResult],
    test: &TestId,
    details: &HashMap<String, JobDetails>,
) -> SlotLine {
    let range = regression_range(jobs, test, &history.slot);
    let nightly_known = history
        .points
        .iter()
        .any(|p| p.latest_attempt && p.job.event == Trigger::Nightly && p.result.is_known());
    SlotLine {
        jobs_in_window: counts.jobs,
        failed_in_window: counts.failed,
        regression: Regression {
            finding: RangeFinding::of(&range, nightly_known),
            compare_url: range.compare_url(),
            last_pass: range.last_pass,
            first_fail: range.first_fail,
        },
        points: history
            .points
            .into_iter()
            .take(STRIP_JOBS)
            .map(|p| point(p, details))
            .collect(),
        workflow_name: history.slot.workflow_name,
        job_name: history.slot.job_name,
    }
}

fn point(p: HistoryPoint, details: &HashMap<String, JobDetails>) -> Point {
    let known = details.get(&p.job.job_key).cloned().unwrap_or_default();
    let (trigger, pr) = match p.job.event {
        Trigger::Nightly => ("nightly", None),
        Trigger::PullRequest(number) => (
            "pull_request",
            Some(PrRef {
                upstream_repo: known.upstream_repo,
                number,
            }),
        ),
        Trigger::Other => ("other", None),
    };
    let failed = p.result == TestResult::Failed;
    Point {
        result: p.result,
        outcome: p.outcome,
        latest_attempt: p.latest_attempt,
        run_id: p.job.run_id,
        run_attempt: p.job.run_attempt,
        first_seen_at: rfc3339(p.job.first_seen_at),
        trigger,
        pr,
        event_type: known.event_type,
        upstream_sha: (!p.job.upstream_sha.is_empty()).then_some(p.job.upstream_sha),
        workflow_run_url: known.workflow_run_url,
        message: known.message.filter(|_| failed),
        message_truncated: failed && known.message_truncated,
        job_key: p.job.job_key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oot_triage::{JobSlot, RunOf};

    fn test_id() -> TestId {
        TestId {
            classname: "test/test_ops.py::T".to_owned(),
            name: "test_a [f32]".to_owned(),
        }
    }

    fn job(key: &str, event: Trigger, at: i64, sha: &str, failed: bool) -> JobResult {
        JobResult {
            slot: JobSlot {
                workflow_name: "ci".to_owned(),
                job_name: "test".to_owned(),
            },
            run: RunOf {
                event,
                upstream_sha: sha.to_owned(),
                first_seen_at: at,
                run_id: key.to_owned(),
                run_attempt: 1,
                job_key: key.to_owned(),
            },
            outcome: if failed {
                JobOutcome::Failure
            } else {
                JobOutcome::Success
            },
            reported_counts: true,
            failed: if failed { vec![test_id()] } else { vec![] },
        }
    }

    #[test]
    fn the_finding_says_why_there_is_a_range_or_not() {
        let range = |last_pass: Option<&str>, first_fail: Option<&str>| RegressionRange {
            last_pass: last_pass.map(str::to_owned),
            first_fail: first_fail.map(str::to_owned),
        };
        assert_eq!(
            RangeFinding::of(&range(Some("a"), Some("b")), true),
            RangeFinding::Found
        );
        assert_eq!(
            RangeFinding::of(&range(None, Some("b")), true),
            RangeFinding::NoPassInWindow
        );
        assert_eq!(
            RangeFinding::of(&range(None, None), true),
            RangeFinding::PassingOnNightly
        );
        assert_eq!(
            RangeFinding::of(&range(None, None), false),
            RangeFinding::NoNightlyResult
        );
    }

    #[test]
    fn a_slot_shows_its_newest_jobs_the_range_and_the_failures_messages() {
        let now = 1_777_400_000;
        let mut jobs = vec![
            job("n1", Trigger::Nightly, now - 5_000, "c1", false),
            job("n2", Trigger::Nightly, now - 4_000, "c2", true),
            job("p", Trigger::PullRequest(9), now - 3_000, "c9", true),
        ];
        // Older PR jobs that passed, past the strip's bound.
        for i in 0..STRIP_JOBS {
            let key = format!("old{i:03}");
            jobs.push(job(&key, Trigger::PullRequest(1), now - 9_000, "c0", false));
        }
        let details = HashMap::from([
            (
                "p".to_owned(),
                JobDetails {
                    upstream_repo: Some("pytorch/pytorch".to_owned()),
                    event_type: "pull_request".to_owned(),
                    workflow_run_url: Some("https://github.com/a/b/actions/runs/1".to_owned()),
                    message: Some("AssertionError".to_owned()),
                    message_truncated: true,
                },
            ),
            (
                "n1".to_owned(),
                JobDetails {
                    message: Some("stale: not shown on a pass".to_owned()),
                    ..JobDetails::default()
                },
            ),
        ]);
        let counts = SlotCounts::of_all(&jobs, &test_id());
        let view = build(
            "a/b",
            &test_id(),
            Window::Week,
            now,
            &jobs,
            &details,
            &counts,
        );
        assert_eq!(view.slots.len(), 1);
        let slot = &view.slots[0];
        assert_eq!((slot.jobs_in_window, slot.failed_in_window), (53, 2));
        assert_eq!(slot.points.len(), STRIP_JOBS);
        let keys: Vec<&str> = slot
            .points
            .iter()
            .take(3)
            .map(|p| p.job_key.as_str())
            .collect();
        assert_eq!(keys, ["p", "n2", "n1"], "newest first");
        assert_eq!(
            slot.regression,
            Regression {
                finding: RangeFinding::Found,
                last_pass: Some("c1".to_owned()),
                first_fail: Some("c2".to_owned()),
                compare_url: Some("https://github.com/pytorch/pytorch/compare/c1...c2".to_owned()),
            }
        );
        let pr = &slot.points[0];
        assert_eq!(
            (pr.result, pr.trigger),
            (TestResult::Failed, "pull_request")
        );
        assert_eq!(pr.pr.as_ref().map(|p| p.number), Some(9));
        assert_eq!(pr.message.as_deref(), Some("AssertionError"));
        assert!(pr.message_truncated);
        let n1 = &slot.points[2];
        assert_eq!(
            (n1.result, n1.trigger, n1.message.as_deref()),
            (TestResult::Passed, "nightly", None)
        );
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["slots"][0]["points"][0]["result"], "failed");
        assert_eq!(json["slots"][0]["regression"]["finding"], "found");
        assert_eq!(json["classname"], "test/test_ops.py::T");
    }

    #[test]
    fn a_test_no_job_failed_has_no_slots() {
        let jobs = vec![job("n", Trigger::Nightly, 10, "c", false)];
        let view = build(
            "a/b",
            &test_id(),
            Window::Day,
            1_000_000,
            &jobs,
            &HashMap::new(),
            &SlotCounts::of_all(&jobs, &test_id()),
        );
        assert!(view.slots.is_empty());
    }

    /// The reads give the newest jobs of a slot and its nightlies, and count the rest: the line
    /// shows the counts, and a slot listed for a failure older than every job read still has
    /// its line, with the jobs read.
    #[test]
    fn the_counts_are_the_reads_and_a_slot_is_listed_by_them() {
        let now = 1_777_400_000;
        let jobs = vec![
            job("n", Trigger::Nightly, now - 5_000, "c1", false),
            job("p", Trigger::PullRequest(9), now - 3_000, "c9", false),
        ];
        let slot = jobs[0].slot.clone();
        let quiet = JobSlot {
            workflow_name: "ci".to_owned(),
            job_name: "quiet".to_owned(),
        };
        let counts = BTreeMap::from([
            (
                slot.clone(),
                SlotCounts {
                    jobs: 480,
                    failed: 7,
                },
            ),
            (quiet, SlotCounts { jobs: 3, failed: 0 }),
        ]);
        let view = build(
            "a/b",
            &test_id(),
            Window::Month,
            now,
            &jobs,
            &HashMap::new(),
            &counts,
        );
        assert_eq!(view.slots.len(), 1, "a slot with no failure is not listed");
        let line = &view.slots[0];
        assert_eq!((line.jobs_in_window, line.failed_in_window), (480, 7));
        let keys: Vec<&str> = line.points.iter().map(|p| p.job_key.as_str()).collect();
        assert_eq!(keys, ["p", "n"]);
        assert_eq!(line.regression.finding, RangeFinding::PassingOnNightly);
    }
}
