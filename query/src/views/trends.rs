//! One backend's trends (issue 12, docs/contract.md §14.9): per UTC day of the last 30 or 90,
//! what its runs counted (the pass rate as n/d, failures, timeouts) and how long they queued and
//! ran (P50 and P95 from the rollups' histograms), with the range's totals; and every backend's
//! daily pass rate for the summary's sparklines. Pure functions of the day rows the rollups give
//! ([`crate::stores::rollups::Rollups::daily`]), so every rule here is tested without stores.

use std::collections::BTreeMap;

use oot_readiness::Percentile;
use oot_rollup::histogram::UPPER_BOUNDS_S;
use oot_rollup::{Figures, Histogram};
use serde::Serialize;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::clock::rfc3339;
use crate::stores::rollups::RepoDay;
use crate::tally::{Ratio, Tally};

/// Seconds in a day: trends are per UTC day.
pub const DAY: i64 = 86_400;

/// The ranges a backend's trends are offered over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrendDays {
    Month,
    Quarter,
}

impl TrendDays {
    /// Every range, in the order a page offers them.
    pub const ALL: [TrendDays; 2] = [TrendDays::Month, TrendDays::Quarter];
    /// The range of a request that names none (and the backend page's section).
    pub const DEFAULT: TrendDays = TrendDays::Month;

    /// `30` or `90`.
    pub fn parse(text: &str) -> Option<TrendDays> {
        TrendDays::ALL.into_iter().find(|d| d.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TrendDays::Month => "30",
            TrendDays::Quarter => "90",
        }
    }

    pub fn days(self) -> u32 {
        match self {
            TrendDays::Month => 30,
            TrendDays::Quarter => 90,
        }
    }

    /// The start (midnight UTC) of the first of the `days` UTC days that end with today's.
    pub fn first_day(self, now: i64) -> i64 {
        first_day(now, self.days())
    }
}

/// The start of the UTC day holding `at`.
pub fn start_of_day(at: i64) -> i64 {
    at - at.rem_euclid(DAY)
}

/// The start of the first of `days` UTC days ending with the one holding `now` (today counts,
/// so far: a range of 30 reads 29 whole days and today's hours).
pub fn first_day(now: i64, days: u32) -> i64 {
    start_of_day(now).saturating_sub(i64::from(days.saturating_sub(1)) * DAY)
}

/// `2026-04-28`: a day as the JSON and the pages name it.
pub fn date(day_start: i64) -> String {
    let format = format_description!("[year]-[month]-[day]");
    OffsetDateTime::from_unix_timestamp(day_start)
        .ok()
        .and_then(|at| at.format(&format).ok())
        // Only an instant `time` cannot represent (beyond year 9999) has no date; the seconds
        // still name the day.
        .unwrap_or_else(|| day_start.to_string())
}

/// What the runs of a day (or of the whole range) count, as the trends show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendFigures {
    /// Completed runs counted (latest attempt of each run first seen that day).
    pub completed: u64,
    pub successes: u64,
    pub failures: u64,
    pub timed_out: u64,
    pub cancelled: u64,
    /// Skipped, neutral, action required, stale.
    pub other: u64,
    /// successes / (success + failure + timed_out); `null` without such a run.
    pub pass_rate: Option<Ratio>,
    /// Queue time percentiles of the completed runs that report one, from the queue histogram:
    /// exact to the bucket; `is_lower_bound` in the open bucket over a day. `null` without any.
    pub queue_p50: Option<Percentile>,
    pub queue_p95: Option<Percentile>,
    /// Execution time percentiles of the rated runs that report one, from the duration
    /// histogram (the pass rate's runs, as the average duration counts them, §11.4).
    pub execution_p50: Option<Percentile>,
    pub execution_p95: Option<Percentile>,
    /// The runs each pair of percentiles is read from: those counted in the histograms (cells
    /// made before the histograms count none, docs/contract.md §10.2).
    pub queue_times: u64,
    pub execution_times: u64,
}

