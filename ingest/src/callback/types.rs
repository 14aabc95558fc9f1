//! Domain types of a relay callback. Each is built only through `parse` (or `TryFrom`), and
//! fields are private, so holding one means the value passed its rule; code downstream of
//! validation never re-checks.

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{OffsetDateTime, UtcOffset};
use url::Url;

use super::error::InvalidValue;
use super::limits::{
    MAX_DELIVERY_ID_BYTES, MAX_EVENT_TYPE_BYTES, MAX_ID_DIGITS, MAX_JOB_NAME_BYTES, MAX_TEST_COUNT,
    MAX_URL_BYTES, MAX_WORKFLOW_NAME_BYTES,
};

fn invalid<T>(message: impl Into<String>) -> Result<T, InvalidValue> {
    Err(InvalidValue::new(message))
}

/// Implements `TryFrom<&str>`, `TryFrom<String>`, `AsRef<str>` and `Display` for a type with
/// `parse(&str)` and `as_str()`.
macro_rules! string_type {
    ($t:ty) => {
        impl TryFrom<&str> for $t {
            type Error = InvalidValue;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $t {
            type Error = InvalidValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A GitHub repository `owner/name`, with GitHub's character rules: the owner is 1-39 ASCII
/// letters, digits or single hyphens, not starting or ending with a hyphen; the name is 1-100
/// of `[A-Za-z0-9._-]` and not `.` or `..`. Case is kept as sent: the relay passes the OIDC
/// claim's canonical spelling, and the job key must match HUD's byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoName {
    full: String,
    slash: usize,
}

impl RepoName {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let Some((owner, name)) = s.split_once('/') else {
            return invalid(format!("expected `owner/name`, got {s:?}"));
        };
        if owner.is_empty() || owner.len() > 39 {
            return invalid("owner must be 1 to 39 characters");
        }
        if !owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return invalid("owner may contain only ASCII letters, digits and hyphens");
        }
        if owner.starts_with('-') || owner.ends_with('-') || owner.contains("--") {
            return invalid("owner may not start or end with a hyphen or contain `--`");
        }
        if name.is_empty() || name.len() > 100 {
            return invalid("repository name must be 1 to 100 characters");
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return invalid(
                "repository name may contain only ASCII letters, digits, `.`, `_` and `-` \
                 (and exactly one `/` separates it from the owner)",
            );
        }
        if name == "." || name == ".." {
            return invalid("repository name may not be `.` or `..`");
        }
        Ok(Self {
            full: s.to_owned(),
            slash: owner.len(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    pub fn owner(&self) -> &str {
        &self.full[..self.slash]
    }

    pub fn name(&self) -> &str {
        &self.full[self.slash + 1..]
    }
}
string_type!(RepoName);

/// Generates a closed string enum with `parse`, `as_str` and the list of accepted spellings.
macro_rules! string_enum {
    ($(#[$meta:meta])* $t:ident, $what:literal, { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $t {
            $($variant),+
        }

        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$variant),+];

            pub fn parse(s: &str) -> Result<Self, InvalidValue> {
                match s {
                    $($s => Ok($t::$variant),)+
                    _ => invalid(format!(
                        "{} must be one of {}, got {:?}",
                        $what,
                        [$(concat!("\"", $s, "\"")),+].join(", "),
                        s
                    )),
                }
            }

            pub fn as_str(&self) -> &'static str {
                match self {
                    $($t::$variant => $s),+
                }
            }
        }
        string_type!($t);
    };
}

string_enum!(
    /// The downstream repo's level on the relay allowlist.
    RepoLevel, "level", { L1 => "L1", L2 => "L2", L3 => "L3", L4 => "L4" }
);

string_enum!(
    /// Which of a job's two callbacks this is.
    Status, "status", { InProgress => "in_progress", Completed => "completed" }
);

string_enum!(
    /// GitHub's check-run conclusions.
    Conclusion, "conclusion", {
        Success => "success",
        Failure => "failure",
        Cancelled => "cancelled",
        TimedOut => "timed_out",
        Skipped => "skipped",
        Neutral => "neutral",
        ActionRequired => "action_required",
        Stale => "stale",
    }
);

/// What triggered the downstream run. An open set (`pull_request`, `push`, `nightly`,
/// `periodic`, and whatever the relay adds later), so unknown kinds are accepted when they look
/// like an event name: 1-64 of `[A-Za-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventType(String);

/// The event kinds that change which upstream identity fields are required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    PullRequest,
    Push,
    Nightly,
    Periodic,
    Other,
}

