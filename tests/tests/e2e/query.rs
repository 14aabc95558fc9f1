//! The query service's views against the real stack: callbacks go in through ingest and the
//! projector, the views come out of the query service's JSON endpoints.
//!
//! The seeded data (each test seeds its own tables), all in upstream `pytorch/pytorch`:
//!
//! | backend                | PR 900001                                   | PR 900002          | nightly | PR 900003 |
//! |------------------------|---------------------------------------------|--------------------|---------|-----------|
//! | intel/torch-xpu-ops L2 | build ok; test-1 failed, re-run (attempt 2) ok; test-2 failed (2 tests) | build ok; test-1 running | ok | build ok |
//! | ascend/pytorch L3      | test ok; lint running                       | test cancelled     |         | test ok   |
//! | riscv/board-farm L4    | test timed out                              |                    |         | test ok   |
//!
//! plus `old/backend`, whose only job completed ten days ago (written straight into ClickHouse:
//! ingest stamps `first_seen_at` with its own clock, so it cannot make an old job).
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::time::Duration;

use oot_contract::{Conclusion, RepoLevel};
use oot_e2e::callbacks::{ago, repo, sample, upstream_pr, Callback, Job};
use oot_e2e::{aged_callback, query_config, seed_views, SeededViews, TestQuery, TestStores};
use serde_json::{json, Value};

const XPU: &str = "intel/torch-xpu-ops";
const ASCEND: &str = "ascend/pytorch";
const RISCV: &str = "riscv/board-farm";
const OLD: &str = "old/backend";

const PR1: u64 = 900_001;
const PR2: u64 = 900_002;
const PR3: u64 = 900_003;

/// One downstream job attempt.
#[derive(Clone, Copy)]
struct Spec {
    repo: &'static str,
    level: RepoLevel,
    /// `None`: a nightly.
    pr: Option<u64>,
    workflow: &'static str,
    job: &'static str,
    run: u64,
    attempt: u32,
    check_run: u64,
}

impl Spec {
    fn job(&self) -> Job {
        Job {
            repo: repo(self.repo),
            level: self.level,
            trigger: match self.pr {
                Some(pr) => upstream_pr(pr),
                None => sample::nightly_job().trigger,
            },
            // A re-run keeps the run and so the upstream delivery that triggered it.
            delivery_id: format!("d-{}", self.run),
            workflow: self.workflow.to_owned(),
            job_name: self.job.to_owned(),
            run_id: self.run,
            run_attempt: self.attempt,
            check_run_id: self.check_run,
        }
    }

    fn key(&self) -> String {
        self.job().key().unwrap().to_string()
    }

    /// The sample's environment and an artifact of this check run, on either callback.
    fn reported(&self, callback: Callback) -> Value {
        callback
            .with_environment(sample::environment())
            .with_artifact_url(self.job().artifact_url(self.check_run))
            .to_json()
    }

    fn in_progress(&self, queue_time: f64) -> Value {
        self.reported(self.job().in_progress(ago(7200), queue_time))
    }

    fn completed(&self, conclusion: Conclusion, execution_time: f64) -> Value {
        let callback = self
            .job()
            .completed(conclusion, ago(3600), Some(execution_time));
        self.reported(match conclusion {
            // The sample's two failed tests and counts.
            Conclusion::Failure => callback.with_tests(
                sample::completed().test_results.unwrap(),
                sample::failed_tests(),
            ),
            Conclusion::Success => Callback {
                test_results: Some(sample::all_passed(10)),
                ..callback
            },
            _ => callback,
        })
    }
}

fn xpu(pr: Option<u64>, job: &'static str, run: u64, attempt: u32, check_run: u64) -> Spec {
    Spec {
        repo: XPU,
        level: RepoLevel::L2,
        pr,
        workflow: if pr.is_some() {
            "xpu-ci"
        } else {
            "xpu-nightly"
        },
        job,
        run,
        attempt,
        check_run,
    }
}

fn ascend(pr: u64, job: &'static str, run: u64, check_run: u64) -> Spec {
    Spec {
        repo: ASCEND,
        level: RepoLevel::L3,
        pr: Some(pr),
        workflow: "npu-ci",
        job,
        run,
        attempt: 1,
        check_run,
    }
}

