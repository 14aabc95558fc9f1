//! A backend's release diff page (`/oot/{org}/{repo}/tests/diff?…`), rendered from
//! [`crate::views::release_diff::ReleaseDiffView`]: two plain GET forms choosing the sides (two
//! selects of the window's nightly commits; four days for time ranges), the sides as resolved
//! with their upstream links, a headline of counts, one table per status whose tests link to
//! their history, and the nightlies compared per job slot.

use std::collections::HashMap;

use maud::{html, Markup};
use oot_triage::DiffStatus;

use crate::pages::failing_tests::failing_tests_path;
use crate::pages::format;
use crate::pages::layout::{self, Freshness};
use crate::pages::test_history::test_history_href;
use crate::views::release_diff::{
    Headline, NightlyCommit, NightlyJob, ReleaseDiffView, SideLine, SlotLine, TestLine,
};

/// The release diff page of `owner/name`.
pub fn release_diff_path(repo: &str) -> String {
    format!("{}/diff", failing_tests_path(repo))
}

/// An upstream PyTorch commit on GitHub (the compare links, [`oot_triage::compare_url`], are
/// of the same repo).
pub fn commit_url(sha: &str) -> String {
    format!("https://github.com/pytorch/pytorch/commit/{sha}")
}

fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

/// A status as a badge whose text says it.
fn status(status: DiffStatus) -> Markup {
    let (class, text) = status_words(status);
    html! { span class={ "state state-" (class) } { (text) } }
}

fn status_words(status: DiffStatus) -> (&'static str, &'static str) {
    match status {
        DiffStatus::NewlyFailing => ("failure", "✘ newly failing"),
        DiffStatus::Fixed => ("success", "✔ fixed"),
        DiffStatus::StillFailing => ("timed-out", "◆ still failing"),
        DiffStatus::Unknown => ("muted", "? unknown"),
    }
}

/// The query string naming the sides the request named (the defaulted ones are left to the
/// defaults again) and `window`.
fn named_sides_query(view: &ReleaseDiffView, window: &str) -> String {
    fn named(side: &Option<SideLine>) -> Option<&SideLine> {
        side.as_ref().filter(|s| !s.defaulted)
    }
    let (old, new) = (named(&view.old), named(&view.new));
    format::query(&[
        ("old", old.and_then(|s| s.sha.as_deref())),
        ("old_from", old.and_then(|s| s.from.as_deref())),
        ("old_until", old.and_then(|s| s.until.as_deref())),
        ("new", new.and_then(|s| s.sha.as_deref())),
        ("new_from", new.and_then(|s| s.from.as_deref())),
        ("new_until", new.and_then(|s| s.until.as_deref())),
        ("window", Some(window)),
    ])
}

pub fn render(view: &ReleaseDiffView, now: i64) -> Markup {
    let repo = view.downstream_repo.as_str();
    let path = release_diff_path(repo);
    let newest_commit = view
        .nightly_commits
        .first()
        .and_then(|c| crate::clock::rfc3339(c.first_seen_at));
    let freshness = Freshness {
        generated_at: view.generated_at.as_deref(),
        newest: newest_commit.as_deref(),
        newest_label: "newest nightly commit",
    };
    let title = format!("Release diff · {repo}");
    let slots: HashMap<(&str, &str), &SlotLine> = view
        .slots
        .iter()
        .map(|s| ((s.workflow_name.as_str(), s.job_name.as_str()), s))
        .collect();
    let body = html! {
        p.crumbs {
            a href="/oot" { "← all backends" }
            " · "
            a href={ (format::backend_path(repo)) (format::query(&[("window", Some(view.window))])) } { (repo) }
            " · "
            a href={ (failing_tests_path(repo)) (format::query(&[("window", Some(view.window))])) } { "failing tests" }
        }
        h1 { "Release diff of " (repo) }
        p.lede {
            "The failing tests of two sets of nightlies, per job: each side's nightly of a job is its last "
            "in the set (latest attempt). "
            strong { "Newly failing" } ": fails on the new side, not on the old one; "
            strong { "fixed" } ": failed on the old side, passes on the new one; "
            strong { "still failing" } ": fails on both; "
            strong { "unknown" } ": failed on the old side, and the new side says nothing of it "
            "(no counts, stopped part way, or no nightly of that job)."
        }
        (layout::window_selector(Some(view.window), None, |w| {
            let w = w.map_or(view.window, |w| w.as_str());
            format!("{path}{}", named_sides_query(view, w))
        }))
        (commit_form(view, &path))
        (range_form(view, &path))
        (sides(view, now))
        (headline(&view.headline))
        @if view.old.is_some() && view.new.is_some() {
            (csv_link(view))
            @for wanted in [DiffStatus::NewlyFailing, DiffStatus::Fixed, DiffStatus::StillFailing, DiffStatus::Unknown] {
                (status_section(view, &slots, wanted, now))
            }
            (slots_section(&view.slots, now))
        }
    };
    layout::page(&title, now, Some(freshness), body)
}

