//! Reading the rollups from ClickHouse: the hourly cells (what the runs of a window count, per
//! repo) and the per-repo latest (last completion, latest level). Both tables are kept by the
//! projector (`projector/src/rollups.rs`); their names derive from the completed-jobs table's
//! ([`oot_contract::rollup`]).

use std::time::Duration;

use oot_contract::RepoName;
use oot_rollup::{Figures, Histogram};
use serde::Deserialize;

use crate::stores::completed::RepoLastResult;
use crate::stores::StoreError;

pub const CELLS_SUMS_SQL: &str = include_str!("../../sql/cells_sums.sql");
pub const CELLS_DAILY_SQL: &str = include_str!("../../sql/cells_daily.sql");
/// `cells_sums.sql`'s and `cells_daily.sql`'s condition for one repo (bound first); every repo
/// has none.
const ONE_REPO: &str = "downstream_repo = ? AND";
pub const REPO_LATEST_SQL: &str = include_str!("../../sql/repo_latest.sql");
pub const LEVEL_DAYS_SQL: &str = include_str!("../../sql/level_days.sql");
/// `level_days.sql`'s condition for one repo (bound); every repo has none.
const LEVELS_OF_ONE_REPO: &str = "WHERE downstream_repo = ?";

/// What a repo's runs in a window count.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoFigures {
    pub downstream_repo: String,
    pub figures: Figures,
}

/// Sums named in the cells queries' middle select: the counts and duration sums, no histogram.
/// The outer select names only these, so the engine reads no array: taking each cell's arrays
/// at its latest version is most of a read's cost (every repo's 30 days at 10M jobs: ~60 ms
/// without them, ~350 ms with the three histograms).
#[derive(Debug, clickhouse::Row, Deserialize)]
struct SumsRow {
    downstream_repo: String,
    completed: i64,
    successes: i64,
    failures: i64,
    timed_out: i64,
    cancelled: i64,
    other: i64,
    duration_sum_us: i64,
    durations: i64,
    queue_sum_us: i64,
    queues: i64,
}

impl From<SumsRow> for RepoFigures {
    fn from(row: SumsRow) -> RepoFigures {
        RepoFigures {
            downstream_repo: row.downstream_repo,
            figures: Figures {
                completed: row.completed,
                successes: row.successes,
                failures: row.failures,
                timed_out: row.timed_out,
                cancelled: row.cancelled,
                other: row.other,
                duration_sum_us: row.duration_sum_us,
                durations: row.durations,
                queue_sum_us: row.queue_sum_us,
                queues: row.queues,
                ..Figures::default()
            },
        }
    }
}

/// The sums and the end-to-end histogram: what the readiness gates read (docs/contract.md §14.8).
#[derive(Debug, clickhouse::Row, Deserialize)]
struct GateSumsRow {
    downstream_repo: String,
    completed: i64,
    successes: i64,
    failures: i64,
    timed_out: i64,
    cancelled: i64,
    other: i64,
    duration_sum_us: i64,
    durations: i64,
    queue_sum_us: i64,
    queues: i64,
    e2e_buckets: Vec<i64>,
}

impl From<GateSumsRow> for RepoFigures {
    fn from(row: GateSumsRow) -> RepoFigures {
        RepoFigures {
            downstream_repo: row.downstream_repo,
            figures: Figures {
                completed: row.completed,
                successes: row.successes,
                failures: row.failures,
                timed_out: row.timed_out,
                cancelled: row.cancelled,
                other: row.other,
                duration_sum_us: row.duration_sum_us,
                durations: row.durations,
                queue_sum_us: row.queue_sum_us,
                queues: row.queues,
                e2e_buckets: Histogram::from_counts(&row.e2e_buckets),
                ..Figures::default()
            },
        }
    }
}

/// What a repo's runs first seen on one UTC day count.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoDay {
    pub downstream_repo: String,
    /// The day's start (midnight UTC), in seconds since the epoch.
    pub day: i64,
    pub figures: Figures,
}

/// Sums named in `cells_daily.sql`'s middle select: [`SumsRow`]'s per day, with the duration
/// and queue histograms the trends' percentiles read (not the end-to-end one: no trend shows it).
#[derive(Debug, clickhouse::Row, Deserialize)]
struct DaySumsRow {
    downstream_repo: String,
    day: u32,
    completed: i64,
    successes: i64,
    failures: i64,
    timed_out: i64,
    cancelled: i64,
    other: i64,
    duration_sum_us: i64,
    durations: i64,
    queue_sum_us: i64,
    queues: i64,
    duration_buckets: Vec<i64>,
    queue_buckets: Vec<i64>,
}

impl From<DaySumsRow> for RepoDay {
    fn from(row: DaySumsRow) -> RepoDay {
        RepoDay {
            downstream_repo: row.downstream_repo,
            day: i64::from(row.day),
            figures: Figures {
                completed: row.completed,
                successes: row.successes,
                failures: row.failures,
                timed_out: row.timed_out,
                cancelled: row.cancelled,
                other: row.other,
                duration_sum_us: row.duration_sum_us,
                durations: row.durations,
                queue_sum_us: row.queue_sum_us,
                queues: row.queues,
                duration_buckets: Histogram::from_counts(&row.duration_buckets),
                queue_buckets: Histogram::from_counts(&row.queue_buckets),
                ..Figures::default()
            },
        }
    }
}

