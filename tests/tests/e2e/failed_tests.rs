//! The failed-test table (issue 11, docs/contract.md §10.3) against the real stack: callbacks go
//! in through ingest, and the projector writes one row per failed test per job version beside
//! the job's row; redeliveries, re-runs and later results stay exact under the contract's reading
//! rule (a job's rows of its latest version only), and a replay writes the same rows.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::time::Duration;

use oot_contract::clickhouse::failed_tests_table;
use oot_contract::TestCounts;
use oot_e2e::callbacks::{sample, Callback, FailedTest};
use oot_e2e::{
    attr_n, completed_rows, eventually, job_item, TestIngest, TestProjector, TestStores,
};
use oot_platform::settings::StoreSettings;
use oot_projector::failed_test_rows::FailedTestRow;
use serde_json::Value;
use time::macros::datetime;

const JOB_KEY: &str =
    "intel/torch-xpu-ops/a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1/xpu-ci/linux-xpu / test (default, 1, 4)/28374650001";

fn failed(classname: &str, name: &str, message: &str) -> FailedTest {
    FailedTest {
        name: name.to_owned(),
        classname: classname.to_owned(),
        message: message.to_owned(),
        stacktrace: Some(format!("Traceback:\n  {name}")),
        duration_s: Some(2.5),
    }
}

/// The sample job completed with `tests` failing out of 100.
fn completed_with(tests: Vec<FailedTest>) -> Callback {
    let failed_count = tests.len() as u64;
    let counts = TestCounts::new(100 - failed_count, failed_count, 0, Some(100)).unwrap();
    sample::completed().with_tests(counts, tests)
}

fn three_failures() -> Vec<FailedTest> {
    vec![
        failed("test.test_nn.TestNN", "test_conv", "RuntimeError: UR error"),
        failed("test.test_ops.TestOps", "test_add_xpu", "AssertionError"),
        failed("", "test_without_class", "boom"),
    ]
}

async fn stack(prefix: &str) -> (TestStores, TestIngest, TestProjector) {
    oot_e2e::ingest_and_projector(prefix).await
}

/// Posts `bodies` in order, each accepted, and waits until the projector has projected
/// `total` events in all.
async fn post_and_project(
    ingest: &TestIngest,
    projector: &TestProjector,
    bodies: &[Value],
    total: u64,
) {
    for body in bodies {
        let response = ingest.post_callback(body.to_string()).await;
        assert_eq!(
            response.status().as_u16(),
            202,
            "{}",
            response.text().await.unwrap()
        );
    }
    eventually(
        Duration::from_secs(60),
        "the projector projects every event",
        || async { projector.metrics.events.get() >= total },
    )
    .await
    .unwrap();
}

fn qualified_failed_tests(s: &StoreSettings) -> String {
    format!(
        "{}.{}",
        s.clickhouse.database,
        failed_tests_table(&s.clickhouse.table)
    )
}

/// Every row the table physically holds (all versions, before merges), by key and test.
async fn physical_rows(s: &StoreSettings) -> Vec<FailedTestRow> {
    let sql = format!(
        "SELECT ?fields FROM {} ORDER BY dynamoKey, classname, name, version",
        qualified_failed_tests(s)
    );
    s.clickhouse.client().query(&sql).fetch_all().await.unwrap()
}

/// The newest row per job and test, as a reader that has not looked at the jobs table sees
/// them.
async fn newest_rows(s: &StoreSettings) -> Vec<FailedTestRow> {
    let sql = format!(
        "SELECT ?fields FROM {} ORDER BY version DESC LIMIT 1 BY dynamoKey, classname, name",
        qualified_failed_tests(s)
    );
    let mut rows: Vec<FailedTestRow> = s.clickhouse.client().query(&sql).fetch_all().await.unwrap();
    rows.sort_by(|a, b| {
        (&a.dynamo_key, &a.classname, &a.name).cmp(&(&b.dynamo_key, &b.classname, &b.name))
    });
    rows
}

