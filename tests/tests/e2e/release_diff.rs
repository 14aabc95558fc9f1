//! A backend's release diff (issue 11, docs/contract.md §12.9, §12.16) against the real stack:
//! callbacks go in through ingest (its clock moved back so each job is first seen at its hour),
//! the projector writes the jobs and their failed-test rows, and the query service answers
//! `/api/oot/{org}/{repo}/tests/diff` and its page.
//!
//! Two slots of `intel/torch-xpu-ops` (`xpu-ci / linux-xpu / test` and `… / smoke`), three
//! nightly commits and two PRs, every job reporting counts its failed list covers:
//!
//! | first seen | job | failed tests |
//! |---|---|---|
//! | 50 h ago | nightly on commit 1…, test | `test_old_only` |
//! | 30 h ago | nightly on commit 2…, test | `test_still`, `test_fixed` |
//! | 30 h ago | nightly on commit 2…, smoke | `test_lost` |
//! | 20 h ago | PR 900402, test | `test_elsewhere` |
//! | 10 h ago | PR 900401, test | `test_mine`, `test_still`, `test_elsewhere` |
//! | 5 h 1 min ago | nightly on commit 3…, test, attempt 1 | `test_still`, [`NEW_TEST`], `test_rerun` |
//! | 5 h ago | nightly on commit 3…, test, attempt 2 | `test_still`, [`NEW_TEST`] |
//! | 5 h ago | nightly on commit 3…, smoke, cancelled | none |
//!
//! So commit 2 against commit 3 (the defaults: the newest two) is: [`NEW_TEST`] newly failing,
//! `test_fixed` fixed, `test_still` still failing (test), `test_lost` unknown (smoke: the
//! cancelled job says nothing); `test_rerun` is not there (attempt 2 is the run's latest). The
//! PRs are no side's. The pages tests (`pages.rs`) show the same story in Chromium, with PR
//! 900401's "is it mine?": `test_mine` new, `test_still` known, `test_elsewhere` seen elsewhere.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::time::Duration;

use oot_contract::{Conclusion, RepoLevel};
use oot_e2e::callbacks::{repo, upstream_pr, Job, Trigger};
use oot_e2e::story::{completed_listing, seed, Seeded};
use oot_e2e::{query_config, query_stores, TestQuery, TestStores};
use oot_query::api;
use oot_query::observations::Observations;
use oot_query::params::{ReleaseDiffParams, SideRequest};
use oot_query::rules::Window;
use oot_query::views::release_diff::ReleaseDiffView;
use oot_triage::{NightlySet, ReleaseDiff};
use serde_json::{json, Value};

pub const XPU: &str = "intel/torch-xpu-ops";
const WORKFLOW: &str = "xpu-ci";
pub const TEST_JOB: &str = "linux-xpu / test";
pub const SMOKE_JOB: &str = "linux-xpu / smoke";
const CLASS: &str = "test.test_ops.TestOps";
const HOUR: i64 = 3_600;
/// The PR whose "is it mine?" the pages show, and the other PR.
pub const MINE: u64 = 900_401;
const OTHER: u64 = 900_402;
/// A newly failing test whose name would break out of the markup if a page did not escape it.
pub const NEW_TEST: &str = "test_new_<b>f32</b>";

/// One completed job, first seen `ago` seconds before now.
struct Seen {
    ago: i64,
    job: Job,
    conclusion: Option<Conclusion>,
    failed: &'static [&'static str],
}

/// Commit `c` repeated: `1111…`.
pub fn sha(c: char) -> String {
    std::iter::repeat_n(c, 40).collect()
}

fn job(trigger: Trigger, delivery: &str, job_name: &str, run: u64, attempt: u32) -> Job {
    Job {
        repo: repo(XPU),
        level: RepoLevel::L2,
        trigger,
        delivery_id: delivery.to_owned(),
        workflow: WORKFLOW.to_owned(),
        job_name: job_name.to_owned(),
        run_id: run,
        run_attempt: attempt,
        check_run_id: run * 10 + u64::from(attempt),
    }
}

