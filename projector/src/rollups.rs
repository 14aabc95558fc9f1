//! Keeping the rollups of one batch: the ledger's runs and cells in DynamoDB ([`Ledger`]), then
//! their snapshots in ClickHouse, where the views read them.
//!
//! Called once the batch's jobs are settled in the job table (their merged records and
//! versions are final): each job becomes an [`AttemptSeen`] of its run, the latest per run is
//! advanced against the ledger ([`oot_rollup::advance`]), the changes are written, and every
//! cell the batch's runs have touched is re-read and inserted as a row versioned by the cell's
//! version, so `ReplacingMergeTree` keeps the latest and a redelivered batch re-inserts the same
//! rows. The repos' latest completion and level are joined the same way.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use clickhouse::Client;
use oot_contract::{Conclusion, Status};
use oot_rollup::{
    advance, latest_per_run, start_of_hour, AttemptRank, AttemptSeen, CellKey, Contribution,
    LevelRank, RepoLatest, RunChange, RunKey,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::completed_rows::CompletedJobRow;
use crate::job_table::JobTableError;
use crate::ledger::{CellSnapshot, Ledger, RepoSnapshot};
use crate::merge::JobRecord;
use crate::retry::{with_retries, Failed};

/// A row of the cells table (`{jobs table}_cells`): one cell at one version.
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize, Deserialize)]
pub struct CellRow {
    pub downstream_repo: String,
    /// Start of the hour (ClickHouse `DateTime`).
    pub hour: u32,
    pub workflow_name: String,
    pub job_name: String,
    pub version: u64,
    pub completed: i64,
    pub successes: i64,
    pub failures: i64,
    pub timed_out: i64,
    pub cancelled: i64,
    pub other: i64,
    pub duration_sum_us: i64,
    pub durations: i64,
    pub queue_sum_us: i64,
    pub queues: i64,
    /// The histograms' buckets (`Array(Int64)`, `oot_rollup::histogram`).
    pub duration_buckets: Vec<i64>,
    pub queue_buckets: Vec<i64>,
    pub e2e_buckets: Vec<i64>,
}

impl CellRow {
    pub fn of(snapshot: &CellSnapshot) -> CellRow {
        let f = &snapshot.figures;
        CellRow {
            downstream_repo: snapshot.cell.downstream_repo.clone(),
            hour: u32::try_from(snapshot.cell.hour).unwrap_or(0),
            workflow_name: snapshot.cell.workflow_name.clone(),
            job_name: snapshot.cell.job_name.clone(),
            version: snapshot.version,
            completed: f.completed,
            successes: f.successes,
            failures: f.failures,
            timed_out: f.timed_out,
            cancelled: f.cancelled,
            other: f.other,
            duration_sum_us: f.duration_sum_us,
            durations: f.durations,
            queue_sum_us: f.queue_sum_us,
            queues: f.queues,
            duration_buckets: f.duration_buckets.counts().to_vec(),
            queue_buckets: f.queue_buckets.counts().to_vec(),
            e2e_buckets: f.e2e_buckets.counts().to_vec(),
        }
    }
}

/// A row of the repos table (`{jobs table}_repos`): one repo's latest at one version.
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize, Deserialize)]
pub struct RepoRow {
    pub downstream_repo: String,
    pub version: u64,
    pub last_completed_at: u32,
    pub latest_level: String,
}

impl RepoRow {
    pub fn of(snapshot: &RepoSnapshot) -> RepoRow {
        RepoRow {
            downstream_repo: snapshot.downstream_repo.clone(),
            version: snapshot.version,
            last_completed_at: u32::try_from(snapshot.latest.last_completed_at).unwrap_or(0),
            latest_level: snapshot.latest.level.clone(),
        }
    }
}

/// The run of a job, its rank, and what it counts, from its merged record at `version` and,
/// when completed, its ClickHouse row (so the rollup counts exactly what the row says).
pub fn attempt_seen(
    record: &JobRecord,
    version: u64,
    row: Option<&CompletedJobRow>,
) -> AttemptSeen {
    let view = record.view();
    let counted = row.and_then(|row| {
        Contribution::of(
            Status::Completed,
            Conclusion::parse(&row.conclusion).ok(),
            row.execution_time,
            row.started_at.map(i64::from),
            Some(i64::from(row.completed_at)),
            row.queue_time,
        )
    });
    AttemptSeen {
        run: RunKey {
            downstream_repo: view.downstream_repo.to_string(),
            workflow_name: view.workflow_name.to_owned(),
            job_name: view.job_name.to_owned(),
            run_id: view.run_id.to_owned(),
        },
        rank: AttemptRank {
            run_attempt: u32::try_from(view.run_attempt).unwrap_or(u32::MAX),
            job_key: view.job_key.to_string(),
            job_version: version,
        },
        first_seen_at: view.first_seen_at.div_euclid(1_000_000),
        counted,
    }
}

