//! [`JobRecord`]: the merged state of one job, and its merge.

use oot_avro::event::{CallbackEvent, FailedTest, TestCounts};
use oot_contract::{
    Conclusion, DeliveryId, EventType, InvalidValue, JobKey, JobName, NumericId, PrNumber,
    RepoLevel, RepoName, Status, WorkflowName,
};
use serde::{Deserialize, Serialize};

use super::canon::digest;
use super::failed::{failed_tests_json, FailedTests};
use super::rank::{join, join_opt, Rank, Sourced, Stage};

/// Two records (or a record and an event) of different jobs were asked to merge. Merging them
/// would attach one job's result to another; the projector must treat this as a bug upstream
/// (the Kafka key and the event's `job_key` disagree), never store the result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refusing to merge different jobs: {left:?} and {right:?}")]
pub struct JobKeyMismatch {
    pub left: String,
    pub right: String,
}

/// An event whose strings are not words of the contract. Ingest lets none through, so this is
/// a bug or a foreign producer; either way it is final for that one event, which must leave the
/// batch (to the dead-letter topic) rather than stall it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event field `{field}` {reason}")]
pub struct InvalidEvent {
    /// The Avro field, e.g. `workflow.status`.
    pub field: &'static str,
    pub reason: InvalidValue,
}

/// Why an event cannot be merged into a stored record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Invalid(#[from] InvalidEvent),
    #[error(transparent)]
    KeyMismatch(#[from] JobKeyMismatch),
}

/// The merged state of one job: every field with the rank of the callback it came from.
///
/// Build one with [`JobRecord::from_event`], combine with [`JobRecord::merge`] (or
/// [`merge_event`] against a stored record), read it with [`JobRecord::view`]. The fields are
/// private so that a value cannot be changed without its rank; the serde form is the stored
/// merge state (field names follow the DynamoDB attributes where there is one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// `dynamoKey`: identity, not merged.
    job_key: JobKey,
    /// Earliest `received_at` (µs) of the merged callbacks.
    first_seen_at: i64,

    // Typed where the contract has a type whose serde form is the string (or number) stored
    // before, so merge states written by earlier versions read back unchanged. Kept as sent:
    // the head SHA and URL (their contract types normalize case, and the stored bytes must not
    // change) and `run_attempt` (stored as a number, the contract's type is a string).
    status: Sourced<Status>,
    downstream_repo: Sourced<RepoName>,
    downstream_repo_level: Option<Sourced<RepoLevel>>,
    upstream_repo: Option<Sourced<RepoName>>,
    pr_number: Option<Sourced<PrNumber>>,
    pytorch_head_sha: Option<Sourced<String>>,
    delivery_id: Sourced<DeliveryId>,
    event_type: Sourced<EventType>,
    workflow_run_url: Sourced<String>,
    workflow_name: Sourced<WorkflowName>,
    job_name: Sourced<JobName>,
    check_run_id: Sourced<NumericId>,
    run_id: Sourced<NumericId>,
    run_attempt: Sourced<i64>,
    conclusion: Option<Sourced<Conclusion>>,
    queue_time: Option<Sourced<f64>>,
    execution_time: Option<Sourced<f64>>,
    started_at: Option<Sourced<i64>>,
    completed_at: Option<Sourced<i64>>,
    test_counts: Option<Sourced<TestCounts>>,
    failed_tests: Option<Sourced<FailedTests>>,
    artifact_url: Option<Sourced<String>>,
    environment: Option<Sourced<String>>,
    truncations: Option<Sourced<Vec<String>>>,
}

/// The values of a [`JobRecord`], without provenance, as the projections write them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobView<'a> {
    pub job_key: &'a JobKey,
    /// µs since the Unix epoch.
    pub first_seen_at: i64,
    /// `completed` as soon as any completed callback was merged, else `in_progress`.
    pub status: Status,
    pub downstream_repo: &'a RepoName,
    pub downstream_repo_level: Option<RepoLevel>,
    pub upstream_repo: Option<&'a RepoName>,
    pub pr_number: Option<PrNumber>,
    pub pytorch_head_sha: Option<&'a str>,
    pub delivery_id: &'a str,
    pub event_type: &'a str,
    pub workflow_run_url: &'a str,
    pub workflow_name: &'a str,
    pub job_name: &'a str,
    pub check_run_id: &'a str,
    pub run_id: &'a str,
    pub run_attempt: i64,
    pub conclusion: Option<Conclusion>,
    /// Seconds.
    pub queue_time: Option<f64>,
    /// Seconds.
    pub execution_time: Option<f64>,
    /// µs since the Unix epoch.
    pub started_at: Option<i64>,
    /// µs since the Unix epoch.
    pub completed_at: Option<i64>,
    /// The reported total, or passed + failed + skipped when the job sent counts but no total.
    pub total_tests: Option<i64>,
    pub passed_tests: Option<i64>,
    /// The reported count; may exceed `failed_test_list.len()` (the list is optional and cut).
    pub failed_tests: Option<i64>,
    pub skipped_tests: Option<i64>,
    /// Empty when no callback listed failed tests.
    pub failed_test_list: &'a [FailedTest],
    /// Failed tests left out of `failed_test_list` to fit a byte budget.
    pub failed_tests_omitted: u64,
    pub artifact_url: Option<&'a str>,
    /// The `environment` object as compact JSON text.
    pub environment: Option<&'a str>,
    /// Ingest's notes of what it cut from the callback the failed tests came from (normally).
    pub truncations: &'a [String],
}

