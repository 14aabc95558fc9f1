//! The per-backend page (`/oot/{org}/{repo}`), rendered from
//! [`crate::views::backend::BackendView`]: header, PR-by-job matrix, failure drill-down.

use std::collections::HashMap;

use maud::{html, Markup};

use crate::pages::failing_tests::failing_tests_path;
use crate::pages::format;
use crate::pages::layout::{self, Freshness};
use crate::pages::scorecard;
use crate::pages::trends;
use crate::views::alerts::AlertsView;
use crate::views::backend::{BackendView, Failure, Header, Row, Target};
use crate::views::cell::JobCell;
use crate::views::deliveries::CountsView;
use crate::views::scorecard::ScorecardView;
use crate::views::trends::TrendsView;

/// The drill-down anchor of the `i`th failure on the page.
fn failure_anchor(i: usize) -> String {
    format!("failure-{i}")
}

/// What the page shows under its header, each when given.
#[derive(Default)]
pub struct Sections<'a> {
    pub readiness: Option<&'a ScorecardView>,
    pub trends: Option<&'a TrendsView>,
    /// The delivery counts (docs/contract.md §16).
    pub deliveries: Option<&'a [CountsView]>,
    /// The backend's open alerts and those closed in the page's window (§17.6).
    pub alerts: Option<&'a AlertsView>,
}

/// The page.
pub fn render(view: &BackendView, sections: &Sections<'_>, now: i64) -> Markup {
    let newest = format::newest(view.rows.iter().map(|r| r.last_seen_at.as_deref()));
    let freshness = Freshness {
        generated_at: view.generated_at.as_deref(),
        newest,
        newest_label: "newest job on this page first seen",
    };
    let base = format::backend_path(&view.downstream_repo);
    let per_page = view.page.per_page.to_string();
    let href = |window: &str, page: usize| {
        let page = page.to_string();
        format!(
            "{base}{}",
            format::query(&[
                ("window", Some(window)),
                ("page", Some(&page)),
                ("per_page", Some(&per_page)),
            ])
        )
    };
    // The CSV of this page's rows (paging applies to the CSV as to the JSON).
    let page = view.page.page.to_string();
    let csv_pairs = [
        ("window", Some(view.window)),
        ("page", Some(page.as_str())),
        ("per_page", Some(per_page.as_str())),
    ];
    let api_path = format!("/api{base}");
    let anchors: HashMap<&str, String> = view
        .failures
        .iter()
        .enumerate()
        .map(|(i, f)| (f.job_key.as_str(), failure_anchor(i)))
        .collect();
    let body = html! {
        p.crumbs { a href="/oot" { "← all backends" } }
        h1 {
            (view.downstream_repo)
            @if let Some(level) = &view.level { " " span.level { (level) } }
        }
        p {
            (format::external_link(
                Some(&format!("https://github.com/{}", view.downstream_repo)),
                "repository on GitHub",
            ))
            " · "
            a href={
                (failing_tests_path(&view.downstream_repo))
                (format::query(&[("window", Some(view.window))]))
            } { "failing tests" }
            " · "
            a href={
                (crate::pages::nightly::nightly_path(&view.downstream_repo))
                (format::query(&[("window", Some(view.window))]))
            } { "nightly runs" }
        }
        (layout::window_selector(Some(view.window), None, |w| {
            href(w.map_or(view.window, |w| w.as_str()), 1)
        }))
        (header(&view.header))
        @if let Some(readiness) = sections.readiness { (scorecard::section(readiness, now)) }
        @if let Some(trends) = sections.trends { (trends::section(trends)) }
        @if let Some(counts) = sections.deliveries {
            (crate::pages::deliveries::section(&view.downstream_repo, counts))
        }
        @if let Some(alerts) = sections.alerts {
            (crate::pages::alerts::backend_section(&view.downstream_repo, alerts, now))
        } @else {
            p {
                a href=(crate::pages::alerts::alerts_path(Some(&view.downstream_repo))) {
                    "alerts: open and recently closed, with their webhook deliveries"
                }
            }
        }
        h2 { "Upstream targets × jobs" }
        @if view.rows.is_empty() {
            p.empty {
                @if view.page.page == 1 { "No job of this backend in the window." }
                @else { "No rows on this page." }
            }
        } @else {
            (layout::csv_link(&api_path, &csv_pairs))
            div.matrix-scroll tabindex="0" role="region" aria-label="job matrix, scrolls sideways" {
                table.matrix {
                    thead {
                        tr {
                            th scope="col" { "Upstream" }
                            @for column in &view.columns {
                                th scope="col" {
                                    span.workflow { (column.workflow_name) }
                                    br;
                                    (column.job_name)
                                }
                            }
                        }
                    }
                    tbody {
                        @for row in &view.rows {
                            (matrix_row(row, view.window, &anchors, now))
                        }
                    }
                }
            }
        }
        nav.pages aria-label="pages" {
            @if view.page.page > 1 {
                a rel="prev" href=(href(view.window, view.page.page - 1)) { "← newer" }
            }
            span { " page " (view.page.page) " " }
            @if view.page.has_more {
                a rel="next" href=(href(view.window, view.page.page + 1)) { "older →" }
            }
        }
        h2 { "Failures on this page" }
        @if view.failures.is_empty() {
            p.empty { "No failed job on this page." }
        } @else {
            (layout::csv_link(&api_path, &[csv_pairs.as_slice(), &[("table", Some("failed_tests"))]].concat()))
            @for (i, failure) in view.failures.iter().enumerate() {
                (drill_down(i, failure))
            }
        }
    };
    layout::page(&view.downstream_repo, now, Some(freshness), body)
}

