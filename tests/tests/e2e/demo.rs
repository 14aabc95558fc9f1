//! The demo data (`oot-demo`) through the whole pipeline: every callback it
//! sends is accepted, and the pages it is meant to populate show what a new user should see.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::time::Duration;

use oot_e2e::{
    eventually, ingest_config, projector_config, query_config, TestIngest, TestProjector,
    TestQuery, TestStores, TEST_TOKENS,
};
use serde_json::Value;

fn json(view: &impl serde::Serialize) -> Value {
    serde_json::to_value(view).unwrap()
}

async fn get_ok(query: &TestQuery, path: &str) -> Value {
    let (status, _, body) = query.get(path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The jobs of every backend in a PR view.
fn pr_jobs(view: &Value) -> Vec<&Value> {
    view["backends"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|backend| backend["jobs"].as_array().into_iter().flatten())
        .collect()
}

#[tokio::test]
async fn demo_data_populates_every_view() {
    let stores = TestStores::unique("demo");
    let ingest = TestIngest::spawn(ingest_config(&stores.settings))
        .await
        .unwrap();
    let projector = TestProjector::spawn(projector_config(&stores.settings))
        .await
        .unwrap();

    let report = oot_demo::send_demo(&ingest.base_url, TEST_TOKENS[0], 42)
        .await
        .unwrap();
    assert!(report.refused.is_empty(), "refused: {:?}", report.refused);
    assert_eq!(report.accepted, report.sent);
    assert!(report.sent > 200, "only {} callbacks", report.sent);

    eventually(
        Duration::from_secs(90),
        "the projector projects every demo event",
        || async { projector.metrics.events.get() >= report.accepted as u64 },
    )
    .await
    .unwrap();
    let query = TestQuery::spawn(query_config(&stores.settings))
        .await
        .unwrap();

    // Every demo backend is on the summary, with a real pass rate (not an empty 100%).
    let summary = get_ok(&query, "/api/oot/summary?window=24h").await;
    let repos = summary["repos"].as_array().unwrap();
    for backend in &report.backends {
        let row = repos
            .iter()
            .find(|r| r["downstream_repo"] == backend.as_str())
            .unwrap_or_else(|| panic!("{backend} not on the summary: {summary}"));
        assert!(
            row["pass_rate"]["denominator"].as_u64().unwrap() > 0,
            "{row}"
        );
        assert!(row["level"].is_string(), "{row}");
    }
    assert!(
        repos.iter().any(|r| r["failures"].as_u64() > Some(0)),
        "no failures anywhere: {summary}"
    );

    // A PR with a job left running shows it as running.
    let running_pr = report.pr_with_running_job.unwrap();
    let view = get_ok(&query, &format!("/api/oot/pr/{running_pr}")).await;
    assert!(
        pr_jobs(&view).iter().any(|job| job["state"] == "running"),
        "no running job on PR {running_pr}: {view}"
    );

    // A re-run shows its second attempt.
    let rerun_pr = report.pr_with_rerun.unwrap();
    let view = get_ok(&query, &format!("/api/oot/pr/{rerun_pr}")).await;
    assert!(
        pr_jobs(&view).iter().any(|job| job["run_attempt"] == 2),
        "no attempt 2 on PR {rerun_pr}: {view}"
    );

    // A backend page lists PRs, and its failure drill-down names failed tests.
    let backend = get_ok(&query, "/api/oot/intel/torch-xpu-ops?window=7d").await;
    assert!(!backend["rows"].as_array().unwrap().is_empty(), "{backend}");
    let failures = backend["failures"].as_array().unwrap();
    assert!(
        failures.iter().any(|f| f["failed_tests"]
            .as_array()
            .is_some_and(|tests| !tests.is_empty())),
        "no failed tests on the backend page: {backend}"
    );

    // The triage story shows each test state on one backend (contract §12): new, known,
    // fixed, and flaky.
    let tests = get_ok(
        &query,
        &format!(
            "/api/oot/{}/tests?window=30d",
            oot_demo::story::TRIAGE_BACKEND
        ),
    )
    .await;
    let test_line = |name: &str| {
        tests["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name && t["classname"] == oot_demo::story::TRIAGE_CLASS)
            .unwrap_or_else(|| panic!("no {name} in {tests}"))
            .clone()
    };
    use oot_demo::story::{TEST_FIXED, TEST_FLAKY, TEST_KNOWN, TEST_NEW, TEST_REGRESSION};
    for (name, status, flaky) in [
        (TEST_NEW, "new", false),
        (TEST_KNOWN, "known", false),
        (TEST_FIXED, "fixed", false),
        (TEST_FLAKY, "new", true),
        (TEST_REGRESSION, "new", false),
    ] {
        let line = test_line(name);
        assert_eq!(line["status"], status, "{line}");
        assert_eq!(line["flaky"], flaky, "{line}");
    }

    // And a regression range on the nightly series: passed on nightly 1, failing from 2 on.
    let history = get_ok(
        &query,
        &format!(
            "/api/oot/{}/tests/history?classname={}&name={TEST_REGRESSION}&window=30d",
            oot_demo::story::TRIAGE_BACKEND,
            oot_demo::story::TRIAGE_CLASS
        ),
    )
    .await;
    let regression = &history["slots"][0]["regression"];
    assert_eq!(regression["finding"], "found", "{history}");
    assert!(regression["compare_url"].is_string(), "{history}");

    // The views' figures are the same read from the rollups as counted from every job (the
    // read path before the rollups, kept as the baseline), in every window.
    let summaries = oot_e2e::rollups_match_baseline(&stores.settings)
        .await
        .unwrap();
    assert!(summaries.iter().all(|s| !s.repos.is_empty()));
    // So are the backend views and the PR views, read from the tables ordered for them.
    let read = oot_e2e::query_stores(
        &stores.settings.clickhouse,
        &stores.settings.dynamo,
        Duration::from_secs(10),
    )
    .await;
    let now = oot_query::clock::now();
    for backend in &report.backends {
        for window in oot_query::rules::Window::ALL {
            for page in [1, 2] {
                let params = || oot_query::params::BackendParams {
                    repo: oot_contract::RepoName::parse(backend).unwrap(),
                    window,
                    page: oot_query::params::PageRequest { page, per_page: 10 },
                };
                let served = oot_query::api::backend_at(&read, params(), now)
                    .await
                    .unwrap();
                let baseline = oot_query::api::baseline_backend(&read, params(), now)
                    .await
                    .unwrap();
                assert_eq!(
                    json(&served),
                    json(&baseline),
                    "{backend} {window:?} page {page}"
                );
            }
        }
    }
    for number in &report.pr_numbers {
        for window in [None, Some(oot_query::rules::Window::Day)] {
            let params = || oot_query::params::PrParams {
                pr: oot_contract::UpstreamPr::new(
                    oot_contract::RepoName::parse("pytorch/pytorch").unwrap(),
                    oot_contract::PrNumber::new(*number).unwrap(),
                ),
                window,
            };
            let served = oot_query::api::pr_at(&read, params(), now).await.unwrap();
            let baseline = oot_query::api::baseline_pr(&read, params(), now)
                .await
                .unwrap();
            assert_eq!(json(&served), json(&baseline), "PR {number} {window:?}");
        }
    }
    drop(ingest);
}

/// The demo's readiness history (`oot_demo::readiness`), written to the event topic as
/// `oot-demo` writes it: the scorecard finds one backend eligible for L3, one meeting the
/// demotion rule on two gates, and one that runs only nightly and is not at L2 long enough.
#[tokio::test]
async fn demo_history_gives_the_scorecard_each_case() {
    use oot_demo::readiness::{NIGHTLY_ONLY, READY, SLOW};
    let stores = TestStores::unique("demohist");
    let projector = TestProjector::spawn(projector_config(&stores.settings))
        .await
        .unwrap();
    let events =
        oot_demo::readiness::history_events(42, 7, time::OffsetDateTime::now_utc()).unwrap();
    let written = oot_demo::load::publish(&stores.settings.kafka, &events)
        .await
        .unwrap();
    assert_eq!(written, events.len() as u64);
    eventually(
        Duration::from_secs(90),
        "the projector projects the history",
        || async { projector.metrics.events.get() >= written },
    )
    .await
    .unwrap();
    let query = TestQuery::spawn(query_config(&stores.settings))
        .await
        .unwrap();

    let ready = get_ok(&query, &format!("/api/oot/{READY}/scorecard")).await;
    assert_eq!(ready["promotion"]["verdict"], "eligible", "{ready}");
    assert_eq!(ready["level"]["level"], "L2");
    assert!(
        ready["level"]["days"].as_u64().unwrap() >= 44,
        "{}",
        ready["level"]
    );

    let slow = get_ok(&query, &format!("/api/oot/{SLOW}/scorecard")).await;
    assert_eq!(slow["demotion"]["verdict"], "demote", "{slow}");
    assert_eq!(
        slow["demotion"]["failed"],
        serde_json::json!(["e2e_p50", "overrun_rate"]),
        "{slow}"
    );

    let nightly = get_ok(&query, &format!("/api/oot/{NIGHTLY_ONLY}/scorecard")).await;
    assert_eq!(nightly["promotion"]["verdict"], "not_eligible", "{nightly}");
    assert_eq!(
        nightly["promotion"]["failed"],
        serde_json::json!(["days_at_l2"]),
        "{nightly}"
    );
    let backend = get_ok(&query, &format!("/api/oot/{NIGHTLY_ONLY}?window=30d")).await;
    let kinds: Vec<&str> = backend["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["target"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        !kinds.is_empty() && kinds.iter().all(|k| *k == "nightly"),
        "{kinds:?}"
    );
}
