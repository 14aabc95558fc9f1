//! The failure drill-down's test list, read from a job's `failed_tests_json` (written by the
//! projector: an array of `{name, classname, message, stacktrace, duration_s,
//! message_truncated, stacktrace_truncated}`).

use serde::{Deserialize, Serialize};

/// Failed tests listed per job: a job may report 1,000 with 5 KiB of text each, more than a
/// page should carry; the count of the rest is given instead.
pub const MAX_LISTED: usize = 100;

/// One failed test. Everything is downstream-supplied text: a renderer escapes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedTest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub classname: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub stacktrace: Option<String>,
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// The message or stack trace was cut (by ingest's limits).
    #[serde(default)]
    pub message_truncated: bool,
    #[serde(default)]
    pub stacktrace_truncated: bool,
}

/// The listed tests and how many more the job reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listed {
    pub tests: Vec<FailedTest>,
    pub omitted: u64,
}

/// The first [`MAX_LISTED`] tests of `json`; an unreadable list reads as empty (logged), so
/// one bad row cannot fail the view.
pub fn list(job_key: &str, json: &str) -> Listed {
    let tests: Vec<FailedTest> = match serde_json::from_str(json) {
        Ok(tests) => tests,
        Err(error) => {
            tracing::warn!(job_key, %error, "unreadable failed_tests_json");
            return Listed::default();
        }
    };
    let omitted = tests.len().saturating_sub(MAX_LISTED) as u64;
    Listed {
        tests: tests.into_iter().take(MAX_LISTED).collect(),
        omitted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_projectors_format() {
        let json = r#"[{"name":"test_a","classname":"T","message":"boom","stacktrace":null,
            "duration_s":1.5,"message_truncated":false,"stacktrace_truncated":true}]"#;
        let listed = list("k", json);
        assert_eq!(listed.omitted, 0);
        assert_eq!(listed.tests[0].name.as_deref(), Some("test_a"));
        assert_eq!(listed.tests[0].duration_s, Some(1.5));
        assert!(listed.tests[0].stacktrace_truncated);
    }

    #[test]
    fn long_lists_are_cut_and_counted() {
        let json = serde_json::to_string(
            &(0..MAX_LISTED + 7)
                .map(|i| serde_json::json!({"name": format!("t{i}")}))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let listed = list("k", &json);
        assert_eq!(listed.tests.len(), MAX_LISTED);
        assert_eq!(listed.omitted, 7);
    }

    #[test]
    fn unreadable_lists_are_empty() {
        assert_eq!(list("k", "not json"), Listed::default());
        assert_eq!(list("k", "[]"), Listed::default());
    }
}
