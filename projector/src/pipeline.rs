//! Projecting one batch of events into both stores.
//!
//! 1. Each event becomes a job record, its strings parsed into the contract's words once
//!    ([`JobRecord::from_event`]); an event that does not parse is [`Rejected`], alone.
//! 2. The batch's records are coalesced per job: merged together first (the merge is a
//!    semilattice join, so this equals merging them one by one), which turns the normal pair of
//!    callbacks of a job into one write.
//! 3. The stored state of every job of the batch is read in BatchGetItem requests (100 jobs each).
//! 4. Each job is merged with what is stored ([`plan`]), and the changed ones are written
//!    conditionally in transactions of up to 100 items (one round trip each, several in
//!    flight). A transaction that loses a race (another writer got there first) writes nothing;
//!    its jobs are then re-read, merged again and written one by one, concurrently. A stored
//!    record whose key is not the job's is never merged nor overwritten: the job's events are
//!    rejected with the [`JobKeyMismatch`].
//! 5. The completed jobs become ClickHouse rows, inserted in one INSERT, and their failed tests
//!    rows of the failed-test table, inserted in another sent with it. Each row is built from
//!    the job's merged record alone (its failed tests included, as the item holds them), so
//!    live projection, replay and redelivery always write the same rows.
//! 6. The rollups are kept from the jobs both stores hold ([`keep_rollups`], `crate::rollups`).
//!
//! Steps 1–4 ([`store_jobs`]), 5 ([`insert_rows`]) and 6 are separate functions so that the
//! projector can run them as stages, each on another batch (`crate::app`).
//!
//! Transient store errors are retried with backoff, forever ([`with_retries`]): an event is
//! never skipped for an outage. A permanent refusal (DynamoDB's `ValidationException`,
//! ClickHouse's parse errors; see [`crate::retry`]) is narrowed down to the one job refused: a
//! refused transaction or batch read is redone job by job, a refused INSERT is halved until the
//! refused row is alone ([`bisect`]). That job's events are [`Rejected`] as parked, the rest of
//! the batch is stored. Only when this returns Ok, and the caller has dead-lettered the rejected
//! events, may the batch's offsets be committed (see the crate docs).

use std::collections::{HashMap, HashSet};

use futures::stream::{self, StreamExt, TryStreamExt};
use oot_avro::CallbackEvent;
use oot_contract::JobKey;
use oot_platform::settings::StoreSettings;
use tokio_util::sync::CancellationToken;

use crate::completed_rows::{CompletedJobRow, CompletedJobs};
use crate::dead_letter::{DeadLetterReason, Store, StoreRefusal};
use crate::delivery_rows::EventOutcome;
use crate::failed_test_rows::{FailedTestRow, FailedTestRows};
use crate::job_table::{bounded_for_item, JobTable, JobTableError, StoredJob};
use crate::ledger::Ledger;
use crate::merge::{JobKeyMismatch, JobRecord};
use crate::retry::{bisect, clickhouse_code, with_retries, Failed};
use crate::rollups::{RollupError, RollupTables, Rollups};

/// Writes of different jobs in flight at once.
const WRITE_CONCURRENCY: usize = 32;

/// The two stores of one projector, and the rollups kept in both.
#[derive(Clone)]
pub struct Stores {
    pub jobs: JobTable,
    pub completed: CompletedJobs,
    pub failed_tests: FailedTestRows,
    pub rollups: Rollups,
    /// False for a replay that rebuilds DynamoDB only: no row is inserted.
    pub write_clickhouse: bool,
}

/// The two stores named in `settings`.
pub async fn stores_of(settings: &StoreSettings) -> Stores {
    let dynamo = settings.dynamo.client().await;
    Stores {
        jobs: JobTable::new(dynamo.clone(), &settings.dynamo.table),
        completed: CompletedJobs::new(
            settings.clickhouse.client(),
            &settings.clickhouse.database,
            &settings.clickhouse.table,
        ),
        failed_tests: FailedTestRows::new(settings.clickhouse.client(), &settings.clickhouse.table),
        rollups: Rollups::new(
            Ledger::new(
                dynamo,
                oot_contract::rollup::ledger_table(&settings.dynamo.table),
            ),
            Some(RollupTables::new(
                settings.clickhouse.client(),
                &settings.clickhouse.table,
            )),
        ),
        write_clickhouse: true,
    }
}

