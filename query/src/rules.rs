//! The rules that decide which jobs a view shows, in one place so every view agrees:
//!
//! - **Window**: a job is in a window when ingest first received a callback of it
//!   (`first_seen_at`) at or after `now - window`. That clock is ours (the downstream's
//!   `started_at`/`completed_at` are self-reported), it is set once per job, so every version of
//!   a job's row agrees on it, running and completed jobs are windowed alike, and it is the
//!   ClickHouse table's partition key, so a window reads only the partitions it needs.
//! - **Latest attempt**: the attempts of one run of one job (same downstream repo, workflow,
//!   job name and `run_id`; a re-run keeps `run_id` and raises `run_attempt`) are shown as the
//!   one with the highest `run_attempt`, running attempts included: a run whose attempt 2 is
//!   running is that running attempt in every view, and rates ([`counted_attempts`]) count no
//!   outcome for it until attempt 2 completes, never attempt 1's. Where a view has one place for several runs (a cell of
//!   the PR matrix, a job of the PR view), the newest run wins: GitHub's run ids grow over time,
//!   so the higher `run_id` is the later push. Ties (which the stores should never produce) go to
//!   the higher job key, so the choice never depends on the order rows arrive in.
//! - **Live beside completed**: a job present in both stores is shown as its completed row
//!   (completed beats in_progress, as in the contract's merge rules); the DynamoDB copy of a
//!   running job only stands in until its completed row lands.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

pub use oot_rollup::ledger::RunKey;

/// The windows the views offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    Day,
    Week,
    Month,
}

impl Window {
    /// Every window, in the order a page offers them.
    pub const ALL: [Window; 3] = [Window::Day, Window::Week, Window::Month];
    /// The window of a request that names none.
    pub const DEFAULT: Window = Window::Week;

    /// `24h`, `7d` or `30d`.
    pub fn parse(text: &str) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Window::Day => "24h",
            Window::Week => "7d",
            Window::Month => "30d",
        }
    }

    pub fn seconds(self) -> i64 {
        const DAY: i64 = 24 * 60 * 60;
        match self {
            Window::Day => DAY,
            Window::Week => 7 * DAY,
            Window::Month => 30 * DAY,
        }
    }

    /// The earliest `first_seen_at` (seconds since the epoch) inside the window ending at `now`:
    /// the start of the hour `now - window` falls in. Windows start on the hour because the
    /// rollups that answer them are kept per hour (one figure per hour can be exact; one per
    /// second cannot be kept), so a `24h` window covers 24 to 25 hours.
    pub fn since(self, now: i64) -> i64 {
        start_of_hour(now.saturating_sub(self.seconds()))
    }
}

/// The start of the hour (UTC) holding `at`, in seconds since the epoch.
pub fn start_of_hour(at: i64) -> i64 {
    at - at.rem_euclid(HOUR)
}

/// Seconds in an hour: the rollups' granularity.
pub const HOUR: i64 = 60 * 60;

/// Whether a job first seen at `first_seen_at` is inside a window starting at `since`.
pub fn in_window(first_seen_at: i64, since: i64) -> bool {
    first_seen_at >= since
}

/// What the latest-attempt rule reads of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptFacts<'a> {
    pub downstream_repo: &'a str,
    pub workflow_name: &'a str,
    pub job_name: &'a str,
    pub run_id: &'a str,
    pub run_attempt: u32,
    pub job_key: &'a str,
}

/// A job the latest-attempt rule can choose among.
pub trait Attempt {
    fn attempt(&self) -> AttemptFacts<'_>;
}

/// A run id as GitHub numbers them; ids that are not numbers sort before every number.
fn run_order(run_id: &str) -> (Option<u64>, &str) {
    (run_id.parse::<u64>().ok(), run_id)
}

/// Which of two attempts is the more recent: the later run, then the higher attempt, then
/// (only to be deterministic) the higher job key.
pub fn recency(a: &AttemptFacts<'_>, b: &AttemptFacts<'_>) -> Ordering {
    run_order(a.run_id)
        .cmp(&run_order(b.run_id))
        .then(a.run_attempt.cmp(&b.run_attempt))
        .then(a.job_key.cmp(b.job_key))
}

