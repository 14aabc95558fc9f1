//! The PR section page (`/pr/{number}?upstream_repo=..`), rendered from
//! [`crate::views::pr::PrView`]: a headline for the PR, then each backend's jobs.

use maud::{html, Markup};

use crate::pages::format;
use crate::pages::layout::{self, Freshness};
use crate::pages::test_history::test_history_href;
use crate::params::DEFAULT_UPSTREAM_REPO;
use crate::views::pr::{BackendJobs, PrView};
use crate::views::pr_triage::{BackendTriage, PrTriageSummary};
use oot_triage::PrVerdict;

pub fn render(view: &PrView, now: i64) -> Markup {
    let newest = format::newest(
        view.backends
            .iter()
            .flat_map(|b| &b.jobs)
            .flat_map(|j| [j.started_at.as_deref(), j.completed_at.as_deref()]),
    );
    let freshness = Freshness {
        generated_at: view.generated_at.as_deref(),
        newest,
        newest_label: "newest job event",
    };
    let upstream = view.upstream_repo.as_str();
    let title = format!("{upstream}#{}", view.pr_number);
    let path = format!("/pr/{}", view.pr_number);
    let body = html! {
        p.crumbs { a href="/oot" { "← all backends" } }
        h1 { "Out-of-tree CI for " (title) }
        p {
            (format::external_link(
                Some(&format!("https://github.com/{upstream}/pull/{}", view.pr_number)),
                "pull request on GitHub",
            ))
        }
        p.headline { strong { (view.headline) } }
        @if let Some(triage) = &view.triage {
            p.headline.triage { "Failing tests: " strong { (triage.headline) } " " (other_prs_note(triage)) }
        }
        (layout::window_selector(view.window, Some("all retained"), |w| {
            format!("{path}{}", format::query(&[
                ("upstream_repo", Some(upstream)),
                ("window", w.map(|w| w.as_str())),
            ]))
        }))
        form.upstream method="get" action=(path) {
            label for="upstream_repo" { "Upstream repo " }
            input id="upstream_repo" name="upstream_repo" type="text" value=(upstream)
                placeholder=(DEFAULT_UPSTREAM_REPO) pattern="[A-Za-z0-9-]+/[A-Za-z0-9._-]+" required;
            @if let Some(window) = view.window {
                input type="hidden" name="window" value=(window);
            }
            " "
            button type="submit" { "Show" }
        }
        @if view.backends.is_empty() {
            p.empty { "No backend has reported a job for this PR." }
        } @else {
            (csv_links(view))
        }
        @for backend in &view.backends {
            (backend_section(backend, view.window, view.triage.as_ref(), now))
        }
    };
    layout::page(&title, now, Some(freshness), body)
}

/// "Download CSV" of every backend's jobs, and of the verdicts on their failing tests (the
/// view's second table, `table=triage`).
fn csv_links(view: &PrView) -> Markup {
    let api_path = format!("/api/oot/pr/{}", view.pr_number);
    let pairs = [
        ("upstream_repo", Some(view.upstream_repo.as_str())),
        ("window", view.window),
        (
            "other_prs_window",
            view.triage.as_ref().map(|t| t.other_prs_window),
        ),
    ];
    let triage = [pairs.as_slice(), &[("table", Some("triage"))]].concat();
    html! {
        p.download {
            "Download CSV: "
            a href=(layout::csv_href(&api_path, &pairs)) download { "jobs" }
            @if view.triage.is_some() {
                " · "
                a href=(layout::csv_href(&api_path, &triage)) download { "failing tests' verdicts" }
            }
        }
    }
}