/// The stores named in `settings` but ClickHouse: DynamoDB's job table and ledger only (a
/// replay that rebuilds DynamoDB).
pub async fn dynamo_stores_of(settings: &StoreSettings) -> Stores {
    let mut stores = stores_of(settings).await;
    stores.write_clickhouse = false;
    let dynamo = settings.dynamo.client().await;
    stores.rollups = Rollups::new(
        Ledger::new(
            dynamo,
            oot_contract::rollup::ledger_table(&settings.dynamo.table),
        ),
        None,
    );
    stores
}

/// Now, in µs since the Unix epoch (the rows' `projected_at`).
pub fn now_micros() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000)
        .unwrap_or(i64::MAX)
}

/// What one batch did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Projected {
    /// Events stored (the batch's events but the rejected ones).
    pub events: usize,
    pub jobs: usize,
    /// DynamoDB items written (jobs whose record changed).
    pub writes: usize,
    pub rows: usize,
    /// Rows of the failed-test table inserted.
    pub failed_test_rows: usize,
    /// Events not (fully) stored; the caller dead-letters them.
    pub rejected: Vec<Rejected>,
    /// What became of each event given (by its position): its job changed, found unchanged, or
    /// parked; what its delivery receipt says (`crate::delivery_rows`).
    pub outcomes: Vec<EventOutcome>,
    /// How long each stage of the batch took, retries included (`oot_projector_stage_seconds`).
    pub stages: Vec<(Stage, std::time::Duration)>,
}

/// A stage of a batch, as its time is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the batch's jobs from the job table.
    JobsRead,
    /// Writing the changed ones (transactions, then any job alone).
    JobsWrite,
    /// The completed rows' INSERT (with the read tables' materialized views) and the failed
    /// tests' INSERT, sent together.
    ClickhouseInsert,
    /// The rollups: ledger reads and transactions, cells re-read and inserted.
    Rollups,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::JobsRead => "jobs_read",
            Stage::JobsWrite => "jobs_write",
            Stage::ClickhouseInsert => "clickhouse_insert",
            Stage::Rollups => "rollups",
        }
    }
}

/// An event of the batch that was left out of the stores, and why: refused by the merge
/// ([`DeadLetterReason::Refused`]), or parked because a store refused its job for good
/// ([`DeadLetterReason::Parked`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// Its position in the events given to [`project`].
    pub index: usize,
    pub reason: DeadLetterReason,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("stopped before the batch was stored")]
    Stopped,
    #[error(transparent)]
    Corrupt(JobTableError),
    #[error("clickhouse: {0}")]
    ClickHouse(clickhouse::error::Error),
    #[error(transparent)]
    Rollup(RollupError),
}

impl From<RollupError> for ProjectError {
    fn from(error: RollupError) -> Self {
        match error {
            RollupError::Stopped => ProjectError::Stopped,
            other => ProjectError::Rollup(other),
        }
    }
}

impl From<Failed<JobTableError>> for ProjectError {
    fn from(failed: Failed<JobTableError>) -> Self {
        match failed {
            Failed::Stopped => ProjectError::Stopped,
            Failed::Permanent(error) => ProjectError::Corrupt(error),
        }
    }
}

impl From<Failed<clickhouse::error::Error>> for ProjectError {
    fn from(failed: Failed<clickhouse::error::Error>) -> Self {
        match failed {
            Failed::Stopped => ProjectError::Stopped,
            Failed::Permanent(error) => ProjectError::ClickHouse(error),
        }
    }
}

/// One job of the batch: its events merged into one record, and which events they were.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchJob {
    pub record: JobRecord,
    /// Positions in the batch's events.
    pub events: Vec<usize>,
}

/// The batch's jobs, each its events merged, in order of first appearance; and the events that
/// are not the contract's words.
pub fn coalesce(events: &[&CallbackEvent]) -> (Vec<BatchJob>, Vec<Rejected>) {
    let mut jobs: Vec<BatchJob> = Vec::new();
    let mut position: HashMap<JobKey, usize> = HashMap::new();
    let mut rejected = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let record = match JobRecord::from_event(event) {
            Ok(record) => record,
            Err(invalid) => {
                tracing::warn!(job_key = %event.job_key, event_id = %event.event_id, %invalid, "event refused");
                rejected.push(Rejected {
                    index,
                    reason: DeadLetterReason::Refused(invalid.into()),
                });
                continue;
            }
        };
        match position
            .get(record.job_key())
            .and_then(|&at| jobs.get_mut(at))
        {
            Some(job) => match job.record.merge(&record) {
                Ok(merged) => {
                    job.record = merged;
                    job.events.push(index);
                }
                // Found by its key, so the keys are equal; kept total rather than assumed.
                Err(mismatch) => rejected.push(Rejected {
                    index,
                    reason: DeadLetterReason::Refused(mismatch.into()),
                }),
            },
            None => {
                position.insert(record.job_key().clone(), jobs.len());
                jobs.push(BatchJob {
                    record,
                    events: vec![index],
                });
            }
        }
    }
    (jobs, rejected)
}

