//! Exactness of the rollups: for random streams of callbacks (re-runs, redeliveries, any
//! order, late sweeper `timed_out`s, any batching, a replay of the whole log), every figure the
//! hourly cells give equals the same figure computed from the full job rows by the contract's
//! rule (docs/contract.md §11.2: a run counts as its latest attempt, in the hour that attempt
//! was first seen, once completed).
//!
//! The projector's own pure steps run here (coalescing a batch, merging into the stored record,
//! the completed row, the ledger's `advance`); only the stores are replaced by maps, the way
//! the projector's conditional writes make them behave.

use std::collections::{BTreeMap, HashMap};

use oot_avro::CallbackEvent;
use oot_contract::{Conclusion, JobKey, RepoLevel, RepoName, Status};
use oot_demo::callback::{sample, Job};
use oot_projector::completed_rows::CompletedJobRow;
use oot_projector::job_table::bounded_for_item;
use oot_projector::merge::JobRecord;
use oot_projector::pipeline::coalesce;
use oot_projector::rollups::attempt_seen;
use oot_query::job::{JobState, SummaryJob};
use oot_query::rules::latest_attempts;
use oot_query::tally::Tally;
use oot_rollup::{CellKey, Figures, MemoryLedger, HOUR};
use proptest::prelude::*;
use proptest::sample::Index;
use time::OffsetDateTime;

/// The hour every stream ends in.
const NOW: i64 = 1_800_000_000 - 1_800_000_000 % HOUR + 1_800;

const REPOS: [&str; 2] = ["intel/torch-xpu-ops", "ascend/pytorch"];
const JOBS: [&str; 2] = ["test (1)", "test (2)"];
const CONCLUSIONS: [Conclusion; 5] = [
    Conclusion::Success,
    Conclusion::Failure,
    Conclusion::TimedOut,
    Conclusion::Cancelled,
    Conclusion::Skipped,
];

/// One attempt of a run as generated: when it was received, whether it reported its start,
/// how it completed (if it did) and whether the relay's sweeper also timed it out later.
#[derive(Debug, Clone)]
struct AttemptSpec {
    repo: usize,
    job: usize,
    run: u64,
    attempt: u32,
    hours_ago: i64,
    started: bool,
    completed: Option<(usize, u32)>,
    swept: bool,
}

fn arb_attempt() -> impl Strategy<Value = AttemptSpec> {
    (
        0..REPOS.len(),
        0..JOBS.len(),
        1..4u64,
        1..4u32,
        0..30i64,
        any::<bool>(),
        proptest::option::weighted(0.8, (0..CONCLUSIONS.len(), 0..5_000_000u32)),
        proptest::bool::weighted(0.15),
    )
        .prop_map(
            |(repo, job, run, attempt, hours_ago, started, completed, swept)| AttemptSpec {
                repo,
                job,
                run,
                attempt,
                hours_ago,
                started,
                completed,
                swept,
            },
        )
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).expect("in range")
}

/// The events of one attempt, each received at its own time.
fn events_of(spec: &AttemptSpec) -> Vec<CallbackEvent> {
    let job = Job {
        repo: RepoName::parse(REPOS[spec.repo]).expect("valid"),
        level: if spec.repo == 0 {
            RepoLevel::L2
        } else {
            RepoLevel::L3
        },
        delivery_id: format!("d-{}", spec.run),
        workflow: "ci".to_owned(),
        job_name: JOBS[spec.job].to_owned(),
        run_id: 1_000 + spec.run,
        run_attempt: spec.attempt,
        // Each attempt has its own check run, as on GitHub.
        check_run_id: 10_000 * spec.run + 100 * u64::from(spec.attempt) + spec.job as u64,
        ..sample::job()
    };
    let received = NOW - spec.hours_ago * HOUR - i64::from(spec.attempt) * 60;
    let mut events = Vec::new();
    let mut push = |callback: oot_demo::callback::Callback, received_at: i64| {
        let event = oot_demo::load::event_of(&callback, at(received_at)).expect("valid callback");
        events.push(event);
    };
    if spec.started {
        push(job.in_progress(at(received - 10), 3.25), received);
    }
    if let Some((conclusion, micros)) = spec.completed {
        let execution = f64::from(micros) / 1_000.0;
        push(
            job.completed(CONCLUSIONS[conclusion], at(received + 5), Some(execution)),
            received + 20,
        );
    }
    if spec.swept {
        push(
            job.completed(Conclusion::TimedOut, at(received + 7_200), None),
            received + 7_300,
        );
    }
    events
}

/// The projector over maps: the job table (bounded records and versions) and the ledger in
/// memory (the one `replay --only clickhouse` uses; the DynamoDB ledger applies the same
/// changes, each run's in one transaction).
struct Projection {
    jobs: HashMap<JobKey, (JobRecord, u64)>,
    ledger: MemoryLedger,
}

impl Default for Projection {
    fn default() -> Self {
        Self {
            jobs: HashMap::new(),
            ledger: MemoryLedger::new(usize::MAX),
        }
    }
}

