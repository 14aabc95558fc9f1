//! The read tables (issue 10): the PR view and the per-backend matrix read tables ordered for
//! them (`platform/src/read_tables.rs`), kept by materialized views on the completed-jobs table.
//! Each test compares the service's loaders with the baseline ones, which read every job of the
//! window with `FINAL` as before, on the same stores at the same `now`: the JSON must be equal,
//! on every page and window, for data with re-runs, redeliveries, later versions, running jobs
//! (on the page and off it), nightlies sharing a commit, and jobs older than a day.
//!
//! And the migration: a completed-jobs table made before the read tables is backfilled once
//! while the projector's inserts go on, and the next run changes nothing.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oot_contract::{Conclusion, RepoLevel, RepoName, UpstreamPr};
use oot_e2e::callbacks::{repo, sample, upstream_pr, Callback, Job, Trigger};
use oot_e2e::{
    eventually, ingest_config, projector_config, TestClock, TestIngest, TestProjector, TestStores,
};
use oot_platform::read_tables::{self, ReadTableOutcome};
use oot_platform::settings::StoreSettings;
use oot_projector::completed_rows::CompletedJobRow;
use oot_query::api::{self, Stores};
use oot_query::params::{BackendParams, PageRequest, PrParams};
use oot_query::rules::Window;
use serde_json::Value;
use time::OffsetDateTime;

const XPU: &str = "intel/torch-xpu-ops";
const NPU: &str = "ascend/pytorch";
const FIRST_PR: u64 = 910_001;
const PRS: u64 = 11;
/// The commit two nightly deliveries share (their rows' labels tie).
const NIGHTLY_SHA: &str = "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0";

