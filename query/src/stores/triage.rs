//! The reads of a backend's failing tests (contract §12.13), one SQL file each: the window's
//! jobs and failed-test rows, the nightlies of some hours before the window, and the failed-test
//! rows some of those nightlies have for some tests, each at its job's latest version (§10,
//! §10.3). [`crate::observations`] makes them the rules' input.

use oot_contract::RepoName;
use oot_triage::{TestId, Trigger};
use serde::Deserialize;

use crate::baselines::Asked;
use crate::observations::{JobFacts, ListedFailure};
use crate::stores::completed::{
    bound_key_bytes, chunk_by_size, conclusion, date_time, non_empty, CompletedJobs,
    KEYS_PER_QUERY_BYTES,
};
use crate::stores::{readable, Skipped, StoreError};

const STORE: &str = "clickhouse";

pub const FAILING_WINDOW_JOBS_SQL: &str = include_str!("../../sql/failing_window_jobs.sql");
pub const FAILING_WINDOW_TESTS_SQL: &str = include_str!("../../sql/failing_window_tests.sql");
pub const NIGHTLIES_BEFORE_SQL: &str = include_str!("../../sql/nightlies_before.sql");
pub const BASELINE_FAILED_TESTS_SQL: &str = include_str!("../../sql/baseline_failed_tests.sql");

// Field names are column names of the jobs table and the by-target table (a test checks them),
// selected in this order and read positionally.
#[derive(Debug, clickhouse::Row, Deserialize)]
struct TriageJobRow {
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
}

impl TryFrom<TriageJobRow> for JobFacts {
    type Error = Skipped;

    fn try_from(row: TriageJobRow) -> Result<JobFacts, Skipped> {
        let conclusion = conclusion(&row.conclusion).map_err(|why| why.of(&row.dynamo_key))?;
        Ok(JobFacts {
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
        })
    }
}

// Column names of the failed-test table (a test checks them).
#[derive(Debug, clickhouse::Row, Deserialize)]
struct FailedTestKeyRow {
    #[serde(rename = "dynamoKey")]
    dynamo_key: String,
    version: u64,
    classname: String,
    name: String,
}

impl From<FailedTestKeyRow> for ListedFailure {
    fn from(row: FailedTestKeyRow) -> ListedFailure {
        ListedFailure {
            job_key: row.dynamo_key,
            version: row.version,
            test: TestId {
                classname: row.classname,
                name: row.name,
            },
        }
    }
}

/// The most one test can take in an array literal of (classname, name) tuples: both strings
/// as keys, the parentheses and the comma between them.
fn bound_test_bytes(test: &TestId) -> usize {
    bound_key_bytes(&test.classname) + bound_key_bytes(&test.name) + 3
}

impl CompletedJobs {
    async fn job_facts(
        &self,
        query: clickhouse::query::Query,
    ) -> Result<Vec<JobFacts>, StoreError> {
        let rows: Vec<TriageJobRow> = self.fetch(query).await?;
        Ok(readable(STORE, rows.into_iter().map(TryInto::try_into)))
    }

    /// Every completed job of `repo` first seen since `since` (on the hour), latest version of
    /// each.
    pub async fn failing_window_jobs(
        &self,
        repo: &RepoName,
        since: i64,
    ) -> Result<Vec<JobFacts>, StoreError> {
        let query = self
            .query(FAILING_WINDOW_JOBS_SQL)
            .bind(repo.as_str())
            .bind(date_time(since));
        self.job_facts(query).await
    }

