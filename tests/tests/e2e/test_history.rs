//! One test's history (issue 11, docs/contract.md §12.11, §12.14) against the real stack:
//! callbacks go in through ingest (its clock moved back so each job is first seen at its hour),
//! the projector writes the jobs and their failed-test rows, and the query service answers
//! `/api/oot/{org}/{repo}/tests/history` and its page.
//!
//! One slot (`xpu-ci / linux-xpu / test`) of `intel/torch-xpu-ops`, every job reporting counts
//! its failed list covers:
//!
//! | first seen | job | failed tests |
//! |---|---|---|
//! | 50 h ago | nightly N1 (commit 1…) | `test_other` |
//! | 40 h ago | nightly N2 (commit 2…) | none |
//! | 30 h ago | nightly N3 (commit 3…) | `test_regressed`, `test_other` |
//! | 20 h ago | nightly N4 (commit 4…) | `test_regressed` |
//! | 10 h ago | PR 900201, run 201 attempt 1 | `test_flaky` |
//! | 10 h ago + 1 s | PR 900201, run 201 attempt 2 (same commit) | none |
//! | 5 h ago | PR 900202 | the test named with `::`, spaces, `/` and brackets ([`ODD`]) |
//!
//! So `test_regressed` broke between commits 2… and 3… (N1 passed it while failing another
//! test: a job that lists others and not it passed it), and `test_flaky` failed then passed on
//! one commit.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use oot_contract::RepoLevel;
use oot_e2e::callbacks::{repo, upstream_pr, Job, Trigger};
use oot_e2e::story::{completed_listing, seed, Seeded};
use oot_e2e::TestQuery;
use serde_json::Value;

const XPU: &str = "intel/torch-xpu-ops";
const WORKFLOW: &str = "xpu-ci";
const JOB: &str = "linux-xpu / test";
const CLASS: &str = "test.test_ops.TestOps";
const HOUR: i64 = 3_600;
/// A test as pytest names them: `::`, spaces, `/` and brackets, under a path-like classname.
const ODD_CLASS: &str = "test/test_ops.py::TestCommonXPU";
const ODD: &str = "test_out_warning_add xpu [float32] / nn::functional";

/// One completed job of the slot, first seen `ago` seconds before now, failing `failed`
/// (classname, name).
struct Seen {
    ago: i64,
    job: Job,
    failed: Vec<(&'static str, &'static str)>,
}

fn job(trigger: Trigger, delivery: &str, run: u64, attempt: u32, check_run: u64) -> Job {
    Job {
        repo: repo(XPU),
        level: RepoLevel::L2,
        trigger,
        delivery_id: delivery.to_owned(),
        workflow: WORKFLOW.to_owned(),
        job_name: JOB.to_owned(),
        run_id: run,
        run_attempt: attempt,
        check_run_id: check_run,
    }
}

fn sha(digit: char) -> String {
    std::iter::repeat_n(digit, 40).collect()
}

fn nightly(digit: char, run: u64) -> Job {
    let trigger = Trigger::Nightly {
        upstream: repo("pytorch/pytorch"),
        head_sha: sha(digit),
    };
    job(trigger, &format!("nightly-{digit}"), run, 1, run + 10_000)
}

fn pr(number: u64, run: u64, attempt: u32) -> Job {
    job(
        upstream_pr(number),
        &format!("d-{run}"),
        run,
        attempt,
        run * 10 + u64::from(attempt),
    )
}

fn story() -> Vec<Seen> {
    let seen = |ago, job, failed: &[(&'static str, &'static str)]| Seen {
        ago,
        job,
        failed: failed.to_vec(),
    };
    vec![
        seen(50 * HOUR, nightly('1', 101), &[(CLASS, "test_other")]),
        seen(40 * HOUR, nightly('2', 102), &[]),
        seen(
            30 * HOUR,
            nightly('3', 103),
            &[(CLASS, "test_regressed"), (CLASS, "test_other")],
        ),
        seen(20 * HOUR, nightly('4', 104), &[(CLASS, "test_regressed")]),
        seen(10 * HOUR, pr(900_201, 201, 1), &[(CLASS, "test_flaky")]),
        seen(10 * HOUR - 1, pr(900_201, 201, 2), &[]),
        seen(5 * HOUR, pr(900_202, 202, 1), &[(ODD_CLASS, ODD)]),
    ]
}

