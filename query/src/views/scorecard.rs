//! One backend's RFC-0054 readiness (docs/contract.md §14): its scorecard (each gate with its
//! numbers, the promotion and demotion verdicts) and its level history, from the rollup cells of
//! the two windows and the level-history rows. The rules are `oot_readiness`'s; this module only
//! turns what the stores give into their input.

use std::collections::BTreeMap;

use oot_contract::RepoLevel;
use oot_readiness::{
    level_history_from_extents, scorecard, DemotionVerdict, LevelExtent, LevelHistory,
    PromotionVerdict, Scorecard, Thresholds, WindowFigures,
};
use oot_rollup::histogram::UPPER_BOUNDS_S;
use oot_rollup::{Figures, Histogram};
use serde::Serialize;

use crate::clock::rfc3339;
use crate::rules::start_of_hour;
use crate::stores::rollups::{LevelDay, RepoFigures};

const DAY_S: i64 = 86_400;

/// The windows a scorecard reads, each starting on the hour (as every view's window, §11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScorecardWindows {
    pub promotion_since: i64,
    pub demotion_since: i64,
}

impl ScorecardWindows {
    pub fn at(now: i64, thresholds: &Thresholds) -> ScorecardWindows {
        let since = |days: u32| start_of_hour(now.saturating_sub(i64::from(days) * DAY_S));
        ScorecardWindows {
            promotion_since: since(thresholds.promotion_window_days),
            demotion_since: since(thresholds.demotion_window_days),
        }
    }
}

/// A level's stretch as the page and JSON show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelSpan {
    pub level: RepoLevel,
    pub first_seen_at: Option<String>,
    pub last_seen_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScorecardView {
    pub downstream_repo: String,
    pub generated_at: Option<String>,
    pub promotion_since: Option<String>,
    pub demotion_since: Option<String>,
    #[serde(flatten)]
    pub scorecard: Scorecard,
    /// Each level ever seen with its first and last job (retention permitting), oldest first.
    pub levels: Vec<LevelSpan>,
    /// The runs at one level, oldest first; `null` when the per-day rows cannot order them (the
    /// level changed and came back within one day).
    pub level_changes: Option<Vec<LevelSpan>>,
    /// The thresholds judged against (the service's settings).
    pub thresholds: Thresholds,
}

/// A backend's verdicts, as the summary shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Verdicts {
    pub promotion: PromotionVerdict,
    pub demotion: DemotionVerdict,
}

/// The rules' input for one window: the rollups' sums, with the end-to-end histogram.
pub fn window_figures(figures: &Figures) -> WindowFigures {
    let count = |v: i64| u64::try_from(v).unwrap_or(0);
    WindowFigures {
        successes: count(figures.successes),
        failures: count(figures.failures),
        timed_out: count(figures.timed_out),
        queue_sum_seconds: count(figures.queue_sum_us) as f64 / 1e6,
        queues: count(figures.queues),
        end_to_end: readiness_histogram(&figures.e2e_buckets),
    }
}

/// The rollups' buckets as the rules read them: the same bounds, counts never below zero.
fn readiness_histogram(buckets: &Histogram) -> oot_readiness::Histogram {
    let bounds: Vec<f64> = UPPER_BOUNDS_S.iter().map(|b| f64::from(*b)).collect();
    let counts: Vec<u64> = buckets
        .counts()
        .iter()
        .map(|c| u64::try_from(*c).unwrap_or(0))
        .collect();
    // Constants of the rollups, one count per bound and the open bucket: a unit test checks
    // the rules take them.
    oot_readiness::Histogram::new(bounds, counts).expect("the rollups' bounds are valid")
}

/// The level history of one repo's day rows; rows whose level is not one of the contract's
/// are skipped (ingest refuses them, so only a foreign row could hold one).
pub fn level_history(days: &[LevelDay]) -> Option<LevelHistory> {
    let extents: Vec<LevelExtent> = days
        .iter()
        .filter_map(|day| {
            Some(LevelExtent {
                level: RepoLevel::parse(&day.level).ok()?,
                first_seen: i64::from(day.first_seen),
                last_seen: i64::from(day.last_seen),
            })
        })
        .collect();
    level_history_from_extents(&extents)
}

