//! Each gate at, just below and just above its threshold; not enough data; the verdicts.

use super::*;
use crate::percentile::DURATION_BUCKET_BOUNDS_S;
use RepoLevel::{L1, L2, L3};

const HOUR: f64 = 3600.0;

/// `n` jobs taking `seconds` end to end.
fn e2e(groups: &[(u64, f64)]) -> Histogram {
    let mut histogram = Histogram::empty(DURATION_BUCKET_BOUNDS_S.to_vec()).expect("bounds");
    for (n, seconds) in groups {
        for _ in 0..*n {
            assert!(histogram.record(*seconds));
        }
    }
    histogram
}

/// 100 verdict jobs, 95 passing, none timed out, queued 10 min on average, 1 h end to end:
/// every gate passes by a margin.
fn healthy() -> WindowFigures {
    WindowFigures {
        successes: 95,
        failures: 5,
        timed_out: 0,
        queue_sum_seconds: 100.0 * 600.0,
        queues: 100,
        end_to_end: e2e(&[(100, HOUR)]),
    }
}

fn at(level: RepoLevel, days: u32) -> DaysAtLevel {
    DaysAtLevel {
        level,
        since: 0,
        days,
        exact: true,
    }
}

fn card(figures: &WindowFigures, level: Option<DaysAtLevel>) -> Scorecard {
    scorecard(figures, figures, level.as_ref(), &Thresholds::default())
}

fn gate(card: &Scorecard, name: GateName) -> GateResult {
    card.promotion
        .gates
        .iter()
        .find(|g| g.gate == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name:?} is judged for promotion"))
}

fn status(figures: &WindowFigures, name: GateName) -> GateStatus {
    gate(&card(figures, Some(at(L2, 40))), name).status
}

#[test]
fn healthy_l2_backend_is_eligible() {
    let c = card(&healthy(), Some(at(L2, 40)));
    assert_eq!(c.promotion.verdict, PromotionVerdict::Eligible);
    assert!(c.promotion.failed.is_empty() && c.promotion.not_enough_data.is_empty());
    assert_eq!(c.promotion.window_days, 14);
    assert_eq!(c.demotion.window_days, 7);
    assert_eq!(c.demotion.verdict, DemotionVerdict::NotApplicable);
    let names: Vec<GateName> = c.promotion.gates.iter().map(|g| g.gate).collect();
    assert_eq!(names, GATES.iter().map(|g| g.name).collect::<Vec<_>>());
    // Days at L2 is promotion's alone.
    assert!(c
        .demotion
        .gates
        .iter()
        .all(|g| g.gate != GateName::DaysAtL2));
    assert_eq!(c.demotion.gates.len(), GATES.len() - 1);
}

#[test]
fn pass_rate_at_least_90_percent_inclusive() {
    let with = |successes: u64, failures: u64| WindowFigures {
        successes,
        failures,
        ..healthy()
    };
    assert_eq!(status(&with(90, 10), GateName::PassRate), GateStatus::Pass);
    assert_eq!(
        status(&with(899, 101), GateName::PassRate),
        GateStatus::Fail
    );
    assert_eq!(status(&with(901, 99), GateName::PassRate), GateStatus::Pass);
    let g = gate(&card(&with(90, 10), Some(at(L2, 40))), GateName::PassRate);
    assert_eq!(g.rate, Rate::new(90, 100));
    assert_eq!(g.value, Some(0.9));
    assert_eq!(g.threshold, 0.9);
    assert_eq!(g.comparison, Comparison::AtLeast);
    assert_eq!(g.unit, Unit::Fraction);
    assert_eq!(g.jobs, Some(100));
    assert_eq!(g.window_days, Some(14));
}

#[test]
fn timed_out_jobs_count_against_the_pass_rate() {
    // 90 successes, 10 timeouts: a pass rate of exactly 90%, but the timeout rate fails.
    let f = WindowFigures {
        successes: 90,
        failures: 0,
        timed_out: 10,
        ..healthy()
    };
    assert_eq!(status(&f, GateName::PassRate), GateStatus::Pass);
    assert_eq!(status(&f, GateName::TimeoutRate), GateStatus::Fail);
}