/// The stores the query service reads, over the test's tables.
async fn stores(s: &StoreSettings) -> Stores {
    oot_e2e::query_stores(&s.clickhouse, &s.dynamo, Duration::from_secs(10)).await
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// One job attempt of the seeded data.
fn job(
    repo_name: &str,
    trigger: Trigger,
    delivery: &str,
    name: &str,
    run: u64,
    attempt: u32,
    check: u64,
) -> Job {
    Job {
        repo: repo(repo_name),
        level: if repo_name == XPU {
            RepoLevel::L2
        } else {
            RepoLevel::L3
        },
        trigger,
        delivery_id: delivery.to_owned(),
        workflow: "ci".to_owned(),
        job_name: name.to_owned(),
        run_id: run,
        run_attempt: attempt,
        check_run_id: check,
    }
}

fn pr_job(repo_name: &str, pr: u64, name: &str, run: u64, attempt: u32, check: u64) -> Job {
    job(
        repo_name,
        upstream_pr(pr),
        &format!("d-{run}"),
        name,
        run,
        attempt,
        check,
    )
}

fn nightly(delivery: &str, check: u64) -> Job {
    let trigger = Trigger::Nightly {
        upstream: repo("pytorch/pytorch"),
        head_sha: NIGHTLY_SHA.to_owned(),
    };
    job(
        XPU,
        trigger,
        delivery,
        "nightly (full)",
        6_000 + check,
        1,
        check,
    )
}

/// A completed callback `at` (the test clock's time), with failed tests when it failed.
fn done(job: &Job, conclusion: Conclusion, at: OffsetDateTime) -> Value {
    let callback = job.completed(conclusion, at, Some(120.0));
    let callback = match conclusion {
        Conclusion::Failure => callback.with_tests(
            sample::completed().test_results.unwrap(),
            sample::failed_tests(),
        ),
        Conclusion::Success => Callback {
            test_results: Some(sample::all_passed(10)),
            ..callback
        },
        _ => callback,
    };
    callback
        .with_artifact_url(job.artifact_url(job.check_run_id))
        .to_json()
}

fn started(job: &Job, at: OffsetDateTime) -> Value {
    job.in_progress(at, 12.5).to_json()
}

/// The seeded callbacks, in groups ingest receives in distinct seconds (oldest first), each
/// built at the time it is received.
fn groups() -> Vec<Box<dyn Fn(OffsetDateTime) -> Vec<Value>>> {
    use Conclusion::*;
    let mut groups: Vec<Box<dyn Fn(OffsetDateTime) -> Vec<Value>>> = vec![
        Box::new(|at| {
            vec![
                done(&pr_job(NPU, FIRST_PR, "build", 100, 1, 1), Success, at),
                done(&pr_job(NPU, FIRST_PR, "test", 100, 1, 2), Failure, at),
                done(&pr_job(XPU, FIRST_PR, "build", 200, 1, 10), Success, at),
                // Attempt 1 fails; attempt 2 (below) is still running.
                done(&pr_job(XPU, FIRST_PR, "test", 200, 1, 11), Failure, at),
            ]
        }),
        Box::new(|at| {
            vec![
                done(&pr_job(XPU, FIRST_PR + 1, "build", 201, 1, 20), Success, at),
                done(&pr_job(XPU, FIRST_PR + 1, "test", 201, 1, 21), Success, at),
                done(&nightly("night-1", 90), Success, at),
                // Attempt 1's completion is lost: it stays running in DynamoDB, while
                // attempt 2 (last group) completes. The run is not running any more.
                started(&pr_job(XPU, FIRST_PR + 1, "stale", 401, 1, 50), at),
            ]
        }),
        Box::new(|at| {
            vec![
                done(&pr_job(XPU, FIRST_PR + 2, "build", 202, 1, 30), Failure, at),
                // Running on a row that later rows push off the first page.
                started(&pr_job(XPU, FIRST_PR + 2, "lint", 202, 1, 31), at),
            ]
        }),
        Box::new(|at| vec![started(&pr_job(XPU, FIRST_PR, "test", 200, 2, 12), at)]),
        Box::new(|at| {
            // Two more nightlies of the same commit in the same second: equal labels and times.
            vec![
                done(&nightly("night-2", 91), Failure, at),
                done(&nightly("night-3", 92), Success, at),
            ]
        }),
    ];
    for i in 3..PRS {
        let pr = FIRST_PR + i;
        let run = 200 + i;
        let check = 100 * i;
        let outcome = [Success, Failure, Cancelled, TimedOut][(i % 4) as usize];
        groups.push(Box::new(move |at| {
            let build = pr_job(XPU, pr, "build", run, 1, check);
            let test = pr_job(XPU, pr, "test", run, 1, check + 1);
            let mut callbacks = vec![
                started(&build, at),
                done(&build, Success, at),
                done(&test, outcome, at),
            ];
            match i % 3 {
                // A redelivery: the same callback again (no new version).
                0 => callbacks.push(done(&test, outcome, at)),
                // The relay's sweeper said timed out, then the real conclusion: two versions.
                1 => {
                    callbacks.insert(2, done(&test, TimedOut, at - time::Duration::SECOND));
                }
                _ => callbacks.push(done(
                    &pr_job(NPU, pr, "test", run + 50, 1, check + 2),
                    outcome,
                    at,
                )),
            }
            callbacks
        }));
    }
    groups.push(Box::new(|at| {
        vec![
            // A newer run of PR 2's build: the newest run wins the cell.
            done(&pr_job(XPU, FIRST_PR + 1, "build", 301, 1, 22), Failure, at),
            started(&pr_job(NPU, FIRST_PR + 2, "test", 302, 1, 40), at),
            done(&pr_job(NPU, FIRST_PR + 1, "test", 303, 1, 41), Success, at),
            done(&pr_job(XPU, FIRST_PR + 1, "stale", 401, 2, 51), Failure, at),
        ]
    }));
    groups
}

/// The old jobs: received two days ago, inside the 7- and 30-day windows only, on rows that
/// also have recent jobs.
fn old_callbacks(at: OffsetDateTime) -> Vec<Value> {
    vec![
        done(
            &pr_job(XPU, FIRST_PR, "old-check", 150, 1, 5),
            Conclusion::Failure,
            at,
        ),
        done(
            &pr_job(NPU, FIRST_PR + 5, "test", 151, 1, 6),
            Conclusion::Success,
            at,
        ),
    ]
}

/// Posts the seeded callbacks as [`oot_e2e::seed_views`] does (ingest's clock moved, groups a
/// second apart, none in the future) and waits until the projector has projected them.
async fn seed(stores: &TestStores) -> (TestIngest, TestProjector) {
    let s = &stores.settings;
    let groups = groups();
    let two_days = 2 * 86_400;
    let clock = TestClock::offset_by(-two_days);
    let ingest = TestIngest::spawn_with_clock(ingest_config(s), clock.clock())
        .await
        .unwrap();
    let projector = TestProjector::spawn(projector_config(s)).await.unwrap();
    let mut posted = 0u64;
    let mut post = |bodies: Vec<Value>| {
        posted += bodies.len() as u64;
        bodies
    };
    let bodies = post(old_callbacks(
        OffsetDateTime::now_utc() - time::Duration::seconds(two_days),
    ));
    for body in bodies {
        let response = ingest.post_callback(body.to_string()).await;
        assert_eq!(
            response.status().as_u16(),
            202,
            "{}",
            response.text().await.unwrap()
        );
    }
    let behind = i64::try_from(groups.len()).unwrap();
    clock.advance(two_days - behind);
    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            clock.advance(1);
        }
        let at = OffsetDateTime::now_utc() - time::Duration::seconds(behind - i as i64);
        for body in post(group(at)) {
            let response = ingest.post_callback(body.to_string()).await;
            assert_eq!(
                response.status().as_u16(),
                202,
                "{}",
                response.text().await.unwrap()
            );
        }
    }
    eventually(Duration::from_secs(60), "every event projected", || async {
        projector.metrics.events.get() >= posted
    })
    .await
    .unwrap();
    (ingest, projector)
}

