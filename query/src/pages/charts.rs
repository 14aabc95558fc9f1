//! Charts drawn on the server as inline SVG, from numbers alone: no script, and no `style`
//! attribute (the pages' CSP, `style-src 'self'`, would refuse it), so colours are classes styled
//! in `static/oot.css` and the shapes' geometry is SVG attributes. Every chart is an image with
//! a label saying what it shows in words (`role="img"`, `aria-label`), a `<title>` on each bar
//! or point (the tooltip: the day and the value as text), and, under it, the same numbers in a
//! table, so nothing is only in the drawing.
//!
//! [`chart`] draws one series of days as stacked bars or lines; [`sparkline`] a row of tiny bars
//! for a table cell. Both take the text of each value from the caller, so a rate reads
//! `5/6 — 83.3%` and a duration `1 h 5 min` as everywhere else on the pages. Text is escaped by
//! maud like all page text.

use maud::{html, Markup};

/// The drawing's size in its own units: the SVG scales to its box's width (CSS), text with it.
const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 200.0;
/// Room for the value axis's labels (left) and the days' (below).
const LEFT: f64 = 60.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;

/// How values read on the value axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// 0 to 100 (a rate in percent).
    Percent,
    /// Whole numbers from 0.
    Count,
    /// Seconds from 0, labelled as durations.
    Seconds,
}

/// How a chart's series are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One bar per day, the series stacked in order.
    Bars,
    /// One line per series, broken where a day has no value, a dot on each value.
    Lines,
}

/// One day's value of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// `None`: nothing to draw that day (no runs, no percentile).
    pub value: Option<f64>,
    /// The value as the pages write it (the tooltip and the table); "—" when there is none.
    pub text: String,
    /// The true value is at least `value` (a percentile in the histogram's open bucket): drawn
    /// as a hollow dot.
    pub is_lower_bound: bool,
}

impl Point {
    pub fn of(value: Option<f64>, text: String) -> Point {
        Point {
            value: value.filter(|v| v.is_finite()),
            text,
            is_lower_bound: false,
        }
    }
}

/// One series: a name for the legend and the table, a class that colours it (`s-…` in
/// `oot.css`), one point per day.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub class: &'static str,
    pub points: Vec<Point>,
}

/// A chart of values per day.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub kind: Kind,
    pub scale: Scale,
    /// The days, oldest first, as they are named (`2026-04-28`); one point of each series per day.
    pub days: Vec<String>,
    pub series: Vec<Series>,
}

/// A coordinate as SVG text: one decimal is finer than a pixel at any size the page shows.
fn at(v: f64) -> String {
    format!("{v:.1}")
}

/// The top of the value axis: a round number at or over `max` whose half is round too.
fn axis_max(scale: Scale, max: f64) -> f64 {
    match scale {
        Scale::Percent => 100.0,
        Scale::Count => {
            let mut magnitude = 1.0;
            loop {
                for step in [2.0, 4.0, 6.0, 10.0] {
                    if max <= step * magnitude {
                        return step * magnitude;
                    }
                }
                magnitude *= 10.0;
                if !magnitude.is_finite() {
                    return max;
                }
            }
        }
        Scale::Seconds => {
            const STEPS: [f64; 14] = [
                60.0, 120.0, 240.0, 600.0, 1_200.0, 1_800.0, 3_600.0, 7_200.0, 14_400.0, 21_600.0,
                43_200.0, 86_400.0, 172_800.0, 345_600.0,
            ];
            STEPS
                .into_iter()
                .find(|s| max <= *s)
                .unwrap_or_else(|| (max / 86_400.0).ceil() * 86_400.0)
        }
    }
}