#[test]
fn timeout_rate_under_1_percent_strict() {
    let with = |timed_out: u64, verdict_jobs: u64| WindowFigures {
        successes: verdict_jobs - timed_out,
        failures: 0,
        timed_out,
        ..healthy()
    };
    assert_eq!(
        status(&with(1, 100), GateName::TimeoutRate),
        GateStatus::Fail
    );
    assert_eq!(
        status(&with(1, 101), GateName::TimeoutRate),
        GateStatus::Pass
    );
    assert_eq!(
        status(&with(1, 99), GateName::TimeoutRate),
        GateStatus::Fail
    );
    // Below 101 jobs, one timeout fails the gate: "under 1%" allows none there.
    assert_eq!(
        status(&with(0, 20), GateName::TimeoutRate),
        GateStatus::Pass
    );
}

#[test]
fn queue_average_under_30_minutes_strict() {
    let with = |average: f64| WindowFigures {
        queue_sum_seconds: average * 100.0,
        ..healthy()
    };
    assert_eq!(
        status(&with(1800.0), GateName::QueueAverage),
        GateStatus::Fail
    );
    assert_eq!(
        status(&with(1799.99), GateName::QueueAverage),
        GateStatus::Pass
    );
    assert_eq!(
        status(&with(1800.01), GateName::QueueAverage),
        GateStatus::Fail
    );
    let g = gate(
        &card(&with(1800.0), Some(at(L2, 40))),
        GateName::QueueAverage,
    );
    assert_eq!((g.value, g.threshold, g.rate), (Some(1800.0), 1800.0, None));
}

#[test]
fn missing_queue_data_is_not_enough_data() {
    for (sum, queues) in [(0.0, 0), (f64::NAN, 50), (-1.0, 50)] {
        let f = WindowFigures {
            queue_sum_seconds: sum,
            queues,
            ..healthy()
        };
        let c = card(&f, Some(at(L2, 40)));
        let g = gate(&c, GateName::QueueAverage);
        assert_eq!((g.status, g.value), (GateStatus::NotEnoughData, None));
        assert_eq!(c.promotion.verdict, PromotionVerdict::NotEnoughData);
        assert_eq!(c.promotion.not_enough_data, vec![GateName::QueueAverage]);
    }
    // A few jobs reporting a queue time are too few even if the others have verdicts.
    let f = WindowFigures {
        queue_sum_seconds: 19.0 * 60.0,
        queues: 19,
        ..healthy()
    };
    assert_eq!(
        status(&f, GateName::QueueAverage),
        GateStatus::NotEnoughData
    );
}

#[test]
fn e2e_median_under_3_hours_strict() {
    // 40 short jobs, then the median's rank 50 ends exactly at the 3 h bound.
    let at_threshold = e2e(&[(40, 60.0), (10, 3.0 * HOUR), (50, 20_000.0)]);
    // The rank falls 10/11 of the way into (2.5 h, 3 h]: 2 h 57 min.
    let just_below = e2e(&[(40, 60.0), (11, 3.0 * HOUR), (49, 20_000.0)]);
    // The rank falls 1/51 of the way into (3 h, 3.5 h]: 3 h 0 min 35 s.
    let just_above = e2e(&[(40, 60.0), (9, 3.0 * HOUR), (51, 12_000.0)]);
    let with = |h: &Histogram| WindowFigures {
        end_to_end: h.clone(),
        ..healthy()
    };
    let g = gate(
        &card(&with(&at_threshold), Some(at(L2, 40))),
        GateName::E2eP50,
    );
    assert_eq!((g.value, g.status), (Some(10_800.0), GateStatus::Fail));
    let g = gate(
        &card(&with(&just_below), Some(at(L2, 40))),
        GateName::E2eP50,
    );
    assert!(
        g.value.is_some_and(|v| v < 10_800.0 && v > 10_600.0),
        "{g:?}"
    );
    assert_eq!(g.status, GateStatus::Pass);
    let g = gate(
        &card(&with(&just_above), Some(at(L2, 40))),
        GateName::E2eP50,
    );
    assert!(
        g.value.is_some_and(|v| v > 10_800.0 && v < 10_900.0),
        "{g:?}"
    );
    assert_eq!(g.status, GateStatus::Fail);
}

