//! The reads of one test's history in one backend (contract §12.14), one SQL file each: the
//! window's jobs of the slots where the test failed, latest version of each, with how many
//! entries each one's failed list holds; and the test's failed-test rows in the window (one key
//! range), which say which job versions listed it, with their messages. The two go out at once.

use oot_contract::RepoName;
use oot_triage::TestId;
use serde::Deserialize;

use crate::observations::{JobFacts, ListOf};
use crate::stores::completed::{conclusion, date_time, non_empty, CompletedJobs};
use crate::stores::{readable, Skipped, StoreError};

const STORE: &str = "clickhouse";

pub const TEST_HISTORY_JOBS_SQL: &str = include_str!("../../sql/test_history_jobs.sql");
pub const TEST_HISTORY_FAILURES_SQL: &str = include_str!("../../sql/test_history_failures.sql");

/// A job of a slot the test failed in, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotJob {
    pub facts: JobFacts,
    /// How many entries its failed list holds at that version.
    pub listed_entries: u64,
    pub workflow_run_url: Option<String>,
}

impl SlotJob {
    /// What its failed list says of the test, given whether the test's failed-test rows have one
    /// of this job at this version.
    pub fn list(&self, lists_test: bool) -> ListOf {
        ListOf {
            entries: self.listed_entries,
            has_test: lists_test,
        }
    }
}

/// A failed-test row of the test: one job version that listed it, with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFailure {
    pub job_key: String,
    pub version: u64,
    /// `None` when the job sent none, or it was cut away to fit the item.
    pub message: Option<String>,
    pub message_truncated: bool,
}

// Field names are column names of the jobs table (a test checks them); selected in this order
// and read positionally.
#[derive(Debug, clickhouse::Row, Deserialize)]
struct SlotJobRow {
    #[serde(rename = "dynamoKey")]
    dynamo_key: String,
    version: u64,
    upstream_repo: String,
    pr_number: Option<u64>,
    pytorch_head_sha: String,
    event_type: String,
    workflow_name: String,
    job_name: String,
    run_id: String,
    run_attempt: u32,
    conclusion: String,
    first_seen_at: u32,
    failed_tests: Option<u64>,
    workflow_run_url: String,
    failed_tests_listed: u64,
}

impl TryFrom<SlotJobRow> for SlotJob {
    type Error = Skipped;

    fn try_from(row: SlotJobRow) -> Result<SlotJob, Skipped> {
        let conclusion = conclusion(&row.conclusion).map_err(|why| why.of(&row.dynamo_key))?;
        Ok(SlotJob {
            facts: JobFacts {
                job_key: row.dynamo_key,
                version: row.version,
                upstream_repo: non_empty(row.upstream_repo),
                pr_number: row.pr_number,
                head_sha: row.pytorch_head_sha,
                event_type: row.event_type,
                workflow_name: row.workflow_name,
                job_name: row.job_name,
                run_id: row.run_id,
                run_attempt: row.run_attempt,
                conclusion,
                first_seen_at: i64::from(row.first_seen_at),
                failed_count: row.failed_tests,
            },
            listed_entries: row.failed_tests_listed,
            workflow_run_url: non_empty(row.workflow_run_url),
        })
    }
}

// Column names of the failed-test table (a test checks them).
#[derive(Debug, clickhouse::Row, Deserialize)]
struct TestFailureRow {
    #[serde(rename = "dynamoKey")]
    dynamo_key: String,
    version: u64,
    message: String,
    message_truncated: u8,
}

impl From<TestFailureRow> for TestFailure {
    fn from(row: TestFailureRow) -> TestFailure {
        TestFailure {
            job_key: row.dynamo_key,
            version: row.version,
            message: non_empty(row.message),
            message_truncated: row.message_truncated != 0,
        }
    }
}

impl CompletedJobs {
    /// Every completed job of `repo` first seen since `since` (on the hour) in a slot where
    /// `test` failed in that time, latest version of each, with the size of its list.
    pub async fn test_history_jobs(
        &self,
        repo: &RepoName,
        test: &TestId,
        since: i64,
    ) -> Result<Vec<SlotJob>, StoreError> {
        let query = self
            .query(TEST_HISTORY_JOBS_SQL)
            .bind(repo.as_str())
            .bind(date_time(since))
            .bind(repo.as_str())
            .bind(test.classname.as_str())
            .bind(test.name.as_str())
            .bind(date_time(since));
        let rows: Vec<SlotJobRow> = self.fetch(query).await?;
        Ok(readable(STORE, rows.into_iter().map(TryInto::try_into)))
    }

