//! How a PR's "is it mine?" on its backends is read (contract §12.15): the few jobs the rule
//! reads, each by key or key range, the other PRs counted by the server, then
//! [`oot_triage::is_it_mine_counted`] on them, per backend. Each step is one query for all the
//! backends judged (a PR view of eight backends sent ~20 queries; under a write load
//! ClickHouse's cost per query, not per row, kept the PR view waiting), but the other PRs' (a
//! query per backend, side by side: the costly read, whose rows grow with each backend's
//! window).
//!
//! The rule (§12.8) needs, per slot, the PR's shown job and its failed tests; for each such
//! test, how many other PRs failed it in the slot in the window; and the slot's baseline nightly
//! (the last before the PR job) with whether it failed the test. So:
//!
//! 1. the PR's shown completed jobs of the backends by key (from the jobs by target, as the PR
//!    view read them), then their failed tests at the versions read (by job);
//! 2. the backends' nightlies of each judged slot from the day before its PR job
//!    ([`CompletedJobs::pr_triage_nightlies`]), kept where they are not after that job;
//! 3. for the slots where a failing test still has no baseline, the rest of
//!    [`baselines::LOOKBACK`] before their PR job;
//! 4. whether each nightly that became a baseline failed the tests it is the baseline of
//!    ([`CompletedJobs::baseline_failed_tests`], by job);
//! 5. for the tests not known on their baseline only (of the first
//!    [`crate::views::pr_triage::TESTS_ASKED_PER_BACKEND`] of each backend), per backend, test
//!    and slot, the other PRs that failed them in the window (one key range of the failed-test
//!    table per backend and test, counted by the server: [`oot_triage::other_prs`] is the count
//!    it must equal), and the rule once more. A known test's verdict does not depend on other
//!    PRs, and the other PRs are the costly read (a chronic failure's rows of every PR in the
//!    window).
//!
//! A nightly read that is not a baseline changes no verdict.

use std::collections::{BTreeSet, HashMap};

use oot_contract::{RepoName, UpstreamPr};
use oot_triage::{is_it_mine_counted, JobSlot, OtherPrs, PrTriage, PrVerdict, TestId};

use crate::baselines::{self, Asked};
use crate::observations::{JobFacts, ListedFailure, Observations};
use crate::rules::{start_of_hour, HOUR};
use crate::stores::completed::CompletedJobs;
use crate::stores::pr_triage::{JobsOf, JudgedJob, RepoJob, TestOfSlot};
use crate::stores::triage::SlotHours;
use crate::stores::StoreError;
use crate::views::pr_triage::{asked, BackendTriage};

const DAY: i64 = 86_400;

/// A backend of the PR to judge: its shown completed jobs (keys).
#[derive(Debug, Clone)]
pub struct Shown {
    pub repo: RepoName,
    pub job_keys: Vec<String>,
}

/// One backend's judging as it goes: what the rule has read so far and its verdicts on it.
struct Judging {
    repo: RepoName,
    /// The asked tests' slots, each with when its judged job was first seen.
    judged_at: HashMap<JobSlot, i64>,
    observations: Observations,
    triage: PrTriage,
    not_triaged: u64,
}

impl Judging {
    fn judge(&mut self, pr: u64, other_prs: &OtherPrs) {
        self.triage = is_it_mine_counted(self.observations.results(), pr, other_prs);
    }
}

