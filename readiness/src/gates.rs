//! The scorecard: each gate of RFC-0054's revised rules with its value and threshold, and the
//! promotion and demotion verdicts they add up to (issue 12).
//!
//! **Gates** (the list [`GATES`]; adding a gate is one entry there, one [`GateName`] and its
//! threshold in [`Thresholds`]):
//!
//! | gate | value | passes when | judged for |
//! |---|---|---|---|
//! | `days_at_l2` | whole days in the current run at L2 (0 at another level) | at least `min_days_at_l2` | promotion |
//! | `e2e_p50` | median end-to-end time (queue + execution) | under `e2e_p50_under_seconds` | both |
//! | `overrun_rate` | jobs with end-to-end time over `overrun_limit_seconds` / jobs with one | under `overrun_rate_under` | both |
//! | `queue_average` | queue time summed / jobs reporting one | under `queue_average_under_seconds` | both |
//! | `timeout_rate` | timed_out / verdict jobs | under `timeout_rate_under` | both |
//! | `pass_rate` | success / verdict jobs | at least `pass_rate_at_least` | both |
//!
//! Verdict jobs are success + failure + timed_out, counted as §11.4 counts them (latest attempt,
//! completed); cancelled and other conclusions are in no rate.
//!
//! **Status of a gate**, in this order:
//! 1. `not_enough_data` when the gate is read from jobs and fewer than `min_jobs` of them are
//!    in the window (each gate counts its own: verdict jobs for the two rates, jobs reporting a
//!    queue time for the queue, jobs with an end-to-end time for the median and the overruns),
//!    or there is no value at all (no jobs, no queue data, no level known for the days);
//! 2. otherwise the comparison: "under" is strict (a median of exactly 3 h fails, as does a
//!    timeout rate of exactly 1%), "at least" is inclusive (a pass rate of exactly 90% passes,
//!    as do exactly 30 days). Rates are compared exactly, as fractions;
//! 3. a value known only as a lower bound (a median in the histogram's open-ended bucket, an
//!    overrun count whose limit falls inside a bucket, days at a level whose start a grouped
//!    history cannot place) decides only what a lower bound can: an "under" gate fails when
//!    the bound already reaches the threshold, an "at least" gate passes when the bound already
//!    does; otherwise the status is `not_enough_data`.
//!
//! **Verdicts.** Promotion applies at L2, demotion at L3; at any other level, or when the level
//! is unknown, the verdict is `not_applicable` (the gates are still shown). A failed gate
//! decides (not eligible, demote) even when others lack data; with no failure, a gate without
//! enough data makes the verdict `not_enough_data`; only every gate passing makes a backend
//! eligible, or keeps it.

use std::cmp::Ordering;

use oot_contract::RepoLevel;
use serde::Serialize;

use crate::levels::DaysAtLevel;
use crate::percentile::Histogram;
use crate::rate::{Fraction, Rate};
use crate::thresholds::Thresholds;

/// Promotion to L3 is judged for backends at this level.
pub const PROMOTED_FROM: RepoLevel = RepoLevel::L2;
/// Demotion to L2 is judged for backends at this level.
pub const DEMOTED_FROM: RepoLevel = RepoLevel::L3;

/// What a backend's jobs add up to over one window, as the rollups give it.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFigures {
    pub successes: u64,
    pub failures: u64,
    pub timed_out: u64,
    /// Queue times of the window's completed jobs that report one, summed, and how many they
    /// are. A sum that is not a finite number ≥ 0 is read as no queue data.
    pub queue_sum_seconds: f64,
    pub queues: u64,
    /// End-to-end times (queue + execution) of the window's jobs for which both are known: the
    /// verdict jobs, as the rollups count a duration only for those (a cancelled job's time says
    /// nothing about the backend's speed). The median and the overruns are read from it.
    pub end_to_end: Histogram,
}

impl WindowFigures {
    /// Jobs with a verdict on the backend: success + failure + timed_out.
    pub fn verdict_jobs(&self) -> u64 {
        self.successes
            .saturating_add(self.failures)
            .saturating_add(self.timed_out)
    }

    pub fn pass_rate(&self) -> Rate {
        of_verdicts(self.successes, self.verdict_jobs())
    }

