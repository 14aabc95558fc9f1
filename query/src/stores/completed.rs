//! Reading completed jobs from ClickHouse, one SQL file per query (`query/sql/`), values bound
//! client-side (`?`), the table's name spliced in (identifiers cannot be bound; the settings
//! allow plain identifiers only).

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use crate::error::ApiError;
use crate::job::{Job, JobState, SummaryJob, TestCounts};

const STORE: &str = "clickhouse";

pub const SUMMARY_JOBS_SQL: &str = include_str!("../../sql/summary_jobs.sql");
pub const REPO_LAST_RESULTS_SQL: &str = include_str!("../../sql/repo_last_results.sql");
pub const REPO_JOBS_SQL: &str = include_str!("../../sql/repo_jobs.sql");
pub const PR_JOBS_SQL: &str = include_str!("../../sql/pr_jobs.sql");
pub const FAILED_TESTS_SQL: &str = include_str!("../../sql/failed_tests.sql");

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

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// Seconds bound for a `toDateTime(?)`: `DateTime` is unsigned 32-bit.
fn date_time(seconds: i64) -> u32 {
    u32::try_from(seconds.max(0)).unwrap_or(u32::MAX)
}

// Rows are read positionally (RowBinary, the client's validation off for 18.16): each struct's
// fields follow its SQL file's SELECT list, and the names match it too.
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

impl From<JobRow> for Job {
    fn from(row: JobRow) -> Job {
        let state = JobState::of(&row.status, &row.conclusion);
        Job {
            job_key: row.dynamo_key,
            downstream_repo: row.downstream_repo,
            level: non_empty(row.downstream_repo_level),
            upstream_repo: non_empty(row.upstream_repo),
            pr_number: row.pr_number,
            head_sha: non_empty(row.pytorch_head_sha),
            delivery_id: row.delivery_id,
            event_type: row.event_type,
            workflow_run_url: row.workflow_run_url,
            workflow_name: row.workflow_name,
            job_name: row.job_name,
            check_run_id: row.check_run_id,
            run_id: row.run_id,
            run_attempt: row.run_attempt,
            state,
            conclusion: non_empty(row.conclusion),
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
        }
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

impl From<SummaryRow> for SummaryJob {
    fn from(row: SummaryRow) -> SummaryJob {
        SummaryJob {
            state: JobState::of(&row.status, &row.conclusion),
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
        }
    }
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct LastResultRow {
    downstream_repo: String,
    last_completed_at: u32,
    latest_level: String,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct FailedTestsRow {
    #[serde(rename = "dynamoKey")]
    dynamo_key: String,
    #[serde(rename = "latest_failed_tests_json")]
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

    fn query(&self, template: &str) -> clickhouse::query::Query {
        self.client.query(&template.replace("{table}", &self.table))
    }

    async fn fetch<R>(&self, query: clickhouse::query::Query) -> Result<Vec<R>, ApiError>
    where
        R: clickhouse::RowOwned + clickhouse::RowRead,
    {
        match tokio::time::timeout(self.timeout, query.fetch_all::<R>()).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(error)) => Err(ApiError::StoreUnavailable {
                store: STORE,
                detail: error.to_string(),
            }),
            Err(_) => Err(ApiError::StoreUnavailable {
                store: STORE,
                detail: format!("no answer within {:?}", self.timeout),
            }),
        }
    }

    /// Every repo's completed jobs first seen since `since`.
    pub async fn summary_jobs(&self, since: i64) -> Result<Vec<SummaryJob>, ApiError> {
        let query = self.query(SUMMARY_JOBS_SQL).bind(date_time(since));
        let rows: Vec<SummaryRow> = self.fetch(query).await?;
        Ok(rows.into_iter().map(SummaryJob::from).collect())
    }

    /// Every repo with a completed job, and its last result.
    pub async fn repo_last_results(&self) -> Result<Vec<RepoLastResult>, ApiError> {
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

    /// The completed jobs of `repo` first seen since `since`.
    pub async fn repo_jobs(&self, repo: &str, since: i64) -> Result<Vec<Job>, ApiError> {
        let query = self.query(REPO_JOBS_SQL).bind(repo).bind(date_time(since));
        let rows: Vec<JobRow> = self.fetch(query).await?;
        Ok(rows.into_iter().map(Job::from).collect())
    }

    /// The completed jobs of upstream PR `upstream_repo#pr_number` first seen since `since`.
    pub async fn pr_jobs(
        &self,
        upstream_repo: &str,
        pr_number: u64,
        since: i64,
    ) -> Result<Vec<Job>, ApiError> {
        let query = self
            .query(PR_JOBS_SQL)
            .bind(upstream_repo)
            .bind(pr_number)
            .bind(date_time(since));
        let rows: Vec<JobRow> = self.fetch(query).await?;
        Ok(rows.into_iter().map(Job::from).collect())
    }

    /// The `failed_tests_json` of each of `keys` (jobs of `repo`) that has a row.
    pub async fn failed_tests(
        &self,
        repo: &str,
        keys: &[String],
    ) -> Result<HashMap<String, String>, ApiError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let query = self.query(FAILED_TESTS_SQL).bind(repo).bind(keys);
        let rows: Vec<FailedTestsRow> = self.fetch(query).await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.dynamo_key, r.failed_tests_json))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `?` outside a value is a placeholder to the client, so a stray one in a comment would
    /// swallow a bound value: each file has exactly the binds its caller makes.
    #[test]
    fn every_sql_file_has_the_placeholders_its_caller_binds() {
        for (sql, binds) in [
            (SUMMARY_JOBS_SQL, 1),
            (REPO_LAST_RESULTS_SQL, 0),
            (REPO_JOBS_SQL, 2),
            (PR_JOBS_SQL, 3),
            (FAILED_TESTS_SQL, 2),
        ] {
            assert_eq!(sql.matches('?').count(), binds, "{sql}");
            assert!(sql.contains("FROM {table}"), "{sql}");
        }
    }

    #[test]
    fn datetime_binds_stay_in_range() {
        assert_eq!(date_time(-5), 0);
        assert_eq!(date_time(1_777_371_330), 1_777_371_330);
        assert_eq!(date_time(i64::MAX), u32::MAX);
    }
}
