//! Reading running jobs from DynamoDB, the live job state, through the job table's sparse
//! running-jobs indexes: [`RUNNING_REPO_INDEX`] for a backend (queried) and for every backend
//! (scanned, for the summary), [`RUNNING_PR_INDEX`] for an upstream PR,
//! [`RUNNING_NIGHTLY_INDEX`] for a backend's nightly runs.
//!
//! The projector gives an item the indexes' keys only while its job runs, so the indexes hold
//! running jobs and nothing else: a read costs the running jobs it returns, never the history
//! (no status filter, which DynamoDB applies after reading). The status is still checked on
//! each item read. The projection keeps the answer small (the items also hold the merge state,
//! which the views do not need).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use oot_contract::dynamo::attr::{
    CHECK_RUN_ID, DELIVERY_ID, DOWNSTREAM_REPO, DOWNSTREAM_REPO_LEVEL, DYNAMO_KEY, EVENT_TYPE,
    FIRST_SEEN_AT, JOB_NAME, PR_NUMBER, PYTORCH_HEAD_SHA, QUEUE_TIME, RUNNING_NIGHTLY, RUNNING_PR,
    RUNNING_REPO, RUN_ATTEMPT, RUN_ID, STARTED_AT, STATUS, UPSTREAM_REPO, WORKFLOW_NAME,
    WORKFLOW_RUN_URL,
};
use oot_contract::dynamo::{
    RUNNING_NIGHTLY_INDEX, RUNNING_PR_INDEX, RUNNING_REPO_INDEX, RUNNING_VIEW_ATTRIBUTES,
};
use oot_contract::{PrNumber, RepoName, Status, UpstreamPr};

use oot_contract::rollup::attr as ledger_attr;
use oot_platform::dynamo_batch::{get_items, BatchRead};

use crate::clock::parse_rfc3339;
use crate::job::{Job, JobState, TestCounts};
use crate::rules::{CompletedRank, RunKey};
use crate::stores::{read, readable, StoreError, Unreadable};

const STORE: &str = "dynamodb";

/// The attributes a running job is shown with: the key and what the running-jobs indexes
/// project.
fn attributes() -> impl Iterator<Item = &'static str> {
    std::iter::once(DYNAMO_KEY).chain(RUNNING_VIEW_ATTRIBUTES)
}

type Item = HashMap<String, AttributeValue>;

/// The job table of the query service.
#[derive(Clone)]
pub struct LiveJobs {
    client: aws_sdk_dynamodb::Client,
    table: String,
    /// The rollup ledger the projector keeps beside the job table: per run, its latest
    /// completed attempt.
    ledger: String,
    timeout: Duration,
}