/// "Download CSV" of the tests shown: both sides named as they were resolved (a defaulted side
/// too), so the file is the diff on the page even after a newer nightly arrives.
fn csv_link(view: &ReleaseDiffView) -> Markup {
    let (old, new) = (view.old.as_ref(), view.new.as_ref());
    layout::csv_link(
        &format!("/api{}", release_diff_path(&view.downstream_repo)),
        &[
            ("old", old.and_then(|s| s.sha.as_deref())),
            ("old_from", old.and_then(|s| s.from.as_deref())),
            ("old_until", old.and_then(|s| s.until.as_deref())),
            ("new", new.and_then(|s| s.sha.as_deref())),
            ("new_from", new.and_then(|s| s.from.as_deref())),
            ("new_until", new.and_then(|s| s.until.as_deref())),
            ("window", Some(view.window)),
        ],
    )
}

/// Two selects of the window's nightly commits, the sides' commits selected.
fn commit_form(view: &ReleaseDiffView, path: &str) -> Markup {
    if view.nightly_commits.is_empty() {
        return html! {
            p.empty {
                "No nightly of this backend in the window. Try a longer window, or compare time ranges."
            }
        };
    }
    let sha_of = |side: &Option<SideLine>| side.as_ref().and_then(|s| s.sha.clone());
    html! {
        form.diff method="get" action=(path) {
            (commit_select("old", "Old nightly commit", sha_of(&view.old).as_deref(), &view.nightly_commits))
            (commit_select("new", "New nightly commit", sha_of(&view.new).as_deref(), &view.nightly_commits))
            input type="hidden" name="window" value=(view.window);
            button type="submit" { "Compare" }
        }
    }
}

fn commit_select(
    name: &str,
    label: &str,
    selected: Option<&str>,
    commits: &[NightlyCommit],
) -> Markup {
    let listed = selected.is_some_and(|sha| commits.iter().any(|c| c.sha == sha));
    html! {
        label {
            span.label { (label) }
            select name=(name) {
                @if let (Some(sha), false) = (selected, listed) {
                    option value=(sha) selected { (short(sha)) " (no nightly in the window)" }
                }
                @for c in commits {
                    option value=(c.sha) selected[selected == Some(c.sha.as_str())] {
                        (short(&c.sha)) " · "
                        (format::absolute(c.first_seen_at).unwrap_or_default())
                        " · " (c.nightly_jobs) " nightly " (if c.nightly_jobs == 1 { "job" } else { "jobs" })
                    }
                }
            }
        }
    }
}

/// Four days (UTC midnights; each range's end excluded), prefilled with the sides' ranges.
fn range_form(view: &ReleaseDiffView, path: &str) -> Markup {
    let day = |side: &Option<SideLine>, until: bool| {
        side.as_ref()
            .and_then(|s| {
                if until {
                    s.until.clone()
                } else {
                    s.from.clone()
                }
            })
            .map(|at| at.chars().take(10).collect::<String>())
    };
    let input = |name: &str, label: &str, value: Option<String>| {
        html! {
            label {
                span.label { (label) }
                input type="date" name=(name) value=[value] required;
            }
        }
    };
    html! {
        details.ranges open[view.old.as_ref().is_some_and(|s| s.kind == "time_range")] {
            summary { "Or compare the nightlies of two time ranges" }
            form.diff method="get" action=(path) {
                (input("old_from", "Old: from", day(&view.old, false)))
                (input("old_until", "until (excluded)", day(&view.old, true)))
                (input("new_from", "New: from", day(&view.new, false)))
                (input("new_until", "until (excluded)", day(&view.new, true)))
                input type="hidden" name="window" value=(view.window);
                button type="submit" { "Compare" }
            }
            p.small { "Days are UTC; a range spans at most 30 days; each side takes, per job, its last nightly in the range." }
        }
    }
}

