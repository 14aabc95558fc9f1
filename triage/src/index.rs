//! The observations arranged once for the rules: one job per key in job order, which attempts
//! are their run's latest (§12.3), each slot's nightly series (§12.4), and per (test, slot) the
//! jobs that failed it. Tests, slots and commits are numbered once, so that after building (one
//! hash per failed-test entry, one sort of the jobs) a rule over one pair reads only that pair's
//! failures and compares numbers.

// foldhash, not SipHash: the index is built over every job of a window (285,000 for a busy
// backend's week) at each pass of the rules, and hashing keys was a third of the failing-tests
// view's CPU (3.65 → 2.19 s per 7-day request, the same answer). Seeded per process; the keys
// come from authenticated downstreams through ingest's validation.
use foldhash::HashMap;
use foldhash::HashMapExt as _;

use crate::observation::{JobResult, JobSlot, TestId};
use crate::passed::{reports_passes, TestResult};

/// A position in [`Index::jobs`]: comparing positions compares jobs in job order.
pub(crate) type Pos = usize;
/// A test's number in [`Index::tests`].
pub(crate) type TestNo = u32;
/// A slot's number in [`Index::slots`].
pub(crate) type SlotNo = u32;
/// A commit's number, only compared.
pub(crate) type ShaNo = u32;

pub(crate) struct Index<'a> {
    /// One job per job key, in job order.
    pub jobs: Vec<&'a JobResult>,
    /// Whether each job is the latest attempt of its run.
    pub latest: Vec<bool>,
    /// Each job's slot and commit.
    pub slot_of: Vec<SlotNo>,
    pub sha_of: Vec<ShaNo>,
    pub tests: Vec<&'a TestId>,
    pub slots: Vec<&'a JobSlot>,
    shas: Vec<&'a str>,
    /// Each job's failed tests, sorted and without repeats: job `p`'s are
    /// `failed_tests[failed_from[p]..failed_from[p + 1]]`.
    failed_from: Vec<usize>,
    failed_tests: Vec<TestNo>,
    /// Per test, per slot where some job failed it, those jobs (every attempt, ascending).
    /// A test fails in few slots, so a slot is found by scanning, with no hash per failure.
    failures: Vec<Vec<(SlotNo, Vec<Pos>)>>,
    /// Per slot, its nightly series: the latest attempts of its nightly runs, ascending.
    nightlies: Vec<Vec<Pos>>,
}

impl<'a> Index<'a> {
    pub fn new(observations: &'a [JobResult]) -> Index<'a> {
        let jobs = one_per_key(observations);
        let mut slots = Numbering::default();
        let mut shas = Numbering::default();
        let slot_of: Vec<SlotNo> = jobs.iter().map(|job| slots.number(&job.slot)).collect();
        let sha_of: Vec<ShaNo> = jobs
            .iter()
            .map(|job| shas.number(job.run.upstream_sha.as_str()))
            .collect();
        let latest = latest_attempts_by(&jobs, |pos| (slot_of[pos], &jobs[pos].run.run_id));
        let mut tests = Numbering::default();
        let mut failed_from = Vec::with_capacity(jobs.len() + 1);
        let mut failed_tests = Vec::new();
        let mut failures: Vec<Vec<(SlotNo, Vec<Pos>)>> = Vec::new();
        let mut nightlies: Vec<Vec<Pos>> = vec![Vec::new(); slots.values.len()];
        for (pos, job) in jobs.iter().enumerate() {
            let slot = slot_of[pos];
            failed_from.push(failed_tests.len());
            let mut failed: Vec<TestNo> = job.failed.iter().map(|t| tests.number(t)).collect();
            failed.sort_unstable();
            failed.dedup();
            for &test in &failed {
                let at = test as usize;
                if failures.len() <= at {
                    failures.resize_with(at + 1, Vec::new);
                }
                let slots_failing = &mut failures[at];
                match slots_failing.iter_mut().find(|(s, _)| *s == slot) {
                    Some((_, failing)) => failing.push(pos),
                    None => slots_failing.push((slot, vec![pos])),
                }
            }
            failed_tests.extend(failed);
            if latest[pos] && job.is_nightly() {
                nightlies[slot as usize].push(pos);
            }
        }
        failed_from.push(failed_tests.len());
        Index {
            jobs,
            latest,
            slot_of,
            sha_of,
            tests: tests.values,
            slots: slots.values,
            shas: shas.values,
            failed_from,
            failed_tests,
            failures,
            nightlies,
        }
    }

    pub fn sha(&self, sha: ShaNo) -> &'a str {
        self.shas[sha as usize]
    }

    #[cfg(test)]
    pub fn test_number(&self, test: &TestId) -> Option<TestNo> {
        let at = self.tests.iter().position(|t| *t == test)?;
        TestNo::try_from(at).ok()
    }

    #[cfg(test)]
    pub fn slot_number(&self, slot: &JobSlot) -> Option<SlotNo> {
        let at = self.slots.iter().position(|s| *s == slot)?;
        SlotNo::try_from(at).ok()
    }

