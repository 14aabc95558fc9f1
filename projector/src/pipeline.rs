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
//! 5. The completed jobs become ClickHouse rows, inserted in one INSERT.
//!
//! Store errors are retried with backoff, forever ([`with_retries`]): an event is never
//! skipped. Only when this returns Ok, and the caller has dead-lettered the rejected events, may
//! the batch's offsets be committed (see the crate docs).

use std::collections::HashMap;

use futures::stream::{self, StreamExt, TryStreamExt};
use oot_avro::CallbackEvent;
use oot_contract::JobKey;
use oot_platform::settings::StoreSettings;
use tokio_util::sync::CancellationToken;

use crate::completed_rows::{CompletedJobRow, CompletedJobs};
use crate::job_table::{bounded_for_item, JobTable, JobTableError, StoredJob};
use crate::merge::{JobKeyMismatch, JobRecord, Refused};
use crate::retry::{with_retries, Failed};

/// Writes of different jobs in flight at once.
const WRITE_CONCURRENCY: usize = 32;

/// The two stores of one projector.
#[derive(Clone)]
pub struct Stores {
    pub jobs: JobTable,
    pub completed: CompletedJobs,
}

/// The two stores named in `settings`.
pub async fn stores_of(settings: &StoreSettings) -> Stores {
    Stores {
        jobs: JobTable::new(settings.dynamo.client().await, &settings.dynamo.table),
        completed: CompletedJobs::new(
            settings.clickhouse.client(),
            &settings.clickhouse.database,
            &settings.clickhouse.table,
        ),
    }
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
    /// Events in neither store; the caller dead-letters them.
    pub rejected: Vec<Rejected>,
}

/// An event of the batch that was left out of both stores, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// Its position in the events given to [`project`].
    pub index: usize,
    pub reason: Refused,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("stopped before the batch was stored")]
    Stopped,
    #[error(transparent)]
    Corrupt(JobTableError),
    #[error("clickhouse: {0}")]
    ClickHouse(clickhouse::error::Error),
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
                    reason: invalid.into(),
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
                    reason: mismatch.into(),
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
    batch: JobRecord,
    merged: JobRecord,
    version: u64,
    written: bool,
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
            batch: self.job.record,
            merged: self.merged,
            version,
            written,
        }
    }
}

/// Stores one job on its own: read, merge, write if changed, and again if another writer got
/// there first.
async fn store_job(
    jobs: &JobTable,
    job: BatchJob,
    shutdown: &CancellationToken,
) -> Result<Result<Settled, Mismatched>, ProjectError> {
    let mut job = job;
    loop {
        let key = [job.record.job_key()];
        let mut fresh = with_retries("dynamodb read", shutdown, || jobs.load(&key)).await?;
        let stored = fresh.remove(job.record.job_key());
        let plan = match plan(job, stored) {
            Ok(plan) => plan,
            Err(mismatched) => return Ok(Err(mismatched)),
        };
        if plan.unchanged {
            let version = plan.expected.unwrap_or(0);
            return Ok(Ok(plan.settled(version, false)));
        }
        let written = with_retries("dynamodb write", shutdown, || {
            jobs.save(&plan.merged, plan.expected)
        })
        .await;
        match written {
            Ok(version) => return Ok(Ok(plan.settled(version, true))),
            Err(Failed::Permanent(JobTableError::Conflict(_))) => job = plan.job,
            Err(failed) => return Err(failed.into()),
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
        reason: mismatch.clone().into(),
    }));
}