fn riscv(pr: u64, run: u64, check_run: u64) -> Spec {
    Spec {
        repo: RISCV,
        level: RepoLevel::L4,
        pr: Some(pr),
        workflow: "rv-ci",
        job: "test",
        run,
        attempt: 1,
        check_run,
    }
}

/// The re-run job of PR 900001: attempt 1 failed, attempt 2 (its own check run) passed.
const XPU_TEST1_ATTEMPT1: u64 = 11;
const XPU_TEST1_ATTEMPT2: u64 = 12;

/// The callbacks of the seeded data, in groups whose jobs ingest must see in distinct seconds
/// (the matrix's rows are ordered by when their jobs were first seen, stored in seconds).
fn seed_groups() -> Vec<Vec<Value>> {
    let pr1 = Some(PR1);
    let pr2 = Some(PR2);
    let test1 = "linux-xpu / test (default, 1, 2)";
    let test2 = "linux-xpu / test (default, 2, 2)";
    vec![
        vec![
            xpu(pr1, "linux-xpu / build", 5001, 1, 10).in_progress(10.0),
            xpu(pr1, "linux-xpu / build", 5001, 1, 10).completed(Conclusion::Success, 100.0),
            xpu(pr1, test1, 5001, 1, XPU_TEST1_ATTEMPT1).completed(Conclusion::Failure, 50.0),
            xpu(pr1, test1, 5001, 2, XPU_TEST1_ATTEMPT2).completed(Conclusion::Success, 200.0),
            xpu(pr1, test2, 5001, 1, 13).in_progress(20.0),
            xpu(pr1, test2, 5001, 1, 13).completed(Conclusion::Failure, 300.0),
            ascend(PR1, "test", 7001, 70).completed(Conclusion::Success, 1000.0),
            ascend(PR1, "lint", 7001, 71).in_progress(5.0),
            riscv(PR1, 8001, 80).completed(Conclusion::TimedOut, 0.0),
        ],
        vec![
            xpu(pr2, "linux-xpu / build", 5002, 1, 20).completed(Conclusion::Success, 100.0),
            xpu(pr2, test1, 5002, 1, 21).in_progress(30.0),
            ascend(PR2, "test", 7002, 72).completed(Conclusion::Cancelled, 10.0),
        ],
        vec![xpu(None, "linux-xpu / nightly (full)", 5999, 1, 99)
            .completed(Conclusion::Success, 400.0)],
        vec![
            xpu(Some(PR3), "linux-xpu / build", 5003, 1, 30).completed(Conclusion::Success, 100.0),
            ascend(PR3, "test", 7003, 73).completed(Conclusion::Success, 1000.0),
            ascend(PR3, "lint", 7003, 74).in_progress(5.0),
            riscv(PR3, 8003, 81).completed(Conclusion::Success, 2000.0),
        ],
    ]
}

async fn seeded() -> SeededViews {
    seed_views("query", &seed_groups(), &[aged_callback(OLD)])
        .await
        .unwrap()
}

async fn get_ok(query: &TestQuery, path: &str) -> Value {
    let (status, _, body) = query.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn fraction(rate: &Value) -> (u64, u64) {
    (
        rate["numerator"].as_u64().unwrap(),
        rate["denominator"].as_u64().unwrap(),
    )
}

fn repo_line<'a>(summary: &'a Value, repo: &str) -> &'a Value {
    summary["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["downstream_repo"] == repo)
        .unwrap_or_else(|| panic!("{repo} not in {summary}"))
}

