//! From the stores' rows to what the triage rules read ([`oot_triage::JobResult`], contract
//! §12.1), per the reading rules of §10 and §10.3:
//!
//! - **One row per job, its latest version.** A job is kept at the highest `version` read (the
//!   reads take each job's latest, and a job read twice, by two reads, keeps the later).
//! - **Its failed tests at that version only.** A failed-test row counts only when its version is
//!   the job row's (§10.3: a test an older version listed and the newer does not keeps its old
//!   row), each test once: so the tests always belong to the version the job's facts are of, even
//!   when a newer version is written between two reads.
//! - **What the job says about tests it does not list** (`reported_counts`, §12.2):
//!   [`counts_cover_failed_list`] of its failed count and the tests listed. The failed-test table
//!   holds each test once per job, so a list that named one test twice is counted as one entry:
//!   such a job can only read as saying nothing about its unlisted tests where the whole list
//!   would have said they passed, never the reverse.
//! - **Trigger** by [`Trigger::classify`]; the stores do not keep the branch a `push` went to,
//!   so a push is never taken for a run on main.
//!
//! Nightlies from before the window ([`Observations::add_before_window`]) come without their
//! failed tests; [`Observations::attach_asked`] later gives them the failures asked of them.
//! The rules consult such a nightly only as the baseline of tests failing in the window, about
//! those tests (§12.5), and those are exactly what is asked of it (`crate::baselines`).

use std::collections::{BTreeMap, BTreeSet};

// foldhash, not SipHash, as in oot_triage's index: every job of a window goes through these
// maps (oot_triage::index says why and what it measured).
use foldhash::{HashMap, HashMapExt as _};

use oot_contract::Conclusion;
use oot_triage::{
    counts_cover_failed_list, JobOutcome, JobResult, JobSlot, RunOf, TestId, Trigger,
};

/// A completed job as a store row holds it (any version).
#[derive(Debug, Clone, PartialEq)]
pub struct JobFacts {
    pub job_key: String,
    pub version: u64,
    pub upstream_repo: Option<String>,
    pub pr_number: Option<u64>,
    /// Lower-case as stored; empty when unknown.
    pub head_sha: String,
    pub event_type: String,
    pub workflow_name: String,
    pub job_name: String,
    pub run_id: String,
    pub run_attempt: u32,
    pub conclusion: Option<Conclusion>,
    pub first_seen_at: i64,
    /// `test_results.failed`, when the job reported counts.
    pub failed_count: Option<u64>,
}

impl JobFacts {
    pub fn slot(&self) -> JobSlot {
        JobSlot {
            workflow_name: self.workflow_name.clone(),
            job_name: self.job_name.clone(),
        }
    }
}

/// One row of the failed-test table: a test a job version listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFailure {
    pub job_key: String,
    pub version: u64,
    pub test: TestId,
}

/// What a job's failed list (the stored `failed_tests_json`) says of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListOf {
    /// Entries the list holds.
    pub entries: u64,
    /// Whether the test is one of them.
    pub has_test: bool,
}

/// How a conclusion counts for the rules (§11.4's classes); none is `other`.
pub fn outcome(conclusion: Option<Conclusion>) -> JobOutcome {
    match conclusion {
        Some(Conclusion::Success) => JobOutcome::Success,
        Some(Conclusion::Failure) => JobOutcome::Failure,
        Some(Conclusion::TimedOut) => JobOutcome::TimedOut,
        Some(Conclusion::Cancelled) => JobOutcome::Cancelled,
        Some(
            Conclusion::Skipped
            | Conclusion::Neutral
            | Conclusion::ActionRequired
            | Conclusion::Stale,
        )
        | None => JobOutcome::Other,
    }
}

/// The observations of one backend, built from its rows.
#[derive(Debug, Default)]
pub struct Observations {
    results: Vec<JobResult>,
    /// Per job key, its place in `results` and the version it was read at.
    read_at: HashMap<String, (usize, u64)>,
    /// The upstream repo each PR number was seen with (the lowest name, should two share a
    /// number), for links.
    pr_upstreams: BTreeMap<u64, String>,
}

