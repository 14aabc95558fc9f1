//! What a run contributes to the rates, and the sums of a rollup cell.

use std::borrow::Cow;

use oot_contract::{Conclusion, Status};
use serde::{Deserialize, Serialize};

use crate::histogram::{Histogram, Measure};

/// The outcome classes a rate distinguishes (docs/contract.md §11.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    TimedOut,
    Cancelled,
    /// Skipped, neutral, action required, stale, or no conclusion.
    Other,
}

impl Outcome {
    /// The class of a completed job's conclusion.
    pub fn of(conclusion: Option<Conclusion>) -> Outcome {
        match conclusion {
            Some(Conclusion::Success) => Outcome::Success,
            Some(Conclusion::Failure) => Outcome::Failure,
            Some(Conclusion::TimedOut) => Outcome::TimedOut,
            Some(Conclusion::Cancelled) => Outcome::Cancelled,
            _ => Outcome::Other,
        }
    }

    /// A verdict on the backend: only these are in a pass rate's denominator.
    pub fn is_verdict(self) -> bool {
        matches!(
            self,
            Outcome::Success | Outcome::Failure | Outcome::TimedOut
        )
    }

    /// The short name stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::TimedOut => "timed_out",
            Outcome::Cancelled => "cancelled",
            Outcome::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        [
            Outcome::Success,
            Outcome::Failure,
            Outcome::TimedOut,
            Outcome::Cancelled,
            Outcome::Other,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}

/// Seconds as whole microseconds; `None` for a value that is not a finite duration ≥ 0 (ingest
/// refuses those; rows written before it did are counted without the number).
pub fn micros(seconds: f64) -> Option<u64> {
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    // Ingest rounds durations to µs and caps them at ten years, so this is exact and in range.
    let us = (seconds * 1_000_000.0).round();
    (us < u64::MAX as f64).then_some(us as u64)
}

/// What one completed job adds to a rate: its outcome, its duration (counted only for verdicts,
/// so jobs that did not run do not drag the average towards zero) and its queue time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    pub outcome: Outcome,
    pub duration_us: Option<u64>,
    pub queue_us: Option<u64>,
}

impl Contribution {
    /// Queue plus execution time, when both are known (only verdicts have a duration).
    pub fn end_to_end_us(&self) -> Option<u64> {
        self.duration_us?.checked_add(self.queue_us?)
    }

    /// The contribution of a job with `status` and `conclusion`; `None` while it runs (it has no
    /// outcome yet). The duration is the relay's `execution_time` when it measured one, else
    /// `completed_at - started_at` (seconds since the epoch, as the completed row holds them).
    pub fn of(
        status: Status,
        conclusion: Option<Conclusion>,
        execution_time: Option<f64>,
        started_at: Option<i64>,
        completed_at: Option<i64>,
        queue_time: Option<f64>,
    ) -> Option<Contribution> {
        if status == Status::InProgress {
            return None;
        }
        let outcome = Outcome::of(conclusion);
        let duration_us = match execution_time.and_then(micros) {
            Some(us) => Some(us),
            None => match (started_at, completed_at) {
                (Some(start), Some(end)) if end >= start => u64::try_from(end - start)
                    .ok()
                    .and_then(|s| s.checked_mul(1_000_000)),
                _ => None,
            },
        };
        Some(Contribution {
            outcome,
            duration_us: duration_us.filter(|_| outcome.is_verdict()),
            queue_us: queue_time.and_then(micros),
        })
    }
}

/// The sums of a set of contributions. Every field is a count or a sum of whole microseconds,
/// so [`Figures::add`] and [`Figures::retract`] commute: a cell kept by adding and retracting in
/// any order equals the sum of its current contributions. The histograms count the same
/// durations as the sums, per bucket ([`crate::histogram`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    pub completed: i64,
    pub successes: i64,
    pub failures: i64,
    pub timed_out: i64,
    pub cancelled: i64,
    pub other: i64,
    pub duration_sum_us: i64,
    pub durations: i64,
    pub queue_sum_us: i64,
    pub queues: i64,
    pub duration_buckets: Histogram,
    pub queue_buckets: Histogram,
    /// Queue plus duration, for the verdicts with both.
    pub e2e_buckets: Histogram,
}

impl Figures {
    /// The figures of one contribution.
    pub fn of(contribution: &Contribution) -> Figures {
        let mut figures = Figures {
            completed: 1,
            ..Figures::default()
        };
        match contribution.outcome {
            Outcome::Success => figures.successes = 1,
            Outcome::Failure => figures.failures = 1,
            Outcome::TimedOut => figures.timed_out = 1,
            Outcome::Cancelled => figures.cancelled = 1,
            Outcome::Other => figures.other = 1,
        }
        let signed = |us: u64| i64::try_from(us).unwrap_or(i64::MAX);
        if let Some(us) = contribution.duration_us {
            figures.duration_sum_us = signed(us);
            figures.durations = 1;
        }
        if let Some(us) = contribution.queue_us {
            figures.queue_sum_us = signed(us);
            figures.queues = 1;
        }
        figures.duration_buckets = Histogram::of(contribution.duration_us);
        figures.queue_buckets = Histogram::of(contribution.queue_us);
        figures.e2e_buckets = Histogram::of(contribution.end_to_end_us());
        figures
    }

