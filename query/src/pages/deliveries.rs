//! The delivery log on the pages (docs/contract.md §16): a backend's deliveries page
//! (`/oot/{org}/{repo}/deliveries`), rendered from [`DeliveriesView`], and the section of the
//! backend page that counts each outcome over 24 hours and 7 days. Every outcome is a word
//! beside its colour; every refusal lists its problems by field, with who sets the field.

use maud::{html, Markup};

use crate::pages::format;
use crate::pages::layout::{self, Freshness};
use crate::views::deliveries::{CountsView, DeliveriesView, Delivery};

/// The deliveries page's path for `repo`.
pub fn deliveries_path(repo: &str) -> String {
    format!("{}/deliveries", format::backend_path(repo))
}

/// The filters the page offers, with their labels: every outcome a backend meets in practice
/// (the rarer refusals are reachable by their name in `outcome=`).
const FILTERS: [(Option<&str>, &str); 9] = [
    (None, "all"),
    (Some("accepted"), "accepted"),
    (Some("changed"), "changed"),
    (Some("unchanged"), "unchanged"),
    (Some("parked"), "parked"),
    (Some("refused"), "refused"),
    (Some("invalid"), "invalid"),
    (Some("rate_limited"), "rate limited"),
    (Some("log_unavailable"), "log unavailable"),
];

/// An outcome as a coloured badge whose text says it too.
pub fn outcome_badge(outcome: &str) -> Markup {
    let (class, text) = match outcome {
        "changed" => ("success", "✔ accepted · changed"),
        "unchanged" => ("muted", "= accepted · unchanged"),
        "parked" => ("timed-out", "! accepted · parked"),
        "invalid" => ("failure", "✘ refused · invalid"),
        "rate_limited" => ("timed-out", "◷ refused · rate limited"),
        "log_unavailable" => ("cancelled", "⊘ not stored · log unavailable"),
        "internal" => ("failure", "✘ not stored · internal error"),
        "too_large" => ("failure", "✘ refused · too large"),
        _ => ("failure", "✘ refused"),
    };
    html! { span class={ "state state-" (class) } { (text) } }
}

/// The page.
pub fn render(view: &DeliveriesView, now: i64) -> Markup {
    let freshness = Freshness {
        generated_at: view.generated_at.as_deref(),
        newest: view
            .deliveries
            .first()
            .and_then(|d| d.received_at.as_deref()),
        newest_label: "newest delivery on this page received",
    };
    let base = deliveries_path(&view.downstream_repo);
    let per_page = view.page.per_page.to_string();
    let href = |window: &str, outcome: Option<&str>, page: usize| {
        let page = page.to_string();
        format!(
            "{base}{}",
            format::query(&[
                ("window", Some(window)),
                ("outcome", outcome),
                ("page", Some(&page)),
                ("per_page", Some(&per_page)),
            ])
        )
    };
    let page = view.page.page.to_string();
    let csv_pairs = [
        ("window", Some(view.window)),
        ("outcome", view.outcome),
        ("page", Some(page.as_str())),
        ("per_page", Some(per_page.as_str())),
    ];
    let body = html! {
        p.crumbs {
            a href="/oot" { "← all backends" } " · "
            a href=(format::backend_path(&view.downstream_repo)) { (view.downstream_repo) }
        }
        h1 { (view.downstream_repo) " · deliveries" }
        p.lede {
            "Every callback the relay delivered for this backend, newest first, and what became "
            "of it: accepted (and whether it changed the job), or refused, with each reason. "
            "Callbacks without a valid relay token, and bodies whose "
            code { "trusted.verified_repo" } " cannot be read, are not attributed to any backend "
            "and are not listed."
        }
        (counts_table(&view.counts))
        (layout::window_selector(Some(view.window), None, |w| {
            href(w.map_or(view.window, |w| w.as_str()), view.outcome, 1)
        }))
        nav.windows aria-label="outcome" {
            span.muted { "Outcome: " }
            @for (filter, label) in FILTERS {
                @if filter == view.outcome {
                    a.selected href=(href(view.window, filter, 1)) aria-current="page" { (label) }
                } @else {
                    a href=(href(view.window, filter, 1)) { (label) }
                }
            }
        }
        (layout::csv_link(&format!("/api{base}"), &csv_pairs))
        @if view.deliveries.is_empty() {
            p.empty {
                @if view.page.page == 1 { "No delivery of this kind in the window." }
                @else { "No deliveries on this page." }
            }
        } @else {
            ol.deliveries {
                @for delivery in &view.deliveries {
                    li { (delivery_item(delivery, now)) }
                }
            }
        }
        nav.pages aria-label="pages" {
            @if view.page.page > 1 {
                a rel="prev" href=(href(view.window, view.outcome, view.page.page - 1)) { "← newer" }
            }
            span { " page " (view.page.page) " " }
            @if view.page.has_more {
                a rel="next" href=(href(view.window, view.outcome, view.page.page + 1)) { "older →" }
            }
        }
    };
    let title = format!("{} · deliveries", view.downstream_repo);
    layout::page(&title, now, Some(freshness), body)
}

