//! The PR section page (`/pr/{number}?upstream_repo=..`), rendered from
//! [`crate::views::pr::PrView`]: a headline for the PR, then each backend's jobs.

use maud::{html, Markup};

use crate::pages::format;
use crate::pages::layout::{self, Freshness};
use crate::params::DEFAULT_UPSTREAM_REPO;
use crate::views::pr::{BackendJobs, PrView};

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
        }
        @for backend in &view.backends {
            (backend_section(backend, view.window, now))
        }
    };
    layout::page(&title, now, Some(freshness), body)
}

fn backend_section(b: &BackendJobs, window: Option<&str>, now: i64) -> Markup {
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
