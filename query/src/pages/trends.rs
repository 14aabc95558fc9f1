//! Trends on the pages (docs/contract.md §14.9), rendered from
//! [`crate::views::trends::TrendsView`]: four charts per day (pass rate, failures and timeouts,
//! queue time and execution time as P50 and P95), as the backend page's section over 30 days and
//! as their own page (`/oot/{org}/{repo}/trends?days=30|90`); and the summary's sparkline of each
//! backend's daily pass rate. The drawing is [`charts`]'s; every number is also text.

use maud::{html, Markup};
use oot_readiness::Percentile;

use crate::pages::charts::{self, Chart, Kind, Point, Scale, Series, SparkDay};
use crate::pages::format;
use crate::pages::layout::{self, Freshness};
use crate::tally::Ratio;
use crate::views::trends::{DailyPassRate, TrendDays, TrendFigures, TrendsView};

/// The trends page of `owner/name`.
pub fn trends_path(repo: &str) -> String {
    format!("{}/trends", format::backend_path(repo))
}

/// The trends page of `repo` over `days`.
pub fn trends_href(repo: &str, days: TrendDays) -> String {
    format!(
        "{}{}",
        trends_path(repo),
        format::query(&[("days", Some(days.as_str()))])
    )
}

/// "5/6 — 83.3%", as the pages write a rate; "no results" without one.
fn rate_text(rate: Option<&Ratio>) -> String {
    match rate {
        Some(r) => format!("{}/{} — {:.1}%", r.numerator, r.denominator, r.percent),
        None => "no results".to_owned(),
    }
}

/// The exact share of a rate, 0 to 1 (the percentage shown is rounded; the drawing need not be).
fn share(rate: &Ratio) -> f64 {
    rate.numerator as f64 / rate.denominator as f64
}

/// "3 min 20 s"; "at least 24 h 0 min" in the open bucket; "—" without a value.
fn percentile_text(p: Option<&Percentile>) -> String {
    match p {
        Some(p) if p.is_lower_bound => format!("at least {}", format::duration(Some(p.seconds))),
        Some(p) => format::duration(Some(p.seconds)),
        None => "—".to_owned(),
    }
}

fn percentile_point(p: Option<&Percentile>) -> Point {
    Point {
        is_lower_bound: p.is_some_and(|p| p.is_lower_bound),
        ..Point::of(p.map(|p| p.seconds), percentile_text(p))
    }
}

fn count_series(
    name: &str,
    class: &'static str,
    view: &TrendsView,
    of: fn(&TrendFigures) -> u64,
) -> Series {
    Series {
        name: name.to_owned(),
        class,
        points: view
            .daily
            .iter()
            .map(|d| {
                let n = of(&d.figures);
                Point::of(Some(n as f64), n.to_string())
            })
            .collect(),
    }
}

fn percentile_series(
    name: &str,
    class: &'static str,
    view: &TrendsView,
    of: fn(&TrendFigures) -> Option<&Percentile>,
) -> Series {
    Series {
        name: name.to_owned(),
        class,
        points: view
            .daily
            .iter()
            .map(|d| percentile_point(of(&d.figures)))
            .collect(),
    }
}

