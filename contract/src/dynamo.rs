//! The job table's layout in DynamoDB: one item per job, HUD's attribute names, and the
//! secondary indexes the views query. The projector writes these attributes and the query
//! service reads them; both name them only through this module.

/// Attribute names of a job item.
pub mod attr {
    /// The job key ([`crate::JobKey`]): the table's partition key, the indexes' sort key.
    pub const DYNAMO_KEY: &str = "dynamoKey";
    /// Bumped by every write; writes are conditional on the version read.
    pub const VERSION: &str = "version";
    /// The merged record with the rank of each field's source (the projector's merge state).
    pub const MERGE_STATE: &str = "merge_state";
    /// [`crate::Status`].
    pub const STATUS: &str = "status";
    /// [`crate::Conclusion`], once completed.
    pub const CONCLUSION: &str = "conclusion";
    pub const DOWNSTREAM_REPO: &str = "downstream_repo";
    pub const DOWNSTREAM_REPO_LEVEL: &str = "downstream_repo_level";
    pub const UPSTREAM_REPO: &str = "upstream_repo";
    /// [`crate::UpstreamPr`] as `owner/name#number`: the PR index's partition key.
    pub const UPSTREAM_PR: &str = "upstream_pr";
    pub const PR_NUMBER: &str = "pr_number";
    pub const PYTORCH_HEAD_SHA: &str = "pytorch_head_sha";
    pub const DELIVERY_ID: &str = "delivery_id";
    pub const EVENT_TYPE: &str = "event_type";
    pub const WORKFLOW_RUN_URL: &str = "workflow_run_url";
    pub const WORKFLOW_NAME: &str = "workflow_name";
    pub const JOB_NAME: &str = "job_name";
    pub const CHECK_RUN_ID: &str = "check_run_id";
    pub const RUN_ID: &str = "run_id";
    pub const RUN_ATTEMPT: &str = "run_attempt";
    /// Seconds (number).
    pub const QUEUE_TIME: &str = "queue_time";
    /// Seconds (number).
    pub const EXECUTION_TIME: &str = "execution_time";
    /// RFC 3339: when ingest received the job's first callback.
    pub const FIRST_SEEN_AT: &str = "first_seen_at";
    /// RFC 3339.
    pub const STARTED_AT: &str = "started_at";
    /// RFC 3339.
    pub const COMPLETED_AT: &str = "completed_at";
    pub const TOTAL_TESTS: &str = "total_tests";
    pub const PASSED_TESTS: &str = "passed_tests";
    pub const FAILED_TESTS: &str = "failed_tests";
    pub const SKIPPED_TESTS: &str = "skipped_tests";
    /// The failed tests as a JSON array, cut to fit the item.
    pub const FAILED_TESTS_JSON: &str = "failed_tests_json";
    pub const ARTIFACT_URL: &str = "artifact_url";
    /// The `environment` object as compact JSON text.
    pub const ENVIRONMENT: &str = "environment";
}

/// Every job of one upstream PR: partition key [`attr::UPSTREAM_PR`], sort key
/// [`attr::DYNAMO_KEY`]. The PR view's running jobs.
pub const UPSTREAM_PR_INDEX: &str = "upstream_pr-index";
/// Every job of one downstream repo: partition key [`attr::DOWNSTREAM_REPO`], sort key
/// [`attr::DYNAMO_KEY`]. The backend view's running jobs.
pub const DOWNSTREAM_REPO_INDEX: &str = "downstream_repo-index";
