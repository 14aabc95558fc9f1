//! One test's history page (`/oot/{org}/{repo}/tests/history?classname=..&name=..`), rendered
//! from [`crate::views::test_history::TestHistoryView`]: per job slot, the regression range on
//! the nightly series (or why there is none), a strip of the test's results newest first, each
//! a colour and a word linking to its run, then the same jobs as a table with their trigger and
//! failure message.

use maud::{html, Markup};
use oot_triage::{JobOutcome, TestResult};

use crate::pages::failing_tests::failing_tests_path;
use crate::pages::format;
use crate::pages::layout::{self, Freshness};
use crate::views::test_history::{Point, RangeFinding, Regression, SlotLine, TestHistoryView};

/// The history page of a test of `owner/name` over `window`. The test goes in the query string,
/// form-encoded: any name (`::`, `/`, spaces, brackets) comes back as it was
/// ([`crate::params::TestHistoryParams::parse`]).
pub fn test_history_href(repo: &str, classname: &str, name: &str, window: &str) -> String {
    format!(
        "{}/history{}",
        failing_tests_path(repo),
        format::query(&[
            ("classname", Some(classname)),
            ("name", Some(name)),
            ("window", Some(window)),
        ])
    )
}

/// A test's result as a badge whose text says it (§12.2: passed is "did not fail").
fn result(result: TestResult) -> Markup {
    let (class, text) = match result {
        TestResult::Failed => ("failure", "✘ failed"),
        TestResult::Passed => ("success", "✔ passed"),
        TestResult::Unknown => ("muted", "? unknown"),
    };
    html! { span class={ "state state-" (class) } { (text) } }
}

fn outcome(outcome: JobOutcome) -> &'static str {
    match outcome {
        JobOutcome::Success => "success",
        JobOutcome::Failure => "failure",
        JobOutcome::TimedOut => "timed out",
        JobOutcome::Cancelled => "cancelled",
        JobOutcome::Other => "other",
    }
}

pub fn render(view: &TestHistoryView, now: i64) -> Markup {
    let repo = view.downstream_repo.as_str();
    let freshness = Freshness {
        generated_at: view.generated_at.as_deref(),
        newest: format::newest(
            view.slots
                .iter()
                .filter_map(|s| s.points.first())
                .map(|p| p.first_seen_at.as_deref()),
        ),
        newest_label: "newest job",
    };
    let title = format!("{} · {repo}", view.name);
    let body = html! {
        p.crumbs {
            a href="/oot" { "← all backends" }
            " · "
            a href={ (format::backend_path(repo)) (format::query(&[("window", Some(view.window))])) } { (repo) }
            " · "
            a href={ (failing_tests_path(repo)) (format::query(&[("window", Some(view.window))])) } { "failing tests" }
        }
        h1 {
            @if !view.classname.is_empty() { span.muted { (view.classname) "." } }
            code { (view.name) }
        }
        p.lede {
            "What each job said about this test, newest first, per job where it failed in the window: "
            strong { "failed" } " (listed failing), "
            strong { "passed" } " (the job reported counts covering its list and ran to the end, without listing it), or "
            strong { "unknown" } ". At most " (view.strip_jobs) " jobs per job slot are shown."
        }
        (layout::window_selector(Some(view.window), None, |w| {
            let w = w.map_or(view.window, |w| w.as_str());
            test_history_href(repo, &view.classname, &view.name, w)
        }))
        @if view.slots.is_empty() {
            p.empty { "No job of this backend failed this test in the window." }
        } @else {
            (layout::csv_link(
                &format!("/api{}/tests/history", format::backend_path(repo)),
                &[
                    ("classname", Some(&view.classname)),
                    ("name", Some(&view.name)),
                    ("window", Some(view.window)),
                ],
            ))
        }
        @for slot in &view.slots {
            (slot_section(slot, now))
        }
    };
    layout::page(&title, now, Some(freshness), body)
}