    /// The histogram of `measure`.
    pub fn histogram(&self, measure: Measure) -> &Histogram {
        match measure {
            Measure::Duration => &self.duration_buckets,
            Measure::Queue => &self.queue_buckets,
            Measure::EndToEnd => &self.e2e_buckets,
        }
    }

    fn histogram_mut(&mut self, measure: Measure) -> &mut Histogram {
        match measure {
            Measure::Duration => &mut self.duration_buckets,
            Measure::Queue => &mut self.queue_buckets,
            Measure::EndToEnd => &mut self.e2e_buckets,
        }
    }

    /// `self + other`, field by field.
    pub fn add(&mut self, other: &Figures) {
        self.zip(other, i64::saturating_add);
    }

    /// `self - other`, field by field.
    pub fn retract(&mut self, other: &Figures) {
        self.zip(other, i64::saturating_sub);
    }

    fn zip(&mut self, other: &Figures, op: fn(i64, i64) -> i64) {
        self.completed = op(self.completed, other.completed);
        self.successes = op(self.successes, other.successes);
        self.failures = op(self.failures, other.failures);
        self.timed_out = op(self.timed_out, other.timed_out);
        self.cancelled = op(self.cancelled, other.cancelled);
        self.other = op(self.other, other.other);
        self.duration_sum_us = op(self.duration_sum_us, other.duration_sum_us);
        self.durations = op(self.durations, other.durations);
        self.queue_sum_us = op(self.queue_sum_us, other.queue_sum_us);
        self.queues = op(self.queues, other.queues);
        for measure in Measure::ALL {
            self.histogram_mut(measure)
                .zip(other.histogram(measure), op);
        }
    }

    /// The change that turns `before` into `after` (either may be nothing).
    pub fn delta(before: Option<&Contribution>, after: Option<&Contribution>) -> Figures {
        let mut delta = after.map(Figures::of).unwrap_or_default();
        if let Some(before) = before {
            delta.retract(&Figures::of(before));
        }
        delta
    }

    pub fn is_zero(&self) -> bool {
        *self == Figures::default()
    }