fn header(h: &Header) -> Markup {
    html! {
        dl.stats {
            div { dt { "Pass rate" } dd { (format::ratio(h.pass_rate.as_ref())) } }
            div { dt { "Timeout rate" } dd { (format::ratio(h.timeout_rate.as_ref())) } }
            div { dt { "Avg queue time" } dd { (format::duration(h.avg_queue_time_s)) } }
            div { dt { "Avg execution time" } dd { (format::duration(h.avg_execution_time_s)) } }
            div { dt { "Completed" } dd { (h.completed) } }
            div { dt { "✔ Successes" } dd { (h.successes) } }
            div { dt { "✘ Failures" } dd { (h.failures) } }
            div { dt { "◷ Timed out" } dd { (h.timed_out) } }
            div { dt { "⊘ Cancelled" } dd { (h.cancelled) } }
            div { dt { "Other" } dd { (h.other) } }
            div { dt { "● Running now" } dd { (h.running) } }
        }
    }
}

fn target(t: &Target, window: &str) -> Markup {
    let sha = t
        .head_sha
        .as_deref()
        .map(|s| s.chars().take(7).collect::<String>());
    html! {
        @match (&t.upstream_repo, t.pr_number) {
            (Some(upstream), Some(pr)) => {
                @let pr_text = pr.to_string();
                a href={ "/pr/" (pr) (format::query(&[("upstream_repo", Some(upstream)), ("window", Some(window))])) } {
                    (t.label)
                }
                " "
                (format::external_link(Some(&format!("https://github.com/{upstream}/pull/{pr_text}")), "GitHub"))
            }
            _ => { (t.label) }
        }
        @if let Some(sha) = sha { br; code.sha { (sha) } }
    }
}

fn matrix_row(row: &Row, window: &str, anchors: &HashMap<&str, String>, now: i64) -> Markup {
    html! {
        tr {
            th scope="row" {
                (target(&row.target, window))
                br;
                span.small { "seen " (format::time(row.last_seen_at.as_deref(), now)) }
            }
            @for cell in &row.cells {
                @match cell {
                    Some(cell) => td { (matrix_cell(cell, anchors.get(cell.job_key.as_str()), now)) },
                    None => td.none { span.muted { "—" } },
                }
            }
        }
    }
}

/// One cell of a matrix: the job's state, attempt, times, test counts and links (the nightly
/// page's cells too, without a drill-down `anchor`).
pub(crate) fn matrix_cell(cell: &JobCell, anchor: Option<&String>, now: i64) -> Markup {
    let tests = format::tests(&cell.tests);
    html! {
        (format::state(cell.state))
        @if cell.run_attempt > 1 { " " span.small { "attempt " (cell.run_attempt) } }
        br;
        span.small {
            @if cell.completed_at.is_some() {
                (format::duration(cell.duration_s)) " · " (format::time(cell.completed_at.as_deref(), now))
            } @else {
                "started " (format::time(cell.started_at.as_deref(), now))
            }
        }
        @if !tests.is_empty() { br; span.small { (tests) } }
        br;
        span.links {
            (format::external_link(cell.links.workflow_run.as_deref(), "run"))
            @if cell.links.artifacts.is_some() { " · " }
            (format::external_link(cell.links.artifacts.as_deref(), "artifacts"))
            @if let Some(anchor) = anchor { " · " a href={ "#" (anchor) } { "failed tests" } }
        }
    }
}

fn drill_down(i: usize, f: &Failure) -> Markup {
    html! {
        section.failure id=(failure_anchor(i)) {
            h3 {
                (format::state(f.state)) " "
                (f.row_label) " · " span.workflow { (f.workflow_name) } " / " (f.job_name)
                @if f.run_attempt > 1 { " (attempt " (f.run_attempt) ")" }
            }
            p.links {
                (format::external_link(f.links.workflow_run.as_deref(), "workflow run"))
                @if f.links.artifacts.is_some() { " · " }
                (format::external_link(f.links.artifacts.as_deref(), "artifacts"))
                @if let Some(n) = f.failed_tests_reported { " · " (n) " failed tests reported" }
            }
            @if f.failed_tests.is_empty() {
                p.muted { "The job listed no failed tests." }
            } @else {
                ol.tests {
                    @for test in &f.failed_tests {
                        li {
                            details {
                                summary {
                                    @if let Some(class) = &test.classname { span.muted { (class) "." } }
                                    code { (test.name.as_deref().unwrap_or("(unnamed test)")) }
                                    @if test.duration_s.is_some() { " " span.small { "(" (format::duration(test.duration_s)) ")" } }
                                    @if let Some(message) = &test.message {
                                        br; span.message { (first_line(message)) }
                                    }
                                }
                                @if let Some(message) = &test.message {
                                    h4 { "Message" @if test.message_truncated { " (truncated)" } }
                                    pre { (message) }
                                }
                                @if let Some(trace) = &test.stacktrace {
                                    h4 { "Stack trace" @if test.stacktrace_truncated { " (truncated)" } }
                                    pre { (trace) }
                                }
                            }
                        }
                    }
                }
                @if f.failed_tests_omitted > 0 {
                    p.muted { "… and " (f.failed_tests_omitted) " more, not listed here." }
                }
            }
        }
    }
}

/// The first line of a message, for the one-line summary of a test (the full text is below).
fn first_line(text: &str) -> String {
    const MAX: usize = 200;
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > MAX {
        format!("{}…", line.chars().take(MAX).collect::<String>())
    } else {
        line.to_owned()
    }
}