fn repo_order(summary: &Value) -> Vec<&str> {
    summary["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["downstream_repo"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn summary_lists_every_backend_worst_first_with_pass_rate_fractions() {
    let seeded = seeded().await;
    let summary = get_ok(&seeded.query, "/api/oot/summary?window=7d").await;
    assert_eq!(summary["window"], "7d");
    // old/backend has nothing in the window: unknown, so first; then riscv 1/2, xpu 5/6,
    // ascend 2/2.
    assert_eq!(repo_order(&summary), [OLD, RISCV, XPU, ASCEND]);

    let xpu = repo_line(&summary, XPU);
    // Latest attempt of each run: PR1 build, test-1 (attempt 2), test-2; PR2 build; nightly;
    // PR3 build. The failed first attempt of test-1 and the running jobs do not count.
    assert_eq!(fraction(&xpu["pass_rate"]), (5, 6));
    assert_eq!(xpu["successes"], 5);
    assert_eq!(xpu["failures"], 1);
    assert_eq!(xpu["completed"], 6);
    assert_eq!(xpu["level"], "L2");
    assert_eq!(xpu["avg_duration_s"], 200.0);
    assert_eq!(xpu["stale"], false);
    assert_eq!(xpu["days_since_last_result"], 0);
    assert!(xpu["last_run_at"].as_str().unwrap().ends_with('Z'));

    let ascend = repo_line(&summary, ASCEND);
    assert_eq!(fraction(&ascend["pass_rate"]), (2, 2));
    assert_eq!(ascend["cancelled"], 1, "cancelled is counted, not rated");

    let riscv = repo_line(&summary, RISCV);
    assert_eq!(fraction(&riscv["pass_rate"]), (1, 2));
    assert_eq!(riscv["timed_out"], 1);

    let old = repo_line(&summary, OLD);
    assert_eq!(old["pass_rate"], Value::Null, "no data is not 100%");
    assert_eq!(old["stale"], true);
    assert_eq!(old["completed"], 0);
    assert_eq!(old["days_since_last_result"], 10);
    assert_eq!(old["level"], "L1");

    // Over 30 days the old job is in the window: 0/1, the worst rate.
    let month = get_ok(&seeded.query, "/api/oot/summary?window=30d").await;
    assert_eq!(repo_order(&month), [OLD, RISCV, XPU, ASCEND]);
    assert_eq!(fraction(&repo_line(&month, OLD)["pass_rate"]), (0, 1));
    assert_eq!(repo_line(&month, OLD)["stale"], false);

    let day = get_ok(&seeded.query, "/api/oot/summary?window=24h").await;
    assert_eq!(repo_line(&day, OLD)["pass_rate"], Value::Null);
    assert_eq!(fraction(&repo_line(&day, XPU)["pass_rate"]), (5, 6));
}

/// The cell of `job_name` in `row`.
fn cell<'a>(view: &'a Value, row: &'a Value, job_name: &str) -> &'a Value {
    let column = view["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["job_name"] == job_name)
        .unwrap_or_else(|| panic!("no column {job_name}"));
    &row["cells"][column]
}

fn row<'a>(view: &'a Value, label: &str) -> &'a Value {
    view["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"]["label"] == label)
        .unwrap_or_else(|| panic!("no row {label} in {}", view["rows"]))
}