/// Keeps, for every slot `slot` maps jobs to, the most recent job by [`recency`].
pub fn latest_by<T, K, F>(jobs: impl IntoIterator<Item = T>, slot: F) -> BTreeMap<K, T>
where
    T: Attempt,
    K: Ord,
    F: Fn(&T) -> K,
{
    let mut latest: BTreeMap<K, T> = BTreeMap::new();
    for job in jobs {
        let key = slot(&job);
        match latest.get(&key) {
            Some(kept) if recency(&kept.attempt(), &job.attempt()) != Ordering::Less => {}
            _ => {
                latest.insert(key, job);
            }
        }
    }
    latest
}

/// The latest attempt of every run of every job: what pass rates count, so a job re-run until
/// it passed counts once, as its last outcome.
pub fn latest_attempts<T: Attempt>(jobs: impl IntoIterator<Item = T>) -> Vec<T> {
    latest_by(jobs, |job| {
        let a = job.attempt();
        (
            a.downstream_repo.to_owned(),
            a.workflow_name.to_owned(),
            a.job_name.to_owned(),
            a.run_id.to_owned(),
        )
    })
    .into_values()
    .collect()
}

/// The latest attempt of the newest run of each job (downstream repo, workflow, job name) within
/// one place of a view, such as one upstream PR: what a matrix cell or a PR's job line shows.
pub fn latest_of_each_job<T: Attempt>(jobs: impl IntoIterator<Item = T>) -> Vec<T> {
    latest_by(jobs, |job| {
        let a = job.attempt();
        (
            a.downstream_repo.to_owned(),
            a.workflow_name.to_owned(),
            a.job_name.to_owned(),
        )
    })
    .into_values()
    .collect()
}

/// A candidate with a tag of the caller's (e.g. whether it runs): chosen by the candidate.
impl<T: Attempt, U> Attempt for (T, U) {
    fn attempt(&self) -> AttemptFacts<'_> {
        self.0.attempt()
    }
}

/// A job with whether it came from the running jobs (see [`counted_attempts`]).
struct Tagged<T> {
    job: T,
    running: bool,
}

impl<T: Attempt> Attempt for Tagged<T> {
    fn attempt(&self) -> AttemptFacts<'_> {
        self.job.attempt()
    }
}

/// The jobs whose outcomes rates count (the summary, a backend's header): the latest attempt of
/// every run among the completed *and the running* jobs, kept only when it is completed. A run
/// whose latest attempt is still running has no outcome yet, so it counts nothing: not its
/// older completed attempt, which the PR view and the matrix no longer show either. A job in
/// both lists is completed ([`with_running`]).
pub fn counted_attempts<T, F>(completed: Vec<T>, running: Vec<T>, key: F) -> Vec<T>
where
    T: Attempt,
    F: Fn(&T) -> &str,
{
    let done: HashSet<String> = completed.iter().map(|j| key(j).to_owned()).collect();
    let tagged = completed
        .into_iter()
        .map(|job| Tagged {
            job,
            running: false,
        })
        .chain(
            running
                .into_iter()
                .filter(|j| !done.contains(key(j)))
                .map(|job| Tagged { job, running: true }),
        );
    latest_attempts(tagged)
        .into_iter()
        .filter(|t| !t.running)
        .map(|t| t.job)
        .collect()
}

/// Completed jobs and running jobs as one list, a job in both shown as completed.
pub fn with_running<T, F>(completed: Vec<T>, running: Vec<T>, key: F) -> Vec<T>
where
    F: Fn(&T) -> &str,
{
    let done: HashSet<String> = completed.iter().map(|j| key(j).to_owned()).collect();
    let mut all = completed;
    all.extend(running.into_iter().filter(|j| !done.contains(key(j))));
    all
}

/// A run's latest completed attempt, as the running count compares a running attempt with:
/// its `run_attempt`, then its job key (within one run, [`recency`] reduces to these).
pub type CompletedRank = (u32, String);

/// The run of a job: what a re-run keeps (the rollup ledger's run key).
pub fn run_of<T: Attempt>(job: &T) -> RunKey {
    let a = job.attempt();
    RunKey {
        downstream_repo: a.downstream_repo.to_owned(),
        workflow_name: a.workflow_name.to_owned(),
        job_name: a.job_name.to_owned(),
        run_id: a.run_id.to_owned(),
    }
}

/// The latest completed attempt of each run among `completed`.
pub fn latest_completed<T: Attempt>(completed: &[T]) -> HashMap<RunKey, CompletedRank> {
    let mut latest: HashMap<RunKey, CompletedRank> = HashMap::new();
    for job in completed {
        let a = job.attempt();
        let rank = (a.run_attempt, a.job_key.to_owned());
        let kept = latest.entry(run_of(job)).or_insert_with(|| rank.clone());
        if rank > *kept {
            *kept = rank;
        }
    }
    latest
}