/// The two sides as resolved, the upstream compare link, and what an empty side means.
fn sides(view: &ReleaseDiffView, now: i64) -> Markup {
    let first_seen = |sha: &str| {
        view.nightly_commits
            .iter()
            .find(|c| c.sha == sha)
            .and_then(|c| crate::clock::rfc3339(c.first_seen_at))
    };
    let describe = |side: Option<&SideLine>, default: &str, none: &str| {
        html! {
            @match side {
                None => span.muted { (none) },
                Some(s) => {
                    @if let Some(sha) = &s.sha {
                        "commit " code.sha { (format::external_link(Some(&commit_url(sha)), &short(sha))) }
                        @if let Some(at) = first_seen(sha) { ", first seen " (format::time(Some(&at), now)) }
                    } @else {
                        "nightlies first seen from " (format::time(s.from.as_deref(), now))
                        " to " (format::time(s.until.as_deref(), now)) " (excluded)"
                    }
                    " · " (s.nightly_jobs) " nightly " (if s.nightly_jobs == 1 { "job" } else { "jobs" })
                    @if s.defaulted { " " span.small { "(" (default) ")" } }
                }
            }
        }
    };
    html! {
        dl.sides {
            div {
                dt { "Old" }
                dd { (describe(view.old.as_ref(), "default: the nightly commit before the new one", "none: no nightly commit of the window before the new one")) }
            }
            div {
                dt { "New" }
                dd { (describe(view.new.as_ref(), "default: the newest nightly commit", "none: no nightly commit in the window")) }
            }
        }
        @if let Some(url) = &view.compare_url {
            p { (format::external_link(Some(url), "compare the two commits upstream")) }
        }
        @if view.old.as_ref().is_some_and(|s| s.nightly_jobs == 0) {
            p.warning { "The old side holds no nightly job: every test failing on the new side shows as newly failing." }
        }
        @if view.new.as_ref().is_some_and(|s| s.nightly_jobs == 0) {
            p.warning { "The new side holds no nightly job: every test failing on the old side shows as unknown." }
        }
    }
}

fn headline(h: &Headline) -> Markup {
    html! {
        dl.stats {
            div { dt { "✘ Newly failing" } dd { (h.newly_failing) } }
            div { dt { "✔ Fixed" } dd { (h.fixed) } }
            div { dt { "◆ Still failing" } dd { (h.still_failing) } }
            div { dt { "? Unknown" } dd { (h.unknown) } }
            div { dt { "Jobs compared" } dd { (h.slots) } }
        }
    }
}

