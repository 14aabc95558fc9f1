//! Reading running jobs from DynamoDB, the live job state, through the job table's secondary
//! indexes: `downstream_repo-index` for a backend, `upstream_pr-index` for an upstream PR.
//!
//! Both indexes hold every job of their key, running or not (range key `dynamoKey`, no time),
//! so a query reads them all and the filter keeps `in_progress` ones; the projection keeps the
//! answer small (the items also hold the merge state and failed tests, which running jobs do
//! not need).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use oot_platform::migrate::{DOWNSTREAM_REPO_INDEX, UPSTREAM_PR_INDEX};

use crate::clock::parse_rfc3339;
use crate::error::ApiError;
use crate::job::{Job, JobState, TestCounts};

const STORE: &str = "dynamodb";

/// The attributes a running job is shown with (see `projector/src/job_table.rs`).
const ATTRIBUTES: [&str; 18] = [
    "dynamoKey",
    "status",
    "downstream_repo",
    "downstream_repo_level",
    "upstream_repo",
    "pr_number",
    "pytorch_head_sha",
    "delivery_id",
    "event_type",
    "workflow_run_url",
    "workflow_name",
    "job_name",
    "check_run_id",
    "run_id",
    "run_attempt",
    "queue_time",
    "started_at",
    "first_seen_at",
];

type Item = HashMap<String, AttributeValue>;

/// The job table of the query service.
#[derive(Clone)]
pub struct LiveJobs {
    client: aws_sdk_dynamodb::Client,
    table: String,
    timeout: Duration,
}

impl LiveJobs {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String, timeout: Duration) -> Self {
        Self {
            client,
            table,
            timeout,
        }
    }

    /// The running jobs of downstream repo `repo`.
    pub async fn running_of_repo(&self, repo: &str) -> Result<Vec<Job>, ApiError> {
        self.running(DOWNSTREAM_REPO_INDEX, "downstream_repo", repo.to_owned())
            .await
    }

    /// The running jobs of upstream PR `upstream_repo#pr_number`.
    pub async fn running_of_pr(
        &self,
        upstream_repo: &str,
        pr_number: u64,
    ) -> Result<Vec<Job>, ApiError> {
        self.running(
            UPSTREAM_PR_INDEX,
            "upstream_pr",
            format!("{upstream_repo}#{pr_number}"),
        )
        .await
    }

    async fn running(&self, index: &str, hash: &str, value: String) -> Result<Vec<Job>, ApiError> {
        match tokio::time::timeout(self.timeout, self.query_all(index, hash, value)).await {
            Ok(answer) => answer.map_err(|detail| ApiError::StoreUnavailable {
                store: STORE,
                detail,
            }),
            Err(_) => Err(ApiError::StoreUnavailable {
                store: STORE,
                detail: format!("no answer within {:?}", self.timeout),
            }),
        }
    }

    /// Every page of the index query.
    async fn query_all(&self, index: &str, hash: &str, value: String) -> Result<Vec<Job>, String> {
        // Every attribute goes through a placeholder: `status` is a DynamoDB reserved word, and
        // the others may become one.
        let projection: Vec<String> = (0..ATTRIBUTES.len()).map(|i| format!("#a{i}")).collect();
        let mut jobs = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#hash = :hash")
                .filter_expression("#status = :running")
                .projection_expression(projection.join(", "))
                .expression_attribute_names("#hash", hash)
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":hash", AttributeValue::S(value.clone()))
                .expression_attribute_values(":running", AttributeValue::S("in_progress".into()))
                .set_exclusive_start_key(start.take());
            for (i, name) in ATTRIBUTES.iter().enumerate() {
                request = request.expression_attribute_names(format!("#a{i}"), *name);
            }
            let answer = request.send().await.map_err(|e| {
                format!(
                    "querying {index} of {}: {}",
                    self.table,
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
            for item in answer.items() {
                match running_job(item) {
                    Some(job) => jobs.push(job),
                    None => tracing::warn!(
                        key = ?item.get("dynamoKey"),
                        "a running job's item lacks an attribute the views need; not shown"
                    ),
                }
            }
            match answer.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(jobs),
            }
        }
    }
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
}

/// The job of a running item; `None` when an attribute every job has is missing.
fn running_job(item: &Item) -> Option<Job> {
    let started_at = text(item, "started_at").and_then(|t| parse_rfc3339(&t));
    Some(Job {
        job_key: text(item, "dynamoKey")?,
        downstream_repo: text(item, "downstream_repo")?,
        level: text(item, "downstream_repo_level"),
        upstream_repo: text(item, "upstream_repo"),
        pr_number: number(item, "pr_number"),
        head_sha: text(item, "pytorch_head_sha"),
        delivery_id: text(item, "delivery_id")?,
        event_type: text(item, "event_type")?,
        workflow_run_url: text(item, "workflow_run_url")?,
        workflow_name: text(item, "workflow_name")?,
        job_name: text(item, "job_name")?,
        check_run_id: text(item, "check_run_id")?,
        run_id: text(item, "run_id")?,
        run_attempt: number(item, "run_attempt")?,
        state: JobState::of(&text(item, "status")?, ""),
        conclusion: None,
        queue_time: number(item, "queue_time"),
        execution_time: None,
        // The projector writes first_seen_at on every item; the start stands in for older ones.
        first_seen_at: text(item, "first_seen_at")
            .and_then(|t| parse_rfc3339(&t))
            .or(started_at)?,
        started_at,
        completed_at: None,
        tests: TestCounts::default(),
        artifact_url: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Item {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: &str| AttributeValue::N(v.to_owned());
        HashMap::from([
            ("dynamoKey".to_owned(), s("a/b/d/ci/test/1")),
            ("status".to_owned(), s("in_progress")),
            ("downstream_repo".to_owned(), s("a/b")),
            ("upstream_repo".to_owned(), s("pytorch/pytorch")),
            ("pr_number".to_owned(), n("179565")),
            ("delivery_id".to_owned(), s("d")),
            ("event_type".to_owned(), s("pull_request")),
            ("workflow_run_url".to_owned(), s("https://example.com/run")),
            ("workflow_name".to_owned(), s("ci")),
            ("job_name".to_owned(), s("test")),
            ("check_run_id".to_owned(), s("1")),
            ("run_id".to_owned(), s("100")),
            ("run_attempt".to_owned(), n("2")),
            ("queue_time".to_owned(), n("12.5")),
            ("started_at".to_owned(), s("2026-04-28T10:15:30Z")),
            ("first_seen_at".to_owned(), s("2026-04-28T10:15:31.250Z")),
        ])
    }

    #[test]
    fn a_running_item_becomes_a_running_job() {
        let job = running_job(&item()).unwrap();
        assert_eq!(job.state, JobState::Running);
        assert_eq!(job.pr_number, Some(179_565));
        assert_eq!(job.run_attempt, 2);
        assert_eq!(job.queue_time, Some(12.5));
        assert_eq!(job.started_at, Some(1_777_371_330));
        assert_eq!(job.first_seen_at, 1_777_371_331);
        assert_eq!(job.level, None);
    }

    #[test]
    fn an_item_without_its_identity_is_skipped() {
        let mut broken = item();
        broken.remove("run_attempt");
        assert_eq!(running_job(&broken), None);
        let mut old = item();
        old.remove("first_seen_at");
        assert_eq!(running_job(&old).unwrap().first_seen_at, 1_777_371_330);
    }
}