/// A job of the batch merged with its stored state.
struct Plan {
    job: BatchJob,
    merged: JobRecord,
    /// The stored version the write is conditional on (`None`: not stored yet).
    expected: Option<u64>,
    /// The stored item already holds `merged`: nothing to write.
    unchanged: bool,
}

/// A job of the batch once the job table holds its merge.
struct Settled {
    /// The job's events in the batch.
    events: Vec<usize>,
    merged: JobRecord,
    version: u64,
    written: bool,
}

/// A job a store refused for good: its events are parked on the dead-letter topic.
struct Parked {
    events: Vec<usize>,
    refusal: StoreRefusal,
}

/// What became of one job written on its own.
enum Outcome {
    // Boxed: a settled job holds two records, the other outcomes a key or two.
    Settled(Box<Settled>),
    Mismatched(Mismatched),
    Parked(Parked),
}

/// `events` of job `job_key` parked because `store` refused it with `code`; logged here, with
/// the job key, once per job.
fn park(events: Vec<usize>, store: Store, job_key: &str, code: String, message: String) -> Parked {
    tracing::error!(
        job_key,
        store = store.as_str(),
        %code,
        %message,
        events = events.len(),
        "job parked: the store refuses it for good; its events go to the dead-letter topic"
    );
    Parked {
        events,
        refusal: StoreRefusal {
            store,
            job_key: job_key.to_owned(),
            code,
            message,
        },
    }
}

/// `job` parked for DynamoDB's permanent `error`.
fn park_dynamo(job: BatchJob, error: JobTableError) -> Parked {
    let (code, message) = match error {
        JobTableError::Refused { code, message } => (code, message),
        JobTableError::Corrupt { reason, .. } => ("CorruptItem".to_owned(), reason),
        other => ("Other".to_owned(), other.to_string()),
    };
    park(
        job.events,
        Store::DynamoDb,
        job.record.job_key().as_str(),
        code,
        message,
    )
}

/// A job whose stored record has another key: neither merged nor written.
struct Mismatched {
    /// The job's events in the batch.
    events: Vec<usize>,
    mismatch: JobKeyMismatch,
}

/// The one merge-and-compare step: the batch's record of a job merged into what is stored, and
/// whether that changes the item. The item holds a bounded copy, so the merge is bounded before
/// comparing.
fn plan(job: BatchJob, stored: Option<StoredJob>) -> Result<Plan, Mismatched> {
    let Some(stored) = stored else {
        let merged = job.record.clone();
        return Ok(Plan {
            job,
            merged,
            expected: None,
            unchanged: false,
        });
    };
    match stored.record.merge(&job.record) {
        Ok(merged) => Ok(Plan {
            unchanged: bounded_for_item(&merged) == stored.record,
            expected: Some(stored.version),
            job,
            merged,
        }),
        Err(mismatch) => Err(Mismatched {
            events: job.events,
            mismatch,
        }),
    }
}

impl Plan {
    fn settled(self, version: u64, written: bool) -> Settled {
        Settled {
            events: self.job.events,
            merged: self.merged,
            version,
            written,
        }
    }
}

