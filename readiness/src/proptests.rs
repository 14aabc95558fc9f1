//! Properties of the rules over small random inputs: few jobs, few buckets, thresholds from a
//! short list and levels over a few days, so thresholds are met exactly, `min_jobs` is crossed,
//! limits fall on and between bounds, and levels change within one day and in one second.
//!
//! The `naive_*` functions state the rules the plain way (sorting every observation, counting
//! every value); the crate's versions must answer the same.

use std::cmp::Ordering;

use oot_contract::RepoLevel;
use proptest::prelude::*;

use crate::*;

const DAY: i64 = 86_400;
/// Few bounds, so buckets are often empty, shared or straddled; 10,800 (3 h) is one of them.
const BOUNDS: [f64; 4] = [1_800.0, 3_600.0, 10_800.0, 14_400.0];

/// Mostly jobs under 3 h, sometimes a few over, so the duration gates pass about as often as
/// they fail.
fn arb_histogram() -> impl Strategy<Value = Histogram> {
    let under = proptest::collection::vec(0u64..15, 3);
    let over = proptest::collection::vec(prop_oneof![5 => Just(0u64), 1 => 0u64..3], 2);
    (under, over).prop_map(|(under, over)| {
        let counts = under.into_iter().chain(over).collect();
        Histogram::new(BOUNDS.to_vec(), counts).expect("valid shape")
    })
}

fn arb_figures() -> impl Strategy<Value = WindowFigures> {
    (
        prop_oneof![3 => 20u64..60, 1 => 0u64..20],
        0u64..6,
        prop_oneof![3 => Just(0u64), 1 => 0u64..3],
        prop_oneof![3 => 20u64..40, 1 => 0u64..20],
        prop_oneof![2 => 0.0..1_800.0, 1 => Just(1_800.0), 1 => 1_800.0..3_600.0],
        arb_histogram(),
    )
        .prop_map(
            |(successes, failures, timed_out, queues, average, end_to_end)| WindowFigures {
                successes,
                failures,
                timed_out,
                queue_sum_seconds: average * queues as f64,
                queues,
                end_to_end,
            },
        )
}

fn arb_level() -> impl Strategy<Value = Option<DaysAtLevel>> {
    proptest::option::weighted(
        0.9,
        (
            prop_oneof![6 => Just(RepoLevel::L2), 2 => Just(RepoLevel::L3), 1 => Just(RepoLevel::L1)],
            27u32..45,
            proptest::bool::weighted(0.8),
        )
            .prop_map(|(level, days, exact)| DaysAtLevel {
                level,
                since: 0,
                days,
                exact,
            }),
    )
}

fn arb_thresholds() -> impl Strategy<Value = Thresholds> {
    (
        1u64..25,
        prop_oneof![3 => Just(10_800.0), 1 => Just(3_600.0), 1 => Just(5_000.0), 1 => Just(20_000.0)],
        prop_oneof![Just(0.9), Just(0.8), Just(0.95)],
        prop_oneof![Just(0.01), Just(0.05), Just(0.2)],
        prop_oneof![3 => Just(1_800.0), 1 => Just(1_200.0)],
    )
        .prop_map(|(min_jobs, limit, pass, under, queue)| Thresholds {
            min_jobs,
            overrun_limit_seconds: limit,
            e2e_p50_under_seconds: limit,
            pass_rate_at_least: Fraction::from_f64(pass).expect("fraction"),
            timeout_rate_under: Fraction::from_f64(under).expect("fraction"),
            overrun_rate_under: Fraction::from_f64(under).expect("fraction"),
            queue_average_under_seconds: queue,
            ..Thresholds::default()
        })
}

/// One way of doing better: a failure or timeout that succeeds instead, one more success, a
/// shorter queue, one job faster end to end, or a day longer at the level.
#[derive(Debug, Clone)]
enum Improvement {
    FailureSucceeds,
    TimeoutSucceeds,
    OneMoreSuccess,
    ShorterQueue(f64),
    FasterJob { from: usize, to: usize },
    LongerAtLevel(u32),
}

fn arb_improvement() -> impl Strategy<Value = Improvement> {
    prop_oneof![
        Just(Improvement::FailureSucceeds),
        Just(Improvement::TimeoutSucceeds),
        Just(Improvement::OneMoreSuccess),
        (0.0..2_000.0).prop_map(Improvement::ShorterQueue),
        (0..=BOUNDS.len(), 0..=BOUNDS.len()).prop_map(|(a, b)| Improvement::FasterJob {
            from: a.max(b),
            to: a.min(b)
        }),
        (1u32..10).prop_map(Improvement::LongerAtLevel),
    ]
}