/// The four charts of a view.
pub fn charts_of(view: &TrendsView) -> Vec<Chart> {
    let days: Vec<String> = view.daily.iter().map(|d| d.date.clone()).collect();
    let pass_rate = Series {
        name: "pass rate".to_owned(),
        class: "s-pass",
        points: view
            .daily
            .iter()
            .map(|d| {
                let rate = d.figures.pass_rate.as_ref();
                Point::of(rate.map(|r| share(r) * 100.0), rate_text(rate))
            })
            .collect(),
    };
    vec![
        Chart {
            title: "Pass rate".to_owned(),
            kind: Kind::Bars,
            scale: Scale::Percent,
            days: days.clone(),
            series: vec![pass_rate],
        },
        Chart {
            title: "Failures and timeouts".to_owned(),
            kind: Kind::Bars,
            scale: Scale::Count,
            days: days.clone(),
            series: vec![
                count_series("failures", "s-failure", view, |f| f.failures),
                count_series("timed out", "s-timeout", view, |f| f.timed_out),
            ],
        },
        Chart {
            title: "Queue time".to_owned(),
            kind: Kind::Lines,
            scale: Scale::Seconds,
            days: days.clone(),
            series: vec![
                percentile_series("P50", "s-p50", view, |f| f.queue_p50.as_ref()),
                percentile_series("P95", "s-p95", view, |f| f.queue_p95.as_ref()),
            ],
        },
        Chart {
            title: "Execution time".to_owned(),
            kind: Kind::Lines,
            scale: Scale::Seconds,
            days,
            series: vec![
                percentile_series("P50", "s-p50", view, |f| f.execution_p50.as_ref()),
                percentile_series("P95", "s-p95", view, |f| f.execution_p95.as_ref()),
            ],
        },
    ]
}

/// What the figures are, in a sentence under the heading.
fn explanation() -> Markup {
    html! {
        p.small {
            "Per UTC day, the runs first seen that day, each as its latest attempt once completed "
            "(as the pass rate everywhere). Queue and execution times are P50 and P95 read from "
            "fixed buckets, exact to the bucket; hover a bar or point for its value, or open the "
            "numbers under each chart."
        }
    }
}

fn charts_grid(view: &TrendsView) -> Markup {
    html! {
        div.charts {
            @for chart in charts_of(view) { (charts::chart(&chart)) }
        }
    }
}

/// The range's totals, as the backend header shows its figures.
fn totals(t: &TrendFigures) -> Markup {
    html! {
        dl.stats {
            div { dt { "Pass rate" } dd { (format::ratio(t.pass_rate.as_ref())) } }
            div { dt { "Completed" } dd { (t.completed) } }
            div { dt { "✘ Failures" } dd { (t.failures) } }
            div { dt { "◷ Timed out" } dd { (t.timed_out) } }
            div { dt { "Queue time P50 / P95" } dd {
                (percentile_text(t.queue_p50.as_ref())) " / " (percentile_text(t.queue_p95.as_ref()))
            } }
            div { dt { "Execution time P50 / P95" } dd {
                (percentile_text(t.execution_p50.as_ref())) " / " (percentile_text(t.execution_p95.as_ref()))
            } }
        }
    }
}

/// The backend page's trends section: the last 30 days, and a link to 90.
pub fn section(view: &TrendsView) -> Markup {
    html! {
        section.trends aria-labelledby="trends" {
            h2 id="trends" { "Trends, last " (view.days) " days" }
            (explanation())
            p {
                a href=(trends_href(&view.downstream_repo, TrendDays::Quarter)) { "Trends over 90 days →" }
            }
            (charts_grid(view))
        }
    }
}

/// The trends page (`/oot/{org}/{repo}/trends?days=`).
pub fn render(view: &TrendsView, now: i64) -> Markup {
    let freshness = Freshness {
        generated_at: view.generated_at.as_deref(),
        newest: None,
        newest_label: "",
    };
    let repo = &view.downstream_repo;
    let body = html! {
        p.crumbs {
            a href="/oot" { "← all backends" } " · "
            a href=(format::backend_path(repo)) { (repo) }
        }
        h1 { "Trends of " (repo) }
        nav.windows aria-label="days shown" {
            span.muted { "Days: " }
            @for days in TrendDays::ALL {
                @if days.days() == view.days {
                    a.selected href=(trends_href(repo, days)) aria-current="page" { (days.as_str()) " days" }
                } @else {
                    a href=(trends_href(repo, days)) { (days.as_str()) " days" }
                }
            }
        }
        (explanation())
        h2 { "Last " (view.days) " days, in all" }
        (totals(&view.totals))
        (charts_grid(view))
        @let days = view.days.to_string();
        (layout::csv_link(&format!("/api{}/trends", format::backend_path(repo)), &[("days", Some(&days))]))
    };
    layout::page(&format!("Trends · {repo}"), now, Some(freshness), body)
}

