//! The upstream side of a job: what triggered it ([`EventType`]), the PR ([`PrNumber`],
//! [`UpstreamPr`]) and the commit ([`CommitSha`]) it tested.

use std::fmt;

use crate::limits::MAX_EVENT_TYPE_BYTES;
use crate::text::{invalid, string_type};
use crate::{InvalidValue, RepoName};

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

    /// The event types of upstream's scheduled runs on main: a job of one of these *without
    /// an upstream PR* is a nightly ([`is_nightly_run`]; docs/contract.md §12.17). Written once
    /// here: the projector keys the running nightlies' index by it, the stores filter by it, the
    /// triage rules read the series on main from it.
    pub const NIGHTLY_RUNS: [&'static str; 3] = ["nightly", "periodic", "schedule"];

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

/// Whether a job of `event_type`, with or without an upstream PR, is a nightly run: one of
/// [`EventType::NIGHTLY_RUNS`] and no PR (a PR number wins over the event type: the contract
/// keeps one sent with any event type).
pub fn is_nightly_run(event_type: &str, has_pr: bool) -> bool {
    !has_pr && EventType::NIGHTLY_RUNS.contains(&event_type)
}

impl Default for EventType {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}
string_type!(EventType);

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

impl std::str::FromStr for PrNumber {
    type Err = InvalidValue;
    /// Decimal digits only: `+1`, ` 1` and `1.0` are refused.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return invalid(format!("must be a positive integer, got {s:?}"));
        }
        let n = s
            .parse::<u64>()
            .map_err(|_| InvalidValue::new(format!("must be at most {}", Self::MAX)))?;
        Self::new(n)
    }
}

impl serde::Serialize for PrNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for PrNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(deserializer)?;
        Self::new(n).map_err(serde::de::Error::custom)
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

/// One upstream pull request, `{upstream_repo}#{pr_number}`: the key of the job table's PR
/// index ([`crate::dynamo::attr::UPSTREAM_PR`]) and how people write it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UpstreamPr {
    pub repo: RepoName,
    pub number: PrNumber,
}

impl UpstreamPr {
    pub fn new(repo: RepoName, number: PrNumber) -> Self {
        Self { repo, number }
    }

    /// `owner/name#number`.
    pub fn key(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for UpstreamPr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.repo, self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nightly_run_is_a_scheduled_event_without_a_pr() {
        for event_type in EventType::NIGHTLY_RUNS {
            assert!(is_nightly_run(event_type, false), "{event_type}");
            assert!(!is_nightly_run(event_type, true), "{event_type} with a PR");
        }
        for event_type in ["pull_request", "push", "workflow_dispatch", "Nightly", ""] {
            assert!(!is_nightly_run(event_type, false), "{event_type}");
        }
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
    fn pr_numbers_are_positive_i32s_and_keys_join_repo_and_number() {
        assert_eq!("179565".parse::<PrNumber>().map(|n| n.get()), Ok(179565));
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "1.0",
            " 1",
            "2147483648",
            "99999999999999999999999",
        ] {
            assert!(
                bad.parse::<PrNumber>().is_err(),
                "{bad:?} should be refused"
            );
        }
        let pr = UpstreamPr::new(
            RepoName::parse("pytorch/pytorch").expect("repo"),
            PrNumber::new(179565).expect("pr"),
        );
        assert_eq!(pr.key(), "pytorch/pytorch#179565");
    }
}
