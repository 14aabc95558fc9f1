//! The names of the rollups' storage: the DynamoDB ledger the projector keeps them with, and
//! the ClickHouse tables the views read (docs/contract.md §9.3, §10.2).

/// The ledger table's name for the job table `job_table`.
pub fn ledger_table(job_table: &str) -> String {
    format!("{job_table}-rollup")
}

/// The hourly cells table's name for the completed-jobs table `jobs_table`.
pub fn cells_table(jobs_table: &str) -> String {
    format!("{jobs_table}_cells")
}

/// The per-repo latest table's name for the completed-jobs table `jobs_table`.
pub fn repos_table(jobs_table: &str) -> String {
    format!("{jobs_table}_repos")
}

/// The duration histograms a cell holds (docs/contract.md §10.2): each is a ledger attribute per
/// bucket ([`bucket_attribute`]) and a cells-table column of all buckets ([`buckets_column`]).
pub mod histogram {
    /// A verdict job's execution time.
    pub const DURATION: &str = "duration";
    /// A job's queue time.
    pub const QUEUE: &str = "queue";
    /// Queue plus execution time, for jobs with both.
    pub const END_TO_END: &str = "e2e";
}

/// The ledger attribute holding bucket `bucket` of the histogram named `histogram`
/// (e.g. `e2e_b07`).
pub fn bucket_attribute(histogram: &str, bucket: usize) -> String {
    format!("{histogram}_b{bucket:02}")
}

/// The cells table's `Array(Int64)` column holding every bucket of the histogram named
/// `histogram` (e.g. `e2e_buckets`).
pub fn buckets_column(histogram: &str) -> String {
    format!("{histogram}_buckets")
}

/// Attributes of the ledger's items. Every item has [`attr::PK`] (what it is: `run#…`,
/// `cell#…` or `repo#…`) and [`attr::VERSION`].
pub mod attr {
    /// The hash key: the item's kind and identity.
    pub const PK: &str = "pk";
    /// Bumped by every change; writes are conditional on it.
    pub const VERSION: &str = "version";
    /// Run: its latest attempt's `run_attempt`, job key and job version.
    pub const RUN_ATTEMPT: &str = "run_attempt";
    pub const JOB_KEY: &str = "job_key";
    pub const JOB_VERSION: &str = "job_version";
    /// Run and cell: the hour (seconds since the epoch).
    pub const HOUR: &str = "hour";
    /// Run: every hour it has changed a cell in (a number set).
    pub const HOURS: &str = "hours";
    /// Run: the outcome counted (absent while the latest attempt runs).
    pub const OUTCOME: &str = "outcome";
    pub const DURATION_US: &str = "duration_us";
    pub const QUEUE_US: &str = "queue_us";
    /// Cell and repo: the names they belong to.
    pub const DOWNSTREAM_REPO: &str = "downstream_repo";
    pub const WORKFLOW_NAME: &str = "workflow_name";
    pub const JOB_NAME: &str = "job_name";
    /// Repo: the latest completion and the latest job's level with its rank.
    pub const LAST_COMPLETED_AT: &str = "last_completed_at";
    pub const LEVEL: &str = "level";
    pub const LEVEL_FIRST_SEEN_AT: &str = "level_first_seen_at";
    pub const LEVEL_JOB_KEY: &str = "level_job_key";
    pub const LEVEL_JOB_VERSION: &str = "level_job_version";
}

/// Columns of the cells table beside the key (`downstream_repo`, `hour`, `workflow_name`,
/// `job_name`) and `version`; a cell item of the ledger holds the same names.
pub mod column {
    pub const HOUR: &str = "hour";
    pub const COMPLETED: &str = "completed";
    pub const SUCCESSES: &str = "successes";
    pub const FAILURES: &str = "failures";
    pub const TIMED_OUT: &str = "timed_out";
    pub const CANCELLED: &str = "cancelled";
    pub const OTHER: &str = "other";
    pub const DURATION_SUM_US: &str = "duration_sum_us";
    pub const DURATIONS: &str = "durations";
    pub const QUEUE_SUM_US: &str = "queue_sum_us";
    pub const QUEUES: &str = "queues";
    /// The repos table.
    pub const LAST_COMPLETED_AT: &str = "last_completed_at";
    pub const LATEST_LEVEL: &str = "latest_level";
}