/// Projects `events` into both stores. `now_micros` stamps the rows' `projected_at`.
pub async fn project(
    stores: &Stores,
    events: &[&CallbackEvent],
    now_micros: i64,
    shutdown: &CancellationToken,
) -> Result<Projected, ProjectError> {
    let (jobs, mut rejected) = coalesce(events);
    let keys: Vec<&JobKey> = jobs.iter().map(|j| j.record.job_key()).collect();
    let mut stored = with_retries("dynamodb read", shutdown, || stores.jobs.load(&keys)).await?;

    // Merge every job with what is stored (pure), then write the changed ones in transactions.
    let mut plans = Vec::with_capacity(jobs.len());
    for job in jobs {
        let current = stored.remove(job.record.job_key());
        match plan(job, current) {
            Ok(plan) => plans.push(plan),
            Err(mismatched) => reject(&mut rejected, mismatched),
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
    let mut conflicts: Vec<BatchJob> = Vec::new();
    for plan in plans {
        if plan.unchanged {
            let version = plan.expected.unwrap_or(0);
            settled.push(plan.settled(version, false));
            continue;
        }
        match new_versions.next().flatten() {
            Some(version) => settled.push(plan.settled(version, true)),
            None => conflicts.push(plan.job),
        }
    }
    // Transactions that lost a race: their jobs one by one, re-read and merged again.
    let retried: Vec<Result<Settled, Mismatched>> = stream::iter(conflicts)
        .map(|job| store_job(&stores.jobs, job, shutdown))
        .buffer_unordered(WRITE_CONCURRENCY)
        .try_collect()
        .await?;
    for outcome in retried {
        match outcome {
            Ok(job) => settled.push(job),
            Err(mismatched) => reject(&mut rejected, mismatched),
        }
    }

    let rows = completed_rows(stores, &settled, now_micros, shutdown).await?;
    with_retries("clickhouse insert", shutdown, || {
        stores.completed.insert(&rows)
    })
    .await?;
    rejected.sort_by_key(|r| r.index);
    Ok(Projected {
        events: events.len() - rejected.len(),
        jobs: settled.len(),
        writes: settled.iter().filter(|s| s.written).count(),
        rows: rows.len(),
        rejected,
    })
}

/// The ClickHouse rows of the settled jobs that are completed.
///
/// The full failed-test list is in the batch when the batch holds the job's most final
/// callback; otherwise the stored (possibly cut) copy decided it, and the full list is the one
/// already in ClickHouse.
async fn completed_rows(
    stores: &Stores,
    settled: &[Settled],
    now_micros: i64,
    shutdown: &CancellationToken,
) -> Result<Vec<CompletedJobRow>, ProjectError> {
    let from_clickhouse: Vec<String> = settled
        .iter()
        .filter(|s| s.merged.is_completed() && s.batch.rank() != s.merged.rank())
        .map(|s| s.merged.job_key().to_string())
        .collect();
    let previous = if from_clickhouse.is_empty() {
        HashMap::new()
    } else {
        with_retries("clickhouse read", shutdown, || {
            stores.completed.latest_failed_tests(&from_clickhouse)
        })
        .await?
    };
    Ok(settled
        .iter()
        .filter_map(|s| {
            let failed_tests_json = if s.batch.rank() == s.merged.rank() {
                s.batch.failed_tests_json()
            } else {
                previous
                    .get(s.merged.job_key().as_str())
                    .cloned()
                    .unwrap_or_else(|| s.merged.failed_tests_json())
            };
            CompletedJobRow::of(&s.merged, s.version, failed_tests_json, now_micros)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::tests::{completed, in_progress, JOB_KEY};

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
        let Refused::Invalid(reason) = &rejected[0].reason else {
            panic!("expected an invalid event, got {:?}", rejected[0].reason);
        };
        assert_eq!(reason.field, "workflow.conclusion");
        // The dead-letter reason names the field and the value.
        let text = crate::dead_letter::DeadLetterReason::Refused(rejected[0].reason.clone());
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
        let reason = crate::dead_letter::DeadLetterReason::Refused(rejected[0].reason.clone());
        assert_eq!(reason.kind(), "job_key_mismatch");
        let keys = reason.key_mismatch().expect("both keys");
        assert_eq!(
            (keys.left.as_str(), keys.right.as_str()),
            (elsewhere.job_key.as_str(), JOB_KEY)
        );
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