impl LiveJobs {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String, timeout: Duration) -> Self {
        Self {
            client,
            ledger: oot_contract::rollup::ledger_table(&table),
            table,
            timeout,
        }
    }

    /// The latest attempt of each of `runs` whose latest attempt has completed, from the rollup
    /// ledger's run items, by key (BatchGetItem): what a backend header's running count compares
    /// running attempts with (`crate::rules::running_runs`). Eventually consistent reads, like
    /// every view's.
    pub async fn latest_completed(
        &self,
        runs: &[RunKey],
    ) -> Result<HashMap<RunKey, CompletedRank>, StoreError> {
        let by_pk: HashMap<String, &RunKey> = runs.iter().map(|r| (r.storage_key(), r)).collect();
        let keys = by_pk
            .keys()
            .map(|pk| HashMap::from([(ledger_attr::PK.to_owned(), AttributeValue::S(pk.clone()))]))
            .collect();
        let projection = [
            ledger_attr::PK,
            ledger_attr::RUN_ATTEMPT,
            ledger_attr::JOB_KEY,
            ledger_attr::OUTCOME,
        ]
        .join(", ");
        let read = BatchRead {
            consistent: false,
            projection: Some(&projection),
        };
        let items = match tokio::time::timeout(
            self.timeout,
            get_items(&self.client, &self.ledger, keys, &read),
        )
        .await
        {
            Ok(answer) => answer.map_err(|e| StoreError {
                store: STORE,
                detail: format!(
                    "reading runs of {}: {}",
                    self.ledger,
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                ),
            })?,
            Err(_) => {
                return Err(StoreError {
                    store: STORE,
                    detail: format!("no answer within {:?}", self.timeout),
                })
            }
        };
        // A run item holds the latest attempt seen, running or completed; only a completed one
        // (with an outcome) can make an earlier running attempt stale.
        let completed = items
            .iter()
            .filter(|item| item.contains_key(ledger_attr::OUTCOME));
        let ranks = completed.map(|item| {
            let pk = text(item, ledger_attr::PK).unwrap_or_default();
            let rank = || -> Result<(RunKey, CompletedRank), Unreadable> {
                let run = by_pk
                    .get(&pk)
                    .ok_or_else(|| Unreadable::missing(ledger_attr::PK))?;
                let attempt = number(item, ledger_attr::RUN_ATTEMPT)
                    .ok_or_else(|| Unreadable::missing(ledger_attr::RUN_ATTEMPT))?;
                let job_key = required_text(item, ledger_attr::JOB_KEY)?;
                Ok(((*run).clone(), (attempt, job_key)))
            };
            rank().map_err(|why| why.of(&pk))
        });
        Ok(readable(STORE, ranks).into_iter().collect())
    }

    /// The running jobs of downstream repo `repo`.
    pub async fn running_of_repo(&self, repo: &RepoName) -> Result<Vec<Job>, StoreError> {
        Ok(self.running_of_repo_read(repo).await?.jobs)
    }

    /// The running jobs of downstream repo `repo`, with the number of items DynamoDB read.
    pub async fn running_of_repo_read(&self, repo: &RepoName) -> Result<Running, StoreError> {
        self.running(RUNNING_REPO_INDEX, Some((RUNNING_REPO, repo.to_string())))
            .await
    }

    /// The running nightly jobs of downstream repo `repo` ([`oot_contract::is_nightly_run`]):
    /// the nightly view's, without the repo's running PR jobs.
    pub async fn running_nightlies_of_repo(&self, repo: &RepoName) -> Result<Vec<Job>, StoreError> {
        Ok(self
            .running(
                RUNNING_NIGHTLY_INDEX,
                Some((RUNNING_NIGHTLY, repo.to_string())),
            )
            .await?
            .jobs)
    }

    /// The running jobs of upstream PR `pr`.
    pub async fn running_of_pr(&self, pr: &UpstreamPr) -> Result<Vec<Job>, StoreError> {
        Ok(self
            .running(RUNNING_PR_INDEX, Some((RUNNING_PR, pr.key())))
            .await?
            .jobs)
    }

    /// The running jobs of every downstream repo: a scan of the sparse index, which holds
    /// running jobs only.
    pub async fn running_everywhere(&self) -> Result<Vec<Job>, StoreError> {
        Ok(self.running(RUNNING_REPO_INDEX, None).await?.jobs)
    }

    async fn running(
        &self,
        index: &str,
        key: Option<(&str, String)>,
    ) -> Result<Running, StoreError> {
        match tokio::time::timeout(self.timeout, self.read_all(index, key)).await {
            Ok(answer) => answer.map_err(|detail| StoreError {
                store: STORE,
                detail,
            }),
            Err(_) => Err(StoreError {
                store: STORE,
                detail: format!("no answer within {:?}", self.timeout),
            }),
        }
    }

    /// Every page of the index query (`key`: partition key name and value), or of the index
    /// scan (no key).
    async fn read_all(&self, index: &str, key: Option<(&str, String)>) -> Result<Running, String> {
        // Every attribute goes through a placeholder: `status` is a DynamoDB reserved word, and
        // the others may become one.
        let mut names: HashMap<String, String> = attributes()
            .enumerate()
            .map(|(i, name)| (format!("#a{i}"), name.to_owned()))
            .collect();
        let projection: Vec<String> = (0..names.len()).map(|i| format!("#a{i}")).collect();
        let mut running = Running::default();
        let mut start: Option<Item> = None;
        loop {
            let (items, scanned, last) = match &key {
                Some((hash, value)) => {
                    names.insert("#hash".to_owned(), (*hash).to_owned());
                    let answer = self
                        .client
                        .query()
                        .table_name(&self.table)
                        .index_name(index)
                        .key_condition_expression("#hash = :hash")
                        .projection_expression(projection.join(", "))
                        .set_expression_attribute_names(Some(names.clone()))
                        .expression_attribute_values(":hash", AttributeValue::S(value.clone()))
                        .set_exclusive_start_key(start.take())
                        .send()
                        .await
                        .map_err(|e| self.failed("querying", index, e))?;
                    let last = answer.last_evaluated_key().cloned();
                    (answer.items, answer.scanned_count, last)
                }
                None => {
                    let answer = self
                        .client
                        .scan()
                        .table_name(&self.table)
                        .index_name(index)
                        .projection_expression(projection.join(", "))
                        .set_expression_attribute_names(Some(names.clone()))
                        .set_exclusive_start_key(start.take())
                        .send()
                        .await
                        .map_err(|e| self.failed("scanning", index, e))?;
                    let last = answer.last_evaluated_key().cloned();
                    (answer.items, answer.scanned_count, last)
                }
            };
            running.scanned += u64::try_from(scanned).unwrap_or(0);
            running.jobs.extend(readable(
                STORE,
                items.unwrap_or_default().iter().map(|item| {
                    running_job(item)
                        .map_err(|why| why.of(text(item, DYNAMO_KEY).as_deref().unwrap_or("?")))
                }),
            ));
            match last {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(running),
            }
        }
    }

    fn failed<E: std::error::Error + 'static>(
        &self,
        doing: &str,
        index: &str,
        error: aws_sdk_dynamodb::error::SdkError<E>,
    ) -> String {
        format!(
            "{doing} {index} of {}: {}",
            self.table,
            aws_sdk_dynamodb::error::DisplayErrorContext(error)
        )
    }
}