impl Observations {
    /// The window's jobs, each with every test it listed at its latest version.
    pub fn of_window(
        jobs: impl IntoIterator<Item = JobFacts>,
        failures: impl IntoIterator<Item = ListedFailure>,
    ) -> Observations {
        // Both sorted by job key and walked together: no map of a window's jobs (a busy
        // backend's month is 1.25M of them, whose keys a map held a second time).
        let latest = latest_versions(jobs);
        let mut failures: Vec<ListedFailure> = failures.into_iter().collect();
        failures.sort_unstable_by(|a, b| a.job_key.cmp(&b.job_key));
        let mut failures = failures.into_iter().peekable();
        let mut observations = Observations::with_capacity(latest.len());
        for job in latest {
            while failures
                .next_if(|f| f.job_key.as_str() < job.job_key.as_str())
                .is_some()
            {}
            let mut listed: BTreeSet<TestId> = BTreeSet::new();
            while let Some(failure) = failures.next_if(|f| f.job_key == job.job_key) {
                if failure.version == job.version {
                    listed.insert(failure.test);
                }
            }
            let failed: Vec<TestId> = listed.into_iter().collect();
            let entries = failed.len();
            observations.push(job, failed, entries);
        }
        observations
    }

    /// One test's jobs (contract §12.14), each with what its failed list at the version read
    /// says of `test`: each job at its highest version, failing `test` when that list names it,
    /// and saying it passed when the list holds every failure counted (§12.2), whatever other
    /// tests it failed. Taken from the job's own row, the two always belong to the version its
    /// facts are of.
    pub fn of_test(
        jobs: impl IntoIterator<Item = (JobFacts, ListOf)>,
        test: &TestId,
    ) -> Observations {
        let mut latest: HashMap<String, (JobFacts, ListOf)> = HashMap::new();
        for (job, list) in jobs {
            match latest.get(&job.job_key) {
                Some((kept, _)) if kept.version >= job.version => {}
                _ => {
                    latest.insert(job.job_key.clone(), (job, list));
                }
            }
        }
        let mut observations = Observations::default();
        for (job, list) in latest.into_values() {
            let failed = if list.has_test {
                vec![test.clone()]
            } else {
                Vec::new()
            };
            let entries = usize::try_from(list.entries).unwrap_or(usize::MAX);
            observations.push(job, failed, entries);
        }
        observations
    }

    /// Nightlies from before the window, without their failed tests (asked later, by
    /// [`Self::attach_asked`]); a job already held is kept at the higher version.
    pub fn add_before_window(&mut self, jobs: impl IntoIterator<Item = JobFacts>) {
        for job in latest_versions(jobs) {
            match self.read_at.get(&job.job_key) {
                Some(&(_, version)) if version >= job.version => {}
                Some(&(at, _)) => {
                    let version = job.version;
                    let (result, _) = observe(job, Vec::new(), 0);
                    self.read_at
                        .insert(result.run.job_key.clone(), (at, version));
                    self.results[at] = result;
                }
                None => self.push(job, Vec::new(), 0),
            }
        }
    }

    /// The failures asked of nightlies added by [`Self::add_before_window`], at the versions
    /// they were read at; what they say about tests not asked is left as it was.
    pub fn attach_asked(&mut self, failures: impl IntoIterator<Item = ListedFailure>) {
        for failure in failures {
            let Some(&(at, version)) = self.read_at.get(&failure.job_key) else {
                continue;
            };
            let failed = &mut self.results[at].failed;
            if version == failure.version && !failed.contains(&failure.test) {
                failed.push(failure.test);
            }
        }
    }

    pub fn results(&self) -> &[JobResult] {
        &self.results
    }

    /// The version job `job_key` was read at, if it was read.
    pub fn version_of(&self, job_key: &str) -> Option<u64> {
        self.read_at.get(job_key).map(|&(_, version)| version)
    }

    /// The upstream repo of PR `number` among the jobs read, if any named one.
    pub fn upstream_of_pr(&self, number: u64) -> Option<&str> {
        self.pr_upstreams.get(&number).map(String::as_str)
    }

    fn with_capacity(jobs: usize) -> Observations {
        Observations {
            results: Vec::with_capacity(jobs),
            read_at: HashMap::with_capacity(jobs),
            pr_upstreams: BTreeMap::new(),
        }
    }

    /// Adds `job` with the tests it listed, its list holding `entries` entries.
    fn push(&mut self, job: JobFacts, failed: Vec<TestId>, entries: usize) {
        let (number, version) = (job.pr_number, job.version);
        let (result, upstream) = observe(job, failed, entries);
        if let (Some(number), Some(upstream)) = (number, upstream) {
            self.pr_upstreams
                .entry(number)
                .and_modify(|kept| {
                    if upstream < *kept {
                        upstream.clone_into(kept);
                    }
                })
                .or_insert(upstream);
        }
        self.read_at
            .insert(result.run.job_key.clone(), (self.results.len(), version));
        self.results.push(result);
    }
}

/// Each job at its highest version read, by job key.
fn latest_versions(jobs: impl IntoIterator<Item = JobFacts>) -> Vec<JobFacts> {
    let mut jobs: Vec<JobFacts> = jobs.into_iter().collect();
    // By key, the highest version first; then the first of each key is kept (two rows of one
    // job and version are the same row).
    jobs.sort_unstable_by(|a, b| {
        a.job_key
            .cmp(&b.job_key)
            .then_with(|| b.version.cmp(&a.version))
    });
    jobs.dedup_by(|later, kept| later.job_key == kept.job_key);
    jobs
}