/// The rate sums of `cells_daily.sql`, alone: what the summary's sparklines read. ClickHouse
/// reads only the columns the outer select names, so the histograms (three arrays per cell, each
/// taken at its latest version: most of the query's cost) are not read at all.
#[derive(Debug, clickhouse::Row, Deserialize)]
struct DayRatesRow {
    downstream_repo: String,
    day: u32,
    successes: i64,
    failures: i64,
    timed_out: i64,
}

impl From<DayRatesRow> for RepoDay {
    fn from(row: DayRatesRow) -> RepoDay {
        RepoDay {
            downstream_repo: row.downstream_repo,
            day: i64::from(row.day),
            figures: Figures {
                successes: row.successes,
                failures: row.failures,
                timed_out: row.timed_out,
                ..Figures::default()
            },
        }
    }
}

/// Named in `repo_latest.sql`'s subquery.
#[derive(Debug, clickhouse::Row, Deserialize)]
struct LatestRow {
    downstream_repo: String,
    completed_last: u32,
    level_now: String,
}

/// One day of a repo's level history: the first and last job seen that (UTC) day at `level`.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Deserialize)]
pub struct LevelDay {
    pub downstream_repo: String,
    pub level: String,
    pub day_start: u32,
    pub first_seen: u32,
    pub last_seen: u32,
}

/// The rollup tables of one completed-jobs table, and its level history.
#[derive(Clone)]
pub struct Rollups {
    client: clickhouse::Client,
    cells: String,
    repos: String,
    levels: String,
    timeout: Duration,
}

/// Seconds bound for a `toDateTime(?)`: `DateTime` is unsigned 32-bit.
fn date_time(seconds: i64) -> u32 {
    u32::try_from(seconds.max(0)).unwrap_or(u32::MAX)
}

impl Rollups {
    /// The rollups of `database.table` (the completed-jobs table, qualified).
    pub fn new(client: clickhouse::Client, qualified_jobs_table: &str, timeout: Duration) -> Self {
        Self {
            client,
            cells: oot_contract::rollup::cells_table(qualified_jobs_table),
            repos: oot_contract::rollup::repos_table(qualified_jobs_table),
            levels: format!(
                "{qualified_jobs_table}{}",
                oot_platform::read_tables::LEVELS
            ),
            timeout,
        }
    }

    fn query(&self, template: &str) -> clickhouse::query::Query {
        self.client.query(
            &template
                .replace("{cells}", &self.cells)
                .replace("{repos}", &self.repos)
                .replace("{levels}", &self.levels),
        )
    }

    async fn fetch<R>(&self, query: clickhouse::query::Query) -> Result<Vec<R>, StoreError>
    where
        R: clickhouse::RowOwned + clickhouse::RowRead,
    {
        super::fetch_rows(query, self.timeout).await
    }

    /// Per repo, what the runs of the window starting at `since` count (no histogram).
    pub async fn summary(&self, since: i64) -> Result<Vec<RepoFigures>, StoreError> {
        self.sums_of_every_repo::<SumsRow>(since).await
    }

    /// What the runs of `repo` in the window starting at `since` count (no histogram).
    pub async fn repo(&self, repo: &RepoName, since: i64) -> Result<Figures, StoreError> {
        self.sums_of_repo::<SumsRow>(repo, since).await
    }

    /// [`Self::summary`] with the end-to-end histogram, for the readiness gates.
    pub async fn gate_summary(&self, since: i64) -> Result<Vec<RepoFigures>, StoreError> {
        self.sums_of_every_repo::<GateSumsRow>(since).await
    }

    /// [`Self::repo`] with the end-to-end histogram, for the readiness gates.
    pub async fn gate_repo(&self, repo: &RepoName, since: i64) -> Result<Figures, StoreError> {
        self.sums_of_repo::<GateSumsRow>(repo, since).await
    }