impl EventType {
    pub const DEFAULT: &'static str = "pull_request";

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.is_empty() || s.len() > MAX_EVENT_TYPE_BYTES {
            return invalid(format!("must be 1 to {MAX_EVENT_TYPE_BYTES} characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return invalid("may contain only ASCII letters, digits, `_`, `.` and `-`");
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> EventKind {
        match self.0.as_str() {
            "pull_request" => EventKind::PullRequest,
            "push" => EventKind::Push,
            "nightly" => EventKind::Nightly,
            "periodic" => EventKind::Periodic,
            _ => EventKind::Other,
        }
    }
}

impl Default for EventType {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}
string_type!(EventType);

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

/// An absolute `https://` URL with a host and no user/password part: these are rendered as
/// links, and `https://github.com@evil.example/` style credentials exist only to mislead.
/// Holds the `url` crate's normalized form (lower-case scheme and host, percent-encoding).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpsUrl(Url);

impl HttpsUrl {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.len() > MAX_URL_BYTES {
            return invalid(format!("must be at most {MAX_URL_BYTES} bytes"));
        }
        // The url crate forgives `https:host/path` and surrounding whitespace; the contract asks
        // for an absolute `https://` URL, so the spelling is checked first.
        let has_prefix = s
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"));
        if !has_prefix {
            return invalid(format!("must be an absolute https:// URL, got {s:?}"));
        }
        // WHATWG parsing also turns `https:///host/x` into `https://host/x`; an empty authority
        // in what was sent is a broken link, whatever a browser would guess.
        if s.get(8..)
            .unwrap_or_default()
            .starts_with(['/', '\\', '?', '#'])
        {
            return invalid("must have a host");
        }
        let url = Url::parse(s).map_err(|e| InvalidValue::new(format!("is not a URL: {e}")))?;
        if url.scheme() != "https" {
            return invalid("must use the https scheme");
        }
        if url.host_str().is_none_or(str::is_empty) {
            return invalid("must have a host");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return invalid("must not contain a user name or password");
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }
}
string_type!(HttpsUrl);

/// An RFC 3339 instant, held in UTC. Limited to 1970-01-01 .. 2100-01-01 because the
/// ClickHouse projection stores `DateTime` (unsigned 32-bit seconds): refusing here beats an
/// event the projector can never write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    const MIN: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;
    const MAX_EXCLUSIVE: OffsetDateTime = datetime!(2100-01-01 0:00 UTC);

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
            InvalidValue::new(format!(
                "must be an RFC 3339 timestamp such as \"2026-04-28T10:15:30Z\", got {s:?} ({e})"
            ))
        })?;
        Self::from_datetime(t)
    }

    pub fn from_datetime(t: OffsetDateTime) -> Result<Self, InvalidValue> {
        let t = t.to_offset(UtcOffset::UTC);
        if t < Self::MIN || t >= Self::MAX_EXCLUSIVE {
            return invalid("must be between 1970-01-01T00:00:00Z and 2100-01-01T00:00:00Z");
        }
        Ok(Self(t))
    }

    pub fn get(&self) -> OffsetDateTime {
        self.0
    }

    pub fn unix_timestamp(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// RFC 3339 in UTC, e.g. `2026-04-28T10:15:30Z`.
    pub fn to_rfc3339(&self) -> String {
        // Cannot fail for a UTC instant in our year range; an empty string would be visible
        // rather than a panic in a request handler.
        self.0.format(&Rfc3339).unwrap_or_default()
    }
}

