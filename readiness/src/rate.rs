//! A rate counted from jobs ([`Rate`]) and a proportion a rate is held to ([`Fraction`]).
//!
//! Both are exact: a rate is its two counts and a threshold is a whole number of parts per
//! million, so "at least 90%" passes 18/20 and fails 17/19 whatever floating point would have
//! said (docs/contract.md §11.4: rates are compared exactly, as fractions). Their own module
//! because the gates, the histogram's share over a limit and the thresholds all use them.

use std::cmp::Ordering;
use std::fmt;

use serde::Serialize;

/// `numerator` of `denominator` jobs, e.g. the jobs that succeeded of those with a verdict.
/// Never more than all: `numerator <= denominator`. A rate of no jobs (`0/0`) has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Rate {
    numerator: u64,
    denominator: u64,
}

impl Rate {
    /// `None` when `numerator > denominator`: more jobs than all of them is a caller's mistake,
    /// not a rate above 100%.
    pub const fn new(numerator: u64, denominator: u64) -> Option<Rate> {
        if numerator <= denominator {
            Some(Rate {
                numerator,
                denominator,
            })
        } else {
            None
        }
    }

    pub fn numerator(&self) -> u64 {
        self.numerator
    }

    pub fn denominator(&self) -> u64 {
        self.denominator
    }

    /// The proportion, from 0 to 1; `None` for `0/0` (no jobs is no rate, never 0% nor 100%).
    pub fn value(&self) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 / self.denominator as f64)
    }

    /// This rate against `threshold`, exactly (`None` for `0/0`): compares
    /// `numerator × 1,000,000` with `threshold's parts per million × denominator`, which fit a
    /// `u128` for any counts.
    pub fn cmp_fraction(&self, threshold: Fraction) -> Option<Ordering> {
        (self.denominator > 0).then(|| {
            let scaled = u128::from(self.numerator) * u128::from(Fraction::PARTS);
            let limit = u128::from(threshold.parts_per_million) * u128::from(self.denominator);
            scaled.cmp(&limit)
        })
    }
}

/// `18/20 (90.0%)`: the counts, then the percentage rounded to one decimal (§11.4);
/// `0/0 (no jobs)` when there is no rate.
impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value() {
            Some(value) => write!(
                f,
                "{}/{} ({:.1}%)",
                self.numerator,
                self.denominator,
                value * 100.0
            ),
            None => write!(f, "{}/{} (no jobs)", self.numerator, self.denominator),
        }
    }
}

/// A proportion from 0 to 1 that a [`Rate`] is compared with, such as the 90% a pass rate must
/// reach. Held as parts per million so the comparison is exact; a setting with more than six
/// decimals is read to the nearest millionth (0.1234567 is 0.123457).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fraction {
    parts_per_million: u32,
}

impl Fraction {
    const PARTS: u32 = 1_000_000;

    /// `None` unless `value` is a finite number from 0 to 1 inclusive.
    pub fn from_f64(value: f64) -> Option<Fraction> {
        if !value.is_finite() || !(0.0..=1.0).contains(&value) {
            return None;
        }
        // In range and at most 1,000,000 after rounding, so the cast cannot truncate.
        let parts = (value * f64::from(Fraction::PARTS)).round() as u32;
        Some(Fraction {
            parts_per_million: parts.min(Fraction::PARTS),
        })
    }

    pub const fn from_parts_per_million(parts_per_million: u32) -> Option<Fraction> {
        if parts_per_million <= Fraction::PARTS {
            Some(Fraction { parts_per_million })
        } else {
            None
        }
    }

    pub fn parts_per_million(&self) -> u32 {
        self.parts_per_million
    }

    /// The proportion as a number from 0 to 1 (for display and JSON).
    pub fn as_f64(&self) -> f64 {
        f64::from(self.parts_per_million) / f64::from(Fraction::PARTS)
    }
}

/// As a percentage with as many decimals as it has: `90%`, `1%`, `0.5%`.
impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One percent is 10,000 parts per million.
        let whole = self.parts_per_million / 10_000;
        let rest = self.parts_per_million % 10_000;
        if rest == 0 {
            write!(f, "{whole}%")
        } else {
            let decimals = format!("{rest:04}");
            write!(f, "{whole}.{}%", decimals.trim_end_matches('0'))
        }
    }
}

/// As the number from 0 to 1, the way the configuration file writes it.
impl Serialize for Fraction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fraction(value: f64) -> Fraction {
        Fraction::from_f64(value).expect("a fraction from 0 to 1")
    }

    #[test]
    fn a_rate_is_never_above_all_and_has_no_value_without_jobs() {
        assert_eq!(Rate::new(3, 2), None);
        let none = Rate::new(0, 0).expect("0/0 is a rate of no jobs");
        assert_eq!(none.value(), None);
        assert_eq!(none.cmp_fraction(fraction(0.9)), None);
        assert_eq!(none.to_string(), "0/0 (no jobs)");
    }

    #[test]
    fn rates_compare_exactly_with_a_decimal_threshold() {
        // 0.9 is not exact in binary; 18/20 and 27/30 are exactly 90% all the same.
        let ninety = fraction(0.9);
        for (n, d) in [(18, 20), (27, 30), (9, 10), (900_000_000, 1_000_000_000)] {
            let rate = Rate::new(n, d).expect("a rate");
            assert_eq!(rate.cmp_fraction(ninety), Some(Ordering::Equal), "{n}/{d}");
        }
        let rate = Rate::new(17, 19).expect("a rate");
        assert_eq!(rate.cmp_fraction(ninety), Some(Ordering::Less));
        let one_percent = fraction(0.01);
        let rate = Rate::new(1, 101).expect("a rate");
        assert_eq!(rate.cmp_fraction(one_percent), Some(Ordering::Less));
        let rate = Rate::new(1, 100).expect("a rate");
        assert_eq!(rate.cmp_fraction(one_percent), Some(Ordering::Equal));
    }

    #[test]
    fn display_rounds_the_percentage_to_one_decimal() {
        let rate = Rate::new(2, 3).expect("a rate");
        assert_eq!(rate.to_string(), "2/3 (66.7%)");
        assert_eq!(fraction(0.9).to_string(), "90%");
        assert_eq!(fraction(0.005).to_string(), "0.5%");
        assert_eq!(fraction(0.0125).to_string(), "1.25%");
        assert_eq!(fraction(1.0).to_string(), "100%");
        assert_eq!(fraction(0.0).to_string(), "0%");
    }

    #[test]
    fn a_fraction_is_from_zero_to_one() {
        for bad in [-0.01, 1.000_001, f64::NAN, f64::INFINITY] {
            assert_eq!(Fraction::from_f64(bad), None, "{bad}");
        }
        assert_eq!(fraction(0.1234567).parts_per_million(), 123_457);
        assert_eq!(Fraction::from_parts_per_million(1_000_001), None);
    }
}
