//! How one backend's "is it mine?" for a PR is read (contract §12.15): the few jobs the rule
//! reads, each by key or key range, the other PRs counted by the server, then
//! [`oot_triage::is_it_mine_counted`] on them.
//!
//! The rule (§12.8) needs, per slot, the PR's shown job and its failed tests; for each such
//! test, how many other PRs failed it in the slot in the window; and the slot's baseline nightly
//! (the last before the PR job) with whether it failed the test. So:
//!
//! 1. the PR's shown completed jobs of the backend by key (from the jobs by target, as the PR
//!    view read them), then their failed tests at the versions read (by job);
//! 2. the backend's nightlies of each judged slot from the day before its PR job
//!    ([`CompletedJobs::nightlies_of_slots`]), kept where they are not after that job;
//! 3. for the slots where a failing test still has no baseline, the rest of
//!    [`baselines::LOOKBACK`] before their PR job;
//! 4. whether each nightly that became a baseline failed the tests it is the baseline of
//!    ([`CompletedJobs::baseline_failed_tests`], by job);
//! 5. for the tests not known on their baseline only (of the first
//!    [`crate::views::pr_triage::TESTS_ASKED_PER_BACKEND`]), per test and slot, the other PRs
//!    that failed them in the window (one key range of the failed-test table per test, counted
//!    by the server: [`oot_triage::other_prs`] is the count it must equal), and the rule once
//!    more. A known test's verdict does not depend on other PRs, and the other PRs are the
//!    costly read (a chronic failure's rows of every PR in the window).
//!
//! A nightly read that is not a baseline changes no verdict.

use std::collections::{BTreeSet, HashMap};

use oot_contract::{RepoName, UpstreamPr};
use oot_triage::{is_it_mine_counted, JobSlot, OtherPrs, PrTriage, PrVerdict, TestId};

use crate::baselines::{self, Asked};
use crate::observations::{JobFacts, ListedFailure, Observations};
use crate::rules::{start_of_hour, HOUR};
use crate::stores::completed::CompletedJobs;
use crate::stores::pr_triage::{JobsOf, JudgedJob};
use crate::stores::triage::SlotHours;
use crate::stores::StoreError;
use crate::views::pr_triage::{asked, BackendTriage};

const DAY: i64 = 86_400;

/// The triage of PR `upstream_pr` on `repo`, whose shown completed jobs are `shown` (keys),
/// with other PRs looked for from `since`.
pub async fn judge_backend(
    completed: &CompletedJobs,
    repo: &RepoName,
    upstream_pr: &UpstreamPr,
    shown: &[String],
    since: i64,
) -> Result<BackendTriage, StoreError> {
    let pr = u64::from(upstream_pr.number.get());
    let judged = completed
        .judged_jobs(repo, JobsOf::Pr(upstream_pr), shown)
        .await?;
    let failing: BTreeSet<TestId> = judged.iter().flat_map(|j| j.failed.clone()).collect();
    let (asked_tests, not_triaged) = asked(failing);
    let judged_at = judged_slots(&judged, &asked_tests);
    let Some(&last) = judged_at.values().max() else {
        let nothing = PrTriage {
            headline: Default::default(),
            tests: Vec::new(),
        };
        return Ok(BackendTriage::of(nothing, not_triaged));
    };
    // Each slot's own day before its PR job: a PR's jobs may be weeks apart, and one span from
    // the first to the last read every nightly between them (a busy backend's month: ~7,000
    // jobs, for a few baselines).
    let spans: Vec<SlotHours> = judged_at
        .iter()
        .map(|(slot, &at)| {
            let hour = start_of_hour(at);
            SlotHours {
                slot: slot.clone(),
                from: hour - DAY,
                until: hour + HOUR,
            }
        })
        .collect();
    let nightlies = completed.nightlies_of_slots(repo, &spans, last + 1).await?;

    let mut jobs: Vec<JobFacts> = Vec::new();
    let mut listed: Vec<ListedFailure> = Vec::new();
    for job in judged {
        for test in job.failed.into_iter().filter(|t| asked_tests.contains(t)) {
            listed.push(ListedFailure {
                job_key: job.facts.job_key.clone(),
                version: job.facts.version,
                test,
            });
        }
        jobs.push(job.facts);
    }
    let mut observations = Observations::of_window(jobs, listed);
    observations.add_before_window(of_judged_slots(nightlies, &judged_at));
    // The nightlies first: a test known on its baseline needs no other PRs (the verdict
    // "known" comes first), and most of a PR's failing tests on a backend are known ones.
    let not_counted = OtherPrs::new();
    let mut triage = is_it_mine_counted(observations.results(), pr, &not_counted);

    let without_baseline: BTreeSet<&JobSlot> = triage
        .tests
        .iter()
        .filter(|t| t.baseline.is_none())
        .map(|t| &t.slot)
        .collect();
    if !without_baseline.is_empty() {
        // The rest of the lookback before each such slot's PR job.
        let spans: Vec<SlotHours> = without_baseline
            .into_iter()
            .filter_map(|slot| {
                let hour = start_of_hour(*judged_at.get(slot)?);
                Some(SlotHours {
                    slot: slot.clone(),
                    from: hour - baselines::LOOKBACK,
                    until: hour - DAY,
                })
            })
            .collect();
        let older = completed.nightlies_of_slots(repo, &spans, last + 1).await?;
        let mut older = of_judged_slots(older, &judged_at).peekable();
        if older.peek().is_some() {
            observations.add_before_window(older);
            triage = is_it_mine_counted(observations.results(), pr, &not_counted);
        }
    }

    let asked_of_nightlies = asked_of_baselines(&triage, |key| observations.version_of(key));
    if !asked_of_nightlies.is_empty() {
        let failures = completed
            .baseline_failed_tests(repo, &asked_of_nightlies)
            .await?;
        observations.attach_asked(failures);
        triage = is_it_mine_counted(observations.results(), pr, &not_counted);
    }

    let not_known: BTreeSet<(&TestId, &JobSlot)> = triage
        .tests
        .iter()
        .filter(|t| t.verdict != PrVerdict::KnownOnNightly)
        .map(|t| (&t.test, &t.slot))
        .collect();
    if !not_known.is_empty() {
        let not_known: Vec<(TestId, JobSlot)> = not_known
            .into_iter()
            .map(|(test, slot)| (test.clone(), slot.clone()))
            .collect();
        let other_prs = completed
            .pr_triage_other_prs(repo, &not_known, since, pr)
            .await?;
        triage = is_it_mine_counted(observations.results(), pr, &other_prs);
    }
    Ok(BackendTriage::of(triage, not_triaged))
}