/// The scorecard of one repo at `now`.
pub fn build(
    downstream_repo: &str,
    now: i64,
    thresholds: &Thresholds,
    promotion_window: &Figures,
    demotion_window: &Figures,
    level_days: &[LevelDay],
) -> ScorecardView {
    let windows = ScorecardWindows::at(now, thresholds);
    let history = level_history(level_days);
    let days_at = history.as_ref().map(|h| h.current.days_at(now));
    let card = scorecard(
        &window_figures(promotion_window),
        &window_figures(demotion_window),
        days_at.as_ref(),
        thresholds,
    );
    let span = |e: &LevelExtent| LevelSpan {
        level: e.level,
        first_seen_at: rfc3339(e.first_seen),
        last_seen_at: rfc3339(e.last_seen),
    };
    ScorecardView {
        downstream_repo: downstream_repo.to_owned(),
        generated_at: rfc3339(now),
        promotion_since: rfc3339(windows.promotion_since),
        demotion_since: rfc3339(windows.demotion_since),
        scorecard: card,
        levels: history
            .as_ref()
            .map(|h| h.levels.iter().map(span).collect())
            .unwrap_or_default(),
        level_changes: history
            .as_ref()
            .and_then(|h| h.spans.as_ref())
            .map(|spans| spans.iter().map(span).collect()),
        thresholds: *thresholds,
    }
}

