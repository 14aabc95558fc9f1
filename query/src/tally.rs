//! Counting completed jobs into pass rates and averages, the same way in every view.
//!
//! **Pass rate** = successes / verdicts, where a verdict is a completed job that concluded
//! `success`, `failure` or `timed_out` (a job that never reported back is the backend's failure).
//! `cancelled` (mostly superseded runs), `skipped`, `neutral`, `action_required` and `stale` say
//! nothing about the backend's health, so they are counted and shown but left out of the rate.
//! With no verdict the rate is `None`: no data is not 100%.
//!
//! The jobs counted are the latest attempts of each run in the window ([`crate::rules`]).

use std::cmp::Ordering;

use serde::Serialize;

use oot_rollup::figures::micros;
use oot_rollup::{Contribution, Figures, Histogram, Outcome};

use crate::job::JobState;

/// A rate shown as numerator / denominator; `percent` rounded to one decimal, for display.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratio {
    pub numerator: u64,
    pub denominator: u64,
    pub percent: f64,
}

impl Ratio {
    /// `None` when the denominator is 0: an empty rate is unknown, not 100% nor 0%.
    pub fn of(numerator: u64, denominator: u64) -> Option<Ratio> {
        (denominator > 0).then(|| Ratio {
            numerator,
            denominator,
            percent: (numerator as f64 * 1000.0 / denominator as f64).round() / 10.0,
        })
    }

    /// Exact comparison of the two fractions (no rounding), lower rate first.
    pub fn cmp_rate(&self, other: &Ratio) -> Ordering {
        let left = u128::from(self.numerator) * u128::from(other.denominator);
        let right = u128::from(other.numerator) * u128::from(self.denominator);
        left.cmp(&right)
    }
}

/// Running sums over completed jobs: the rollups' [`Figures`] (counts, and durations in whole
/// microseconds, so a sum read from the hourly cells and one counted job by job are equal to the
/// microsecond), with the rates and averages the views show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub completed: u64,
    pub successes: u64,
    pub failures: u64,
    pub timed_out: u64,
    pub cancelled: u64,
    /// Skipped, neutral, action required, stale or unknown.
    pub other: u64,
    duration_sum_us: u64,
    durations: u64,
    queue_sum_us: u64,
    queues: u64,
    /// The same durations, queue times and end-to-end times per bucket, for percentiles.
    pub duration_buckets: Histogram,
    pub queue_buckets: Histogram,
    pub e2e_buckets: Histogram,
}

impl Tally {
    /// Counts one completed job (a running one is ignored: it has no outcome yet), as the
    /// rollups count it ([`Contribution::of`]).
    pub fn add(&mut self, state: JobState, duration_s: Option<f64>, queue_time_s: Option<f64>) {
        if state == JobState::Running {
            return;
        }
        let outcome = match state {
            JobState::Success => Outcome::Success,
            JobState::Failure => Outcome::Failure,
            JobState::TimedOut => Outcome::TimedOut,
            JobState::Cancelled => Outcome::Cancelled,
            _ => Outcome::Other,
        };
        let contribution = Contribution {
            outcome,
            duration_us: duration_s.and_then(micros).filter(|_| outcome.is_verdict()),
            queue_us: queue_time_s.and_then(micros),
        };
        self.add_figures(&Figures::of(&contribution));
    }

    /// Adds sums read from the rollups.
    pub fn add_figures(&mut self, figures: &Figures) {
        // Cells hold exact sums of counted runs, never below zero; clamp rather than wrap
        // should a foreign row say otherwise.
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        self.completed += n(figures.completed);
        self.successes += n(figures.successes);
        self.failures += n(figures.failures);
        self.timed_out += n(figures.timed_out);
        self.cancelled += n(figures.cancelled);
        self.other += n(figures.other);
        self.duration_sum_us += n(figures.duration_sum_us);
        self.durations += n(figures.durations);
        self.queue_sum_us += n(figures.queue_sum_us);
        self.queues += n(figures.queues);
        self.duration_buckets
            .zip(&figures.duration_buckets, i64::saturating_add);
        self.queue_buckets
            .zip(&figures.queue_buckets, i64::saturating_add);
        self.e2e_buckets
            .zip(&figures.e2e_buckets, i64::saturating_add);
    }

    /// The tally of rollup sums.
    pub fn of_figures(figures: &Figures) -> Tally {
        let mut tally = Tally::default();
        tally.add_figures(figures);
        tally
    }

    pub fn verdicts(&self) -> u64 {
        self.successes + self.failures + self.timed_out
    }

    pub fn pass_rate(&self) -> Option<Ratio> {
        Ratio::of(self.successes, self.verdicts())
    }

    /// Timed out / verdicts.
    pub fn timeout_rate(&self) -> Option<Ratio> {
        Ratio::of(self.timed_out, self.verdicts())
    }

    /// Mean duration of the verdicts that report one, in seconds.
    pub fn avg_duration_s(&self) -> Option<f64> {
        mean(self.duration_sum_us, self.durations)
    }

    /// Mean queue time of the completed jobs that report one, in seconds.
    pub fn avg_queue_time_s(&self) -> Option<f64> {
        mean(self.queue_sum_us, self.queues)
    }
}

fn mean(sum_us: u64, count: u64) -> Option<f64> {
    // Rounded to milliseconds: more digits are noise in a dashboard.
    (count > 0).then(|| (sum_us as f64 / count as f64 / 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_verdict_is_no_rate_not_a_perfect_one() {
        let mut tally = Tally::default();
        assert_eq!(tally.pass_rate(), None);
        tally.add(JobState::Cancelled, Some(10.0), None);
        tally.add(JobState::Skipped, None, None);
        assert_eq!(tally.pass_rate(), None);
        assert_eq!(tally.completed, 2);
        assert_eq!(tally.avg_duration_s(), None);
    }

    #[test]
    fn successes_over_success_failure_and_timeout() {
        let mut tally = Tally::default();
        for state in [
            JobState::Success,
            JobState::Success,
            JobState::Failure,
            JobState::TimedOut,
            JobState::Cancelled,
            JobState::Neutral,
            JobState::Running,
        ] {
            tally.add(state, None, None);
        }
        let rate = tally.pass_rate().unwrap();
        assert_eq!((rate.numerator, rate.denominator), (2, 4));
        assert_eq!(rate.percent, 50.0);
        let timeouts = tally.timeout_rate().unwrap();
        assert_eq!((timeouts.numerator, timeouts.denominator), (1, 4));
        assert_eq!((tally.completed, tally.cancelled, tally.other), (6, 1, 1));
    }

    #[test]
    fn averages_cover_what_reports_a_value() {
        let mut tally = Tally::default();
        tally.add(JobState::Success, Some(100.0), Some(2.0));
        tally.add(JobState::Failure, Some(200.0), None);
        tally.add(JobState::TimedOut, None, Some(4.0));
        tally.add(JobState::Skipped, Some(0.0), None);
        assert_eq!(tally.avg_duration_s(), Some(150.0));
        assert_eq!(tally.avg_queue_time_s(), Some(3.0));
    }

    #[test]
    fn rates_compare_exactly() {
        let third = Ratio::of(1, 3).unwrap();
        let two_sixths = Ratio::of(2, 6).unwrap();
        let half = Ratio::of(1, 2).unwrap();
        assert_eq!(third.cmp_rate(&two_sixths), Ordering::Equal);
        assert_eq!(third.cmp_rate(&half), Ordering::Less);
        assert_eq!(Ratio::of(2, 3).unwrap().percent, 66.7);
    }
}
