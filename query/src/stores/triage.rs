//! The reads of a backend's failing tests (contract §12.13), one SQL file each: the window's
//! jobs and failed-test rows, each at its job's latest version (§10, §10.3), the nightlies of
//! some hours before the window, and the failed tests of some jobs at the versions they were
//! read at (the baseline nightlies', a PR's jobs'). [`crate::observations`] makes them the
//! rules' input.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use oot_contract::RepoName;
use oot_triage::TestId;
use serde::Deserialize;

use crate::baselines::Asked;
use crate::observations::{JobFacts, ListedFailure};
use crate::rules::start_of_hour;
use crate::stores::completed::{
    bound_key_bytes, chunk_by_size, conclusion, date_time, non_empty, CompletedJobs,
    KEYS_PER_QUERY_BYTES,
};
use crate::stores::{readable, Skipped, StoreError};

const STORE: &str = "clickhouse";

pub const FAILING_WINDOW_JOBS_SQL: &str = include_str!("../../sql/failing_window_jobs.sql");
pub const FAILING_WINDOW_TESTS_SQL: &str = include_str!("../../sql/failing_window_tests.sql");
pub const NIGHTLIES_BEFORE_SQL: &str = include_str!("../../sql/nightlies_before.sql");
pub const JOBS_FAILED_TESTS_SQL: &str = include_str!("../../sql/jobs_failed_tests.sql");
pub const PR_TRIAGE_NIGHTLIES_SQL: &str = include_str!("../../sql/pr_triage_nightlies.sql");

/// `nightlies_before.sql`'s `{slot_condition}` for some slots: the bound array of (workflow,
/// job name) as a set matched against the two columns (18.16 cannot bind an array to IN).
pub(super) const OF_SLOTS: &str = concat!(
    "AND (workflow_name, job_name) IN (\n",
    "        SELECT tupleElement(s, 1), tupleElement(s, 2) FROM (SELECT arrayJoin(?) AS s)\n",
    "    )"
);

/// A backend's slot's own span of hours, for [`CompletedJobs::pr_triage_nightlies`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotHours {
    pub downstream_repo: String,
    pub slot: oot_triage::JobSlot,
    /// The first hour and the end (exclusive), in seconds since the epoch, on the hour.
    pub from: i64,
    pub until: i64,
}

/// Which slots' nightlies [`CompletedJobs::nightlies_before`] reads.
#[derive(Debug, Clone, Copy)]
pub enum Slots<'a> {
    /// Every slot's (the release diff compares whole nightlies).
    Every,
    /// These slots' only (the baselines still wanted).
    Only(&'a [oot_triage::JobSlot]),
}

// Field names are column names of the jobs table and the by-target table (a test checks them),
// selected in this order and read positionally.
#[derive(Debug, clickhouse::Row, Deserialize)]
struct TriageJobRow {
    downstream_repo: String,
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
            .bind(date_time(since))
            .bind(repo.as_str())
            .bind(date_time(since));
        let rows: Vec<FailedTestKeyRow> = self.fetch(query).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The jobs first seen before `before` of `repo`'s nightly deliveries with a job first seen
    /// in the hours from `from` to `until` (exclusive), latest version of each; of `slots` only
    /// ([`Slots::Only`]: none is asked for no slot), or of every slot.
    pub async fn nightlies_before(
        &self,
        repo: &RepoName,
        from: i64,
        until: i64,
        before: i64,
        slots: Slots<'_>,
    ) -> Result<Vec<JobFacts>, StoreError> {
        let condition = match slots {
            Slots::Every => "",
            Slots::Only([]) => return Ok(Vec::new()),
            Slots::Only(_) => OF_SLOTS,
        };
        let query = self
            .query(&NIGHTLIES_BEFORE_SQL.replace("{slot_condition}", condition))
            .bind(repo.as_str())
            .bind(date_time(from))
            .bind(date_time(until))
            .bind(oot_contract::EventType::NIGHTLY_RUNS.as_slice())
            .bind(repo.as_str())
            .bind(date_time(before));
        let query = match slots {
            Slots::Only(slots) => {
                let bound: Vec<(&str, &str)> = slots
                    .iter()
                    .map(|s| (s.workflow_name.as_str(), s.job_name.as_str()))
                    .collect();
                query.bind(bound)
            }
            Slots::Every => query,
        };
        self.job_facts(query).await
    }