fn backend_section(
    b: &BackendJobs,
    window: Option<&str>,
    summary: Option<&PrTriageSummary>,
    now: i64,
) -> Markup {
    let href = format!(
        "{}{}",
        format::backend_path(&b.downstream_repo),
        format::query(&[("window", window)])
    );
    html! {
        section.backend {
            h2 {
                a href=(href) { (b.downstream_repo) }
                @if let Some(level) = &b.level { " " span.level { (level) } }
            }
            p.headline { (b.headline) }
            @if let (Some(triage), Some(summary)) = (&b.triage, summary) {
                (triage_section(&b.downstream_repo, triage, summary))
            }
            div.matrix-scroll tabindex="0" role="region" aria-label="jobs, scroll sideways" {
                table.jobs {
                    thead {
                        tr {
                            th scope="col" { "Job" }
                            th scope="col" { "State" }
                            th scope="col" { "Duration" }
                            th scope="col" { "Started" }
                            th scope="col" { "Completed" }
                            th scope="col" { "Tests" }
                            th scope="col" { "Links" }
                        }
                    }
                    tbody {
                        @for job in &b.jobs {
                            tr {
                                th scope="row" {
                                    span.workflow { (job.workflow_name) } " / " (job.job_name)
                                    @if job.run_attempt > 1 { " " span.small { "attempt " (job.run_attempt) } }
                                }
                                td { (format::state(job.state)) }
                                td { (format::duration(job.duration_s)) }
                                td { (format::time(job.started_at.as_deref(), now)) }
                                td { (format::time(job.completed_at.as_deref(), now)) }
                                td { (format::tests(&job.tests)) }
                                td.links {
                                    (format::external_link(job.links.workflow_run.as_deref(), "run"))
                                    @if job.links.artifacts.is_some() { " · " }
                                    (format::external_link(job.links.artifacts.as_deref(), "artifacts"))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// "seen on other PRs" looks back this far.
fn other_prs_note(summary: &PrTriageSummary) -> Markup {
    html! { span.small { "(other PRs: last " (summary.other_prs_window) ")" } }
}

/// The verdict in words: what the page says of each failing test.
pub fn verdict_words(verdict: PrVerdict) -> String {
    match verdict {
        PrVerdict::NewOnThisPr => "new on this PR".to_owned(),
        PrVerdict::KnownOnNightly => "known: also failing on nightly".to_owned(),
        PrVerdict::SeenOnOtherPrs { count: 1 } => {
            "seen failing on 1 other PR (upstream or flaky)".to_owned()
        }
        PrVerdict::SeenOnOtherPrs { count } => {
            format!("seen failing on {count} other PRs (upstream or flaky)")
        }
    }
}

fn verdict_class(verdict: PrVerdict) -> &'static str {
    match verdict {
        PrVerdict::NewOnThisPr => "verdict new",
        PrVerdict::KnownOnNightly => "verdict known",
        PrVerdict::SeenOnOtherPrs { .. } => "verdict seen",
    }
}

/// One backend's failing tests with their verdicts, each linked to its history.
fn triage_section(repo: &str, triage: &BackendTriage, summary: &PrTriageSummary) -> Markup {
    html! {
        p.headline.triage { "Failing tests: " strong { (triage.headline) } }
        @if !triage.tests.is_empty() {
            div.matrix-scroll tabindex="0" role="region" aria-label="failing tests, scroll sideways" {
                table.triage {
                    thead {
                        tr {
                            th scope="col" { "Test" }
                            th scope="col" { "Job" }
                            th scope="col" { "Is it this PR's?" }
                        }
                    }
                    tbody {
                        @for test in &triage.tests {
                            tr {
                                th scope="row" {
                                    a href=(test_history_href(repo, &test.test.classname, &test.test.name, summary.other_prs_window))
                                        title="history and regression range" {
                                        @if !test.test.classname.is_empty() {
                                            span.small { (test.test.classname) } " "
                                        }
                                        (test.test.name)
                                    }
                                }
                                td { span.workflow { (test.slot.workflow_name) } " / " (test.slot.job_name) }
                                td { span class=(verdict_class(test.verdict)) { (verdict_words(test.verdict)) } }
                            }
                        }
                    }
                }
            }
        }
        @if triage.tests_not_triaged > 0 {
            p.small {
                (triage.tests_not_triaged) " more failing tests not triaged (the first "
                (summary.tests_asked_per_backend) " by name are)."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_read_as_words() {
        assert_eq!(verdict_words(PrVerdict::NewOnThisPr), "new on this PR");
        assert_eq!(
            verdict_words(PrVerdict::KnownOnNightly),
            "known: also failing on nightly"
        );
        assert_eq!(
            verdict_words(PrVerdict::SeenOnOtherPrs { count: 2 }),
            "seen failing on 2 other PRs (upstream or flaky)"
        );
        assert_eq!(
            verdict_words(PrVerdict::SeenOnOtherPrs { count: 1 }),
            "seen failing on 1 other PR (upstream or flaky)"
        );
    }
}