/// A value axis label: `50%`, `12`, `30 min`, `1 h 30 min`.
fn axis_label(scale: Scale, v: f64) -> String {
    match scale {
        Scale::Percent => format!("{v:.0}%"),
        Scale::Count => format!("{v:.0}"),
        Scale::Seconds => {
            // Axis values are round (see `axis_max`): whole minutes from a minute up.
            let total = v.round() as u64;
            let (h, m, s) = (total / 3_600, (total % 3_600) / 60, total % 60);
            match (h, m, s) {
                (0, 0, s) => format!("{s} s"),
                (0, m, 0) => format!("{m} min"),
                (0, m, s) => format!("{m} min {s} s"),
                (h, 0, _) => format!("{h} h"),
                (h, m, _) => format!("{h} h {m} min"),
            }
        }
    }
}

/// The highest value drawn: the tallest stack of bars, or the highest point.
fn highest(chart: &Chart) -> f64 {
    let days = chart.days.len();
    match chart.kind {
        Kind::Bars => (0..days)
            .map(|d| {
                chart
                    .series
                    .iter()
                    .filter_map(|s| s.points.get(d).and_then(|p| p.value))
                    .map(|v| v.max(0.0))
                    .sum::<f64>()
            })
            .fold(0.0, f64::max),
        Kind::Lines => chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|p| p.value))
            .fold(0.0, f64::max),
    }
}

/// Where values and days fall in the drawing.
struct Frame {
    max: f64,
    days: usize,
}

impl Frame {
    fn slot(&self) -> f64 {
        (WIDTH - LEFT - RIGHT) / self.days.max(1) as f64
    }

    /// The centre of day `i`.
    fn x(&self, i: usize) -> f64 {
        LEFT + self.slot() * (i as f64 + 0.5)
    }

    fn y(&self, v: f64) -> f64 {
        let share = if self.max > 0.0 {
            (v / self.max).clamp(0.0, 1.0)
        } else {
            0.0
        };
        HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * share
    }
}

/// What the chart shows, in words, for its image label: each series' days with a value, its
/// highest and its last. The table under the chart has every number.
fn description(chart: &Chart) -> String {
    let (first, last) = match (chart.days.first(), chart.days.last()) {
        (Some(first), Some(last)) => (first.as_str(), last.as_str()),
        _ => return format!("{}: no days.", chart.title),
    };
    let mut parts = vec![format!("{}, per day from {first} to {last}.", chart.title)];
    for series in &chart.series {
        let valued: Vec<(usize, &Point, f64)> = series
            .points
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.value.map(|v| (i, p, v)))
            .collect();
        let name = &series.name;
        let day = |i: usize| chart.days.get(i).map_or("?", String::as_str);
        let top = valued.iter().fold(
            None,
            |best: Option<&(usize, &Point, f64)>, item| match best {
                Some(b) if b.2 >= item.2 => Some(b),
                _ => Some(item),
            },
        );
        match (top, valued.last()) {
            (Some((ti, tp, _)), Some((li, lp, _))) => parts.push(format!(
                "{name}: {} of {} days with a value; highest {} on {}; last {} on {}.",
                valued.len(),
                chart.days.len(),
                tp.text,
                day(*ti),
                lp.text,
                day(*li)
            )),
            _ => parts.push(format!("{name}: no value on any day.")),
        }
    }
    parts.push("The numbers are in the table below the chart.".to_owned());
    parts.join(" ")
}

