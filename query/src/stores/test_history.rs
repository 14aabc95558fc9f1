//! The reads of one test's history in one backend (contract §12.14), one SQL file each, all
//! from tables ordered for them: of the slots where the test failed in the window, the jobs the
//! history shows and judges (the newest per slot and every nightly, latest version of each, with
//! how many entries each one's failed list holds) and how many jobs each ran; and the test's
//! failed-test rows in the window at their jobs' latest versions (one key range), which say
//! which jobs listed it, with their messages. The three go out at once.

use std::collections::{HashMap, HashSet};

use oot_contract::{EventType, RepoName};
use oot_triage::{JobSlot, TestId};
use serde::Deserialize;

use crate::observations::{JobFacts, ListOf};
use crate::stores::completed::{conclusion, date_time, non_empty, CompletedJobs};
use crate::stores::triage::OF_SLOTS;
use crate::stores::{readable, Skipped, StoreError};

const STORE: &str = "clickhouse";

pub const TEST_HISTORY_JOBS_SQL: &str = include_str!("../../sql/test_history_jobs.sql");
pub const TEST_HISTORY_FAILURES_SQL: &str = include_str!("../../sql/test_history_failures.sql");
pub const TEST_HISTORY_COUNTS_SQL: &str = include_str!("../../sql/test_history_counts.sql");
pub const TEST_HISTORY_NIGHTLIES_SQL: &str = include_str!("../../sql/test_history_nightlies.sql");

/// How far back from the hour the newest jobs of a slot are looked for first
/// ([`CompletedJobs::test_history_jobs`]): a busy slot's strip is hours old, and its month's
/// range tens of thousands of jobs to pick it from.
pub const NEWEST_FIRST_SPAN: i64 = 86_400;

/// Of `slots` (where the test failed), those whose newest jobs may be older than the span read
/// first: fewer than `newest` jobs of theirs were found in it.
pub fn slots_short_of(newest: usize, slots: &[JobSlot], found: &[SlotJob]) -> Vec<JobSlot> {
    let mut jobs_of: HashMap<(&str, &str), HashSet<&str>> = HashMap::new();
    for job in found {
        let slot = (
            job.facts.workflow_name.as_str(),
            job.facts.job_name.as_str(),
        );
        jobs_of
            .entry(slot)
            .or_default()
            .insert(job.facts.job_key.as_str());
    }
    slots
        .iter()
        .filter(|slot| {
            let key = (slot.workflow_name.as_str(), slot.job_name.as_str());
            jobs_of.get(&key).map_or(0, HashSet::len) < newest
        })
        .cloned()
        .collect()
}

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

/// A failed-test row of the test: a job that listed it at its latest version, with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFailure {
    pub job_key: String,
    pub version: u64,
    pub slot: JobSlot,
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
    workflow_name: String,
    job_name: String,
    message: String,
    message_truncated: u8,
}

impl From<TestFailureRow> for TestFailure {
    fn from(row: TestFailureRow) -> TestFailure {
        TestFailure {
            job_key: row.dynamo_key,
            version: row.version,
            slot: JobSlot {
                workflow_name: row.workflow_name,
                job_name: row.job_name,
            },
            message: non_empty(row.message),
            message_truncated: row.message_truncated != 0,
        }
    }
}

/// How many jobs a slot ran in the window, as read.
#[derive(Debug, clickhouse::Row, Deserialize)]
struct SlotJobsRow {
    workflow_name: String,
    job_name: String,
    jobs: u64,
}

impl CompletedJobs {
    /// Of each slot of `repo` where `test` failed since `since` (on the hour), or of those of
    /// them in `only`, the newest `newest` jobs first seen since `from` (at or after `since`),
    /// latest version of each, with the size of its list.
    pub async fn test_history_jobs(
        &self,
        repo: &RepoName,
        test: &TestId,
        (since, from): (i64, i64),
        only: Option<&[JobSlot]>,
        newest: usize,
    ) -> Result<Vec<SlotJob>, StoreError> {
        if only.is_some_and(<[JobSlot]>::is_empty) {
            return Ok(Vec::new());
        }
        let condition = if only.is_some() { OF_SLOTS } else { "" };
        let sql = TEST_HISTORY_JOBS_SQL.replace("{slot_condition}", condition);
        let slots: Option<Vec<(&str, &str)>> = only.map(|slots| {
            slots
                .iter()
                .map(|s| (s.workflow_name.as_str(), s.job_name.as_str()))
                .collect()
        });
        let mut query = self.query(&sql);
        // The rows, then which jobs: the same ranges of the same slots.
        for _ in 0..2 {
            query = query
                .bind(repo.as_str())
                .bind(repo.as_str())
                .bind(test.classname.as_str())
                .bind(test.name.as_str())
                .bind(date_time(since));
            if let Some(slots) = &slots {
                query = query.bind(slots.as_slice());
            }
            query = query.bind(date_time(from));
        }
        let query = query.bind(u64::try_from(newest).unwrap_or(u64::MAX));
        let rows: Vec<SlotJobRow> = self.fetch(query).await?;
        Ok(readable(STORE, rows.into_iter().map(TryInto::try_into)))
    }

