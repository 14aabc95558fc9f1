//! What a job reports about itself: its [`Status`] (which of the two callbacks), its
//! [`Conclusion`], its [`TestCounts`], and durations in seconds.

use crate::limits::{MAX_SECONDS, MAX_TEST_COUNT};
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

/// A duration in seconds (`queue_time`, `execution_time`, `duration_s`): finite, >= 0 and at
/// most [`MAX_SECONDS`], rounded to the microsecond.
///
/// The rounding is what makes every accepted duration storable: DynamoDB numbers hold at most
/// 38 significant digits between 1e-130 and 1e126, and an f64 such as `1e-200` (or
/// `0.1 + 0.2`'s 17 digits written without an exponent) is outside that. A multiple of 1e-6
/// below ten years has at most 15 significant digits and is 0 or at least 1e-6. No reporter
/// measures a job more finely than that.
pub fn parse_seconds(v: f64) -> Result<f64, InvalidValue> {
    if !v.is_finite() {
        return invalid("must be a finite number of seconds");
    }
    if v < 0.0 {
        return invalid(format!("must not be negative, got {v}"));
    }
    if v > MAX_SECONDS {
        return invalid(format!(
            "must be at most {MAX_SECONDS} seconds (ten years), got {v}"
        ));
    }
    // `abs`: -0.0 passes `< 0.0` (and rounds to -0.0); store it as 0 so it never renders "-0".
    Ok(((v * 1e6).round() / 1e6).abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    #[test]
    fn seconds_are_bounded_and_rounded_to_the_microsecond() {
        assert!(parse_seconds(1e200).is_err(), "the poison pill of issue 9");
        assert!(parse_seconds(MAX_SECONDS).is_ok());
        assert!(parse_seconds(MAX_SECONDS * (1.0 + 1e-9)).is_err());
        assert_eq!(parse_seconds(1e-200), Ok(0.0));
        assert_eq!(parse_seconds(4e-7), Ok(0.0));
        assert_eq!(parse_seconds(6e-7), Ok(1e-6));
        assert_eq!(parse_seconds(12.345), Ok(12.345));
        assert_eq!(parse_seconds(0.1 + 0.2), Ok(0.3));
    }

    proptest! {
        /// Whatever f64 is sent, an accepted duration is in range, within half a microsecond of
        /// what was sent, and its text (as the projector writes it) is a DynamoDB number.
        #[test]
        fn every_accepted_duration_is_a_dynamodb_number(
            v in prop_oneof![
                any::<f64>(),
                0.0..1e-3,
                0.0..MAX_SECONDS,
                (-400.0f64..200.0).prop_map(|e| 10f64.powf(e)),
            ],
        ) {
            match parse_seconds(v) {
                Ok(s) => {
                    prop_assert!((0.0..=MAX_SECONDS).contains(&s));
                    prop_assert!((s - v).abs() <= 5e-7 + v * 1e-15);
                    prop_assert!(crate::dynamo::is_number(&s.to_string()), "{} -> {}", v, s);
                    let json = serde_json::to_string(&s).expect("finite");
                    prop_assert!(crate::dynamo::is_number(&json), "{} -> {}", v, json);
                }
                Err(_) => prop_assert!(!(0.0..=MAX_SECONDS).contains(&v) || v.is_nan()),
            }
        }
    }
}
