//! The global summary page (`/oot`), rendered from [`crate::views::summary::Summary`].

use maud::{html, Markup};

use crate::pages::format;
use crate::pages::layout::{self, Freshness};
use crate::pages::scorecard;
use crate::pages::trends;
use crate::views::summary::{RepoSummary, Summary};

pub fn render(view: &Summary, now: i64) -> Markup {
    let newest = format::newest(view.repos.iter().map(|r| r.last_run_at.as_deref()));
    let freshness = Freshness {
        generated_at: view.generated_at.as_deref(),
        newest,
        newest_label: "newest result",
    };
    let body = html! {
        h1 { "Out-of-tree backends" }
        p.lede {
            "Every downstream repo reporting CI results, worst first. Pass rate = successes / "
            "(success + failure + timed out), latest attempt of each run first seen in the window."
        }
        (layout::window_selector(Some(view.window), None, |w| {
            format!("/oot{}", format::query(&[("window", w.map(|w| w.as_str()))]))
        }))
        @if view.repos.is_empty() {
            p.empty { "No downstream repo has reported a result yet." }
        } @else {
            (layout::csv_link("/api/oot/summary", &[("window", Some(view.window))]))
            table.summary {
                caption { "Backends, worst first (window " (view.window) ")" }
                thead {
                    tr {
                        th scope="col" { "Backend" }
                        th scope="col" { "Level" }
                        th scope="col" { "Readiness" }
                        th scope="col" { "Pass rate" }
                        th scope="col" { "Last 30 days" }
                        th scope="col" class="num" { "✔ Successes" }
                        th scope="col" class="num" { "✘ Failures" }
                        th scope="col" class="num" { "◷ Timed out" }
                        th scope="col" class="num" { "⊘ Cancelled" }
                        th scope="col" class="num" { "Other" }
                        th scope="col" { "Avg duration" }
                        th scope="col" { "Last run" }
                        th scope="col" { "Freshness" }
                    }
                }
                tbody {
                    @for repo in &view.repos {
                        (line(repo, view.window, now))
                    }
                }
            }
        }
    };
    layout::page("Summary", now, Some(freshness), body)
}

fn line(repo: &RepoSummary, window: &str, now: i64) -> Markup {
    let href = format!(
        "{}{}",
        format::backend_path(&repo.downstream_repo),
        format::query(&[("window", Some(window))])
    );
    html! {
        tr class=[repo.stale.then_some("stale")] {
            th scope="row" data-label="Backend" { a href=(href) { (repo.downstream_repo) } }
            td data-label="Level" { (repo.level.as_deref().unwrap_or("—")) }
            td data-label="Readiness" { (scorecard::verdict_cell(repo.readiness.as_ref())) }
            td data-label="Pass rate" { (format::ratio(repo.pass_rate.as_ref())) }
            td data-label="Last 30 days" {
                (trends::sparkline_cell(&repo.downstream_repo, repo.pass_rate_daily.as_deref()))
            }
            td.num data-label="✔ Successes" { (repo.successes) }
            td.num data-label="✘ Failures" { (repo.failures) }
            td.num data-label="◷ Timed out" { (repo.timed_out) }
            td.num data-label="⊘ Cancelled" { (repo.cancelled) }
            td.num data-label="Other" { (repo.other) }
            td data-label="Avg duration" { (format::duration(repo.avg_duration_s)) }
            td data-label="Last run" { (format::time(repo.last_run_at.as_deref(), now)) }
            td data-label="Freshness" { (staleness(repo)) }
        }
    }
}

fn staleness(repo: &RepoSummary) -> Markup {
    match (repo.stale, repo.days_since_last_result) {
        (false, _) => html! { span.fresh { "reporting" } },
        (true, Some(days)) => html! {
            span.stale-note { "⚠ stale: no result for " (days) (if days == 1 { " day" } else { " days" }) }
        },
        (true, None) => html! { span.stale-note { "⚠ stale: no result yet" } },
    }
}
