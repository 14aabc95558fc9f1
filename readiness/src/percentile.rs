//! Percentiles and the share of jobs over a limit, from a fixed-bucket histogram of durations
//! (what a rollup cell can keep and sum: one count per bucket).
//!
//! **Buckets.** `upper_bounds_s` are the finite upper bounds, strictly increasing, each finite
//! and ≥ 0; `counts` has one more entry than `upper_bounds_s`, the last being the open-ended
//! bucket above the last bound. Bucket 0 holds durations in `[0, b₀]`, bucket `i` those in
//! `(bᵢ₋₁, bᵢ]`, the last those above `bₙ₋₁`: a duration equal to a bound is counted in the
//! bucket that bound closes, so "over the limit" is exact when the limit is a bound.

use serde::Serialize;

use crate::rate::Rate;

/// Bounds for the tests, with the default limits (30 min, 3 h) among them. The service passes
/// the rollups' own (`oot_rollup::histogram::UPPER_BOUNDS_S`); the rules take any bounds.
#[cfg(test)]
pub(crate) const DURATION_BUCKET_BOUNDS_S: [f64; 20] = [
    60.0, 120.0, 300.0, 600.0, 900.0, 1_200.0, 1_800.0, 2_700.0, 3_600.0, 5_400.0, 7_200.0,
    9_000.0, 10_800.0, 12_600.0, 14_400.0, 18_000.0, 21_600.0, 28_800.0, 43_200.0, 86_400.0,
];

/// A percentile read from a histogram. `seconds` is interpolated inside the bucket that holds
/// the percentile, except in the open-ended last bucket, where it is that bucket's lower bound
/// and `is_lower_bound` says the true percentile is at least that much.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentile {
    pub seconds: f64,
    pub is_lower_bound: bool,
}

/// The jobs of a histogram over a limit. `over` counts the jobs certainly over it: those in
/// buckets whose every value is above the limit. When a non-empty bucket straddles the limit
/// (the limit is not a bound and falls strictly inside it, or is above the last bound), its jobs
/// are not counted and `is_lower_bound` says the true share may be higher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ShareOver {
    pub over: Rate,
    pub is_lower_bound: bool,
}

/// Why bounds and counts are not a histogram.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    #[error("{counts} counts for {bounds} bounds: there must be one count per bound and one for the open-ended bucket above the last")]
    Shape { bounds: usize, counts: usize },
    #[error("bound {index} is not a finite number of seconds ≥ 0 above the bound before it")]
    Bound { index: usize },
}

/// A valid histogram of durations: bounds and counts as the module says, checked once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    upper_bounds_s: Vec<f64>,
    counts: Vec<u64>,
}

impl Histogram {
    pub fn new(upper_bounds_s: Vec<f64>, counts: Vec<u64>) -> Result<Histogram, HistogramError> {
        check_shape(&upper_bounds_s, &counts)?;
        Ok(Histogram {
            upper_bounds_s,
            counts,
        })
    }

    /// No jobs yet, over `upper_bounds_s`.
    pub fn empty(upper_bounds_s: Vec<f64>) -> Result<Histogram, HistogramError> {
        let counts = vec![0; upper_bounds_s.len() + 1];
        Histogram::new(upper_bounds_s, counts)
    }

    /// Counts one duration in its bucket. A duration that is not a finite number ≥ 0 is not a
    /// duration and is not counted (`false`).
    pub fn record(&mut self, seconds: f64) -> bool {
        if !seconds.is_finite() || seconds < 0.0 {
            return false;
        }
        let bucket = bucket_of(&self.upper_bounds_s, seconds);
        if let Some(count) = self.counts.get_mut(bucket) {
            *count = count.saturating_add(1);
        }
        true
    }

    pub fn upper_bounds_s(&self) -> &[f64] {
        &self.upper_bounds_s
    }

    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Every job counted.
    pub fn total(&self) -> u64 {
        self.counts
            .iter()
            .fold(0u64, |sum, c| sum.saturating_add(*c))
    }

