//! The identity of a job: the parts of its key ([`DeliveryId`], [`WorkflowName`], [`JobName`],
//! [`NumericId`]), its [`RunAttempt`], and the key itself, [`JobKey`].

use crate::limits::{
    MAX_DELIVERY_ID_BYTES, MAX_ID_DIGITS, MAX_INDEXED_JOB_KEY_BYTES, MAX_JOB_KEY_BYTES,
    MAX_JOB_NAME_BYTES, MAX_WORKFLOW_NAME_BYTES,
};
use crate::text::{invalid, string_type};
use crate::{InvalidValue, RepoName};

/// The upstream webhook delivery id (GitHub's `X-GitHub-Delivery`, a UUID; the relay's own for
/// nightly/periodic runs). Part of the job key, so limited to 1-128 of `[A-Za-z0-9._:-]`: no
/// `/` (the key separator), no whitespace or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeliveryId(String);

impl DeliveryId {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.is_empty() || s.len() > MAX_DELIVERY_ID_BYTES {
            return invalid(format!("must be 1 to {MAX_DELIVERY_ID_BYTES} characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        {
            return invalid("may contain only ASCII letters, digits, `.`, `_`, `:` and `-`");
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_type!(DeliveryId);

/// Text that is part of the job key: not blank, no control characters (a newline in a key
/// breaks logs and tooling), at most `max` bytes. Refused rather than cut; see `limits`.
fn parse_key_text(s: &str, max: usize) -> Result<String, InvalidValue> {
    if s.trim().is_empty() {
        return invalid("must not be empty or blank");
    }
    if s.len() > max {
        return invalid(format!(
            "must be at most {max} bytes, got {} (it is part of the job key, so it is \
             refused rather than cut)",
            s.len()
        ));
    }
    if s.chars().any(char::is_control) {
        return invalid("must not contain control characters");
    }
    Ok(s.to_owned())
}

/// `workflow.name`, e.g. `xpu-ci`. Part of the job key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkflowName(String);

impl WorkflowName {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        parse_key_text(s, MAX_WORKFLOW_NAME_BYTES).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_type!(WorkflowName);

/// `workflow.job_name`, e.g. `linux-xpu / test (default, 1, 4)`: unique per matrix leg and
/// part of the job key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobName(String);

impl JobName {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        parse_key_text(s, MAX_JOB_NAME_BYTES).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_type!(JobName);

/// Parses a canonical positive decimal: digits only, no sign, no leading zero, not zero.
/// Leading zeros are refused rather than normalized because `"01"` and `"1"` would otherwise be
/// two spellings of one id in string-typed stores and keys; GitHub never sends them.
fn parse_positive_decimal(s: &str, max_digits: usize) -> Result<u64, InvalidValue> {
    if s.is_empty() {
        return invalid("must not be empty");
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return invalid(format!(
            "must be a positive integer written with digits only, got {s:?}"
        ));
    }
    if s == "0" {
        return invalid("must be positive, got \"0\"");
    }
    if s.starts_with('0') {
        return invalid(format!("must not have leading zeros, got {s:?}"));
    }
    if s.len() > max_digits {
        return invalid(format!("must be at most {max_digits} digits"));
    }
    s.parse::<u64>()
        .map_err(|_| InvalidValue::new(format!("is too large, got {s:?}")))
}

/// A GitHub numeric id sent as a string (`check_run_id`, `run_id`): a canonical positive
/// decimal that fits a u64. Kept as its string so the job key is exactly what was sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NumericId {
    text: String,
    value: u64,
}

impl NumericId {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let value = parse_positive_decimal(s, MAX_ID_DIGITS)?;
        Ok(Self {
            text: s.to_owned(),
            value,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn get(&self) -> u64 {
        self.value
    }
}
string_type!(NumericId);

/// `workflow.run_attempt`: a string holding a positive integer (1, 2, ...) that fits a u32.
/// `"0"`, `"-1"`, `"+1"`, `" 1"`, `"1.0"`, `"01"` and overflowing values are refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunAttempt {
    text: String,
    value: u32,
}

impl RunAttempt {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let value = parse_positive_decimal(s, 10)?;
        let value = u32::try_from(value).map_err(|_| {
            InvalidValue::new(format!("is too large (max {}), got {s:?}", u32::MAX))
        })?;
        Ok(Self {
            text: s.to_owned(),
            value,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn get(&self) -> u32 {
        self.value
    }
}
string_type!(RunAttempt);

/// The identity of one job record:
/// `{verified_repo}/{delivery_id}/{workflow.name}/{workflow.job_name}/{check_run_id}`, the
/// reference's `dynamoKey`, byte for byte. Built only from validated parts. It cannot be split
/// back into parts (workflow and job names may contain `/`), which nothing needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey(String);

impl JobKey {
    pub fn new(
        verified_repo: &RepoName,
        delivery_id: &DeliveryId,
        workflow_name: &WorkflowName,
        job_name: &JobName,
        check_run_id: &NumericId,
    ) -> Self {
        // `join` rather than `format!`: it sizes the string exactly up front and skips the
        // formatting machinery, on a path taken once per accepted request.
        let parts = [
            verified_repo.as_str(),
            delivery_id.as_str(),
            workflow_name.as_str(),
            job_name.as_str(),
            check_run_id.as_str(),
        ];
        Self(parts.join("/"))
    }

    /// Refuses a key longer than [`MAX_INDEXED_JOB_KEY_BYTES`]: every part can be within its
    /// own cap while the whole is over what DynamoDB allows for the indexes' sort key, and a
    /// write of it would fail in the projector for ever. Ingest calls this for every callback;
    /// the key is refused, never cut (a cut key names another job).
    pub fn check_indexable(&self) -> Result<(), InvalidValue> {
        if self.0.len() > MAX_INDEXED_JOB_KEY_BYTES {
            return invalid(format!(
                "makes the job key (verified_repo/delivery_id/workflow.name/workflow.job_name/\
                 check_run_id) {} bytes; at most {MAX_INDEXED_JOB_KEY_BYTES} are allowed \
                 because the key is the sort key of the DynamoDB indexes; it is refused \
                 rather than cut: shorten this part",
                self.0.len()
            ));
        }
        Ok(())
    }

    /// A key read back from a store or the event log: well-formed (not blank, at most
    /// [`MAX_JOB_KEY_BYTES`], five `/`-separated parts at least, no control characters), which
    /// is all that can be checked without the parts it was built from.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.trim().is_empty() {
            return invalid("a job key must not be blank");
        }
        if s.len() > MAX_JOB_KEY_BYTES {
            return invalid(format!(
                "a job key is at most {MAX_JOB_KEY_BYTES} bytes, got {}",
                s.len()
            ));
        }
        if s.matches('/').count() < 5 {
            return invalid(format!(
                "a job key is `owner/name/delivery/workflow/job/check_run`, got {s:?}"
            ));
        }
        if s.chars().any(char::is_control) {
            return invalid("a job key must not contain control characters");
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_type!(JobKey);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    #[test]
    fn run_attempt_accepts_only_canonical_positive_integers() {
        assert_eq!(RunAttempt::parse("1").expect("1").get(), 1);
        assert_eq!(
            RunAttempt::parse("4294967295").expect("max").get(),
            u32::MAX
        );
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "01",
            " 1",
            "1 ",
            "1.0",
            "1e3",
            "one",
            "4294967296",
            "99999999999999999999999",
            "١",
        ] {
            assert!(RunAttempt::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn numeric_ids_fit_u64() {
        assert_eq!(
            NumericId::parse("28374650001").expect("id").get(),
            28374650001
        );
        assert!(NumericId::parse("18446744073709551615").is_ok());
        assert!(NumericId::parse("18446744073709551616").is_err());
        assert!(NumericId::parse("abc").is_err());
        assert!(NumericId::parse("0").is_err());
    }

    #[test]
    fn key_text_is_refused_not_cut() {
        assert!(JobName::parse(&"j".repeat(MAX_JOB_NAME_BYTES)).is_ok());
        assert!(JobName::parse(&"j".repeat(MAX_JOB_NAME_BYTES + 1)).is_err());
        assert!(WorkflowName::parse(&"w".repeat(MAX_WORKFLOW_NAME_BYTES + 1)).is_err());
        assert!(JobName::parse("").is_err());
        assert!(JobName::parse("   ").is_err());
        assert!(JobName::parse("a\nb").is_err());
        assert!(JobName::parse("linux / test (default, 1, 4)").is_ok());
    }

    #[test]
    fn job_keys_join_their_parts_and_read_back() {
        let key = JobKey::new(
            &RepoName::parse("intel/torch-xpu-ops").expect("repo"),
            &DeliveryId::parse("d-1").expect("delivery"),
            &WorkflowName::parse("xpu-ci").expect("workflow"),
            &JobName::parse("linux / test (default, 1, 4)").expect("job"),
            &NumericId::parse("42").expect("id"),
        );
        assert_eq!(
            key.as_str(),
            "intel/torch-xpu-ops/d-1/xpu-ci/linux / test (default, 1, 4)/42"
        );
        assert_eq!(JobKey::parse(key.as_str()), Ok(key.clone()));
        let json = serde_json::to_string(&key).expect("serialize");
        assert_eq!(
            serde_json::from_str::<JobKey>(&json).expect("deserialize"),
            key
        );
        for bad in ["", "  ", "a/b/c", "a/b/c/d/e\n/f"] {
            assert!(JobKey::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(JobKey::parse(&format!("a/b/c/d/e/{}", "x".repeat(MAX_JOB_KEY_BYTES))).is_err());
    }

    #[test]
    fn keys_over_the_index_limit_are_refused() {
        let key = |job_name_bytes: usize, workflow_bytes: usize| {
            JobKey::new(
                &RepoName::parse(&format!("{}/{}", "o".repeat(39), "n".repeat(100))).expect("repo"),
                &DeliveryId::parse(&"d".repeat(MAX_DELIVERY_ID_BYTES)).expect("delivery"),
                &WorkflowName::parse(&"w".repeat(workflow_bytes)).expect("workflow"),
                &JobName::parse(&"j".repeat(job_name_bytes)).expect("job"),
                &NumericId::parse("18446744073709551615").expect("id"),
            )
        };
        // 140 + 128 + 256 + 20 + 4 separators = 548 bytes besides the job name.
        let at_limit = key(MAX_INDEXED_JOB_KEY_BYTES - 548, MAX_WORKFLOW_NAME_BYTES);
        assert_eq!(at_limit.as_str().len(), MAX_INDEXED_JOB_KEY_BYTES);
        assert!(at_limit.check_indexable().is_ok());
        let over = key(MAX_JOB_NAME_BYTES, MAX_WORKFLOW_NAME_BYTES);
        assert!(over.as_str().len() > MAX_INDEXED_JOB_KEY_BYTES);
        let message = over
            .check_indexable()
            .expect_err("over the limit")
            .message()
            .to_owned();
        assert!(
            message.contains("1024") && message.contains("sort key"),
            "{message}"
        );
    }

    proptest! {
        #[test]
        fn run_attempt_round_trips_every_positive_u32(n in 1u32..) {
            let parsed = RunAttempt::parse(&n.to_string()).expect("canonical form");
            prop_assert_eq!(parsed.get(), n);
            prop_assert_eq!(parsed.as_str(), n.to_string());
            let padded = format!("0{n}");
            prop_assert!(RunAttempt::parse(&padded).is_err());
        }

        #[test]
        fn id_parse_never_panics(s in any::<String>()) {
            let _ = RunAttempt::parse(&s);
            let _ = NumericId::parse(&s);
            let _ = JobKey::parse(&s);
        }
    }
}