/// The contract's reading rule: a job's rows of its latest version (taken by key from the
/// completed-jobs table), each test once.
async fn current_rows(s: &StoreSettings) -> Vec<FailedTestRow> {
    let sql = format!(
        "SELECT ?fields FROM {failed} \
         WHERE (dynamoKey, version) IN (SELECT dynamoKey, max(version) FROM {jobs} GROUP BY dynamoKey) \
         ORDER BY version DESC LIMIT 1 BY dynamoKey, classname, name",
        failed = qualified_failed_tests(s),
        jobs = s.clickhouse.qualified_table(),
    );
    let mut rows: Vec<FailedTestRow> = s.clickhouse.client().query(&sql).fetch_all().await.unwrap();
    rows.sort_by(|a, b| {
        (&a.dynamo_key, &a.classname, &a.name).cmp(&(&b.dynamo_key, &b.classname, &b.name))
    });
    rows
}

fn tests_of(rows: &[FailedTestRow]) -> Vec<(&str, &str)> {
    rows.iter()
        .map(|r| (r.classname.as_str(), r.name.as_str()))
        .collect()
}

#[tokio::test]
async fn a_completed_callback_with_failed_tests_gives_a_row_each_with_the_jobs_identity_and_version(
) {
    let (stores, ingest, projector) = stack("ftrows").await;
    let s = &stores.settings;
    let bodies = [
        sample::in_progress().to_json(),
        completed_with(three_failures()).to_json(),
    ];
    post_and_project(&ingest, &projector, &bodies, 2).await;

    let rows = newest_rows(s).await;
    assert_eq!(
        tests_of(&rows),
        [
            ("", "test_without_class"),
            ("test.test_nn.TestNN", "test_conv"),
            ("test.test_ops.TestOps", "test_add_xpu"),
        ]
    );
    let item = job_item(s, JOB_KEY).await.unwrap().unwrap();
    let version = attr_n(&item, "version").unwrap() as u64;
    let jobs = completed_rows(s).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.version, version, "the job row's version is the item's");
    for row in &rows {
        assert_eq!(row.dynamo_key, JOB_KEY);
        assert_eq!(row.version, version, "{row:?}");
        assert_eq!(row.downstream_repo, "intel/torch-xpu-ops");
        assert_eq!(row.first_seen_at, job.first_seen_at);
        assert_eq!(row.upstream_repo, "pytorch/pytorch");
        assert_eq!(row.pr_number, Some(sample::PR_NUMBER));
        assert_eq!(row.pytorch_head_sha, job.pytorch_head_sha);
        assert_eq!(row.event_type, "pull_request");
        assert_eq!(row.workflow_name, "xpu-ci");
        assert_eq!(row.job_name, "linux-xpu / test (default, 1, 4)");
        assert_eq!(row.run_id, job.run_id);
        assert_eq!(row.run_attempt, 1);
        assert_eq!(row.conclusion, "failure");
        assert_eq!(row.completed_at, job.completed_at);
        assert_eq!(row.duration_s, Some(2.5));
        assert_eq!(row.message_truncated, 0);
    }
    assert_eq!(rows[1].message, "RuntimeError: UR error");
    assert_eq!(physical_rows(s).await.len(), 3, "one INSERT, one row each");
}

#[tokio::test]
async fn a_redelivered_callback_adds_nothing_once_latest_versions_are_taken() {
    let (stores, ingest, projector) = stack("ftredeliver").await;
    let s = &stores.settings;
    let completed = completed_with(three_failures()).to_json();
    post_and_project(
        &ingest,
        &projector,
        &[sample::in_progress().to_json(), completed.clone()],
        2,
    )
    .await;
    let before = newest_rows(s).await;
    assert_eq!(before.len(), 3);

    // The relay delivers the completed callback again, twice.
    post_and_project(&ingest, &projector, &[completed.clone(), completed], 4).await;
    assert_eq!(newest_rows(s).await, before);
    assert_eq!(current_rows(s).await, before);
}