impl Projection {
    fn project(&mut self, batch: &[CallbackEvent]) {
        let refs: Vec<&CallbackEvent> = batch.iter().collect();
        let (jobs, rejected) = coalesce(&refs);
        assert!(rejected.is_empty(), "{rejected:?}");
        let mut settled = Vec::new();
        for job in jobs {
            let key = job.record.job_key().clone();
            let (merged, version) = match self.jobs.get(&key) {
                None => (job.record, 1),
                Some((stored, version)) => {
                    let merged = stored.merge(&job.record).expect("same job");
                    if bounded_for_item(&merged) == *stored {
                        (merged, *version)
                    } else {
                        (merged, version + 1)
                    }
                }
            };
            self.jobs.insert(key, (bounded_for_item(&merged), version));
            settled.push((merged, version));
        }
        let seen = settled
            .iter()
            .map(|(record, version)| {
                let row = CompletedJobRow::of(record, *version, 0);
                attempt_seen(record, *version, row.as_ref())
            })
            .collect();
        self.ledger.apply(seen);
    }

    fn cells(&self) -> BTreeMap<CellKey, Figures> {
        self.ledger
            .cells()
            .filter(|(_, f, _)| !f.is_zero())
            .map(|(k, f, _)| (k.clone(), *f))
            .collect()
    }

    /// What the cells count per repo from `since`.
    fn counted_by_cells(&self, since: i64) -> BTreeMap<String, Tally> {
        let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
        for (cell, figures, _) in self.ledger.cells() {
            if cell.hour >= since && figures.completed > 0 {
                tallies
                    .entry(cell.downstream_repo.clone())
                    .or_default()
                    .add_figures(figures);
            }
        }
        tallies
    }

    /// What the full rows count per repo from `since`, by the contract's rule.
    fn counted_by_rows(&self, since: i64) -> BTreeMap<String, Tally> {
        let jobs: Vec<SummaryJob> = self
            .jobs
            .values()
            .map(|(record, version)| summary_job(record, *version))
            .collect();
        let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
        for job in latest_attempts(jobs) {
            if job.state != JobState::Running && job.first_seen_at >= since {
                tallies.entry(job.downstream_repo.clone()).or_default().add(
                    job.state,
                    job.duration_s(),
                    job.queue_time,
                );
            }
        }
        tallies
    }
}

/// A job as the views read it: from its completed row, or running from its item.
fn summary_job(record: &JobRecord, version: u64) -> SummaryJob {
    let view = record.view();
    let row = CompletedJobRow::of(record, version, 0);
    let state = match &row {
        None => JobState::Running,
        Some(row) => JobState::of(Status::Completed, Conclusion::parse(&row.conclusion).ok()),
    };
    SummaryJob {
        job_key: view.job_key.to_string(),
        downstream_repo: view.downstream_repo.to_string(),
        level: None,
        workflow_name: view.workflow_name.to_owned(),
        job_name: view.job_name.to_owned(),
        run_id: view.run_id.to_owned(),
        run_attempt: u32::try_from(view.run_attempt).unwrap_or(u32::MAX),
        state,
        queue_time: row.as_ref().and_then(|r| r.queue_time),
        execution_time: row.as_ref().and_then(|r| r.execution_time),
        first_seen_at: view.first_seen_at.div_euclid(1_000_000),
        started_at: row.as_ref().and_then(|r| r.started_at.map(i64::from)),
        completed_at: row.as_ref().map(|r| i64::from(r.completed_at)),
    }
}

/// Every window start the views could ask for over the stream's span, on the hour.
fn starts() -> impl Iterator<Item = i64> {
    (0..=32).map(|h| NOW - NOW % HOUR - h * HOUR)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_rollup_figure_equals_the_full_rows(
        attempts in proptest::collection::vec(arb_attempt(), 1..14),
        swaps in proptest::collection::vec((any::<Index>(), any::<Index>()), 0..40),
        repeats in proptest::collection::vec(any::<Index>(), 0..8),
        cuts in proptest::collection::vec(any::<Index>(), 0..6),
    ) {
        // One attempt per (run, job, attempt): the generator may draw one twice.
        let mut unique: BTreeMap<(usize, usize, u64, u32), AttemptSpec> = BTreeMap::new();
        for a in attempts {
            unique.entry((a.repo, a.job, a.run, a.attempt)).or_insert(a);
        }
        let log: Vec<CallbackEvent> = unique.values().flat_map(events_of).collect();
        prop_assume!(!log.is_empty());

        // Delivered in any order, some more than once, in batches of any size.
        let mut delivered = log.clone();
        for (a, b) in &swaps {
            let (i, j) = (a.index(delivered.len()), b.index(delivered.len()));
            delivered.swap(i, j);
        }
        for r in &repeats {
            let again = r.get(&log).clone();
            delivered.insert(r.index(delivered.len()), again);
        }
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(delivered.len() + 1)).collect();
        bounds.extend([0, delivered.len()]);
        bounds.sort_unstable();
        let mut live = Projection::default();
        for w in bounds.windows(2) {
            live.project(&delivered[w[0]..w[1]]);
        }
        for since in starts() {
            prop_assert_eq!(live.counted_by_cells(since), live.counted_by_rows(since), "window from {}", since);
        }

        // A replay of the log in one batch into empty stores builds the same cells; replayed
        // again over the live stores, it changes nothing.
        let mut replay = Projection::default();
        replay.project(&log);
        prop_assert_eq!(replay.cells(), live.cells());
        let before = live.cells();
        live.project(&log);
        prop_assert_eq!(live.cells(), before);
    }
}