    /// The nightlies of some backends' slots for the PR view's triage, each slot from hours of
    /// its own: the jobs first seen before `before` of the backends' nightly deliveries with a
    /// job of one of `spans`' slots first seen in that slot's hours, of those slots only (jobs
    /// of other slots of such a delivery are not returned; a slot's jobs from another slot's
    /// hours may be), latest version of each, with their backend.
    pub async fn pr_triage_nightlies(
        &self,
        spans: &[SlotHours],
        before: i64,
    ) -> Result<Vec<(String, JobFacts)>, StoreError> {
        let (Some(from), Some(until)) = (
            spans.iter().map(|s| s.from).min(),
            spans.iter().map(|s| s.until).max(),
        ) else {
            return Ok(Vec::new());
        };
        // Each slot once, with the hours of its spans from the first to the last.
        let mut hours_of: BTreeMap<(&str, &str, &str), (i64, i64)> = BTreeMap::new();
        for span in spans {
            let slot = (
                span.downstream_repo.as_str(),
                span.slot.workflow_name.as_str(),
                span.slot.job_name.as_str(),
            );
            let hours = hours_of.entry(slot).or_insert((span.from, span.until));
            *hours = (hours.0.min(span.from), hours.1.max(span.until));
        }
        let slots: Vec<(&str, &str, &str)> = hours_of.keys().copied().collect();
        let starts: Vec<u32> = hours_of
            .values()
            .map(|&(from, _)| date_time(start_of_hour(from)))
            .collect();
        let ends: Vec<u32> = hours_of
            .values()
            .map(|&(_, until)| date_time(until))
            .collect();
        let mut repos: Vec<&str> = slots.iter().map(|&(repo, ..)| repo).collect();
        repos.dedup();
        let query = self
            .query(PR_TRIAGE_NIGHTLIES_SQL)
            .bind(&repos)
            .bind(date_time(start_of_hour(from)))
            .bind(date_time(until))
            .bind(oot_contract::EventType::NIGHTLY_RUNS.as_slice())
            .bind(&slots)
            .bind(starts)
            .bind(ends)
            .bind(&repos)
            .bind(date_time(before))
            .bind(&slots);
        let rows: Vec<TriageJobRow> = self.fetch(query).await?;
        Ok(readable(
            STORE,
            rows.into_iter().map(|row| {
                let repo = row.downstream_repo.clone();
                JobFacts::try_from(row).map(|facts| (repo, facts))
            }),
        ))
    }

    /// The failed-test rows the `asked` nightlies (each with its backend) have, at the versions
    /// they were read at, for the tests asked of each: each nightly's whole list is one short
    /// range of the failed tests by job, so the tests are kept here rather than bound.
    pub async fn baseline_failed_tests(
        &self,
        asked: &[(&RepoName, &Asked)],
    ) -> Result<Vec<ListedFailure>, StoreError> {
        let jobs: Vec<JobAt<'_>> = asked
            .iter()
            .map(|(repo, a)| JobAt {
                downstream_repo: repo.as_str(),
                first_seen_at: a.first_seen_at,
                job_key: &a.job_key,
                version: a.version,
            })
            .collect();
        let tests_of: HashMap<&str, &BTreeSet<TestId>> = asked
            .iter()
            .map(|(_, a)| (a.job_key.as_str(), &a.tests))
            .collect();
        let failures = self.failed_tests_at(&jobs).await?;
        Ok(failures
            .into_iter()
            .filter(|f| {
                tests_of
                    .get(f.job_key.as_str())
                    .is_some_and(|tests| tests.contains(&f.test))
            })
            .collect())
    }