/// Stores one job on its own: read, merge, write if changed, and again if another writer got
/// there first. A permanent refusal of the read or the write parks the job.
async fn store_job(
    jobs: &JobTable,
    job: BatchJob,
    shutdown: &CancellationToken,
) -> Result<Outcome, ProjectError> {
    let mut job = job;
    loop {
        let key = [job.record.job_key()];
        let loaded = with_retries("dynamodb read", shutdown, || jobs.load(&key)).await;
        let mut fresh = match loaded {
            Ok(fresh) => fresh,
            Err(Failed::Stopped) => return Err(ProjectError::Stopped),
            Err(Failed::Permanent(error)) => return Ok(Outcome::Parked(park_dynamo(job, error))),
        };
        let stored = fresh.remove(job.record.job_key());
        let plan = match plan(job, stored) {
            Ok(plan) => plan,
            Err(mismatched) => return Ok(Outcome::Mismatched(mismatched)),
        };
        if plan.unchanged {
            let version = plan.expected.unwrap_or(0);
            return Ok(Outcome::Settled(Box::new(plan.settled(version, false))));
        }
        let written = with_retries("dynamodb write", shutdown, || {
            jobs.save(&plan.merged, plan.expected)
        })
        .await;
        match written {
            Ok(version) => return Ok(Outcome::Settled(Box::new(plan.settled(version, true)))),
            Err(Failed::Permanent(JobTableError::Conflict(_))) => job = plan.job,
            Err(Failed::Permanent(error)) => {
                return Ok(Outcome::Parked(park_dynamo(plan.job, error)))
            }
            Err(Failed::Stopped) => return Err(ProjectError::Stopped),
        }
    }
}

/// Every event of `mismatched` rejected, reported with both keys.
fn reject(rejected: &mut Vec<Rejected>, mismatched: Mismatched) {
    let Mismatched { events, mismatch } = mismatched;
    tracing::error!(
        stored_key = %mismatch.left,
        event_key = %mismatch.right,
        events = events.len(),
        "the stored record of a job has another key; its events are rejected"
    );
    rejected.extend(events.into_iter().map(|index| Rejected {
        index,
        reason: DeadLetterReason::Refused(mismatch.clone().into()),
    }));
}

/// Every event of `parked` rejected with the store's refusal.
fn reject_parked(rejected: &mut Vec<Rejected>, parked: Parked) {
    let Parked { events, refusal } = parked;
    rejected.extend(events.into_iter().map(|index| Rejected {
        index,
        reason: DeadLetterReason::Parked(refusal.clone()),
    }));
}

/// Projects `events` into both stores. `now_micros` stamps the rows' `projected_at`.
pub async fn project(
    stores: &Stores,
    events: &[&CallbackEvent],
    now_micros: i64,
    shutdown: &CancellationToken,
) -> Result<Projected, ProjectError> {
    let stored = store_jobs(stores, events, shutdown).await?;
    store_rows(stores, stored, now_micros, shutdown).await
}

/// A batch once the job table holds its jobs: what [`insert_rows`] goes on with. The projector
/// overlaps the next batch's [`store_jobs`] with this one's [`insert_rows`] and the previous
/// one's [`keep_rollups`] (`crate::app`).
pub struct JobsStored {
    events: usize,
    settled: Vec<Settled>,
    rejected: Vec<Rejected>,
    stages: Vec<(Stage, std::time::Duration)>,
}

/// The first stage of [`project`]: every job of `events` merged with what the job table holds
/// and written to it when changed.
pub async fn store_jobs(
    stores: &Stores,
    events: &[&CallbackEvent],
    shutdown: &CancellationToken,
) -> Result<JobsStored, ProjectError> {
    let (jobs, mut rejected) = coalesce(events);
    let keys: Vec<&JobKey> = jobs.iter().map(|j| j.record.job_key()).collect();
    let started = std::time::Instant::now();
    let loaded = with_retries("dynamodb read", shutdown, || stores.jobs.load(&keys)).await;
    let mut stages = vec![(Stage::JobsRead, started.elapsed())];
    let started = std::time::Instant::now();

    // Merge every job with what is stored (pure), then write the changed ones in transactions.
    // A batch read refused for good (one key or one item the store cannot serve) is redone job
    // by job, where the one refused is parked.
    let mut plans = Vec::with_capacity(jobs.len());
    let mut alone: Vec<BatchJob> = Vec::new();
    match loaded {
        Ok(mut stored) => {
            for job in jobs {
                let current = stored.remove(job.record.job_key());
                match plan(job, current) {
                    Ok(plan) => plans.push(plan),
                    Err(mismatched) => reject(&mut rejected, mismatched),
                }
            }
        }
        Err(Failed::Stopped) => return Err(ProjectError::Stopped),
        Err(Failed::Permanent(error)) => {
            tracing::warn!(%error, jobs = jobs.len(), "batch read refused; reading the jobs one by one");
            alone = jobs;
        }
    }
    let to_write: Vec<(&JobRecord, Option<u64>)> = plans
        .iter()
        .filter(|p| !p.unchanged)
        .map(|p| (&p.merged, p.expected))
        .collect();
    let mut new_versions = with_retries("dynamodb write", shutdown, || {
        stores.jobs.save_all(&to_write)
    })
    .await?
    .into_iter();

    let mut settled: Vec<Settled> = Vec::with_capacity(plans.len());
    for plan in plans {
        if plan.unchanged {
            let version = plan.expected.unwrap_or(0);
            settled.push(plan.settled(version, false));
            continue;
        }
        match new_versions.next().flatten() {
            Some(version) => settled.push(plan.settled(version, true)),
            // A transaction that lost a race or was refused: its jobs one by one.
            None => alone.push(plan.job),
        }
    }
    // Re-read, merged again and written alone, concurrently.
    let outcomes: Vec<Outcome> = stream::iter(alone)
        .map(|job| store_job(&stores.jobs, job, shutdown))
        .buffer_unordered(WRITE_CONCURRENCY)
        .try_collect()
        .await?;
    for outcome in outcomes {
        match outcome {
            Outcome::Settled(job) => settled.push(*job),
            Outcome::Mismatched(mismatched) => reject(&mut rejected, mismatched),
            Outcome::Parked(parked) => reject_parked(&mut rejected, parked),
        }
    }

    stages.push((Stage::JobsWrite, started.elapsed()));
    Ok(JobsStored {
        events: events.len(),
        settled,
        rejected,
        stages,
    })
}