    /// Every nightly job of the window of each slot of `repo` where `test` failed since
    /// `since`, latest version of each, as [`Self::test_history_jobs`] reads a job.
    pub async fn test_history_nightlies(
        &self,
        repo: &RepoName,
        test: &TestId,
        since: i64,
    ) -> Result<Vec<SlotJob>, StoreError> {
        let [nightly, periodic, schedule] = EventType::NIGHTLY_RUNS;
        let query = self
            .query(TEST_HISTORY_NIGHTLIES_SQL)
            .bind(repo.as_str())
            .bind(repo.as_str())
            .bind(test.classname.as_str())
            .bind(test.name.as_str())
            .bind(date_time(since))
            .bind(date_time(since))
            .bind(nightly)
            .bind(periodic)
            .bind(schedule);
        let rows: Vec<SlotJobRow> = self.fetch(query).await?;
        Ok(readable(STORE, rows.into_iter().map(TryInto::try_into)))
    }

    /// How many jobs (every trigger and attempt) each slot of `repo` where `test` failed since
    /// `since` ran since then.
    pub async fn test_history_slot_jobs(
        &self,
        repo: &RepoName,
        test: &TestId,
        since: i64,
    ) -> Result<Vec<(JobSlot, u64)>, StoreError> {
        let query = self
            .query(TEST_HISTORY_COUNTS_SQL)
            .bind(repo.as_str())
            .bind(repo.as_str())
            .bind(test.classname.as_str())
            .bind(test.name.as_str())
            .bind(date_time(since))
            .bind(date_time(since));
        let rows: Vec<SlotJobsRow> = self.fetch(query).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let slot = JobSlot {
                    workflow_name: row.workflow_name,
                    job_name: row.job_name,
                };
                (slot, row.jobs)
            })
            .collect())
    }

    /// The failed-test rows of `test` in `repo` of jobs first seen since `since`, each at its
    /// job's latest version.
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
            .bind(date_time(since))
            .bind(repo.as_str())
            .bind(date_time(since))
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
        let of_slots = TEST_HISTORY_JOBS_SQL.replace("{slot_condition}", OF_SLOTS);
        let of_test = TEST_HISTORY_JOBS_SQL.replace("{slot_condition}", "");
        for (sql, binds) in [
            (of_test.as_str(), 13),
            (of_slots.as_str(), 15),
            (TEST_HISTORY_NIGHTLIES_SQL, 9),
            (TEST_HISTORY_COUNTS_SQL, 6),
            (TEST_HISTORY_FAILURES_SQL, 10),
        ] {
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
        use oot_platform::read_tables::{BY_SLOT, VERSIONS};
        let failed = failed_tests_table("{table}");
        for sql in [
            TEST_HISTORY_JOBS_SQL,
            TEST_HISTORY_NIGHTLIES_SQL,
            TEST_HISTORY_COUNTS_SQL,
        ] {
            assert!(sql.contains(&format!("FROM {{table}}{BY_SLOT}\n")), "{sql}");
        }
        assert!(TEST_HISTORY_FAILURES_SQL.contains(&format!("FROM {{table}}{VERSIONS}\n")));
        for sql in [
            TEST_HISTORY_JOBS_SQL,
            TEST_HISTORY_NIGHTLIES_SQL,
            TEST_HISTORY_COUNTS_SQL,
            TEST_HISTORY_FAILURES_SQL,
        ] {
            assert!(sql.contains(&format!("FROM {failed}\n")), "{sql}");
        }
    }

    #[test]
    fn every_row_reads_columns_of_the_contract() {
        let by_slot = oot_platform::read_tables::READ_TABLES
            .iter()
            .find(|t| t.suffix == oot_platform::read_tables::BY_SLOT)
            .map(|t| oot_platform::read_tables::declared_columns(t.create_sql))
            .unwrap_or_default();
        for name in SlotJobRow::COLUMN_NAMES {
            assert!(is_column(name), "{name} is not a column of the jobs table");
            assert!(by_slot.contains(name), "{name} is not in the jobs by slot");
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
            workflow_name: "w".to_owned(),
            job_name: "j".to_owned(),
            message: String::new(),
            message_truncated: 1,
        });
        assert_eq!((failure.message, failure.message_truncated), (None, true));
        assert_eq!(failure.slot.job_name, "j");
    }

    #[test]
    fn a_slot_with_fewer_newest_jobs_than_asked_in_the_span_is_read_further() {
        let job = |key: &str, slot: &str| SlotJob {
            facts: JobFacts {
                job_key: key.to_owned(),
                version: 1,
                upstream_repo: None,
                pr_number: None,
                head_sha: String::new(),
                event_type: "pull_request".to_owned(),
                workflow_name: "w".to_owned(),
                job_name: slot.to_owned(),
                run_id: "1".to_owned(),
                run_attempt: 1,
                conclusion: Some(oot_contract::Conclusion::Success),
                first_seen_at: 0,
                failed_count: None,
            },
            listed_entries: 0,
            workflow_run_url: None,
        };
        let slot = |name: &str| JobSlot {
            workflow_name: "w".to_owned(),
            job_name: name.to_owned(),
        };
        let found = vec![
            job("a1", "busy"),
            job("a2", "busy"),
            job("a2", "busy"),
            job("b1", "quiet"),
        ];
        let slots = [slot("busy"), slot("quiet"), slot("none")];
        let short: Vec<String> = slots_short_of(2, &slots, &found)
            .into_iter()
            .map(|s| s.job_name)
            .collect();
        assert_eq!(short, ["quiet", "none"], "two jobs, one row twice: enough");
        assert!(slots_short_of(1, &slots[..2], &found).is_empty());
    }
}