    /// The failed tests of `jobs`, each at the version given, each test once per job (a job
    /// that listed none has no row): one short key range of the failed tests by job per job
    /// (`jobs_failed_tests.sql`), in chunks of jobs as [`Self::failed_tests`] sends keys.
    pub async fn failed_tests_at(
        &self,
        jobs: &[JobAt<'_>],
    ) -> Result<Vec<ListedFailure>, StoreError> {
        // A job is bound twice: its backend, second, key and version each time.
        let queries: Vec<clickhouse::query::Query> = chunk_by_size(
            jobs,
            |j| 2 * (bound_key_bytes(j.downstream_repo) + bound_key_bytes(j.job_key) + 46),
            KEYS_PER_QUERY_BYTES,
        )
        .into_iter()
        .map(|chunk| {
            let bound: Vec<(&str, i64, &str, u64)> = chunk
                .iter()
                .map(|j| (j.downstream_repo, j.first_seen_at, j.job_key, j.version))
                .collect();
            self.query(JOBS_FAILED_TESTS_SQL).bind(&bound).bind(&bound)
        })
        .collect();
        let rows: Vec<FailedTestKeyRow> = self.fetch_chunks(queries).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

/// A job as read: what names its failed tests at one version.
#[derive(Debug, Clone, Copy)]
pub struct JobAt<'a> {
    pub downstream_repo: &'a str,
    pub first_seen_at: i64,
    pub job_key: &'a str,
    pub version: u64,
}

#[cfg(test)]
mod tests {
    use clickhouse::Row;
    use oot_contract::clickhouse::{failed_test, is_column};

    use super::*;

    /// `?` outside a value is a placeholder to the client: each file has exactly the binds its
    /// caller makes.
    #[test]
    fn every_sql_file_has_the_placeholders_its_caller_binds() {
        let every_slot = NIGHTLIES_BEFORE_SQL.replace("{slot_condition}", "");
        let some_slots = NIGHTLIES_BEFORE_SQL.replace("{slot_condition}", OF_SLOTS);
        for (sql, binds) in [
            (FAILING_WINDOW_JOBS_SQL, 2),
            (FAILING_WINDOW_TESTS_SQL, 6),
            (every_slot.as_str(), 6),
            (some_slots.as_str(), 7),
            (JOBS_FAILED_TESTS_SQL, 2),
            (PR_TRIAGE_NIGHTLIES_SQL, 10),
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
        use oot_platform::read_tables::{BY_TARGET, FAILED_TESTS_BY_JOB, NIGHTLIES, VERSIONS};
        assert!(FAILING_WINDOW_JOBS_SQL.contains("FROM {table}\n"));
        assert!(
            FAILING_WINDOW_TESTS_SQL.contains(&format!("FROM {{table}}{FAILED_TESTS_BY_JOB}\n"))
        );
        assert!(FAILING_WINDOW_TESTS_SQL.contains(&format!("FROM {{table}}{VERSIONS}\n")));
        assert!(JOBS_FAILED_TESTS_SQL.contains(&format!("FROM {{table}}{FAILED_TESTS_BY_JOB}\n")));
        assert!(NIGHTLIES_BEFORE_SQL.contains(&format!("FROM {{table}}{BY_TARGET}\n")));
        assert!(NIGHTLIES_BEFORE_SQL.contains(&format!("FROM {{table}}{NIGHTLIES}\n")));
        assert!(PR_TRIAGE_NIGHTLIES_SQL.contains(&format!("FROM {{table}}{BY_TARGET}\n")));
        assert!(PR_TRIAGE_NIGHTLIES_SQL.contains(&format!("FROM {{table}}{NIGHTLIES}\n")));
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
        let by_job = oot_platform::read_tables::declared_columns(
            oot_platform::read_tables::READ_TABLES[4].create_sql,
        );
        for name in FailedTestKeyRow::COLUMN_NAMES {
            assert!(
                failed_test::COLUMNS.contains(name),
                "{name} is not a column of the failed-test table"
            );
            assert!(
                by_job.contains(name),
                "{name} is not a column of the failed tests by job"
            );
        }
    }

    #[test]
    fn the_nightly_event_types_bind_as_an_array() {
        let sql = clickhouse::Client::default()
            .query("SELECT ?")
            .bind(oot_contract::EventType::NIGHTLY_RUNS.as_slice())
            .sql_display()
            .to_string();
        assert_eq!(sql, "SELECT ['nightly','periodic','schedule']");
    }

    /// Tests bind as the tuples the query unpacks, within their estimate.
    #[test]
    fn jobs_bind_as_tuples_within_their_estimate() {
        let (repo, key) = ("o'rg/re\\po", "o'dd\\key");
        let bound: Vec<(&str, i64, &str, u64)> = vec![(repo, i64::MIN, key, u64::MAX)];
        let sql = clickhouse::Client::default()
            .query("SELECT ?")
            .bind(&bound)
            .sql_display()
            .to_string();
        let bound = sql.len() - "SELECT []".len();
        assert!(
            bound <= bound_key_bytes(repo) + bound_key_bytes(key) + 46,
            "{sql}"
        );
    }

    fn row(conclusion: &str) -> TriageJobRow {
        TriageJobRow {
            downstream_repo: "intel/xpu".to_owned(),
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
