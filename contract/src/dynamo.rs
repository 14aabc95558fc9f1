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
    /// [`crate::UpstreamPr`] as `owner/name#number`; [`RUNNING_PR`]'s value while the job runs.
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
    /// [`DOWNSTREAM_REPO`]'s value, present only while the job's status is `in_progress`: the
    /// partition key of the sparse [`super::RUNNING_REPO_INDEX`].
    pub const RUNNING_REPO: &str = "running_repo";
    /// [`UPSTREAM_PR`]'s value, present only while the job's status is `in_progress` (and it has
    /// an upstream PR): the partition key of the sparse [`super::RUNNING_PR_INDEX`].
    pub const RUNNING_PR: &str = "running_pr";
    /// [`DOWNSTREAM_REPO`]'s value, present only while the job's status is `in_progress` and
    /// it is a nightly run ([`crate::is_nightly_run`]): the partition key of the sparse
    /// [`super::RUNNING_NIGHTLY_INDEX`].
    pub const RUNNING_NIGHTLY: &str = "running_nightly";
}

/// The running jobs of one downstream repo, and nothing else: partition key
/// [`attr::RUNNING_REPO`], sort key [`attr::DYNAMO_KEY`]. Sparse: an item is in it only while
/// its status is `in_progress`, so a query reads the repo's running jobs, never its history, and
/// a scan reads every running job of every repo. The backend view's running jobs; the summary's.
/// Projects [`RUNNING_VIEW_ATTRIBUTES`] only: a job item is ~4.5 KB with its merge state, the
/// attributes a view shows ~0.6 KB, and DynamoDB pages a query by the size of what the index
/// holds (1 MB), so one request returns ~7 times more running jobs, and each write of a running
/// job copies less into the index.
pub const RUNNING_REPO_INDEX: &str = "running_repo-view-index";
/// The running jobs of one upstream PR: partition key [`attr::RUNNING_PR`], sort key
/// [`attr::DYNAMO_KEY`]; sparse and projected like [`RUNNING_REPO_INDEX`]. The PR view's
/// running jobs.
pub const RUNNING_PR_INDEX: &str = "running_pr-view-index";
/// The running nightlies of one downstream repo: partition key [`attr::RUNNING_NIGHTLY`], sort
/// key [`attr::DYNAMO_KEY`]; sparse and projected like [`RUNNING_REPO_INDEX`]. The nightly
/// view's running jobs: a backend running hundreds of PR jobs has a few nightlies running, and
/// the view reads those only.
pub const RUNNING_NIGHTLY_INDEX: &str = "running_nightly-view-index";

/// The non-key attributes the running-jobs indexes hold (their projection is `INCLUDE` these):
/// what the views show of a running job. The keys ([`attr::DYNAMO_KEY`] and the index's
/// partition key) are always there.
pub const RUNNING_VIEW_ATTRIBUTES: [&str; 17] = [
    attr::STATUS,
    attr::DOWNSTREAM_REPO,
    attr::DOWNSTREAM_REPO_LEVEL,
    attr::UPSTREAM_REPO,
    attr::PR_NUMBER,
    attr::PYTORCH_HEAD_SHA,
    attr::DELIVERY_ID,
    attr::EVENT_TYPE,
    attr::WORKFLOW_RUN_URL,
    attr::WORKFLOW_NAME,
    attr::JOB_NAME,
    attr::CHECK_RUN_ID,
    attr::RUN_ID,
    attr::RUN_ATTEMPT,
    attr::QUEUE_TIME,
    attr::STARTED_AT,
    attr::FIRST_SEEN_AT,
];

/// Indexes of earlier versions of the table, which `migrate` deletes once their successors are
/// active: the running-jobs indexes as they were first made (projection `ALL`, the whole item
/// copied), and the per-PR and per-repo indexes of every job, which no view reads any more
/// (each held a full copy of every job written).
pub const RETIRED_INDEXES: [&str; 4] = [
    "running_repo-index",
    "running_pr-index",
    "upstream_pr-index",
    "downstream_repo-index",
];

/// Whether DynamoDB accepts `text` as the value of a number (`N`) attribute: a decimal with an
/// optional sign, fraction and exponent, at most 38 significant digits, and zero or a magnitude
/// from 1e-130 to below 1e126. (Its errors: "Attempting to store more than 38 significant
/// digits", "Number overflow", "Number underflow".) The writers keep their numbers inside this
/// (durations are rounded to the microsecond, counts are integers); tests check it.
pub fn is_number(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => match unsigned[at + 1..].parse::<i64>() {
            Ok(e) => (&unsigned[..at], e),
            Err(_) => return false,
        },
        None => (unsigned, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() && frac.is_empty() || !all_digits(int) || !all_digits(frac) {
        return false;
    }
    let digits: String = int.chars().chain(frac.chars()).collect();
    let Some(first) = digits.find(|c| c != '0') else {
        return true; // zero, however written
    };
    let last = digits.rfind(|c| c != '0').unwrap_or(first);
    if last - first + 1 > 38 {
        return false;
    }
    // The value is 0.d1d2... x 10^magnitude, with d1 the first non-zero digit.
    let Ok(int_len) = i64::try_from(int.len()) else {
        return false;
    };
    let Ok(first) = i64::try_from(first) else {
        return false;
    };
    let magnitude = int_len - first + exponent;
    // 1e-130 is 0.1 x 10^-129; anything below 1e126 is at most 0.99.. x 10^126.
    (-129..=126).contains(&magnitude)
}

#[cfg(test)]
mod tests {
    use super::is_number;

    #[test]
    fn dynamodb_numbers() {
        for ok in [
            "0",
            "-0",
            "0.0",
            "12.345",
            "1e-6",
            "0.000001",
            "315576000",
            "1E125",
            "9.9e125",
            "1e-130",
            "-1e-130",
            "12345678901234567890123456789012345678",
            "1234567890123456789012345678901234567800000",
        ] {
            assert!(is_number(ok), "{ok} should be a DynamoDB number");
        }
        for bad in [
            "",
            "-",
            ".",
            "1e200",
            "1e126",
            "1e-131",
            "abc",
            "1.2.3",
            "1e",
            "NaN",
            "inf",
            "123456789012345678901234567890123456789",
        ] {
            assert!(!is_number(bad), "{bad} should not be a DynamoDB number");
        }
        let tiny = format!("0.{}1", "0".repeat(199));
        assert!(!is_number(&tiny), "1e-200 written out");
    }
}