fn improve(
    figures: &WindowFigures,
    level: Option<DaysAtLevel>,
    how: &Improvement,
) -> (WindowFigures, Option<DaysAtLevel>) {
    let mut f = figures.clone();
    let mut level = level;
    match how {
        Improvement::FailureSucceeds if f.failures > 0 => {
            f.failures -= 1;
            f.successes += 1;
        }
        Improvement::TimeoutSucceeds if f.timed_out > 0 => {
            f.timed_out -= 1;
            f.successes += 1;
        }
        Improvement::OneMoreSuccess => f.successes += 1,
        Improvement::ShorterQueue(by) => {
            f.queue_sum_seconds = (f.queue_sum_seconds - by).max(0.0);
        }
        Improvement::FasterJob { from, to } if f.end_to_end.counts()[*from] > 0 => {
            let mut counts = f.end_to_end.counts().to_vec();
            counts[*from] -= 1;
            counts[*to] += 1;
            f.end_to_end = Histogram::new(BOUNDS.to_vec(), counts).expect("same shape");
        }
        Improvement::LongerAtLevel(days) => {
            if let Some(l) = level.as_mut() {
                l.days += days;
            }
        }
        _ => {}
    }
    (f, level)
}

fn statuses(card: &Scorecard) -> Vec<(GateName, GateStatus)> {
    card.promotion
        .gates
        .iter()
        .chain(&card.demotion.gates)
        .map(|g| (g.gate, g.status))
        .collect()
}

