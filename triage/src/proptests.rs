//! Properties of the rules over small random backends: few slots, tests, commits, PRs, runs and
//! seconds, so ties, re-runs, shared commits and jobs without counts are frequent.
//!
//! The `naive_*` functions state the rules of docs/contract.md the plain way, comparing
//! every job with every other; the crate's grouped versions must answer the same.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use crate::observation::{JobOutcome, JobResult, JobSlot, RunOf, TestId, Trigger};
use crate::passed::{result_of, TestResult};
use crate::testkit::{slot, test_id};
use crate::*;

const TESTS: [&str; 3] = ["a", "b", "c"];
const SLOTS: [&str; 2] = ["x", "y"];

fn arb_job(key: usize) -> impl Strategy<Value = JobResult> {
    (
        0..SLOTS.len(),
        0u8..6,
        0u8..3,
        0i64..12,
        0u8..4,
        1u32..3,
        0u8..6,
        proptest::bool::weighted(0.8),
        0u8..8,
    )
        .prop_map(
            move |(slot_at, trigger, sha, first_seen_at, run, attempt, outcome, counts, failed)| {
                JobResult {
                    slot: slot(SLOTS[slot_at]),
                    run: RunOf {
                        event: match trigger {
                            0..=2 => Trigger::Nightly,
                            3 => Trigger::PullRequest(1),
                            4 => Trigger::PullRequest(2),
                            _ => Trigger::Other,
                        },
                        upstream_sha: format!("c{sha}"),
                        first_seen_at,
                        run_id: run.to_string(),
                        run_attempt: attempt,
                        job_key: format!("k{key:02}"),
                    },
                    outcome: match outcome {
                        0 | 1 => JobOutcome::Success,
                        2 | 3 => JobOutcome::Failure,
                        4 => JobOutcome::Cancelled,
                        _ => JobOutcome::TimedOut,
                    },
                    reported_counts: counts,
                    failed: TESTS
                        .iter()
                        .enumerate()
                        .filter(|(bit, _)| failed & (1 << bit) != 0)
                        .map(|(_, name)| test_id(name))
                        .collect(),
                }
            },
        )
}

fn arb_jobs() -> impl Strategy<Value = Vec<JobResult>> {
    (0usize..24).prop_flat_map(|n| (0..n).map(arb_job).collect::<Vec<_>>())
}

/// A backend, the same rows in another order, and a window start.
fn arb_shuffled() -> impl Strategy<Value = (Vec<JobResult>, Vec<JobResult>, i64)> {
    (arb_jobs(), 0i64..13)
        .prop_flat_map(|(rows, since)| (Just(rows.clone()), Just(rows).prop_shuffle(), Just(since)))
}

fn all_pairs() -> Vec<(TestId, JobSlot)> {
    TESTS
        .iter()
        .flat_map(|t| SLOTS.iter().map(move |s| (test_id(t), slot(s))))
        .collect()
}

fn is_latest(rows: &[JobResult], job: &JobResult) -> bool {
    !rows.iter().any(|other| {
        other.slot == job.slot
            && other.run.run_id == job.run.run_id
            && (other.run.run_attempt, &other.run.job_key) > (job.run.run_attempt, &job.run.job_key)
    })
}

fn sorted(mut jobs: Vec<&JobResult>) -> Vec<&JobResult> {
    jobs.sort_by(|a, b| a.order().cmp(&b.order()));
    jobs
}

fn naive_series<'a>(rows: &'a [JobResult], slot: &JobSlot) -> Vec<&'a JobResult> {
    sorted(
        rows.iter()
            .filter(|j| &j.slot == slot && j.is_nightly() && is_latest(rows, j))
            .collect(),
    )
}

fn naive_baseline<'a>(series: &[&'a JobResult], at: &JobResult) -> Option<&'a JobResult> {
    series
        .iter()
        .rfind(|n| n.order() < at.order())
        .or(series.first())
        .copied()
}

fn naive_flip(rows: &[JobResult], test: &TestId, slot: &JobSlot, since: i64) -> FlipScore {
    let nightly_attempts = sorted(
        rows.iter()
            .filter(|j| &j.slot == slot && j.is_nightly() && j.in_window(since))
            .collect(),
    );
    flip_score(nightly_attempts.iter().map(|j| result_of(j, test)))
}

