//! [`Timestamp`]: an instant the downstream reports, within what every store can hold.

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{OffsetDateTime, UtcOffset};

use crate::text::invalid;
use crate::InvalidValue;

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

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn timestamps_travel_as_rfc3339() {
        let t = Timestamp::parse("2026-04-28T10:15:30Z").expect("valid");
        let json = serde_json::to_string(&t).expect("serialize");
        assert_eq!(json, "\"2026-04-28T10:15:30Z\"");
        assert_eq!(
            serde_json::from_str::<Timestamp>(&json).expect("deserialize"),
            t
        );
        assert!(serde_json::from_str::<Timestamp>("\"2100-01-01T00:00:00Z\"").is_err());
    }
}
