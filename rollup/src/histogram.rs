//! Durations counted in fixed buckets, so that a rollup answers percentiles and "share over a
//! limit" (the readiness gates, docs/contract.md §14) as exactly as it answers counts: a bucket
//! count is a count, so adding and retracting stay exact in any order, and a window's histogram
//! is the sum of its cells'.
//!
//! The bounds are the same for every histogram and never change (a stored count means "jobs in
//! bucket i" forever); a percentile read from them is exact to the bucket, and a share over a
//! limit that is a bound (3 h, 30 min, 1 h, …) is exact.

use serde::{Deserialize, Serialize};

/// Inclusive upper bounds of the buckets, in seconds, but the last bucket's: it holds every
/// duration over a day. Finer where the gates decide (around 30 min and 3 h).
pub const UPPER_BOUNDS_S: [u32; 23] = [
    30, 60, 120, 180, 300, 450, 600, 900, 1_200, 1_800, 2_700, 3_600, 4_500, 5_400, 7_200, 9_000,
    10_800, 14_400, 18_000, 21_600, 28_800, 43_200, 86_400,
];

/// Buckets of a histogram: one per bound and the open one above the last bound.
pub const BUCKETS: usize = UPPER_BOUNDS_S.len() + 1;

/// What a histogram counts; its name prefixes the ledger's attributes and the cells' column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Measure {
    /// A verdict job's execution time (the rates' duration, §11.4).
    Duration,
    /// A job's queue time, as the relay measured it.
    Queue,
    /// Queue plus execution time, for jobs with both.
    EndToEnd,
}

impl Measure {
    pub const ALL: [Measure; 3] = [Measure::Duration, Measure::Queue, Measure::EndToEnd];

    pub fn name(self) -> &'static str {
        match self {
            Measure::Duration => oot_contract::rollup::histogram::DURATION,
            Measure::Queue => oot_contract::rollup::histogram::QUEUE,
            Measure::EndToEnd => oot_contract::rollup::histogram::END_TO_END,
        }
    }
}

/// Counts of durations per bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    counts: [i64; BUCKETS],
}

impl Histogram {
    /// The bucket a duration of `us` microseconds falls in.
    pub fn bucket_of(us: u64) -> usize {
        UPPER_BOUNDS_S.partition_point(|&bound| u64::from(bound) * 1_000_000 < us)
    }

    /// One duration counted, or nothing.
    pub fn of(us: Option<u64>) -> Histogram {
        let mut histogram = Histogram::default();
        if let Some(us) = us {
            histogram.counts[Histogram::bucket_of(us)] = 1;
        }
        histogram
    }

    /// From stored counts: a shorter list (a row written before a bucket existed) reads as zeros
    /// for the missing buckets; a longer one (written by a newer release) adds its excess to the
    /// open bucket, so no count is lost.
    pub fn from_counts(counts: &[i64]) -> Histogram {
        let mut histogram = Histogram::default();
        for (i, count) in counts.iter().enumerate() {
            let bucket = i.min(BUCKETS - 1);
            histogram.counts[bucket] = histogram.counts[bucket].saturating_add(*count);
        }
        histogram
    }

    pub fn counts(&self) -> &[i64; BUCKETS] {
        &self.counts
    }

    /// Durations counted.
    pub fn total(&self) -> i64 {
        self.counts.iter().fold(0, |sum, c| sum.saturating_add(*c))
    }

    pub fn is_zero(&self) -> bool {
        self.counts.iter().all(|c| *c == 0)
    }

    /// `self op other`, bucket by bucket.
    pub fn zip(&mut self, other: &Histogram, op: fn(i64, i64) -> i64) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine = op(*mine, *theirs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bounds_rise_and_each_is_the_last_value_of_its_bucket() {
        assert!(UPPER_BOUNDS_S.windows(2).all(|w| w[0] < w[1]));
        for (i, bound) in UPPER_BOUNDS_S.iter().enumerate() {
            let us = u64::from(*bound) * 1_000_000;
            assert_eq!(
                Histogram::bucket_of(us),
                i,
                "{bound} s is in its own bucket"
            );
            assert_eq!(
                Histogram::bucket_of(us + 1),
                i + 1,
                "just over it is in the next"
            );
        }
        assert_eq!(Histogram::bucket_of(0), 0);
        assert_eq!(Histogram::bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn three_hours_is_a_bound() {
        // The overrun gate's default limit: "over 3 h" must be a sum of whole buckets.
        assert!(UPPER_BOUNDS_S.contains(&10_800));
        assert!(UPPER_BOUNDS_S.contains(&1_800));
    }

    #[test]
    fn stored_counts_of_another_length_keep_every_count() {
        assert_eq!(Histogram::from_counts(&[]), Histogram::default());
        let short = Histogram::from_counts(&[1, 2]);
        assert_eq!((short.counts[0], short.counts[1], short.total()), (1, 2, 3));
        let long: Vec<i64> = vec![1; BUCKETS + 3];
        let read = Histogram::from_counts(&long);
        assert_eq!(read.total(), i64::try_from(BUCKETS + 3).expect("small"));
        assert_eq!(read.counts[BUCKETS - 1], 4);
    }

    proptest! {
        #[test]
        fn a_duration_lands_in_the_bucket_whose_bounds_hold_it(us in any::<u64>()) {
            let bucket = Histogram::bucket_of(us);
            if let Some(upper) = UPPER_BOUNDS_S.get(bucket) {
                prop_assert!(us <= u64::from(*upper) * 1_000_000);
            }
            if bucket > 0 {
                prop_assert!(us > u64::from(UPPER_BOUNDS_S[bucket - 1]) * 1_000_000);
            }
            prop_assert_eq!(Histogram::of(Some(us)).total(), 1);
        }
    }
}
