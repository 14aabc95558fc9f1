//! A backend's failing tests page (`/oot/{org}/{repo}/tests`), rendered from
//! [`crate::views::failing_tests::FailingTestsView`]: a headline of counts, then one line per
//! test and job slot, new first, each status in a word as well as a colour.

use maud::{html, Markup};
use oot_triage::Status;

use crate::pages::format;
use crate::pages::layout::{self, Freshness};
use crate::pages::release_diff::release_diff_path;
use crate::pages::test_history::test_history_href;
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
            strong { "Flaky" } ": failed and passed on one upstream commit."
        }
        p {
            a href=(release_diff_path(repo)) { "Release diff" }
            ": the failing tests of two nightly commits (or time ranges) compared: newly failing, fixed, still failing."
        }
        (layout::window_selector(window, None, |w| {
            let w = w.map_or(view.window, |w| w.as_str());
            format!("{}{}", failing_tests_path(repo), format::query(&[("window", Some(w))]))
        }))
        (headline(&view.headline))
        @if view.tests.is_empty() {
            p.empty { "No test of this backend failed in the window." }
        } @else {
            (layout::csv_link(&format!("/api{}", failing_tests_path(repo)), &[("window", window)]))
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
    use crate::views::failing_tests::FailingTestsView;
    use oot_triage::FlipScore;

    fn view(tests: Vec<FailingTestLine>) -> FailingTestsView {
        FailingTestsView {
            downstream_repo: "intel/torch-xpu-ops".to_owned(),
            window: "7d",
            since: Some("2026-04-21T10:00:00Z".to_owned()),
            generated_at: Some("2026-04-28T10:15:30Z".to_owned()),
            baselines_since: Some("2026-04-14T10:00:00Z".to_owned()),
            headline: Headline {
                failing: tests.len() as u64,
                new: 1,
                ..Headline::default()
            },
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
}
