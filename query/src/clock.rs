//! Time as the views handle it: seconds since the epoch inside, RFC 3339 (UTC, whole seconds)
//! on the wire.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Now, in seconds since the epoch.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// `2026-04-28T10:15:30Z`; `None` for an instant `time` cannot represent.
pub fn rfc3339(seconds: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// Seconds of an RFC 3339 instant (fractions dropped); `None` when it does not parse.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|at| at.unix_timestamp())
}

/// Whole days from `then` to `now`; 0 for an instant in the future (a downstream clock ahead
/// of ours must not produce negative ages).
pub fn days_between(then: i64, now: i64) -> u64 {
    u64::try_from(now.saturating_sub(then) / 86_400).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_whole_seconds() {
        assert_eq!(
            rfc3339(1_777_371_330).as_deref(),
            Some("2026-04-28T10:15:30Z")
        );
        assert_eq!(parse_rfc3339("2026-04-28T10:15:30Z"), Some(1_777_371_330));
        assert_eq!(
            parse_rfc3339("2026-04-28T10:15:30.987654Z"),
            Some(1_777_371_330)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn ages_are_whole_days_and_never_negative() {
        assert_eq!(days_between(0, 86_399), 0);
        assert_eq!(days_between(0, 86_400 * 3 + 5), 3);
        assert_eq!(days_between(1_000, 0), 0);
    }
}