proptest! {
    // More cases than elsewhere: an eligible backend or a kept one is about one case in twenty.
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// A gate's status is the comparison of its value with its threshold, unless it has too
    /// few jobs, no value, or a lower bound that cannot decide.
    #[test]
    fn a_gates_status_is_its_value_against_its_threshold(
        promotion in arb_figures(),
        demotion in arb_figures(),
        level in arb_level(),
        t in arb_thresholds(),
    ) {
        let card = scorecard(&promotion, &demotion, level.as_ref(), &t);
        for g in card.promotion.gates.iter().chain(&card.demotion.gates) {
            let too_few = g.jobs.is_some_and(|jobs| jobs < t.min_jobs);
            let Some(value) = g.value.filter(|_| !too_few) else {
                prop_assert_eq!(g.status, GateStatus::NotEnoughData, "{:?}", g);
                continue;
            };
            let holds = match g.comparison {
                Comparison::AtLeast => value >= g.threshold,
                Comparison::Under => value < g.threshold,
            };
            let expected = match (g.value_is_lower_bound, holds, g.comparison) {
                (false, true, _) => GateStatus::Pass,
                (false, false, _) => GateStatus::Fail,
                (true, true, Comparison::AtLeast) => GateStatus::Pass,
                (true, false, Comparison::Under) => GateStatus::Fail,
                (true, _, _) => GateStatus::NotEnoughData,
            };
            prop_assert_eq!(g.status, expected, "{:?}", g);
            if let Some(rate) = g.rate {
                prop_assert_eq!(rate.value(), g.value);
            }
        }
    }

    /// The verdicts are what the gates add up to, at the levels they apply to.
    #[test]
    fn verdicts_add_up_the_gates(
        promotion in arb_figures(),
        demotion in arb_figures(),
        level in arb_level(),
        t in arb_thresholds(),
    ) {
        let card = scorecard(&promotion, &demotion, level.as_ref(), &t);
        let current = level.map(|l| l.level);
        let p = &card.promotion;
        let any = |gates: &[GateResult], status| gates.iter().any(|g| g.status == status);
        let expected = if current != Some(RepoLevel::L2) {
            PromotionVerdict::NotApplicable
        } else if any(&p.gates, GateStatus::Fail) {
            PromotionVerdict::NotEligible
        } else if any(&p.gates, GateStatus::NotEnoughData) {
            PromotionVerdict::NotEnoughData
        } else {
            PromotionVerdict::Eligible
        };
        prop_assert_eq!(p.verdict, expected);
        let d = &card.demotion;
        let expected = if current != Some(RepoLevel::L3) {
            DemotionVerdict::NotApplicable
        } else if any(&d.gates, GateStatus::Fail) {
            DemotionVerdict::Demote
        } else if any(&d.gates, GateStatus::NotEnoughData) {
            DemotionVerdict::NotEnoughData
        } else {
            DemotionVerdict::Keep
        };
        prop_assert_eq!(d.verdict, expected);
        prop_assert_eq!(p.failed.len() + p.not_enough_data.len(),
            p.gates.iter().filter(|g| g.status != GateStatus::Pass).count());
    }

    /// Doing better never fails a gate that passed, so it never turns eligible into not
    /// eligible nor keep into demote. When the overrun limit is a bucket bound, a passing gate
    /// stays passing outright; a limit inside a bucket may turn it into "not enough data" when
    /// a job moves into the bucket the limit straddles.
    #[test]
    fn doing_better_never_fails_a_passing_gate(
        figures in arb_figures(),
        level in arb_level(),
        t in arb_thresholds(),
        how in arb_improvement(),
    ) {
        let before = scorecard(&figures, &figures, level.as_ref(), &t);
        let (better, better_level) = improve(&figures, level, &how);
        let after = scorecard(&better, &better, better_level.as_ref(), &t);
        let limit_is_a_bound = BOUNDS.contains(&t.overrun_limit_seconds);
        for ((name, was), (_, now)) in statuses(&before).into_iter().zip(statuses(&after)) {
            if was == GateStatus::Pass {
                prop_assert_ne!(now, GateStatus::Fail, "{:?} by {:?}", name, how);
                if limit_is_a_bound {
                    prop_assert_eq!(now, GateStatus::Pass, "{:?} by {:?}", name, how);
                }
            }
        }
        if before.promotion.verdict == PromotionVerdict::Eligible {
            prop_assert_ne!(after.promotion.verdict, PromotionVerdict::NotEligible);
            if limit_is_a_bound {
                prop_assert_eq!(after.promotion.verdict, PromotionVerdict::Eligible);
            }
        }
        if before.demotion.verdict == DemotionVerdict::Keep {
            prop_assert_ne!(after.demotion.verdict, DemotionVerdict::Demote);
        }
    }

    /// Looser thresholds never fail a passing gate either.
    #[test]
    fn looser_thresholds_never_fail_a_passing_gate(
        figures in arb_figures(),
        level in arb_level(),
        t in arb_thresholds(),
    ) {
        let looser = Thresholds {
            pass_rate_at_least: Fraction::from_f64(t.pass_rate_at_least.as_f64() - 0.05).expect("fraction"),
            timeout_rate_under: Fraction::from_f64(t.timeout_rate_under.as_f64() + 0.01).expect("fraction"),
            queue_average_under_seconds: t.queue_average_under_seconds + 60.0,
            e2e_p50_under_seconds: t.e2e_p50_under_seconds + 60.0,
            min_days_at_l2: t.min_days_at_l2 - 1,
            min_jobs: t.min_jobs.saturating_sub(1).max(1),
            ..t
        };
        let before = scorecard(&figures, &figures, level.as_ref(), &t);
        let after = scorecard(&figures, &figures, level.as_ref(), &looser);
        for ((name, was), (_, now)) in statuses(&before).into_iter().zip(statuses(&after)) {
            if was == GateStatus::Pass {
                prop_assert_eq!(now, GateStatus::Pass, "{:?}", name);
            }
        }
    }
}