fn slot_section(slot: &SlotLine, now: i64) -> Markup {
    html! {
        section.history {
            h2 { span.workflow { (slot.workflow_name) } " / " (slot.job_name) }
            p {
                "Failed in " span.fraction { (slot.failed_in_window) "/" (slot.jobs_in_window) }
                " jobs of the window"
                @if slot.jobs_in_window > slot.points.len() {
                    " (the newest " (slot.points.len()) " shown)"
                }
                "."
            }
            (regression(&slot.regression))
            ol.strip aria-label="results, newest first" {
                @for p in &slot.points {
                    li { (strip_point(p)) }
                }
            }
            div.table-scroll tabindex="0" role="region" aria-label="jobs, scrolls sideways" {
                table.history {
                    thead {
                        tr {
                            th scope="col" { "Result" }
                            th scope="col" { "First seen" }
                            th scope="col" { "Ran for" }
                            th scope="col" { "Run" }
                            th scope="col" { "Job outcome" }
                            th scope="col" { "Failure message" }
                        }
                    }
                    tbody {
                        @for p in &slot.points { (point_row(p, now)) }
                    }
                }
            }
        }
    }
}

fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

fn regression(r: &Regression) -> Markup {
    html! {
        p.regression {
            strong { "Regression range on the nightlies: " }
            @match r.finding {
                RangeFinding::Found => {
                    "last passed on "
                    code.sha { (short(r.last_pass.as_deref().unwrap_or_default())) }
                    ", first failed on "
                    code.sha { (short(r.first_fail.as_deref().unwrap_or_default())) }
                    " — "
                    (format::external_link(r.compare_url.as_deref(), "compare upstream"))
                }
                RangeFinding::NoPassInWindow => {
                    "failing on every nightly of the window that reported it, first on "
                    code.sha { (short(r.first_fail.as_deref().unwrap_or_default())) }
                    "; no pass in the window to start the range from (try a longer window)."
                }
                RangeFinding::PassingOnNightly => {
                    "none: the latest nightly that reported it passed it."
                }
                RangeFinding::NoNightlyResult => {
                    "none: no nightly of the window reported a result for it."
                }
            }
        }
    }
}

/// One square of the strip: the result's word and colour, a link to the run when there is one.
fn strip_point(p: &Point) -> Markup {
    let label = format!(
        "{} · run {} attempt {}",
        p.first_seen_at.as_deref().unwrap_or("—"),
        p.run_id,
        p.run_attempt
    );
    html! {
        @match p.workflow_run_url.as_deref().filter(|u| u.starts_with("https://")) {
            Some(url) => a href=(url) rel="noopener noreferrer" title=(label) { (result(p.result)) },
            None => span title=(label) { (result(p.result)) },
        }
    }
}

