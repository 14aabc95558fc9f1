//! Reading completed jobs from ClickHouse, one SQL file per query (`query/sql/`), values bound
//! client-side (`?`), the table's name spliced in (identifiers cannot be bound; the settings
//! allow plain identifiers only).
//!
//! Each query's columns are named once, by the fields of its row struct: the SQL selects
//! `?fields`, which the client replaces with those names (quoted, in field order) whether or
//! not it validates rows, so what is selected and what is read cannot drift apart. The one
//! query that reads aggregates names them in a subquery, by the same names as the fields.

use std::collections::HashMap;
use std::time::Duration;

use futures::stream::{self, StreamExt as _, TryStreamExt as _};

use oot_contract::clickhouse as col;
use oot_contract::{Conclusion, PrNumber, RepoName, Status, UpstreamPr};
use serde::Deserialize;

use crate::job::{Job, JobState, SummaryJob, TestCounts};
use crate::stores::{read, readable, Skipped, StoreError, Unreadable};
use crate::target::{Newest, StoredTarget, TargetKey, TargetSummary};
use crate::views::backend::Column;
use crate::views::nightly::NightlyDelivery;

const STORE: &str = "clickhouse";

pub const SUMMARY_JOBS_SQL: &str = include_str!("../../sql/summary_jobs.sql");
pub const REPO_LAST_RESULTS_SQL: &str = include_str!("../../sql/repo_last_results.sql");
pub const PR_JOBS_SQL: &str = include_str!("../../sql/pr_jobs.sql");
pub const BACKEND_TARGETS_SQL: &str = include_str!("../../sql/backend_targets.sql");
pub const BACKEND_COLUMNS_SQL: &str = include_str!("../../sql/backend_columns.sql");
pub const BACKEND_NEWEST_HOUR_SQL: &str = include_str!("../../sql/backend_newest_hour.sql");
pub const TARGET_JOBS_SQL: &str = include_str!("../../sql/target_jobs.sql");
pub const NIGHTLY_DELIVERIES_SQL: &str = include_str!("../../sql/nightly_deliveries.sql");
pub const NIGHTLY_COLUMNS_SQL: &str = include_str!("../../sql/nightly_columns.sql");
pub const FAILED_TESTS_SQL: &str = include_str!("../../sql/failed_tests.sql");
/// The full-window reads the read tables replaced: the reference of the tests and the benchmark.
pub const BASELINE_REPO_JOBS_SQL: &str = include_str!("../../sql/baseline_repo_jobs.sql");
pub const BASELINE_PR_JOBS_SQL: &str = include_str!("../../sql/baseline_pr_jobs.sql");

/// A repo's last result over the whole table.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoLastResult {
    pub downstream_repo: String,
    pub last_completed_at: i64,
    pub level: Option<String>,
}

/// The completed-jobs table of the query service.
#[derive(Clone)]
pub struct CompletedJobs {
    client: clickhouse::Client,
    /// `database.table`.
    table: String,
    timeout: Duration,
}

pub(super) fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// Seconds bound for a `toDateTime(?)`: `DateTime` is unsigned 32-bit.
pub(super) fn date_time(seconds: i64) -> u32 {
    u32::try_from(seconds.max(0)).unwrap_or(u32::MAX)
}

fn status(text: &str) -> Result<Status, Unreadable> {
    read(col::STATUS, Status::parse(text))
}

/// The column holds `""` for a job without a conclusion.
pub(super) fn conclusion(text: &str) -> Result<Option<Conclusion>, Unreadable> {
    if text.is_empty() {
        return Ok(None);
    }
    read(col::CONCLUSION, Conclusion::parse(text)).map(Some)
}

fn pr_number(n: Option<u64>) -> Result<Option<PrNumber>, Unreadable> {
    n.map(|n| read(col::PR_NUMBER, PrNumber::new(n)))
        .transpose()
}