/// The repos' latest of a batch's completed rows.
pub fn repos_latest<'a>(
    rows: impl IntoIterator<Item = &'a CompletedJobRow>,
) -> BTreeMap<String, RepoLatest> {
    let mut latest: BTreeMap<String, RepoLatest> = BTreeMap::new();
    for row in rows {
        let this = RepoLatest {
            last_completed_at: i64::from(row.completed_at),
            level_rank: LevelRank {
                first_seen_at: i64::from(row.first_seen_at),
                job_key: row.dynamo_key.clone(),
                job_version: row.version,
            },
            level: row.downstream_repo_level.clone(),
        };
        match latest.get_mut(&row.downstream_repo) {
            Some(kept) => {
                kept.absorb(&this);
            }
            None => {
                latest.insert(row.downstream_repo.clone(), this);
            }
        }
    }
    latest
}

/// The two ClickHouse tables of the rollups.
#[derive(Clone)]
pub struct RollupTables {
    client: Client,
    cells_table: String,
    repos_table: String,
}

impl RollupTables {
    /// The tables of the completed-jobs table `jobs_table`; `client` has the project's
    /// database as its current one (the INSERTs name tables bare).
    pub fn new(client: Client, jobs_table: &str) -> Self {
        Self {
            client,
            cells_table: oot_contract::rollup::cells_table(jobs_table),
            repos_table: oot_contract::rollup::repos_table(jobs_table),
        }
    }

    pub async fn insert_cells(&self, rows: &[CellRow]) -> Result<(), clickhouse::error::Error> {
        crate::completed_rows::insert_rows(&self.client, &self.cells_table, rows).await
    }

    pub async fn insert_repos(&self, rows: &[RepoRow]) -> Result<(), clickhouse::error::Error> {
        crate::completed_rows::insert_rows(&self.client, &self.repos_table, rows).await
    }
}

/// The rollups of one projector: the ledger, and the ClickHouse tables (`None`: a replay that
/// rebuilds DynamoDB only).
#[derive(Clone)]
pub struct Rollups {
    ledger: Ledger,
    tables: Option<RollupTables>,
}

/// What keeping a batch's rollups did.
#[derive(Debug, Default)]
pub struct Kept {
    pub runs_changed: usize,
    pub cells: usize,
    pub repos: usize,
    /// Runs the ledger refused for good, with the job keys of the batch's attempts of each.
    pub refused: Vec<(Vec<String>, JobTableError)>,
}

#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    #[error("stopped before the rollups were kept")]
    Stopped,
    #[error("rollup ledger: {0}")]
    Ledger(JobTableError),
    #[error("rollup tables: {0}")]
    ClickHouse(clickhouse::error::Error),
}

impl From<Failed<JobTableError>> for RollupError {
    fn from(failed: Failed<JobTableError>) -> Self {
        match failed {
            Failed::Stopped => RollupError::Stopped,
            Failed::Permanent(error) => RollupError::Ledger(error),
        }
    }
}

impl From<Failed<clickhouse::error::Error>> for RollupError {
    fn from(failed: Failed<clickhouse::error::Error>) -> Self {
        match failed {
            Failed::Stopped => RollupError::Stopped,
            Failed::Permanent(error) => RollupError::ClickHouse(error),
        }
    }
}

impl Rollups {
    pub fn new(ledger: Ledger, tables: Option<RollupTables>) -> Self {
        Self { ledger, tables }
    }

    /// Keeps the rollups of `jobs` (each settled job's merged record, version and completed
    /// row). Transient errors are retried until `shutdown`.
    pub async fn keep(
        &self,
        jobs: &[(&JobRecord, u64, Option<&CompletedJobRow>)],
        shutdown: &CancellationToken,
    ) -> Result<Kept, RollupError> {
        let seen: Vec<AttemptSeen> = jobs
            .iter()
            .map(|(record, version, row)| attempt_seen(record, *version, *row))
            .collect();
        let mut owners: HashMap<RunKey, Vec<String>> = HashMap::new();
        for s in &seen {
            owners
                .entry(s.run.clone())
                .or_default()
                .push(s.rank.job_key.clone());
        }
        // The repos' latest depends on the rows alone: joined beside the runs' ledger work,
        // which is three to five round trips of its own.
        let rows: Vec<&CompletedJobRow> = jobs.iter().filter_map(|(_, _, row)| *row).collect();
        let repos = repos_latest(rows);
        let repos_joined =
            futures::future::try_join_all(repos.iter().map(|(repo, latest)| async move {
                with_retries("rollup ledger repo", shutdown, || {
                    self.ledger.join_repo(repo, latest)
                })
                .await
                .map(|snapshot| RepoRow::of(&snapshot))
            }));
        let ((mut kept, snapshots), repo_rows) =
            tokio::try_join!(self.keep_runs(seen, owners, shutdown), async {
                repos_joined.await.map_err(RollupError::from)
            },)?;
        let cell_rows: Vec<CellRow> = snapshots.iter().map(CellRow::of).collect();
        if let Some(tables) = &self.tables {
            tokio::try_join!(
                with_retries("clickhouse insert cells", shutdown, || tables
                    .insert_cells(&cell_rows)),
                with_retries("clickhouse insert repos", shutdown, || tables
                    .insert_repos(&repo_rows)),
            )?;
        }
        kept.cells = cell_rows.len();
        kept.repos = repo_rows.len();
        Ok(kept)
    }