fn point_row(p: &Point, now: i64) -> Markup {
    html! {
        tr {
            td {
                (result(p.result))
                @if !p.latest_attempt { br; span.small { "re-run later" } }
            }
            td { (format::time(p.first_seen_at.as_deref(), now)) }
            td {
                @match (&p.pr, p.trigger) {
                    (Some(pr), _) => {
                        a href={ "/pr/" (pr.number) (format::query(&[("upstream_repo", pr.upstream_repo.as_deref())])) } {
                            "PR #" (pr.number)
                        }
                    }
                    (None, "nightly") => { "nightly" }
                    (None, _) => { (p.event_type) }
                }
                @if let Some(sha) = &p.upstream_sha { " " code.sha { (short(sha)) } }
            }
            td {
                (format::external_link(p.workflow_run_url.as_deref(), &format!("run {}", p.run_id)))
                @if p.workflow_run_url.is_none() { "run " (p.run_id) }
                @if p.run_attempt > 1 { " " span.small { "attempt " (p.run_attempt) } }
            }
            td { (outcome(p.outcome)) }
            td {
                @if let Some(message) = &p.message {
                    span.message { (message) }
                    @if p.message_truncated { " " span.small { "(cut)" } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::TestHistoryParams;
    use crate::views::failing_tests::PrRef;

    fn point(result: TestResult, url: Option<&str>) -> Point {
        Point {
            result,
            outcome: JobOutcome::Failure,
            latest_attempt: false,
            job_key: "k".to_owned(),
            run_id: "77".to_owned(),
            run_attempt: 2,
            first_seen_at: Some("2026-04-28T09:15:30Z".to_owned()),
            trigger: "pull_request",
            pr: Some(PrRef {
                upstream_repo: Some("pytorch/pytorch".to_owned()),
                number: 9,
            }),
            event_type: "pull_request".to_owned(),
            upstream_sha: Some("abcdef0123".to_owned()),
            workflow_run_url: url.map(str::to_owned),
            message: Some("<img src=x> boom".to_owned()),
            message_truncated: true,
        }
    }

    fn view(slots: Vec<SlotLine>) -> TestHistoryView {
        TestHistoryView {
            downstream_repo: "intel/torch-xpu-ops".to_owned(),
            classname: "test/a.py::T<i>".to_owned(),
            name: "test_x [f32] / y".to_owned(),
            window: "7d",
            since: Some("2026-04-21T10:00:00Z".to_owned()),
            generated_at: Some("2026-04-28T10:15:30Z".to_owned()),
            strip_jobs: 50,
            slots,
        }
    }

    #[test]
    fn the_link_round_trips_any_test_name() {
        let (classname, name) = ("test/test_ops.py::TestCommon", "test_a [f32] / b+c&d=%e");
        let href = test_history_href("intel/torch-xpu-ops", classname, name, "30d");
        let (path, query) = href.split_once('?').unwrap();
        assert_eq!(path, "/oot/intel/torch-xpu-ops/tests/history");
        let params = TestHistoryParams::parse("intel", "torch-xpu-ops", Some(query)).unwrap();
        assert_eq!(
            (params.test.classname.as_str(), params.test.name.as_str()),
            (classname, name)
        );
        assert_eq!(params.window.as_str(), "30d");
        let empty = test_history_href("a/b", "", "t", "7d");
        assert!(empty.ends_with("?classname=&name=t&window=7d"), "{empty}");
    }

    #[test]
    fn a_slot_shows_words_links_the_range_and_escaped_messages() {
        let slot = SlotLine {
            workflow_name: "ci".to_owned(),
            job_name: "evil <script>".to_owned(),
            jobs_in_window: 60,
            failed_in_window: 3,
            regression: Regression {
                finding: RangeFinding::Found,
                last_pass: Some("1111111aaaa".to_owned()),
                first_fail: Some("2222222bbbb".to_owned()),
                compare_url: Some(
                    "https://github.com/pytorch/pytorch/compare/1111111aaaa...2222222bbbb"
                        .to_owned(),
                ),
            },
            points: vec![
                point(
                    TestResult::Failed,
                    Some("https://github.com/a/b/actions/runs/77"),
                ),
                point(TestResult::Passed, None),
                point(TestResult::Unknown, Some("javascript:alert(1)")),
            ],
        };
        let html = render(&view(vec![slot]), 1_777_371_330).into_string();
        for text in [
            "✘ failed",
            "✔ passed",
            "? unknown",
            "the newest 3 shown",
            "3/60",
        ] {
            assert!(html.contains(text), "{text}");
        }
        assert!(html.contains(
            r#"href="https://github.com/pytorch/pytorch/compare/1111111aaaa...2222222bbbb" rel="noopener noreferrer""#
        ));
        assert!(html.contains(
            r#"<a href="https://github.com/a/b/actions/runs/77" rel="noopener noreferrer""#
        ));
        assert!(!html.contains(r#"href="javascript:"#), "https links only");
        assert!(html.contains("&lt;img src=x&gt; boom"));
        assert!(html.contains("evil &lt;script&gt;") && !html.contains("<script"));
        assert!(html.contains("T&lt;i&gt;."));
        assert!(html.contains(r#"href="/pr/9?upstream_repo=pytorch%2Fpytorch""#));
        assert!(html.contains(
            r#"href="/oot/intel/torch-xpu-ops/tests/history?classname=test%2Fa.py%3A%3AT%3Ci%3E&amp;name=test_x+%5Bf32%5D+%2F+y&amp;window=30d""#
        ));
    }

    #[test]
    fn every_finding_is_said_in_words_and_no_failing_slot_says_so() {
        for (finding, text) in [
            (RangeFinding::NoPassInWindow, "no pass in the window"),
            (
                RangeFinding::PassingOnNightly,
                "the latest nightly that reported it passed",
            ),
            (
                RangeFinding::NoNightlyResult,
                "no nightly of the window reported",
            ),
        ] {
            let r = Regression {
                finding,
                last_pass: None,
                first_fail: Some("c".to_owned()),
                compare_url: None,
            };
            assert!(regression(&r).into_string().contains(text), "{text}");
        }
        let html = render(&view(vec![]), 1_777_371_330).into_string();
        assert!(html.contains("No job of this backend failed this test in the window."));
    }
}