#[test]
fn a_median_known_only_as_a_lower_bound_decides_only_a_failure() {
    // Past the last bound (24 h): the median is "at least 24 h", which fails "under 3 h".
    let f = WindowFigures {
        end_to_end: e2e(&[(100, 100_000.0)]),
        ..healthy()
    };
    let g = gate(&card(&f, Some(at(L2, 40))), GateName::E2eP50);
    assert_eq!((g.value, g.value_is_lower_bound), (Some(86_400.0), true));
    assert_eq!(g.status, GateStatus::Fail);
    // Buckets ending at 1 h: "at least 1 h" cannot tell whether it is under 3 h.
    let mut short = Histogram::empty(vec![60.0, HOUR]).expect("bounds");
    for _ in 0..100 {
        short.record(2.0 * HOUR);
    }
    let f = WindowFigures {
        end_to_end: short,
        ..healthy()
    };
    let g = gate(&card(&f, Some(at(L2, 40))), GateName::E2eP50);
    assert_eq!((g.value, g.value_is_lower_bound), (Some(HOUR), true));
    assert_eq!(g.status, GateStatus::NotEnoughData);
}

#[test]
fn overrun_rate_under_1_percent_strict_over_3_hours_strict() {
    let with = |h: Histogram| WindowFigures {
        end_to_end: h,
        ..healthy()
    };
    // Exactly 3 h is not an overrun.
    let on_limit = with(e2e(&[(99, HOUR), (1, 3.0 * HOUR)]));
    assert_eq!(status(&on_limit, GateName::OverrunRate), GateStatus::Pass);
    // One just over 3 h in 100 jobs: exactly 1%, which is not under 1%.
    let at_threshold = with(e2e(&[(99, HOUR), (1, 3.0 * HOUR + 1.0)]));
    let g = gate(
        &card(&at_threshold, Some(at(L2, 40))),
        GateName::OverrunRate,
    );
    assert_eq!((g.rate, g.status), (Rate::new(1, 100), GateStatus::Fail));
    assert_eq!(g.threshold, 0.01);
    let just_below = with(e2e(&[(100, HOUR), (1, 4.0 * HOUR)]));
    assert_eq!(status(&just_below, GateName::OverrunRate), GateStatus::Pass);
    let just_above = with(e2e(&[(98, HOUR), (2, 4.0 * HOUR)]));
    assert_eq!(status(&just_above, GateName::OverrunRate), GateStatus::Fail);
}

#[test]
fn an_overrun_limit_between_bounds_gives_a_lower_bound() {
    // 2 h 45 min falls inside the bucket (2.5 h, 3 h]: its jobs may or may not be overruns.
    let t = Thresholds {
        overrun_limit_seconds: 9_900.0,
        ..Thresholds::default()
    };
    let judge = |h: Histogram| {
        let f = WindowFigures {
            end_to_end: h,
            ..healthy()
        };
        let c = scorecard(&f, &f, Some(&at(L2, 40)), &t);
        gate(&c, GateName::OverrunRate)
    };
    let g = judge(e2e(&[(99, HOUR), (1, 10_000.0)]));
    assert_eq!((g.rate, g.value_is_lower_bound), (Rate::new(0, 100), true));
    assert_eq!(g.status, GateStatus::NotEnoughData);
    // Jobs certainly over reach 1% already: a failure whatever the straddled bucket holds.
    let g = judge(e2e(&[(97, HOUR), (1, 10_000.0), (2, 4.0 * HOUR)]));
    assert_eq!((g.rate, g.status), (Rate::new(2, 100), GateStatus::Fail));
    // Nothing in the straddled bucket: exact.
    let g = judge(e2e(&[(100, HOUR)]));
    assert_eq!(
        (g.value_is_lower_bound, g.status),
        (false, GateStatus::Pass)
    );
}