    /// The runs' part of [`Self::keep`]: each run's latest attempt advanced against the ledger
    /// and written (lost races re-read and tried again, alone), then every cell the runs
    /// touched read back.
    async fn keep_runs(
        &self,
        seen: Vec<AttemptSeen>,
        mut owners: HashMap<RunKey, Vec<String>>,
        shutdown: &CancellationToken,
    ) -> Result<(Kept, Vec<CellSnapshot>), RollupError> {
        let mut kept = Kept::default();
        let mut touched: BTreeSet<CellKey> = BTreeSet::new();
        let mut pending = latest_per_run(seen);
        let mut round = 0u32;
        while !pending.is_empty() {
            let runs: Vec<&RunKey> = pending.iter().map(|s| &s.run).collect();
            let stored = with_retries("rollup ledger read", shutdown, || {
                self.ledger.load_runs(&runs)
            })
            .await?;
            let mut changes: Vec<RunChange> = Vec::new();
            let mut changed_seen: Vec<AttemptSeen> = Vec::new();
            for s in std::mem::take(&mut pending) {
                let current = stored.get(&s.run);
                if let Some(state) = current {
                    touched.extend(state.hours.iter().map(|h| s.run.cell(*h)));
                }
                if let Some(change) = advance(current, &s) {
                    // The cells this change writes, whether or not the run's (capped) list of
                    // hours still names them.
                    touched.extend(change.deltas.iter().map(|(h, _)| s.run.cell(*h)));
                    touched.extend(change.state.hours.iter().map(|h| s.run.cell(*h)));
                    touched.insert(s.run.cell(start_of_hour(s.first_seen_at)));
                    changes.push(change);
                    changed_seen.push(s);
                }
            }
            if changes.is_empty() {
                break;
            }
            // After a first packed attempt, the runs that did not go through are tried one
            // transaction each, so a refusal is of that run alone.
            let applied = if round == 0 {
                with_retries("rollup ledger write", shutdown, || {
                    self.ledger.apply(&changes)
                })
                .await?
            } else {
                let mut all = crate::ledger::Applied::default();
                for (i, change) in changes.iter().enumerate() {
                    let one = with_retries("rollup ledger write", shutdown, || {
                        self.ledger.apply(std::slice::from_ref(change))
                    })
                    .await?;
                    all.written.extend(one.written.iter().map(|_| i));
                    all.retry.extend(one.retry.iter().map(|_| i));
                    all.refused
                        .extend(one.refused.into_iter().map(|(_, e)| (i, e)));
                }
                all
            };
            kept.runs_changed += applied.written.len();
            for (index, error) in applied.refused {
                if let Some(s) = changed_seen.get(index) {
                    tracing::error!(run = %s.run.storage_key(), %error, "the rollup ledger refuses this run for good");
                    kept.refused
                        .push((owners.remove(&s.run).unwrap_or_default(), error));
                }
            }
            pending = applied
                .retry
                .into_iter()
                .filter_map(|i| changed_seen.get(i).cloned())
                .collect();
            round += 1;
            if round > 3 && !pending.is_empty() {
                // Lost races again and again: another projector is busy on these runs.
                tokio::time::sleep(Duration::from_millis(50 * u64::from(round.min(20)))).await;
            }
        }
        let cells: Vec<CellKey> = touched.into_iter().collect();
        let snapshots = with_retries("rollup ledger read", shutdown, || {
            self.ledger.load_cells(&cells)
        })
        .await?;
        Ok((kept, snapshots))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repos_latest_is_the_latest_completion_and_the_latest_jobs_level() {
        let row = |key: &str, first: u32, done: u32, level: &str| {
            let mut r: CompletedJobRow = serde_json::from_value(serde_json::json!({
                "dynamoKey": key, "version": 1, "source_digest": "", "first_seen_at": first,
                "projected_at": 0, "status": "completed", "downstream_repo": "a/b",
                "downstream_repo_level": level, "upstream_repo": "", "pr_number": null,
                "pytorch_head_sha": "", "delivery_id": "", "event_type": "", "workflow_run_url": "",
                "workflow_name": "ci", "job_name": "t", "check_run_id": "1", "run_id": "1",
                "run_attempt": 1, "conclusion": "success", "queue_time": null, "execution_time": null,
                "started_at": null, "completed_at": done, "total_tests": null, "passed_tests": null,
                "failed_tests": null, "skipped_tests": null, "failed_tests_json": "[]",
                "artifact_url": "", "environment": ""
            }))
            .expect("row");
            r.version = 1;
            r
        };
        let rows = [
            row("k1", 100, 900, "L2"),
            row("k2", 200, 300, "L3"),
            row("k0", 200, 250, "L1"),
        ];
        let latest = repos_latest(rows.iter());
        let a = &latest["a/b"];
        assert_eq!(a.last_completed_at, 900);
        assert_eq!(a.level, "L3", "first seen last, then the higher key");
    }
}
