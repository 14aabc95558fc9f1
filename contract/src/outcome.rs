//! What a job reports about itself: its [`Status`] (which of the two callbacks), its
//! [`Conclusion`], its [`TestCounts`], and durations in seconds.

use crate::limits::MAX_TEST_COUNT;
use crate::text::{invalid, string_enum};
use crate::InvalidValue;

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

    #[test]
    fn enums_round_trip_and_refuse_other_spellings() {
        for c in Conclusion::ALL {
            assert_eq!(Conclusion::parse(c.as_str()), Ok(*c));
            let json = serde_json::to_string(c).expect("serialize");
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(
                serde_json::from_str::<Conclusion>(&json).expect("deserialize"),
                *c
            );
        }
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Ok(*s));
        }
        assert!(Conclusion::parse("SUCCESS").is_err());
        assert!(Status::parse("queued").is_err());
        assert!(serde_json::from_str::<Status>("\"queued\"").is_err());
    }

    #[test]
    fn seconds_must_be_finite_and_non_negative() {
        assert_eq!(parse_seconds(0.0), Ok(0.0));
        assert!(parse_seconds(-0.0).is_ok_and(|v| v.is_sign_positive()));
        assert!(parse_seconds(-1.0).is_err());
        assert!(parse_seconds(f64::NAN).is_err());
        assert!(parse_seconds(f64::INFINITY).is_err());
    }
}