// Field names are column names (a test checks them against the contract); the client selects
// them in this order and reads the answer positionally (RowBinary, validation off for 18.16).
#[derive(Debug, clickhouse::Row, Deserialize)]
struct JobRow {
    #[serde(rename = "dynamoKey")]
    dynamo_key: String,
    downstream_repo: String,
    downstream_repo_level: String,
    upstream_repo: String,
    pr_number: Option<u64>,
    pytorch_head_sha: String,
    delivery_id: String,
    event_type: String,
    workflow_run_url: String,
    workflow_name: String,
    job_name: String,
    check_run_id: String,
    run_id: String,
    run_attempt: u32,
    status: String,
    conclusion: String,
    queue_time: Option<f64>,
    execution_time: Option<f64>,
    first_seen_at: u32,
    started_at: Option<u32>,
    completed_at: u32,
    total_tests: Option<u64>,
    passed_tests: Option<u64>,
    failed_tests: Option<u64>,
    skipped_tests: Option<u64>,
    artifact_url: String,
}

/// A job's state and its conclusion, from its columns.
fn outcome(
    status_text: &str,
    conclusion_text: &str,
) -> Result<(JobState, Option<Conclusion>), Unreadable> {
    let conclusion = conclusion(conclusion_text)?;
    Ok((JobState::of(status(status_text)?, conclusion), conclusion))
}

impl TryFrom<JobRow> for Job {
    type Error = Skipped;

    fn try_from(row: JobRow) -> Result<Job, Skipped> {
        let parsed = outcome(&row.status, &row.conclusion)
            .and_then(|outcome| Ok((outcome, pr_number(row.pr_number)?)));
        let ((state, conclusion), pr_number) = parsed.map_err(|why| why.of(&row.dynamo_key))?;
        Ok(Job {
            state,
            pr_number,
            job_key: row.dynamo_key,
            downstream_repo: row.downstream_repo,
            level: non_empty(row.downstream_repo_level),
            upstream_repo: non_empty(row.upstream_repo),
            head_sha: non_empty(row.pytorch_head_sha),
            delivery_id: row.delivery_id,
            event_type: row.event_type,
            workflow_run_url: row.workflow_run_url,
            workflow_name: row.workflow_name,
            job_name: row.job_name,
            check_run_id: row.check_run_id,
            run_id: row.run_id,
            run_attempt: row.run_attempt,
            conclusion,
            queue_time: row.queue_time,
            execution_time: row.execution_time,
            first_seen_at: i64::from(row.first_seen_at),
            started_at: row.started_at.map(i64::from),
            completed_at: Some(i64::from(row.completed_at)),
            tests: TestCounts {
                total: row.total_tests,
                passed: row.passed_tests,
                failed: row.failed_tests,
                skipped: row.skipped_tests,
            },
            artifact_url: non_empty(row.artifact_url),
        })
    }
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct SummaryRow {
    #[serde(rename = "dynamoKey")]
    dynamo_key: String,
    downstream_repo: String,
    downstream_repo_level: String,
    workflow_name: String,
    job_name: String,
    run_id: String,
    run_attempt: u32,
    status: String,
    conclusion: String,
    queue_time: Option<f64>,
    execution_time: Option<f64>,
    first_seen_at: u32,
    started_at: Option<u32>,
    completed_at: u32,
}

impl TryFrom<SummaryRow> for SummaryJob {
    type Error = Skipped;

    fn try_from(row: SummaryRow) -> Result<SummaryJob, Skipped> {
        let (state, _) =
            outcome(&row.status, &row.conclusion).map_err(|why| why.of(&row.dynamo_key))?;
        Ok(SummaryJob {
            state,
            job_key: row.dynamo_key,
            downstream_repo: row.downstream_repo,
            level: non_empty(row.downstream_repo_level),
            workflow_name: row.workflow_name,
            job_name: row.job_name,
            run_id: row.run_id,
            run_attempt: row.run_attempt,
            queue_time: row.queue_time,
            execution_time: row.execution_time,
            first_seen_at: i64::from(row.first_seen_at),
            started_at: row.started_at.map(i64::from),
            completed_at: Some(i64::from(row.completed_at)),
        })
    }
}

/// Aggregates, named in `repo_last_results.sql`'s subquery.
#[derive(Debug, clickhouse::Row, Deserialize)]
struct LastResultRow {
    downstream_repo: String,
    last_completed_at: u32,
    latest_level: String,
}

/// A target of a window with its newest jobs, named in `backend_targets.sql`'s subquery.
#[derive(Debug, clickhouse::Row, Deserialize)]
struct TargetRow {
    upstream_repo: String,
    target_pr: u64,
    target_event: String,
    target_delivery: String,
    last_seen_at: u32,
    newest_job_key: String,
    head_sha: String,
    level_seen_at: u32,
    level_job_key: String,
    level: String,
}

impl TryFrom<TargetRow> for TargetSummary {
    type Error = Skipped;