#[test]
fn days_at_l2_at_least_30_inclusive() {
    let f = healthy();
    let days = |level: DaysAtLevel| gate(&card(&f, Some(level)), GateName::DaysAtL2);
    assert_eq!(days(at(L2, 30)).status, GateStatus::Pass);
    assert_eq!(days(at(L2, 29)).status, GateStatus::Fail);
    assert_eq!(days(at(L2, 31)).status, GateStatus::Pass);
    let g = days(at(L2, 30));
    assert_eq!(
        (g.value, g.threshold, g.unit),
        (Some(30.0), 30.0, Unit::Days)
    );
    assert_eq!((g.jobs, g.window_days), (None, None));
    assert_eq!(
        card(&f, Some(at(L2, 29))).promotion.verdict,
        PromotionVerdict::NotEligible
    );
    assert_eq!(
        card(&f, Some(at(L2, 29))).promotion.failed,
        vec![GateName::DaysAtL2]
    );
}

#[test]
fn days_known_only_as_a_lower_bound_decide_only_a_pass() {
    let f = healthy();
    let inexact = |days: u32| DaysAtLevel {
        exact: false,
        ..at(L2, days)
    };
    let c = card(&f, Some(inexact(30)));
    assert_eq!(gate(&c, GateName::DaysAtL2).status, GateStatus::Pass);
    assert_eq!(c.promotion.verdict, PromotionVerdict::Eligible);
    let c = card(&f, Some(inexact(29)));
    let g = gate(&c, GateName::DaysAtL2);
    assert_eq!(
        (g.status, g.value_is_lower_bound),
        (GateStatus::NotEnoughData, true)
    );
    assert_eq!(c.promotion.verdict, PromotionVerdict::NotEnoughData);
}

#[test]
fn too_few_jobs_is_not_enough_data_never_pass_or_fail() {
    // 19 verdict jobs, all failing: the rates are shown but not judged.
    let f = WindowFigures {
        successes: 0,
        failures: 19,
        ..healthy()
    };
    let c = card(&f, Some(at(L2, 40)));
    let g = gate(&c, GateName::PassRate);
    assert_eq!(
        (g.status, g.rate),
        (GateStatus::NotEnoughData, Rate::new(0, 19))
    );
    assert_eq!(g.value, Some(0.0));
    assert_eq!(
        c.promotion.not_enough_data,
        vec![GateName::TimeoutRate, GateName::PassRate]
    );
    assert_eq!(c.promotion.verdict, PromotionVerdict::NotEnoughData);
    // 20 is enough.
    let f = WindowFigures {
        successes: 18,
        failures: 2,
        ..healthy()
    };
    assert_eq!(
        card(&f, Some(at(L2, 40))).promotion.verdict,
        PromotionVerdict::Eligible
    );
}

#[test]
fn a_window_without_jobs_has_no_values() {
    let empty = WindowFigures {
        successes: 0,
        failures: 0,
        timed_out: 0,
        queue_sum_seconds: 0.0,
        queues: 0,
        end_to_end: e2e(&[]),
    };
    let c = card(&empty, Some(at(L3, 100)));
    for g in &c.demotion.gates {
        assert_eq!(
            (g.status, g.value),
            (GateStatus::NotEnoughData, None),
            "{g:?}"
        );
        assert_eq!(g.jobs, Some(0));
        if g.unit == Unit::Fraction {
            assert_eq!(g.rate, Rate::new(0, 0));
        }
    }
    assert_eq!(c.demotion.verdict, DemotionVerdict::NotEnoughData);
}

#[test]
fn a_failure_decides_even_when_other_gates_lack_data() {
    let f = WindowFigures {
        queues: 0,
        queue_sum_seconds: 0.0,
        successes: 80,
        failures: 20,
        ..healthy()
    };
    let c = card(&f, Some(at(L2, 40)));
    assert_eq!(c.promotion.verdict, PromotionVerdict::NotEligible);
    assert_eq!(c.promotion.failed, vec![GateName::PassRate]);
    assert_eq!(c.promotion.not_enough_data, vec![GateName::QueueAverage]);
    let c = card(&f, Some(at(L3, 40)));
    assert_eq!(c.demotion.verdict, DemotionVerdict::Demote);
}

