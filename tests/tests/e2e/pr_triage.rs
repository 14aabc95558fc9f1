//! "Is it mine?" on the PR view (issue 11, docs/contract.md §12.8, §12.15) against the real
//! stack: callbacks go in through ingest (its clock moved back so each job is first seen at its
//! hour), the projector writes the jobs and their failed-test rows, and the query service answers
//! `/api/oot/pr/{number}` and `/pr/{number}`.
//!
//! One slot (`xpu-ci / linux-xpu / test`) of `intel/torch-xpu-ops`, every job reporting counts
//! its failed list covers:
//!
//! | first seen | job | failed tests |
//! |---|---|---|
//! | 30 h ago | nightly (commit 1…) | `test_known` |
//! | 20 h ago | PR 900302 | `test_elsewhere` |
//! | 10 h ago | PR 900301 (the PR judged) | `test_mine`, `test_known`, `test_elsewhere` |
//! | 5 h ago | PR 900303 | none |
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
const MINE: u64 = 900_301;
const OTHER: u64 = 900_302;
const GREEN: u64 = 900_303;

struct Seen {
    ago: i64,
    job: Job,
    failed: Vec<&'static str>,
}

fn job(trigger: Trigger, delivery: &str, run: u64) -> Job {
    Job {
        repo: repo(XPU),
        level: RepoLevel::L2,
        trigger,
        delivery_id: delivery.to_owned(),
        workflow: WORKFLOW.to_owned(),
        job_name: JOB.to_owned(),
        run_id: run,
        run_attempt: 1,
        check_run_id: run * 10,
    }
}

fn story() -> Vec<Seen> {
    let nightly = Trigger::Nightly {
        upstream: repo("pytorch/pytorch"),
        head_sha: "1".repeat(40),
    };
    let seen = |ago, job, failed: &[&'static str]| Seen {
        ago,
        job,
        failed: failed.to_vec(),
    };
    vec![
        seen(30 * HOUR, job(nightly, "nightly-1", 101), &["test_known"]),
        seen(
            20 * HOUR,
            job(upstream_pr(OTHER), "d-302", 302),
            &["test_elsewhere"],
        ),
        seen(
            10 * HOUR,
            job(upstream_pr(MINE), "d-301", 301),
            &["test_mine", "test_known", "test_elsewhere"],
        ),
        seen(5 * HOUR, job(upstream_pr(GREEN), "d-303", 303), &[]),
    ]
}

/// The completed callback of `seen`, at ingest's time `at`.
fn callback(seen: &Seen, at: time::OffsetDateTime) -> Value {
    let failed: Vec<(&str, &str)> = seen.failed.iter().map(|name| (CLASS, *name)).collect();
    completed_listing(&seen.job, None, &failed, at)
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

async fn pr_view(query: &TestQuery, number: u64, params: &str) -> Value {
    let path = format!("/api/oot/pr/{number}{params}");
    let (status, _, body) = query.get(&path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn only_backend(view: &Value) -> &Value {
    let backends = view["backends"].as_array().unwrap();
    assert_eq!(backends.len(), 1, "{view}");
    assert_eq!(backends[0]["downstream_repo"], XPU);
    &backends[0]
}

fn verdicts(triage: &Value) -> Vec<(String, String, u64)> {
    triage["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["test"]["classname"], CLASS);
            assert_eq!(t["slot"]["job_name"], JOB);
            (
                t["test"]["name"].as_str().unwrap().to_owned(),
                t["verdict"].as_str().unwrap().to_owned(),
                t["count"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[tokio::test]
async fn each_failing_test_of_a_pr_is_marked_new_known_or_seen_on_other_prs() {
    let seeded = seeded("prtriage").await;
    let query = &seeded.query;
    let view = pr_view(query, MINE, "").await;
    // The jobs view's fields are as they were.
    assert_eq!(view["headline"], "0/1 passed, 1 failed");
    assert_eq!(view["window"], Value::Null);
    let backend = only_backend(&view);
    assert_eq!(backend["headline"], "0/1 passed, 1 failed");
    assert_eq!(backend["jobs"].as_array().unwrap().len(), 1);

    let triage = &backend["triage"];
    let expected = [
        ("test_mine", "new_on_this_pr", 0),
        ("test_elsewhere", "seen_on_other_prs", 1),
        ("test_known", "known_on_nightly", 0),
    ]
    .map(|(n, v, c)| (n.to_owned(), v.to_owned(), c));
    assert_eq!(verdicts(triage), expected, "{triage}");
    let headline = "1 new on this PR, 1 known on nightly, 1 seen on other PRs";
    assert_eq!(triage["headline"], headline);
    assert_eq!(
        triage["counts"],
        serde_json::json!({"new_on_this_pr": 1, "seen_on_other_prs": 1, "known_on_nightly": 1})
    );
    assert_eq!(triage["tests_not_triaged"], 0);
    let known = &triage["tests"][2];
    assert_eq!(known["baseline"]["upstream_sha"], "1".repeat(40), "{known}");
    assert_eq!(known["job"]["run_id"], "301");

    let summary = &view["triage"];
    assert_eq!(summary["other_prs_window"], "7d");
    assert_eq!(summary["tests_asked_per_backend"], 200);
    assert_eq!(summary["headline"], headline);

    // The other PR is 20 hours old: still seen in a day's window, which the JSON names.
    let narrow = pr_view(query, MINE, "?other_prs_window=24h").await;
    assert_eq!(narrow["triage"]["other_prs_window"], "24h");
    assert_eq!(
        only_backend(&narrow)["triage"]["counts"]["seen_on_other_prs"],
        1
    );

    // A PR whose jobs passed: an empty triage.
    let green = pr_view(query, GREEN, "").await;
    let triage = &only_backend(&green)["triage"];
    assert_eq!(triage["tests"], serde_json::json!([]));
    assert_eq!(triage["headline"], "no failing tests");
    assert_eq!(green["triage"]["headline"], "no failing tests");

    // A bad window is named.
    let (status, _, body) = query
        .get(&format!("/api/oot/pr/{MINE}?other_prs_window=2d"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("other_prs_window"), "{body}");

    // The page says each verdict in words.
    let page = query
        .client
        .get(format!("{}/pr/{MINE}", query.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for words in [
        headline,
        "new on this PR",
        "known: also failing on nightly",
        "seen failing on 1 other PR (upstream or flaky)",
        "test_mine",
        "(other PRs: last 7d)",
    ] {
        assert!(page.contains(words), "{words:?} not on the page");
    }
}