fn delivery_item(d: &Delivery, now: i64) -> Markup {
    html! {
        article.delivery {
            h3 {
                (outcome_badge(&d.outcome)) " "
                span.small { "HTTP " (d.status) " · received " (format::time(d.received_at.as_deref(), now)) }
            }
            p { (d.summary) }
            @if !d.problems.is_empty() {
                table.problems {
                    caption { "Problems, as the 400 answer listed them" }
                    thead { tr { th scope="col" { "Field" } th scope="col" { "Problem" } th scope="col" { "Set by" } } }
                    tbody {
                        @for problem in &d.problems {
                            tr {
                                td { code { (problem.field) } }
                                td { (problem.message) }
                                td.small { (problem.set_by) }
                            }
                        }
                    }
                }
                @if d.problems_not_listed > 0 {
                    p.muted { "… and " (d.problems_not_listed) " more problems, not listed." }
                }
            } @else if let Some(message) = &d.message {
                p.message { (message) }
            }
            dl.facts {
                @if let Some(status) = &d.callback_status {
                    div { dt { "Callback" } dd {
                        (status)
                        @if let Some(conclusion) = &d.conclusion { " · " (conclusion) }
                    } }
                }
                @if let Some(ms) = d.visible_after_ms {
                    div { dt { "Visible after" } dd { (format::duration(Some(ms as f64 / 1000.0))) } }
                }
                @if let Some(s) = d.retry_after_seconds {
                    div { dt { "Retry after" } dd { (s) " s" } }
                }
                @if let Some(job_key) = &d.job_key {
                    div { dt { "Job key" } dd { code { (job_key) } } }
                }
                @if let Some(delivery_id) = &d.delivery_id {
                    div { dt { "Delivery id" } dd { code { (delivery_id) } } }
                }
                div { dt { "Receipt" } dd { code { (d.receipt_id) } } }
                @if let Some(bytes) = d.body_bytes {
                    div { dt { "Body" } dd { (bytes) " bytes" } }
                }
            }
            @if let Some(excerpt) = &d.body_excerpt {
                details {
                    summary { "The body's first bytes (at most 1 KiB)" }
                    pre { (excerpt) }
                }
            }
        }
    }
}

/// The count of each outcome per window, as a table: a row per window.
fn counts_table(counts: &[CountsView]) -> Markup {
    html! {
        div.table-scroll {
            table.delivery-counts {
                caption { "Deliveries by outcome" }
                thead {
                    tr {
                        th scope="col" { "Last" }
                        th.num scope="col" { "All" }
                        th.num scope="col" { "✔ Changed" }
                        th.num scope="col" { "= Unchanged" }
                        th.num scope="col" { "! Parked" }
                        th.num scope="col" { "✘ Refused" }
                        th scope="col" { "Refusals" }
                    }
                }
                tbody {
                    @for c in counts {
                        tr {
                            th scope="row" { (c.window) }
                            td.num { (c.total) }
                            td.num { (c.changed) }
                            td.num { (c.unchanged) }
                            td.num { (c.parked) }
                            td.num { (c.refused) }
                            td {
                                @if c.refusals.is_empty() { span.muted { "none" } }
                                @for (i, r) in c.refusals.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (r.outcome.replace('_', " ")) " " (r.count)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The backend page's section: the counts of the last 24 hours and 7 days, and the link to the
/// deliveries page (its refusals first when there are any).
pub fn section(repo: &str, counts: &[CountsView]) -> Markup {
    let refused = counts.iter().any(|c| c.refused > 0);
    let path = deliveries_path(repo);
    let refusals = format!("{path}{}", format::query(&[("outcome", Some("refused"))]));
    html! {
        section.deliveries {
            h2 { "Deliveries" }
            (counts_table(counts))
            p {
                a href=(path) { "every delivery, newest first" }
                @if refused { " · " a href=(refusals) { "the refused ones, with their reasons" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::PageRequest;
    use crate::views::deliveries::{build, tests::refused_row};

    #[test]
    fn a_refusal_is_shown_with_its_field_its_reason_and_who_sets_it() {
        let mut row = refused_row();
        row.problem_fields[0] = "untrusted.callback_payload.workflow.<script>".into();
        let view = build(
            "intel/torch-xpu-ops",
            "7d",
            None,
            PageRequest {
                page: 1,
                per_page: 25,
            },
            &[row],
            vec![],
            1_777_373_200,
        );
        let html = render(&view, 1_777_373_200).into_string();
        assert!(html.contains("✘ refused · invalid"), "{html}");
        assert!(html.contains("untrusted.callback_payload.workflow.&lt;script&gt;"));
        assert!(!html.contains("<script>"), "downstream text is escaped");
        assert!(
            html.contains("must be positive, got &quot;0&quot;"),
            "{html}"
        );
        assert!(
            html.contains("the workflow&#39;s callback step")
                || html.contains("the workflow's callback step")
        );
        assert!(html.contains("… and 1 more problems"));
        assert!(html.contains("/api/oot/intel/torch-xpu-ops/deliveries?window=7d"));
    }

    #[test]
    fn the_backend_section_links_to_the_refusals_when_there_are_some() {
        let counts = |refused| CountsView {
            window: "24h",
            since: None,
            total: 3 + refused,
            accepted: 3,
            changed: 2,
            unchanged: 1,
            parked: 0,
            refused,
            refusals: vec![],
        };
        let html = section("a/b", &[counts(2)]).into_string();
        assert!(
            html.contains("/oot/a/b/deliveries?outcome=refused"),
            "{html}"
        );
        let html = section("a/b", &[counts(0)]).into_string();
        assert!(!html.contains("outcome=refused"), "{html}");
        assert!(html.contains("/oot/a/b/deliveries"));
    }
}