/// Whether the backend view's header is compared: it comes from the rollups, which the
/// projector keeps, so a test that inserts rows straight into the jobs table has none.
#[derive(Clone, Copy, PartialEq)]
enum Header {
    Compared,
    Ignored,
}

/// The backend view both ways at `now`, which must be equal; the service's, as JSON.
async fn backend_both_ways(
    stores: &Stores,
    repo_name: &str,
    window: Window,
    page: usize,
    per_page: usize,
    now: i64,
    header: Header,
) -> Value {
    let params = || BackendParams {
        repo: RepoName::parse(repo_name).unwrap(),
        window,
        page: PageRequest { page, per_page },
    };
    let mut served =
        serde_json::to_value(api::backend_at(stores, params(), now).await.unwrap()).unwrap();
    let mut baseline =
        serde_json::to_value(api::baseline_backend(stores, params(), now).await.unwrap()).unwrap();
    if header == Header::Ignored {
        for view in [&mut served, &mut baseline] {
            view["header"] = Value::Null;
        }
    }
    assert_eq!(
        served, baseline,
        "{repo_name}, {window:?}, page {page} of {per_page}: the read tables' view differs from the baseline's"
    );
    served
}

/// Every page of `repo_name`'s matrix (and the one past the last) for every window, both ways;
/// the first pages, by window.
async fn every_page_both_ways(
    stores: &Stores,
    repo_name: &str,
    per_page: usize,
    header: Header,
) -> Vec<Value> {
    let now = now();
    let mut first_pages = Vec::new();
    for window in Window::ALL {
        let first = backend_both_ways(stores, repo_name, window, 1, per_page, now, header).await;
        // Every page while more follow, and the one past the end.
        let (mut page, mut more) = (1, first["page"]["has_more"] == true);
        while more {
            page += 1;
            let view =
                backend_both_ways(stores, repo_name, window, page, per_page, now, header).await;
            more = view["page"]["has_more"] == true;
        }
        backend_both_ways(stores, repo_name, window, page + 1, per_page, now, header).await;
        first_pages.push(first);
    }
    first_pages
}

/// The PR view both ways, over every window and none, which must be equal; the service's.
async fn pr_both_ways(stores: &Stores, pr: u64) -> Vec<Value> {
    let now = now();
    let mut views = Vec::new();
    for window in [None, Some(Window::Day), Some(Window::Week)] {
        let params = || PrParams {
            pr: UpstreamPr::new(
                RepoName::parse("pytorch/pytorch").unwrap(),
                oot_contract::PrNumber::new(pr).unwrap(),
            ),
            window,
        };
        let served =
            serde_json::to_value(api::pr_at(stores, params(), now).await.unwrap()).unwrap();
        let baseline =
            serde_json::to_value(api::baseline_pr(stores, params(), now).await.unwrap()).unwrap();
        assert_eq!(served, baseline, "PR {pr}, {window:?}");
        views.push(served);
    }
    views
}