#[tokio::test]
async fn a_later_result_with_other_failed_tests_leaves_stale_rows_the_reading_rule_drops() {
    let (stores, ingest, projector) = stack("ftlater").await;
    let s = &stores.settings;
    post_and_project(
        &ingest,
        &projector,
        &[completed_with(three_failures()).to_json()],
        1,
    )
    .await;
    // A later completed callback of the same job (the merge keeps the later one's list): one
    // test again, one new, two no longer listed.
    let later = Callback {
        completed_at: Some(datetime!(2026-04-28 11:05:00 UTC)),
        ..completed_with(vec![
            failed("test.test_nn.TestNN", "test_conv", "RuntimeError: again"),
            failed("test.test_new.TestNew", "test_new", "new failure"),
        ])
    };
    post_and_project(&ingest, &projector, &[later.to_json()], 2).await;

    let latest = completed_rows(s).await.unwrap()[0].version;
    let current = current_rows(s).await;
    assert_eq!(
        tests_of(&current),
        [
            ("test.test_new.TestNew", "test_new"),
            ("test.test_nn.TestNN", "test_conv"),
        ]
    );
    assert!(current.iter().all(|r| r.version == latest), "{current:?}");
    assert_eq!(current[1].message, "RuntimeError: again");
    // What the rule is for: the tests only the older version listed keep their rows.
    let stale: Vec<FailedTestRow> = newest_rows(s)
        .await
        .into_iter()
        .filter(|r| r.version < latest)
        .collect();
    assert_eq!(
        tests_of(&stale),
        [
            ("", "test_without_class"),
            ("test.test_ops.TestOps", "test_add_xpu"),
        ]
    );
}

#[tokio::test]
async fn a_rerun_has_its_own_rows_and_a_job_without_failed_tests_has_none() {
    let (stores, ingest, projector) = stack("ftrerun").await;
    let s = &stores.settings;
    let first = completed_with(three_failures());
    let mut second_job = sample::job();
    second_job.run_attempt = 2;
    second_job.check_run_id += 1;
    let second = Callback {
        job: second_job.clone(),
        ..completed_with(vec![failed(
            "test.test_nn.TestNN",
            "test_conv",
            "RuntimeError: UR error",
        )])
    };
    // A nightly that passed (counts, no failed tests), and a job still running.
    let nightly = sample::nightly_completed();
    let mut running_job = sample::job();
    running_job.delivery_id = "still-running".to_owned();
    let running = Callback {
        job: running_job,
        ..sample::in_progress()
    };
    post_and_project(
        &ingest,
        &projector,
        &[
            first.to_json(),
            second.to_json(),
            nightly.to_json(),
            running.to_json(),
        ],
        4,
    )
    .await;

    let rows = current_rows(s).await;
    let second_key = second_job.key().unwrap().to_string();
    let mut attempts: Vec<(&str, u32, &str)> = rows
        .iter()
        .map(|r| (r.dynamo_key.as_str(), r.run_attempt, r.name.as_str()))
        .collect();
    attempts.sort_unstable();
    let mut expected = vec![
        (JOB_KEY, 1, "test_add_xpu"),
        (JOB_KEY, 1, "test_conv"),
        (JOB_KEY, 1, "test_without_class"),
        (second_key.as_str(), 2, "test_conv"),
    ];
    expected.sort_unstable();
    assert_eq!(attempts, expected);
    assert!(rows
        .iter()
        .all(|r| r.run_id == rows[0].run_id && r.workflow_name == "xpu-ci"));
    let nightly_key = nightly.job.key().unwrap().to_string();
    let physical = physical_rows(s).await;
    assert!(
        physical.iter().all(|r| r.dynamo_key != nightly_key),
        "a job that listed no failed tests has no rows"
    );
    assert!(
        physical
            .iter()
            .all(|r| r.dynamo_key == JOB_KEY || r.dynamo_key == second_key),
        "a running job has no rows: {physical:?}"
    );
    assert_eq!(completed_rows(s).await.unwrap().len(), 3);
}

