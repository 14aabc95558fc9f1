//! A backend's failing tests (issue 11, docs/contract.md §12.10, §12.13) against the real
//! stack: callbacks go in through ingest (its clock moved back so that some jobs are first seen
//! before the window), the projector writes the jobs and their failed-test rows, and the query
//! service answers `/api/oot/{org}/{repo}/tests` and its page.
//!
//! One slot (`xpu-ci / linux-xpu / test`) of `intel/torch-xpu-ops`, over the last three days
//! (the window is 24 h):
//!
//! | first seen | job | failed tests |
//! |---|---|---|
//! | 3 days ago | nightly N1 | `test_new` (older than the baseline: changes nothing) |
//! | 30 h ago (before the window) | nightly N2 | `test_known`, `test_fixed` |
//! | 5 h ago | PR 900101 | `test_known`, `test_fixed`, `test_new` |
//! | 4 h ago | PR 900102, attempt 1 | `test_flaky` |
//! | 4 h ago + 1 s | PR 900102, attempt 2 (same commit) | none: passed |
//! | 3 h ago | nightly N3 | `test_known` |
//! | 2 h ago | PR 900103 | `test_flaky` |
//!
//! So `test_new` is new (N2, its baseline, passed it), `test_known` known (N2 failed it),
//! `test_fixed` fixed (N2 failed it, N3 passes it), and `test_flaky` new and flaky (attempt 1
//! failed it and attempt 2 passed it on one commit; PR 900103 keeps it failing).
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::time::Duration;

use oot_contract::{Conclusion, RepoLevel};
use oot_e2e::callbacks::{repo, upstream_pr, Job, Trigger};
use oot_e2e::story::{completed_listing, seed, Seeded};
use oot_e2e::{query_config, query_stores, TestQuery, TestStores};
use oot_query::api;
use oot_query::observations::Observations;
use oot_query::rules::Window;
use oot_query::views::failing_tests::FailingTestsAnswer;
use serde_json::Value;

const XPU: &str = "intel/torch-xpu-ops";
const WORKFLOW: &str = "xpu-ci";
const JOB: &str = "linux-xpu / test";
const CLASS: &str = "test.test_ops.TestOps";
const HOUR: i64 = 3_600;

/// One completed job of the slot, first seen `ago` seconds before now.
struct Seen {
    ago: i64,
    job: Job,
    conclusion: Conclusion,
    failed: &'static [&'static str],
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

fn nightly(sha: char, run: u64) -> Job {
    let sha: String = std::iter::repeat_n(sha, 40).collect();
    let trigger = Trigger::Nightly {
        upstream: repo("pytorch/pytorch"),
        head_sha: sha.clone(),
    };
    job(trigger, &format!("nightly-{sha}"), run, 1, run + 10_000)
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
    let seen = |ago, job, failed: &'static [&'static str]| Seen {
        ago,
        job,
        conclusion: if failed.is_empty() {
            Conclusion::Success
        } else {
            Conclusion::Failure
        },
        failed,
    };
    vec![
        seen(72 * HOUR, nightly('1', 101), &["test_new"]),
        seen(30 * HOUR, nightly('2', 102), &["test_known", "test_fixed"]),
        seen(
            5 * HOUR,
            pr(900_101, 201, 1),
            &["test_known", "test_fixed", "test_new"],
        ),
        seen(4 * HOUR, pr(900_102, 202, 1), &["test_flaky"]),
        seen(4 * HOUR - 1, pr(900_102, 202, 2), &[]),
        seen(3 * HOUR, nightly('3', 103), &["test_known"]),
        seen(2 * HOUR, pr(900_103, 203, 1), &["test_flaky"]),
    ]
}

/// The completed callback of `seen`, at ingest's time `at`.
fn callback(seen: &Seen, at: time::OffsetDateTime) -> Value {
    let failed: Vec<(&str, &str)> = seen.failed.iter().map(|name| (CLASS, *name)).collect();
    completed_listing(&seen.job, Some(seen.conclusion), &failed, at)
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

fn key_of(job: &Job) -> String {
    job.key().unwrap().to_string()
}

fn line<'a>(view: &'a Value, name: &str) -> &'a Value {
    view["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {view}"))
}