impl TrendFigures {
    pub fn of(figures: &Figures) -> TrendFigures {
        let tally = Tally::of_figures(figures);
        let (queues, executions) = (&figures.queue_buckets, &figures.duration_buckets);
        TrendFigures {
            completed: tally.completed,
            successes: tally.successes,
            failures: tally.failures,
            timed_out: tally.timed_out,
            cancelled: tally.cancelled,
            other: tally.other,
            pass_rate: tally.pass_rate(),
            queue_p50: percentile(queues, 0.5),
            queue_p95: percentile(queues, 0.95),
            execution_p50: percentile(executions, 0.5),
            execution_p95: percentile(executions, 0.95),
            queue_times: count(queues),
            execution_times: count(executions),
        }
    }
}

/// Bucket counts as the percentile rule reads them: never below zero (a foreign row could say
/// otherwise; the rollups' own never do).
fn counts(histogram: &Histogram) -> Vec<u64> {
    histogram
        .counts()
        .iter()
        .map(|c| u64::try_from(*c).unwrap_or(0))
        .collect()
}

fn count(histogram: &Histogram) -> u64 {
    counts(histogram)
        .iter()
        .fold(0u64, |sum, c| sum.saturating_add(*c))
}

/// The `q` percentile of a rollup histogram over the rollups' bounds (docs/contract.md §14.6).
pub fn percentile(histogram: &Histogram, q: f64) -> Option<Percentile> {
    let bounds: Vec<f64> = UPPER_BOUNDS_S.iter().map(|b| f64::from(*b)).collect();
    oot_readiness::percentile(&bounds, &counts(histogram), q)
}

/// One day of the trends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendDay {
    /// The UTC day, `2026-04-28`.
    pub date: String,
    #[serde(flatten)]
    pub figures: TrendFigures,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendsView {
    pub downstream_repo: String,
    /// How many UTC days: 30 or 90, the last being today (so far).
    pub days: u32,
    /// The first day's start (midnight UTC, RFC 3339).
    pub since: Option<String>,
    pub generated_at: Option<String>,
    /// Every day of the range, oldest first; a day without runs has zero counts and `null`
    /// rates and percentiles.
    pub daily: Vec<TrendDay>,
    /// The whole range: the days' sums, its percentiles read from their summed histograms.
    pub totals: TrendFigures,
}

/// The figures of each day from `first_day`, `days` of them, from day rows (several rows of one
/// day add up; rows outside the range are left out).
fn per_day(first_day: i64, days: u32, rows: &[&RepoDay]) -> Vec<(i64, Figures)> {
    let mut by_day: BTreeMap<i64, Figures> = BTreeMap::new();
    for row in rows {
        by_day
            .entry(start_of_day(row.day))
            .or_default()
            .add(&row.figures);
    }
    (0..i64::from(days))
        .map(|i| {
            let day = first_day + i * DAY;
            (day, by_day.get(&day).copied().unwrap_or_default())
        })
        .collect()
}

/// `repo`'s trends over `range` at `now`, from its day rows ([`crate::stores::rollups::Rollups::daily`]
/// from [`TrendDays::first_day`]).
pub fn build(downstream_repo: &str, range: TrendDays, now: i64, rows: &[RepoDay]) -> TrendsView {
    let first_day = range.first_day(now);
    let mine: Vec<&RepoDay> = rows
        .iter()
        .filter(|r| r.downstream_repo == downstream_repo)
        .collect();
    let days = per_day(first_day, range.days(), &mine);
    let mut total = Figures::default();
    for (_, figures) in &days {
        total.add(figures);
    }
    TrendsView {
        downstream_repo: downstream_repo.to_owned(),
        days: range.days(),
        since: rfc3339(first_day),
        generated_at: rfc3339(now),
        daily: days
            .iter()
            .map(|(day, figures)| TrendDay {
                date: date(*day),
                figures: TrendFigures::of(figures),
            })
            .collect(),
        totals: TrendFigures::of(&total),
    }
}

/// One day of a summary line's sparkline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DailyPassRate {
    /// The UTC day, `2026-04-28`.
    pub date: String,
    /// As [`TrendFigures::pass_rate`]: `null` without a rated run that day.
    pub pass_rate: Option<Ratio>,
}

