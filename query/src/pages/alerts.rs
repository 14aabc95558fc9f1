//! The alerts pages (docs/contract.md §17.6): a backend's (`/oot/{org}/{repo}/alerts`) or
//! every backend's (`/oot/alerts`) open and recently closed alerts, rendered from
//! [`AlertsView`]: each with its rule, its job, what holds in words, its first failing run with
//! links to the runs, and what became of its webhook deliveries. Every state is a word beside
//! its colour.

use maud::{html, Markup};

use crate::pages::format;
use crate::pages::layout::{self, Freshness};
use crate::views::alerts::{AlertView, AlertsView, RunView};

/// The alerts page's path for `repo` (`None`: every backend's).
pub fn alerts_path(repo: Option<&str>) -> String {
    match repo {
        Some(repo) => format!("{}/alerts", format::backend_path(repo)),
        None => "/oot/alerts".to_owned(),
    }
}

fn state_badge(alert: &AlertView) -> Markup {
    match alert.state {
        "open" => html! { span class="state state-failure" { "● open" } },
        _ => html! { span class="state state-success" { "✔ closed" } },
    }
}

fn webhook_badge(status: &str) -> Markup {
    let (class, text) = match status {
        "sent" => ("success", "✔ webhook sent"),
        "pending" => ("timed-out", "◷ webhook pending"),
        "failed" => ("failure", "✘ webhook failed"),
        _ => ("muted", "no webhook configured"),
    };
    html! { span class={ "state state-" (class) } { (text) } }
}

fn run_line(run: &RunView, now: i64) -> Markup {
    html! {
        (format::external_link(Some(&run.workflow_run_url), &format!("run {} (attempt {})", run.run_id, run.run_attempt)))
        " · " (run.conclusion.replace('_', " "))
        @if let Some(pr) = run.pr_number { " · PR #" (pr) }
        @if let Some(sha) = &run.upstream_sha { " · upstream " code { (sha.chars().take(12).collect::<String>()) } }
        " · received " (format::time(run.received_at.as_deref(), now))
    }
}

/// The page.
pub fn render(view: &AlertsView, now: i64) -> Markup {
    let freshness = Freshness {
        generated_at: view.generated_at.as_deref(),
        newest: view.alerts.first().and_then(|a| a.opened_at.as_deref()),
        newest_label: "newest alert opened",
    };
    let repo = view.downstream_repo.as_deref();
    let base = alerts_path(repo);
    let href = |window: &str| format!("{base}{}", format::query(&[("window", Some(window))]));
    let title = match repo {
        Some(repo) => format!("{repo} · alerts"),
        None => "alerts · every backend".to_owned(),
    };
    let body = html! {
        p.crumbs {
            a href="/oot" { "← all backends" }
            @if let Some(repo) = repo { " · " a href=(format::backend_path(repo)) { (repo) } }
        }
        h1 { (title) }
        p.lede {
            "Alerts open when a job breaks (failing on the nightly series, or in too many of its "
            "last runs, or its pass rate under the threshold), goes quiet, or has its callbacks "
            "refused; they close by themselves once it recovers. Each opening and closing is "
            "sent to the backend's webhooks. Open alerts are listed whenever they opened; closed "
            "ones when they closed within the window."
        }
        p { strong { (view.open) } " open · " (view.recently_closed) " closed in the last " (view.window) }
        (layout::window_selector(Some(view.window), None, |w| href(w.map_or(view.window, |w| w.as_str()))))
        (layout::csv_link(&format!("/api{base}"), &[("window", Some(view.window))]))
        @if view.alerts.is_empty() {
            p.empty { "No alert open, and none closed in the window." }
        } @else {
            ol.alerts {
                @for alert in &view.alerts {
                    li { (alert_item(alert, repo.is_none(), now)) }
                }
            }
        }
    };
    layout::page(&title, now, Some(freshness), body)
}

/// How many open alerts the backend page shows in its section; the alerts page has them all.
const OPEN_SHOWN_ON_BACKEND_PAGE: usize = 5;