/// The result of [`merge_event`].
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub record: JobRecord,
    /// False when the event added nothing (a redelivery, or a callback every field of which is
    /// outranked): the stored record need not be written again.
    pub changed: bool,
}

/// Folds one event into the stored record of its job (`None` if there is none yet). This is
/// the projector's read-merge-write step; since [`JobRecord::merge`] is a semilattice join the
/// stored record ends up the same whatever the order and repetition of deliveries.
pub fn merge_event(stored: Option<&JobRecord>, event: &CallbackEvent) -> Result<Merged, Refused> {
    let incoming = JobRecord::from_event(event)?;
    match stored {
        None => Ok(Merged {
            record: incoming,
            changed: true,
        }),
        Some(stored) => {
            let record = stored.merge(&incoming)?;
            let changed = record != *stored;
            Ok(Merged { record, changed })
        }
    }
}

/// `a ⊔ b`, the merged record of two records of one job; see [`JobRecord::merge`].
pub fn merge_callbacks(a: &JobRecord, b: &JobRecord) -> Result<JobRecord, JobKeyMismatch> {
    a.merge(b)
}

fn sourced<T>(value: T, rank: &Rank) -> Sourced<T> {
    Sourced {
        value,
        rank: rank.clone(),
    }
}

fn sourced_opt<T>(value: Option<T>, rank: &Rank) -> Option<Sourced<T>> {
    value.map(|value| sourced(value, rank))
}

fn parsed<T>(field: &'static str, value: Result<T, InvalidValue>) -> Result<T, InvalidEvent> {
    value.map_err(|reason| InvalidEvent { field, reason })
}

fn parsed_opt<T>(
    field: &'static str,
    value: Option<&str>,
    parse: fn(&str) -> Result<T, InvalidValue>,
) -> Result<Option<T>, InvalidEvent> {
    value.map(|v| parsed(field, parse(v))).transpose()
}

fn pr_number(n: i64) -> Result<PrNumber, InvalidValue> {
    u64::try_from(n)
        .map_err(|_| InvalidValue::new(format!("must be a positive integer, got {n}")))
        .and_then(PrNumber::new)
}

/// An empty list is read as "not reported", like a null, so it never clears a list.
fn non_empty<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

