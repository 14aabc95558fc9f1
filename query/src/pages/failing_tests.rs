//! A backend's failing tests page (`/oot/{org}/{repo}/tests`), rendered from
//! [`crate::views::failing_tests::FailingTestsView`]: a headline of counts, then one line per
//! test and job slot, new first, each status in a word as well as a colour.

use maud::{html, Markup};
use oot_triage::Status;

use crate::pages::format;
use crate::pages::layout::{self, Freshness};
use crate::pages::release_diff::release_diff_path;
use crate::pages::test_history::test_history_href;
use crate::params::{FailingTestsFilter as Filter, FAILING_TESTS_PAGE};
use crate::views::failing_tests::{Baseline, FailingTestLine, FailingTestsView, Headline, PrRef};

/// The failing-tests page of `owner/name`.
pub fn failing_tests_path(repo: &str) -> String {
    format!("{}/tests", format::backend_path(repo))
}

/// A status as a badge whose text says it.
fn status(status: Status) -> Markup {
    let (class, text) = match status {
        Status::New => ("failure", "✘ new"),
        Status::Known => ("timed-out", "◆ known"),
        Status::Fixed => ("success", "✔ fixed"),
    };
    html! { span class={ "state state-" (class) } { (text) } }
}

pub fn render(view: &FailingTestsView, now: i64) -> Markup {
    let repo = view.downstream_repo.as_str();
    let window = Some(view.window);
    let freshness = Freshness {
        generated_at: view.generated_at.as_deref(),
        newest: format::newest(view.tests.iter().map(|t| t.last_failure_at.as_deref())),
        newest_label: "last failure",
    };
    let title = format!("Failing tests · {repo}");
    let per_page = view.page.map(|p| p.per_page);
    let first_row = view
        .page
        .map_or(1, |p| (p.page - 1).saturating_mul(p.per_page) + 1);
    let body = html! {
        p.crumbs {
            a href="/oot" { "← all backends" }
            " · "
            a href={ (format::backend_path(repo)) (format::query(&[("window", window)])) } { (repo) }
        }
        h1 { "Failing tests of " (repo) }
        p.lede {
            "Each test failing in the window (the latest attempt of a run failed it), per job. "
            strong { "New" } ": not failing on the job's nightly before its first failure; "
            strong { "known" } ": failing there too; "
            strong { "fixed" } ": failed on a nightly, passes on the latest. "
            strong { "Flaky" } ": failed and passed on one upstream commit. "
            "The list is computed per backend and window and kept: a request after it is a minute old (or ten times what it took to compute) refreshes it behind the answer."
        }
        p {
            a href=(release_diff_path(repo)) { "Release diff" }
            ": the failing tests of two nightly commits (or time ranges) compared: newly failing, fixed, still failing."
        }
        (layout::window_selector(window, None, |w| {
            let w = w.map_or(view.window, |w| w.as_str());
            href(repo, w, view.filter, 1, per_page)
        }))
        (headline(&view.headline))
        (filters(repo, view, per_page))
        @if view.tests.is_empty() {
            p.empty {
                @if view.headline.failing == 0 { "No test of this backend failed in the window." }
                @else if view.matching == 0 { "No failing test of this kind in the window." }
                @else { "No failing tests on this page." }
            }
        } @else {
            (layout::csv_link(&format!("/api{}", failing_tests_path(repo)), &filter_query(view.window, view.filter)))
            p.small {
                "Rows " (first_row) "–" (first_row + view.tests.len() - 1) " of " (view.matching)
                @if view.matching < view.headline.failing { " of this kind" }
                " (the CSV holds them all)."
            }
            div.table-scroll tabindex="0" role="region" aria-label="failing tests, scrolls sideways" {
                table.failing {
                    thead {
                        tr {
                            th scope="col" { "Status" }
                            th scope="col" { "Test" }
                            th scope="col" { "Job" }
                            th scope="col" class="num" { "Runs failed" }
                            th scope="col" { "PRs hit" }
                            th scope="col" { "First failure" }
                            th scope="col" { "Last failure" }
                            th scope="col" { "Flaky" }
                            th scope="col" { "Baseline nightly" }
                        }
                    }
                    tbody {
                        @for test in &view.tests {
                            (line(repo, test, view.window, now))
                        }
                    }
                }
            }
        }
        @if let Some(page) = view.page {
            @if page.page > 1 || page.has_more {
                nav.pages aria-label="pages" {
                    @if page.page > 1 {
                        a rel="prev" href=(href(repo, view.window, view.filter, page.page - 1, per_page)) { "← previous" }
                    }
                    span { " page " (page.page) " " }
                    @if page.has_more {
                        a rel="next" href=(href(repo, view.window, view.filter, page.page + 1, per_page)) { "next →" }
                    }
                }
            }
        }
        @if let Some(since) = &view.baselines_since {
            p.small {
                "A job's nightly before the window is looked for back to "
                (format::time(Some(since), now))
                "; a job whose last nightly is older is judged as if it had none."
            }
        }
    };
    layout::page(&title, now, Some(freshness), body)
}