    /// The job's failed tests, ascending.
    pub fn failed(&self, pos: Pos) -> &[TestNo] {
        &self.failed_tests[self.failed_from[pos]..self.failed_from[pos + 1]]
    }

    /// Every (test, slot) some job failed, with those jobs (every attempt, ascending).
    pub fn failures(&self) -> impl Iterator<Item = (TestNo, SlotNo, &[Pos])> {
        (0..).zip(&self.failures).flat_map(|(test, slots)| {
            slots
                .iter()
                .map(move |(slot, failing)| (test, *slot, failing.as_slice()))
        })
    }

    /// The jobs of `slot` that failed `test`, every attempt, ascending.
    #[cfg(test)]
    pub fn failing(&self, test: TestNo, slot: SlotNo) -> &[Pos] {
        self.failures
            .get(test as usize)
            .and_then(|slots| slots.iter().find(|(s, _)| *s == slot))
            .map_or(&[], |(_, failing)| failing.as_slice())
    }

    /// The first position inside the window starting at `since`: jobs are in job order, whose
    /// first component is `first_seen_at`, so the window is a suffix.
    pub fn window_start(&self, since: i64) -> Pos {
        self.jobs
            .partition_point(|job| job.run.first_seen_at < since)
    }

    pub fn result(&self, pos: Pos, test: TestNo) -> TestResult {
        if self.failed(pos).binary_search(&test).is_ok() {
            TestResult::Failed
        } else if reports_passes(self.jobs[pos]) {
            TestResult::Passed
        } else {
            TestResult::Unknown
        }
    }

    pub fn series(&self, slot: SlotNo) -> &[Pos] {
        self.nightlies.get(slot as usize).map_or(&[], Vec::as_slice)
    }

    pub fn in_series(&self, pos: Pos) -> bool {
        self.latest[pos] && self.jobs[pos].is_nightly()
    }

    /// The baseline nightly of something first seen at `at` in `slot` (§12.5): the last nightly
    /// of the series before it, else the first of the series (which is then `at` itself or
    /// later), else none.
    pub fn baseline(&self, slot: SlotNo, at: Pos) -> Option<Pos> {
        let series = self.series(slot);
        let before = series.partition_point(|&nightly| nightly < at);
        match before.checked_sub(1) {
            Some(last_before) => series.get(last_before).copied(),
            None => series.first().copied(),
        }
    }
}

/// Numbers values in the order they are first met.
struct Numbering<'a, T: ?Sized> {
    values: Vec<&'a T>,
    numbers: HashMap<&'a T, u32>,
}

impl<T: ?Sized> Default for Numbering<'_, T> {
    fn default() -> Self {
        Numbering {
            values: Vec::new(),
            numbers: HashMap::new(),
        }
    }
}

impl<'a, T: ?Sized + Eq + std::hash::Hash> Numbering<'a, T> {
    fn number(&mut self, value: &'a T) -> u32 {
        let next = self.values.len();
        *self.numbers.entry(value).or_insert_with(|| {
            self.values.push(value);
            // Fewer than 2^32 distinct values: the input is one backend's window.
            next as u32
        })
    }
}

/// What the window-wide figures of the rules need, counted once per window.
pub(crate) struct Window {
    /// The first position inside the window.
    pub start: Pos,
    /// Per slot, how many runs it has in the window: latest attempts first seen in it (§12.10).
    runs: Vec<u64>,
    /// Per (slot, commit), how many of the window's jobs there (every attempt) report passes.
    reporting_on_sha: HashMap<(SlotNo, ShaNo), u64>,
    /// Per slot, the window's nightly attempts (every attempt) that report passes, ascending.
    reporting_nightly_attempts: Vec<Vec<Pos>>,
}

impl Window {
    pub fn new(index: &Index<'_>, since: i64) -> Window {
        let start = index.window_start(since);
        let mut runs = vec![0; index.slots.len()];
        let mut reporting_on_sha: HashMap<(SlotNo, ShaNo), u64> = HashMap::new();
        let mut reporting_nightly_attempts = vec![Vec::new(); index.slots.len()];
        for (pos, job) in index.jobs.iter().enumerate().skip(start) {
            let slot = index.slot_of[pos];
            if index.latest[pos] {
                runs[slot as usize] += 1;
            }
            if reports_passes(job) {
                *reporting_on_sha
                    .entry((slot, index.sha_of[pos]))
                    .or_default() += 1;
                if job.is_nightly() {
                    reporting_nightly_attempts[slot as usize].push(pos);
                }
            }
        }
        Window {
            start,
            runs,
            reporting_on_sha,
            reporting_nightly_attempts,
        }
    }

    pub fn runs(&self, slot: SlotNo) -> u64 {
        self.runs.get(slot as usize).copied().unwrap_or(0)
    }

    pub fn reporting_on_sha(&self, slot: SlotNo, sha: ShaNo) -> u64 {
        self.reporting_on_sha
            .get(&(slot, sha))
            .copied()
            .unwrap_or(0)
    }

    pub fn reporting_nightly_attempts(&self, slot: SlotNo) -> &[Pos] {
        self.reporting_nightly_attempts
            .get(slot as usize)
            .map_or(&[], Vec::as_slice)
    }
}

