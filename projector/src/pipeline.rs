//! Projecting one batch of events into both stores.
//!
//! 1. The batch's events are coalesced per job: merged together first (the merge is a
//!    semilattice join, so this equals merging them one by one), which turns the normal pair of
//!    callbacks of a job into one write.
//! 2. The stored state of every job of the batch is read in BatchGetItem requests (100 jobs each).
//! 3. Each job is merged with what is stored, and the changed ones are written conditionally in
//!    transactions of up to 100 items (one round trip each, several in flight). A transaction
//!    that loses a race (another writer got there first) writes nothing; its jobs are then
//!    re-read, merged again and written one by one, concurrently.
//! 4. The completed jobs become ClickHouse rows, inserted in one INSERT.
//!
//! Store errors are retried with backoff, forever: an event is never skipped. Only when this
//! returns Ok may the batch's offsets be committed (see the crate docs).

use std::collections::HashMap;
use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use oot_avro::CallbackEvent;
use tokio_util::sync::CancellationToken;

use crate::completed_rows::{CompletedJobRow, CompletedJobs};
use crate::job_table::{JobTable, JobTableError, StoredJob};
use crate::merge::JobRecord;

/// Writes of different jobs in flight at once.
const WRITE_CONCURRENCY: usize = 32;

/// The two stores of one projector.
#[derive(Clone)]
pub struct Stores {
    pub jobs: JobTable,
    pub completed: CompletedJobs,
}

/// What one batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Projected {
    pub events: usize,
    pub jobs: usize,
    /// DynamoDB items written (jobs whose record changed).
    pub writes: usize,
    pub rows: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("stopped before the batch was stored")]
    Stopped,
    #[error(transparent)]
    Corrupt(JobTableError),
}

/// Merges the events of each job of `events` into one record per job.
pub fn coalesce(events: &[&CallbackEvent]) -> Vec<JobRecord> {
    let mut by_job: HashMap<&str, JobRecord> = HashMap::new();
    for event in events {
        let record = JobRecord::from_event(event);
        match by_job.get_mut(event.job_key.as_str()) {
            // Same job key, so the merge cannot be refused.
            Some(existing) => {
                if let Ok(merged) = existing.merge(&record) {
                    *existing = merged;
                }
            }
            None => {
                by_job.insert(event.job_key.as_str(), record);
            }
        }
    }
    by_job.into_values().collect()
}

