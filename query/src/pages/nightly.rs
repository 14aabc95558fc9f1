//! A backend's nightly page (`/oot/{org}/{repo}/nightly?window=..&page=N&per_page=M`),
//! rendered from [`crate::views::nightly::NightlyView`]: upstream commits (newest first) by
//! job, each cell the latest attempt of that job on that commit as the backend page shows a
//! cell (state in a colour and a word, times, test counts with the failed ones, run link), each
//! commit linked upstream with its pass count and a link to the release diff against the
//! nightly before it.

use maud::{html, Markup};

use crate::pages::backend::matrix_cell;
use crate::pages::failing_tests::failing_tests_path;
use crate::pages::format;
use crate::pages::layout::{self, Freshness};
use crate::pages::release_diff::release_diff_path;
use crate::views::nightly::{CommitRow, NightlyView};

/// The nightly page of `owner/name`.
pub fn nightly_path(repo: &str) -> String {
    format!("{}/nightly", format::backend_path(repo))
}

fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

pub fn render(view: &NightlyView, now: i64) -> Markup {
    let repo = view.downstream_repo.as_str();
    let newest = format::newest(view.rows.iter().map(|r| r.last_seen_at.as_deref()));
    let freshness = Freshness {
        generated_at: view.generated_at.as_deref(),
        newest,
        newest_label: "newest nightly job on this page first seen",
    };
    let path = nightly_path(repo);
    let per_page = view.page.per_page.to_string();
    let href = |window: &str, page: usize| {
        let page = page.to_string();
        format!(
            "{path}{}",
            format::query(&[
                ("window", Some(window)),
                ("page", Some(&page)),
                ("per_page", Some(&per_page)),
            ])
        )
    };
    let window_query = format::query(&[("window", Some(view.window))]);
    let title = format!("Nightlies · {repo}");
    let body = html! {
        p.crumbs {
            a href="/oot" { "← all backends" }
            " · "
            a href={ (format::backend_path(repo)) (window_query) } { (repo) }
            " · "
            a href={ (failing_tests_path(repo)) (window_query) } { "failing tests" }
        }
        h1 { "Nightly runs of " (repo) }
        p.lede {
            "One row per upstream commit the backend's nightly runs tested (jobs without a PR whose "
            "event type is " (view.event_types.join(", ")) "), newest first by when its first job "
            "was first seen; one column per job. A cell is the latest attempt of that job on that "
            "commit, running included. PR jobs are not shown here."
        }
        (layout::window_selector(Some(view.window), None, |w| {
            href(w.map_or(view.window, |w| w.as_str()), 1)
        }))
        p {
            (view.total_rows)
            @if view.total_rows == 1 { " nightly commit" } @else { " nightly commits" }
            " in the window"
            @if view.total_rows > 0 { ", page " (view.page.page) }
            "."
        }
        @let page = view.page.page.to_string();
        (layout::csv_link(&format!("/api{path}"), &[("window", Some(view.window)), ("page", Some(&page)), ("per_page", Some(&per_page))]))
        @if view.rows.is_empty() {
            p.empty {
                @if view.page.page == 1 { "No nightly job of this backend in the window." }
                @else { "No rows on this page." }
            }
        } @else {
            div.matrix-scroll tabindex="0" role="region" aria-label="nightly matrix, scrolls sideways" {
                table.matrix {
                    thead {
                        tr {
                            th scope="col" { "Upstream commit" }
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
                            (commit_row(repo, row, now))
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
    };
    layout::page(&title, now, Some(freshness), body)
}

fn commit_row(repo: &str, row: &CommitRow, now: i64) -> Markup {
    html! {
        tr {
            th scope="row" {
                @match &row.head_sha {
                    Some(sha) => {
                        code.sha {
                            @match &row.commit_url {
                                Some(url) => (format::external_link(Some(url), &short(sha))),
                                None => (short(sha)),
                            }
                        }
                    }
                    None => {
                        "no commit named"
                    }
                }
                @if let Some(upstream) = &row.upstream_repo {
                    " " span.small { (upstream) }
                }
                br;
                strong { (row.headline) }
                br;
                span.small { "first seen " (format::time(row.first_seen_at.as_deref(), now)) }
                @if row.deliveries.len() > 1 {
                    br;
                    span.small { (row.deliveries.len()) " deliveries" }
                }
                @if let Some(sha) = &row.head_sha {
                    br;
                    a.small href={ (release_diff_path(repo)) (format::query(&[("new", Some(sha))])) } {
                        "tests vs the nightly before"
                    }
                }
            }
            @for cell in &row.cells {
                @match cell {
                    Some(cell) => td { (matrix_cell(cell, None, now)) },
                    None => td.none { span.muted { "—" } },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobState;
    use crate::params::PageRequest;
    use crate::rules::Window;
    use crate::views::cell::tests::job;
    use crate::views::nightly::build;

    const NOW: i64 = 2_000_000;
    const SHA: &str = "abcdef0123456789abcdef0123456789abcdef01";

    fn nightly(key: &str, name: &str, state: JobState) -> crate::job::Job {
        let mut j = job("a/b", key);
        j.pr_number = None;
        j.event_type = "nightly".to_owned();
        j.head_sha = Some(SHA.to_owned());
        j.job_name = name.to_owned();
        j.state = state;
        j.first_seen_at = NOW - 600;
        j
    }

    #[test]
    fn the_page_links_commits_runs_and_the_diff_and_escapes_job_names() {
        let mut failed = nightly("k1", "<script>alert(1)</script>", JobState::Failure);
        failed.tests = crate::job::TestCounts {
            total: Some(100),
            passed: Some(98),
            failed: Some(2),
            skipped: Some(0),
        };
        let ok = nightly("k2", "build", JobState::Success);
        let page = PageRequest {
            page: 1,
            per_page: 1,
        };
        let view = build("a/b", Window::Week, NOW, vec![failed, ok], vec![], page);
        let html = render(&view, NOW).into_string();
        assert!(
            html.contains("<title>Nightlies · a/b · OOT HUD</title>"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains(&format!(
            r#"<a href="https://github.com/pytorch/pytorch/commit/{SHA}" rel="noopener noreferrer">abcdef0</a>"#
        )));
        assert!(html.contains(&format!(r#"href="/oot/a/b/tests/diff?new={SHA}""#)));
        assert!(html.contains("1/2 passed, 1 failed"));
        assert!(
            html.contains("98/100 passed, 2 failed"),
            "the failed-test count"
        );
        assert!(html.contains("✘ failure") && html.contains("✔ success"));
        assert!(html.contains(
            r#"<a href="https://github.com/a/b/actions/runs/100" rel="noopener noreferrer">run</a>"#
        ));
        assert!(html.contains("1 nightly commit in the window, page 1."));
        assert!(!html.contains(r#"rel="next""#), "one commit, one page");
    }

    #[test]
    fn an_empty_window_says_so() {
        let page = PageRequest {
            page: 1,
            per_page: 25,
        };
        let view = build("a/b", Window::Day, NOW, vec![], vec![], page);
        let html = render(&view, NOW).into_string();
        assert!(html.contains("No nightly job of this backend in the window."));
        assert!(html.contains(r#"aria-current="page">24h</a>"#));
    }
}