/// The summary's sparkline cell: the daily pass rate, linking to the backend's trends; "—" where
/// the summary has none.
pub fn sparkline_cell(repo: &str, daily: Option<&[DailyPassRate]>) -> Markup {
    let Some(daily) = daily else {
        return html! { "—" };
    };
    let days: Vec<SparkDay> = daily
        .iter()
        .map(|d| SparkDay {
            date: d.date.clone(),
            share: d.pass_rate.as_ref().map(share),
            text: rate_text(d.pass_rate.as_ref()),
        })
        .collect();
    let what = format!("Daily pass rate of {repo}");
    html! {
        a.sparkline href=(trends_href(repo, TrendDays::DEFAULT)) {
            (charts::sparkline(&what, &days))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::charts::tests::well_formed;
    use crate::stores::rollups::RepoDay;
    use crate::views::trends::{build, start_of_day, DAY};
    use oot_rollup::{Contribution, Figures, Outcome};

    const NOW: i64 = 1_800_000_000;

    fn view() -> TrendsView {
        let mut figures = Figures::default();
        for (outcome, duration_s) in [
            (Outcome::Success, 600),
            (Outcome::Failure, 1_200),
            (Outcome::TimedOut, 200_000),
        ] {
            figures.add(&Figures::of(&Contribution {
                outcome,
                duration_us: Some(duration_s * 1_000_000),
                queue_us: Some(30 * 1_000_000),
            }));
        }
        let rows = [RepoDay {
            downstream_repo: "acme/<npu>".to_owned(),
            day: start_of_day(NOW) - 2 * DAY,
            figures,
        }];
        build("acme/<npu>", TrendDays::Month, NOW, &rows)
    }

    #[test]
    fn the_section_draws_four_charts_with_their_numbers_and_links_to_90_days() {
        let view = view();
        let html = section(&view).into_string();
        // The section alone is one element: XML all the way down, no inline style.
        let names = well_formed(&html);
        assert_eq!(names.iter().filter(|n| *n == "svg").count(), 4);
        assert_eq!(names.iter().filter(|n| *n == "table").count(), 4);
        assert!(!html.contains("style="));
        assert!(html.contains("acme/&lt;npu&gt;") || html.contains("acme/%3Cnpu%3E"));
        assert!(!html.contains("<npu>"));
        assert!(
            html.contains(r#"href="/oot/acme/%3Cnpu%3E/trends?days=90""#),
            "{html}"
        );
        assert!(html.contains("1/3 — 33.3%"), "the day's pass rate as text");
        assert!(
            html.contains("at least 24 h 0 min"),
            "the open bucket, in words"
        );
        assert_eq!(
            html.matches("no results").count(),
            29 * 2,
            "29 quiet days, tooltip and table"
        );
    }

    #[test]
    fn the_page_has_its_totals_and_range_links() {
        let html = render(&view(), NOW).into_string();
        assert!(
            html.contains("<title>Trends · acme/&lt;npu&gt; · OOT HUD</title>"),
            "{html}"
        );
        assert!(html.contains(r#"aria-current="page">30 days</a>"#));
        assert!(html.contains("Last 30 days, in all"));
        assert!(!html.contains("style=") && !html.contains("<script"));
    }

    #[test]
    fn the_sparkline_links_to_the_trends_and_says_its_days() {
        let daily = vec![
            DailyPassRate {
                date: "2026-04-01".to_owned(),
                pass_rate: Ratio::of(5, 6),
            },
            DailyPassRate {
                date: "2026-04-02".to_owned(),
                pass_rate: None,
            },
        ];
        let html = sparkline_cell("acme/npu", Some(&daily)).into_string();
        well_formed(&html);
        assert!(
            html.contains(r#"href="/oot/acme/npu/trends?days=30""#),
            "{html}"
        );
        assert!(
            html.contains("<title>2026-04-01: 5/6 — 83.3%</title>"),
            "{html}"
        );
        assert!(html.contains("1 of 2 days with results"), "{html}");
        assert_eq!(sparkline_cell("acme/npu", None).into_string(), "—");
    }
}
