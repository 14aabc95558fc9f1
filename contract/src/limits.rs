//! Hard caps on the values that identify something (the parts of the job key, URLs rendered as
//! links, counts): refused when over the cap, never cut, because a shortened identifier names a
//! different thing: two matrix legs whose job names share their first 512 bytes would silently
//! merge into one job record, and a cut URL is a broken link.

/// Largest test count accepted (more than 10^8 tests in one job is absurd).
pub const MAX_TEST_COUNT: u64 = 100_000_000;
/// `workflow.name` is part of the job key.
pub const MAX_WORKFLOW_NAME_BYTES: usize = 256;
/// `workflow.job_name` is part of the job key. Matrix job names such as
/// `linux-xpu / test (default, 1, 4, linux.idc.xpu)` stay far below.
pub const MAX_JOB_NAME_BYTES: usize = 512;
/// `delivery_id` is part of the job key (GitHub's are 36-byte UUIDs).
pub const MAX_DELIVERY_ID_BYTES: usize = 128;
/// `event_type` names an event kind, e.g. `pull_request`, `workflow_dispatch`.
pub const MAX_EVENT_TYPE_BYTES: usize = 64;
/// `check_run_id` and `run_id`: decimal digits of a u64.
pub const MAX_ID_DIGITS: usize = 20;
/// `url` and `artifact_url` are rendered as links; a cut link would point elsewhere.
pub const MAX_URL_BYTES: usize = 2_048;
/// A repository's `owner/name`: 39 + 1 + 100 bytes (GitHub's rules, see [`crate::RepoName`]).
pub const MAX_REPO_NAME_BYTES: usize = 140;

/// The longest job key: every part at its cap, and the four `/` separators.
pub const MAX_JOB_KEY_BYTES: usize = MAX_REPO_NAME_BYTES
    + MAX_DELIVERY_ID_BYTES
    + MAX_WORKFLOW_NAME_BYTES
    + MAX_JOB_NAME_BYTES
    + MAX_ID_DIGITS
    + 4;

// The job key is the DynamoDB table's partition key (at most 2,048 bytes).
const _: () = assert!(MAX_JOB_KEY_BYTES <= 2_048);