/// Rows to compare across tables: the version counts DynamoDB writes, which differ with the
/// batches.
fn without_versions(rows: Vec<FailedTestRow>) -> Vec<FailedTestRow> {
    rows.into_iter()
        .map(|r| FailedTestRow { version: 0, ..r })
        .collect()
}

/// Several jobs, re-runs, a later result and redeliveries, projected live.
async fn seeded_stack(prefix: &str) -> (TestStores, u64) {
    let (stores, ingest, projector) = stack(prefix).await;
    let mut bodies = Vec::new();
    for n in 1..=5u64 {
        let mut job = sample::job();
        job.delivery_id = format!("delivery-{n}");
        job.run_id += n;
        let tests: Vec<FailedTest> = (0..n)
            .map(|i| failed("test.test_ops.TestOps", &format!("test_{i}"), "boom"))
            .collect();
        let completed = Callback {
            job: job.clone(),
            ..completed_with(tests)
        };
        bodies.push(
            Callback {
                job: job.clone(),
                ..sample::in_progress()
            }
            .to_json(),
        );
        bodies.push(completed.to_json());
        if n % 2 == 0 {
            bodies.push(completed.to_json());
            let later = Callback {
                completed_at: Some(datetime!(2026-04-28 11:30:00 UTC)),
                ..completed_with(vec![failed("test.test_x.TestX", "test_later", "later")])
            };
            bodies.push(Callback { job, ..later }.to_json());
        }
    }
    let total = bodies.len() as u64;
    post_and_project(&ingest, &projector, &bodies, total).await;
    projector.stop().await.unwrap();
    (stores, total)
}

#[tokio::test]
async fn replay_only_clickhouse_into_a_fresh_table_gives_the_live_rows() {
    let (stores, total) = seeded_stack("ftreplay").await;
    let live = &stores.settings;
    let args = oot_projector::replay::ReplayArgs::clickhouse_only(oot_e2e::unique_name(
        "e2e_ftreplay_rebuilt",
    ));
    let stop = tokio_util::sync::CancellationToken::new();
    let report = oot_projector::replay::replay(live, &args, false, &stop)
        .await
        .unwrap();
    assert_eq!(report.events, total);
    let mut rebuilt = live.clone();
    rebuilt.clickhouse.table = args.into_clickhouse_table.clone().unwrap();

    let live_rows = current_rows(live).await;
    assert_eq!(
        report.failed_test_rows,
        physical_rows(&rebuilt).await.len() as u64
    );
    assert_eq!(live_rows.len(), 1 + 3 + 5 + 1 + 1, "{live_rows:?}");
    assert_eq!(
        without_versions(current_rows(&rebuilt).await),
        without_versions(live_rows)
    );
}

#[tokio::test]
async fn a_stack_with_jobs_from_before_the_failed_test_table_fills_it_by_replaying_into_itself() {
    let (stores, total) = seeded_stack("ftupgrade").await;
    let s = &stores.settings;
    let before = current_rows(s).await;
    // The stack as it was before the table.
    s.clickhouse
        .client()
        .query(&format!("DROP TABLE {}", qualified_failed_tests(s)))
        .execute()
        .await
        .unwrap();
    oot_projector::app::migrate_all(s).await.unwrap();
    assert!(physical_rows(s).await.is_empty(), "made, empty");

    let args = oot_projector::replay::ReplayArgs::into_existing(s);
    let stop = tokio_util::sync::CancellationToken::new();
    let report = oot_projector::replay::replay(s, &args, false, &stop)
        .await
        .unwrap();
    assert_eq!(report.events, total);
    assert_eq!(report.jobs_written, 0, "the jobs were there already");
    assert_eq!(current_rows(s).await, before, "the same rows, versions too");
}

