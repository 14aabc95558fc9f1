//! The completed-jobs table in ClickHouse (`oot_workflow_job`): its columns, by name. The DDL
//! (`platform/sql/create_oot_workflow_job.sql`), the projector's row and the query service's
//! reads all use these names; a test in each checks its side against [`COLUMNS`]. Beside it, the
//! failed-test table ([`failed_tests_table`], columns [`failed_test::COLUMNS`]).
//!
//! The names are HUD's, and where a column holds what a DynamoDB attribute holds it has the
//! attribute's name.

use crate::dynamo::attr;

/// The job key.
pub const DYNAMO_KEY: &str = attr::DYNAMO_KEY;
/// The DynamoDB item's version after the write that produced the row; `ReplacingMergeTree`
/// keeps the highest.
pub const VERSION: &str = attr::VERSION;
/// Content digest of the callback that decided the outcome.
pub const SOURCE_DIGEST: &str = "source_digest";
pub const FIRST_SEEN_AT: &str = attr::FIRST_SEEN_AT;
pub const PROJECTED_AT: &str = "projected_at";
pub const STATUS: &str = attr::STATUS;
pub const DOWNSTREAM_REPO: &str = attr::DOWNSTREAM_REPO;
pub const DOWNSTREAM_REPO_LEVEL: &str = attr::DOWNSTREAM_REPO_LEVEL;
pub const UPSTREAM_REPO: &str = attr::UPSTREAM_REPO;
pub const PR_NUMBER: &str = attr::PR_NUMBER;
pub const PYTORCH_HEAD_SHA: &str = attr::PYTORCH_HEAD_SHA;
pub const DELIVERY_ID: &str = attr::DELIVERY_ID;
pub const EVENT_TYPE: &str = attr::EVENT_TYPE;
pub const WORKFLOW_RUN_URL: &str = attr::WORKFLOW_RUN_URL;
pub const WORKFLOW_NAME: &str = attr::WORKFLOW_NAME;
pub const JOB_NAME: &str = attr::JOB_NAME;
pub const CHECK_RUN_ID: &str = attr::CHECK_RUN_ID;
pub const RUN_ID: &str = attr::RUN_ID;
pub const RUN_ATTEMPT: &str = attr::RUN_ATTEMPT;
pub const CONCLUSION: &str = attr::CONCLUSION;
pub const QUEUE_TIME: &str = attr::QUEUE_TIME;
pub const EXECUTION_TIME: &str = attr::EXECUTION_TIME;
pub const STARTED_AT: &str = attr::STARTED_AT;
pub const COMPLETED_AT: &str = attr::COMPLETED_AT;
pub const TOTAL_TESTS: &str = attr::TOTAL_TESTS;
pub const PASSED_TESTS: &str = attr::PASSED_TESTS;
pub const FAILED_TESTS: &str = attr::FAILED_TESTS;
pub const SKIPPED_TESTS: &str = attr::SKIPPED_TESTS;
pub const FAILED_TESTS_JSON: &str = attr::FAILED_TESTS_JSON;
pub const ARTIFACT_URL: &str = attr::ARTIFACT_URL;
pub const ENVIRONMENT: &str = attr::ENVIRONMENT;

/// Every column of the table, in the DDL's order.
pub const COLUMNS: [&str; 31] = [
    DYNAMO_KEY,
    VERSION,
    SOURCE_DIGEST,
    FIRST_SEEN_AT,
    PROJECTED_AT,
    STATUS,
    DOWNSTREAM_REPO,
    DOWNSTREAM_REPO_LEVEL,
    UPSTREAM_REPO,
    PR_NUMBER,
    PYTORCH_HEAD_SHA,
    DELIVERY_ID,
    EVENT_TYPE,
    WORKFLOW_RUN_URL,
    WORKFLOW_NAME,
    JOB_NAME,
    CHECK_RUN_ID,
    RUN_ID,
    RUN_ATTEMPT,
    CONCLUSION,
    QUEUE_TIME,
    EXECUTION_TIME,
    STARTED_AT,
    COMPLETED_AT,
    TOTAL_TESTS,
    PASSED_TESTS,
    FAILED_TESTS,
    SKIPPED_TESTS,
    FAILED_TESTS_JSON,
    ARTIFACT_URL,
    ENVIRONMENT,
];

/// How many entries [`FAILED_TESTS_JSON`] holds, computed by ClickHouse from it (a
/// `MATERIALIZED` column: never written, so not in [`COLUMNS`]), so a reader that needs only the
/// count does not read the lists.
pub const FAILED_TESTS_LISTED: &str = "failed_tests_listed";

/// The columns ClickHouse computes, after [`COLUMNS`] in the DDL.
pub const MATERIALIZED_COLUMNS: [&str; 1] = [FAILED_TESTS_LISTED];