/// The query of the JSON and CSV with `window` and `filter`.
fn filter_query(window: &'static str, filter: Filter) -> Vec<(&'static str, Option<&'static str>)> {
    vec![
        ("window", Some(window)),
        ("status", filter.status.map(Status::as_str)),
        (
            "flaky",
            filter.flaky.map(|f| if f { "true" } else { "false" }),
        ),
    ]
}

/// This page with `window`, `filter`, `page` and `per_page` (when the request named one).
fn href(
    repo: &str,
    window: &'static str,
    filter: Filter,
    page: usize,
    per_page: Option<usize>,
) -> String {
    let page = (page > 1).then(|| page.to_string());
    let per_page = per_page
        .filter(|&n| n != FAILING_TESTS_PAGE.per_page)
        .map(|n| n.to_string());
    let mut pairs: Vec<(&str, Option<&str>)> = filter_query(window, filter);
    pairs.push(("page", page.as_deref()));
    pairs.push(("per_page", per_page.as_deref()));
    format!("{}{}", failing_tests_path(repo), format::query(&pairs))
}

/// Links to the rows of one status, the flaky ones, or all; the one shown is marked.
fn filters(repo: &str, view: &FailingTestsView, per_page: Option<usize>) -> Markup {
    let choices: [(&str, Filter); 5] = [
        ("All", Filter::default()),
        (
            "✘ New",
            Filter {
                status: Some(Status::New),
                flaky: None,
            },
        ),
        (
            "◆ Known",
            Filter {
                status: Some(Status::Known),
                flaky: None,
            },
        ),
        (
            "✔ Fixed",
            Filter {
                status: Some(Status::Fixed),
                flaky: None,
            },
        ),
        (
            "↯ Flaky",
            Filter {
                status: None,
                flaky: Some(true),
            },
        ),
    ];
    html! {
        nav.windows aria-label="which tests" {
            span.muted { "Show: " }
            @for (label, filter) in choices {
                @if filter == view.filter {
                    a.selected href=(href(repo, view.window, filter, 1, per_page)) aria-current="page" { (label) }
                } @else {
                    a href=(href(repo, view.window, filter, 1, per_page)) { (label) }
                }
                " "
            }
        }
    }
}

fn headline(h: &Headline) -> Markup {
    html! {
        dl.stats {
            div { dt { "Failing" } dd { (h.failing) } }
            div { dt { "✘ New" } dd { (h.new) } }
            div { dt { "◆ Known" } dd { (h.known) } }
            div { dt { "✔ Fixed" } dd { (h.fixed) } }
            div { dt { "↯ Flaky" } dd { (h.flaky) } }
        }
    }
}