/// The chart as a figure: its caption, a legend when it has several series, the SVG, and the
/// numbers in a table (inside `<details>`, open to anyone, read by screen readers).
pub fn chart(chart: &Chart) -> Markup {
    let frame = Frame {
        max: axis_max(chart.scale, highest(chart)),
        days: chart.days.len(),
    };
    let viewbox = format!("0 0 {WIDTH} {HEIGHT}");
    html! {
        figure.chart {
            figcaption { (chart.title) }
            @if chart.series.len() > 1 {
                ul.legend {
                    @for series in &chart.series {
                        li { span class={ "swatch " (series.class) } {} (series.name) }
                    }
                }
            }
            svg.chart xmlns="http://www.w3.org/2000/svg" viewBox=(viewbox)
                width=(WIDTH) height=(HEIGHT) role="img" aria-label=(description(chart)) {
                (axes(chart, &frame))
                @match chart.kind {
                    Kind::Bars => (bars(chart, &frame)),
                    Kind::Lines => (lines(chart, &frame)),
                }
            }
            details.chart-numbers {
                summary { "Numbers: " (chart.title) }
                table.chart-numbers {
                    thead {
                        tr {
                            th scope="col" { "Day (UTC)" }
                            @for series in &chart.series { th scope="col" { (series.name) } }
                        }
                    }
                    tbody {
                        @for (i, day) in chart.days.iter().enumerate() {
                            tr {
                                th scope="row" { (day) }
                                @for series in &chart.series {
                                    td {
                                        (series.points.get(i).map_or("—", |p| p.text.as_str()))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Three grid lines with their values (0, half, top) and the first, middle and last days.
fn axes(chart: &Chart, frame: &Frame) -> Markup {
    let ticks = [0.0, frame.max / 2.0, frame.max];
    let n = chart.days.len();
    let mut days: Vec<(f64, &'static str, &str)> = Vec::new();
    if let Some(first) = chart.days.first() {
        days.push((LEFT, "start", first));
    }
    if n >= 3 {
        days.push((frame.x(n / 2), "middle", &chart.days[n / 2]));
    }
    if n >= 2 {
        days.push((WIDTH - RIGHT, "end", &chart.days[n - 1]));
    }
    html! {
        g.axes {
            @for tick in ticks {
                line.grid x1=(at(LEFT)) x2=(at(WIDTH - RIGHT)) y1=(at(frame.y(tick))) y2=(at(frame.y(tick))) {}
                text x=(at(LEFT - 6.0)) y=(at(frame.y(tick) + 4.0)) text-anchor="end" {
                    (axis_label(chart.scale, tick))
                }
            }
            @for (x, anchor, day) in days {
                text x=(at(x)) y=(at(HEIGHT - 6.0)) text-anchor=(anchor) { (day) }
            }
        }
    }
}

/// One bar (or a stack's part) to draw: where, its class, its tooltip.
struct Bar {
    x: f64,
    y: f64,
    height: f64,
    class: &'static str,
    title: String,
}

/// Each day's bars: its series stacked from the axis up, in order; a day without a value a mark
/// on the axis, so it reads apart from a zero.
fn bar_shapes(chart: &Chart, frame: &Frame) -> Vec<Bar> {
    let mut shapes = Vec::new();
    for (i, day) in chart.days.iter().enumerate() {
        let points: Vec<(&Series, &Point)> = chart
            .series
            .iter()
            .filter_map(|s| s.points.get(i).map(|p| (s, p)))
            .collect();
        if points.iter().all(|(_, p)| p.value.is_none()) {
            let text = points.first().map_or("—", |(_, p)| p.text.as_str());
            shapes.push(Bar {
                x: frame.x(i),
                y: frame.y(0.0) - 2.0,
                height: 2.0,
                class: "none",
                title: format!("{day}: {text}"),
            });
            continue;
        }
        let mut below = 0.0;
        for (series, point) in points {
            let Some(v) = point.value.map(|v| v.max(0.0)) else {
                continue;
            };
            let (top, bottom) = (frame.y(below + v), frame.y(below));
            below += v;
            // A rate of 0% is a sliver, so it reads apart from a day without runs; a count of 0
            // is nothing.
            let height = if chart.scale == Scale::Percent {
                (bottom - top).max(1.5)
            } else {
                bottom - top
            };
            if height > 0.0 {
                shapes.push(Bar {
                    x: frame.x(i),
                    y: bottom - height,
                    height,
                    class: series.class,
                    title: format!("{day}: {} {}", series.name, point.text),
                });
            }
        }
    }
    shapes
}

fn bars(chart: &Chart, frame: &Frame) -> Markup {
    let width = (frame.slot() * 0.7).max(1.0);
    html! {
        @for bar in bar_shapes(chart, frame) {
            rect class=(bar.class) x=(at(bar.x - width / 2.0)) y=(at(bar.y)) width=(at(width))
                height=(at(bar.height)) {
                title { (bar.title) }
            }
        }
    }
}

/// The `d` of a path through the series' values, broken where a day has none.
fn line_path(points: &[Point], frame: &Frame) -> String {
    let mut d = String::new();
    let mut drawing = false;
    for (i, point) in points.iter().enumerate() {
        match point.value {
            Some(v) => {
                let command = if drawing { 'L' } else { 'M' };
                d.push_str(&format!("{command}{} {} ", at(frame.x(i)), at(frame.y(v))));
                drawing = true;
            }
            None => drawing = false,
        }
    }
    d.trim_end().to_owned()
}

fn lines(chart: &Chart, frame: &Frame) -> Markup {
    html! {
        @for series in &chart.series {
            @let d = line_path(&series.points, frame);
            @if !d.is_empty() {
                path class={ "line " (series.class) } d=(d) fill="none" {}
            }
            @for (i, point) in series.points.iter().enumerate() {
                @if let Some(v) = point.value {
                    circle class={ "dot " (series.class) @if point.is_lower_bound { " lower" } }
                        cx=(at(frame.x(i))) cy=(at(frame.y(v))) r="3" {
                        title {
                            (chart.days.get(i).map_or("?", String::as_str)) ": " (series.name) " "
                            (point.text)
                        }
                    }
                }
            }
        }
    }
}

/// One day of a sparkline: a share from 0 to 1, or none.
#[derive(Debug, Clone, PartialEq)]
pub struct SparkDay {
    pub date: String,
    pub share: Option<f64>,
    /// The value as the page writes it, for the tooltip and the label.
    pub text: String,
}

/// Width of one day's bar in a sparkline, and the bar's height at a share of 1.
const SPARK_STEP: f64 = 3.0;
const SPARK_HEIGHT: f64 = 22.0;

/// A row of tiny bars, one per day, the height its share (a pass rate): for a table cell. Its
/// label says in words how many days had a value, the lowest and the last; each bar's title
/// gives its day and value.
pub fn sparkline(what: &str, days: &[SparkDay]) -> Markup {
    let width = SPARK_STEP * days.len().max(1) as f64;
    let viewbox = format!("0 0 {} {}", at(width), SPARK_HEIGHT + 2.0);
    html! {
        svg.sparkline xmlns="http://www.w3.org/2000/svg" viewBox=(viewbox)
            width=(at(width)) height=(SPARK_HEIGHT + 2.0) role="img" aria-label=(spark_label(what, days)) {
            @for (i, day) in days.iter().enumerate() {
                @let x = i as f64 * SPARK_STEP;
                @match day.share {
                    Some(share) => {
                        @let height = (share.clamp(0.0, 1.0) * SPARK_HEIGHT).max(1.5);
                        rect.spark x=(at(x)) y=(at(SPARK_HEIGHT + 1.0 - height)) width=(at(SPARK_STEP - 1.0)) height=(at(height)) {
                            title { (day.date) ": " (day.text) }
                        }
                    }
                    None => {
                        rect.none x=(at(x)) y=(at(SPARK_HEIGHT)) width=(at(SPARK_STEP - 1.0)) height="1" {
                            title { (day.date) ": " (day.text) }
                        }
                    }
                }
            }
        }
    }
}

fn spark_label(what: &str, days: &[SparkDay]) -> String {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return format!("{what}: no days.");
    };
    let valued: Vec<&SparkDay> = days.iter().filter(|d| d.share.is_some()).collect();
    let lowest = valued
        .iter()
        .fold(None, |low: Option<&&SparkDay>, d| match low {
            Some(l) if l.share <= d.share => Some(l),
            _ => Some(d),
        });
    match (lowest, valued.last()) {
        (Some(low), Some(latest)) => format!(
            "{what}, {} to {}: {} of {} days with results; lowest {} on {}; last {} on {}.",
            first.date,
            last.date,
            valued.len(),
            days.len(),
            low.text,
            low.date,
            latest.text,
            latest.date
        ),
        _ => format!("{what}, {} to {}: no results.", first.date, last.date),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks that `markup` is well-formed XML (one root, every element closed in order, no
    /// stray `&`), with `xmlparser`'s tokenizer and a stack of open elements; returns the
    /// elements' names in document order.
    pub(crate) fn well_formed(markup: &str) -> Vec<String> {
        let mut open: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut roots = 0;
        for token in xmlparser::Tokenizer::from(markup) {
            match token.unwrap_or_else(|e| panic!("not XML: {e}\n{markup}")) {
                xmlparser::Token::ElementStart { local, .. } => {
                    if open.is_empty() {
                        roots += 1;
                    }
                    open.push(local.as_str().to_owned());
                    names.push(local.as_str().to_owned());
                }
                xmlparser::Token::ElementEnd { end, .. } => match end {
                    xmlparser::ElementEnd::Open => {}
                    xmlparser::ElementEnd::Close(_, local) => {
                        let top = open.pop();
                        assert_eq!(top.as_deref(), Some(local.as_str()), "{markup}");
                    }
                    xmlparser::ElementEnd::Empty => {
                        open.pop();
                    }
                },
                xmlparser::Token::Attribute { local, .. } => {
                    assert_ne!(local.as_str(), "style", "no inline style: {markup}");
                }
                _ => {}
            }
        }
        assert!(open.is_empty(), "unclosed {open:?}");
        assert_eq!(roots, 1, "one root element");
        names
    }

    fn days(n: usize) -> Vec<String> {
        (1..=n).map(|d| format!("2026-04-{d:02}")).collect()
    }

    fn point(v: Option<f64>) -> Point {
        Point::of(v, v.map_or("—".to_owned(), |v| format!("{v}")))
    }

    fn rates() -> Chart {
        Chart {
            title: "Pass rate <per day>".to_owned(),
            kind: Kind::Bars,
            scale: Scale::Percent,
            days: days(5),
            series: vec![Series {
                name: "pass rate".to_owned(),
                class: "s-pass",
                points: [Some(100.0), None, Some(0.0), Some(50.0), None]
                    .into_iter()
                    .map(point)
                    .collect(),
            }],
        }
    }

    #[test]
    fn a_bar_chart_is_well_formed_svg_with_a_title_per_bar_and_its_table() {
        let html = chart(&rates()).into_string();
        let names = well_formed(&html);
        assert_eq!(names.first().map(String::as_str), Some("figure"));
        assert_eq!(names.iter().filter(|n| *n == "svg").count(), 1);
        assert!(html.contains(r#"role="img""#) && html.contains("aria-label=\""));
        assert!(!html.contains("style="), "{html}");
        assert!(!html.to_lowercase().contains("<script"));
        // Three days with a value (0% a sliver), two without (a mark on the axis): five titles
        // in the drawing, plus the caption's text escaped.
        assert_eq!(html.matches("<title>").count(), 5);
        assert!(
            html.contains("<title>2026-04-03: pass rate 0</title>"),
            "{html}"
        );
        assert!(html.contains("<title>2026-04-02: —</title>"), "{html}");
        assert!(html.contains("Pass rate &lt;per day&gt;"));
        assert!(!html.contains("<per day>"));
        // The table: a row per day, the same texts.
        assert_eq!(html.matches("<th scope=\"row\">").count(), 5);
        assert!(html.contains("<td>50</td>"));
        // Axis: 0%, 50%, 100%; the first, middle and last days.
        for label in [
            ">0%<",
            ">50%<",
            ">100%<",
            ">2026-04-01<",
            ">2026-04-03<",
            ">2026-04-05<",
        ] {
            assert!(html.contains(label), "{label} in {html}");
        }
        let label = description(&rates());
        assert!(
            label.contains(
                "3 of 5 days with a value; highest 100 on 2026-04-01; last 50 on 2026-04-04"
            ),
            "{label}"
        );
    }

    #[test]
    fn stacked_bars_add_up_and_lines_break_where_a_day_has_no_value() {
        let stacked = Chart {
            title: "Failures and timeouts".to_owned(),
            kind: Kind::Bars,
            scale: Scale::Count,
            days: days(3),
            series: vec![
                Series {
                    name: "failures".to_owned(),
                    class: "s-failure",
                    points: [Some(3.0), Some(0.0), Some(1.0)]
                        .into_iter()
                        .map(point)
                        .collect(),
                },
                Series {
                    name: "timed out".to_owned(),
                    class: "s-timeout",
                    points: [Some(2.0), Some(0.0), Some(0.0)]
                        .into_iter()
                        .map(point)
                        .collect(),
                },
            ],
        };
        assert_eq!(highest(&stacked), 5.0);
        let html = chart(&stacked).into_string();
        well_formed(&html);
        // 5 rounds up to 6: ticks 0, 3, 6; zero counts draw nothing.
        assert!(html.contains(">6<") && html.contains(">3<"), "{html}");
        assert_eq!(html.matches("<rect").count(), 3, "{html}");
        assert!(html.contains(r#"<ul class="legend">"#));

        let mut p95 = point(Some(90_000.0));
        p95.is_lower_bound = true;
        let lines = Chart {
            title: "Queue time".to_owned(),
            kind: Kind::Lines,
            scale: Scale::Seconds,
            days: days(4),
            series: vec![Series {
                name: "P95".to_owned(),
                class: "s-p95",
                points: vec![point(Some(60.0)), point(Some(120.0)), point(None), p95],
            }],
        };
        let html = chart(&lines).into_string();
        well_formed(&html);
        let frame = Frame {
            max: axis_max(Scale::Seconds, 90_000.0),
            days: 4,
        };
        let d = line_path(&lines.series[0].points, &frame);
        assert_eq!(d.matches('M').count(), 2, "two segments: {d}");
        assert_eq!(d.matches('L').count(), 1, "{d}");
        assert!(html.contains(r#"class="dot s-p95 lower""#), "{html}");
        assert!(html.contains(">48 h<") && html.contains(">24 h<"), "{html}");
    }

    #[test]
    fn axes_are_round() {
        assert_eq!(axis_max(Scale::Count, 0.0), 2.0);
        assert_eq!(axis_max(Scale::Count, 7.0), 10.0);
        assert_eq!(axis_max(Scale::Count, 11.0), 20.0);
        assert_eq!(axis_max(Scale::Count, 3_500.0), 4_000.0);
        assert_eq!(axis_max(Scale::Seconds, 0.0), 60.0);
        assert_eq!(axis_max(Scale::Seconds, 3_300.0), 3_600.0);
        assert_eq!(axis_max(Scale::Seconds, 500_000.0), 518_400.0);
        assert_eq!(axis_label(Scale::Seconds, 5_400.0), "1 h 30 min");
        assert_eq!(axis_label(Scale::Seconds, 900.0), "15 min");
        assert_eq!(axis_label(Scale::Seconds, 30.0), "30 s");
        assert_eq!(axis_label(Scale::Percent, 50.0), "50%");
    }

    #[test]
    fn a_sparkline_is_well_formed_and_says_its_days_in_words() {
        let days: Vec<SparkDay> = [Some(1.0), None, Some(0.5), Some(0.0)]
            .into_iter()
            .enumerate()
            .map(|(i, share)| SparkDay {
                date: format!("2026-04-0{}", i + 1),
                share,
                text: share.map_or("no results".to_owned(), |s| format!("{:.0}%", s * 100.0)),
            })
            .collect();
        let html = sparkline("Daily pass rate", &days).into_string();
        assert_eq!(well_formed(&html)[0], "svg");
        assert_eq!(html.matches("<title>").count(), 4);
        assert!(html.contains("<title>2026-04-02: no results</title>"));
        let label = spark_label("Daily pass rate", &days);
        assert_eq!(
            label,
            "Daily pass rate, 2026-04-01 to 2026-04-04: 3 of 4 days with results; lowest 0% on \
             2026-04-04; last 0% on 2026-04-04."
        );
        let empty: Vec<SparkDay> = days
            .iter()
            .map(|d| SparkDay {
                share: None,
                ..d.clone()
            })
            .collect();
        assert!(spark_label("Daily pass rate", &empty).ends_with("no results."));
        well_formed(&sparkline("x", &[]).into_string());
    }
}