/// A nightly on commit `c` (one delivery per commit, as one scheduled dispatch).
fn nightly(c: char, job_name: &str, run: u64, attempt: u32) -> Job {
    let trigger = Trigger::Nightly {
        upstream: repo("pytorch/pytorch"),
        head_sha: sha(c),
    };
    job(trigger, &format!("nightly-{c}"), job_name, run, attempt)
}

fn pr(number: u64, run: u64) -> Job {
    job(upstream_pr(number), &format!("d-{run}"), TEST_JOB, run, 1)
}

fn story() -> Vec<Seen> {
    let seen = |ago, job, failed| Seen {
        ago,
        job,
        conclusion: None,
        failed,
    };
    vec![
        seen(
            50 * HOUR,
            nightly('1', TEST_JOB, 101, 1),
            &["test_old_only"],
        ),
        seen(
            30 * HOUR,
            nightly('2', TEST_JOB, 102, 1),
            &["test_still", "test_fixed"],
        ),
        seen(30 * HOUR, nightly('2', SMOKE_JOB, 112, 1), &["test_lost"]),
        seen(20 * HOUR, pr(OTHER, 402), &["test_elsewhere"]),
        seen(
            10 * HOUR,
            pr(MINE, 401),
            &["test_mine", "test_still", "test_elsewhere"],
        ),
        seen(
            5 * HOUR + 60,
            nightly('3', TEST_JOB, 103, 1),
            &["test_still", NEW_TEST, "test_rerun"],
        ),
        seen(
            5 * HOUR,
            nightly('3', TEST_JOB, 103, 2),
            &["test_still", NEW_TEST],
        ),
        Seen {
            conclusion: Some(Conclusion::Cancelled),
            ..seen(5 * HOUR, nightly('3', SMOKE_JOB, 113, 1), &[])
        },
    ]
}

/// The story posted through ingest, each job at its time, projected, and a query service.
pub async fn seeded(prefix: &str) -> Seeded {
    seed(
        prefix,
        &story(),
        |seen| seen.ago,
        |seen, at| {
            let failed: Vec<(&str, &str)> = seen.failed.iter().map(|name| (CLASS, *name)).collect();
            completed_listing(&seen.job, seen.conclusion, &failed, at).to_string()
        },
    )
    .await
}

fn key_of(job: &Job) -> String {
    job.key().unwrap().to_string()
}

/// (name, job, status) of each test, in the answer's order.
fn statuses(view: &Value) -> Vec<(String, String, String)> {
    view["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["classname"], CLASS);
            assert_eq!(t["workflow_name"], WORKFLOW);
            let text = |field: &str| t[field].as_str().unwrap().to_owned();
            (text("name"), text("job_name"), text("status"))
        })
        .collect()
}

fn expected(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|(n, j, s)| ((*n).to_owned(), (*j).to_owned(), (*s).to_owned()))
        .collect()
}

/// The slots compared as (job, old job key, new job key).
fn compared(view: &Value) -> Vec<(String, Option<String>, Option<String>)> {
    view["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let key = |side: &str| s[side]["job_key"].as_str().map(str::to_owned);
            (
                s["job_name"].as_str().unwrap().to_owned(),
                key("old"),
                key("new"),
            )
        })
        .collect()
}