/// Per slot with an asked failing test, when its judged job was first seen (the latest, should
/// a slot hold two).
fn judged_slots(judged: &[JudgedJob], asked: &BTreeSet<TestId>) -> HashMap<JobSlot, i64> {
    let mut at: HashMap<JobSlot, i64> = HashMap::new();
    for job in judged
        .iter()
        .filter(|j| j.failed.iter().any(|t| asked.contains(t)))
    {
        let seen = at
            .entry(job.facts.slot())
            .or_insert(job.facts.first_seen_at);
        *seen = (*seen).max(job.facts.first_seen_at);
    }
    at
}

/// The nightlies of judged slots not first seen after their slot's PR job: only those can be a
/// baseline once the slot's first nightly after the PR job is left out (§12.15).
fn of_judged_slots(
    nightlies: Vec<JobFacts>,
    judged_at: &HashMap<JobSlot, i64>,
) -> impl Iterator<Item = JobFacts> + '_ {
    nightlies.into_iter().filter(move |job| {
        judged_at
            .get(&job.slot())
            .is_some_and(|&at| job.first_seen_at <= at)
    })
}

/// Each baseline nightly with the tests it is the baseline of, at the version it was read at.
fn asked_of_baselines(triage: &PrTriage, version_of: impl Fn(&str) -> Option<u64>) -> Vec<Asked> {
    baselines::by_baseline(
        triage
            .tests
            .iter()
            .filter_map(|test| Some((test.baseline.as_ref()?, &test.test))),
        version_of,
    )
}

#[cfg(test)]
mod tests {
    use oot_triage::is_it_mine;

    use super::*;
    use crate::observations::tests::{facts, test_id};

    fn judged(key: &str, job_name: &str, at: i64, failed: &[&str]) -> JudgedJob {
        JudgedJob {
            facts: JobFacts {
                job_name: job_name.to_owned(),
                first_seen_at: at,
                ..facts(key, 1)
            },
            failed: failed.iter().map(|n| test_id(n)).collect(),
            workflow_run_url: None,
        }
    }

    #[test]
    fn only_slots_with_an_asked_failure_are_judged_and_their_nightlies_kept_up_to_the_pr_job() {
        let asked = BTreeSet::from([test_id("t")]);
        let jobs = [
            judged("a", "test", 100, &["t"]),
            judged("b", "build", 200, &[]),
            judged("c", "lint", 300, &["not asked"]),
        ];
        let at = judged_slots(&jobs, &asked);
        assert_eq!(at.len(), 1);
        let nightly = |key: &str, job_name: &str, at: i64| JobFacts {
            job_name: job_name.to_owned(),
            first_seen_at: at,
            pr_number: None,
            event_type: "nightly".to_owned(),
            ..facts(key, 1)
        };
        let kept: Vec<String> = of_judged_slots(
            vec![
                nightly("before", "test", 50),
                nightly("same second", "test", 100),
                nightly("after", "test", 101),
                nightly("other slot", "build", 50),
            ],
            &at,
        )
        .map(|j| j.job_key)
        .collect();
        assert_eq!(kept, ["before", "same second"]);
    }

    #[test]
    fn each_baseline_is_asked_about_its_tests_at_the_version_read() {
        let mut observations = Observations::of_window(
            [facts("mine", 1)],
            [ListedFailure {
                job_key: "mine".to_owned(),
                version: 1,
                test: test_id("t"),
            }],
        );
        let nightly = JobFacts {
            first_seen_at: 10,
            pr_number: None,
            event_type: "nightly".to_owned(),
            ..facts("n", 3)
        };
        observations.add_before_window([nightly]);
        let triage = is_it_mine(observations.results(), 7, 0);
        let asked = asked_of_baselines(&triage, |key| observations.version_of(key));
        assert_eq!(asked.len(), 1);
        assert_eq!(
            (
                asked[0].job_key.as_str(),
                asked[0].version,
                asked[0].first_seen_at
            ),
            ("n", 3, 10)
        );
        assert_eq!(asked[0].tests, BTreeSet::from([test_id("t")]));
        observations.attach_asked([ListedFailure {
            job_key: "n".to_owned(),
            version: 3,
            test: test_id("t"),
        }]);
        let triage = is_it_mine(observations.results(), 7, 0);
        assert_eq!(triage.headline.known_on_nightly, 1);
    }
}