fn labels(view: &Value) -> Vec<String> {
    view["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["target"]["label"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn backend_view_shows_the_latest_attempt_running_jobs_and_failed_tests() {
    let seeded = seeded().await;
    let view = get_ok(
        &seeded.query,
        &format!("/api/oot/{XPU}?window=7d&page=2&per_page=2"),
    )
    .await;
    assert_eq!(view["downstream_repo"], XPU);
    assert_eq!(view["level"], "L2");

    let header = &view["header"];
    assert_eq!(fraction(&header["pass_rate"]), (5, 6));
    assert_eq!(fraction(&header["timeout_rate"]), (0, 6));
    assert_eq!(header["running"], 1);
    assert_eq!(header["avg_execution_time_s"], 200.0);
    assert_eq!(
        header["avg_queue_time_s"], 15.0,
        "PR1's build and test-2 queued"
    );

    let columns: Vec<(&str, &str)> = view["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["workflow_name"].as_str().unwrap(),
                c["job_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        columns,
        [
            ("xpu-ci", "linux-xpu / build"),
            ("xpu-ci", "linux-xpu / test (default, 1, 2)"),
            ("xpu-ci", "linux-xpu / test (default, 2, 2)"),
            ("xpu-nightly", "linux-xpu / nightly (full)"),
        ]
    );

    // Newest first: PR3, the nightly | PR2, PR1.
    assert_eq!(
        view["page"],
        json!({"page": 2, "per_page": 2, "has_more": false})
    );
    assert_eq!(
        labels(&view),
        [
            format!("pytorch/pytorch#{PR2}"),
            format!("pytorch/pytorch#{PR1}")
        ]
    );

    let pr1 = row(&view, &format!("pytorch/pytorch#{PR1}"));
    assert_eq!(pr1["target"]["kind"], "pull_request");
    assert_eq!(pr1["target"]["pr_number"], PR1);
    let rerun = cell(&view, pr1, "linux-xpu / test (default, 1, 2)");
    assert_eq!(
        rerun["state"], "success",
        "the re-run's result, not the first attempt's"
    );
    assert_eq!(rerun["run_attempt"], 2);
    assert_eq!(rerun["check_run_id"], XPU_TEST1_ATTEMPT2.to_string());
    assert_eq!(
        rerun["links"]["workflow_run"],
        format!("https://github.com/{XPU}/actions/runs/5001")
    );
    assert_eq!(
        rerun["links"]["artifacts"],
        format!("https://github.com/{XPU}/actions/runs/5001/artifacts/{XPU_TEST1_ATTEMPT2}")
    );
    assert_eq!(rerun["duration_s"], 200.0);
    let failed = cell(&view, pr1, "linux-xpu / test (default, 2, 2)");
    assert_eq!(failed["state"], "failure");
    assert_eq!(failed["tests"]["failed"], 2);
    assert_eq!(failed["queue_time_s"], 20.0);
    assert_eq!(cell(&view, pr1, "linux-xpu / nightly (full)"), &Value::Null);

    let pr2 = row(&view, &format!("pytorch/pytorch#{PR2}"));
    let running = cell(&view, pr2, "linux-xpu / test (default, 1, 2)");
    assert_eq!(running["state"], "running");
    assert_eq!(running["conclusion"], Value::Null);
    assert_eq!(running["completed_at"], Value::Null);
    assert!(running["started_at"].as_str().is_some());

    // Drill-down: the failed job on the page, with its tests; not the re-run's failed attempt.
    let failures = view["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let failure = &failures[0];
    assert_eq!(
        failure["job_key"],
        xpu(Some(PR1), "linux-xpu / test (default, 2, 2)", 5001, 1, 13).key()
    );
    assert_eq!(failure["row_label"], format!("pytorch/pytorch#{PR1}"));
    assert_eq!(failure["failed_tests_reported"], 2);
    let names: Vec<&str> = failure["failed_tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "test_matmul_epilogue_bf16",
            "test_conv_backward_channels_last"
        ]
    );
    assert_eq!(
        failure["failed_tests"][0]["message"],
        "AssertionError: Tensor-likes are not close! Mismatched elements: 3 / 4096"
    );

    let first = get_ok(
        &seeded.query,
        &format!("/api/oot/{XPU}?window=7d&page=1&per_page=2"),
    )
    .await;
    assert_eq!(
        labels(&first),
        [
            format!("pytorch/pytorch#{PR3}"),
            "nightly pytorch/pytorch@b1c2d3e".to_owned()
        ]
    );
    let nightly = &first["rows"][1];
    assert_eq!(nightly["target"]["kind"], "nightly");
    assert_eq!(nightly["target"]["pr_number"], Value::Null);
    assert_eq!(
        cell(&first, nightly, "linux-xpu / nightly (full)")["state"],
        "success"
    );
    assert!(first["failures"].as_array().unwrap().is_empty());

    // Past the last page: no rows, same header.
    let beyond = get_ok(&seeded.query, &format!("/api/oot/{XPU}?page=3&per_page=2")).await;
    assert!(beyond["rows"].as_array().unwrap().is_empty());
    assert_eq!(fraction(&beyond["header"]["pass_rate"]), (5, 6));

    // A repo with nothing: an empty matrix and no rate.
    let empty = get_ok(&seeded.query, "/api/oot/nobody/nothing").await;
    assert_eq!(empty["header"]["pass_rate"], Value::Null);
    assert_eq!(empty["page"]["has_more"], false);
    assert_eq!(empty["rows"], json!([]));
}

fn backend<'a>(view: &'a Value, repo: &str) -> &'a Value {
    view["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["downstream_repo"] == repo)
        .unwrap_or_else(|| panic!("no backend {repo} in {view}"))
}

#[tokio::test]
async fn pr_view_gives_each_backends_jobs_and_a_headline() {
    let seeded = seeded().await;
    let view = get_ok(&seeded.query, &format!("/api/oot/pr/{PR3}")).await;
    assert_eq!(view["upstream_repo"], "pytorch/pytorch");
    assert_eq!(view["pr_number"], PR3);
    assert_eq!(view["headline"], "3/4 passed, 1 running");
    let ascend = backend(&view, ASCEND);
    assert_eq!(ascend["headline"], "1/2 passed, 1 running");
    assert_eq!(ascend["level"], "L3");
    let states: Vec<(&str, &str)> = ascend["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["job_name"].as_str().unwrap(),
                j["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(states, [("lint", "running"), ("test", "success")]);
    let riscv_test = &backend(&view, RISCV)["jobs"][0];
    assert_eq!(riscv_test["duration_s"], 2000.0);
    assert_eq!(
        riscv_test["links"]["workflow_run"],
        format!("https://github.com/{RISCV}/actions/runs/8003")
    );

    let view = get_ok(
        &seeded.query,
        &format!("/api/oot/pr/{PR1}?upstream_repo=pytorch/pytorch&window=24h"),
    )
    .await;
    assert_eq!(
        view["headline"],
        "3/6 passed, 1 failed, 1 timed out, 1 running"
    );
    let xpu = backend(&view, XPU);
    assert_eq!(xpu["headline"], "2/3 passed, 1 failed");
    let rerun = xpu["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_name"] == "linux-xpu / test (default, 1, 2)")
        .unwrap();
    assert_eq!(rerun["run_attempt"], 2);
    assert_eq!(rerun["state"], "success");
    assert_eq!(backend(&view, RISCV)["jobs"][0]["state"], "timed_out");

    let other_repo = get_ok(
        &seeded.query,
        &format!("/api/oot/pr/{PR1}?upstream_repo=pytorch/vision"),
    )
    .await;
    assert_eq!(other_repo["headline"], "no jobs");
    assert!(other_repo["backends"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_parameters_are_400s_that_name_the_parameter() {
    let stores = TestStores::unique("query");
    let query = TestQuery::spawn(query_config(&stores.settings))
        .await
        .unwrap();
    for (path, parameter) in [
        ("/api/oot/summary?window=1y", "window"),
        ("/api/oot/summary?window=24h&window=7d", "window"),
        ("/api/oot/intel/torch-xpu-ops?window=week", "window"),
        ("/api/oot/intel/torch-xpu-ops?page=0", "page"),
        ("/api/oot/intel/torch-xpu-ops?per_page=1000", "per_page"),
        ("/api/oot/-intel/torch-xpu-ops", "repo"),
        ("/api/oot/intel/torch%20xpu", "repo"),
        ("/api/oot/intel%2Fx/y", "repo"),
        ("/api/oot/pr/abc", "number"),
        ("/api/oot/pr/0", "number"),
        ("/api/oot/pr/1?upstream_repo=pytorch", "upstream_repo"),
        ("/api/oot/pr/1?window=2d", "window"),
    ] {
        let (status, _, body) = query.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"], "invalid_parameter", "{path}: {body}");
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn a_store_that_does_not_answer_is_a_503_naming_it() {
    let stores = TestStores::unique("query");
    let mut dead = stores.settings.clone();
    // Nothing listens on port 1.
    dead.clickhouse.url = "http://127.0.0.1:1".to_owned();
    dead.dynamo.endpoint = "http://127.0.0.1:1".to_owned();
    let timeout = Duration::from_secs(10);
    let query = query_over(&dead.clickhouse, &dead.dynamo, timeout).await;
    let (status, retry_after, body) = query.get("/api/oot/summary").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "store_unavailable");
    assert_eq!(body["store"], "clickhouse");
    assert_eq!(retry_after.as_deref(), Some("5"));
    assert!(
        !body["message"].as_str().unwrap().contains("127.0.0.1"),
        "the store's own error stays in the log: {body}"
    );

    // ClickHouse up (its table prepared), DynamoDB down: the PR view names DynamoDB.
    oot_platform::migrate::ensure_clickhouse(
        &stores.settings.clickhouse.client(),
        &stores.settings.clickhouse,
    )
    .await
    .unwrap();
    let live_down = query_over(&stores.settings.clickhouse, &dead.dynamo, timeout).await;
    let (status, _, body) = live_down.get("/api/oot/pr/1").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["store"], "dynamodb");
}

/// The query service's routes over the given stores (some of them pointed at nothing).
async fn query_over(
    clickhouse: &oot_platform::settings::ClickHouseSettings,
    dynamo: &oot_platform::settings::DynamoSettings,
    timeout: Duration,
) -> TestQuery {
    TestQuery::spawn_routes(oot_e2e::query_stores(clickhouse, dynamo, timeout).await)
        .await
        .unwrap()
}