fn status_section(
    view: &ReleaseDiffView,
    slots: &HashMap<(&str, &str), &SlotLine>,
    wanted: DiffStatus,
    now: i64,
) -> Markup {
    let tests: Vec<&TestLine> = view.tests.iter().filter(|t| t.status == wanted).collect();
    let (_, words) = status_words(wanted);
    html! {
        section.diff {
            h2 { (status(wanted)) " " span.count { (tests.len()) } }
            @if tests.is_empty() {
                p.muted { "None." }
            } @else {
                div.table-scroll tabindex="0" role="region" aria-label={ (words) " tests, scrolls sideways" } {
                    table.failing {
                        thead {
                            tr {
                                th scope="col" { "Test" }
                                th scope="col" { "Job" }
                                th scope="col" { "Old nightly" }
                                th scope="col" { "New nightly" }
                            }
                        }
                        tbody {
                            @for test in tests {
                                @let slot = slots.get(&(test.workflow_name.as_str(), test.job_name.as_str()));
                                tr {
                                    th scope="row" {
                                        a href=(test_history_href(&view.downstream_repo, &test.classname, &test.name, view.window))
                                            title="history and regression range" {
                                            @if !test.classname.is_empty() { span.muted { (test.classname) "." } }
                                            code { (test.name) }
                                        }
                                    }
                                    td { span.workflow { (test.workflow_name) } " / " (test.job_name) }
                                    td { (nightly(slot.and_then(|s| s.old.as_ref()), now)) }
                                    td { (nightly(slot.and_then(|s| s.new.as_ref()), now)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The nightlies compared, per job slot, with the upstream diff between each slot's two.
fn slots_section(slots: &[SlotLine], now: i64) -> Markup {
    html! {
        section.diff {
            h2 { "Nightlies compared" }
            @if slots.is_empty() {
                p.muted { "No job has a nightly on either side." }
            } @else {
                div.table-scroll tabindex="0" role="region" aria-label="nightlies compared, scrolls sideways" {
                    table.failing {
                        thead {
                            tr {
                                th scope="col" { "Job" }
                                th scope="col" { "Old nightly" }
                                th scope="col" { "New nightly" }
                                th scope="col" { "Upstream" }
                            }
                        }
                        tbody {
                            @for slot in slots {
                                @let shas = (
                                    slot.old.as_ref().and_then(|j| j.upstream_sha.as_deref()),
                                    slot.new.as_ref().and_then(|j| j.upstream_sha.as_deref()),
                                );
                                tr {
                                    th scope="row" { span.workflow { (slot.workflow_name) } " / " (slot.job_name) }
                                    td { (nightly(slot.old.as_ref(), now)) }
                                    td { (nightly(slot.new.as_ref(), now)) }
                                    td {
                                        @if let (Some(old), Some(new)) = shas {
                                            @if old != new {
                                                (format::external_link(Some(&oot_triage::compare_url(old, new)), "compare"))
                                            } @else {
                                                span.muted { "same commit" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A nightly compared: its commit (linked upstream), when it was first seen, its run (linked
/// downstream) and attempt; "none" when the side has no nightly of the job.
fn nightly(job: Option<&NightlyJob>, now: i64) -> Markup {
    let Some(job) = job else {
        return html! { span.muted { "none" } };
    };
    html! {
        @if let Some(sha) = &job.upstream_sha {
            code.sha { (format::external_link(Some(&commit_url(sha)), &short(sha))) } " "
        }
        span.small { (format::time(job.first_seen_at.as_deref(), now)) }
        " · "
        @match job.workflow_run_url.as_deref() {
            Some(url) => (format::external_link(Some(url), &format!("run {}", job.run_id))),
            None => { "run " (job.run_id) }
        }
        @if job.run_attempt > 1 { " " span.small { "attempt " (job.run_attempt) } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::release_diff::Headline;

    const OLD_SHA: &str = "1111111111111111111111111111111111111111";
    const NEW_SHA: &str = "2222222222222222222222222222222222222222";

    fn side(sha: &str, defaulted: bool) -> SideLine {
        SideLine {
            kind: "commit",
            sha: Some(sha.to_owned()),
            from: None,
            until: None,
            defaulted,
            nightly_jobs: 2,
        }
    }

    fn job(key: &str, sha: &str, url: &str) -> NightlyJob {
        NightlyJob {
            job_key: key.to_owned(),
            upstream_sha: Some(sha.to_owned()),
            run_id: "77".to_owned(),
            run_attempt: 2,
            first_seen_at: Some("2026-04-28T02:00:00Z".to_owned()),
            workflow_run_url: Some(url.to_owned()),
        }
    }

    fn view() -> ReleaseDiffView {
        let test = |name: &str, status| TestLine {
            classname: "T<i>".to_owned(),
            name: name.to_owned(),
            workflow_name: "ci".to_owned(),
            job_name: "evil <script>".to_owned(),
            status,
        };
        ReleaseDiffView {
            downstream_repo: "intel/torch-xpu-ops".to_owned(),
            window: "30d",
            since: Some("2026-03-29T10:00:00Z".to_owned()),
            generated_at: Some("2026-04-28T10:15:30Z".to_owned()),
            old: Some(side(OLD_SHA, false)),
            new: Some(side(NEW_SHA, true)),
            compare_url: Some(oot_triage::compare_url(OLD_SHA, NEW_SHA)),
            headline: Headline {
                slots: 1,
                newly_failing: 1,
                fixed: 1,
                still_failing: 0,
                unknown: 0,
            },
            slots: vec![SlotLine {
                workflow_name: "ci".to_owned(),
                job_name: "evil <script>".to_owned(),
                old: Some(job("o", OLD_SHA, "https://github.com/a/b/actions/runs/77")),
                new: Some(job("n", NEW_SHA, "javascript:alert(1)")),
            }],
            tests: vec![
                test("test_<b>new</b>", DiffStatus::NewlyFailing),
                test("test_fixed", DiffStatus::Fixed),
            ],
            nightly_commits: vec![
                NightlyCommit {
                    sha: NEW_SHA.to_owned(),
                    first_seen_at: 1_777_341_600,
                    nightly_jobs: 2,
                },
                NightlyCommit {
                    sha: OLD_SHA.to_owned(),
                    first_seen_at: 1_777_255_200,
                    nightly_jobs: 1,
                },
            ],
        }
    }

    #[test]
    fn the_page_offers_the_windows_commits_and_links_tests_commits_and_runs() {
        let html = render(&view(), 1_777_371_330).into_string();
        assert!(html.contains(
            r#"<form class="diff" method="get" action="/oot/intel/torch-xpu-ops/tests/diff">"#
        ));
        assert!(html.contains(&format!(r#"<option value="{NEW_SHA}" selected>2222222 · 2026-04-28 02:00:00 UTC · 2 nightly jobs</option>"#)));
        assert!(html.contains(&format!(r#"<option value="{OLD_SHA}" selected>1111111 · 2026-04-27 02:00:00 UTC · 1 nightly job</option>"#)));
        assert!(html.contains(r#"<input type="hidden" name="window" value="30d">"#));
        assert!(html.contains(r#"<input type="date" name="old_from" required>"#));
        for text in [
            "✘ newly failing",
            "✔ fixed",
            "◆ still failing",
            "? unknown",
            "None.",
        ] {
            assert!(html.contains(text), "{text}");
        }
        assert!(html.contains("(default: the newest nightly commit)"));
        // Downstream text escaped; only https becomes a link.
        assert!(
            html.contains("test_&lt;b&gt;new&lt;/b&gt;") && html.contains("evil &lt;script&gt;")
        );
        assert!(
            !html.contains("<script")
                && !html.contains("<b>")
                && !html.contains(r#"href="javascript:"#)
        );
        assert!(html.contains(
            r#"href="/oot/intel/torch-xpu-ops/tests/history?classname=T%3Ci%3E&amp;name=test_%3Cb%3Enew%3C%2Fb%3E&amp;window=30d""#
        ));
        assert!(html.contains(&format!(
            r#"<a href="https://github.com/pytorch/pytorch/commit/{OLD_SHA}" rel="noopener noreferrer">1111111</a>"#
        )));
        assert!(html.contains(&format!(
            r#"<a href="https://github.com/pytorch/pytorch/compare/{OLD_SHA}...{NEW_SHA}" rel="noopener noreferrer">compare the two commits upstream</a>"#
        )));
        assert!(html.contains(r#"<a href="https://github.com/a/b/actions/runs/77" rel="noopener noreferrer">run 77</a>"#));
        assert!(html.contains("attempt 2"));
        // The window links keep the side the request named, not the defaulted one.
        assert!(html.contains(&format!(
            r#"href="/oot/intel/torch-xpu-ops/tests/diff?old={OLD_SHA}&amp;window=7d""#
        )));
        assert!(html.find("test_fixed").unwrap() > html.find("test_&lt;b&gt;new").unwrap());
    }

    #[test]
    fn missing_sides_and_empty_ones_are_said_in_words() {
        let mut empty = view();
        empty.nightly_commits.clear();
        empty.old = None;
        empty.new = None;
        empty.slots.clear();
        empty.tests.clear();
        empty.compare_url = None;
        let html = render(&empty, 1_777_371_330).into_string();
        assert!(html.contains("No nightly of this backend in the window."));
        assert!(html.contains("none: no nightly commit in the window"));
        assert!(
            !html.contains("Nightlies compared"),
            "nothing compared, no tables"
        );

        let mut ranges = view();
        ranges.old = Some(SideLine {
            kind: "time_range",
            sha: None,
            from: Some("2026-04-01T00:00:00Z".to_owned()),
            until: Some("2026-04-02T00:00:00Z".to_owned()),
            defaulted: false,
            nightly_jobs: 0,
        });
        ranges.compare_url = None;
        let html = render(&ranges, 1_777_371_330).into_string();
        assert!(html.contains("The old side holds no nightly job"));
        assert!(html.contains(r#"<input type="date" name="old_from" value="2026-04-01" required>"#));
        assert!(html.contains(r#"<details class="ranges" open>"#));
        assert!(html.contains(
            "/tests/diff?old_from=2026-04-01T00%3A00%3A00Z&amp;old_until=2026-04-02T00%3A00%3A00Z&amp;window=24h"
        ));
        assert!(!html.contains("compare the two commits upstream"));
    }
}