impl TryFrom<&str> for Timestamp {
    type Error = InvalidValue;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// `workflow.test_results`. Each count is 0..=10^8. `total` is kept only when sent and is not
/// checked against the sum: frameworks count errors, xfails and reruns differently, and a
/// mismatch is not worth refusing a result over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TestCounts {
    passed: u64,
    failed: u64,
    skipped: u64,
    total: Option<u64>,
}

impl TestCounts {
    pub fn new(
        passed: u64,
        failed: u64,
        skipped: u64,
        total: Option<u64>,
    ) -> Result<Self, InvalidValue> {
        let counts = [passed, failed, skipped, total.unwrap_or(0)];
        if counts.iter().any(|&c| c > MAX_TEST_COUNT) {
            return invalid(format!("each count must be at most {MAX_TEST_COUNT}"));
        }
        Ok(Self {
            passed,
            failed,
            skipped,
            total,
        })
    }

    pub fn passed(&self) -> u64 {
        self.passed
    }

    pub fn failed(&self) -> u64 {
        self.failed
    }

    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// `total` as sent, if sent.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// `total` as sent, else passed + failed + skipped (cannot overflow: each is <= 10^8).
    pub fn total_or_sum(&self) -> u64 {
        self.total
            .unwrap_or(self.passed + self.failed + self.skipped)
    }
}

/// An upstream PR number: positive and at most 2^31 - 1, so it fits every column type a
/// projection might use (Avro int, ClickHouse UInt32/Int32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrNumber(u32);

impl PrNumber {
    pub const MAX: u64 = i32::MAX as u64;

    pub fn new(n: u64) -> Result<Self, InvalidValue> {
        if n == 0 {
            return invalid("must be a positive integer");
        }
        if n > Self::MAX {
            return invalid(format!("must be at most {}", Self::MAX));
        }
        u32::try_from(n)
            .map(Self)
            .map_err(|_| InvalidValue::new("is too large"))
    }

    pub fn get(&self) -> u32 {
        self.0
    }
}

impl fmt::Display for PrNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A git commit id: 40 (SHA-1) or 64 (SHA-256) hex digits, stored lower-case so the same
/// commit always compares equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommitSha(String);