    fn try_from(row: TargetRow) -> Result<TargetSummary, Skipped> {
        let Some(key) = TargetKey::from_stored(
            row.upstream_repo,
            row.target_pr,
            row.target_event,
            row.target_delivery,
        ) else {
            let why = Unreadable {
                name: "target_pr",
                problem: format!("{} is not a PR number", row.target_pr),
            };
            return Err(why.of(&row.newest_job_key));
        };
        // No job of the target in the window reported a level: the state's default.
        let level = non_empty(row.level).map(|level| Newest {
            first_seen_at: i64::from(row.level_seen_at),
            job_key: row.level_job_key,
            value: Some(level),
        });
        Ok(TargetSummary {
            key,
            newest: Newest {
                first_seen_at: i64::from(row.last_seen_at),
                job_key: row.newest_job_key,
                value: non_empty(row.head_sha),
            },
            level,
        })
    }
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct ColumnRow {
    workflow_name: String,
    job_name: String,
}

impl From<ColumnRow> for Column {
    fn from(row: ColumnRow) -> Column {
        Column {
            workflow_name: row.workflow_name,
            job_name: row.job_name,
        }
    }
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct NewestHourRow {
    newest_hour: u32,
    found: u8,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct NightlyDeliveryRow {
    upstream_repo: String,
    target_event: String,
    target_delivery: String,
    head_sha: String,
    first_job_at: u32,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct FailedTestsRow {
    #[serde(rename = "dynamoKey")]
    dynamo_key: String,
    failed_tests_json: String,
}

impl CompletedJobs {
    pub fn new(client: clickhouse::Client, qualified_table: String, timeout: Duration) -> Self {
        Self {
            client,
            table: qualified_table,
            timeout,
        }
    }

    /// `template` over this table; the read tables are named after it (`{table}_by_target`,
    /// ..., see `oot_platform::read_tables`), so the one substitution names them too.
    pub(super) fn query(&self, template: &str) -> clickhouse::query::Query {
        self.client.query(&template.replace("{table}", &self.table))
    }

    pub(super) async fn fetch<R>(
        &self,
        query: clickhouse::query::Query,
    ) -> Result<Vec<R>, StoreError>
    where
        R: clickhouse::RowOwned + clickhouse::RowRead,
    {
        super::fetch_rows(query, self.timeout).await
    }

    /// The rows of every query of one key list cut in chunks, a few queries at a time
    /// ([`CONCURRENT_KEY_QUERIES`]), in no particular order.
    pub(super) async fn fetch_chunks<R>(
        &self,
        queries: Vec<clickhouse::query::Query>,
    ) -> Result<Vec<R>, StoreError>
    where
        R: clickhouse::RowOwned + clickhouse::RowRead,
    {
        let answers: Vec<Vec<R>> = stream::iter(queries)
            .map(|query| self.fetch(query))
            .buffer_unordered(CONCURRENT_KEY_QUERIES)
            .try_collect()
            .await?;
        Ok(answers.into_iter().flatten().collect())
    }

    async fn jobs(&self, query: clickhouse::query::Query) -> Result<Vec<Job>, StoreError> {
        let rows: Vec<JobRow> = self.fetch(query).await?;
        Ok(readable(STORE, rows.into_iter().map(TryInto::try_into)))
    }

    /// Every repo's completed jobs first seen since `since`.
    pub async fn summary_jobs(&self, since: i64) -> Result<Vec<SummaryJob>, StoreError> {
        let query = self.query(SUMMARY_JOBS_SQL).bind(date_time(since));
        let rows: Vec<SummaryRow> = self.fetch(query).await?;
        Ok(readable(STORE, rows.into_iter().map(TryInto::try_into)))
    }

    /// Every repo with a completed job, and its last result.
    pub async fn repo_last_results(&self) -> Result<Vec<RepoLastResult>, StoreError> {
        let rows: Vec<LastResultRow> = self.fetch(self.query(REPO_LAST_RESULTS_SQL)).await?;
        Ok(rows
            .into_iter()
            .map(|r| RepoLastResult {
                downstream_repo: r.downstream_repo,
                last_completed_at: i64::from(r.last_completed_at),
                level: non_empty(r.latest_level),
            })
            .collect())
    }

    /// Baseline: every completed job of `repo` first seen since `since`, read with `FINAL` (a
    /// read that grows with the window). The reference of the tests and the benchmark, and the
    /// backend header's tally until it reads the rollups; the matrix reads the read tables.
    pub async fn baseline_repo_jobs(
        &self,
        repo: &RepoName,
        since: i64,
    ) -> Result<Vec<Job>, StoreError> {
        let query = self
            .query(BASELINE_REPO_JOBS_SQL)
            .bind(repo.as_str())
            .bind(date_time(since));
        self.jobs(query).await
    }

    /// Baseline: the completed jobs of upstream PR `pr` first seen since `since`, read with
    /// `FINAL` from the jobs table (ordered by downstream repo, so the read scans it). The
    /// reference of the tests and the benchmark; no route uses it.
    pub async fn baseline_pr_jobs(
        &self,
        pr: &UpstreamPr,
        since: i64,
    ) -> Result<Vec<Job>, StoreError> {
        let query = self
            .query(BASELINE_PR_JOBS_SQL)
            .bind(pr.repo.as_str())
            .bind(pr.number.get())
            .bind(date_time(since));
        self.jobs(query).await
    }

    /// The completed jobs of upstream PR `pr` first seen since `since`: one range of the
    /// by-target table.
    pub async fn pr_jobs(&self, pr: &UpstreamPr, since: i64) -> Result<Vec<Job>, StoreError> {
        let query = self
            .query(PR_JOBS_SQL)
            .bind(pr.repo.as_str())
            .bind(pr.number.get())
            .bind(date_time(since));
        self.jobs(query).await
    }

    /// The upstream targets of `repo` with a completed job first seen in the hours from `from`
    /// to `until` (exclusive, both on the hour), each with its newest job and newest level there:
    /// the matrix's rows.
    pub async fn backend_targets(
        &self,
        repo: &RepoName,
        from: i64,
        until: i64,
    ) -> Result<Vec<TargetSummary>, StoreError> {
        let query = self
            .query(BACKEND_TARGETS_SQL)
            .bind(repo.as_str())
            .bind(date_time(from))
            .bind(date_time(until));
        let rows: Vec<TargetRow> = self.fetch(query).await?;
        Ok(readable(STORE, rows.into_iter().map(TryInto::try_into)))
    }

    /// The newest hour from `from` to `until` (exclusive, both on the hour) in which `repo` has
    /// a completed job first seen, if any: where a page whose newest hours were empty reads on.
    pub async fn backend_newest_hour(
        &self,
        repo: &RepoName,
        from: i64,
        until: i64,
    ) -> Result<Option<i64>, StoreError> {
        let query = self
            .query(BACKEND_NEWEST_HOUR_SQL)
            .bind(repo.as_str())
            .bind(date_time(from))
            .bind(date_time(until));
        let rows: Vec<NewestHourRow> = self.fetch(query).await?;
        Ok(rows
            .into_iter()
            .find(|r| r.found == 1)
            .map(|r| i64::from(r.newest_hour)))
    }

    /// Every (workflow, job name) of `repo` with a completed job first seen since `since` (on
    /// the hour): the matrix's columns.
    pub async fn backend_columns(
        &self,
        repo: &RepoName,
        since: i64,
    ) -> Result<Vec<Column>, StoreError> {
        let query = self
            .query(BACKEND_COLUMNS_SQL)
            .bind(repo.as_str())
            .bind(date_time(since));
        let rows: Vec<ColumnRow> = self.fetch(query).await?;
        Ok(rows.into_iter().map(Column::from).collect())
    }

    /// The completed jobs of `repo` first seen since `since` for each of `targets`: their
    /// ranges of the by-target table, in chunks as [`Self::failed_tests`] sends keys.
    pub async fn target_jobs(
        &self,
        repo: &RepoName,
        since: i64,
        targets: &[TargetKey],
    ) -> Result<Vec<Job>, StoreError> {
        let stored: Vec<StoredTarget> = targets.iter().map(TargetKey::stored).collect();
        let queries: Vec<clickhouse::query::Query> =
            chunk_by_size(&stored, bound_target_bytes, KEYS_PER_QUERY_BYTES)
                .into_iter()
                .map(|chunk| {
                    self.query(TARGET_JOBS_SQL)
                        .bind(chunk)
                        .bind(repo.as_str())
                        .bind(date_time(since))
                })
                .collect();
        let answers: Vec<JobRow> = self.fetch_chunks(queries).await?;
        Ok(readable(STORE, answers.into_iter().map(TryInto::try_into)))
    }

    /// `repo`'s nightly deliveries (no PR, an event type of
    /// [`oot_contract::EventType::NIGHTLY_RUNS`]) with a job first seen from `since` (on the
    /// hour) to `until` (exclusive), each with its commit and when its first job of those was
    /// first seen: the nightly view's rows (docs/contract.md §12.17), without their jobs.
    pub async fn nightly_deliveries(
        &self,
        repo: &RepoName,
        since: i64,
        until: i64,
    ) -> Result<Vec<NightlyDelivery>, StoreError> {
        let query = self.nightly_window_query(NIGHTLY_DELIVERIES_SQL, repo, since, until);
        let rows: Vec<NightlyDeliveryRow> = self.fetch(query).await?;
        Ok(rows
            .into_iter()
            .map(|r| NightlyDelivery {
                upstream_repo: r.upstream_repo,
                head_sha: non_empty(r.head_sha),
                event_type: r.target_event,
                delivery_id: r.target_delivery,
                first_seen_at: i64::from(r.first_job_at),
            })
            .collect())
    }

    /// Every (workflow, job name) of `repo`'s nightly jobs first seen from `since` to `until`:
    /// the nightly view's columns.
    pub async fn nightly_columns(
        &self,
        repo: &RepoName,
        since: i64,
        until: i64,
    ) -> Result<Vec<Column>, StoreError> {
        let query = self.nightly_window_query(NIGHTLY_COLUMNS_SQL, repo, since, until);
        let rows: Vec<ColumnRow> = self.fetch(query).await?;
        Ok(rows.into_iter().map(Column::from).collect())
    }

    /// `sql` (nightly_deliveries.sql, nightly_columns.sql) bound to `repo`'s nightlies of the
    /// hours from `since` to `until`.
    fn nightly_window_query(
        &self,
        sql: &str,
        repo: &RepoName,
        since: i64,
        until: i64,
    ) -> clickhouse::query::Query {
        self.query(sql)
            .bind(repo.as_str())
            .bind(date_time(since))
            .bind(date_time(until))
            .bind(oot_contract::EventType::NIGHTLY_RUNS.as_slice())
    }

    /// The `failed_tests_json` of each of `keys` (jobs of `repo`) that has a row.
    ///
    /// The keys are bound as one array literal per query, and ClickHouse refuses a query over
    /// its `max_query_size` (256 KiB by default): a page of a wide matrix with long job names
    /// can hold more keys than that. So they go in chunks of at most [`KEYS_PER_QUERY_BYTES`],
    /// a few queries at a time, and the answers are merged.
    pub async fn failed_tests(
        &self,
        repo: &RepoName,
        keys: &[String],
    ) -> Result<HashMap<String, String>, StoreError> {
        // The queries are built first: a stream mapping borrowed chunks to futures would be a
        // closure over a higher-ranked lifetime, which the handlers' `Send` bound cannot prove.
        let queries: Vec<clickhouse::query::Query> = chunk_keys(keys, KEYS_PER_QUERY_BYTES)
            .into_iter()
            .map(|chunk| self.query(FAILED_TESTS_SQL).bind(repo.as_str()).bind(chunk))
            .collect();
        let answers: Vec<FailedTestsRow> = self.fetch_chunks(queries).await?;
        Ok(answers
            .into_iter()
            .map(|r| (r.dynamo_key, r.failed_tests_json))
            .collect())
    }
}

/// The most a key-list query's bound keys may take as SQL: a quarter of ClickHouse's default
/// `max_query_size` (256 KiB), leaving the rest to the query text and any server set lower.
pub const KEYS_PER_QUERY_BYTES: usize = 64 * 1024;

/// How many chunks of one key list are asked at once: enough to overlap round trips, few
/// enough that one page cannot take every connection of the server.
pub(super) const CONCURRENT_KEY_QUERIES: usize = 4;

/// The most one key can take in an array literal: the client escapes at most every byte (one
/// `\` each), and adds two quotes and a comma.
pub(super) fn bound_key_bytes(key: &str) -> usize {
    2 * key.len() + 3
}

/// The most one target can take in an array literal: its three strings as keys, a number of
/// at most 20 digits, the parentheses and commas.
fn bound_target_bytes(target: &StoredTarget) -> usize {
    bound_key_bytes(&target.0) + bound_key_bytes(&target.2) + bound_key_bytes(&target.3) + 20 + 3
}

/// `keys` in consecutive chunks whose array literals take at most `budget` bytes each (a key
/// larger than the budget alone goes in a chunk of its own; the contract's keys are far
/// smaller). No chunk is empty, so no keys means no query.
fn chunk_keys(keys: &[String], budget: usize) -> Vec<&[String]> {
    chunk_by_size(keys, |k| bound_key_bytes(k), budget)
}

/// `items` in consecutive chunks of at most `budget` bytes each as `size` counts them, as
/// [`chunk_keys`] does for keys.
pub(super) fn chunk_by_size<T>(
    items: &[T],
    size: impl Fn(&T) -> usize,
    budget: usize,
) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (i, item) in items.iter().enumerate() {
        let size = size(item);
        if i > start && used + size > budget {
            chunks.push(&items[start..i]);
            start = i;
            used = 0;
        }
        used += size;
    }
    if start < items.len() {
        chunks.push(&items[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use clickhouse::Row;
    use oot_contract::clickhouse::is_column;

    use super::*;

    /// `?` outside a value is a placeholder to the client, so a stray one in a comment would
    /// swallow a bound value: each file has exactly the binds its caller makes.
    #[test]
    fn every_sql_file_has_the_placeholders_its_caller_binds() {
        for (sql, binds) in [
            (SUMMARY_JOBS_SQL, 1),
            (REPO_LAST_RESULTS_SQL, 0),
            (BASELINE_REPO_JOBS_SQL, 2),
            (BASELINE_PR_JOBS_SQL, 3),
            (PR_JOBS_SQL, 3),
            (BACKEND_TARGETS_SQL, 3),
            (BACKEND_NEWEST_HOUR_SQL, 3),
            (BACKEND_COLUMNS_SQL, 2),
            (TARGET_JOBS_SQL, 3),
            (FAILED_TESTS_SQL, 2),
        ] {
            let fields = sql.matches("?fields").count();
            assert_eq!(fields, 1, "{sql}");
            assert_eq!(sql.matches('?').count() - fields, binds, "{sql}");
            assert!(sql.contains("FROM {table}"), "{sql}");
        }
    }

    /// The read tables are named after the jobs table by `{table}` and their suffix, which
    /// must be the ones migrate creates them with.
    #[test]
    fn the_sql_names_the_read_tables_migrate_makes() {
        use oot_platform::read_tables::{BY_TARGET, COLUMNS, FAILED_TEST_LISTS, TARGETS};
        for (sql, suffix) in [
            (PR_JOBS_SQL, BY_TARGET),
            (TARGET_JOBS_SQL, BY_TARGET),
            (FAILED_TESTS_SQL, FAILED_TEST_LISTS),
            (BACKEND_TARGETS_SQL, TARGETS),
            (BACKEND_NEWEST_HOUR_SQL, COLUMNS),
            (BACKEND_COLUMNS_SQL, COLUMNS),
        ] {
            assert!(sql.contains(&format!("FROM {{table}}{suffix}\n")), "{sql}");
        }
        for sql in [PR_JOBS_SQL, TARGET_JOBS_SQL, FAILED_TESTS_SQL] {
            assert!(
                !sql.contains("} FINAL") && !sql.contains("_by_target FINAL"),
                "{sql}"
            );
            assert!(
                sql.contains("ORDER BY version DESC\nLIMIT 1 BY dynamoKey"),
                "{sql}"
            );
        }
    }

    /// A bound target is written as the SQL tuple the query unpacks, within its estimate.
    #[test]
    fn targets_bind_as_tuples_within_their_estimate() {
        let client = clickhouse::Client::default();
        let targets: Vec<StoredTarget> = vec![
            (
                "pytorch/pytorch".into(),
                179_565,
                String::new(),
                String::new(),
            ),
            ("o'dd/re\\po".into(), 0, "nightly".into(), "d:1".into()),
        ];
        let sql = client
            .query("SELECT ?")
            .bind(&targets)
            .sql_display()
            .to_string();
        assert_eq!(
            sql,
            r"SELECT [('pytorch/pytorch',179565,'',''),('o\'dd/re\\po',0,'nightly','d:1')]"
        );
        let bound = sql.len() - "SELECT []".len();
        let estimate: usize = targets.iter().map(bound_target_bytes).sum();
        assert!(bound <= estimate, "{bound} > {estimate}");
    }

    /// What each query reads is its row struct's fields: every one a column of the table, but
    /// for the aggregates that `repo_last_results.sql` names itself.
    #[test]
    fn every_row_reads_columns_of_the_contract() {
        for names in [JobRow::COLUMN_NAMES, SummaryRow::COLUMN_NAMES] {
            for name in names {
                assert!(is_column(name), "{name} is not a column of the table");
            }
        }
        let lists_table = oot_platform::read_tables::READ_TABLES
            .iter()
            .find(|t| t.suffix == oot_platform::read_tables::FAILED_TEST_LISTS)
            .map(|t| oot_platform::read_tables::declared_columns(t.create_sql))
            .unwrap_or_default();
        for name in FailedTestsRow::COLUMN_NAMES {
            assert!(
                is_column(name) && lists_table.contains(name),
                "{name} is not a column of the failed-test lists table"
            );
        }
        for name in ColumnRow::COLUMN_NAMES {
            assert!(is_column(name), "{name} is not a column of the table");
        }
        let targets_table = oot_platform::read_tables::declared_columns(
            oot_platform::read_tables::READ_TABLES[1].create_sql,
        );
        for name in TargetRow::COLUMN_NAMES {
            assert!(
                targets_table.contains(name)
                    || [",", "\n"]
                        .iter()
                        .any(|end| BACKEND_TARGETS_SQL.contains(&format!(" AS {name}{end}"))),
                "{name} is neither a column of the targets table nor named in backend_targets.sql"
            );
        }
        for name in LastResultRow::COLUMN_NAMES {
            assert!(
                is_column(name)
                    || [",", "\n"]
                        .iter()
                        .any(|end| REPO_LAST_RESULTS_SQL.contains(&format!(" AS {name}{end}"))),
                "{name} is neither a column nor an aggregate of repo_last_results.sql"
            );
        }
        assert_eq!(JobRow::COLUMN_NAMES[0], col::DYNAMO_KEY);
    }

    /// The jobs a read table gives (`target_jobs.sql`: a backend page's and a nightly page's)
    /// are read as [`JobRow`]s: every field a column of the by-target table.
    #[test]
    fn job_rows_read_columns_of_the_by_target_table() {
        let by_target = oot_platform::read_tables::declared_columns(
            oot_platform::read_tables::READ_TABLES[0].create_sql,
        );
        for name in JobRow::COLUMN_NAMES {
            assert!(
                by_target.contains(name),
                "{name} is not a column of the by-target table"
            );
        }
    }

    #[test]
    fn no_keys_make_no_chunks() {
        assert!(chunk_keys(&[], KEYS_PER_QUERY_BYTES).is_empty());
    }

    #[test]
    fn key_chunks_keep_every_key_in_order_within_the_budget() {
        // Keys of a wide matrix with 400-byte job names: one literal would be ~560 KiB.
        let keys: Vec<String> = (0..1_000)
            .map(|i| format!("a/b/d-1/ci/{}{i}/{i}", "j".repeat(400)))
            .collect();
        let chunks = chunk_keys(&keys, KEYS_PER_QUERY_BYTES);
        assert!(chunks.len() > 1);
        assert_eq!(chunks.concat(), keys);
        for chunk in &chunks {
            let bound: usize = chunk.iter().map(|k| bound_key_bytes(k)).sum();
            assert!(bound <= KEYS_PER_QUERY_BYTES, "{bound}");
            assert!(!chunk.is_empty());
        }
    }

    /// What the client actually writes into the SQL for a chunk stays within the estimate,
    /// escapes included, and so under ClickHouse's 256 KiB `max_query_size`.
    #[test]
    fn a_chunk_as_sql_stays_under_max_query_size() {
        let client = clickhouse::Client::default();
        // Every byte of these keys is escaped.
        let keys: Vec<String> = (0..2_000).map(|_| "\\'".repeat(100)).collect();
        for chunk in chunk_keys(&keys, KEYS_PER_QUERY_BYTES) {
            let repo = "a/b";
            let sql = client
                .query(FAILED_TESTS_SQL)
                .bind(repo)
                .bind(chunk)
                .sql_display()
                .to_string();
            assert!(sql.len() <= KEYS_PER_QUERY_BYTES + FAILED_TESTS_SQL.len() + 64);
            assert!(sql.len() < 256 * 1024);
        }
    }

    #[test]
    fn a_key_over_the_budget_is_asked_alone() {
        let keys = vec!["x".repeat(10), "y".repeat(100), "z".repeat(10)];
        let chunks = chunk_keys(&keys, 50);
        assert_eq!(chunks, vec![&keys[0..1], &keys[1..2], &keys[2..3]]);
    }

    #[test]
    fn datetime_binds_stay_in_range() {
        assert_eq!(date_time(-5), 0);
        assert_eq!(date_time(1_777_371_330), 1_777_371_330);
        assert_eq!(date_time(i64::MAX), u32::MAX);
    }

    fn row() -> JobRow {
        JobRow {
            dynamo_key: "a/b/d/ci/test/1".to_owned(),
            downstream_repo: "a/b".to_owned(),
            downstream_repo_level: String::new(),
            upstream_repo: "pytorch/pytorch".to_owned(),
            pr_number: Some(179_565),
            pytorch_head_sha: String::new(),
            delivery_id: "d".to_owned(),
            event_type: "pull_request".to_owned(),
            workflow_run_url: "https://example.com/run".to_owned(),
            workflow_name: "ci".to_owned(),
            job_name: "test".to_owned(),
            check_run_id: "1".to_owned(),
            run_id: "100".to_owned(),
            run_attempt: 1,
            status: "completed".to_owned(),
            conclusion: "timed_out".to_owned(),
            queue_time: None,
            execution_time: None,
            first_seen_at: 1_000,
            started_at: None,
            completed_at: 2_000,
            total_tests: None,
            passed_tests: None,
            failed_tests: None,
            skipped_tests: None,
            artifact_url: String::new(),
        }
    }

    #[test]
    fn a_row_reads_back_through_the_contract() {
        let job = Job::try_from(row()).unwrap();
        assert_eq!(job.state, JobState::TimedOut);
        assert_eq!(job.conclusion, Some(Conclusion::TimedOut));
        assert_eq!(job.pr_number.map(|n| n.get()), Some(179_565));
        assert_eq!((job.level, job.head_sha), (None, None));
        let mut no_conclusion = row();
        no_conclusion.conclusion = String::new();
        assert_eq!(
            Job::try_from(no_conclusion).unwrap().state,
            JobState::Unknown
        );
    }

    #[test]
    fn a_row_outside_the_contract_names_its_column() {
        for (change, column) in [
            (
                (|r: &mut JobRow| r.conclusion = "exploded".to_owned()) as fn(&mut JobRow),
                "conclusion",
            ),
            (|r: &mut JobRow| r.status = "queued".to_owned(), "status"),
            (|r: &mut JobRow| r.pr_number = Some(0), "pr_number"),
        ] {
            let mut bad = row();
            change(&mut bad);
            let skipped = Job::try_from(bad).unwrap_err();
            assert_eq!(skipped.key, "a/b/d/ci/test/1");
            assert_eq!(skipped.why.name, column);
        }
    }
}