/// The backend page's alerts section: how many are open and closed in the window, the open
/// ones newest first (a few), and the way to the alerts page.
pub fn backend_section(repo: &str, view: &AlertsView, now: i64) -> Markup {
    let open: Vec<&AlertView> = view.alerts.iter().filter(|a| a.state == "open").collect();
    let path = alerts_path(Some(repo));
    html! {
        section.alerts-summary aria-labelledby="alerts-heading" {
            h2 #alerts-heading { "Alerts" }
            p {
                @if view.open == 0 {
                    span class="state state-success" { "✔ none open" }
                } @else {
                    span class="state state-failure" { "● " (view.open) " open" }
                }
                " · " (view.recently_closed) " closed in the last " (view.window) " · "
                a href=(format!("{path}{}", format::query(&[("window", Some(view.window))]))) {
                    "all alerts, with their webhook deliveries"
                }
            }
            @if !open.is_empty() {
                ul.open-alerts {
                    @for alert in open.iter().take(OPEN_SHOWN_ON_BACKEND_PAGE) {
                        li {
                            code { (alert.rule) } " "
                            @if let (Some(workflow), Some(job)) = (&alert.workflow_name, &alert.job_name) {
                                (workflow) " / " (job)
                            } @else { "the whole backend" }
                            ": " (alert.summary)
                            " (opened " (format::time(alert.opened_at.as_deref(), now)) ")"
                        }
                    }
                }
                @if view.open > OPEN_SHOWN_ON_BACKEND_PAGE {
                    p { "and " (view.open - OPEN_SHOWN_ON_BACKEND_PAGE) " more on the alerts page." }
                }
            }
        }
    }
}

fn alert_item(alert: &AlertView, show_backend: bool, now: i64) -> Markup {
    html! {
        article.alert {
            h3 {
                (state_badge(alert)) " "
                code { (alert.rule) } " "
                @if show_backend {
                    a href=(alerts_path(Some(&alert.downstream_repo))) { (alert.downstream_repo) } " · "
                }
                @if let (Some(workflow), Some(job)) = (&alert.workflow_name, &alert.job_name) {
                    (workflow) " / " (job)
                } @else { "the whole backend" }
            }
            p { (alert.summary) }
            dl.facts {
                div { dt { "Opened" } dd { (format::time(alert.opened_at.as_deref(), now)) } }
                @if let Some(closed) = &alert.closed_at {
                    div { dt { "Closed" } dd {
                        (format::time(Some(closed), now))
                        @if let Some(because) = &alert.closed_because { ": " (because) }
                    } }
                }
                @if let Some(first) = &alert.first_failing {
                    div { dt { "First failing" } dd { (run_line(first, now)) } }
                }
                div { dt { "Webhooks" } dd { (webhook_badge(alert.webhook_status)) } }
                div { dt { "Alert id" } dd { code { (alert.id) } } }
            }
            @if !alert.runs.is_empty() {
                details {
                    summary { "The runs judged (" (alert.runs.len()) ")" }
                    ul { @for run in &alert.runs { li { (run_line(run, now)) } } }
                }
            }
            @if !alert.webhooks.is_empty() {
                table.webhooks {
                    caption { "Webhook deliveries" }
                    thead { tr {
                        th scope="col" { "Kind" } th scope="col" { "To" } th scope="col" { "State" }
                        th.num scope="col" { "Tries" } th scope="col" { "Last try" } th scope="col" { "Last error" }
                    } }
                    tbody {
                        @for w in &alert.webhooks {
                            tr {
                                td { (w.kind) }
                                td { code { (w.target) } }
                                td { (webhook_badge(&w.state)) }
                                td.num { (w.attempts) }
                                td { (format::time(w.last_attempt_at.as_deref(), now)) }
                                td { (w.last_error.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::alerts::{build, tests::record};

    #[test]
    fn an_alert_is_shown_with_its_job_its_first_failure_and_its_webhook_state_escaped() {
        let view = build(
            Some("intel/torch-xpu-ops"),
            "7d",
            &[record(true, Some("failed"))],
            1_777_373_200,
        );
        let html = render(&view, 1_777_373_200).into_string();
        assert!(html.contains("● open"), "{html}");
        assert!(html.contains("test &lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(html.contains("✘ webhook failed"), "{html}");
        assert!(html.contains("https://ci.example/runs/1"), "{html}");
        assert!(!html.contains("secret-token"), "{html}");
        assert!(
            html.contains("/api/oot/intel/torch-xpu-ops/alerts?window=7d"),
            "{html}"
        );
        let all = build(None, "7d", &[record(false, None)], 0);
        let html = render(&all, 0).into_string();
        assert!(html.contains("/oot/intel/torch-xpu-ops/alerts"), "{html}");
        assert!(html.contains("/api/oot/alerts?window=7d"), "{html}");
    }
}