    async fn sums_of_every_repo<R>(&self, since: i64) -> Result<Vec<RepoFigures>, StoreError>
    where
        R: clickhouse::RowOwned + clickhouse::RowRead + Into<RepoFigures>,
    {
        let query = self
            .query(&CELLS_SUMS_SQL.replace("{repo_condition}", ""))
            .bind(date_time(since));
        let rows: Vec<R> = self.fetch(query).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn sums_of_repo<R>(&self, repo: &RepoName, since: i64) -> Result<Figures, StoreError>
    where
        R: clickhouse::RowOwned + clickhouse::RowRead + Into<RepoFigures>,
    {
        let query = self
            .query(&CELLS_SUMS_SQL.replace("{repo_condition}", ONE_REPO))
            .bind(repo.as_str())
            .bind(date_time(since));
        let rows: Vec<R> = self.fetch(query).await?;
        Ok(rows
            .into_iter()
            .map(Into::into)
            .map(|r: RepoFigures| r.figures)
            .next()
            .unwrap_or_default())
    }

    /// Per UTC day from `since` (a midnight UTC), what the runs of `repo` count, oldest first.
    /// Days without a cell have no row.
    pub async fn daily(&self, repo: &RepoName, since: i64) -> Result<Vec<RepoDay>, StoreError> {
        let query = self
            .query(&CELLS_DAILY_SQL.replace("{repo_condition}", ONE_REPO))
            .bind(repo.as_str())
            .bind(date_time(since));
        let rows: Vec<DaySumsRow> = self.fetch(query).await?;
        let mut days: Vec<RepoDay> = rows.into_iter().map(RepoDay::from).collect();
        days.sort_by_key(|d| d.day);
        Ok(days)
    }

    /// Per UTC day from `since` (a midnight UTC), every repo's successes, failures and timeouts
    /// only (the other figures are zero): the pass rates of the summary's sparklines, without
    /// reading the histograms; by repo, then day.
    pub async fn daily_rates(&self, since: i64) -> Result<Vec<RepoDay>, StoreError> {
        let query = self
            .query(&CELLS_DAILY_SQL.replace("{repo_condition}", ""))
            .bind(date_time(since));
        let rows: Vec<DayRatesRow> = self.fetch(query).await?;
        let mut days: Vec<RepoDay> = rows.into_iter().map(RepoDay::from).collect();
        days.sort_by(|a, b| (&a.downstream_repo, a.day).cmp(&(&b.downstream_repo, b.day)));
        Ok(days)
    }

    /// The level history of `repo`, or of every repo; by repo, then day, then level.
    pub async fn level_days(&self, repo: Option<&RepoName>) -> Result<Vec<LevelDay>, StoreError> {
        let mut rows: Vec<LevelDay> = match repo {
            Some(repo) => {
                let sql = LEVEL_DAYS_SQL.replace("{repo_condition}", LEVELS_OF_ONE_REPO);
                self.fetch(self.query(&sql).bind(repo.as_str())).await?
            }
            None => {
                let sql = LEVEL_DAYS_SQL.replace("{repo_condition}", "");
                self.fetch(self.query(&sql)).await?
            }
        };
        rows.sort_by(|a, b| {
            (&a.downstream_repo, a.day_start, &a.level).cmp(&(
                &b.downstream_repo,
                b.day_start,
                &b.level,
            ))
        });
        Ok(rows)
    }

    /// Every repo with a completed job, its last completion and latest level.
    pub async fn latest(&self) -> Result<Vec<RepoLastResult>, StoreError> {
        let rows: Vec<LatestRow> = self.fetch(self.query(REPO_LATEST_SQL)).await?;
        Ok(rows
            .into_iter()
            .map(|r| RepoLastResult {
                downstream_repo: r.downstream_repo,
                last_completed_at: i64::from(r.completed_last),
                level: (!r.level_now.is_empty()).then_some(r.level_now),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_reads_only_its_rollup_table_without_final() {
        for sql in [
            CELLS_SUMS_SQL,
            CELLS_DAILY_SQL,
            REPO_LATEST_SQL,
            LEVEL_DAYS_SQL,
        ] {
            assert!(sql.contains("SELECT ?fields"), "{sql}");
            let statement: String = sql
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect();
            assert!(!statement.to_uppercase().contains("FINAL"), "{sql}");
            assert!(!sql.contains("{table}"), "{sql}");
        }
        assert!(CELLS_SUMS_SQL.contains("FROM {cells}"));
        assert!(CELLS_SUMS_SQL.contains("WHERE {repo_condition} hour >= toDateTime(?)"));
        // `?` is a placeholder to the client even in a comment: exactly the binds made.
        let binds = |sql: &str| sql.matches('?').count() - sql.matches("?fields").count();
        assert_eq!(binds(&CELLS_SUMS_SQL.replace("{repo_condition}", "")), 1);
        assert_eq!(
            binds(&CELLS_SUMS_SQL.replace("{repo_condition}", ONE_REPO)),
            2
        );
        assert!(CELLS_DAILY_SQL.contains("FROM {cells}"));
        assert!(CELLS_DAILY_SQL.contains("WHERE {repo_condition} hour >= toDateTime(?)"));
        assert_eq!(binds(&CELLS_DAILY_SQL.replace("{repo_condition}", "")), 1);
        assert_eq!(
            binds(&CELLS_DAILY_SQL.replace("{repo_condition}", ONE_REPO)),
            2
        );
        assert_eq!(binds(REPO_LATEST_SQL), 0);
        assert_eq!(binds(&LEVEL_DAYS_SQL.replace("{repo_condition}", "")), 0);
        assert_eq!(
            binds(&LEVEL_DAYS_SQL.replace("{repo_condition}", LEVELS_OF_ONE_REPO)),
            1
        );
        assert!(LEVEL_DAYS_SQL.contains("FROM {levels}\n    {repo_condition}\n"));
        assert!(REPO_LATEST_SQL.contains("FROM {repos}"));
    }
}