/// The rest of [`project`] after [`store_jobs`]: [`insert_rows`], then [`keep_rollups`]. The
/// projector runs the two as stages of their own, each on another batch (`crate::app`).
pub async fn store_rows(
    stores: &Stores,
    stored: JobsStored,
    now_micros: i64,
    shutdown: &CancellationToken,
) -> Result<Projected, ProjectError> {
    let inserted = insert_rows(stores, stored, now_micros, shutdown).await?;
    keep_rollups(stores, inserted, shutdown).await
}

/// A batch once ClickHouse holds its rows (the moment its completed jobs show in the views):
/// what [`keep_rollups`] goes on with.
pub struct RowsStored {
    events: usize,
    settled: Vec<Settled>,
    rejected: Vec<Rejected>,
    stages: Vec<(Stage, std::time::Duration)>,
    /// The completed rows ClickHouse holds (those it refused for good left out).
    rows: Vec<CompletedJobRow>,
    /// The jobs whose row ClickHouse refused: parked, and left out of the rollups.
    refused_rows: HashSet<String>,
    /// Every job parked by ClickHouse (for its row or for its failed-test rows).
    parked: HashSet<String>,
    failed_test_rows: usize,
}

impl RowsStored {
    /// The batch positions of the events whose job's completed row this batch inserted (from
    /// now on, the views show it).
    pub fn shown_events(&self) -> impl Iterator<Item = usize> + '_ {
        let inserted: HashSet<&str> = self.rows.iter().map(|r| r.dynamo_key.as_str()).collect();
        self.settled
            .iter()
            .filter(move |s| inserted.contains(s.merged.job_key().as_str()))
            .flat_map(|s| s.events.iter().copied())
    }
}