impl JobRecord {
    /// The record of a job about which only `event` is known. Every field the callback carries
    /// gets the callback's [`Rank`]; empty lists count as absent. This is where the event's
    /// strings become the contract's words, once; an event with one that does not parse is
    /// refused whole.
    pub fn from_event(event: &CallbackEvent) -> Result<JobRecord, InvalidEvent> {
        let w = &event.workflow;
        let job_key = parsed("job_key", JobKey::parse(&event.job_key))?;
        let status = parsed("workflow.status", Status::parse(&w.status))?;
        let conclusion = parsed_opt(
            "workflow.conclusion",
            w.conclusion.as_deref(),
            Conclusion::parse,
        )?;
        let downstream_repo = parsed("verified_repo", RepoName::parse(&event.verified_repo))?;
        let downstream_repo_level = parsed_opt(
            "downstream_repo_level",
            event.downstream_repo_level.as_deref(),
            RepoLevel::parse,
        )?;
        let upstream_repo = parsed_opt(
            "upstream_repo",
            event.upstream_repo.as_deref(),
            RepoName::parse,
        )?;
        let pr_number = event
            .pr_number
            .map(|n| parsed("pr_number", pr_number(n)))
            .transpose()?;
        let delivery_id = parsed("delivery_id", DeliveryId::parse(&event.delivery_id))?;
        let event_type = parsed("event_type", EventType::parse(&event.event_type))?;
        let workflow_name = parsed("workflow.name", WorkflowName::parse(&w.name))?;
        let job_name = parsed("workflow.job_name", JobName::parse(&w.job_name))?;
        let check_run_id = parsed("workflow.check_run_id", NumericId::parse(&w.check_run_id))?;
        let run_id = parsed("workflow.run_id", NumericId::parse(&w.run_id))?;

        let failed_tests = non_empty(w.failed_tests.clone()).map(FailedTests::new);
        let truncations = non_empty(event.truncations.clone());

        // Everything that reaches the record, and nothing else (not event_id, received_at,
        // schema_version, the relay document): duplicates must digest alike. Each part is
        // length-prefixed or fixed-size, so the sequence is unambiguous. Digested as sent (the
        // parsed words spell the same), so ranks stored by earlier versions stay valid.
        let content = digest(&[
            &w.status,
            &w.conclusion,
            &event.verified_repo,
            &event.downstream_repo_level,
            &event.upstream_repo,
            &event.pr_number,
            &event.head_sha,
            &event.delivery_id,
            &event.event_type,
            &w.url,
            &w.name,
            &w.job_name,
            &w.check_run_id,
            &w.run_id,
            &w.run_attempt,
            &event.queue_time,
            &event.execution_time,
            &w.started_at,
            &w.completed_at,
            &w.test_results,
            &failed_tests,
            &w.artifact_url,
            &w.environment_json,
            &truncations,
        ]);
        let stage = Stage::of(status, conclusion);
        let rank = Rank::of(stage, w.started_at, w.completed_at, content.into());
        let r = &rank;

        Ok(JobRecord {
            job_key,
            first_seen_at: event.received_at,
            status: sourced(status, r),
            downstream_repo: sourced(downstream_repo, r),
            downstream_repo_level: sourced_opt(downstream_repo_level, r),
            upstream_repo: sourced_opt(upstream_repo, r),
            pr_number: sourced_opt(pr_number, r),
            pytorch_head_sha: sourced_opt(event.head_sha.clone(), r),
            delivery_id: sourced(delivery_id, r),
            event_type: sourced(event_type, r),
            workflow_run_url: sourced(w.url.clone(), r),
            workflow_name: sourced(workflow_name, r),
            job_name: sourced(job_name, r),
            check_run_id: sourced(check_run_id, r),
            run_id: sourced(run_id, r),
            run_attempt: sourced(w.run_attempt, r),
            conclusion: sourced_opt(conclusion, r),
            queue_time: sourced_opt(event.queue_time, r),
            execution_time: sourced_opt(event.execution_time, r),
            started_at: sourced_opt(w.started_at, r),
            completed_at: sourced_opt(w.completed_at, r),
            test_counts: sourced_opt(w.test_results.clone(), r),
            failed_tests: sourced_opt(failed_tests, r),
            artifact_url: sourced_opt(w.artifact_url.clone(), r),
            environment: sourced_opt(w.environment_json.clone(), r),
            truncations: sourced_opt(truncations, r),
        })
    }

    /// The merged record of two records of one job: per field, the value of the higher-ranked
    /// source (a present value always beats an absent one); `first_seen_at` is the earlier.
    ///
    /// This is a join-semilattice (commutative, associative, idempotent), so folding a job's
    /// callbacks in any order, with any repetition, gives the same record.
    ///
    /// Fails, changing nothing, when the records belong to different jobs.
    pub fn merge(&self, other: &JobRecord) -> Result<JobRecord, JobKeyMismatch> {
        if self.job_key != other.job_key {
            return Err(JobKeyMismatch {
                left: self.job_key.to_string(),
                right: other.job_key.to_string(),
            });
        }
        let (a, b) = (self, other);
        Ok(JobRecord {
            job_key: a.job_key.clone(),
            first_seen_at: a.first_seen_at.min(b.first_seen_at),
            status: join(&a.status, &b.status),
            downstream_repo: join(&a.downstream_repo, &b.downstream_repo),
            downstream_repo_level: join_opt(&a.downstream_repo_level, &b.downstream_repo_level),
            upstream_repo: join_opt(&a.upstream_repo, &b.upstream_repo),
            pr_number: join_opt(&a.pr_number, &b.pr_number),
            pytorch_head_sha: join_opt(&a.pytorch_head_sha, &b.pytorch_head_sha),
            delivery_id: join(&a.delivery_id, &b.delivery_id),
            event_type: join(&a.event_type, &b.event_type),
            workflow_run_url: join(&a.workflow_run_url, &b.workflow_run_url),
            workflow_name: join(&a.workflow_name, &b.workflow_name),
            job_name: join(&a.job_name, &b.job_name),
            check_run_id: join(&a.check_run_id, &b.check_run_id),
            run_id: join(&a.run_id, &b.run_id),
            run_attempt: join(&a.run_attempt, &b.run_attempt),
            conclusion: join_opt(&a.conclusion, &b.conclusion),
            queue_time: join_opt(&a.queue_time, &b.queue_time),
            execution_time: join_opt(&a.execution_time, &b.execution_time),
            started_at: join_opt(&a.started_at, &b.started_at),
            completed_at: join_opt(&a.completed_at, &b.completed_at),
            test_counts: join_opt(&a.test_counts, &b.test_counts),
            failed_tests: join_opt(&a.failed_tests, &b.failed_tests),
            artifact_url: join_opt(&a.artifact_url, &b.artifact_url),
            environment: join_opt(&a.environment, &b.environment),
            truncations: join_opt(&a.truncations, &b.truncations),
        })
    }

