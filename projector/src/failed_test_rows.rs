//! The failed-test sink: one row per failed test of a completed job version, appended in one
//! INSERT per batch beside the job's row (docs/contract.md §10.3).
//!
//! The rows come from the merged record alone, its failed tests as the DynamoDB item holds them
//! ([`bounded_for_item`], the list of the job row's `failed_tests_json`), so live projection,
//! replay and redelivery write the same rows, and a re-inserted row collapses with its twin.
//! `version` is the job row's: readers keep a job's rows of its latest version only, since a test
//! an older version listed and the newer one does not keeps its old row.

use std::collections::HashSet;

use clickhouse::Client;
use serde::{Deserialize, Serialize};

use crate::completed_rows::seconds;
use crate::job_table::failed_tests_for_item;
use crate::merge::JobRecord;

/// A row of `{jobs table}_failed_tests`: every column of
/// [`oot_contract::clickhouse::failed_test::COLUMNS`], in its order (a test holds them equal).
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize, Deserialize)]
pub struct FailedTestRow {
    pub downstream_repo: String,
    pub classname: String,
    pub name: String,
    /// The job's, in seconds since the epoch (ClickHouse `DateTime`).
    pub first_seen_at: u32,
    #[serde(rename = "dynamoKey")]
    pub dynamo_key: String,
    /// The job row's version.
    pub version: u64,
    pub upstream_repo: String,
    pub pr_number: Option<u64>,
    pub pytorch_head_sha: String,
    pub event_type: String,
    pub workflow_name: String,
    pub job_name: String,
    pub run_id: String,
    pub run_attempt: u32,
    pub conclusion: String,
    pub completed_at: u32,
    pub message: String,
    /// 1 when the message was cut (ClickHouse `UInt8`: 18.16 has no `Bool`).
    pub message_truncated: u8,
    pub duration_s: Option<f64>,
}

impl FailedTestRow {
    /// The rows of a completed `record` at `version`: one per distinct (classname, name) of its
    /// failed tests as the item holds them, the first listed where a job lists a test twice
    /// (the table keeps one row per test and job version, and the first is the one kept every
    /// time). None for a running job or one that listed no failed tests.
    pub fn of(record: &JobRecord, version: u64) -> Vec<Self> {
        if !record.is_completed() {
            return Vec::new();
        }
        let Some(failed) = failed_tests_for_item(record) else {
            return Vec::new();
        };
        let view = record.view();
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        failed
            .tests
            .iter()
            .filter(|test| seen.insert((test.classname.as_str(), test.name.as_str())))
            .map(|test| Self {
                downstream_repo: view.downstream_repo.to_string(),
                classname: test.classname.clone(),
                name: test.name.clone(),
                first_seen_at: seconds(view.first_seen_at),
                dynamo_key: view.job_key.to_string(),
                version,
                upstream_repo: view
                    .upstream_repo
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                pr_number: view.pr_number.map(|n| u64::from(n.get())),
                pytorch_head_sha: view.pytorch_head_sha.unwrap_or_default().to_owned(),
                event_type: view.event_type.to_owned(),
                workflow_name: view.workflow_name.to_owned(),
                job_name: view.job_name.to_owned(),
                run_id: view.run_id.to_owned(),
                run_attempt: u32::try_from(view.run_attempt).unwrap_or(u32::MAX),
                conclusion: view
                    .conclusion
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default(),
                completed_at: view.completed_at.map_or(0, seconds),
                message: test.message.clone().unwrap_or_default(),
                message_truncated: u8::from(test.message_truncated),
                duration_s: test.duration_s,
            })
            .collect()
    }
}

/// The failed-test table of one projector.
#[derive(Clone)]
pub struct FailedTestRows {
    client: Client,
    table: String,
}

impl FailedTestRows {
    /// The failed-test table of the completed-jobs table `jobs_table`; `client` must have its
    /// database as the current one, as for [`crate::completed_rows::CompletedJobs`].
    pub fn new(client: Client, jobs_table: &str) -> Self {
        Self {
            client,
            table: oot_contract::clickhouse::failed_tests_table(jobs_table),
        }
    }