/// The second stage of [`project`]: the completed rows of the stored jobs, and their failed
/// tests' rows, inserted into ClickHouse. `now_micros` stamps the rows' `projected_at`. A job
/// whose rows ClickHouse refuses for good is parked, once.
pub async fn insert_rows(
    stores: &Stores,
    stored: JobsStored,
    now_micros: i64,
    shutdown: &CancellationToken,
) -> Result<RowsStored, ProjectError> {
    let JobsStored {
        events,
        settled,
        mut rejected,
        mut stages,
    } = stored;
    let (rows, owners): (Vec<CompletedJobRow>, Vec<usize>) = settled
        .iter()
        .enumerate()
        .filter_map(|(at, s)| completed_row(s, now_micros).map(|row| (row, at)))
        .unzip();
    let (test_rows, test_owners): (Vec<FailedTestRow>, Vec<usize>) = settled
        .iter()
        .enumerate()
        .flat_map(|(at, s)| {
            FailedTestRow::of(&s.merged, s.version)
                .into_iter()
                .map(move |row| (row, at))
        })
        .unzip();
    let started = std::time::Instant::now();
    let (refused, refused_tests) = if stores.write_clickhouse {
        // Sent together, so the stage costs one round trip, not two.
        tokio::try_join!(
            bisect("clickhouse insert", shutdown, &rows, |slice| {
                stores.completed.insert(slice)
            }),
            bisect(
                "clickhouse insert failed tests",
                shutdown,
                &test_rows,
                |slice| { stores.failed_tests.insert(slice) }
            ),
        )?
    } else {
        (Vec::new(), Vec::new())
    };
    stages.push((Stage::ClickhouseInsert, started.elapsed()));
    let mut parked: HashSet<String> = HashSet::new();
    let refusals = refused
        .iter()
        .filter_map(|(index, error)| owners.get(*index).map(|owner| (*owner, error)))
        .chain(
            refused_tests
                .iter()
                .filter_map(|(index, error)| test_owners.get(*index).map(|owner| (*owner, error))),
        );
    for (owner, error) in refusals {
        let Some(owner) = settled.get(owner) else {
            continue;
        };
        let job_key = owner.merged.job_key().as_str();
        if !parked.insert(job_key.to_owned()) {
            continue;
        }
        let code = clickhouse_code(error).map_or_else(|| "unknown".to_owned(), |c| c.to_string());
        let parking = park(
            owner.events.clone(),
            Store::ClickHouse,
            job_key,
            code,
            error.to_string(),
        );
        reject_parked(&mut rejected, parking);
    }
    let refused_rows: HashSet<String> = refused
        .iter()
        .filter_map(|(index, _)| rows.get(*index).map(|r| r.dynamo_key.clone()))
        .collect();
    let failed_test_rows = test_rows.len() - refused_tests.len();
    let rows = rows
        .into_iter()
        .filter(|r| !refused_rows.contains(r.dynamo_key.as_str()))
        .collect();
    Ok(RowsStored {
        events,
        settled,
        rejected,
        stages,
        rows,
        refused_rows,
        parked,
        failed_test_rows,
    })
}

/// The third stage of [`project`]: the rollups, from the jobs both stores now hold (a job whose
/// row ClickHouse refused is parked, and left out of them too, until its redrive; a job parked
/// for its failed-test rows alone is counted: its row is in the jobs table, which the rollups
/// must agree with). A job the ledger refuses for good is parked.
pub async fn keep_rollups(
    stores: &Stores,
    inserted: RowsStored,
    shutdown: &CancellationToken,
) -> Result<Projected, ProjectError> {
    let RowsStored {
        events,
        settled,
        mut rejected,
        mut stages,
        rows,
        refused_rows,
        parked,
        failed_test_rows,
    } = inserted;
    let row_of: HashMap<&str, &CompletedJobRow> =
        rows.iter().map(|r| (r.dynamo_key.as_str(), r)).collect();
    let kept_jobs: Vec<(&JobRecord, u64, Option<&CompletedJobRow>)> = settled
        .iter()
        .filter(|s| !refused_rows.contains(s.merged.job_key().as_str()))
        .map(|s| {
            (
                &s.merged,
                s.version,
                row_of.get(s.merged.job_key().as_str()).copied(),
            )
        })
        .collect();
    let started = std::time::Instant::now();
    let kept = stores.rollups.keep(&kept_jobs, shutdown).await?;
    stages.push((Stage::Rollups, started.elapsed()));
    for (job_keys, error) in kept.refused {
        for settled_job in settled.iter().filter(|s| {
            let key = s.merged.job_key().as_str();
            job_keys.iter().any(|k| k == key) && !parked.contains(key)
        }) {
            let parking = park_dynamo(
                BatchJob {
                    record: settled_job.merged.clone(),
                    events: settled_job.events.clone(),
                },
                error.clone(),
            );
            reject_parked(&mut rejected, parking);
        }
    }
    rejected.sort_by_key(|r| r.index);
    let outcomes = event_outcomes(events, &settled, &rejected);
    Ok(Projected {
        outcomes,
        events: events - rejected.len(),
        jobs: settled.len(),
        writes: settled.iter().filter(|s| s.written).count(),
        rows: rows.len(),
        failed_test_rows,
        rejected,
        stages,
    })
}