fn line(repo: &str, test: &FailingTestLine, window: &str, now: i64) -> Markup {
    let history = test_history_href(repo, &test.classname, &test.name, window);
    html! {
        tr {
            td { (status(test.status)) }
            th scope="row" {
                a href=(history) title="history and regression range" {
                    @if !test.classname.is_empty() { span.muted { (test.classname) "." } }
                    code { (test.name) }
                }
            }
            td { span.workflow { (test.workflow_name) } " / " (test.job_name) }
            td.num { span.fraction { (test.runs_failed) "/" (test.runs_of_job) } }
            td {
                (test.prs_hit)
                @for pr in &test.prs { " " (pr_link(pr, window)) }
                @if test.prs_hit > test.prs.len() as u64 { " …" }
            }
            td { (format::time(test.first_failure_at.as_deref(), now)) }
            td { (format::time(test.last_failure_at.as_deref(), now)) }
            td {
                @if test.flaky { span.state.state-running { "↯ flaky" } br; }
                span.small {
                    @if test.flip.known_results == 0 {
                        "no nightly result"
                    } @else {
                        "flip " (format!("{:.2}", test.flip.score))
                        " over " (test.flip.known_results) " nightlies"
                    }
                }
            }
            td { (baseline(test.baseline.as_ref(), now)) }
        }
    }
}

fn pr_link(pr: &PrRef, window: &str) -> Markup {
    let href = format!(
        "/pr/{}{}",
        pr.number,
        format::query(&[
            ("upstream_repo", pr.upstream_repo.as_deref()),
            ("window", Some(window)),
        ])
    );
    html! { a href=(href) { "#" (pr.number) } }
}