#[test]
fn verdicts_apply_at_their_levels_only() {
    let f = healthy();
    let c = card(&f, Some(at(L3, 5)));
    assert_eq!(c.promotion.verdict, PromotionVerdict::NotApplicable);
    assert_eq!(c.demotion.verdict, DemotionVerdict::Keep);
    // At L3 the days at L2 are 0: shown failing, but promotion does not apply.
    assert_eq!(gate(&c, GateName::DaysAtL2).value, Some(0.0));
    for level in [L1, RepoLevel::L4] {
        let c = card(&f, Some(at(level, 100)));
        assert_eq!(c.promotion.verdict, PromotionVerdict::NotApplicable);
        assert_eq!(c.demotion.verdict, DemotionVerdict::NotApplicable);
    }
    let c = card(&f, None);
    assert_eq!(c.promotion.verdict, PromotionVerdict::NotApplicable);
    assert_eq!(c.demotion.verdict, DemotionVerdict::NotApplicable);
    assert_eq!(
        gate(&c, GateName::DaysAtL2).status,
        GateStatus::NotEnoughData
    );
}

#[test]
fn each_verdict_reads_its_own_window() {
    let bad = WindowFigures {
        successes: 50,
        failures: 50,
        ..healthy()
    };
    let level = at(L3, 100);
    let c = scorecard(&bad, &healthy(), Some(&level), &Thresholds::default());
    assert_eq!(c.demotion.verdict, DemotionVerdict::Keep);
    let c = scorecard(&healthy(), &bad, Some(&level), &Thresholds::default());
    assert_eq!(c.demotion.verdict, DemotionVerdict::Demote);
    assert_eq!(c.demotion.failed, vec![GateName::PassRate]);
    let level = at(L2, 100);
    let c = scorecard(&bad, &healthy(), Some(&level), &Thresholds::default());
    assert_eq!(c.promotion.verdict, PromotionVerdict::NotEligible);
}

#[test]
fn thresholds_and_windows_come_from_the_settings() {
    let t = Thresholds::from_toml_str("pass_rate_at_least = 0.96\ndemotion_window_days = 3")
        .expect("settings");
    let level = at(L2, 40);
    let c = scorecard(&healthy(), &healthy(), Some(&level), &t);
    assert_eq!(c.promotion.failed, vec![GateName::PassRate]);
    assert_eq!(c.demotion.window_days, 3);
    assert!(c.demotion.gates.iter().all(|g| g.window_days == Some(3)));
}

#[test]
fn the_scorecard_serialises_snake_case() {
    let c = card(&healthy(), Some(at(L2, 40)));
    let json = serde_json::to_value(&c).expect("serialises");
    assert_eq!(json["promotion"]["verdict"], "eligible");
    assert_eq!(json["demotion"]["verdict"], "not_applicable");
    assert_eq!(json["level"]["level"], "L2");
    let pass_rate = &json["promotion"]["gates"][5];
    assert_eq!(pass_rate["gate"], "pass_rate");
    assert_eq!(pass_rate["comparison"], "at_least");
    assert_eq!(pass_rate["status"], "pass");
    assert_eq!(pass_rate["rate"]["numerator"], 95);
    assert_eq!(pass_rate["rate"]["denominator"], 100);
    assert_eq!(json["promotion"]["gates"][0]["gate"], "days_at_l2");
    assert_eq!(json["promotion"]["gates"][1]["gate"], "e2e_p50");
}

#[test]
fn a_lower_bound_decides_only_what_it_can() {
    use std::cmp::Ordering::{Equal, Greater, Less};
    use Comparison::{AtLeast, Under};
    use GateStatus::{Fail, NotEnoughData, Pass};
    for (comparison, ordering, exact, bound) in [
        (Under, Less, Pass, NotEnoughData),
        (Under, Equal, Fail, Fail),
        (Under, Greater, Fail, Fail),
        (AtLeast, Less, Fail, NotEnoughData),
        (AtLeast, Equal, Pass, Pass),
        (AtLeast, Greater, Pass, Pass),
    ] {
        assert_eq!(status_of(comparison, ordering, false), exact);
        assert_eq!(status_of(comparison, ordering, true), bound);
    }
}