/// Runs `attempt` until it succeeds, backing off from 100 ms to 5 s between failures, or until
/// `shutdown`. `what` names the step in the logs.
pub async fn with_retries<T, E, F, Fut>(
    what: &str,
    shutdown: &CancellationToken,
    mut attempt: F,
) -> Result<T, ProjectError>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut delay = Duration::from_millis(100);
    let mut failures = 0u32;
    loop {
        match attempt().await {
            Ok(value) => {
                if failures > 0 {
                    tracing::info!(step = what, failures, "store reachable again");
                }
                return Ok(value);
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(step = what, failures, %error, retry_in = ?delay, "store unavailable; retrying");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return Err(ProjectError::Stopped),
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Merges `batch_record` into the stored job and writes it if it changed; returns the record
/// now stored (unbounded where the batch brought more) and its version.
async fn store_job(
    jobs: &JobTable,
    batch_record: &JobRecord,
    mut stored: Option<StoredJob>,
    shutdown: &CancellationToken,
) -> Result<(JobRecord, u64, bool), ProjectError> {
    loop {
        let merged = match &stored {
            Some(s) => s
                .record
                .merge(batch_record)
                .unwrap_or_else(|_| batch_record.clone()),
            None => batch_record.clone(),
        };
        if let Some(s) = &stored {
            // The stored copy is bounded; compare like with like.
            if crate::job_table::bounded_for_item(&merged) == s.record {
                return Ok((merged, s.version, false));
            }
        }
        let expected = stored.as_ref().map(|s| s.version);
        let outcome = with_retries("dynamodb write", shutdown, || async {
            match jobs.save(&merged, expected).await {
                Err(JobTableError::Unavailable(reason)) => Err(reason),
                other => Ok(other),
            }
        })
        .await?;
        match outcome {
            Ok(version) => return Ok((merged, version, true)),
            Err(JobTableError::Conflict(_)) => {
                let key = [batch_record.job_key()];
                let mut fresh = with_retries("dynamodb read", shutdown, || async {
                    match jobs.load(&key).await {
                        Err(JobTableError::Unavailable(reason)) => Err(reason),
                        other => Ok(other),
                    }
                })
                .await?
                .map_err(ProjectError::Corrupt)?;
                stored = fresh.remove(batch_record.job_key());
            }
            Err(other) => return Err(ProjectError::Corrupt(other)),
        }
    }
}

/// Projects `events` into both stores. `now_micros` stamps the rows' `projected_at`.
pub async fn project(
    stores: &Stores,
    events: &[&CallbackEvent],
    now_micros: i64,
    shutdown: &CancellationToken,
) -> Result<Projected, ProjectError> {
    let records = coalesce(events);
    let keys: Vec<&str> = records.iter().map(JobRecord::job_key).collect();
    let mut stored = with_retries("dynamodb read", shutdown, || async {
        match stores.jobs.load(&keys).await {
            Err(JobTableError::Unavailable(reason)) => Err(reason),
            other => Ok(other),
        }
    })
    .await?
    .map_err(ProjectError::Corrupt)?;

    // Merge every job with what is stored (pure), then write the changed ones in transactions.
    let planned: Vec<(JobRecord, JobRecord, Option<StoredJob>)> = records
        .into_iter()
        .map(|record| {
            let current = stored.remove(record.job_key());
            let merged = match &current {
                Some(s) => s.record.merge(&record).unwrap_or_else(|_| record.clone()),
                None => record.clone(),
            };
            (record, merged, current)
        })
        .collect();
    let is_unchanged = |merged: &JobRecord, current: &Option<StoredJob>| {
        current
            .as_ref()
            .is_some_and(|s| crate::job_table::bounded_for_item(merged) == s.record)
    };
    let to_write: Vec<(&JobRecord, Option<u64>)> = planned
        .iter()
        .filter(|(_, merged, current)| !is_unchanged(merged, current))
        .map(|(_, merged, current)| (merged, current.as_ref().map(|s| s.version)))
        .collect();
    let mut new_versions = with_retries("dynamodb write", shutdown, || async {
        match stores.jobs.save_all(&to_write).await {
            Err(JobTableError::Unavailable(reason)) => Err(reason),
            other => Ok(other),
        }
    })
    .await?
    .map_err(ProjectError::Corrupt)?
    .into_iter();

    let mut written: Vec<(JobRecord, JobRecord, u64, bool)> = Vec::with_capacity(planned.len());
    let mut conflicts: Vec<JobRecord> = Vec::new();
    for (batch_record, merged, current) in planned {
        if is_unchanged(&merged, &current) {
            let version = current.map_or(0, |s| s.version);
            written.push((batch_record, merged, version, false));
            continue;
        }
        match new_versions.next().flatten() {
            Some(version) => written.push((batch_record, merged, version, true)),
            None => conflicts.push(batch_record),
        }
    }
    // Transactions that lost a race: their jobs one by one, re-read and merged again.
    let retried: Vec<(JobRecord, JobRecord, u64, bool)> = stream::iter(conflicts)
        .map(|batch_record| async move {
            let key = [batch_record.job_key()];
            let mut fresh = with_retries("dynamodb read", shutdown, || async {
                match stores.jobs.load(&key).await {
                    Err(JobTableError::Unavailable(reason)) => Err(reason),
                    other => Ok(other),
                }
            })
            .await?
            .map_err(ProjectError::Corrupt)?;
            let current = fresh.remove(batch_record.job_key());
            let (merged, version, changed) =
                store_job(&stores.jobs, &batch_record, current, shutdown).await?;
            Ok::<_, ProjectError>((batch_record, merged, version, changed))
        })
        .buffer_unordered(WRITE_CONCURRENCY)
        .try_collect()
        .await?;
    written.extend(retried);

    let mut projected = Projected {
        events: events.len(),
        jobs: written.len(),
        ..Projected::default()
    };
    projected.writes = written.iter().filter(|(_, _, _, changed)| *changed).count();

    // The full failed-test list is in the batch when the batch holds the job's most final
    // callback; otherwise the stored (possibly cut) copy decided it, and the full list is the
    // one already in ClickHouse.
    let from_clickhouse: Vec<String> = written
        .iter()
        .filter(|(batch, merged, _, _)| merged.is_completed() && batch.rank() != merged.rank())
        .map(|(_, merged, _, _)| merged.job_key().to_owned())
        .collect();
    let previous = if from_clickhouse.is_empty() {
        HashMap::new()
    } else {
        with_retries("clickhouse read", shutdown, || {
            stores.completed.latest_failed_tests(&from_clickhouse)
        })
        .await?
    };
    let rows: Vec<CompletedJobRow> = written
        .iter()
        .filter_map(|(batch, merged, version, _)| {
            let failed_tests_json = if batch.rank() == merged.rank() {
                batch.failed_tests_json()
            } else {
                previous
                    .get(merged.job_key())
                    .cloned()
                    .unwrap_or_else(|| merged.failed_tests_json())
            };
            CompletedJobRow::of(merged, *version, failed_tests_json, now_micros)
        })
        .collect();
    with_retries("clickhouse insert", shutdown, || {
        stores.completed.insert(&rows)
    })
    .await?;
    projected.rows = rows.len();
    Ok(projected)
}