/// Every repo's daily pass rate over the `days` UTC days ending with today's, oldest first,
/// from every repo's day rows; a repo without rows is not in the map (the summary gives it a
/// sparkline of empty days, [`no_results`]).
pub fn daily_pass_rates(
    now: i64,
    days: u32,
    rows: &[RepoDay],
) -> BTreeMap<String, Vec<DailyPassRate>> {
    let first = first_day(now, days);
    let mut by_repo: BTreeMap<&str, Vec<&RepoDay>> = BTreeMap::new();
    for row in rows {
        by_repo
            .entry(row.downstream_repo.as_str())
            .or_default()
            .push(row);
    }
    by_repo
        .into_iter()
        .map(|(repo, rows)| {
            let rates = per_day(first, days, &rows)
                .iter()
                .map(|(day, figures)| DailyPassRate {
                    date: date(*day),
                    pass_rate: Tally::of_figures(figures).pass_rate(),
                })
                .collect();
            (repo.to_owned(), rates)
        })
        .collect()
}

/// A sparkline of `days` UTC days ending with today's without a rated run.
pub fn no_results(now: i64, days: u32) -> Vec<DailyPassRate> {
    let first = first_day(now, days);
    (0..i64::from(days))
        .map(|i| DailyPassRate {
            date: date(first + i * DAY),
            pass_rate: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oot_rollup::{Contribution, Outcome};

    /// 2027-01-15 08:00:00 UTC.
    const NOW: i64 = 1_800_000_000 - 1_800_000_000 % DAY + 8 * 3_600;
    const S: u64 = 1_000_000;

    fn figures_of(jobs: &[(Outcome, Option<u64>, Option<u64>)]) -> Figures {
        let mut figures = Figures::default();
        for (outcome, duration_s, queue_s) in jobs {
            figures.add(&Figures::of(&Contribution {
                outcome: *outcome,
                duration_us: duration_s.map(|s| s * S).filter(|_| outcome.is_verdict()),
                queue_us: queue_s.map(|s| s * S),
            }));
        }
        figures
    }

    fn row(repo: &str, day: i64, figures: Figures) -> RepoDay {
        RepoDay {
            downstream_repo: repo.to_owned(),
            day,
            figures,
        }
    }

    #[test]
    fn ranges_end_with_today_and_start_on_a_midnight() {
        let today = start_of_day(NOW);
        assert_eq!(today % DAY, 0);
        assert_eq!(TrendDays::Month.first_day(NOW), today - 29 * DAY);
        assert_eq!(TrendDays::Quarter.first_day(NOW), today - 89 * DAY);
        assert_eq!(first_day(today, 1), today, "midnight is today's start");
        assert_eq!(date(today), "2027-01-15");
        assert_eq!(TrendDays::parse("90"), Some(TrendDays::Quarter));
        assert_eq!(TrendDays::parse("7"), None);
        assert_eq!(start_of_day(-1), -DAY, "before 1970 too");
    }

    #[test]
    fn every_day_of_the_range_is_there_oldest_first_empty_days_with_nulls() {
        use Outcome::{Cancelled, Failure, Success, TimedOut};
        let today = start_of_day(NOW);
        let rows = [
            // Two rows of one day (as if two repos' rows were asked together) add up.
            row(
                "acme/npu",
                today - 3 * DAY,
                figures_of(&[(Success, Some(100), Some(10)), (Failure, Some(200), None)]),
            ),
            row(
                "acme/npu",
                today - 3 * DAY,
                figures_of(&[(TimedOut, None, Some(20)), (Cancelled, Some(5), None)]),
            ),
            row("acme/npu", today, figures_of(&[(Success, Some(50), None)])),
            // Another repo's, and one from before the range: not this view's.
            row("other/xpu", today, figures_of(&[(Failure, None, None)])),
            row(
                "acme/npu",
                today - 30 * DAY,
                figures_of(&[(Failure, None, None)]),
            ),
        ];
        let view = build("acme/npu", TrendDays::Month, NOW, &rows);
        assert_eq!(view.days, 30);
        assert_eq!(view.daily.len(), 30);
        assert_eq!(view.since.as_deref(), Some("2026-12-17T00:00:00Z"));
        assert_eq!(view.daily[0].date, "2026-12-17");
        assert_eq!(view.daily[29].date, "2027-01-15");
        let busy = &view.daily[26].figures;
        assert_eq!(view.daily[26].date, "2027-01-12");
        assert_eq!(
            (
                busy.completed,
                busy.successes,
                busy.failures,
                busy.timed_out,
                busy.cancelled
            ),
            (4, 1, 1, 1, 1)
        );
        let rate = busy.pass_rate.expect("a rate");
        assert_eq!((rate.numerator, rate.denominator), (1, 3));
        assert_eq!((busy.queue_times, busy.execution_times), (2, 2));
        let quiet = &view.daily[27].figures;
        assert_eq!(quiet.completed, 0);
        assert_eq!(quiet.pass_rate, None);
        assert_eq!(quiet.queue_p50, None);
        assert_eq!(quiet.execution_p95, None);
        let totals = &view.totals;
        assert_eq!(
            (totals.completed, totals.successes, totals.failures),
            (5, 2, 1)
        );
        let rate = totals.pass_rate.expect("a rate");
        assert_eq!((rate.numerator, rate.denominator), (2, 4));
        assert_eq!(totals.execution_times, 3);

        let json = serde_json::to_value(&view).expect("serializable");
        assert!(json["daily"][27]["pass_rate"].is_null());
        assert_eq!(json["daily"][27]["completed"], 0);
        assert_eq!(json["daily"][26]["pass_rate"]["numerator"], 1);
        assert_eq!(json["daily"][26]["date"], "2027-01-12");

        let quarter = build("acme/npu", TrendDays::Quarter, NOW, &rows);
        assert_eq!(quarter.daily.len(), 90);
        assert_eq!(quarter.totals.failures, 2, "the older day is in 90 days");
    }

    #[test]
    fn percentiles_fall_in_the_bucket_of_the_exact_one() {
        use Outcome::Success;
        // 19 runs queued 100 s, one queued 2 h: P50 in (60, 120], P95 in (60, 120] too (rank
        // 19 of 20), P99 would be the 2 h one. Execution 1,000 s for all: (900, 1,200].
        let mut jobs = vec![(Success, Some(1_000), Some(100)); 19];
        jobs.push((Success, Some(1_000), Some(7_200)));
        let figures = TrendFigures::of(&figures_of(&jobs));
        let p50 = figures.queue_p50.expect("a median");
        assert!(
            (60.0..=120.0).contains(&p50.seconds) && !p50.is_lower_bound,
            "{p50:?}"
        );
        let p95 = figures.queue_p95.expect("a P95");
        assert!((60.0..=120.0).contains(&p95.seconds), "{p95:?}");
        for p in [figures.execution_p50, figures.execution_p95] {
            let p = p.expect("a percentile");
            assert!((900.0..=1_200.0).contains(&p.seconds), "{p:?}");
        }
        // Over a day: the open bucket's lower bound, marked.
        let slow = TrendFigures::of(&figures_of(&[(Success, Some(200_000), None)]));
        let p50 = slow.execution_p50.expect("a median");
        assert_eq!((p50.seconds, p50.is_lower_bound), (86_400.0, true));
        assert_eq!(slow.queue_p50, None, "no queue time reported");
        // A negative count (a foreign row) reads as none.
        let odd = Figures {
            queue_buckets: Histogram::from_counts(&[-3, 1]),
            ..Figures::default()
        };
        assert_eq!(TrendFigures::of(&odd).queue_times, 1);
    }

    #[test]
    fn sparklines_cover_every_repo_with_rows_and_every_day() {
        use Outcome::{Failure, Success};
        let today = start_of_day(NOW);
        let rows = [
            row("a/a", today - DAY, figures_of(&[(Success, None, None)])),
            row(
                "b/b",
                today,
                figures_of(&[(Success, None, None), (Failure, None, None)]),
            ),
        ];
        let rates = daily_pass_rates(NOW, 30, &rows);
        assert_eq!(rates.len(), 2);
        assert!(rates.values().all(|days| days.len() == 30));
        let a = &rates["a/a"];
        assert_eq!(a[28].pass_rate.map(|r| r.percent), Some(100.0));
        assert_eq!(a[29].pass_rate, None);
        assert_eq!(rates["b/b"][29].pass_rate.map(|r| r.denominator), Some(2));
        assert_eq!(rates["b/b"][29].date, "2027-01-15");
        let none = no_results(NOW, 30);
        assert_eq!(none.len(), 30);
        assert!(none.iter().all(|d| d.pass_rate.is_none()));
        assert_eq!(none[0].date, a[0].date);
    }
}