    /// The copy for DynamoDB: the failed tests cut to `failed_tests_budget` bytes of JSON (see
    /// [`FailedTests::bounded`]; [`super::DYNAMODB_FAILED_TESTS_BUDGET`] is the default), with
    /// their rank kept. Cutting commutes with merging: merging a callback into the stored cut
    /// record and cutting again gives the cut of the full merge, so the DynamoDB item stays
    /// what a replay would produce and a redelivery leaves it unchanged.
    pub fn bounded(&self, failed_tests_budget: usize) -> JobRecord {
        let mut copy = self.clone();
        if let Some(failed) = &mut copy.failed_tests {
            failed.value = failed.value.bounded(failed_tests_budget);
        }
        copy
    }

    /// `dynamoKey`.
    pub fn job_key(&self) -> &JobKey {
        &self.job_key
    }

    /// True once any `completed` callback was merged.
    pub fn is_completed(&self) -> bool {
        self.status.rank.stage > Stage::InProgress
    }

    /// The rank of the most final callback merged (the source of `status`).
    pub fn rank(&self) -> &Rank {
        &self.status.rank
    }

    /// `failed_tests_json` of this record: the full list, or the cut one of a
    /// [`JobRecord::bounded`] copy; `[]` when no callback listed failed tests.
    pub fn failed_tests_json(&self) -> String {
        failed_tests_json(self.view().failed_test_list)
    }

    /// The failed tests of [`JobRecord::bounded`]`(failed_tests_budget)` (`None` when no
    /// callback listed any), without copying the rest of the record: what a row needs of the
    /// bounded copy.
    pub fn bounded_failed_tests(&self, failed_tests_budget: usize) -> Option<FailedTests> {
        self.failed_tests
            .as_ref()
            .map(|failed| failed.value.bounded(failed_tests_budget))
    }

    /// The field values.
    pub fn view(&self) -> JobView<'_> {
        fn text<T: AsRef<str>>(field: &Option<Sourced<T>>) -> Option<&str> {
            field.as_ref().map(|s| s.value.as_ref())
        }
        fn value<T>(field: &Option<Sourced<T>>) -> Option<&T> {
            field.as_ref().map(|s| &s.value)
        }
        fn copied<T: Copy>(field: &Option<Sourced<T>>) -> Option<T> {
            field.as_ref().map(|s| s.value)
        }
        let counts = self.test_counts.as_ref().map(|c| &c.value);
        let failed = self.failed_tests.as_ref().map(|f| &f.value);
        JobView {
            job_key: &self.job_key,
            first_seen_at: self.first_seen_at,
            status: self.status.value,
            downstream_repo: &self.downstream_repo.value,
            downstream_repo_level: copied(&self.downstream_repo_level),
            upstream_repo: value(&self.upstream_repo),
            pr_number: copied(&self.pr_number),
            pytorch_head_sha: text(&self.pytorch_head_sha),
            delivery_id: self.delivery_id.value.as_str(),
            event_type: self.event_type.value.as_str(),
            workflow_run_url: &self.workflow_run_url.value,
            workflow_name: self.workflow_name.value.as_str(),
            job_name: self.job_name.value.as_str(),
            check_run_id: self.check_run_id.value.as_str(),
            run_id: self.run_id.value.as_str(),
            run_attempt: self.run_attempt.value,
            conclusion: copied(&self.conclusion),
            queue_time: copied(&self.queue_time),
            execution_time: copied(&self.execution_time),
            started_at: copied(&self.started_at),
            completed_at: copied(&self.completed_at),
            total_tests: counts.map(|c| {
                c.total
                    .unwrap_or_else(|| c.passed.saturating_add(c.failed).saturating_add(c.skipped))
            }),
            passed_tests: counts.map(|c| c.passed),
            failed_tests: counts.map(|c| c.failed),
            skipped_tests: counts.map(|c| c.skipped),
            failed_test_list: failed.map_or(&[], |f| f.tests.as_slice()),
            failed_tests_omitted: failed.map_or(0, |f| f.omitted),
            artifact_url: text(&self.artifact_url),
            environment: text(&self.environment),
            truncations: self
                .truncations
                .as_ref()
                .map_or(&[], |t| t.value.as_slice()),
        }
    }
}