fn baseline(baseline: Option<&Baseline>, now: i64) -> Markup {
    let Some(b) = baseline else {
        return html! { span.muted { "none" } };
    };
    let sha = b
        .upstream_sha
        .as_deref()
        .map(|s| s.chars().take(7).collect::<String>());
    html! {
        @if let Some(sha) = sha { code.sha { (sha) } " " }
        span.small { (format::time(b.first_seen_at.as_deref(), now)) }
        @if b.run_attempt > 1 { " " span.small { "attempt " (b.run_attempt) } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::failing_tests::{FailingTestsView, TestsPage};
    use oot_triage::FlipScore;

    fn view(tests: Vec<FailingTestLine>) -> FailingTestsView {
        FailingTestsView {
            downstream_repo: "intel/torch-xpu-ops".to_owned(),
            window: "7d",
            since: Some("2026-04-21T10:00:00Z".to_owned()),
            generated_at: Some("2026-04-28T10:15:30Z".to_owned()),
            age_seconds: 0,
            baselines_since: Some("2026-04-14T10:00:00Z".to_owned()),
            headline: Headline {
                failing: tests.len() as u64,
                new: 1,
                ..Headline::default()
            },
            filter: Filter::default(),
            matching: tests.len() as u64,
            page: None,
            tests,
        }
    }

    fn evil_line() -> FailingTestLine {
        FailingTestLine {
            classname: "T<i>".to_owned(),
            name: "test_<b>bold</b>".to_owned(),
            workflow_name: "ci".to_owned(),
            job_name: "evil <script>".to_owned(),
            status: Status::New,
            runs_failed: 2,
            runs_of_job: 3,
            prs_hit: 7,
            prs: vec![PrRef {
                upstream_repo: Some("pytorch/pytorch".to_owned()),
                number: 9,
            }],
            first_failure_at: Some("2026-04-28T09:15:30Z".to_owned()),
            last_failure_at: Some("2026-04-28T10:15:30Z".to_owned()),
            flaky: true,
            flip: FlipScore::new(1, 3),
            baseline: Some(Baseline {
                job_key: "k".to_owned(),
                upstream_sha: Some("abcdef0123".to_owned()),
                run_id: "1".to_owned(),
                run_attempt: 1,
                first_seen_at: Some("2026-04-27T02:00:00Z".to_owned()),
            }),
        }
    }

    #[test]
    fn a_line_says_its_status_in_words_and_escapes_downstream_text() {
        let html = render(&view(vec![evil_line()]), 1_777_371_330).into_string();
        assert!(html.contains("✘ new"));
        assert!(html.contains("test_&lt;b&gt;bold&lt;/b&gt;"));
        assert!(html.contains("evil &lt;script&gt;"));
        assert!(!html.contains("<script") && !html.contains("<b>"));
        assert!(html.contains(r#"<span class="fraction">2/3</span>"#));
        assert!(html.contains(r#"href="/pr/9?upstream_repo=pytorch%2Fpytorch&amp;window=7d""#));
        assert!(html.contains("↯ flaky"));
        assert!(html.contains("flip 0.50 over 3 nightlies"));
        assert!(html.contains(r#"<code class="sha">abcdef0</code>"#));
        assert!(html.contains(r#"href="/oot/intel/torch-xpu-ops?window=7d""#));
        assert!(html.contains(r#"href="/oot/intel/torch-xpu-ops/tests?window=24h""#));
        assert!(html.contains(r#"<a href="/oot/intel/torch-xpu-ops/tests/diff">Release diff</a>"#));
        assert!(html.contains(
            r#"href="/oot/intel/torch-xpu-ops/tests/history?classname=T%3Ci%3E&amp;name=test_%3Cb%3Ebold%3C%2Fb%3E&amp;window=7d""#
        ));
    }

    #[test]
    fn no_failing_test_says_so() {
        let html = render(&view(vec![]), 1_777_371_330).into_string();
        assert!(html.contains("No test of this backend failed in the window."));
    }

    #[test]
    fn a_page_of_the_rows_links_its_neighbours_and_every_filter_keeping_the_window() {
        let mut paged = view(vec![evil_line()]);
        paged.headline.failing = 250;
        paged.matching = 120;
        paged.filter = Filter {
            status: Some(Status::New),
            flaky: None,
        };
        paged.page = Some(TestsPage {
            page: 2,
            per_page: 100,
            has_more: false,
        });
        let html = render(&paged, 1_777_371_330).into_string();
        assert!(html.contains("Rows 101–101 of 120 of this kind"), "{html}");
        assert!(html.contains(
            r#"<a rel="prev" href="/oot/intel/torch-xpu-ops/tests?window=7d&amp;status=new">"#
        ));
        assert!(!html.contains(r#"rel="next""#), "the last page");
        assert!(html.contains(
            r#"<a class="selected" href="/oot/intel/torch-xpu-ops/tests?window=7d&amp;status=new" aria-current="page">✘ New</a>"#
        ));
        assert!(html.contains(
            r#"href="/oot/intel/torch-xpu-ops/tests?window=7d&amp;flaky=true">↯ Flaky</a>"#
        ));
        assert!(html.contains(r#"href="/oot/intel/torch-xpu-ops/tests?window=7d">All</a>"#));
        assert!(html.contains(r#"href="/oot/intel/torch-xpu-ops/tests?window=30d&amp;status=new""#));
        assert!(
            html.contains(
                "/api/oot/intel/torch-xpu-ops/tests?window=7d&amp;status=new&amp;format=csv"
            ),
            "the CSV of every row of the filter: {html}"
        );

        paged.page = Some(TestsPage {
            page: 1,
            per_page: 10,
            has_more: true,
        });
        let html = render(&paged, 1_777_371_330).into_string();
        assert!(html.contains(
            r#"<a rel="next" href="/oot/intel/torch-xpu-ops/tests?window=7d&amp;status=new&amp;page=2&amp;per_page=10">"#
        ));
        paged.tests.clear();
        let html = render(&paged, 1_777_371_330).into_string();
        assert!(html.contains("No failing tests on this page."));
        paged.matching = 0;
        let html = render(&paged, 1_777_371_330).into_string();
        assert!(html.contains("No failing test of this kind in the window."));
    }
}