    /// The failed-test rows of `test` in `repo` of jobs first seen since `since`, every version.
    pub async fn test_history_failures(
        &self,
        repo: &RepoName,
        test: &TestId,
        since: i64,
    ) -> Result<Vec<TestFailure>, StoreError> {
        let query = self
            .query(TEST_HISTORY_FAILURES_SQL)
            .bind(repo.as_str())
            .bind(test.classname.as_str())
            .bind(test.name.as_str())
            .bind(date_time(since));
        let rows: Vec<TestFailureRow> = self.fetch(query).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use clickhouse::Row;
    use oot_contract::clickhouse::{failed_test, failed_tests_table, is_column};

    use super::*;

    /// `?` outside a value is a placeholder to the client: each file has exactly the binds its
    /// caller makes, and no FINAL.
    #[test]
    fn every_sql_file_has_the_placeholders_its_caller_binds() {
        for (sql, binds) in [(TEST_HISTORY_JOBS_SQL, 6), (TEST_HISTORY_FAILURES_SQL, 4)] {
            let fields = sql.matches("?fields").count();
            assert_eq!(fields, 1, "{sql}");
            assert_eq!(sql.matches('?').count() - fields, binds, "{sql}");
            for table in ["}", "_failed_tests"] {
                assert!(!sql.contains(&format!("{table} FINAL")), "{sql}");
            }
        }
    }

    #[test]
    fn the_sql_names_the_tables_migrate_makes() {
        let failed = failed_tests_table("{table}");
        assert!(TEST_HISTORY_JOBS_SQL.contains("FROM {table}\n"));
        for sql in [TEST_HISTORY_JOBS_SQL, TEST_HISTORY_FAILURES_SQL] {
            assert!(sql.contains(&format!("FROM {failed}\n")), "{sql}");
        }
    }

    #[test]
    fn every_row_reads_columns_of_the_contract() {
        for name in SlotJobRow::COLUMN_NAMES {
            assert!(is_column(name), "{name} is not a column of the jobs table");
        }
        for name in TestFailureRow::COLUMN_NAMES {
            assert!(
                failed_test::COLUMNS.contains(name),
                "{name} is not a column of the failed-test table"
            );
        }
    }

    #[test]
    fn a_test_binds_as_two_strings_escaped() {
        let sql = clickhouse::Client::default()
            .query("SELECT ?, ?")
            .bind("test/test_ops.py::T")
            .bind("test_a [f32] / o'dd\\")
            .sql_display()
            .to_string();
        assert_eq!(
            sql,
            r"SELECT 'test/test_ops.py::T', 'test_a [f32] / o\'dd\\'"
        );
    }

    #[test]
    fn rows_read_back_with_their_link_list_size_and_message() {
        let row = SlotJobRow {
            dynamo_key: "k".to_owned(),
            version: 2,
            upstream_repo: String::new(),
            pr_number: Some(5),
            pytorch_head_sha: "abc".to_owned(),
            event_type: "pull_request".to_owned(),
            workflow_name: "w".to_owned(),
            job_name: "j".to_owned(),
            run_id: "1".to_owned(),
            run_attempt: 1,
            conclusion: "failure".to_owned(),
            first_seen_at: 1_000,
            failed_tests: Some(3),
            workflow_run_url: String::new(),
            failed_tests_listed: 3,
        };
        let job = SlotJob::try_from(row).unwrap();
        let list = ListOf {
            entries: 3,
            has_test: true,
        };
        assert_eq!((job.list(true), job.workflow_run_url), (list, None));
        assert_eq!(job.facts.upstream_repo, None);
        let failure = TestFailure::from(TestFailureRow {
            dynamo_key: "k".to_owned(),
            version: 2,
            message: String::new(),
            message_truncated: 1,
        });
        assert_eq!((failure.message, failure.message_truncated), (None, true));
    }
}