impl CommitSha {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if !(s.len() == 40 || s.len() == 64) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return invalid(format!(
                "must be a commit id of 40 or 64 hex digits, got {s:?}"
            ));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_type!(CommitSha);

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

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for JobKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A duration in seconds (`queue_time`, `execution_time`, `duration_s`): finite and >= 0.
pub fn parse_seconds(v: f64) -> Result<f64, InvalidValue> {
    if !v.is_finite() {
        return invalid("must be a finite number of seconds");
    }
    if v < 0.0 {
        return invalid(format!("must not be negative, got {v}"));
    }
    // -0.0 passes `< 0.0`; store it as 0 so it never renders as "-0".
    Ok(v.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn repo_names_follow_github_rules() {
        for ok in [
            "intel/torch-xpu-ops",
            "pytorch/pytorch",
            "a/b",
            "A-1/x.y_z-",
            "o/.github",
            "o/...",
        ] {
            assert!(RepoName::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "",
            "pytorch",
            "/pytorch",
            "pytorch/",
            "-x/y",
            "x-/y",
            "x--y/z",
            "x_y/z",
            "a/b/c",
            "a/.",
            "a/..",
            "a/b c",
            "a/ü",
            &format!("{}/x", "a".repeat(40)),
            &format!("x/{}", "a".repeat(101)),
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let r = RepoName::parse(&format!("{}/{}", "a".repeat(39), "b".repeat(100)))
            .expect("longest valid repo name");
        assert_eq!(r.owner().len(), 39);
        assert_eq!(r.name().len(), 100);
    }

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
    fn https_urls_must_be_absolute_https_with_a_host() {
        let u = HttpsUrl::parse("HTTPS://GitHub.com/a/b?x=1#f").expect("valid");
        assert_eq!(u.as_str(), "https://github.com/a/b?x=1#f");
        for bad in [
            "",
            "http://github.com/",
            "ftp://github.com/",
            "javascript:alert(1)",
            "//github.com/x",
            "/relative/path",
            "https:github.com/x",
            "https://",
            "https:///path",
            "https:////host/path",
            "https://\\host/path",
            "https://?q",
            "https://user:pw@github.com/",
            "https://github.com@evil.example/",
            " https://github.com/",
            "https://exa mple.com/",
        ] {
            assert!(HttpsUrl::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(HttpsUrl::parse(&format!("https://a.b/{}", "x".repeat(MAX_URL_BYTES))).is_err());
    }

    #[test]
    fn timestamps_are_rfc3339_and_normalized_to_utc() {
        let t = Timestamp::parse("2026-04-28T12:15:30+02:00").expect("offset form");
        assert_eq!(t.to_rfc3339(), "2026-04-28T10:15:30Z");
        assert_eq!(t.get().offset(), UtcOffset::UTC);
        assert!(Timestamp::parse("2026-04-28T10:15:30.123456Z").is_ok());
        for bad in [
            "",
            "2026-04-28",
            "2026-04-28 10:15:30",
            "2026-04-28T10:15:30",
            "2026-13-01T00:00:00Z",
            "1714300000",
            "1969-12-31T23:59:59Z",
            "2100-01-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn enums_round_trip_and_refuse_other_spellings() {
        for c in Conclusion::ALL {
            assert_eq!(Conclusion::parse(c.as_str()), Ok(*c));
        }
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Ok(*s));
        }
        for l in RepoLevel::ALL {
            assert_eq!(RepoLevel::parse(l.as_str()), Ok(*l));
        }
        assert!(Conclusion::parse("SUCCESS").is_err());
        assert!(Status::parse("queued").is_err());
        assert!(RepoLevel::parse("L5").is_err());
        assert!(RepoLevel::parse("l1").is_err());
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
    fn commit_shas_are_lowercased() {
        let sha = CommitSha::parse("3F2A9C1E5B7D4E8F9A0B1C2D3E4F5A6B7C8D9E0F").expect("sha");
        assert_eq!(sha.as_str(), "3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b7c8d9e0f");
        assert!(CommitSha::parse(&"a".repeat(64)).is_ok());
        assert!(CommitSha::parse("abc123").is_err());
        assert!(CommitSha::parse(&"g".repeat(40)).is_err());
    }

    #[test]
    fn seconds_must_be_finite_and_non_negative() {
        assert_eq!(parse_seconds(0.0), Ok(0.0));
        assert!(parse_seconds(-0.0).is_ok_and(|v| v.is_sign_positive()));
        assert!(parse_seconds(-1.0).is_err());
        assert!(parse_seconds(f64::NAN).is_err());
        assert!(parse_seconds(f64::INFINITY).is_err());
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
        fn generated_repo_names_are_accepted(
            owner in "[A-Za-z0-9]([A-Za-z0-9]|-[A-Za-z0-9]){0,18}",
            name in "[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}",
        ) {
            let full = format!("{owner}/{name}");
            let r = RepoName::parse(&full).expect("generated valid name");
            prop_assert_eq!(r.owner(), owner.as_str());
            prop_assert_eq!(r.name(), name.as_str());
        }

        #[test]
        fn repo_parse_never_panics(s in any::<String>()) {
            let _ = RepoName::parse(&s);
            let _ = HttpsUrl::parse(&s);
            let _ = Timestamp::parse(&s);
            let _ = RunAttempt::parse(&s);
        }
    }
}