/// What became of each of the batch's `events`: changed when its job's item was written by
/// the batch (every event of a job written in one batch counts as changing it, a duplicate
/// among them too), unchanged when the job already held what the batch merged, parked when
/// rejected (which overrides: a job written to DynamoDB and then refused by ClickHouse is
/// parked).
fn event_outcomes(events: usize, settled: &[Settled], rejected: &[Rejected]) -> Vec<EventOutcome> {
    let mut outcomes = vec![EventOutcome::Unchanged; events];
    for job in settled.iter().filter(|job| job.written) {
        for &index in &job.events {
            if let Some(outcome) = outcomes.get_mut(index) {
                *outcome = EventOutcome::Changed;
            }
        }
    }
    for rejected in rejected {
        if let Some(outcome) = outcomes.get_mut(rejected.index) {
            *outcome = EventOutcome::Parked(rejected.reason.to_string());
        }
    }
    outcomes
}

/// The ClickHouse row of a settled job, if it is completed: from the merged record alone, so
/// the row is the same whichever batch, replay or redelivery wrote it.
fn completed_row(settled: &Settled, now_micros: i64) -> Option<CompletedJobRow> {
    CompletedJobRow::of(&settled.merged, settled.version, now_micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::proptests::{arb_deliveries, shuffled_with_repeats};
    use crate::merge::tests::{completed, in_progress, JOB_KEY};
    use crate::merge::Refused;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::Index;

    /// The pure part of [`project`] for one job: each batch coalesced, merged into the stored
    /// (bounded) item, the rows built; returns the last row's `failed_tests_json` and failed-test
    /// rows (their version, which counts writes, zeroed), if any.
    fn rows_of_batches(batches: &[Vec<CallbackEvent>]) -> Option<(String, Vec<FailedTestRow>)> {
        let mut stored: Option<StoredJob> = None;
        let mut last = None;
        for batch in batches.iter().filter(|b| !b.is_empty()) {
            let refs: Vec<&CallbackEvent> = batch.iter().collect();
            let (mut jobs, rejected) = coalesce(&refs);
            assert!(rejected.is_empty());
            let Ok(plan) = plan(jobs.remove(0), stored.clone()) else {
                panic!("same job");
            };
            let version = plan.expected.map_or(1, |v| v + 1);
            let settled = plan.settled(version, true);
            if let Some(row) = completed_row(&settled, 0) {
                let mut tests = FailedTestRow::of(&settled.merged, settled.version);
                assert!(tests.iter().all(|t| t.version == row.version));
                tests.iter_mut().for_each(|t| t.version = 0);
                last = Some((row.failed_tests_json, tests));
            }
            stored = Some(StoredJob {
                record: bounded_for_item(&settled.merged),
                version,
            });
        }
        last
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Live (small batches), replay (one big batch) and redelivery (some batches again after
        /// the end) write the same `failed_tests_json`, and the same failed-test rows.
        #[test]
        fn the_rows_failed_tests_are_the_same_under_any_batching_and_redelivery(
            (_, deliveries) in arb_deliveries(),
            swaps in vec(any::<Index>(), 24),
            cuts in vec(any::<Index>(), 0..4),
            again in vec(any::<Index>(), 0..4),
        ) {
            let replay = rows_of_batches(std::slice::from_ref(&deliveries));
            let order = shuffled_with_repeats(&deliveries, &swaps, &[]);
            let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(order.len() + 1)).collect();
            bounds.extend([0, order.len()]);
            bounds.sort_unstable();
            let mut batches: Vec<Vec<CallbackEvent>> =
                bounds.windows(2).map(|w| order[w[0]..w[1]].to_vec()).collect();
            let live = rows_of_batches(&batches);
            prop_assert_eq!(&live, &replay);
            // Redelivered batches (a crash before the commit) write the row again: the same.
            batches.extend(again.iter().map(|i| vec![i.get(&deliveries).clone()]));
            let redelivered = rows_of_batches(&batches);
            let completed = deliveries.iter().any(|e| e.workflow.status == "completed");
            prop_assert_eq!(redelivered.is_some(), completed);
            if let (Some(r), Some(l)) = (&redelivered, &replay) {
                prop_assert_eq!(r, l);
            }
        }
    }

    #[test]
    fn coalescing_merges_each_jobs_events_and_refuses_invalid_ones_alone() {
        let mut other_job = in_progress();
        other_job.job_key = "intel/torch-xpu-ops/d-2/xpu-ci/other/43".into();
        let mut invalid = completed("success", 30);
        invalid.workflow.conclusion = Some("great".into());
        let events = [in_progress(), other_job, invalid, completed("failure", 30)];
        let refs: Vec<&CallbackEvent> = events.iter().collect();
        let (jobs, rejected) = coalesce(&refs);

        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].record.job_key().as_str(), JOB_KEY);
        assert_eq!(jobs[0].events, vec![0, 3]);
        assert!(jobs[0].record.is_completed());
        assert_eq!(jobs[1].events, vec![1]);

        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].index, 2);
        let DeadLetterReason::Refused(Refused::Invalid(reason)) = &rejected[0].reason else {
            panic!("expected an invalid event, got {:?}", rejected[0].reason);
        };
        assert_eq!(reason.field, "workflow.conclusion");
        // The dead-letter reason names the field and the value.
        let text = rejected[0].reason.clone();
        assert_eq!(text.kind(), "invalid_event");
        assert!(text.to_string().contains("workflow.conclusion"), "{text}");
        assert!(text.to_string().contains("\"great\""), "{text}");
    }

    #[test]
    fn a_stored_record_under_another_key_is_reported_not_replaced() {
        let mut elsewhere = completed("success", 30);
        elsewhere.job_key = "intel/torch-xpu-ops/d-2/xpu-ci/other/43".into();
        let stored = StoredJob {
            record: JobRecord::from_event(&elsewhere).expect("valid"),
            version: 7,
        };
        let events = [in_progress(), completed("failure", 30)];
        let refs: Vec<&CallbackEvent> = events.iter().collect();
        let (mut jobs, _) = coalesce(&refs);
        let job = jobs.remove(0);

        let Err(mismatched) = plan(job, Some(stored)) else {
            panic!("a record of another job was merged");
        };
        assert_eq!(mismatched.mismatch.left, elsewhere.job_key);
        assert_eq!(mismatched.mismatch.right, JOB_KEY);

        let mut rejected = Vec::new();
        reject(&mut rejected, mismatched);
        assert_eq!(rejected.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1]);
        let reason = rejected[0].reason.clone();
        assert_eq!(reason.kind(), "job_key_mismatch");
        let keys = reason.key_mismatch().expect("both keys");
        assert_eq!(
            (keys.left.as_str(), keys.right.as_str()),
            (elsewhere.job_key.as_str(), JOB_KEY)
        );
    }

    #[test]
    fn each_event_is_changed_unchanged_or_parked_as_its_job() {
        let events = [in_progress(), completed("failure", 30)];
        let refs: Vec<&CallbackEvent> = events.iter().collect();
        let (mut jobs, _) = coalesce(&refs);
        let Ok(plan) = plan(jobs.remove(0), None) else {
            panic!("nothing stored");
        };
        let written = plan.settled(1, true);
        let outcomes = event_outcomes(3, std::slice::from_ref(&written), &[]);
        assert_eq!(
            outcomes,
            [
                EventOutcome::Changed,
                EventOutcome::Changed,
                EventOutcome::Unchanged
            ]
        );
        let unwritten = Settled {
            written: false,
            ..written
        };
        let parked = Rejected {
            index: 1,
            reason: DeadLetterReason::Parked(StoreRefusal {
                store: Store::ClickHouse,
                job_key: JOB_KEY.into(),
                code: "27".into(),
                message: "Cannot parse input".into(),
            }),
        };
        let outcomes = event_outcomes(2, std::slice::from_ref(&unwritten), &[parked]);
        assert_eq!(outcomes[0], EventOutcome::Unchanged);
        let EventOutcome::Parked(reason) = &outcomes[1] else {
            panic!("parked: {outcomes:?}");
        };
        assert!(reason.contains("Cannot parse input"), "{reason}");
    }

    #[test]
    fn merging_into_the_stored_item_compares_the_bounded_copy() {
        let events = [in_progress(), completed("failure", 30)];
        let refs: Vec<&CallbackEvent> = events.iter().collect();
        let (jobs, _) = coalesce(&refs);
        let job = jobs.into_iter().next().expect("one job");
        let stored = StoredJob {
            record: bounded_for_item(&job.record),
            version: 3,
        };
        let Ok(again) = plan(job.clone(), Some(stored)) else {
            panic!("same job");
        };
        assert!(again.unchanged);
        assert_eq!(again.expected, Some(3));
        let Ok(new) = plan(job, None) else {
            panic!("nothing stored");
        };
        assert!(!new.unchanged);
        assert_eq!(new.expected, None);
    }
}