/// One job as the rules read it, with the tests it listed (its list holding `entries` entries),
/// and its upstream repo.
fn observe(job: JobFacts, failed: Vec<TestId>, entries: usize) -> (JobResult, Option<String>) {
    let result = JobResult {
        slot: JobSlot {
            workflow_name: job.workflow_name,
            job_name: job.job_name,
        },
        run: RunOf {
            event: Trigger::classify(&job.event_type, job.pr_number, false),
            upstream_sha: job.head_sha,
            first_seen_at: job.first_seen_at,
            run_id: job.run_id,
            run_attempt: job.run_attempt,
            job_key: job.job_key,
        },
        outcome: outcome(job.conclusion),
        reported_counts: counts_cover_failed_list(job.failed_count, entries),
        failed,
    };
    (result, job.upstream_repo)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn facts(key: &str, version: u64) -> JobFacts {
        JobFacts {
            job_key: key.to_owned(),
            version,
            upstream_repo: Some("pytorch/pytorch".to_owned()),
            pr_number: Some(7),
            head_sha: "abc".to_owned(),
            event_type: "pull_request".to_owned(),
            workflow_name: "ci".to_owned(),
            job_name: "test".to_owned(),
            run_id: "100".to_owned(),
            run_attempt: 1,
            conclusion: Some(Conclusion::Failure),
            first_seen_at: 1_000,
            failed_count: Some(1),
        }
    }

    pub fn test_id(name: &str) -> TestId {
        TestId {
            classname: "T".to_owned(),
            name: name.to_owned(),
        }
    }

    pub fn listed(key: &str, version: u64, name: &str) -> ListedFailure {
        ListedFailure {
            job_key: key.to_owned(),
            version,
            test: test_id(name),
        }
    }

    fn failed_of<'a>(observations: &'a Observations, key: &str) -> Vec<&'a str> {
        let job = observations
            .results()
            .iter()
            .find(|j| j.run.job_key == key)
            .unwrap();
        let mut names: Vec<&str> = job.failed.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn each_job_of_many_gets_its_own_tests_whatever_the_order_of_the_rows() {
        let observations = Observations::of_window(
            [facts("c", 1), facts("a", 1), facts("b", 2), facts("b", 1)],
            [
                listed("c", 1, "z"),
                listed("ab", 1, "not a job read"),
                listed("b", 1, "older version"),
                listed("a", 1, "x"),
                listed("c", 1, "y"),
                listed("d", 1, "after every job"),
            ],
        );
        assert_eq!(observations.results().len(), 3);
        assert_eq!(failed_of(&observations, "a"), ["x"]);
        assert!(failed_of(&observations, "b").is_empty());
        assert_eq!(failed_of(&observations, "c"), ["y", "z"]);
        assert_eq!(observations.version_of("b"), Some(2));
    }

    #[test]
    fn a_job_is_read_at_its_latest_version_with_that_versions_tests_only() {
        let observations = Observations::of_window(
            [facts("k", 1), facts("k", 3), facts("k", 2)],
            [
                listed("k", 1, "old"),
                listed("k", 3, "now"),
                listed("k", 3, "now"),
                listed("k", 2, "between"),
                listed("gone", 1, "x"),
            ],
        );
        assert_eq!(observations.results().len(), 1);
        assert_eq!(failed_of(&observations, "k"), ["now"]);
        assert!(observations.results()[0].reported_counts, "1 of 1 listed");
    }

    #[test]
    fn counts_cover_the_list_only_when_as_many_tests_are_listed() {
        let mut cut = facts("cut", 1);
        cut.failed_count = Some(2_000);
        let mut no_counts = facts("none", 1);
        no_counts.failed_count = None;
        let mut green = facts("green", 1);
        green.failed_count = Some(0);
        green.conclusion = Some(Conclusion::Success);
        let observations = Observations::of_window(
            [cut, no_counts, green],
            [listed("cut", 1, "a"), listed("none", 1, "a")],
        );
        let covered: BTreeMap<&str, bool> = observations
            .results()
            .iter()
            .map(|j| (j.run.job_key.as_str(), j.reported_counts))
            .collect();
        assert_eq!(
            covered,
            BTreeMap::from([("cut", false), ("green", true), ("none", false)])
        );
    }

    #[test]
    fn triggers_outcomes_and_identity_come_from_the_row() {
        let mut nightly = facts("n", 1);
        nightly.pr_number = None;
        nightly.event_type = "schedule".to_owned();
        nightly.conclusion = Some(Conclusion::TimedOut);
        let mut push = facts("p", 1);
        push.pr_number = None;
        push.event_type = "push".to_owned();
        push.conclusion = None;
        let observations = Observations::of_window([facts("pr", 1), nightly, push], []);
        let by_key: BTreeMap<&str, &JobResult> = observations
            .results()
            .iter()
            .map(|j| (j.run.job_key.as_str(), j))
            .collect();
        assert_eq!(by_key["pr"].run.event, Trigger::PullRequest(7));
        assert_eq!(by_key["pr"].outcome, JobOutcome::Failure);
        assert_eq!(by_key["n"].run.event, Trigger::Nightly);
        assert_eq!(by_key["n"].outcome, JobOutcome::TimedOut);
        assert_eq!(
            by_key["p"].run.event,
            Trigger::Other,
            "no branch stored: a push is never a run on main"
        );
        assert_eq!(by_key["p"].outcome, JobOutcome::Other);
        let pr = by_key["pr"];
        assert_eq!(
            (
                pr.slot.workflow_name.as_str(),
                pr.slot.job_name.as_str(),
                pr.run.run_id.as_str(),
                pr.run.upstream_sha.as_str(),
                pr.run.first_seen_at
            ),
            ("ci", "test", "100", "abc", 1_000)
        );
        assert_eq!(observations.upstream_of_pr(7), Some("pytorch/pytorch"));
        assert_eq!(observations.upstream_of_pr(8), None);
    }

    #[test]
    fn one_tests_jobs_say_passed_by_the_size_of_their_list_at_the_version_read() {
        let asked = test_id("t");
        let list = |entries, has_test| ListOf { entries, has_test };
        // Failed three others, listed all three: it passed t.
        let mut others = facts("others", 1);
        others.failed_count = Some(3);
        // Listed t at version 1 only; version 2 lists two others.
        let mut relisted = facts("relisted", 2);
        relisted.failed_count = Some(2);
        // Counted 5 failures, its list cut to 2: nothing said of t.
        let mut cut = facts("cut", 1);
        cut.failed_count = Some(5);
        let observations = Observations::of_test(
            [
                (others, list(3, false)),
                (facts("relisted", 1), list(1, true)),
                (relisted, list(2, false)),
                (cut, list(2, false)),
                (facts("failed", 1), list(1, true)),
            ],
            &asked,
        );
        let result = |key: &str| {
            let job = observations
                .results()
                .iter()
                .find(|j| j.run.job_key == key)
                .unwrap();
            oot_triage::result_of(job, &asked)
        };
        use oot_triage::TestResult::{Failed, Passed, Unknown};
        assert_eq!(observations.results().len(), 4);
        assert_eq!(result("others"), Passed);
        assert_eq!(
            result("relisted"),
            Passed,
            "its latest version does not list t"
        );
        assert_eq!(result("cut"), Unknown);
        assert_eq!(result("failed"), Failed);
        assert_eq!(observations.version_of("relisted"), Some(2));
    }

    #[test]
    fn nightlies_before_the_window_get_only_the_failures_asked_at_their_version() {
        let mut observations = Observations::of_window([facts("w", 1)], []);
        let mut nightly = facts("n", 2);
        nightly.pr_number = None;
        nightly.event_type = "nightly".to_owned();
        nightly.failed_count = Some(5);
        observations.add_before_window([nightly.clone(), facts("n", 1), nightly]);
        assert_eq!(observations.results().len(), 2);
        observations.attach_asked([
            listed("n", 2, "asked"),
            listed("n", 2, "asked"),
            listed("n", 1, "stale"),
            listed("nobody", 2, "x"),
        ]);
        assert_eq!(failed_of(&observations, "n"), ["asked"]);
        let n = observations
            .results()
            .iter()
            .find(|j| j.run.job_key == "n")
            .unwrap();
        assert!(!n.reported_counts, "a partial list covers no counts");
        // Read again at a higher version: replaced.
        let mut newer = facts("n", 3);
        newer.failed_count = Some(0);
        newer.conclusion = Some(Conclusion::Success);
        observations.add_before_window([newer]);
        assert_eq!(observations.results().len(), 2);
        assert!(failed_of(&observations, "n").is_empty());
    }

    #[test]
    fn every_conclusion_has_a_class() {
        for conclusion in Conclusion::ALL {
            let class = outcome(Some(*conclusion));
            assert_eq!(
                class.ran_to_the_end(),
                matches!(conclusion, Conclusion::Success | Conclusion::Failure),
                "{conclusion:?}"
            );
        }
        assert_eq!(outcome(None), JobOutcome::Other);
    }
}