fn prs(line: &Value) -> Vec<u64> {
    line["prs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn new_known_fixed_and_flaky_tests_are_told_apart_against_the_nightly_before_the_window() {
    let seeded = seeded("failing").await;
    let (status, _, view) = seeded
        .query
        .get(&format!("/api/oot/{XPU}/tests?window=24h"))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["downstream_repo"], XPU);
    assert_eq!(view["window"], "24h");
    let order: Vec<(&str, &str)> = view["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        order,
        [
            ("test_flaky", "new"),
            ("test_new", "new"),
            ("test_known", "known"),
            ("test_fixed", "fixed"),
        ],
        "new first, then known, then fixed; by name within a status"
    );
    assert_eq!(
        view["headline"],
        serde_json::json!({"failing": 4, "new": 2, "known": 1, "fixed": 1, "flaky": 1})
    );

    let n2 = key_of(&nightly('2', 102));
    let n3 = key_of(&nightly('3', 103));
    for name in ["test_new", "test_known", "test_fixed"] {
        let line = line(&view, name);
        assert_eq!(
            line["baseline"]["job_key"], n2,
            "{name}: the last nightly before the window, not N1 nor N3"
        );
        assert_eq!(line["baseline"]["upstream_sha"], "2".repeat(40));
        assert_eq!(line["flaky"], false, "{name}");
        assert_eq!(
            (line["classname"].as_str(), line["job_name"].as_str()),
            (Some(CLASS), Some(JOB))
        );
        assert_eq!(line["workflow_name"], WORKFLOW);
    }
    let new = line(&view, "test_new");
    // The window's runs of the slot: PR runs 201, 202 and 203, and nightly N3.
    assert_eq!(
        (new["runs_failed"].as_u64(), new["runs_of_job"].as_u64()),
        (Some(1), Some(4))
    );
    assert_eq!(
        (new["prs_hit"].as_u64(), prs(new)),
        (Some(1), vec![900_101])
    );
    assert_eq!(new["prs"][0]["upstream_repo"], "pytorch/pytorch");
    assert_eq!(new["first_failure_at"], new["last_failure_at"]);

    let known = line(&view, "test_known");
    assert_eq!(
        (known["runs_failed"].as_u64(), known["prs_hit"].as_u64()),
        (Some(2), Some(1))
    );
    assert_ne!(
        known["first_failure_at"], known["last_failure_at"],
        "PR 900101, then N3"
    );
    assert_eq!(
        known["flip"]["known_results"], 1,
        "N3 is the window's one nightly"
    );

    let fixed = line(&view, "test_fixed");
    assert_eq!(fixed["runs_failed"], 1);

    let flaky = line(&view, "test_flaky");
    assert_eq!(flaky["flaky"], true);
    assert_eq!(
        flaky["runs_failed"], 1,
        "run 202's failure was re-run away; run 203 failed it"
    );
    assert_eq!(prs(flaky), [900_103]);
    assert_eq!(
        flaky["baseline"]["job_key"], n3,
        "N3 is the last nightly before its first failure"
    );

    // The page says the same, in words.
    let response = seeded
        .query
        .client
        .get(format!(
            "{}/oot/{XPU}/tests?window=24h",
            seeded.query.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.unwrap();
    for text in [
        "✘ new",
        "◆ known",
        "✔ fixed",
        "↯ flaky",
        "test_flaky",
        "/pr/900103?",
    ] {
        assert!(page.contains(text), "{text} not on the page");
    }
    assert!(page.find("test_flaky").unwrap() < page.find("test_fixed").unwrap());

    // A maintainer narrows the list: one status, the flaky ones, a page at a time; the
    // headline still counts every row.
    let (status, _, new_only) = seeded
        .query
        .get(&format!("/api/oot/{XPU}/tests?window=24h&status=new"))
        .await;
    assert_eq!(status, 200, "{new_only}");
    assert_eq!(names_listed(&new_only), ["test_flaky", "test_new"]);
    assert_eq!(new_only["matching"], 2);
    assert_eq!(new_only["headline"], view["headline"]);
    assert_eq!(
        new_only["page"],
        Value::Null,
        "every row unless a page is asked for"
    );
    let (_, _, flaky_only) = seeded
        .query
        .get(&format!("/api/oot/{XPU}/tests?window=24h&flaky=true"))
        .await;
    assert_eq!(names_listed(&flaky_only), ["test_flaky"]);
    let (_, _, second) = seeded
        .query
        .get(&format!(
            "/api/oot/{XPU}/tests?window=24h&page=2&per_page=3"
        ))
        .await;
    assert_eq!(
        names_listed(&second),
        ["test_fixed"],
        "the rows after the first three"
    );
    assert_eq!(second["matching"], 4);
    assert_eq!(second["page"]["has_more"], false);
    let (status, _, body) = seeded
        .query
        .get(&format!("/api/oot/{XPU}/tests?status=flaky"))
        .await;
    assert_eq!((status, body["parameter"].as_str()), (400, Some("status")));
    let (status, csv) = seeded
        .query
        .get_text(&format!(
            "/api/oot/{XPU}/tests?window=24h&status=known&format=csv"
        ))
        .await;
    assert_eq!(status, 200, "{csv}");
    assert_eq!(csv.lines().count(), 2, "the header and test_known: {csv}");
    assert!(csv.contains("test_known"));
    let (status, paged) = seeded
        .query
        .get_text(&format!("/oot/{XPU}/tests?window=24h&per_page=2"))
        .await;
    assert_eq!(status, 200, "{paged}");
    assert!(paged.contains("Rows 1–2 of 4"), "{paged}");
    assert!(paged.contains(r#"rel="next""#));
    assert!(!paged.contains("test_fixed"), "on the second page");
}

/// The names of the failing tests a view lists.
fn names_listed(view: &Value) -> Vec<String> {
    view["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// A service that keeps the failing tests' answers (docs/contract.md §12.13 "Kept answers")
/// serves the one it computed, stating when, until it is due for a refresh; a request then
/// starts one behind it, and the new failure shows. A service keeping none shows it at once.
#[tokio::test]
async fn a_kept_answer_is_served_until_a_refresh_behind_the_requests_replaces_it() {
    let seeded = seeded("failingkept").await;
    let mut config = query_config(&seeded.stores.settings);
    config.failing_tests_fresh_for_s = 3;
    let keeping = TestQuery::spawn(config).await.unwrap();
    let path = format!("/api/oot/{XPU}/tests?window=24h");
    let (status, _, first) = keeping.get(&path).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(names_listed(&first).len(), 4, "{first}");

    // A new failure, projected after the answer was computed.
    let late = Seen {
        ago: 0,
        job: pr(900_104, 204, 1),
        conclusion: Conclusion::Failure,
        failed: &["test_late"],
    };
    let response = seeded
        .ingest
        .post_callback(callback(&late, time::OffsetDateTime::now_utc()).to_string())
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let projected = story().len() as u64 + 1;
    oot_e2e::eventually(Duration::from_secs(60), "the new job projected", || async {
        seeded.projector.metrics.events.get() >= projected
    })
    .await
    .unwrap();
    let (_, _, per_request) = seeded.query.get(&path).await;
    assert!(
        names_listed(&per_request).contains(&"test_late".to_owned()),
        "a service keeping no answer shows it at once: {per_request}"
    );

    // The kept answer, fresh or due for a refresh: the one computed before, with its time.
    let (status, _, kept) = keeping.get(&path).await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["generated_at"], first["generated_at"]);
    assert_eq!(kept["tests"], first["tests"]);
    assert!(kept["age_seconds"].as_u64().is_some(), "{kept}");
    assert!(
        kept["age_seconds"].as_u64() >= first["age_seconds"].as_u64(),
        "the same answer, older: {kept}"
    );

    // Once due, a request starts a refresh and a later one gets it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let refreshed = loop {
        let (_, _, view) = keeping.get(&path).await;
        if names_listed(&view).contains(&"test_late".to_owned()) {
            break view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not refreshed within 30 s: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(refreshed["generated_at"], first["generated_at"]);
    assert_eq!(refreshed["headline"]["failing"], 5, "{refreshed}");
}

/// What the service reads (the window and the slots' last nightly before it, by key) gives the
/// rules' answer on the backend's whole history, in every window.
#[tokio::test]
async fn the_read_gives_the_rules_answer_on_every_job_of_the_backend() {
    let seeded = seeded("failingall").await;
    let stores = query_stores(
        &seeded.stores.settings.clickhouse,
        &seeded.stores.settings.dynamo,
        Duration::from_secs(10),
    )
    .await;
    let repo = oot_e2e::callbacks::repo(XPU);
    let now = oot_query::clock::now();
    let everything = Observations::of_window(
        stores
            .completed
            .failing_window_jobs(&repo, 0)
            .await
            .unwrap(),
        stores
            .completed
            .failing_window_tests(&repo, 0)
            .await
            .unwrap(),
    );
    assert_eq!(everything.results().len(), story().len());
    for window in Window::ALL {
        let since = window.since(now);
        let served = api::failing_tests_at(&stores, &repo, window, now)
            .await
            .unwrap();
        let rows = oot_triage::failing_tests(everything.results(), since);
        let reference = FailingTestsAnswer::new(
            since,
            now,
            since - oot_query::baselines::LOOKBACK,
            rows,
            |n| everything.upstream_of_pr(n).map(str::to_owned),
        );
        assert_eq!(served, reference, "window {}", window.as_str());
    }
}

#[tokio::test]
async fn a_bad_window_is_refused_by_name_and_an_unknown_backend_has_no_failing_tests() {
    let stores = TestStores::unique("failingbad");
    let query = TestQuery::spawn(query_config(&stores.settings))
        .await
        .unwrap();
    let (status, _, body) = query.get(&format!("/api/oot/{XPU}/tests?window=2d")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_parameter");
    assert_eq!(body["parameter"], "window");
    let (status, _, body) = query.get("/api/oot/-bad/x/tests").await;
    assert_eq!((status, body["parameter"].as_str()), (400, Some("repo")));

    let (status, _, body) = query.get("/api/oot/nobody/nothing/tests").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tests"], serde_json::json!([]));
    assert_eq!(body["headline"]["failing"], 0);
    assert_eq!(body["window"], "7d", "the default window");

    let page = query
        .client
        .get(format!("{}/oot/{XPU}/tests?window=2d", query.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 400);
    assert!(page.text().await.unwrap().contains("Parameter window"));
}