    pub fn percentile(&self, q: f64) -> Option<Percentile> {
        percentile(&self.upper_bounds_s, &self.counts, q)
    }

    pub fn share_over(&self, limit_s: f64) -> Option<ShareOver> {
        share_over(&self.upper_bounds_s, &self.counts, limit_s)
    }
}

fn check_shape(bounds: &[f64], counts: &[u64]) -> Result<(), HistogramError> {
    if counts.len() != bounds.len() + 1 {
        return Err(HistogramError::Shape {
            bounds: bounds.len(),
            counts: counts.len(),
        });
    }
    let mut below = None;
    for (index, bound) in bounds.iter().enumerate() {
        let increasing = below.is_none_or(|b| *bound > b);
        if !bound.is_finite() || *bound < 0.0 || !increasing {
            return Err(HistogramError::Bound { index });
        }
        below = Some(*bound);
    }
    Ok(())
}

/// The bucket a duration is counted in: the first whose upper bound is ≥ it, else the
/// open-ended one.
pub fn bucket_of(upper_bounds_s: &[f64], seconds: f64) -> usize {
    upper_bounds_s.partition_point(|bound| *bound < seconds)
}

/// The `q` quantile (`q` from 0 to 1; 0.5 is the median) of the durations a histogram counts.
///
/// The rank `q × total` (taken as a whole number when within floating-point error of one) is
/// found in the first non-empty bucket whose cumulative count reaches
/// it, and the value is interpolated linearly between that bucket's lower and upper bound by
/// how far into the bucket's count the rank falls (the values of a bucket taken as spread
/// evenly across it). So `q = 0` is the lower bound of the first non-empty bucket, a rank that
/// is exactly a cumulative count gives that bucket's upper bound, and `q = 1` the upper bound
/// of the last non-empty bucket. In the open-ended bucket the value is its lower bound, marked
/// [`Percentile::is_lower_bound`].
///
/// `None` when there is no job, `q` is not within 0..=1, or bounds and counts are not a
/// histogram (see the module).
pub fn percentile(upper_bounds_s: &[f64], counts: &[u64], q: f64) -> Option<Percentile> {
    check_shape(upper_bounds_s, counts).ok()?;
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let total: u128 = counts.iter().map(|c| u128::from(*c)).sum();
    if total == 0 {
        return None;
    }
    let rank = whole_if_close(q * total as f64, total as f64);
    let mut before: u128 = 0;
    for (bucket, count) in counts.iter().enumerate() {
        let through = before + u128::from(*count);
        if *count > 0 && through as f64 >= rank {
            let lower = if bucket == 0 {
                0.0
            } else {
                upper_bounds_s[bucket - 1]
            };
            let Some(upper) = upper_bounds_s.get(bucket).copied() else {
                return Some(Percentile {
                    seconds: lower,
                    is_lower_bound: true,
                });
            };
            let into = ((rank - before as f64) / *count as f64).clamp(0.0, 1.0);
            // At the end of the bucket, its bound exactly (lower + width × 1 may round past it).
            let seconds = if into >= 1.0 {
                upper
            } else {
                (lower + (upper - lower) * into).clamp(lower, upper)
            };
            return Some(Percentile {
                seconds,
                is_lower_bound: false,
            });
        }
        before = through;
    }
    // Unreachable: the last non-empty bucket's cumulative count is the total, which reaches
    // every rank up to q = 1. Kept as "no answer" rather than a panic.
    None
}

/// `rank` as the whole number it is within floating-point error of (relative to `total`), so
/// that `q = k / total` finds the `k`-th job's bucket and not the next one when `k / total × total`
/// rounds a hair above `k`.
fn whole_if_close(rank: f64, total: f64) -> f64 {
    let whole = rank.round();
    if (rank - whole).abs() <= total * 4.0 * f64::EPSILON {
        whole
    } else {
        rank
    }
}