#[tokio::test]
async fn the_pr_view_and_the_matrix_from_the_read_tables_equal_the_full_scan() {
    let test = TestStores::unique("readmodel");
    let (_ingest, _projector) = seed(&test).await;
    let stores = stores(&test.settings).await;

    let xpu = every_page_both_ways(&stores, XPU, 3, Header::Compared).await;
    let week = &xpu[1];
    let fourth = backend_both_ways(&stores, XPU, Window::Week, 4, 3, now(), Header::Compared).await;
    assert!(!fourth["rows"].as_array().unwrap().is_empty(), "{fourth}");
    assert_eq!(week["page"]["has_more"], true);
    // PR 1's attempt 2 on page 1, PR 3's lint off it: both count. PR 2's "stale" attempt 1,
    // still running in DynamoDB, does not: the ledger knows its attempt 2 completed.
    assert_eq!(week["header"]["running"], 2, "{}", week["header"]);
    assert!(!week["failures"].as_array().unwrap().is_empty());
    let day = &xpu[0];
    let week_columns = week["columns"].as_array().unwrap().len();
    assert_eq!(
        day["columns"].as_array().unwrap().len() + 1,
        week_columns,
        "the two-day-old job's column is in the week only"
    );
    every_page_both_ways(&stores, XPU, 25, Header::Compared).await;
    every_page_both_ways(&stores, NPU, 2, Header::Compared).await;
    every_page_both_ways(&stores, "nobody/nothing", 5, Header::Compared).await;

    let labels: BTreeSet<String> = {
        let now = now();
        let page =
            backend_both_ways(&stores, XPU, Window::Week, 1, 100, now, Header::Compared).await;
        page["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["target"]["label"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        labels.contains("nightly pytorch/pytorch@b1c2d3e"),
        "{labels:?}"
    );

    for pr in FIRST_PR..FIRST_PR + PRS {
        pr_both_ways(&stores, pr).await;
    }
    let first = pr_both_ways(&stores, FIRST_PR).await;
    assert_eq!(
        first[0]["backends"].as_array().unwrap().len(),
        2,
        "{}",
        first[0]
    );
    assert!(
        first[0]["headline"].as_str().unwrap().contains("running"),
        "{}",
        first[0]
    );
    pr_both_ways(&stores, 999_999).await;
}

/// A completed row written straight into the jobs table, as the projector writes them.
fn row(
    repo_name: &str,
    n: u64,
    pr: Option<u64>,
    version: u64,
    first_seen_at: u32,
) -> CompletedJobRow {
    let delivery = format!("d-{}", n / 3);
    let name = ["build", "test", "lint"][(n % 3) as usize];
    CompletedJobRow {
        dynamo_key: format!("{repo_name}/{delivery}/ci/{name}/{n}"),
        version,
        source_digest: format!("digest-{n}-{version}"),
        first_seen_at,
        projected_at: first_seen_at,
        status: "completed".to_owned(),
        downstream_repo: repo_name.to_owned(),
        downstream_repo_level: "L2".to_owned(),
        upstream_repo: "pytorch/pytorch".to_owned(),
        pr_number: pr,
        pytorch_head_sha: format!("{:040x}", n / 3 + version),
        delivery_id: delivery,
        event_type: if pr.is_some() {
            "pull_request"
        } else {
            "nightly"
        }
        .to_owned(),
        workflow_run_url: format!("https://github.com/{repo_name}/actions/runs/{}", n / 3),
        workflow_name: "ci".to_owned(),
        job_name: name.to_owned(),
        check_run_id: n.to_string(),
        run_id: (1_000 + n / 3).to_string(),
        run_attempt: 1,
        conclusion: ["success", "failure", "timed_out"][((n + version) % 3) as usize].to_owned(),
        queue_time: Some(3.0),
        execution_time: Some(60.0 * version as f64),
        started_at: Some(first_seen_at),
        completed_at: first_seen_at + 60,
        total_tests: Some(10),
        passed_tests: Some(9),
        failed_tests: Some(1),
        skipped_tests: Some(0),
        failed_tests_json: r#"[{"name":"test_x","message":"boom"}]"#.to_owned(),
        artifact_url: String::new(),
        environment: String::new(),
    }
}

/// Rows `from..to` of `repo_name`: every third job a nightly, the others over a few PRs, first
/// seen over the last day and a half.
fn rows(repo_name: &str, from: u64, to: u64, version: u64) -> Vec<CompletedJobRow> {
    let now = u32::try_from(now()).unwrap();
    (from..to)
        .map(|n| {
            let pr = (n % 3 != 0).then_some(FIRST_PR + n % 7);
            row(
                repo_name,
                n,
                pr,
                version,
                now - 130_000 + (n as u32 * 37) % 129_000,
            )
        })
        .collect()
}

async fn count(s: &StoreSettings, sql: &str) -> u64 {
    s.clickhouse.client().query(sql).fetch_one().await.unwrap()
}

async fn exists(s: &StoreSettings, name: &str) -> bool {
    let sql = format!("EXISTS TABLE {}.{name}", s.clickhouse.database);
    let found: u8 = s.clickhouse.client().query(&sql).fetch_one().await.unwrap();
    found == 1
}

/// Every job's latest version in `table`, as (key, version) pairs.
async fn latest_versions(s: &StoreSettings, table: &str) -> Vec<(String, u64)> {
    let sql = format!(
        "SELECT dynamoKey, max(version) FROM {}.{table} GROUP BY dynamoKey ORDER BY dynamoKey",
        s.clickhouse.database
    );
    s.clickhouse.client().query(&sql).fetch_all().await.unwrap()
}

#[tokio::test]
async fn a_jobs_table_made_before_the_read_tables_is_backfilled_once_under_concurrent_inserts() {
    let test = TestStores::unique("backfill");
    let s = &test.settings;
    let client = s.clickhouse.client();
    let system = client.clone().with_database("system");
    oot_platform::migrate::ensure_job_table(&s.dynamo.client().await, &s.dynamo)
        .await
        .unwrap();
    // The jobs table as a stack before the read tables had it, with jobs in it (two versions
    // of some, in separate parts).
    let version = test.clickhouse_database_made().await.unwrap();
    system
        .query(&oot_platform::migrate::completed_jobs_ddl(
            &s.clickhouse,
            &version,
        ))
        .execute()
        .await
        .unwrap();
    let jobs = oot_projector::completed_rows::CompletedJobs::new(
        client.clone(),
        &s.clickhouse.database,
        &s.clickhouse.table,
    );
    jobs.insert(&rows(XPU, 0, 300, 1)).await.unwrap();
    jobs.insert(&rows(XPU, 0, 100, 2)).await.unwrap();
    jobs.insert(&rows(NPU, 1_000, 1_060, 1)).await.unwrap();
    let read = read_tables::read_tables(&s.clickhouse.table);
    for table in &read {
        assert!(!exists(s, table).await, "{table} before migrate");
    }

    // The pattern migrate waits on matches the crate's own INSERT of the jobs table, and not
    // its backfill's of a read table.
    let pattern = read_tables::insert_pattern(&s.clickhouse, &s.clickhouse.table);
    for (sql, matches) in [
        (
            format!(
                "INSERT INTO {}(`dynamoKey`,`version`) FORMAT RowBinary",
                s.clickhouse.table
            ),
            1,
        ),
        (
            format!(
                "insert into {} FORMAT JSONEachRow",
                s.clickhouse.qualified_table()
            ),
            1,
        ),
        (
            format!(
                "INSERT INTO {}.{} (dynamoKey)\nSELECT",
                s.clickhouse.database, read[0]
            ),
            0,
        ),
    ] {
        let found: u8 = system
            .query("SELECT match(?, ?)")
            .bind(sql.as_str())
            .bind(pattern.as_str())
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(found, matches, "{sql}");
    }

    // The projector goes on inserting while migrate runs: new jobs and new versions. An INSERT
    // that fails is retried, as the projector retries any ClickHouse error but the data's (on
    // 18.16 an INSERT racing the creation of a view can fail: the view is registered before
    // it can be found).
    let inserting = Arc::new(AtomicBool::new(true));
    let inserted = Arc::new(AtomicU64::new(0));
    let inserter = {
        let (inserting, inserted) = (inserting.clone(), inserted.clone());
        let jobs = jobs.clone();
        tokio::spawn(async move {
            let mut n = 2_000;
            let mut retried = 0;
            while inserting.load(Ordering::SeqCst) {
                let mut batch = rows(XPU, n, n + 5, 1);
                batch.extend(rows(XPU, n - 2_000, n - 1_995, 3));
                while let Err(error) = jobs.insert(&batch).await {
                    retried += 1;
                    assert!(retried < 50, "{error}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                inserted.fetch_add(1, Ordering::SeqCst);
                n += 5;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            println!("{} inserts during the test, {retried} retried", n / 5 - 400);
        })
    };
    eventually(Duration::from_secs(10), "inserts under way", || async {
        inserted.load(Ordering::SeqCst) >= 3
    })
    .await
    .unwrap();
    oot_platform::migrate::ensure_clickhouse(&client, &s.clickhouse)
        .await
        .unwrap();
    let during = inserted.load(Ordering::SeqCst);
    eventually(
        Duration::from_secs(10),
        "inserts after the migration",
        || async { inserted.load(Ordering::SeqCst) >= during + 3 },
    )
    .await
    .unwrap();
    inserting.store(false, Ordering::SeqCst);
    inserter.await.unwrap();

    for table in &read {
        assert!(exists(s, table).await, "{table}");
        assert!(
            exists(s, &read_tables::view_name(table)).await,
            "{table}'s view"
        );
        assert!(
            !exists(s, &read_tables::capture_view_name(table)).await,
            "{table}'s capture view is dropped"
        );
    }
    // No job and no version lost, before, during or after the backfill.
    let everything = latest_versions(s, &s.clickhouse.table).await;
    assert!(everything.len() > 360, "{}", everything.len());
    assert_eq!(latest_versions(s, &read[0]).await, everything);
    let stores = stores(s).await;
    for repo_name in [XPU, NPU] {
        every_page_both_ways(&stores, repo_name, 4, Header::Ignored).await;
    }
    for pr in FIRST_PR..FIRST_PR + 7 {
        pr_both_ways(&stores, pr).await;
    }

    // Run again: nothing to do, nothing written.
    let rows_by_target = format!("SELECT count() FROM {}.{}", s.clickhouse.database, read[0]);
    let before = count(s, &rows_by_target).await;
    let outcomes = read_tables::ensure_read_tables(&system, &s.clickhouse, &version)
        .await
        .unwrap();
    assert!(
        outcomes
            .iter()
            .all(|(_, o)| *o == ReadTableOutcome::AlreadyThere),
        "{outcomes:?}"
    );
    assert_eq!(
        count(s, &rows_by_target).await,
        before,
        "no second backfill"
    );

    // A run cut short after its capture view, before the view: the next run finishes it, and
    // the rows written twice (the backfill again) change no answer.
    let targets = &read[1];
    system
        .query(&format!(
            "DROP TABLE {}.{}",
            s.clickhouse.database,
            read_tables::view_name(targets)
        ))
        .execute()
        .await
        .unwrap();
    let capture = read_tables::READ_TABLES[1]
        .view_ddl(&s.clickhouse, &read_tables::capture_view_name(targets));
    system.query(&capture).execute().await.unwrap();
    jobs.insert(&rows(XPU, 5_000, 5_010, 1)).await.unwrap();
    let outcomes = read_tables::ensure_read_tables(&system, &s.clickhouse, &version)
        .await
        .unwrap();
    // Only the targets table is finished: every other one was whole.
    let expected: Vec<(String, ReadTableOutcome)> = read
        .iter()
        .map(|table| {
            let outcome = if table == targets {
                ReadTableOutcome::Backfilled
            } else {
                ReadTableOutcome::AlreadyThere
            };
            (table.clone(), outcome)
        })
        .collect();
    assert_eq!(outcomes, expected);
    assert!(exists(s, &read_tables::view_name(targets)).await);
    assert!(!exists(s, &read_tables::capture_view_name(targets)).await);
    for repo_name in [XPU, NPU] {
        every_page_both_ways(&stores, repo_name, 4, Header::Ignored).await;
    }
}