fn naive_flaky_shas(rows: &[JobResult], test: &TestId, slot: &JobSlot, since: i64) -> Vec<String> {
    let in_slot: Vec<&JobResult> = rows
        .iter()
        .filter(|j| &j.slot == slot && j.in_window(since))
        .collect();
    let shas: BTreeSet<String> = in_slot
        .iter()
        .filter(|failed| result_of(failed, test) == TestResult::Failed)
        .filter(|failed| {
            in_slot.iter().any(|passed| {
                passed.run.upstream_sha == failed.run.upstream_sha
                    && result_of(passed, test) == TestResult::Passed
            })
        })
        .map(|j| j.run.upstream_sha.clone())
        .collect();
    shas.into_iter().collect()
}

fn naive_failing_tests(rows: &[JobResult], since: i64) -> Vec<FailingTest> {
    let mut summary = Vec::new();
    for (test, slot) in all_pairs() {
        let fails = sorted(
            rows.iter()
                .filter(|j| {
                    j.slot == slot
                        && j.in_window(since)
                        && is_latest(rows, j)
                        && j.failed.contains(&test)
                })
                .collect(),
        );
        let (Some(first), Some(last)) = (fails.first(), fails.last()) else {
            continue;
        };
        let series = naive_series(rows, &slot);
        let baseline = naive_baseline(&series, first);
        let latest_nightly = series.last().filter(|n| n.in_window(since));
        let fixed = latest_nightly.is_some_and(|l| {
            result_of(l, &test) == TestResult::Passed
                && last.order() < l.order()
                && baseline.is_some_and(|b| {
                    series.iter().any(|n| {
                        n.order() >= b.order()
                            && n.order() < l.order()
                            && result_of(n, &test) == TestResult::Failed
                    })
                })
        });
        let status = if fixed {
            Status::Fixed
        } else if baseline.is_some_and(|b| result_of(b, &test) == TestResult::Failed) {
            Status::Known
        } else {
            Status::New
        };
        let prs: BTreeSet<u64> = fails.iter().filter_map(|j| j.pr()).collect();
        summary.push(FailingTest {
            status,
            baseline: baseline.map(JobRef::of),
            runs_failed: fails.len() as u64,
            runs_of_job: rows
                .iter()
                .filter(|j| j.slot == slot && j.in_window(since) && is_latest(rows, j))
                .count() as u64,
            prs_hit: prs.len() as u64,
            prs: prs.into_iter().collect(),
            first_failure_at: first.run.first_seen_at,
            last_failure_at: last.run.first_seen_at,
            flaky: !naive_flaky_shas(rows, &test, &slot, since).is_empty(),
            flip: naive_flip(rows, &test, &slot, since),
            test,
            slot,
        });
    }
    summary.sort_by(summary_order);
    summary
}

fn naive_is_it_mine(rows: &[JobResult], pr: u64, since: i64) -> PrTriage {
    let mut tests = Vec::new();
    for slot in SLOTS.map(slot) {
        let newness = |j: &JobResult| {
            (
                j.run.run_id.parse::<u64>().ok(),
                j.run.run_id.clone(),
                j.run.run_attempt,
                j.run.job_key.clone(),
            )
        };
        let Some(shown) = rows
            .iter()
            .filter(|j| j.slot == slot && j.pr() == Some(pr))
            .max_by_key(|j| newness(j))
        else {
            continue;
        };
        let series = naive_series(rows, &slot);
        let baseline = naive_baseline(&series, shown);
        let failed: BTreeSet<&TestId> = shown.failed.iter().collect();
        for test in failed {
            let other_prs: BTreeSet<u64> = rows
                .iter()
                .filter(|j| j.slot == slot && j.in_window(since) && j.failed.contains(test))
                .filter_map(|j| j.pr())
                .filter(|&n| n != pr)
                .collect();
            let verdict = if baseline.is_some_and(|b| result_of(b, test) == TestResult::Failed) {
                PrVerdict::KnownOnNightly
            } else if other_prs.is_empty() {
                PrVerdict::NewOnThisPr
            } else {
                PrVerdict::SeenOnOtherPrs {
                    count: other_prs.len() as u64,
                }
            };
            tests.push(PrFailingTest {
                test: test.clone(),
                slot: slot.clone(),
                verdict,
                job: JobRef::of(shown),
                baseline: baseline.map(JobRef::of),
            });
        }
    }
    let rank = |v: PrVerdict| match v {
        PrVerdict::NewOnThisPr => 0,
        PrVerdict::SeenOnOtherPrs { .. } => 1,
        PrVerdict::KnownOnNightly => 2,
    };
    tests.sort_by(|a, b| {
        (rank(a.verdict), &a.slot, &a.test).cmp(&(rank(b.verdict), &b.slot, &b.test))
    });
    let count = |wanted: u8| tests.iter().filter(|t| rank(t.verdict) == wanted).count() as u64;
    PrTriage {
        headline: PrHeadline {
            new_on_this_pr: count(0),
            seen_on_other_prs: count(1),
            known_on_nightly: count(2),
        },
        tests,
    }
}