/// Running jobs as read, with the number of items DynamoDB read to find them (`ScannedCount`,
/// summed over pages): with the sparse indexes, the number of running jobs.
#[derive(Debug, Default)]
pub struct Running {
    pub jobs: Vec<Job>,
    pub scanned: u64,
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

fn required_text(item: &Item, name: &'static str) -> Result<String, Unreadable> {
    text(item, name).ok_or(Unreadable::missing(name))
}

fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
}

/// The job of a running item, or the attribute that is missing or outside the contract.
fn running_job(item: &Item) -> Result<Job, Unreadable> {
    let status = read(STATUS, Status::parse(&required_text(item, STATUS)?))?;
    let pr_number = number::<u64>(item, PR_NUMBER)
        .map(|n| read(PR_NUMBER, PrNumber::new(n)))
        .transpose()?;
    let started_at = text(item, STARTED_AT).and_then(|t| parse_rfc3339(&t));
    Ok(Job {
        job_key: required_text(item, DYNAMO_KEY)?,
        downstream_repo: required_text(item, DOWNSTREAM_REPO)?,
        level: text(item, DOWNSTREAM_REPO_LEVEL),
        upstream_repo: text(item, UPSTREAM_REPO),
        pr_number,
        head_sha: text(item, PYTORCH_HEAD_SHA),
        delivery_id: required_text(item, DELIVERY_ID)?,
        event_type: required_text(item, EVENT_TYPE)?,
        workflow_run_url: required_text(item, WORKFLOW_RUN_URL)?,
        workflow_name: required_text(item, WORKFLOW_NAME)?,
        job_name: required_text(item, JOB_NAME)?,
        check_run_id: required_text(item, CHECK_RUN_ID)?,
        run_id: required_text(item, RUN_ID)?,
        run_attempt: number(item, RUN_ATTEMPT).ok_or(Unreadable::missing(RUN_ATTEMPT))?,
        state: JobState::of(status, None),
        conclusion: None,
        queue_time: number(item, QUEUE_TIME),
        execution_time: None,
        // The projector writes first_seen_at on every item; the start stands in for older ones.
        first_seen_at: text(item, FIRST_SEEN_AT)
            .and_then(|t| parse_rfc3339(&t))
            .or(started_at)
            .ok_or(Unreadable::missing(FIRST_SEEN_AT))?,
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
            (DYNAMO_KEY.to_owned(), s("a/b/d/ci/test/1")),
            (STATUS.to_owned(), s("in_progress")),
            (DOWNSTREAM_REPO.to_owned(), s("a/b")),
            (UPSTREAM_REPO.to_owned(), s("pytorch/pytorch")),
            (PR_NUMBER.to_owned(), n("179565")),
            (DELIVERY_ID.to_owned(), s("d")),
            (EVENT_TYPE.to_owned(), s("pull_request")),
            (WORKFLOW_RUN_URL.to_owned(), s("https://example.com/run")),
            (WORKFLOW_NAME.to_owned(), s("ci")),
            (JOB_NAME.to_owned(), s("test")),
            (CHECK_RUN_ID.to_owned(), s("1")),
            (RUN_ID.to_owned(), s("100")),
            (RUN_ATTEMPT.to_owned(), n("2")),
            (QUEUE_TIME.to_owned(), n("12.5")),
            (STARTED_AT.to_owned(), s("2026-04-28T10:15:30Z")),
            (FIRST_SEEN_AT.to_owned(), s("2026-04-28T10:15:31.250Z")),
        ])
    }

    #[test]
    fn a_running_item_becomes_a_running_job() {
        let job = running_job(&item()).unwrap();
        assert_eq!(job.state, JobState::Running);
        assert_eq!(job.pr_number.map(|n| n.get()), Some(179_565));
        assert_eq!(job.run_attempt, 2);
        assert_eq!(job.queue_time, Some(12.5));
        assert_eq!(job.started_at, Some(1_777_371_330));
        assert_eq!(job.first_seen_at, 1_777_371_331);
        assert_eq!(job.level, None);
    }

    #[test]
    fn an_item_without_its_identity_is_skipped() {
        let mut broken = item();
        broken.remove(RUN_ATTEMPT);
        assert_eq!(running_job(&broken).ok(), None);
        let mut old = item();
        old.remove(FIRST_SEEN_AT);
        assert_eq!(running_job(&old).unwrap().first_seen_at, 1_777_371_330);
    }

    #[test]
    fn an_item_outside_the_contract_names_its_attribute() {
        for (name, value) in [
            (STATUS, AttributeValue::S("queued".to_owned())),
            (PR_NUMBER, AttributeValue::N("0".to_owned())),
        ] {
            let mut bad = item();
            bad.insert(name.to_owned(), value);
            assert_eq!(running_job(&bad).unwrap_err().name, name);
        }
        let mut no_key = item();
        no_key.remove(DYNAMO_KEY);
        assert_eq!(running_job(&no_key), Err(Unreadable::missing(DYNAMO_KEY)));
    }
}