/// The completed callback of `seen`, at ingest's time `at`.
fn callback(seen: &Seen, at: time::OffsetDateTime) -> Value {
    completed_listing(&seen.job, None, &seen.failed, at)
}

/// The story posted through ingest, each job at its time, projected, and a query service.
async fn seeded(prefix: &str) -> Seeded {
    seed(
        prefix,
        &story(),
        |seen| seen.ago,
        |seen, at| callback(seen, at).to_string(),
    )
    .await
}

/// `text` with every byte but the unreserved ones percent-encoded (a space as `%20`, where the
/// pages write `+`: the service reads both).
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The history JSON of (classname, name) over 7 days.
async fn history(query: &TestQuery, classname: &str, name: &str) -> Value {
    let path = format!(
        "/api/oot/{XPU}/tests/history?classname={}&name={}&window=7d",
        percent_encoded(classname),
        percent_encoded(name)
    );
    let (status, _, body) = query.get(&path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The one slot of a history, checked to be this story's.
fn only_slot(view: &Value) -> &Value {
    let slots = view["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 1, "{view}");
    assert_eq!(
        (
            slots[0]["workflow_name"].as_str(),
            slots[0]["job_name"].as_str()
        ),
        (Some(WORKFLOW), Some(JOB))
    );
    &slots[0]
}

fn strip(slot: &Value) -> Vec<(String, String)> {
    slot["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["run_id"].as_str().unwrap().to_owned(),
                p["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn a_test_failing_on_a_nightly_after_passing_gives_its_range_and_a_flaky_rerun_shows_both() {
    let seeded = seeded("history").await;
    let view = history(&seeded.query, CLASS, "test_regressed").await;
    assert_eq!(
        (view["classname"].as_str(), view["name"].as_str()),
        (Some(CLASS), Some("test_regressed"))
    );
    assert_eq!(view["window"], "7d");
    assert_eq!(view["strip_jobs"], 50);
    let slot = only_slot(&view);
    assert_eq!(
        slot["regression"],
        serde_json::json!({
            "finding": "found",
            "last_pass": sha('2'),
            "first_fail": sha('3'),
            "compare_url": format!(
                "https://github.com/pytorch/pytorch/compare/{}...{}", sha('2'), sha('3')
            ),
        })
    );
    assert_eq!(
        strip(slot),
        pairs(&[
            ("202", "passed"),
            ("201", "passed"),
            ("201", "passed"),
            ("104", "failed"),
            ("103", "failed"),
            ("102", "passed"),
            ("101", "passed"),
        ]),
        "newest first; N1 passed it while failing another test"
    );
    assert_eq!(
        (
            slot["jobs_in_window"].as_u64(),
            slot["failed_in_window"].as_u64()
        ),
        (Some(7), Some(2))
    );
    let n4 = &slot["points"][3];
    assert_eq!(n4["trigger"], "nightly");
    assert_eq!(n4["upstream_sha"], sha('4'));
    assert_eq!(n4["message"], "AssertionError in test_regressed");
    assert_eq!(
        n4["workflow_run_url"],
        format!("https://github.com/{XPU}/actions/runs/104")
    );
    let newest = &slot["points"][0];
    assert_eq!(newest["trigger"], "pull_request");
    assert_eq!(newest["pr"]["number"], 900_202);
    assert_eq!(newest["pr"]["upstream_repo"], "pytorch/pytorch");
    assert_eq!(newest["message"], Value::Null, "a pass has no message");

    // Attempt 1 failed it and attempt 2 passed it, on one commit; the nightlies all passed it.
    let flaky = history(&seeded.query, CLASS, "test_flaky").await;
    let slot = only_slot(&flaky);
    let run_201: Vec<&Value> = slot["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["run_id"] == "201")
        .collect();
    let attempts: Vec<(u64, &str, bool)> = run_201
        .iter()
        .map(|p| {
            (
                p["run_attempt"].as_u64().unwrap(),
                p["result"].as_str().unwrap(),
                p["latest_attempt"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(attempts, [(2, "passed", true), (1, "failed", false)]);
    assert_eq!(run_201[0]["upstream_sha"], run_201[1]["upstream_sha"]);
    assert_eq!(slot["regression"]["finding"], "passing_on_nightly");
    assert_eq!(slot["regression"]["compare_url"], Value::Null);

    // The page says the same in words, with the compare link.
    let page = seeded
        .query
        .client
        .get(format!(
            "{}/oot/{XPU}/tests/history?classname={CLASS}&name=test_regressed",
            seeded.query.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    for text in [
        "✘ failed",
        "✔ passed",
        "last passed on",
        &format!(
            r#"href="https://github.com/pytorch/pytorch/compare/{}...{}" rel="noopener noreferrer""#,
            sha('2'),
            sha('3')
        ),
        &format!(r#"href="https://github.com/{XPU}/actions/runs/104""#),
        "AssertionError in test_regressed",
    ] {
        assert!(page.contains(text), "{text} not on the page");
    }
}

/// The first `href` of `page` that starts with `prefix`, its entities decoded.
fn href_starting(page: &str, prefix: &str) -> String {
    let marker = format!(r#"href="{prefix}"#);
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no link to {prefix}"))
        + 6;
    let end = start + page[start..].find('"').unwrap();
    page[start..end].replace("&amp;", "&")
}

#[tokio::test]
async fn an_odd_test_name_round_trips_from_the_failing_tests_page_and_bad_asks_are_named() {
    let seeded = seeded("historyodd").await;
    let query = &seeded.query;
    let failing = query
        .client
        .get(format!("{}/oot/{XPU}/tests?window=7d", query.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("/oot/{XPU}/tests/history?classname=test%2Ftest_ops.py%3A%3A");
    let link = href_starting(&failing, &prefix);
    let page = query
        .client
        .get(format!("{}{link}", query.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200, "{link}");
    let page = page.text().await.unwrap();
    assert!(page.contains(ODD) && page.contains(ODD_CLASS), "{link}");
    assert!(page.contains("✘ failed"));

    let api = link.replacen("/oot/", "/api/oot/", 1);
    let (status, _, view) = query.get(&api).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        (view["classname"].as_str(), view["name"].as_str()),
        (Some(ODD_CLASS), Some(ODD))
    );
    let slot = only_slot(&view);
    assert_eq!(slot["points"][0]["result"], "failed");
    assert_eq!(slot["points"][0]["pr"]["number"], 900_202);
    assert_eq!(
        slot["regression"]["finding"], "passing_on_nightly",
        "the nightlies did not list it and reported counts"
    );

    let direct = history(query, ODD_CLASS, ODD).await;
    assert_eq!(
        (&direct["name"], &direct["slots"]),
        (&view["name"], &view["slots"]),
        "%20 and + read alike"
    );

    // A test no job failed: an empty history, not an error.
    let unknown = history(query, CLASS, "test_never_failed").await;
    assert_eq!(unknown["slots"], serde_json::json!([]));

    for (ask, parameter) in [
        ("name=test_regressed", "classname"),
        ("classname=x", "name"),
        ("classname=x&name=", "name"),
        ("classname=x&name=y&window=2d", "window"),
    ] {
        let (status, _, body) = query
            .get(&format!("/api/oot/{XPU}/tests/history?{ask}"))
            .await;
        assert_eq!(status, 400, "{ask}: {body}");
        assert_eq!(body["error"], "invalid_parameter");
        assert_eq!(body["parameter"], parameter, "{ask}");
    }
    let page = query
        .client
        .get(format!("{}/oot/{XPU}/tests/history?name=t", query.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 400);
    assert!(page.text().await.unwrap().contains("Parameter classname"));
}

/// A second slot of the backend, for [`a_slot_with_more_jobs_than_its_strip_…`].
const OTHER_JOB: &str = "linux-xpu / test-2";

/// Two slots with more jobs than a strip shows (docs/contract.md §12.14): in the first, two
/// nightlies (the first passes `test_busy`, the second fails it), then 55 PR jobs of the last
/// day, the oldest ten failing it and one re-run; in the second, one PR job two days ago failing
/// it and 52 newer ones passing, so that its only failure is older than every job its strip
/// shows, and its strip older than the day the service reads first.
fn busy_story() -> Vec<Seen> {
    let mut story = vec![
        Seen {
            ago: 70 * HOUR,
            job: nightly('5', 301),
            failed: vec![(CLASS, "test_other")],
        },
        Seen {
            ago: 60 * HOUR,
            job: nightly('6', 302),
            failed: vec![(CLASS, "test_busy")],
        },
    ];
    for i in 0..55u64 {
        let failed = if i < 10 {
            vec![(CLASS, "test_busy")]
        } else {
            vec![(CLASS, "test_other")]
        };
        // Within the last day: the service finds this slot's strip in the span it reads first.
        let ago = 20 * HOUR - i64::try_from(i).unwrap() * 1_200;
        story.push(Seen {
            ago,
            job: pr(900_300 + i, 400 + i, 1),
            failed,
        });
        if i == 3 {
            story.push(Seen {
                ago: ago - 60,
                job: pr(900_300 + i, 400 + i, 2),
                failed: vec![(CLASS, "test_busy")],
            });
        }
    }
    for i in 0..53u64 {
        let mut job = pr(900_400 + i, 500 + i, 1);
        job.job_name = OTHER_JOB.to_owned();
        let failed = if i == 0 {
            vec![(CLASS, "test_busy")]
        } else {
            vec![]
        };
        let ago = 48 * HOUR - i64::try_from(i).unwrap() * 1_800;
        story.push(Seen { ago, job, failed });
    }
    story
}

/// What the history shows of a slot, to compare: its counts, range and strip.
fn shown(view: &oot_query::views::test_history::TestHistoryView) -> Value {
    let view = serde_json::to_value(view).unwrap();
    let slots: Vec<Value> = view["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| {
            let points: Vec<Value> = slot["points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    serde_json::json!([
                        p["job_key"],
                        p["result"],
                        p["latest_attempt"],
                        p["trigger"]
                    ])
                })
                .collect();
            serde_json::json!({
                "slot": [slot["workflow_name"], slot["job_name"]],
                "jobs_in_window": slot["jobs_in_window"],
                "failed_in_window": slot["failed_in_window"],
                "regression": slot["regression"],
                "points": points,
            })
        })
        .collect();
    Value::Array(slots)
}

/// The service reads a slot's newest jobs and its nightlies, and counts the rest: what it shows
/// is what the rules give over every job of the backend, a slot whose only failure is older
/// than its strip included.
#[tokio::test]
async fn a_slot_with_more_jobs_than_its_strip_shows_what_the_rules_give_over_every_job() {
    let seeded = seed(
        "historybusy",
        &busy_story(),
        |seen| seen.ago,
        |seen, at| callback(seen, at).to_string(),
    )
    .await;
    let stores = oot_e2e::query_stores(
        &seeded.stores.settings.clickhouse,
        &seeded.stores.settings.dynamo,
        std::time::Duration::from_secs(10),
    )
    .await;
    let backend = repo(XPU);
    let test = oot_triage::TestId {
        classname: CLASS.to_owned(),
        name: "test_busy".to_owned(),
    };
    let now = oot_query::clock::now();
    let window = oot_query::rules::Window::Week;
    let served = oot_query::api::test_history_at(
        &stores,
        oot_query::params::TestHistoryParams {
            repo: backend.clone(),
            test: test.clone(),
            window,
        },
        now,
    )
    .await
    .unwrap();

    let everything = oot_query::observations::Observations::of_window(
        stores
            .completed
            .failing_window_jobs(&backend, window.since(now))
            .await
            .unwrap(),
        stores
            .completed
            .failing_window_tests(&backend, window.since(now))
            .await
            .unwrap(),
    );
    assert_eq!(everything.results().len(), busy_story().len());
    let reference = oot_query::views::test_history::build(
        backend.as_str(),
        &test,
        window,
        now,
        everything.results(),
        &std::collections::HashMap::new(),
        &oot_query::views::test_history::SlotCounts::of_all(everything.results(), &test),
    );
    assert_eq!(shown(&served), shown(&reference));

    let slots = served.slots;
    assert_eq!(slots.len(), 2, "both slots failed it");
    let busy = &slots[0];
    assert_eq!(busy.job_name, JOB);
    assert_eq!((busy.jobs_in_window, busy.failed_in_window), (58, 12));
    assert_eq!(
        busy.points.len(),
        oot_query::views::test_history::STRIP_JOBS
    );
    assert_eq!(
        busy.regression.first_fail.as_deref(),
        Some(sha('6').as_str()),
        "the range is over the nightlies, older than the strip"
    );
    assert_eq!(
        busy.regression.last_pass.as_deref(),
        Some(sha('5').as_str())
    );
    let quiet = &slots[1];
    assert_eq!(quiet.job_name, OTHER_JOB);
    assert_eq!((quiet.jobs_in_window, quiet.failed_in_window), (53, 1));
    assert!(
        quiet
            .points
            .iter()
            .all(|p| p.result != oot_triage::TestResult::Failed),
        "its failure is older than the jobs shown"
    );
}