fn naive_regression_range(rows: &[JobResult], test: &TestId, slot: &JobSlot) -> RegressionRange {
    let known: Vec<(TestResult, String)> = naive_series(rows, slot)
        .iter()
        .map(|n| (result_of(n, test), n.run.upstream_sha.clone()))
        .filter(|(r, _)| r.is_known())
        .collect();
    let streak = known
        .iter()
        .rev()
        .take_while(|(r, _)| *r == TestResult::Failed)
        .count();
    if streak == 0 {
        return RegressionRange::default();
    }
    let start = known.len() - streak;
    RegressionRange {
        last_pass: start.checked_sub(1).map(|i| known[i].1.clone()),
        first_fail: Some(known[start].1.clone()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_summary_follows_the_rules_as_written((rows, _, since) in arb_shuffled()) {
        prop_assert_eq!(failing_tests(&rows, since), naive_failing_tests(&rows, since));
    }

    #[test]
    fn is_it_mine_follows_the_rules_as_written((rows, _, since) in arb_shuffled(), pr in 1u64..3) {
        prop_assert_eq!(is_it_mine(&rows, pr, since), naive_is_it_mine(&rows, pr, since));
    }

    /// The service judges a PR on its own jobs and the nightlies, the other PRs counted by the
    /// store: the same verdicts as on every job.
    #[test]
    fn other_prs_counted_apart_give_the_same_verdicts(
        (rows, _, since) in arb_shuffled(),
        pr in 1u64..3,
    ) {
        let counted = other_prs(&rows, pr, since);
        // Another PR's job is left out unless it shares a run with a kept job: the generator
        // mixes triggers within a run, which real runs do not, and a run's latest attempt is
        // decided among all of its jobs.
        let kept = |j: &JobResult| j.pr() == Some(pr) || j.is_nightly();
        let kept_runs: BTreeSet<(&JobSlot, &str)> = rows
            .iter()
            .filter(|j| kept(j))
            .map(|j| (&j.slot, j.run.run_id.as_str()))
            .collect();
        let own: Vec<JobResult> = rows
            .iter()
            .filter(|j| kept(j) || kept_runs.contains(&(&j.slot, j.run.run_id.as_str())))
            .cloned()
            .collect();
        prop_assert_eq!(is_it_mine_counted(&own, pr, &counted), is_it_mine(&rows, pr, since));
    }

    /// The service counts other PRs only for the tests not known on their baseline: the known
    /// ones' verdicts do not depend on them.
    #[test]
    fn other_prs_are_needed_only_for_tests_not_known_on_nightly(
        (rows, _, since) in arb_shuffled(),
        pr in 1u64..3,
    ) {
        let uncounted = is_it_mine_counted(&rows, pr, &OtherPrs::new());
        let not_known: BTreeSet<&TestId> = uncounted
            .tests
            .iter()
            .filter(|t| t.verdict != PrVerdict::KnownOnNightly)
            .map(|t| &t.test)
            .collect();
        let counted: OtherPrs = other_prs(&rows, pr, since)
            .into_iter()
            .filter(|((test, _), _)| not_known.contains(test))
            .collect();
        prop_assert_eq!(is_it_mine_counted(&rows, pr, &counted), is_it_mine(&rows, pr, since));
    }

    #[test]
    fn the_regression_range_follows_the_rules_as_written(rows in arb_jobs()) {
        for (test, slot) in all_pairs() {
            prop_assert_eq!(
                regression_range(&rows, &test, &slot),
                naive_regression_range(&rows, &test, &slot)
            );
        }
    }

    #[test]
    fn flaky_tests_follow_the_rules_as_written((rows, _, since) in arb_shuffled()) {
        let expected: Vec<FlakyTest> = all_pairs()
            .into_iter()
            .filter_map(|(test, slot)| {
                let shas = naive_flaky_shas(&rows, &test, &slot, since);
                (!shas.is_empty()).then(|| FlakyTest {
                    flip: naive_flip(&rows, &test, &slot, since),
                    test,
                    slot,
                    shas,
                })
            })
            .collect();
        prop_assert_eq!(flaky_tests(&rows, since), expected);
    }

    #[test]
    fn no_answer_depends_on_the_order_of_the_input((rows, shuffled, since) in arb_shuffled()) {
        prop_assert_eq!(failing_tests(&rows, since), failing_tests(&shuffled, since));
        prop_assert_eq!(flaky_tests(&rows, since), flaky_tests(&shuffled, since));
        for pr in [1, 2] {
            prop_assert_eq!(is_it_mine(&rows, pr, since), is_it_mine(&shuffled, pr, since));
        }
        let old = NightlySet::Between { from: 0, until: since };
        let new = NightlySet::Between { from: since, until: i64::MAX };
        prop_assert_eq!(release_diff(&rows, &old, &new), release_diff(&shuffled, &old, &new));
        let (c0, c1) = (NightlySet::Sha("c0".into()), NightlySet::Sha("c1".into()));
        prop_assert_eq!(release_diff(&rows, &c0, &c1), release_diff(&shuffled, &c0, &c1));
        for (test, slot) in all_pairs() {
            prop_assert_eq!(
                regression_range(&rows, &test, &slot),
                regression_range(&shuffled, &test, &slot)
            );
        }
        for test in TESTS.map(test_id) {
            prop_assert_eq!(test_history(&rows, &test), test_history(&shuffled, &test));
        }
    }

    #[test]
    fn the_summary_holds_exactly_the_pairs_a_latest_attempt_failed_in_the_window(
        (rows, _, since) in arb_shuffled()
    ) {
        let expected: BTreeSet<(TestId, JobSlot)> = rows
            .iter()
            .filter(|j| j.in_window(since) && is_latest(&rows, j))
            .flat_map(|j| j.failed.iter().map(|t| (t.clone(), j.slot.clone())))
            .collect();
        let summary = failing_tests(&rows, since);
        let got: BTreeSet<(TestId, JobSlot)> =
            summary.iter().map(|r| (r.test.clone(), r.slot.clone())).collect();
        prop_assert_eq!(got, expected);
        prop_assert_eq!(summary.len(), expected_len(&summary), "one row per pair");
    }

    #[test]
    fn known_exactly_when_the_baseline_failed_it_and_it_is_not_fixed((rows, _, since) in arb_shuffled()) {
        let by_key: BTreeMap<&str, &JobResult> =
            rows.iter().map(|j| (j.run.job_key.as_str(), j)).collect();
        for row in failing_tests(&rows, since) {
            let baseline_failed = row
                .baseline
                .as_ref()
                .is_some_and(|b| result_of(by_key[b.job_key.as_str()], &row.test) == TestResult::Failed);
            match row.status {
                Status::Known => prop_assert!(baseline_failed),
                Status::New => prop_assert!(!baseline_failed),
                Status::Fixed => {}
            }
            prop_assert_eq!(row.baseline.is_none(), naive_series(&rows, &row.slot).is_empty());
            prop_assert!(row.runs_failed >= 1 && row.runs_failed <= row.runs_of_job);
            prop_assert!(row.first_failure_at <= row.last_failure_at);
        }
    }

    #[test]
    fn the_summarys_flaky_flag_is_flaky_tests((rows, _, since) in arb_shuffled()) {
        let flaky: BTreeSet<(TestId, JobSlot)> = flaky_tests(&rows, since)
            .into_iter()
            .map(|f| (f.test, f.slot))
            .collect();
        for row in failing_tests(&rows, since) {
            prop_assert_eq!(row.flaky, flaky.contains(&(row.test, row.slot)));
        }
    }

    #[test]
    fn a_passing_attempt_on_the_same_commit_after_a_failure_makes_it_flaky(
        (rows, _, since) in arb_shuffled(),
        pick in any::<prop::sample::Index>()
    ) {
        let failed: Vec<&JobResult> = rows.iter().filter(|j| !j.failed.is_empty()).collect();
        prop_assume!(!failed.is_empty());
        let failure = pick.get(&failed);
        let mut retry = (*failure).clone();
        retry.run.run_attempt = rows
            .iter()
            .filter(|j| j.slot == failure.slot && j.run.run_id == failure.run.run_id)
            .map(|j| j.run.run_attempt)
            .max()
            .unwrap_or(1)
            + 1;
        retry.run.job_key = "retry".into();
        retry.run.first_seen_at += 1;
        retry.outcome = JobOutcome::Success;
        retry.reported_counts = true;
        retry.failed.clear();
        let mut with_retry = rows.clone();
        with_retry.push(retry);
        let window_start = since.min(failure.run.first_seen_at);
        let flaky: Vec<(TestId, JobSlot, Vec<String>)> = flaky_tests(&with_retry, window_start)
            .into_iter()
            .map(|f| (f.test, f.slot, f.shas))
            .collect();
        for test in &failure.failed {
            let found = flaky.iter().any(|(t, s, shas)| {
                t == test && s == &failure.slot && shas.contains(&failure.run.upstream_sha)
            });
            prop_assert!(found, "{:?} is not flaky", test);
        }
    }

    #[test]
    fn a_set_of_nightlies_against_itself_is_still_failing_only(rows in arb_jobs(), sha in 0u8..3) {
        let set = NightlySet::Sha(format!("c{sha}"));
        let diff = release_diff(&rows, &set, &set);
        prop_assert!(diff.tests.iter().all(|e| e.status == DiffStatus::StillFailing));
        prop_assert!(diff.slots.iter().all(|s| s.old == s.new));
    }

    #[test]
    fn the_flip_score_is_between_0_and_1(results in prop::collection::vec(
        prop_oneof![Just(TestResult::Passed), Just(TestResult::Failed), Just(TestResult::Unknown)],
        0..40,
    )) {
        let flips = flip_score(results.iter().copied());
        prop_assert!((0.0..=1.0).contains(&flips.score));
        prop_assert_eq!(flips.known_results, results.iter().filter(|r| r.is_known()).count() as u64);
        prop_assert!(flips.transitions <= flips.known_results.saturating_sub(1));
    }

    #[test]
    fn a_constant_series_flips_0_and_an_alternating_one_1(
        length in 2usize..40,
        first_failed in any::<bool>(),
        unknowns in prop::collection::vec(0usize..40, 0..5),
    ) {
        let (first, second) = if first_failed {
            (TestResult::Failed, TestResult::Passed)
        } else {
            (TestResult::Passed, TestResult::Failed)
        };
        let mut constant = vec![first; length];
        let mut alternating: Vec<TestResult> =
            (0..length).map(|i| if i % 2 == 0 { first } else { second }).collect();
        for at in unknowns {
            constant.insert(at.min(constant.len()), TestResult::Unknown);
            alternating.insert(at.min(alternating.len()), TestResult::Unknown);
        }
        prop_assert_eq!(flip_score(constant).score, 0.0);
        prop_assert_eq!(flip_score(alternating).score, 1.0);
    }
}

fn expected_len(summary: &[FailingTest]) -> usize {
    summary
        .iter()
        .map(|r| (&r.test, &r.slot))
        .collect::<BTreeSet<_>>()
        .len()
}