    /// The failed-test rows of `repo`'s jobs first seen since `since`, at each job's latest
    /// version.
    pub async fn failing_window_tests(
        &self,
        repo: &RepoName,
        since: i64,
    ) -> Result<Vec<ListedFailure>, StoreError> {
        let query = self
            .query(FAILING_WINDOW_TESTS_SQL)
            .bind(repo.as_str())
            .bind(date_time(since))
            .bind(repo.as_str())
            .bind(date_time(since));
        let rows: Vec<FailedTestKeyRow> = self.fetch(query).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The jobs first seen before `before` of `repo`'s nightly deliveries with a job first seen
    /// in the hours from `from` to `until` (exclusive), latest version of each.
    pub async fn nightlies_before(
        &self,
        repo: &RepoName,
        from: i64,
        until: i64,
        before: i64,
    ) -> Result<Vec<JobFacts>, StoreError> {
        let query = self
            .query(NIGHTLIES_BEFORE_SQL)
            .bind(repo.as_str())
            .bind(date_time(from))
            .bind(date_time(until))
            .bind(Trigger::NIGHTLY_EVENT_TYPES.as_slice())
            .bind(repo.as_str())
            .bind(date_time(before));
        self.job_facts(query).await
    }

    /// The failed-test rows the `asked` nightlies of `repo` have, at the versions they were read
    /// at, for the tests asked of them (and for the other asked tests, which change nothing).
    /// The tests go in chunks as [`Self::failed_tests`] sends keys.
    pub async fn baseline_failed_tests(
        &self,
        repo: &RepoName,
        asked: &[Asked],
    ) -> Result<Vec<ListedFailure>, StoreError> {
        let (Some(first), Some(last)) = (
            asked.iter().map(|a| a.first_seen_at).min(),
            asked.iter().map(|a| a.first_seen_at).max(),
        ) else {
            return Ok(Vec::new());
        };
        let jobs: Vec<(&str, u64)> = asked
            .iter()
            .map(|a| (a.job_key.as_str(), a.version))
            .collect();
        let mut tests: Vec<&TestId> = asked.iter().flat_map(|a| &a.tests).collect();
        tests.sort_unstable();
        tests.dedup();
        // Each query carries the jobs whole (a key and a number of at most 20 digits each), and
        // as many tests as fit beside them.
        let jobs_bytes: usize = jobs.iter().map(|(key, _)| bound_key_bytes(key) + 23).sum();
        let budget = KEYS_PER_QUERY_BYTES.saturating_sub(jobs_bytes).max(1);
        let queries: Vec<clickhouse::query::Query> =
            chunk_by_size(&tests, |t| bound_test_bytes(t), budget)
                .into_iter()
                .map(|chunk| {
                    let tuples: Vec<(&str, &str)> = chunk
                        .iter()
                        .map(|t| (t.classname.as_str(), t.name.as_str()))
                        .collect();
                    self.query(BASELINE_FAILED_TESTS_SQL)
                        .bind(repo.as_str())
                        .bind(tuples)
                        .bind(date_time(first))
                        .bind(date_time(last))
                        .bind(jobs.as_slice())
                })
                .collect();
        let answers: Vec<FailedTestKeyRow> = self.fetch_chunks(queries).await?;
        Ok(answers.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use clickhouse::Row;
    use oot_contract::clickhouse::{failed_test, failed_tests_table, is_column};

    use super::*;

    /// `?` outside a value is a placeholder to the client: each file has exactly the binds its
    /// caller makes.
    #[test]
    fn every_sql_file_has_the_placeholders_its_caller_binds() {
        for (sql, binds) in [
            (FAILING_WINDOW_JOBS_SQL, 2),
            (FAILING_WINDOW_TESTS_SQL, 4),
            (NIGHTLIES_BEFORE_SQL, 6),
            (BASELINE_FAILED_TESTS_SQL, 5),
        ] {
            let fields = sql.matches("?fields").count();
            assert_eq!(fields, 1, "{sql}");
            assert_eq!(sql.matches('?').count() - fields, binds, "{sql}");
            for table in ["}", "_by_target", "_failed_tests"] {
                assert!(!sql.contains(&format!("{table} FINAL")), "{sql}");
            }
        }
    }

    /// The tables are named after the jobs table by `{table}` and the suffix migrate makes them
    /// with.
    #[test]
    fn the_sql_names_the_tables_migrate_makes() {
        use oot_platform::read_tables::{BY_TARGET, TARGETS};
        let failed = failed_tests_table("{table}");
        assert!(FAILING_WINDOW_JOBS_SQL.contains("FROM {table}\n"));
        for sql in [FAILING_WINDOW_TESTS_SQL, BASELINE_FAILED_TESTS_SQL] {
            assert!(sql.contains(&format!("FROM {failed}\n")), "{sql}");
        }
        assert!(NIGHTLIES_BEFORE_SQL.contains(&format!("FROM {{table}}{BY_TARGET}\n")));
        assert!(NIGHTLIES_BEFORE_SQL.contains(&format!("FROM {{table}}{TARGETS}\n")));
    }

    /// What each query reads is its row struct's fields: columns of the tables it reads.
    #[test]
    fn every_row_reads_columns_of_the_contract() {
        let by_target = oot_platform::read_tables::declared_columns(
            oot_platform::read_tables::READ_TABLES[0].create_sql,
        );
        for name in TriageJobRow::COLUMN_NAMES {
            assert!(is_column(name), "{name} is not a column of the jobs table");
            assert!(
                by_target.contains(name),
                "{name} is not a column of the by-target table"
            );
        }
        for name in FailedTestKeyRow::COLUMN_NAMES {
            assert!(
                failed_test::COLUMNS.contains(name),
                "{name} is not a column of the failed-test table"
            );
        }
    }

    #[test]
    fn the_nightly_event_types_bind_as_an_array() {
        let sql = clickhouse::Client::default()
            .query("SELECT ?")
            .bind(Trigger::NIGHTLY_EVENT_TYPES.as_slice())
            .sql_display()
            .to_string();
        assert_eq!(sql, "SELECT ['nightly','periodic','schedule']");
    }

    /// Tests bind as the tuples the query unpacks, within their estimate.
    #[test]
    fn tests_bind_as_tuples_within_their_estimate() {
        let tests = [
            TestId {
                classname: String::new(),
                name: "test_a".to_owned(),
            },
            TestId {
                classname: "o'dd\\C".to_owned(),
                name: "t".to_owned(),
            },
        ];
        let tuples: Vec<(&str, &str)> = tests
            .iter()
            .map(|t| (t.classname.as_str(), t.name.as_str()))
            .collect();
        let sql = clickhouse::Client::default()
            .query("SELECT ?")
            .bind(&tuples)
            .sql_display()
            .to_string();
        assert_eq!(sql, r"SELECT [('','test_a'),('o\'dd\\C','t')]");
        let bound = sql.len() - "SELECT []".len();
        let estimate: usize = tests.iter().map(bound_test_bytes).sum();
        assert!(bound <= estimate, "{bound} > {estimate}");
    }

    fn row(conclusion: &str) -> TriageJobRow {
        TriageJobRow {
            dynamo_key: "k".to_owned(),
            version: 3,
            upstream_repo: String::new(),
            pr_number: None,
            pytorch_head_sha: "abc".to_owned(),
            event_type: "nightly".to_owned(),
            workflow_name: "w".to_owned(),
            job_name: "j".to_owned(),
            run_id: "1".to_owned(),
            run_attempt: 2,
            conclusion: conclusion.to_owned(),
            first_seen_at: 1_000,
            failed_tests: Some(0),
        }
    }

    #[test]
    fn a_row_reads_back_as_facts_and_an_unknown_conclusion_names_its_column() {
        let facts = JobFacts::try_from(row("")).unwrap();
        assert_eq!((facts.upstream_repo, facts.conclusion), (None, None));
        assert_eq!((facts.version, facts.first_seen_at), (3, 1_000));
        let facts = JobFacts::try_from(row("cancelled")).unwrap();
        assert_eq!(facts.conclusion, Some(oot_contract::Conclusion::Cancelled));
        let skipped = JobFacts::try_from(row("exploded")).unwrap_err();
        assert_eq!(
            (skipped.key.as_str(), skipped.why.name),
            ("k", "conclusion")
        );
    }
}
