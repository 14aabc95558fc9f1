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

// The job key is the DynamoDB table's partition key (at most 2,048 bytes). It is also the sort
// key of both secondary indexes, where DynamoDB allows at most 1,024 bytes: a key longer than
// that is refused at ingest ([`MAX_INDEXED_JOB_KEY_BYTES`]) rather than failing in the projector.
const _: () = assert!(MAX_JOB_KEY_BYTES <= 2_048);

/// DynamoDB's limit on a sort key, which the job key is in both secondary indexes.
pub const MAX_INDEXED_JOB_KEY_BYTES: usize = 1_024;

/// DynamoDB's limit on one item (attribute names and values, UTF-8).
pub const DYNAMODB_ITEM_BYTES: usize = 400 * 1_024;

/// The failed tests of one job as stored: their JSON text (as `serde_json` writes it, escapes
/// included). A job item holds the list twice (in its merge state and in `failed_tests_json`),
/// so two of these, two [`MAX_STORED_ENVIRONMENT_BYTES`], the notes and the other attributes
/// stay under [`DYNAMODB_ITEM_BYTES`]. Ingest cuts a callback's list to fit.
pub const MAX_STORED_FAILED_TESTS_BYTES: usize = 140_000;

/// The `environment` object of one job as stored: its compact JSON text, escapes included.
pub const MAX_STORED_ENVIRONMENT_BYTES: usize = 16_384;

/// The notes of what ingest cut, as stored (JSON text of the list).
pub const MAX_STORED_TRUNCATION_NOTES_BYTES: usize = 16_384;

/// How far after ingest received it a callback's `started_at` or `completed_at` may be, in
/// seconds (one day: clocks are wrong by minutes, not days). A far-future `completed_at` would
/// make a repo look fresh for years and keep its rows from expiring.
pub const MAX_SECONDS_AFTER_RECEIPT: i64 = 24 * 3_600;

/// Problems listed in a 400 answer; the rest are counted (`problems_total`), so a body with a
/// million bad entries gets a small answer and a bounded log line.
pub const MAX_PROBLEMS_LISTED: usize = 50;

/// Bytes kept of a problem's `field` and of its `message` in a 400 answer: both can quote what
/// was sent (an over-long key, a malformed timestamp), which can be as big as the body.
pub const MAX_PROBLEM_TEXT_BYTES: usize = 256;

/// The longest duration accepted, in seconds (`queue_time`, `execution_time`, a test's
/// `duration_s`): ten years. More is a broken reporter, and DynamoDB numbers have a bounded
/// magnitude.
pub const MAX_SECONDS: f64 = 10.0 * 365.25 * 24.0 * 3_600.0;

// Two copies of each bounded part, plus room for the keys, the merge state's ranks (a digest per
// field) and the short attributes, fit one item. The environment is held as JSON text inside the
// merge state's JSON, where its escapes are escaped again (up to twice its size there), so it
// counts three times.
const _: () = assert!(
    2 * MAX_STORED_FAILED_TESTS_BYTES
        + 3 * MAX_STORED_ENVIRONMENT_BYTES
        + 2 * MAX_STORED_TRUNCATION_NOTES_BYTES
        + 32 * 1_024
        <= DYNAMODB_ITEM_BYTES
);

/// Bytes of `s` written as a JSON string literal (quotes included) by `serde_json`'s compact
/// writer: `"` and `\\` take 2 bytes, `\n`-style controls 2, other controls below U+0020 six
/// (`\u0001`), everything else its UTF-8 length. What a stored budget counts: a value of
/// control characters grows sixfold when stored.
pub fn json_string_len(s: &str) -> usize {
    2 + s.chars().map(json_char_len).sum::<usize>()
}

/// Bytes of one char inside a JSON string literal (see [`json_string_len`]).
pub fn json_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{08}' | '\u{0c}' => 2,
        c if u32::from(c) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn json_string_len_is_what_serde_json_writes(s in any::<String>()) {
            let written = serde_json::to_string(&s).expect("strings serialize");
            prop_assert_eq!(json_string_len(&s), written.len());
        }
    }

    #[test]
    fn control_characters_grow_sixfold() {
        assert_eq!(json_string_len("\u{01}\u{01}"), 2 + 12);
        assert_eq!(json_string_len("a\"\n"), 2 + 1 + 2 + 2);
        assert_eq!(json_string_len("é"), 2 + 2);
    }
}
