//! How much of a callback is kept, and how over-long text is cut.
//!
//! Two kinds of bound live here:
//! - *cuts* ([`Limits`]): free text that only informs (failed-test messages, environment values)
//!   is shortened on a UTF-8 boundary and the cut is reported, never refused;
//! - *hard caps*: values that identify something are refused when over their cap
//!   ([`oot_contract::limits`], and [`MAX_ENVIRONMENT_KEY_BYTES`] here).

use oot_contract::limits::{
    json_char_len, MAX_STORED_ENVIRONMENT_BYTES, MAX_STORED_FAILED_TESTS_BYTES,
};

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
    /// (Their JSON text is bounded too, by `MAX_STORED_TRUNCATION_NOTES_BYTES`.)
    pub max_truncation_notes: usize,
    /// JSON text of the kept `failed_tests` as stored (escapes included): entries past it are
    /// dropped from the end, after their text was cut.
    pub max_stored_failed_tests_bytes: usize,
    /// Compact JSON text of the kept `environment` as stored (escapes included): string values
    /// are cut to fit, the longest first; entries whose keys alone do not fit are dropped.
    pub max_stored_environment_bytes: usize,
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
        max_stored_failed_tests_bytes: MAX_STORED_FAILED_TESTS_BYTES,
        max_stored_environment_bytes: MAX_STORED_ENVIRONMENT_BYTES,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::CONTRACT
    }
}

/// Keys of `environment`; refused when longer since a cut key could collide with another.
pub const MAX_ENVIRONMENT_KEY_BYTES: usize = 128;

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

/// The longest prefix of `s` whose text inside a JSON string literal (escapes included, quotes
/// not) is at most `max_escaped` bytes: how a value is cut to fit a stored budget.
pub fn cut_to_json_len(s: &str, max_escaped: usize) -> &str {
    let mut used = 0;
    for (at, c) in s.char_indices() {
        used += json_char_len(c);
        if used > max_escaped {
            return &s[..at];
        }
    }
    s
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
        fn json_cut_is_the_longest_prefix_fitting_when_escaped(s in any::<String>(), max in 0usize..64) {
            let cut = cut_to_json_len(&s, max);
            let escaped = oot_contract::limits::json_string_len(cut) - 2;
            prop_assert!(escaped <= max);
            prop_assert!(s.starts_with(cut));
            if let Some(next) = s[cut.len()..].chars().next() {
                prop_assert!(escaped + json_char_len(next) > max);
            }
        }

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