async fn diff(query: &TestQuery, params: &str) -> Value {
    let path = format!("/api/oot/{XPU}/tests/diff{params}");
    let (status, _, body) = query.get(&path).await;
    assert_eq!(status, 200, "{path}: {body}");
    assert_eq!(body["downstream_repo"], XPU);
    body
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn the_newest_two_nightly_commits_are_compared_by_default() {
    let seeded = seeded("diffdefault").await;
    let view = diff(&seeded.query, "").await;
    assert_eq!(view["window"], "30d", "the default window");
    assert_eq!(
        (&view["old"]["sha"], &view["old"]["defaulted"]),
        (&json!(sha('2')), &json!(true))
    );
    assert_eq!(
        (&view["new"]["sha"], &view["new"]["defaulted"]),
        (&json!(sha('3')), &json!(true))
    );
    assert_eq!(view["old"]["kind"], "commit");
    assert_eq!(
        view["old"]["nightly_jobs"], 2,
        "commit 2's test and smoke nightlies"
    );
    assert_eq!(view["new"]["nightly_jobs"], 3, "both attempts and smoke");
    assert_eq!(
        view["compare_url"],
        format!(
            "https://github.com/pytorch/pytorch/compare/{}...{}",
            sha('2'),
            sha('3')
        )
    );
    assert_eq!(
        statuses(&view),
        expected(&[
            (NEW_TEST, TEST_JOB, "newly_failing"),
            ("test_fixed", TEST_JOB, "fixed"),
            ("test_still", TEST_JOB, "still_failing"),
            ("test_lost", SMOKE_JOB, "unknown"),
        ]),
        "{view}"
    );
    assert_eq!(
        view["headline"],
        json!({"slots": 2, "newly_failing": 1, "fixed": 1, "still_failing": 1, "unknown": 1})
    );
    // The nightlies compared: the test job's latest attempt on commit 3, not attempt 1.
    assert_eq!(
        compared(&view),
        [
            (
                SMOKE_JOB.to_owned(),
                Some(key_of(&nightly('2', SMOKE_JOB, 112, 1))),
                Some(key_of(&nightly('3', SMOKE_JOB, 113, 1))),
            ),
            (
                TEST_JOB.to_owned(),
                Some(key_of(&nightly('2', TEST_JOB, 102, 1))),
                Some(key_of(&nightly('3', TEST_JOB, 103, 2))),
            ),
        ]
    );
    let test_slot = &view["slots"][1];
    assert_eq!(
        (
            &test_slot["new"]["run_id"],
            &test_slot["new"]["run_attempt"],
            &test_slot["new"]["upstream_sha"]
        ),
        (&json!("103"), &json!(2), &json!(sha('3')))
    );
    assert_eq!(
        test_slot["old"]["workflow_run_url"],
        format!("https://github.com/{XPU}/actions/runs/102")
    );
    assert!(test_slot["new"]["first_seen_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    // The window's nightly commits, newest first, with their jobs.
    let commits: Vec<(String, u64)> = view["nightly_commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert!(c["first_seen_at"].is_string(), "{c}");
            (
                c["sha"].as_str().unwrap().to_owned(),
                c["nightly_jobs"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(commits, [(sha('3'), 3), (sha('2'), 2), (sha('1'), 1)]);

    // A day's window holds one nightly commit: the newest, with none before it to compare.
    let day = diff(&seeded.query, "?window=24h").await;
    assert_eq!(day["new"]["sha"], sha('3'));
    assert_eq!(day["old"], Value::Null);
    assert_eq!(
        (day["tests"].clone(), day["slots"].clone()),
        (json!([]), json!([]))
    );
    assert_eq!(day["nightly_commits"].as_array().unwrap().len(), 1);

    // New named alone: old is the commit before it; prefixes name the window's commits.
    let named = diff(&seeded.query, "?new=2222222").await;
    assert_eq!(
        (
            &named["old"]["sha"],
            &named["new"]["sha"],
            &named["new"]["defaulted"]
        ),
        (&json!(sha('1')), &json!(sha('2')), &json!(false))
    );
    let prefixed = diff(&seeded.query, "?old=2222222&new=3333333").await;
    assert_eq!(statuses(&prefixed), statuses(&view));

    // Older against newer, explicitly.
    let explicit = diff(
        &seeded.query,
        &format!("?old={}&new={}", sha('1'), sha('3')),
    )
    .await;
    assert_eq!(
        statuses(&explicit),
        expected(&[
            (NEW_TEST, TEST_JOB, "newly_failing"),
            ("test_still", TEST_JOB, "newly_failing"),
            ("test_old_only", TEST_JOB, "fixed"),
        ]),
        "commit 1 passed test_still; the smoke job has no nightly on commit 1 and nothing failing on 3"
    );
    assert_eq!(explicit["slots"][0]["old"], Value::Null, "{explicit}");
    assert_eq!(explicit["slots"][0]["job_name"], SMOKE_JOB);
}

#[tokio::test]
async fn time_ranges_compare_the_last_nightly_of_each_job_in_them_even_before_the_window() {
    let seeded = seeded("diffranges").await;
    // Whole seconds: the answer gives its times so.
    let now = time::OffsetDateTime::from_unix_timestamp(oot_query::clock::now()).unwrap();
    let hours = |h: i64| rfc3339(now - time::Duration::hours(h));
    let ranges = format!(
        "?old_from={}&old_until={}&new_from={}&new_until={}",
        hours(31),
        hours(29),
        hours(6),
        rfc3339(now + time::Duration::minutes(1)),
    );
    let by_commit = diff(&seeded.query, "").await;
    let by_time = diff(&seeded.query, &ranges).await;
    assert_eq!(by_time["old"]["kind"], "time_range");
    assert_eq!(by_time["old"]["sha"], Value::Null);
    assert_eq!(by_time["old"]["from"], hours(31));
    assert_eq!(by_time["compare_url"], Value::Null, "no commit to compare");
    assert_eq!(statuses(&by_time), statuses(&by_commit));
    assert_eq!(compared(&by_time), compared(&by_commit));
    assert_eq!(by_time["headline"], by_commit["headline"]);

    // A day's window does not reach 30 hours back: the old range's own hours are read.
    let day = diff(&seeded.query, &format!("{ranges}&window=24h")).await;
    assert_eq!(statuses(&day), statuses(&by_commit));
    assert_eq!(day["old"]["nightly_jobs"], 2);
    assert_eq!(
        day["nightly_commits"].as_array().unwrap().len(),
        1,
        "the list is the window's"
    );

    // A range one side with a commit the other.
    let mixed = diff(
        &seeded.query,
        &format!(
            "?old_from={}&old_until={}&new={}",
            hours(31),
            hours(29),
            sha('3')
        ),
    )
    .await;
    assert_eq!(statuses(&mixed), statuses(&by_commit));
    // A range holding no nightly: every failure of the new side is newly failing.
    let empty = diff(
        &seeded.query,
        &format!("?old_from={}&old_until={}", hours(45), hours(40)),
    )
    .await;
    assert_eq!(empty["old"]["nightly_jobs"], 0);
    assert_eq!(empty["new"]["sha"], sha('3'), "new defaults to the newest");
    assert_eq!(
        statuses(&empty),
        expected(&[
            (NEW_TEST, TEST_JOB, "newly_failing"),
            ("test_still", TEST_JOB, "newly_failing"),
        ])
    );
}

/// What the service reads (the window's and the ranges' nightlies, then the compared ones by
/// key) gives the rule's answer on every job the backend has, for every way of choosing sides.
#[tokio::test]
async fn the_read_gives_the_rules_answer_on_every_job_of_the_backend() {
    let seeded = seeded("diffall").await;
    let stores = query_stores(
        &seeded.stores.settings.clickhouse,
        &seeded.stores.settings.dynamo,
        Duration::from_secs(10),
    )
    .await;
    let backend = repo(XPU);
    let everything = Observations::of_window(
        stores
            .completed
            .failing_window_jobs(&backend, 0)
            .await
            .unwrap(),
        stores
            .completed
            .failing_window_tests(&backend, 0)
            .await
            .unwrap(),
    );
    assert_eq!(everything.results().len(), story().len());
    let now = oot_query::clock::now();
    let commit = |c: char| Some(SideRequest::Commit(sha(c)));
    let range = |from_h: i64, until_h: i64| {
        Some(SideRequest::Between {
            from: now - from_h * HOUR,
            until: now - until_h * HOUR,
        })
    };
    let case = |old, new, window, old_set, new_set| Case {
        old,
        new,
        window,
        compares: (old_set, new_set),
    };
    let between = |from_h: i64, until_h: i64| NightlySet::Between {
        from: now - from_h * HOUR,
        until: now - until_h * HOUR,
    };
    let on = |c: char| NightlySet::Sha(sha(c));
    let cases = [
        case(None, None, Window::Month, on('2'), on('3')),
        case(commit('1'), commit('3'), Window::Week, on('1'), on('3')),
        case(commit('3'), commit('1'), Window::Month, on('3'), on('1')),
        case(commit('2'), commit('2'), Window::Month, on('2'), on('2')),
        case(
            range(60, 20),
            range(6, 0),
            Window::Day,
            between(60, 20),
            between(6, 0),
        ),
        case(range(31, 29), None, Window::Day, between(31, 29), on('3')),
    ];
    for Case {
        old,
        new,
        window,
        compares: (old_set, new_set),
    } in cases
    {
        let what = format!("{old:?} against {new:?} in {}", window.as_str());
        let params = ReleaseDiffParams {
            repo: backend.clone(),
            old,
            new,
            window,
        };
        let served = api::release_diff_at(&stores, params, now).await.unwrap();
        let rule = oot_triage::release_diff(everything.results(), &old_set, &new_set);
        assert!(
            !rule.slots.is_empty(),
            "{what}: the case compares something"
        );
        assert_same_diff(&served, &rule, &what);
    }
}

/// One way of asking for a diff, and the two sets the rule is to compare for it.
struct Case {
    old: Option<SideRequest>,
    new: Option<SideRequest>,
    window: Window,
    compares: (NightlySet, NightlySet),
}

/// The served view holds exactly the rule's slots (by job) and tests, in its order.
fn assert_same_diff(served: &ReleaseDiffView, rule: &ReleaseDiff, what: &str) {
    let served_tests: Vec<(&str, &str, &str, &str, oot_triage::DiffStatus)> = served
        .tests
        .iter()
        .map(|t| {
            (
                t.classname.as_str(),
                t.name.as_str(),
                t.workflow_name.as_str(),
                t.job_name.as_str(),
                t.status,
            )
        })
        .collect();
    let rule_tests: Vec<(&str, &str, &str, &str, oot_triage::DiffStatus)> = rule
        .tests
        .iter()
        .map(|e| {
            (
                e.test.classname.as_str(),
                e.test.name.as_str(),
                e.slot.workflow_name.as_str(),
                e.slot.job_name.as_str(),
                e.status,
            )
        })
        .collect();
    assert_eq!(served_tests, rule_tests, "{what}");
    let served_slots: Vec<(&str, Option<&str>, Option<&str>)> = served
        .slots
        .iter()
        .map(|s| {
            (
                s.job_name.as_str(),
                s.old.as_ref().map(|j| j.job_key.as_str()),
                s.new.as_ref().map(|j| j.job_key.as_str()),
            )
        })
        .collect();
    let rule_slots: Vec<(&str, Option<&str>, Option<&str>)> = rule
        .slots
        .iter()
        .map(|s| {
            (
                s.slot.job_name.as_str(),
                s.old.as_ref().map(|j| j.job_key.as_str()),
                s.new.as_ref().map(|j| j.job_key.as_str()),
            )
        })
        .collect();
    assert_eq!(served_slots, rule_slots, "{what}");
    assert_eq!(served.headline.slots, rule.slots.len() as u64, "{what}");
}

#[tokio::test]
async fn bad_missing_or_contradictory_sides_are_refused_by_name() {
    let seeded = seeded("diffbad").await;
    for (params, parameter) in [
        ("?old=not-a-sha", "old"),
        ("?new=abc", "new"),
        (
            &format!("?old={}&old_from=2026-04-01&old_until=2026-04-02", sha('1')),
            "old",
        ),
        ("?old_from=2026-04-01", "old_until"),
        ("?new_until=2026-04-01&old=1111111", "new_from"),
        ("?old_from=2026-04-02&old_until=2026-04-01", "old_until"),
        ("?old_from=2026-01-01&old_until=2026-03-01", "old_until"),
        ("?old_from=April&old_until=2026-04-01", "old_from"),
        ("?new_from=2026-04-01&new_until=2026-04-02", "old"),
        ("?old=1111111&old=2222222", "old"),
        ("?window=1y", "window"),
        // Well formed, but no nightly commit of the window starts so.
        ("?old=abcdef0", "old"),
    ] {
        let path = format!("/api/oot/{XPU}/tests/diff{params}");
        let (status, _, body) = seeded.query.get(&path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"], "invalid_parameter", "{path}");
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
    }
    let (status, _, body) = seeded.query.get("/api/oot/-bad/x/tests/diff").await;
    assert_eq!((status, body["parameter"].as_str()), (400, Some("repo")));

    let page = seeded
        .query
        .client
        .get(format!(
            "{}/oot/{XPU}/tests/diff?old=abcdef0",
            seeded.query.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 400);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("Parameter old: no nightly commit of the window starts with abcdef0"),
        "{text}"
    );
}

#[tokio::test]
async fn a_backend_without_nightlies_answers_no_sides_and_a_page_saying_so() {
    let stores = TestStores::unique("diffnone");
    let query = TestQuery::spawn(query_config(&stores.settings))
        .await
        .unwrap();
    let (status, _, body) = query.get("/api/oot/nobody/nothing/tests/diff").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["old"], &body["new"]), (&Value::Null, &Value::Null));
    assert_eq!(body["nightly_commits"], json!([]));
    assert_eq!(body["headline"]["slots"], 0);
    let page = query
        .client
        .get(format!("{}/oot/nobody/nothing/tests/diff", query.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("No nightly of this backend in the window."));
}

#[tokio::test]
async fn the_page_offers_the_commits_shows_each_status_in_words_and_is_linked() {
    let seeded = seeded("diffpage").await;
    let get = |path: String| {
        let client = seeded.query.client.clone();
        let url = format!("{}{path}", seeded.query.base_url);
        async move {
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            response.text().await.unwrap()
        }
    };
    let failing = get(format!("/oot/{XPU}/tests")).await;
    assert!(failing.contains(&format!(
        r#"<a href="/oot/{XPU}/tests/diff">Release diff</a>"#
    )));

    let page = get(format!("/oot/{XPU}/tests/diff")).await;
    for text in [
        "✘ newly failing",
        "✔ fixed",
        "◆ still failing",
        "? unknown",
        "test_new_&lt;b&gt;f32&lt;/b&gt;",
        "(default: the newest nightly commit)",
        "compare the two commits upstream",
    ] {
        assert!(page.contains(text), "{text} not on the page");
    }
    assert!(!page.contains("<b>f32"), "escaped");
    assert!(page.contains(&format!(
        r#"<option value="{}" selected>3333333 · "#,
        sha('3')
    )));
    assert!(page.contains(&format!(
        r#"<option value="{}" selected>2222222 · "#,
        sha('2')
    )));
    assert!(page.contains(&format!(r#"<option value="{}">1111111 · "#, sha('1'))));
    assert!(page.contains(&format!(
        r#"href="https://github.com/pytorch/pytorch/commit/{}" rel="noopener noreferrer""#,
        sha('2')
    )));
    assert!(page.contains(&format!(
        r#"href="/oot/{XPU}/tests/history?classname={CLASS}&amp;name=test_fixed&amp;window=30d""#
    )));
    assert!(page.contains(&format!(
        r#"<a href="https://github.com/{XPU}/actions/runs/103" rel="noopener noreferrer">run 103</a>"#
    )));
    // The form's own answer: the selects' values as the query.
    let chosen = get(format!(
        "/oot/{XPU}/tests/diff?old={}&new={}&window=30d",
        sha('1'),
        sha('3')
    ))
    .await;
    assert!(chosen.contains(&format!(
        r#"<option value="{}" selected>1111111 · "#,
        sha('1')
    )));
    assert!(!chosen.contains("(default:"));
}