/// How many runs are running now (a backend header's running count, §11.2): the runs among
/// `running` whose latest attempt is running, that is whose most recent running attempt ranks
/// above the latest completed attempt of its run (`latest_completed`; none: it counts). A
/// running copy of a completed job ranks equal and does not count: the job has completed. The
/// same rule as the rates' ([`counted_attempts`]): a run is either running or counted, never both.
pub fn running_runs<T: Attempt>(
    running: &[T],
    latest_completed: &HashMap<RunKey, CompletedRank>,
) -> u64 {
    let mut latest_running: HashMap<RunKey, (u32, &str)> = HashMap::new();
    for job in running {
        let a = job.attempt();
        let rank = (a.run_attempt, a.job_key);
        let kept = latest_running.entry(run_of(job)).or_insert(rank);
        if rank > *kept {
            *kept = rank;
        }
    }
    latest_running
        .into_iter()
        .filter(|(run, (attempt, key))| {
            latest_completed
                .get(run)
                .is_none_or(|(done_attempt, done_key)| {
                    (*attempt, *key) > (*done_attempt, done_key.as_str())
                })
        })
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct J {
        repo: &'static str,
        job: &'static str,
        run: &'static str,
        attempt: u32,
        key: String,
    }

    fn j(repo: &'static str, job: &'static str, run: &'static str, attempt: u32) -> J {
        J {
            repo,
            job,
            run,
            attempt,
            key: format!("{repo}/{job}/{run}/{attempt}"),
        }
    }

    impl Attempt for J {
        fn attempt(&self) -> AttemptFacts<'_> {
            AttemptFacts {
                downstream_repo: self.repo,
                workflow_name: "ci",
                job_name: self.job,
                run_id: self.run,
                run_attempt: self.attempt,
                job_key: &self.key,
            }
        }
    }

    #[test]
    fn a_run_is_running_while_its_latest_attempt_runs() {
        let completed = vec![j("a", "test", "7", 1), j("a", "test", "8", 2)];
        let latest = latest_completed(&completed);
        // Run 7: attempt 2 running after attempt 1 completed counts; run 8's attempt 1, still
        // marked running (a lost callback), does not: attempt 2 has completed. Run 9 is new.
        let running = vec![
            j("a", "test", "7", 2),
            j("a", "test", "8", 1),
            j("a", "test", "9", 1),
        ];
        assert_eq!(running_runs(&running, &latest), 2);
        // A running copy of a completed job is that completed job.
        assert_eq!(running_runs(&[j("a", "test", "8", 2)], &latest), 0);
        // Two running attempts of one run are one running run.
        assert_eq!(
            running_runs(&[j("b", "x", "1", 1), j("b", "x", "1", 2)], &latest),
            1
        );
    }

    proptest::proptest! {
        /// The running count is the number of runs whose latest attempt among every job, running
        /// and completed, is a running one, as the rates' rule ([`counted_attempts`]) decides.
        #[test]
        fn running_runs_are_the_runs_the_rates_leave_uncounted(
            jobs in proptest::collection::vec((0usize..2, 0usize..3, 1u32..4, proptest::bool::ANY), 0..24)
        ) {
            const RUNS: [&str; 3] = ["1", "2", "3"];
            const NAMES: [&str; 2] = ["build", "test"];
            let mut completed = Vec::new();
            let mut running = Vec::new();
            for (name, run, attempt, is_running) in jobs {
                let job = j("a", NAMES[name], RUNS[run], attempt);
                if is_running { running.push(job) } else { completed.push(job) }
            }
            let latest = latest_completed(&completed);
            let expected = latest_by(
                completed.iter().map(|c| (c.clone(), false)).chain(running.iter().map(|r| (r.clone(), true))),
                |(job, _)| run_of(job),
            )
            .into_values()
            .filter(|(job, is_running)| *is_running && !completed.contains(job))
            .count() as u64;
            proptest::prop_assert_eq!(running_runs(&running, &latest), expected);
        }
    }

    #[test]
    fn windows_parse_from_their_names_only() {
        for w in Window::ALL {
            assert_eq!(Window::parse(w.as_str()), Some(w));
        }
        for bad in ["", "1d", "24H", "7 d", "week", "30d "] {
            assert_eq!(Window::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_window_holds_what_was_first_seen_since_its_start() {
        let hour = 1_800_000_000; // on the hour: 500,000 hours after the epoch
        let now = hour + 37 * 60 + 12;
        let since = Window::Day.since(now);
        assert_eq!(
            since,
            hour - 86_400,
            "from the start of the hour, a day ago"
        );
        assert!(in_window(since, since), "the start is inside");
        assert!(in_window(now, since));
        assert!(!in_window(since - 1, since));
        assert_eq!(Window::Week.since(now), hour - 7 * 86_400);
        assert_eq!(Window::Month.since(now), hour - 30 * 86_400);
        assert_eq!(
            Window::Day.since(hour),
            hour - 86_400,
            "on the hour: exactly 24 h"
        );
        assert_eq!(start_of_hour(-1), -3600, "before 1970 too");
    }

    #[test]
    fn the_highest_attempt_of_a_run_is_kept() {
        let jobs = vec![j("a/b", "test", "100", 2), j("a/b", "test", "100", 1)];
        assert_eq!(latest_attempts(jobs), vec![j("a/b", "test", "100", 2)]);
    }

    #[test]
    fn attempt_numbers_compare_as_numbers() {
        let jobs = vec![j("a/b", "t", "100", 10), j("a/b", "t", "100", 9)];
        assert_eq!(latest_attempts(jobs)[0].attempt, 10);
    }

    #[test]
    fn each_run_and_each_job_keeps_its_own_latest_attempt() {
        let jobs = vec![
            j("a/b", "test", "100", 1),
            j("a/b", "test", "101", 1),
            j("a/b", "build", "100", 1),
            j("c/d", "test", "100", 1),
        ];
        assert_eq!(latest_attempts(jobs).len(), 4);
    }

    #[test]
    fn the_newest_run_of_a_job_is_shown_even_when_an_older_run_was_retried_later() {
        // Push 1 ran as run 100 and was re-run (attempt 2) after push 2 ran as run 101.
        let jobs = vec![
            j("a/b", "test", "100", 1),
            j("a/b", "test", "101", 1),
            j("a/b", "test", "100", 2),
        ];
        assert_eq!(latest_of_each_job(jobs), vec![j("a/b", "test", "101", 1)]);
    }

    #[test]
    fn run_ids_compare_as_numbers_and_odd_ids_sort_first() {
        let jobs = vec![j("a/b", "t", "99", 1), j("a/b", "t", "100", 1)];
        assert_eq!(latest_of_each_job(jobs)[0].run, "100");
        let jobs = vec![j("a/b", "t", "1", 1), j("a/b", "t", "not-a-number", 5)];
        assert_eq!(latest_of_each_job(jobs)[0].run, "1");
    }

    #[test]
    fn the_choice_does_not_depend_on_input_order() {
        let jobs = vec![
            j("a/b", "t", "100", 1),
            j("a/b", "t", "100", 3),
            j("a/b", "t", "100", 2),
        ];
        let mut reversed = jobs.clone();
        reversed.reverse();
        assert_eq!(latest_attempts(jobs), latest_attempts(reversed));
        // Two check runs under one attempt (never produced by GitHub): the higher key, always.
        let mut a = j("a/b", "t", "100", 1);
        let mut b = a.clone();
        a.key = "k1".into();
        b.key = "k2".into();
        assert_eq!(latest_attempts(vec![a.clone(), b.clone()])[0].key, "k2");
        assert_eq!(latest_attempts(vec![b, a])[0].key, "k2");
    }

    #[test]
    fn a_run_whose_latest_attempt_runs_counts_no_outcome() {
        let completed = vec![j("a/b", "t", "100", 1), j("a/b", "t", "200", 1)];
        let running = vec![j("a/b", "t", "100", 2), j("a/b", "t", "300", 1)];
        let counted = counted_attempts(completed, running, |j| j.key.as_str());
        assert_eq!(counted, vec![j("a/b", "t", "200", 1)]);
    }

    #[test]
    fn a_running_copy_of_a_completed_attempt_does_not_hide_it() {
        let done = j("a/b", "t", "100", 2);
        let completed = vec![j("a/b", "t", "100", 1), done.clone()];
        let running = vec![done.clone()];
        let counted = counted_attempts(completed, running, |j| j.key.as_str());
        assert_eq!(counted, vec![done]);
    }

    #[test]
    fn a_completed_row_hides_the_running_copy_of_the_same_job() {
        let completed = vec![("k1", "completed")];
        let running = vec![("k1", "running"), ("k2", "running")];
        let all = with_running(completed, running, |j| j.0);
        assert_eq!(all, vec![("k1", "completed"), ("k2", "running")]);
    }
}