    /// Appends `rows` in one INSERT.
    pub async fn insert(&self, rows: &[FailedTestRow]) -> Result<(), clickhouse::error::Error> {
        crate::completed_rows::insert_rows(&self.client, &self.table, rows).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_table::bounded_for_item;
    use crate::merge::tests::{completed, in_progress, JOB_KEY};
    use oot_avro::event::FailedTest;
    use oot_contract::clickhouse::failed_test::COLUMNS;

    fn failed(classname: &str, name: &str, message: Option<&str>) -> FailedTest {
        FailedTest {
            name: name.to_owned(),
            classname: classname.to_owned(),
            message: message.map(str::to_owned),
            stacktrace: Some("Traceback".to_owned()),
            duration_s: Some(1.5),
            message_truncated: false,
            stacktrace_truncated: false,
        }
    }

    fn record_with(tests: Vec<FailedTest>) -> JobRecord {
        let mut event = completed("failure", 30);
        event.workflow.failed_tests = tests;
        JobRecord::from_event(&event).expect("a valid event")
    }

    #[test]
    fn the_row_is_the_contracts_columns_in_order() {
        assert_eq!(<FailedTestRow as clickhouse::Row>::COLUMN_NAMES, COLUMNS);
    }

    #[test]
    fn one_row_per_failed_test_with_the_jobs_identity_and_version() {
        let record = record_with(vec![
            failed("TestA", "test_one", Some("boom")),
            failed("TestB", "test_two", None),
            failed("", "test_three", Some("x")),
        ]);
        let rows = FailedTestRow::of(&record, 7);
        let tests: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.classname.as_str(), r.name.as_str()))
            .collect();
        assert_eq!(
            tests,
            [
                ("TestA", "test_one"),
                ("TestB", "test_two"),
                ("", "test_three")
            ]
        );
        let view = record.view();
        for row in &rows {
            assert_eq!(row.dynamo_key, JOB_KEY);
            assert_eq!(row.version, 7);
            assert_eq!(row.downstream_repo, view.downstream_repo.as_str());
            assert_eq!(row.first_seen_at, seconds(view.first_seen_at));
            assert_eq!(
                row.upstream_repo,
                view.upstream_repo
                    .map(|r| r.to_string())
                    .unwrap_or_default()
            );
            assert_eq!(row.pr_number, view.pr_number.map(|n| u64::from(n.get())));
            assert_eq!(
                row.pytorch_head_sha,
                view.pytorch_head_sha.unwrap_or_default()
            );
            assert_eq!(row.event_type, view.event_type);
            assert_eq!(row.workflow_name, view.workflow_name);
            assert_eq!(row.job_name, view.job_name);
            assert_eq!(row.run_id, view.run_id);
            assert_eq!(i64::from(row.run_attempt), view.run_attempt);
            assert_eq!(row.conclusion, "failure");
            assert_eq!(Some(row.completed_at), view.completed_at.map(seconds));
            assert_eq!(row.duration_s, Some(1.5));
        }
        assert_eq!(
            (rows[0].message.as_str(), rows[1].message.as_str()),
            ("boom", ""),
            "a missing message is empty"
        );
    }

    #[test]
    fn none_for_a_job_without_failed_tests_or_not_completed() {
        assert!(FailedTestRow::of(&record_with(Vec::new()), 1).is_empty());
        let mut running = in_progress();
        running.workflow.failed_tests = vec![failed("TestA", "test_one", None)];
        let record = JobRecord::from_event(&running).expect("a valid event");
        assert!(!record.is_completed());
        assert!(FailedTestRow::of(&record, 1).is_empty());
    }

    #[test]
    fn a_test_listed_twice_is_one_row_the_first_listed() {
        let record = record_with(vec![
            failed("TestA", "test_one", Some("first")),
            failed("TestA", "test_one", Some("second")),
            failed("TestB", "test_one", Some("other class")),
        ]);
        let rows = FailedTestRow::of(&record, 2);
        let messages: Vec<&str> = rows.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(messages, ["first", "other class"]);
    }

    #[test]
    fn messages_are_as_the_item_holds_them() {
        // Over the item's budget the stack traces go first, then messages: a cut is marked.
        let long = "m".repeat(1_000);
        let tests: Vec<FailedTest> = (0..400)
            .map(|i| FailedTest {
                stacktrace: Some("s".repeat(4_000)),
                ..failed("TestBig", &format!("test_{i}"), Some(&long))
            })
            .collect();
        let record = record_with(tests);
        let item: serde_json::Value =
            serde_json::from_str(&bounded_for_item(&record).failed_tests_json()).expect("JSON");
        let rows = FailedTestRow::of(&record, 3);
        let entries = item.as_array().expect("an array");
        assert_eq!(rows.len(), entries.len());
        for (row, entry) in rows.iter().zip(entries) {
            assert_eq!(entry["name"], row.name.as_str());
            assert_eq!(entry["message"].as_str().unwrap_or_default(), row.message);
            assert_eq!(
                entry["message_truncated"].as_bool(),
                Some(row.message_truncated == 1)
            );
        }
        assert!(
            rows.iter().any(|r| r.message_truncated == 1),
            "some messages were cut to fit"
        );
    }
}