/// The `q` quantile of raw values by nearest rank: the smallest value with at least `q × n`
/// values at or below it (the first for `q = 0`). `q × n` a hair above a whole number `k` (as
/// `k / n × n` can be) is taken as `k`, as `percentile` does.
fn naive_nearest_rank(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let rank = (q * n - n * 4.0 * f64::EPSILON).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn arb_values() -> impl Strategy<Value = Vec<f64>> {
    let value = prop_oneof![
        (0..BOUNDS.len()).prop_map(|i| BOUNDS[i]),
        0.0..20_000.0,
        Just(0.0),
    ];
    proptest::collection::vec(value, 1..30)
}

fn histogram_of(values: &[f64]) -> Histogram {
    let mut h = Histogram::empty(BOUNDS.to_vec()).expect("bounds");
    for v in values {
        h.record(*v);
    }
    h
}

fn bucket_range(bucket: usize) -> (f64, Option<f64>) {
    let lower = if bucket == 0 { 0.0 } else { BOUNDS[bucket - 1] };
    (lower, BOUNDS.get(bucket).copied())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn percentiles_are_monotone_in_q(values in arb_values(), a in 0.0..=1.0f64, b in 0.0..=1.0f64) {
        let h = histogram_of(&values);
        let (low, high) = (a.min(b), a.max(b));
        let (p_low, p_high) = (h.percentile(low).expect("jobs"), h.percentile(high).expect("jobs"));
        prop_assert!(p_low.seconds <= p_high.seconds, "{:?} {:?}", p_low, p_high);
    }

    /// The percentile lies in the bucket that holds the exact (nearest-rank) percentile of the
    /// values counted; in the open-ended bucket it is that bucket's lower bound, marked.
    #[test]
    fn a_percentile_is_within_the_bucket_of_the_exact_one(values in arb_values(), q in 0.0..=1.0f64) {
        let h = histogram_of(&values);
        let exact = naive_nearest_rank(&values, q);
        let p = h.percentile(q).expect("jobs");
        let (lower, upper) = bucket_range(bucket_of(&BOUNDS, exact));
        match upper {
            Some(upper) => {
                prop_assert!(!p.is_lower_bound);
                prop_assert!(lower <= p.seconds && p.seconds <= upper, "{:?} not in [{}, {}]", p, lower, upper);
            }
            None => {
                prop_assert!(p.is_lower_bound);
                prop_assert_eq!(p.seconds, lower);
                prop_assert!(p.seconds <= exact);
            }
        }
    }

    /// When every value sits on a bucket's upper bound, the percentile at `q = k / n` for a
    /// cumulative count `k` is the exact one, and at any `q` it is at most the exact one.
    #[test]
    fn on_upper_bounds_a_percentile_at_a_cumulative_count_is_exact(
        at in proptest::collection::vec(0..BOUNDS.len(), 1..30),
        q in 0.0..=1.0f64,
    ) {
        let values: Vec<f64> = at.iter().map(|i| BOUNDS[*i]).collect();
        let h = histogram_of(&values);
        let p = h.percentile(q).expect("jobs");
        prop_assert!(p.seconds <= naive_nearest_rank(&values, q));
        let n = values.len() as u64;
        let mut through = 0;
        for count in h.counts().iter().filter(|c| **c > 0) {
            through += count;
            let q = through as f64 / n as f64;
            let p = h.percentile(q).expect("jobs");
            prop_assert_eq!(p.seconds, naive_nearest_rank(&values, q), "q = {}/{}", through, n);
        }
    }

    /// The share over a limit counts exactly the values over it when the limit is a bound or
    /// says it is a lower bound; it never counts more; a higher limit never counts more.
    #[test]
    fn share_over_counts_the_values_over_the_limit(
        values in arb_values(),
        limit in prop_oneof![(0..BOUNDS.len()).prop_map(|i| BOUNDS[i]), -10.0..20_000.0],
        higher_by in 0.0..5_000.0f64,
    ) {
        let h = histogram_of(&values);
        let over = values.iter().filter(|v| **v > limit).count() as u64;
        let share = h.share_over(limit).expect("jobs");
        prop_assert_eq!(share.over.denominator(), values.len() as u64);
        prop_assert!(share.over.numerator() <= over);
        if BOUNDS.contains(&limit) {
            prop_assert!(!share.is_lower_bound);
        }
        if !share.is_lower_bound {
            prop_assert_eq!(share.over.numerator(), over);
        }
        let higher = h.share_over(limit + higher_by).expect("jobs");
        prop_assert!(higher.over.numerator() <= share.over.numerator());
    }
}

/// The current level and since when, the plain way: sort every observation, walk back from the
/// newest while the level stays the same.
fn naive_current(observations: &[(i64, RepoLevel)]) -> (RepoLevel, i64) {
    let mut sorted = observations.to_vec();
    sorted.sort();
    let (mut since, level) = *sorted.last().expect("observations");
    for (seen_at, l) in sorted.iter().rev() {
        if *l != level {
            break;
        }
        since = *seen_at;
    }
    (level, since)
}

fn arb_observations() -> impl Strategy<Value = Vec<(i64, RepoLevel)>> {
    let seen_at = prop_oneof![
        (0i64..4).prop_map(|d| d * DAY),
        0i64..4 * DAY,
        (0i64..4).prop_map(|d| d * DAY + 7)
    ];
    let level = prop_oneof![
        Just(RepoLevel::L1),
        Just(RepoLevel::L2),
        Just(RepoLevel::L3)
    ];
    proptest::collection::vec((seen_at, level), 1..25)
}

/// The observations grouped by `group(seen_at, level)`, each group as its level's first and
/// last observation.
fn grouped(observations: &[(i64, RepoLevel)], group: impl Fn(i64) -> i64) -> Vec<LevelExtent> {
    let mut groups: std::collections::BTreeMap<(RepoLevel, i64), (i64, i64)> = Default::default();
    for (seen_at, level) in observations {
        let entry = groups
            .entry((*level, group(*seen_at)))
            .or_insert((*seen_at, *seen_at));
        entry.0 = entry.0.min(*seen_at);
        entry.1 = entry.1.max(*seen_at);
    }
    groups
        .into_iter()
        .map(|((level, _), (first_seen, last_seen))| LevelExtent {
            level,
            first_seen,
            last_seen,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// From single observations: the naive current run, in any order, and spans that cover every
    /// observation with a change at each boundary.
    #[test]
    fn observations_give_the_exact_history_in_any_order(
        (observations, shuffled) in arb_observations().prop_flat_map(|o| (Just(o.clone()), Just(o).prop_shuffle())),
    ) {
        let h = level_history(&observations).expect("history");
        prop_assert_eq!(Some(h.clone()), level_history(&shuffled));
        let (level, since) = naive_current(&observations);
        prop_assert_eq!((h.current.level, h.current.since, h.current.exact), (level, since, true));
        let spans = h.spans.clone().expect("observations order the spans");
        for pair in spans.windows(2) {
            prop_assert_ne!(pair[0].level, pair[1].level);
            prop_assert!((pair[0].last_seen, pair[0].level) < (pair[1].first_seen, pair[1].level));
        }
        let last = spans.last().expect("a span");
        prop_assert_eq!((last.level, last.first_seen), (level, since));
        for (seen_at, l) in &observations {
            prop_assert!(spans.iter().any(|s| s.level == *l && s.first_seen <= *seen_at && *seen_at <= s.last_seen));
        }
        for extent in &h.levels {
            let seen: Vec<i64> = observations.iter().filter(|(_, l)| *l == extent.level).map(|(t, _)| *t).collect();
            prop_assert_eq!(Some(extent.first_seen), seen.iter().copied().min());
            prop_assert_eq!(Some(extent.last_seen), seen.iter().copied().max());
        }
    }

    /// Grouped per level and day, or per level: the levels and the current level are exact; the
    /// start of the current run is exact when said so, and otherwise no earlier than the truth
    /// and after the previous level's last observation, so the days are never overstated.
    #[test]
    fn groups_are_exact_or_say_how_they_are_not(
        observations in arb_observations(),
        now_after in 0i64..40 * DAY,
    ) {
        let exact = level_history(&observations).expect("history");
        let (level, true_since) = naive_current(&observations);
        let now = observations.iter().map(|(t, _)| *t).max().unwrap_or(0) + now_after;
        let per_day = grouped(&observations, |t| t.div_euclid(DAY));
        let per_level = grouped(&observations, |_| 0);
        for extents in [per_day, per_level] {
            let h = level_history_from_extents(&extents).expect("history");
            prop_assert_eq!(&h.levels, &exact.levels);
            prop_assert_eq!(h.current.level, level);
            prop_assert_eq!(h.current.previous, exact.current.previous);
            if h.current.exact {
                prop_assert_eq!(h.current.since, true_since);
            } else {
                prop_assert!(h.current.since >= true_since);
                let previous = h.current.previous.expect("inexact only after another level");
                prop_assert!((h.current.since, level) > (previous.last_seen, previous.level));
            }
            prop_assert!(h.current.days_at(now).days <= exact.current.days_at(now).days);
            if let Some(spans) = &h.spans {
                prop_assert_eq!(Some(spans), exact.spans.as_ref());
            }
        }
    }
}

#[test]
fn naive_nearest_rank_is_the_textbook_one() {
    let values = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(naive_nearest_rank(&values, 0.5), 2.0);
    assert_eq!(naive_nearest_rank(&values, 0.51), 3.0);
    assert_eq!(naive_nearest_rank(&values, 0.0), 1.0);
    assert_eq!(naive_nearest_rank(&values, 1.0), 4.0);
    assert_eq!(
        naive_nearest_rank(&values, 0.5).partial_cmp(&2.0),
        Some(Ordering::Equal)
    );
}