/// Whether `name` is a column of the table (for tests of each reader and writer).
pub fn is_column(name: &str) -> bool {
    COLUMNS.contains(&name) || MATERIALIZED_COLUMNS.contains(&name)
}

/// The failed-test table's name for the completed-jobs table `jobs_table`: one row per failed
/// test per job version (docs/contract.md §10.3).
pub fn failed_tests_table(jobs_table: &str) -> String {
    format!("{jobs_table}{FAILED_TESTS_SUFFIX}")
}

/// What [`failed_tests_table`] appends to the completed-jobs table's name.
pub const FAILED_TESTS_SUFFIX: &str = "_failed_tests";

/// The failed-test table's columns. The job's columns have the completed-jobs table's names;
/// the test's have the names of a `failed_tests_json` entry's keys.
pub mod failed_test {
    use super::{
        COMPLETED_AT, CONCLUSION, DOWNSTREAM_REPO, DYNAMO_KEY, EVENT_TYPE, FIRST_SEEN_AT, JOB_NAME,
        PR_NUMBER, PYTORCH_HEAD_SHA, RUN_ATTEMPT, RUN_ID, UPSTREAM_REPO, VERSION, WORKFLOW_NAME,
    };

    /// The test's class or module (`''` when the job sent none); with [`NAME`], the test.
    pub const CLASSNAME: &str = "classname";
    pub const NAME: &str = "name";
    /// The failure message as the job item holds it (`''` when none, or cut away to fit).
    pub const MESSAGE: &str = "message";
    /// 1 when the message was cut, by ingest or to fit the item.
    pub const MESSAGE_TRUNCATED: &str = "message_truncated";
    /// Seconds, when reported.
    pub const DURATION_S: &str = "duration_s";

    /// Every column of the table, in the DDL's order; the sort key's first
    /// (`downstream_repo, classname, name, first_seen_at, dynamoKey`).
    pub const COLUMNS: [&str; 19] = [
        DOWNSTREAM_REPO,
        CLASSNAME,
        NAME,
        FIRST_SEEN_AT,
        DYNAMO_KEY,
        VERSION,
        UPSTREAM_REPO,
        PR_NUMBER,
        PYTORCH_HEAD_SHA,
        EVENT_TYPE,
        WORKFLOW_NAME,
        JOB_NAME,
        RUN_ID,
        RUN_ATTEMPT,
        CONCLUSION,
        COMPLETED_AT,
        MESSAGE,
        MESSAGE_TRUNCATED,
        DURATION_S,
    ];
}

/// Identities stored as 64-bit hashes where a read table keeps only what it compares
/// (docs/contract.md §10.3, the failed tests on PRs): ClickHouse's `sipHash64` of a string
/// (SipHash-2-4, zero key), which the service computes the same to bind and to read back. A pair
/// of names is hashed as `{byte length of the first}:{first}{second}`, so no two pairs share a
/// string; in SQL, `sipHash64(concat(toString(length(a)), ':', a, b))`.
///
/// Two identities of one downstream repo sharing a hash would be counted as one: with 10^5
/// tests in a repo the chance is about 3 in 10^10.
pub mod identity {
    use std::hash::Hasher as _;

    use siphasher::sip::SipHasher24;

    /// `sipHash64(s)`.
    pub fn hash(s: &str) -> u64 {
        let mut hasher = SipHasher24::new_with_keys(0, 0);
        hasher.write(s.as_bytes());
        hasher.finish()
    }

    /// `sipHash64(concat(toString(length(first)), ':', first, second))`: a test
    /// (classname, name) or a job slot (workflow, job name).
    pub fn pair_hash(first: &str, second: &str) -> u64 {
        hash(&format!("{}:{first}{second}", first.len()))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Values ClickHouse 18.16 printed for `sipHash64('')`, `sipHash64('abc')` and the pair
        /// form of ('a.B', 'test_x') and of ('é', 'x') (`length` counts bytes); the e2e and chDB
        /// checks compare with the servers on stored rows.
        #[test]
        fn the_hash_is_clickhouses_siphash64() {
            assert_eq!(hash(""), 2_202_906_307_356_721_367);
            assert_eq!(hash("abc"), 4_596_069_200_710_135_518);
            assert_eq!(pair_hash("a.B", "test_x"), 18_128_224_976_332_171_776);
            assert_eq!(pair_hash("é", "x"), 5_072_917_233_327_431_556);
        }

        #[test]
        fn pairs_that_concatenate_alike_differ() {
            assert_ne!(pair_hash("ab", "c"), pair_hash("a", "bc"));
            assert_ne!(pair_hash("", "ab"), pair_hash("ab", ""));
        }
    }
}