    pub fn timeout_rate(&self) -> Rate {
        of_verdicts(self.timed_out, self.verdict_jobs())
    }

    /// `None` without queue data (no job reported one, or the sum is not a duration).
    pub fn queue_average_seconds(&self) -> Option<f64> {
        let usable =
            self.queues > 0 && self.queue_sum_seconds.is_finite() && self.queue_sum_seconds >= 0.0;
        usable.then(|| self.queue_sum_seconds / self.queues as f64)
    }
}

/// A part of the verdict jobs; each part is at most their (saturating) sum.
fn of_verdicts(part: u64, verdict_jobs: u64) -> Rate {
    Rate::new(part.min(verdict_jobs), verdict_jobs).unwrap_or(NO_JOBS)
}

const NO_JOBS: Rate = match Rate::new(0, 0) {
    Some(rate) => rate,
    None => panic!("0/0 is a rate"),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateName {
    DaysAtL2,
    E2eP50,
    OverrunRate,
    QueueAverage,
    TimeoutRate,
    PassRate,
}

/// How a gate's value must stand to its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// value ≥ threshold.
    AtLeast,
    /// value < threshold.
    Under,
}

impl Comparison {
    /// Whether a value standing `ordering` to the threshold meets it.
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            Comparison::AtLeast => ordering != Ordering::Less,
            Comparison::Under => ordering == Ordering::Less,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateStatus {
    Pass,
    Fail,
    NotEnoughData,
}

/// The unit of a gate's value and threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Days,
    Seconds,
    /// A proportion from 0 to 1.
    Fraction,
}

/// One gate as judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    pub gate: GateName,
    pub comparison: Comparison,
    pub unit: Unit,
    pub threshold: f64,
    /// `None` when there is nothing to measure (no jobs, no queue data, no level known).
    pub value: Option<f64>,
    /// The true value is at least `value` (see the module).
    pub value_is_lower_bound: bool,
    /// Numerator and denominator, for the gates that are rates.
    pub rate: Option<Rate>,
    /// The jobs the value is computed from; `None` for a gate not read from jobs.
    pub jobs: Option<u64>,
    pub status: GateStatus,
    /// The window the value is read over; `None` for days at L2 (read from the level history).
    pub window_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionVerdict {
    Eligible,
    NotEligible,
    NotEnoughData,
    /// The backend is not at L2, or its level is unknown.
    NotApplicable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DemotionVerdict {
    Keep,
    Demote,
    NotEnoughData,
    /// The backend is not at L3, or its level is unknown.
    NotApplicable,
}

/// A verdict with the gates it was reached on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement<V> {
    pub verdict: V,
    pub window_days: u32,
    /// The gates that failed, in the order of [`GATES`].
    pub failed: Vec<GateName>,
    /// The gates without enough data, in the order of [`GATES`].
    pub not_enough_data: Vec<GateName>,
    pub gates: Vec<GateResult>,
}

/// A backend's scorecard: its level and both verdicts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    pub level: Option<DaysAtLevel>,
    pub promotion: Judgement<PromotionVerdict>,
    pub demotion: Judgement<DemotionVerdict>,
}

/// One entry of the gate list: how a gate is named, compared and measured.
pub struct Gate {
    pub name: GateName,
    pub comparison: Comparison,
    pub unit: Unit,
    /// Judged for demotion as well as promotion.
    pub in_demotion: bool,
    measure: fn(&Evidence<'_>, &Thresholds) -> Measurement,
}

/// What a gate is measured on: one window's figures and the backend's days at its level.
struct Evidence<'a> {
    figures: &'a WindowFigures,
    level: Option<&'a DaysAtLevel>,
}

/// A gate's reading before it is judged.
struct Measurement {
    reading: Reading,
    is_lower_bound: bool,
    jobs: Option<u64>,
}

enum Reading {
    Number { value: Option<f64>, threshold: f64 },
    Rate { rate: Rate, threshold: Fraction },
}

impl Reading {
    /// The value against the threshold; `None` when there is no value.
    fn ordering(&self) -> Option<Ordering> {
        match self {
            Reading::Number { value, threshold } => (*value)?.partial_cmp(threshold),
            Reading::Rate { rate, threshold } => rate.cmp_fraction(*threshold),
        }
    }
}