/// Every repo's verdicts at `now`, from every repo's window sums and level rows (the summary's
/// column). A repo with no sums in a window is judged on none (not enough data).
pub fn verdicts(
    now: i64,
    thresholds: &Thresholds,
    promotion_window: &[RepoFigures],
    demotion_window: &[RepoFigures],
    level_days: &[LevelDay],
) -> BTreeMap<String, Verdicts> {
    let by_repo = |rows: &[RepoFigures]| -> BTreeMap<String, Figures> {
        rows.iter()
            .map(|r| (r.downstream_repo.clone(), r.figures))
            .collect()
    };
    let (promotion, demotion) = (by_repo(promotion_window), by_repo(demotion_window));
    let mut days: BTreeMap<&str, Vec<LevelDay>> = BTreeMap::new();
    for day in level_days {
        days.entry(day.downstream_repo.as_str())
            .or_default()
            .push(day.clone());
    }
    let repos: std::collections::BTreeSet<&str> = promotion
        .keys()
        .chain(demotion.keys())
        .map(String::as_str)
        .chain(days.keys().copied())
        .collect();
    repos
        .into_iter()
        .map(|repo| {
            let none = Figures::default();
            let view = build(
                repo,
                now,
                thresholds,
                promotion.get(repo).unwrap_or(&none),
                demotion.get(repo).unwrap_or(&none),
                days.get(repo).map(Vec::as_slice).unwrap_or_default(),
            );
            let verdicts = Verdicts {
                promotion: view.scorecard.promotion.verdict,
                demotion: view.scorecard.demotion.verdict,
            };
            (repo.to_owned(), verdicts)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oot_readiness::{GateName, GateStatus};
    use oot_rollup::Contribution;

    const NOW: i64 = 1_800_000_000;

    fn figures_of(jobs: &[(oot_rollup::Outcome, u64, u64)]) -> Figures {
        let mut figures = Figures::default();
        for (outcome, duration_s, queue_s) in jobs {
            figures.add(&Figures::of(&Contribution {
                outcome: *outcome,
                duration_us: Some(duration_s * 1_000_000),
                queue_us: Some(queue_s * 1_000_000),
            }));
        }
        figures
    }

    fn level_day(level: &str, first_seen: i64, last_seen: i64) -> LevelDay {
        LevelDay {
            downstream_repo: "acme/npu".into(),
            level: level.into(),
            day_start: u32::try_from(first_seen - first_seen.rem_euclid(DAY_S)).unwrap_or(0),
            first_seen: u32::try_from(first_seen).unwrap_or(0),
            last_seen: u32::try_from(last_seen).unwrap_or(0),
        }
    }

    #[test]
    fn the_rules_take_the_rollups_buckets() {
        let one = Histogram::of(Some(10_800 * 1_000_000));
        assert_eq!(readiness_histogram(&one).total(), 1);
        assert_eq!(readiness_histogram(&Histogram::default()).total(), 0);
    }

    #[test]
    fn an_l2_backend_passing_every_gate_for_long_enough_is_eligible() {
        use oot_rollup::Outcome::Success;
        let good = figures_of(&vec![(Success, 3_000, 300); 40]);
        let days = [
            level_day("L1", NOW - 90 * DAY_S, NOW - 60 * DAY_S),
            level_day("L2", NOW - 45 * DAY_S, NOW - 45 * DAY_S + 60),
            level_day("L2", NOW - DAY_S, NOW - 100),
        ];
        let view = build("acme/npu", NOW, &Thresholds::default(), &good, &good, &days);
        assert_eq!(view.scorecard.promotion.verdict, PromotionVerdict::Eligible);
        assert_eq!(
            view.scorecard.demotion.verdict,
            DemotionVerdict::NotApplicable
        );
        let level = view.scorecard.level.expect("a level");
        assert_eq!((level.level, level.days), (RepoLevel::L2, 45));
        assert_eq!(view.levels.len(), 2);
        assert_eq!(
            view.level_changes
                .as_ref()
                .map(|c| c.iter().map(|s| s.level).collect::<Vec<_>>()),
            Some(vec![RepoLevel::L1, RepoLevel::L2])
        );
        let e2e = view
            .scorecard
            .promotion
            .gates
            .iter()
            .find(|g| g.gate == GateName::E2eP50)
            .expect("the median gate");
        assert_eq!(e2e.status, GateStatus::Pass);
        // 3,300 s end to end: in the (2,700, 3,600] bucket.
        let p50 = e2e.value.expect("a median");
        assert!((2_700.0..=3_600.0).contains(&p50), "{p50}");
    }

    #[test]
    fn the_histograms_decide_the_time_gates() {
        use oot_rollup::Outcome::Success;
        // Every job 3 h 20 min end to end: the median fails "under 3 h", every job overruns.
        let slow = figures_of(&vec![(Success, 11_000, 1_000); 40]);
        let days = [level_day("L3", NOW - 100 * DAY_S, NOW - 60)];
        let view = build("acme/npu", NOW, &Thresholds::default(), &slow, &slow, &days);
        assert_eq!(view.scorecard.demotion.verdict, DemotionVerdict::Demote);
        assert!(view.scorecard.demotion.failed.contains(&GateName::E2eP50));
        let overrun = view
            .scorecard
            .demotion
            .gates
            .iter()
            .find(|g| g.gate == GateName::OverrunRate)
            .expect("the overrun gate");
        let rate = overrun.rate.expect("a rate");
        assert_eq!((rate.numerator(), rate.denominator()), (40, 40));
    }

    #[test]
    fn summary_verdicts_cover_every_repo_with_sums_or_levels() {
        use oot_rollup::Outcome::{Failure, Success};
        let mut jobs = vec![(Success, 600, 60); 30];
        jobs.extend(vec![(Failure, 600, 60); 10]);
        let rows = |figures: Figures| {
            vec![RepoFigures {
                downstream_repo: "acme/npu".into(),
                figures,
            }]
        };
        let days = [
            level_day("L2", NOW - 40 * DAY_S, NOW - 60),
            LevelDay {
                downstream_repo: "quiet/xpu".into(),
                ..level_day("L3", NOW - 40 * DAY_S, NOW - 30 * DAY_S)
            },
        ];
        let fig = figures_of(&jobs);
        let verdicts = verdicts(NOW, &Thresholds::default(), &rows(fig), &rows(fig), &days);
        assert_eq!(
            verdicts["acme/npu"].promotion,
            PromotionVerdict::NotEligible,
            "75% passed"
        );
        assert_eq!(
            verdicts["quiet/xpu"].demotion,
            DemotionVerdict::NotEnoughData
        );
        assert_eq!(verdicts.len(), 2);
    }
}