    /// The fields with their names: the sums, in the order of the cells table's columns, then
    /// each histogram's buckets that are not zero (by [`oot_contract::rollup::bucket_attribute`];
    /// a missing one is zero).
    pub fn fields(&self) -> Vec<(Cow<'static, str>, i64)> {
        use oot_contract::rollup::column as c;
        let sums = [
            (c::COMPLETED, self.completed),
            (c::SUCCESSES, self.successes),
            (c::FAILURES, self.failures),
            (c::TIMED_OUT, self.timed_out),
            (c::CANCELLED, self.cancelled),
            (c::OTHER, self.other),
            (c::DURATION_SUM_US, self.duration_sum_us),
            (c::DURATIONS, self.durations),
            (c::QUEUE_SUM_US, self.queue_sum_us),
            (c::QUEUES, self.queues),
        ];
        let mut fields: Vec<(Cow<'static, str>, i64)> = sums
            .into_iter()
            .map(|(name, value)| (Cow::Borrowed(name), value))
            .collect();
        for measure in Measure::ALL {
            for (bucket, count) in self.histogram(measure).counts().iter().enumerate() {
                if *count != 0 {
                    let name = oot_contract::rollup::bucket_attribute(measure.name(), bucket);
                    fields.push((Cow::Owned(name), *count));
                }
            }
        }
        fields
    }

    /// Figures from named fields (missing ones are 0): the inverse of [`Figures::fields`].
    pub fn from_fields(mut get: impl FnMut(&str) -> Option<i64>) -> Figures {
        use oot_contract::rollup::column as c;
        let mut v = |name| get(name).unwrap_or(0);
        let mut figures = Figures {
            completed: v(c::COMPLETED),
            successes: v(c::SUCCESSES),
            failures: v(c::FAILURES),
            timed_out: v(c::TIMED_OUT),
            cancelled: v(c::CANCELLED),
            other: v(c::OTHER),
            duration_sum_us: v(c::DURATION_SUM_US),
            durations: v(c::DURATIONS),
            queue_sum_us: v(c::QUEUE_SUM_US),
            queues: v(c::QUEUES),
            duration_buckets: Histogram::default(),
            queue_buckets: Histogram::default(),
            e2e_buckets: Histogram::default(),
        };
        for measure in Measure::ALL {
            let counts: Vec<i64> = (0..crate::histogram::BUCKETS)
                .map(|bucket| {
                    let name = oot_contract::rollup::bucket_attribute(measure.name(), bucket);
                    get(&name).unwrap_or(0)
                })
                .collect();
            *figures.histogram_mut(measure) = Histogram::from_counts(&counts);
        }
        figures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn done(conclusion: Conclusion, execution: Option<f64>) -> Option<Contribution> {
        Contribution::of(
            Status::Completed,
            Some(conclusion),
            execution,
            Some(100),
            Some(160),
            Some(2.5),
        )
    }

    #[test]
    fn a_running_job_contributes_nothing() {
        let running = Contribution::of(Status::InProgress, None, Some(1.0), None, None, Some(1.0));
        assert_eq!(running, None);
    }

    #[test]
    fn duration_is_execution_time_else_the_span_and_only_for_verdicts() {
        let measured = done(Conclusion::Failure, Some(12.000_001)).expect("completed");
        assert_eq!(measured.duration_us, Some(12_000_001));
        assert_eq!(measured.queue_us, Some(2_500_000));
        let spanned = done(Conclusion::Success, None).expect("completed");
        assert_eq!(spanned.duration_us, Some(60_000_000));
        let cancelled = done(Conclusion::Cancelled, Some(5.0)).expect("completed");
        assert_eq!(cancelled.duration_us, None, "not a verdict");
        assert_eq!(
            cancelled.queue_us,
            Some(2_500_000),
            "queue time counts for every job"
        );
        let odd = Contribution::of(
            Status::Completed,
            None,
            Some(f64::NAN),
            Some(10),
            Some(5),
            None,
        )
        .expect("completed");
        assert_eq!(
            (odd.outcome, odd.duration_us, odd.queue_us),
            (Outcome::Other, None, None)
        );
    }

    #[test]
    fn outcome_names_read_back() {
        for o in [
            Outcome::Success,
            Outcome::Failure,
            Outcome::TimedOut,
            Outcome::Cancelled,
            Outcome::Other,
        ] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("pass"), None);
    }

    #[test]
    fn fields_read_back() {
        let f = Figures::of(&done(Conclusion::TimedOut, Some(3.0)).expect("completed"));
        let fields = f.fields();
        let back = Figures::from_fields(|n| fields.iter().find(|(k, _)| *k == n).map(|(_, v)| *v));
        assert_eq!(back, f);
        assert_eq!(f.e2e_buckets.total(), 1, "a verdict with a queue time");
        assert!(
            fields.iter().any(|(name, v)| name == "e2e_b00" && *v == 1),
            "5.5 s end to end is in the first bucket: {fields:?}"
        );
    }

    fn arb_contribution() -> impl Strategy<Value = Option<Contribution>> {
        (
            0..6u8,
            proptest::option::of(0..10_000_000u64),
            proptest::option::of(0..10_000u64),
        )
            .prop_map(|(o, d, q)| {
                let outcome = match o {
                    0 => return None,
                    1 => Outcome::Success,
                    2 => Outcome::Failure,
                    3 => Outcome::TimedOut,
                    4 => Outcome::Cancelled,
                    _ => Outcome::Other,
                };
                Some(Contribution {
                    outcome,
                    duration_us: d.filter(|_| outcome.is_verdict()),
                    queue_us: q,
                })
            })
    }

    proptest! {
        /// Applying the deltas of a sequence of changes, in any order, leaves the sum of the
        /// final contributions.
        #[test]
        fn deltas_in_any_order_sum_to_the_final_state(
            steps in proptest::collection::vec((0..4usize, arb_contribution()), 0..40),
            order in proptest::collection::vec(any::<proptest::sample::Index>(), 0..40),
        ) {
            let mut current: [Option<Contribution>; 4] = [None; 4];
            let mut deltas = Vec::new();
            for (run, next) in steps {
                deltas.push(Figures::delta(current[run].as_ref(), next.as_ref()));
                current[run] = next;
            }
            for i in order {
                if deltas.len() > 1 {
                    let j = i.index(deltas.len());
                    deltas.swap(0, j);
                }
            }
            let mut cell = Figures::default();
            for d in &deltas {
                cell.add(d);
            }
            let mut expected = Figures::default();
            for c in current.iter().flatten() {
                expected.add(&Figures::of(c));
            }
            prop_assert_eq!(cell, expected);
            prop_assert_eq!(cell.duration_buckets.total(), cell.durations);
            prop_assert_eq!(cell.queue_buckets.total(), cell.queues);
            prop_assert!(cell.e2e_buckets.total() <= cell.durations.min(cell.queues));
        }
    }
}