/// A jobs table made before `failed_tests_listed` gets it from migrate (twice is once), and it
/// counts the entries of the lists already stored and of those written after.
#[tokio::test]
async fn a_jobs_table_made_before_its_list_sizes_gets_them_from_migrate() {
    let stores = TestStores::unique("listed");
    let s = &stores.settings;
    let client = s.clickhouse.client();
    let version = stores.clickhouse_database_made().await.unwrap();
    let before: String = oot_platform::migrate::completed_jobs_ddl(&s.clickhouse, &version)
        .lines()
        .filter(|line| !line.contains(" MATERIALIZED "))
        .map(|line| line.replace("environment String,", "environment String"))
        .collect::<Vec<_>>()
        .join("\n");
    client.query(&before).execute().await.unwrap();
    let insert = |key: &str, list: &str| {
        format!(
            "INSERT INTO {} (dynamoKey, version, failed_tests_json) VALUES ('{key}', 1, '{list}')",
            s.clickhouse.qualified_table()
        )
    };
    let two =
        r#"[{"name":"test_a","classname":"C","message":"x"},{"name":"test_b","classname":"C"}]"#;
    client
        .query(&insert("old-two", two))
        .execute()
        .await
        .unwrap();
    client
        .query(&insert("old-none", ""))
        .execute()
        .await
        .unwrap();

    for _ in 0..2 {
        oot_platform::migrate::ensure_clickhouse(&client, &s.clickhouse)
            .await
            .unwrap();
    }
    let one = r#"[{"name":"test_c","classname":""}]"#;
    client
        .query(&insert("new-one", one))
        .execute()
        .await
        .unwrap();
    let sizes: Vec<(String, u64)> = client
        .query(&format!(
            "SELECT dynamoKey, failed_tests_listed FROM {} ORDER BY dynamoKey",
            s.clickhouse.qualified_table()
        ))
        .fetch_all()
        .await
        .unwrap();
    let expected =
        [("new-one", 1), ("old-none", 0), ("old-two", 2)].map(|(key, n)| (key.to_owned(), n));
    assert_eq!(sizes, expected);
}

#[tokio::test]
async fn migrate_makes_the_table_once_and_retention_drops_its_expired_months() {
    let stores = TestStores::unique("ftretention");
    let s = &stores.settings;
    let client = s.clickhouse.client();
    for _ in 0..2 {
        oot_platform::migrate::ensure_clickhouse(&client, &s.clickhouse)
            .await
            .unwrap();
    }
    let rows =
        oot_projector::failed_test_rows::FailedTestRows::new(client.clone(), &s.clickhouse.table);
    let now = time::OffsetDateTime::now_utc();
    let row = |first_seen_at: u32, name: &str| FailedTestRow {
        downstream_repo: "a/b".into(),
        classname: "C".into(),
        name: name.into(),
        first_seen_at,
        dynamo_key: format!("key-{name}"),
        version: 1,
        upstream_repo: "pytorch/pytorch".into(),
        pr_number: Some(7),
        pytorch_head_sha: String::new(),
        event_type: "pull_request".into(),
        workflow_name: "w".into(),
        job_name: "j".into(),
        run_id: "1".into(),
        run_attempt: 1,
        conclusion: "failure".into(),
        completed_at: first_seen_at,
        message: String::new(),
        message_truncated: 0,
        duration_s: None,
    };
    rows.insert(&[
        row(1_580_000_000, "old"), // January 2020
        row(now.unix_timestamp() as u32, "new"),
    ])
    .await
    .unwrap();

    let mut settings = s.clickhouse.clone();
    settings.ttl_days = 365;
    let dropped = oot_projector::retention::drop_expired_partitions(&client, &settings, now)
        .await
        .unwrap();
    let table = failed_tests_table(&s.clickhouse.table);
    // The failed tests by job and on PRs (read tables kept by their views) lose the month with
    // their source.
    let read_table = |suffix: &str| format!("{}{suffix}:202001", s.clickhouse.table);
    assert_eq!(
        dropped,
        vec![
            format!("{table}:202001"),
            read_table(oot_platform::read_tables::FAILED_TESTS_BY_JOB),
            read_table(oot_platform::read_tables::FAILED_TESTS_ON_PRS),
        ]
    );
    let names: Vec<String> = physical_rows(s).await.into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["new"]);
}