/// One job per job key, in job order. A store holds one row per job (its latest version); were
/// two rows to share a key, the greater (by every field) is kept, so the choice never depends on
/// the order rows arrive in.
pub(crate) fn one_per_key<'a>(
    observations: impl IntoIterator<Item = &'a JobResult>,
) -> Vec<&'a JobResult> {
    let mut by_key: HashMap<&str, &JobResult> = HashMap::new();
    for job in observations {
        by_key
            .entry(&job.run.job_key)
            .and_modify(|kept| {
                if job > *kept {
                    *kept = job;
                }
            })
            .or_insert(job);
    }
    let mut jobs: Vec<&JobResult> = by_key.into_values().collect();
    jobs.sort_by(|a, b| a.order().cmp(&b.order()));
    jobs
}

/// For each job (distinct keys), whether it is the latest attempt of its run (slot, `run_id`):
/// the highest `run_attempt`, then the higher job key (§11.2).
pub(crate) fn latest_attempts(jobs: &[&JobResult]) -> Vec<bool> {
    latest_attempts_by(jobs, |pos| (&jobs[pos].slot, &jobs[pos].run.run_id))
}

/// [`latest_attempts`], with the run of the job at each position named by `run_of`.
fn latest_attempts_by<R: Eq + std::hash::Hash>(
    jobs: &[&JobResult],
    run_of: impl Fn(Pos) -> R,
) -> Vec<bool> {
    let mut latest_of_run: HashMap<R, Pos> = HashMap::new();
    for (pos, job) in jobs.iter().enumerate() {
        let rank = (job.run.run_attempt, job.run.job_key.as_str());
        latest_of_run
            .entry(run_of(pos))
            .and_modify(|kept| {
                let kept_job = jobs[*kept];
                if rank > (kept_job.run.run_attempt, kept_job.run.job_key.as_str()) {
                    *kept = pos;
                }
            })
            .or_insert(pos);
    }
    let mut latest = vec![false; jobs.len()];
    for pos in latest_of_run.into_values() {
        latest[pos] = true;
    }
    latest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{job, With};
    use crate::Trigger;

    #[test]
    fn jobs_are_in_time_order_and_same_second_ties_go_by_job_key() {
        let rows = vec![
            job("b", Trigger::Nightly, 10, &[]),
            job("c", Trigger::Nightly, 5, &[]),
            job("a", Trigger::Nightly, 10, &[]),
        ];
        let index = Index::new(&rows);
        let keys: Vec<&str> = index.jobs.iter().map(|j| j.run.job_key.as_str()).collect();
        assert_eq!(keys, ["c", "a", "b"]);
    }

    #[test]
    fn a_repeated_key_keeps_one_row_whatever_the_order() {
        let one = job("k", Trigger::Nightly, 10, &["x"]);
        let other = job("k", Trigger::Nightly, 10, &["y"]);
        let forward = [one.clone(), other.clone()];
        let backward = [other, one];
        assert_eq!(one_per_key(&forward), one_per_key(&backward));
        assert_eq!(one_per_key(&forward).len(), 1);
    }

    #[test]
    fn the_latest_attempt_is_the_highest_then_the_higher_key() {
        let rows = vec![
            job("a1", Trigger::PullRequest(1), 1, &[]).run("r", 1),
            job("a2", Trigger::PullRequest(1), 2, &[]).run("r", 2),
            job("b", Trigger::PullRequest(1), 3, &[]).run("s", 1),
            job("c", Trigger::PullRequest(1), 3, &[]).run("s", 1),
            job("d", Trigger::PullRequest(1), 3, &[])
                .run("r", 9)
                .slot("other"),
        ];
        let index = Index::new(&rows);
        let latest: Vec<&str> = (0..index.jobs.len())
            .filter(|&p| index.latest[p])
            .map(|p| index.jobs[p].run.job_key.as_str())
            .collect();
        assert_eq!(latest, ["a2", "c", "d"]);
    }

    #[test]
    fn the_baseline_is_the_last_nightly_before_else_the_first() {
        let rows = vec![
            job("n1", Trigger::Nightly, 10, &[]),
            job("p", Trigger::PullRequest(1), 15, &[]),
            job("n2", Trigger::Nightly, 20, &[]),
            job("q", Trigger::PullRequest(1), 20, &[]),
        ];
        let index = Index::new(&rows);
        let slot = index.slot_number(&rows[0].slot).unwrap();
        let key = |pos: Option<Pos>| pos.map(|p| index.jobs[p].run.job_key.as_str());
        let pos_of = |k: &str| index.jobs.iter().position(|j| j.run.job_key == k).unwrap();
        assert_eq!(key(index.baseline(slot, pos_of("p"))), Some("n1"));
        // Same second as n2, but "n2" < "q": n2 is before q.
        assert_eq!(key(index.baseline(slot, pos_of("q"))), Some("n2"));
        // A nightly's baseline is the nightly before it, not itself.
        assert_eq!(key(index.baseline(slot, pos_of("n2"))), Some("n1"));
        assert_eq!(
            key(index.baseline(slot, pos_of("n1"))),
            Some("n1"),
            "nothing before: the first"
        );
    }
}