/// The triage of PR `upstream_pr` on each backend of `shown`, in its order, with other PRs
/// looked for from `since`.
pub async fn judge_backends(
    completed: &CompletedJobs,
    upstream_pr: &UpstreamPr,
    shown: &[Shown],
    since: i64,
) -> Result<Vec<BackendTriage>, StoreError> {
    let pr = u64::from(upstream_pr.number.get());
    let asked_jobs: Vec<RepoJob<'_>> = shown
        .iter()
        .flat_map(|backend| {
            backend.job_keys.iter().map(|key| RepoJob {
                downstream_repo: backend.repo.as_str(),
                job_key: key,
            })
        })
        .collect();
    let mut judged_of: HashMap<String, Vec<JudgedJob>> = HashMap::new();
    if !asked_jobs.is_empty() {
        for job in completed
            .judged_jobs(JobsOf::Pr(upstream_pr), &asked_jobs)
            .await?
        {
            judged_of
                .entry(job.downstream_repo.clone())
                .or_default()
                .push(job);
        }
    }
    let not_counted = OtherPrs::new();
    let mut backends: Vec<Judging> = shown
        .iter()
        .map(|backend| {
            let judged = judged_of.remove(backend.repo.as_str()).unwrap_or_default();
            let mut judging = judging_of(backend.repo.clone(), judged);
            // A backend without a failing test asked has nothing to judge: no verdict, no read.
            if !judging.judged_at.is_empty() {
                judging.judge(pr, &not_counted);
            }
            judging
        })
        .collect();

    // Each slot's own day before its PR job: a PR's jobs may be weeks apart, and one span from
    // the first to the last read every nightly between them (a busy backend's month: ~7,000
    // jobs, for a few baselines).
    let day_before = slot_hours(&backends, |_, _| true, |hour| (hour - DAY, hour + HOUR));
    add_nightlies(completed, &mut backends, &day_before, pr).await?;

    // The rest of the lookback before the PR job of each slot with a test still without a
    // baseline. The nightlies came first: a test known on its baseline needs no other PRs (the
    // verdict "known" comes first), and most of a PR's failing tests on a backend are known.
    let rest = slot_hours(
        &backends,
        |judging, slot| {
            judging
                .triage
                .tests
                .iter()
                .any(|t| t.baseline.is_none() && &t.slot == slot)
        },
        |hour| (hour - baselines::LOOKBACK, hour - DAY),
    );
    add_nightlies(completed, &mut backends, &rest, pr).await?;

    let asked_of_nightlies: Vec<(usize, Asked)> = backends
        .iter()
        .enumerate()
        .flat_map(|(i, judging)| {
            asked_of_baselines(&judging.triage, |key| judging.observations.version_of(key))
                .into_iter()
                .map(move |asked| (i, asked))
        })
        .collect();
    if !asked_of_nightlies.is_empty() {
        let asked: Vec<(&RepoName, &Asked)> = asked_of_nightlies
            .iter()
            .map(|(i, asked)| (&backends[*i].repo, asked))
            .collect();
        let failures = completed.baseline_failed_tests(&asked).await?;
        let backend_of: HashMap<&str, usize> = asked_of_nightlies
            .iter()
            .map(|(i, asked)| (asked.job_key.as_str(), *i))
            .collect();
        let mut of_backend: Vec<Vec<ListedFailure>> = vec![Vec::new(); backends.len()];
        for failure in failures {
            if let Some(&i) = backend_of.get(failure.job_key.as_str()) {
                of_backend[i].push(failure);
            }
        }
        for (judging, failures) in backends.iter_mut().zip(of_backend) {
            if !failures.is_empty() {
                judging.observations.attach_asked(failures);
                judging.judge(pr, &not_counted);
            }
        }
    }

    let not_known: Vec<TestOfSlot> = backends
        .iter()
        .flat_map(|judging| {
            let pairs: BTreeSet<(&TestId, &JobSlot)> = judging
                .triage
                .tests
                .iter()
                .filter(|t| t.verdict != PrVerdict::KnownOnNightly)
                .map(|t| (&t.test, &t.slot))
                .collect();
            pairs
                .into_iter()
                .map(|(test, slot)| (judging.repo.clone(), test.clone(), slot.clone()))
        })
        .collect();
    if !not_known.is_empty() {
        let mut other_prs = completed.pr_triage_other_prs(&not_known, since, pr).await?;
        let asked_of: BTreeSet<&str> = not_known.iter().map(|(repo, ..)| repo.as_str()).collect();
        for judging in backends
            .iter_mut()
            .filter(|j| asked_of.contains(j.repo.as_str()))
        {
            let counted = other_prs.remove(judging.repo.as_str()).unwrap_or_default();
            judging.judge(pr, &counted);
        }
    }
    Ok(backends
        .into_iter()
        .map(|judging| BackendTriage::of(judging.triage, judging.not_triaged))
        .collect())
}

/// A backend's judging once its PR jobs are read: the asked tests (the first of its failing
/// ones), their slots, and the PR jobs as observations.
fn judging_of(repo: RepoName, judged: Vec<JudgedJob>) -> Judging {
    let failing: BTreeSet<TestId> = judged.iter().flat_map(|j| j.failed.clone()).collect();
    let (asked_tests, not_triaged) = asked(failing);
    let judged_at = judged_slots(&judged, &asked_tests);
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
    Judging {
        repo,
        judged_at,
        observations: Observations::of_window(jobs, listed),
        triage: PrTriage {
            headline: Default::default(),
            tests: Vec::new(),
        },
        not_triaged,
    }
}

/// Per backend, the hours `hours` gives from the start of the hour of each judged slot's PR job,
/// for the slots `wanted`.
fn slot_hours(
    backends: &[Judging],
    wanted: impl Fn(&Judging, &JobSlot) -> bool,
    hours: impl Fn(i64) -> (i64, i64),
) -> Vec<SlotHours> {
    let mut spans = Vec::new();
    for judging in backends {
        for (slot, &at) in &judging.judged_at {
            if wanted(judging, slot) {
                let (from, until) = hours(start_of_hour(at));
                spans.push(SlotHours {
                    downstream_repo: judging.repo.to_string(),
                    slot: slot.clone(),
                    from,
                    until,
                });
            }
        }
    }
    spans
}

/// Reads the nightlies of `spans` (none when there are none) and adds to each backend those of
/// its judged slots not first seen after the slot's PR job, judging again where some were.
async fn add_nightlies(
    completed: &CompletedJobs,
    backends: &mut [Judging],
    spans: &[SlotHours],
    pr: u64,
) -> Result<(), StoreError> {
    if spans.is_empty() {
        return Ok(());
    }
    let Some(&last) = backends
        .iter()
        .flat_map(|judging| judging.judged_at.values())
        .max()
    else {
        return Ok(());
    };
    let mut of_repo: HashMap<String, Vec<JobFacts>> = HashMap::new();
    for (repo, nightly) in completed.pr_triage_nightlies(spans, last + 1).await? {
        of_repo.entry(repo).or_default().push(nightly);
    }
    let not_counted = OtherPrs::new();
    for judging in backends.iter_mut() {
        let nightlies = of_repo.remove(judging.repo.as_str()).unwrap_or_default();
        let mut kept = of_judged_slots(nightlies, &judging.judged_at).peekable();
        if kept.peek().is_some() {
            judging.observations.add_before_window(kept);
            judging.judge(pr, &not_counted);
        }
    }
    Ok(())
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
            downstream_repo: "o/r".to_owned(),
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
