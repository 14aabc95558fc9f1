//! How much of a callback is kept, and how over-long text is cut.
//!
//! Two kinds of bound live here:
//! - *cuts* ([`Limits`]): free text that only informs (failed-test messages, environment values)
//!   is shortened on a UTF-8 boundary and the cut is reported, never refused;
//! - *hard caps* (the `MAX_*` constants): values that identify something (the parts of the job
//!   key, URLs rendered as links, counts) are refused when over the cap, because a shortened
//!   identifier names a different thing: two matrix legs whose job names share their first 512
//!   bytes would silently merge into one job record, and a cut URL is a broken link.

/// Cuts applied to free text. `Limits::default()` is the contract's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `failed_tests` entries kept per callback; later entries are dropped (contract: 1,000).
    pub max_failed_tests: usize,
    /// Bytes kept of each failed test's `message` (contract: 1 KiB).
    pub max_message_bytes: usize,
    /// Bytes kept of each failed test's `stacktrace` (contract: 4 KiB).
    pub max_stacktrace_bytes: usize,
    /// Bytes kept of each failed test's `name` and `classname`. Pytest ids with long
    /// parametrizations run to a few hundred bytes; 512 keeps them readable in a table.
    pub max_test_name_bytes: usize,
    /// Entries kept of `environment`; it is a label set shown beside a job, not a dump.
    pub max_environment_entries: usize,
    /// Bytes kept of each string value of `environment`.
    pub max_environment_value_bytes: usize,
    /// Bytes kept of `workflow.schema_version` (only ever a short version string).
    pub max_schema_version_bytes: usize,
    /// Lines kept in `ValidatedCallback::truncations`, so a callback with 1,000 cut messages
    /// does not produce a response as big as what was cut; the last line counts the rest.
    pub max_truncation_notes: usize,
}

impl Limits {
    pub const CONTRACT: Limits = Limits {
        max_failed_tests: 1_000,
        max_message_bytes: 1_024,
        max_stacktrace_bytes: 4_096,
        max_test_name_bytes: 512,
        max_environment_entries: 64,
        max_environment_value_bytes: 512,
        max_schema_version_bytes: 32,
        max_truncation_notes: 100,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::CONTRACT
    }
}

/// Largest test count accepted (contract: more than 10^8 is absurd).
pub const MAX_TEST_COUNT: u64 = 100_000_000;
/// `workflow.name` is part of the job key: refused, not cut, when longer.
pub const MAX_WORKFLOW_NAME_BYTES: usize = 256;
/// `workflow.job_name` is part of the job key: refused, not cut, when longer. Matrix job names
/// such as `linux-xpu / test (default, 1, 4, linux.idc.xpu)` stay far below.
pub const MAX_JOB_NAME_BYTES: usize = 512;
/// `delivery_id` is part of the job key (GitHub's are 36-byte UUIDs).
pub const MAX_DELIVERY_ID_BYTES: usize = 128;
/// `event_type` names an event kind, e.g. `pull_request`, `workflow_dispatch`.
pub const MAX_EVENT_TYPE_BYTES: usize = 64;
/// `check_run_id` and `run_id`: decimal digits of a u64.
pub const MAX_ID_DIGITS: usize = 20;
/// `url` and `artifact_url` are rendered as links; a cut link would point elsewhere.
pub const MAX_URL_BYTES: usize = 2_048;
/// Keys of `environment`; refused when longer since a cut key could collide with another.
pub const MAX_ENVIRONMENT_KEY_BYTES: usize = 128;

// With the caps above a job key is at most 140 + 128 + 256 + 512 + 20 + 4 separators bytes,
// comfortably inside DynamoDB's 2,048-byte partition-key limit.
const _: () = assert!(
    140 + MAX_DELIVERY_ID_BYTES + MAX_WORKFLOW_NAME_BYTES + MAX_JOB_NAME_BYTES + MAX_ID_DIGITS + 4
        <= 2_048
);

/// The longest prefix of `s` that is at most `max_bytes` long and ends on a char boundary.
pub fn cut_at_char_boundary(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    // Index 0 is always a boundary, so this stops.
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_strings_are_untouched() {
        assert_eq!(cut_at_char_boundary("abc", 3), "abc");
        assert_eq!(cut_at_char_boundary("", 0), "");
    }

    #[test]
    fn cut_backs_off_to_the_start_of_a_multibyte_char() {
        // "é" is 2 bytes, "€" 3 and "🦀" 4: a cut inside any of them keeps none of it.
        assert_eq!(cut_at_char_boundary("aé", 2), "a");
        assert_eq!(cut_at_char_boundary("a€", 3), "a");
        assert_eq!(cut_at_char_boundary("a🦀", 4), "a");
        assert_eq!(cut_at_char_boundary("a🦀", 5), "a🦀");
        assert_eq!(cut_at_char_boundary("🦀", 0), "");
    }

    proptest! {
        #[test]
        fn cut_is_the_longest_fitting_prefix(s in any::<String>(), max in 0usize..64) {
            let cut = cut_at_char_boundary(&s, max);
            prop_assert!(cut.len() <= max);
            prop_assert!(s.starts_with(cut));
            if cut.len() < s.len() {
                // Taking one more char would exceed the limit.
                let next = s[cut.len()..].chars().next().map_or(0, char::len_utf8);
                prop_assert!(cut.len() + next > max);
            }
        }
    }
}