/// The jobs of a histogram whose duration is over `limit_s` (strictly), of all its jobs.
///
/// Exact when `limit_s` is one of the bounds (or falls in an empty bucket): a duration equal to
/// a bound is in the bucket that bound closes, so every bucket is wholly over or wholly not.
/// Otherwise the jobs of the bucket the limit falls inside are not counted as over, and
/// [`ShareOver::is_lower_bound`] is set: the share is the jobs certainly over, a lower bound.
/// A limit above the last bound falls inside the open-ended bucket.
///
/// `None` when there is no job, `limit_s` is not a number, or bounds and counts are not a
/// histogram.
pub fn share_over(upper_bounds_s: &[f64], counts: &[u64], limit_s: f64) -> Option<ShareOver> {
    check_shape(upper_bounds_s, counts).ok()?;
    if limit_s.is_nan() {
        return None;
    }
    let mut total: u64 = 0;
    let mut over: u64 = 0;
    let mut straddled = false;
    for (bucket, count) in counts.iter().enumerate() {
        total = total.saturating_add(*count);
        // Bucket 0 starts at 0 inclusive; the others above the bound before them.
        let certainly_over = match bucket {
            0 => limit_s < 0.0,
            _ => upper_bounds_s[bucket - 1] >= limit_s,
        };
        let certainly_not = upper_bounds_s
            .get(bucket)
            .is_some_and(|upper| *upper <= limit_s);
        if certainly_over {
            over = over.saturating_add(*count);
        } else if !certainly_not && *count > 0 {
            straddled = true;
        }
    }
    if total == 0 {
        return None;
    }
    Some(ShareOver {
        over: Rate::new(over, total)?,
        is_lower_bound: straddled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: [f64; 3] = [10.0, 20.0, 40.0];

    fn histogram(values: &[f64]) -> Histogram {
        let mut h = Histogram::empty(BOUNDS.to_vec()).expect("bounds");
        for v in values {
            assert!(h.record(*v));
        }
        h
    }

    #[test]
    fn a_value_on_a_bound_is_in_the_bucket_that_bound_closes() {
        assert_eq!(bucket_of(&BOUNDS, 0.0), 0);
        assert_eq!(bucket_of(&BOUNDS, 10.0), 0);
        assert_eq!(bucket_of(&BOUNDS, 10.5), 1);
        assert_eq!(bucket_of(&BOUNDS, 40.0), 2);
        assert_eq!(bucket_of(&BOUNDS, 40.1), 3);
    }

    #[test]
    fn the_median_is_interpolated_inside_its_bucket() {
        // Four jobs in (10, 20]: the median's rank 2 is halfway through them.
        let h = histogram(&[12.0, 14.0, 16.0, 18.0]);
        assert_eq!(
            h.percentile(0.5),
            Some(Percentile {
                seconds: 15.0,
                is_lower_bound: false
            })
        );
        assert_eq!(h.percentile(0.0).map(|p| p.seconds), Some(10.0));
        assert_eq!(h.percentile(1.0).map(|p| p.seconds), Some(20.0));
    }

    #[test]
    fn a_rank_on_a_cumulative_count_is_that_buckets_upper_bound() {
        let h = histogram(&[5.0, 15.0]);
        assert_eq!(h.percentile(0.5).map(|p| p.seconds), Some(10.0));
    }

    #[test]
    fn in_the_open_ended_bucket_the_percentile_is_its_lower_bound_and_says_so() {
        let h = histogram(&[5.0, 100.0, 200.0]);
        assert_eq!(
            h.percentile(0.5),
            Some(Percentile {
                seconds: 40.0,
                is_lower_bound: true
            })
        );
        // No bounds at all: one open-ended bucket from 0.
        let mut open = Histogram::empty(Vec::new()).expect("no bounds");
        open.record(7.0);
        assert_eq!(
            open.percentile(0.5),
            Some(Percentile {
                seconds: 0.0,
                is_lower_bound: true
            })
        );
    }

    #[test]
    fn no_jobs_or_a_bad_question_has_no_answer() {
        let h = histogram(&[]);
        assert_eq!(h.percentile(0.5), None);
        assert_eq!(h.share_over(20.0), None);
        let h = histogram(&[1.0]);
        for q in [-0.1, 1.1, f64::NAN] {
            assert_eq!(h.percentile(q), None, "{q}");
        }
        assert_eq!(h.share_over(f64::NAN), None);
    }

    #[test]
    fn bounds_and_counts_that_are_not_a_histogram_are_refused() {
        assert_eq!(
            Histogram::new(vec![1.0], vec![1]),
            Err(HistogramError::Shape {
                bounds: 1,
                counts: 1
            })
        );
        for (bounds, index) in [
            (vec![1.0, 1.0], 1),
            (vec![2.0, 1.0], 1),
            (vec![-1.0], 0),
            (vec![1.0, f64::INFINITY], 1),
            (vec![f64::NAN], 0),
        ] {
            let counts = vec![0; bounds.len() + 1];
            assert_eq!(
                Histogram::new(bounds.clone(), counts.clone()),
                Err(HistogramError::Bound { index }),
                "{bounds:?}"
            );
            assert_eq!(percentile(&bounds, &counts, 0.5), None);
        }
        assert_eq!(percentile(&BOUNDS, &[1, 1], 0.5), None);
        assert_eq!(share_over(&BOUNDS, &[1, 1], 10.0), None);
    }

    #[test]
    fn share_over_a_bound_is_exact() {
        let h = histogram(&[5.0, 20.0, 25.0, 40.0, 41.0]);
        let share = h.share_over(20.0).expect("jobs");
        assert_eq!(share.over, Rate::new(3, 5).expect("rate"));
        assert!(!share.is_lower_bound);
        let share = h.share_over(40.0).expect("jobs");
        assert_eq!(share.over, Rate::new(1, 5).expect("rate"));
        assert!(!share.is_lower_bound);
    }

    #[test]
    fn share_over_a_limit_inside_a_bucket_counts_only_the_buckets_above_it() {
        let h = histogram(&[5.0, 20.0, 25.0, 40.0, 41.0]);
        // 30 falls inside (20, 40], which holds 25 and 40: not counted, the share is at least.
        let share = h.share_over(30.0).expect("jobs");
        assert_eq!(share.over, Rate::new(1, 5).expect("rate"));
        assert!(share.is_lower_bound);
        // 15 falls inside (10, 20], which holds 20: the buckets above hold 25, 40 and 41.
        let share = h.share_over(15.0).expect("jobs");
        assert_eq!(share.over, Rate::new(3, 5).expect("rate"));
        assert!(share.is_lower_bound);
        // Inside an empty bucket the answer is exact all the same.
        let h = histogram(&[5.0, 41.0]);
        let share = h.share_over(30.0).expect("jobs");
        assert_eq!(share.over, Rate::new(1, 2).expect("rate"));
        assert!(!share.is_lower_bound);
        // Above the last bound: inside the open-ended bucket.
        let share = h.share_over(100.0).expect("jobs");
        assert_eq!(share.over, Rate::new(0, 2).expect("rate"));
        assert!(share.is_lower_bound);
    }

    #[test]
    fn share_over_zero_and_below() {
        let h = histogram(&[0.0, 5.0]);
        // A duration of 0 is not over 0.
        assert_eq!(h.share_over(0.0).map(|s| s.is_lower_bound), Some(true));
        let share = h.share_over(-1.0).expect("jobs");
        assert_eq!(share.over, Rate::new(2, 2).expect("rate"));
        assert!(!share.is_lower_bound);
    }

    #[test]
    fn durations_that_are_not_durations_are_not_counted() {
        let mut h = histogram(&[]);
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(!h.record(bad));
        }
        assert_eq!(h.total(), 0);
    }

    #[test]
    fn the_suggested_bounds_hold_the_default_limits() {
        let h = Histogram::empty(DURATION_BUCKET_BOUNDS_S.to_vec()).expect("valid bounds");
        let defaults = crate::Thresholds::default();
        for limit in [
            defaults.e2e_p50_under_seconds,
            defaults.overrun_limit_seconds,
            defaults.queue_average_under_seconds,
        ] {
            assert!(h.upper_bounds_s().contains(&limit), "{limit}");
        }
    }
}