/// Every gate, in the order the scorecard lists them.
pub const GATES: &[Gate] = &[
    Gate {
        name: GateName::DaysAtL2,
        comparison: Comparison::AtLeast,
        unit: Unit::Days,
        in_demotion: false,
        measure: days_at_l2,
    },
    Gate {
        name: GateName::E2eP50,
        comparison: Comparison::Under,
        unit: Unit::Seconds,
        in_demotion: true,
        measure: e2e_p50,
    },
    Gate {
        name: GateName::OverrunRate,
        comparison: Comparison::Under,
        unit: Unit::Fraction,
        in_demotion: true,
        measure: overrun_rate,
    },
    Gate {
        name: GateName::QueueAverage,
        comparison: Comparison::Under,
        unit: Unit::Seconds,
        in_demotion: true,
        measure: queue_average,
    },
    Gate {
        name: GateName::TimeoutRate,
        comparison: Comparison::Under,
        unit: Unit::Fraction,
        in_demotion: true,
        measure: timeout_rate,
    },
    Gate {
        name: GateName::PassRate,
        comparison: Comparison::AtLeast,
        unit: Unit::Fraction,
        in_demotion: true,
        measure: pass_rate,
    },
];

/// Days in the current run at L2; 0 at another level (it is not at L2 now). Not read from jobs.
fn days_at_l2(evidence: &Evidence<'_>, t: &Thresholds) -> Measurement {
    let at_l2 = evidence.level.filter(|d| d.level == RepoLevel::L2);
    Measurement {
        reading: Reading::Number {
            value: evidence.level.map(|d| match at_l2 {
                Some(_) => f64::from(d.days),
                None => 0.0,
            }),
            threshold: f64::from(t.min_days_at_l2),
        },
        is_lower_bound: at_l2.is_some_and(|d| !d.exact),
        jobs: None,
    }
}

fn e2e_p50(evidence: &Evidence<'_>, t: &Thresholds) -> Measurement {
    let histogram = &evidence.figures.end_to_end;
    let median = histogram.percentile(0.5);
    Measurement {
        reading: Reading::Number {
            value: median.map(|p| p.seconds),
            threshold: t.e2e_p50_under_seconds,
        },
        is_lower_bound: median.is_some_and(|p| p.is_lower_bound),
        jobs: Some(histogram.total()),
    }
}

fn overrun_rate(evidence: &Evidence<'_>, t: &Thresholds) -> Measurement {
    let histogram = &evidence.figures.end_to_end;
    let share = histogram.share_over(t.overrun_limit_seconds);
    Measurement {
        reading: Reading::Rate {
            rate: share.map_or(NO_JOBS, |s| s.over),
            threshold: t.overrun_rate_under,
        },
        is_lower_bound: share.is_some_and(|s| s.is_lower_bound),
        jobs: Some(histogram.total()),
    }
}

fn queue_average(evidence: &Evidence<'_>, t: &Thresholds) -> Measurement {
    Measurement {
        reading: Reading::Number {
            value: evidence.figures.queue_average_seconds(),
            threshold: t.queue_average_under_seconds,
        },
        is_lower_bound: false,
        jobs: Some(evidence.figures.queues),
    }
}

fn timeout_rate(evidence: &Evidence<'_>, t: &Thresholds) -> Measurement {
    Measurement {
        reading: Reading::Rate {
            rate: evidence.figures.timeout_rate(),
            threshold: t.timeout_rate_under,
        },
        is_lower_bound: false,
        jobs: Some(evidence.figures.verdict_jobs()),
    }
}

fn pass_rate(evidence: &Evidence<'_>, t: &Thresholds) -> Measurement {
    Measurement {
        reading: Reading::Rate {
            rate: evidence.figures.pass_rate(),
            threshold: t.pass_rate_at_least,
        },
        is_lower_bound: false,
        jobs: Some(evidence.figures.verdict_jobs()),
    }
}

impl Gate {
    fn judge(&self, evidence: &Evidence<'_>, t: &Thresholds, window_days: u32) -> GateResult {
        let measurement = (self.measure)(evidence, t);
        let too_few = measurement.jobs.is_some_and(|jobs| jobs < t.min_jobs);
        let status = match measurement.reading.ordering() {
            Some(ordering) if !too_few => {
                status_of(self.comparison, ordering, measurement.is_lower_bound)
            }
            _ => GateStatus::NotEnoughData,
        };
        let (value, threshold, rate) = match measurement.reading {
            Reading::Number { value, threshold } => (value, threshold, None),
            Reading::Rate { rate, threshold } => (rate.value(), threshold.as_f64(), Some(rate)),
        };
        GateResult {
            gate: self.name,
            comparison: self.comparison,
            unit: self.unit,
            threshold,
            value,
            value_is_lower_bound: measurement.is_lower_bound,
            rate,
            jobs: measurement.jobs,
            status,
            window_days: measurement.jobs.map(|_| window_days),
        }
    }
}

/// A gate's status from where its value stands to the threshold. A lower bound (the truth is at
/// least the value) decides only when it already fails an "under" gate or already passes an
/// "at least" gate.
pub fn status_of(comparison: Comparison, ordering: Ordering, is_lower_bound: bool) -> GateStatus {
    let holds = comparison.holds(ordering);
    match (is_lower_bound, comparison, holds) {
        (false, _, true) => GateStatus::Pass,
        (false, _, false) => GateStatus::Fail,
        (true, Comparison::AtLeast, true) => GateStatus::Pass,
        (true, Comparison::Under, false) => GateStatus::Fail,
        (true, _, _) => GateStatus::NotEnoughData,
    }
}

/// The scorecard of a backend: the gates over the promotion window's figures (with the days at
/// L2) and over the demotion window's, and the verdicts for its level. `level` is the current
/// level and days at it (`None` when no job carried a level). The windows' lengths are
/// `thresholds`' (the caller reads the figures over them); they are reported with the gates.
pub fn scorecard(
    promotion_window: &WindowFigures,
    demotion_window: &WindowFigures,
    level: Option<&DaysAtLevel>,
    thresholds: &Thresholds,
) -> Scorecard {
    let current = level.map(|d| d.level);
    let promotion = judgement(
        GATES.iter(),
        &Evidence {
            figures: promotion_window,
            level,
        },
        thresholds,
        thresholds.promotion_window_days,
        |failed, lacking| match current {
            Some(PROMOTED_FROM) if failed => PromotionVerdict::NotEligible,
            Some(PROMOTED_FROM) if lacking => PromotionVerdict::NotEnoughData,
            Some(PROMOTED_FROM) => PromotionVerdict::Eligible,
            _ => PromotionVerdict::NotApplicable,
        },
    );
    let demotion = judgement(
        GATES.iter().filter(|gate| gate.in_demotion),
        &Evidence {
            figures: demotion_window,
            level,
        },
        thresholds,
        thresholds.demotion_window_days,
        |failed, lacking| match current {
            Some(DEMOTED_FROM) if failed => DemotionVerdict::Demote,
            Some(DEMOTED_FROM) if lacking => DemotionVerdict::NotEnoughData,
            Some(DEMOTED_FROM) => DemotionVerdict::Keep,
            _ => DemotionVerdict::NotApplicable,
        },
    );
    Scorecard {
        level: level.copied(),
        promotion,
        demotion,
    }
}

/// The gates judged on `evidence` and the verdict `decide(any failed, any lacking data)`.
fn judgement<'g, V>(
    gates: impl Iterator<Item = &'g Gate>,
    evidence: &Evidence<'_>,
    thresholds: &Thresholds,
    window_days: u32,
    decide: impl Fn(bool, bool) -> V,
) -> Judgement<V> {
    let gates: Vec<GateResult> = gates
        .map(|gate| gate.judge(evidence, thresholds, window_days))
        .collect();
    let with = |status: GateStatus| -> Vec<GateName> {
        gates
            .iter()
            .filter(|g| g.status == status)
            .map(|g| g.gate)
            .collect()
    };
    let failed = with(GateStatus::Fail);
    let not_enough_data = with(GateStatus::NotEnoughData);
    Judgement {
        verdict: decide(!failed.is_empty(), !not_enough_data.is_empty()),
        window_days,
        failed,
        not_enough_data,
        gates,
    }
}

#[cfg(test)]
mod tests;
