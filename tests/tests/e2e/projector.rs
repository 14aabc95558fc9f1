//! The projector against the real stack: callbacks go in through ingest, the job state comes out
//! of DynamoDB and the completed rows out of ClickHouse, whatever the order and repetition.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::time::Duration;

use oot_contract::Conclusion;
use oot_e2e::callbacks::{sample, Callback};
use oot_e2e::{
    attr_n, attr_s, completed_rows, eventually, ingest_config, job_item, physical_row_count,
    projector_config, TestIngest, TestProjector, TestStores,
};
use oot_platform::settings::StoreSettings;
use serde_json::Value;
use time::macros::datetime;

const JOB_KEY: &str =
    "intel/torch-xpu-ops/a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1/xpu-ci/linux-xpu / test (default, 1, 4)/28374650001";

/// The sample callback for job `n` of the test (its own delivery id, hence its own job key).
fn for_job(sample: fn() -> Callback, n: u32) -> Value {
    let mut callback = sample();
    if n > 0 {
        callback.job.delivery_id = format!("delivery-{n}");
        // Its own workflow run too, so the rollups count each job as one run.
        callback.job.run_id += u64::from(n);
    }
    callback.to_json()
}

fn key_of(n: u32) -> String {
    if n == 0 {
        JOB_KEY.to_owned()
    } else {
        format!(
            "intel/torch-xpu-ops/delivery-{n}/xpu-ci/linux-xpu / test (default, 1, 4)/28374650001"
        )
    }
}

/// The relay sweeper's synthetic result for a job it gave up on.
fn sweeper_timeout(n: u32) -> Value {
    for_job(
        || Callback {
            conclusion: Some(Conclusion::TimedOut),
            completed_at: Some(datetime!(2026-04-28 12:15:30 UTC)),
            execution_time: None,
            test_results: None,
            failed_tests: None,
            ..sample::completed()
        },
        n,
    )
}

async fn post_all(ingest: &TestIngest, bodies: &[Value]) {
    for body in bodies {
        let response = ingest.post_callback(body.to_string()).await;
        assert_eq!(
            response.status().as_u16(),
            202,
            "{}",
            response.text().await.unwrap()
        );
    }
}

async fn wait_for_events(projector: &TestProjector, count: u64) {
    eventually(
        Duration::from_secs(60),
        "the projector projects every event",
        || async { projector.metrics.events.get() >= count },
    )
    .await
    .unwrap();
}

async fn stack(prefix: &str) -> (TestStores, TestIngest, TestProjector) {
    oot_e2e::ingest_and_projector(prefix).await
}

async fn item(
    stores: &StoreSettings,
    key: &str,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    job_item(stores, key)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no item for {key}"))
}

#[tokio::test]
async fn both_callbacks_merge_into_one_record_and_one_completed_row() {
    let (stores, ingest, projector) = stack("proj").await;
    post_all(
        &ingest,
        &[
            for_job(sample::in_progress, 0),
            for_job(sample::completed, 0),
        ],
    )
    .await;
    wait_for_events(&projector, 2).await;
    let s = &stores.settings;

    let job = item(s, JOB_KEY).await;
    assert_eq!(attr_s(&job, "status"), "completed");
    assert_eq!(attr_s(&job, "conclusion"), "failure");
    assert_eq!(
        attr_s(&job, "started_at"),
        "2026-04-28T10:15:30Z",
        "in_progress's start survives"
    );
    assert_eq!(
        attr_n(&job, "queue_time"),
        Some(12.345),
        "in_progress's queue time survives"
    );
    assert_eq!(attr_n(&job, "execution_time"), Some(1782.0));
    assert_eq!(attr_s(&job, "upstream_pr"), "pytorch/pytorch#179565");
    assert_eq!(attr_n(&job, "failed_tests"), Some(2.0));

    let rows = completed_rows(s).await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (row.dynamo_key.as_str(), row.conclusion.as_str()),
        (JOB_KEY, "failure")
    );
    assert_eq!(row.started_at, Some(1_777_371_330));
    assert_eq!(row.queue_time, Some(12.345));
    let failed: Value = serde_json::from_str(&row.failed_tests_json).unwrap();
    assert_eq!(failed[0]["name"], "test_matmul_epilogue_bf16");
    let environment: Value = serde_json::from_str(&row.environment).unwrap();
    assert_eq!(environment["device"], "Intel Data Center GPU Max 1550");
}

#[tokio::test]
async fn out_of_order_and_duplicated_callbacks_give_the_same_record_counted_once() {
    let (stores, ingest, projector) = stack("proj").await;
    // Job 1 in order, job 2 reversed, job 3 with every callback delivered three times.
    let mut bodies = vec![
        for_job(sample::in_progress, 1),
        for_job(sample::completed, 1),
        for_job(sample::completed, 2),
        for_job(sample::in_progress, 2),
    ];
    for _ in 0..3 {
        bodies.push(for_job(sample::completed, 3));
        bodies.push(for_job(sample::in_progress, 3));
    }
    post_all(&ingest, &bodies).await;
    wait_for_events(&projector, bodies.len() as u64).await;
    let s = &stores.settings;

    let reference = item(s, &key_of(1)).await;
    for n in [2, 3] {
        let job = item(s, &key_of(n)).await;
        for attribute in [
            "status",
            "conclusion",
            "started_at",
            "completed_at",
            "failed_tests_json",
            "environment",
        ] {
            assert_eq!(
                attr_s(&job, attribute),
                attr_s(&reference, attribute),
                "job {n}: {attribute}"
            );
        }
        assert_eq!(attr_n(&job, "queue_time"), Some(12.345), "job {n}");
    }
    let rows = completed_rows(s).await.unwrap();
    assert_eq!(rows.len(), 3, "one row per job: {rows:?}");
    let count_once: u64 = s
        .clickhouse
        .client()
        .query(&format!(
            "SELECT count() FROM {} FINAL",
            s.clickhouse.qualified_table()
        ))
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(count_once, 3);
}

#[tokio::test]
async fn the_real_result_beats_the_relays_timeout_whichever_arrives_first() {
    let (stores, ingest, projector) = stack("proj").await;
    let bodies = [
        sweeper_timeout(1),
        for_job(sample::completed, 1),
        for_job(sample::completed, 2),
        sweeper_timeout(2),
    ];
    post_all(&ingest, &bodies).await;
    wait_for_events(&projector, 4).await;
    let s = &stores.settings;
    for n in [1, 2] {
        let job = item(s, &key_of(n)).await;
        assert_eq!(attr_s(&job, "conclusion"), "failure", "job {n}");
        assert_eq!(
            attr_s(&job, "completed_at"),
            "2026-04-28T10:45:12Z",
            "job {n}"
        );
    }
    let rows = completed_rows(s).await.unwrap();
    assert!(rows.iter().all(|r| r.conclusion == "failure"), "{rows:?}");
}

#[tokio::test]
async fn a_running_job_is_in_dynamodb_and_its_pr_index_but_not_in_clickhouse() {
    let (stores, ingest, projector) = stack("proj").await;
    post_all(&ingest, &[for_job(sample::in_progress, 0)]).await;
    wait_for_events(&projector, 1).await;
    let s = &stores.settings;
    assert_eq!(attr_s(&item(s, JOB_KEY).await, "status"), "in_progress");
    let by_pr = s
        .dynamo
        .client()
        .await
        .query()
        .table_name(&s.dynamo.table)
        .index_name(oot_contract::dynamo::RUNNING_PR_INDEX)
        .key_condition_expression("running_pr = :pr")
        .expression_attribute_values(
            ":pr",
            aws_sdk_dynamodb::types::AttributeValue::S("pytorch/pytorch#179565".into()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(by_pr.count(), 1);
    assert!(completed_rows(s).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_undecodable_message_goes_to_the_dead_letter_topic_and_does_not_block_its_partition() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let (stores, ingest, projector) = stack("proj").await;
    let s = &stores.settings;
    let producer: FutureProducer = s.kafka.client_config().create().unwrap();
    // Same key as the job, so the same partition, ahead of the job's callbacks.
    producer
        .send(
            FutureRecord::to(&s.kafka.topic)
                .key(JOB_KEY)
                .payload(b"not avro at all"),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    post_all(&ingest, &[for_job(sample::completed, 0)]).await;
    wait_for_events(&projector, 1).await;
    assert_eq!(projector.metrics.dead_letters.get(), 1);
    assert_eq!(attr_s(&item(s, JOB_KEY).await, "status"), "completed");

    let mut dead = s.kafka.clone();
    dead.topic = oot_projector::dead_letter::dead_letter_topic(&s.kafka.topic);
    let messages = oot_e2e::read_topic(&dead, 1).await.unwrap();
    use rdkafka::message::Headers;
    use rdkafka::Message;
    assert_eq!(messages[0].payload(), Some(&b"not avro at all"[..]));
    let reason = messages[0]
        .headers()
        .unwrap()
        .iter()
        .find(|h| h.key == "dead_letter_reason")
        .and_then(|h| h.value);
    assert!(
        reason.is_some_and(|r| !r.is_empty()),
        "the reason travels with the message"
    );
}

#[tokio::test]
async fn a_projector_that_dies_between_the_stores_and_the_commit_loses_nothing_and_counts_nothing_twice(
) {
    let stores = TestStores::unique("crash");
    let s = &stores.settings;
    let ingest = TestIngest::spawn(ingest_config(s)).await.unwrap();
    let config = projector_config(s);
    oot_projector::app::migrate_all(s).await.unwrap();
    let bodies: Vec<Value> = (1..=5)
        .flat_map(|n| {
            [
                for_job(sample::in_progress, n),
                for_job(sample::completed, n),
            ]
        })
        .collect();
    post_all(&ingest, &bodies).await;

    // The first projector stores a batch in both stores, then dies before committing.
    {
        let source = oot_projector::source::EventSource::subscribe(
            s.kafka.client_config(),
            &s.kafka.topic,
            &config.group,
        )
        .unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        let mut events = Vec::new();
        while events.len() < bodies.len() {
            let batch = source
                .next_batch(100, Duration::from_millis(200), &stop)
                .await
                .unwrap();
            events.extend(batch.events.into_iter().map(|e| e.event));
        }
        let stores_of = oot_projector::app::stores_of(s).await;
        let refs: Vec<&oot_avro::CallbackEvent> = events.iter().collect();
        oot_projector::pipeline::project(&stores_of, &refs, 0, &stop)
            .await
            .unwrap();
        // Dropped here without a commit: the crash. Say it came after the ledger's transaction
        // but before the rollup rows reached ClickHouse: they are not there.
        for table in [
            oot_contract::rollup::cells_table(&s.clickhouse.table),
            oot_contract::rollup::repos_table(&s.clickhouse.table),
        ] {
            s.clickhouse
                .client()
                .query(&format!("TRUNCATE TABLE {}.{table}", s.clickhouse.database))
                .execute()
                .await
                .unwrap();
        }
    }
    let versions_before: Vec<f64> = futures::future::join_all(
        (1..=5).map(|n| async move { attr_n(&item(s, &key_of(n)).await, "version").unwrap() }),
    )
    .await;

    // Its successor in the same group resumes from the last commit: the whole batch again.
    let projector = TestProjector::spawn(config).await.unwrap();
    wait_for_events(&projector, bodies.len() as u64).await;
    assert_eq!(
        projector.metrics.dynamodb_writes.get(),
        0,
        "re-projecting wrote items again"
    );
    for (n, before) in (1..=5).zip(versions_before) {
        let job = item(s, &key_of(n)).await;
        assert_eq!(attr_n(&job, "version"), Some(before), "job {n} rewritten");
        assert_eq!(attr_s(&job, "status"), "completed");
    }
    let rows = completed_rows(s).await.unwrap();
    assert_eq!(rows.len(), 5, "each job counted once by the views' query");
    assert!(physical_row_count(s).await.unwrap() >= 5);
    // The redelivered batch changed no run in the ledger, and still re-sent the cells it
    // touched: the rollups are whole again, each job counted once.
    let summaries = oot_e2e::rollups_match_baseline(s).await.unwrap();
    let day = &summaries[0].repos;
    assert_eq!(day.len(), 1, "{day:?}");
    assert_eq!((day[0].completed, day[0].failures), (5, 5));
}

#[tokio::test]
async fn replay_rebuilds_tables_equal_to_the_live_ones() {
    let (stores, ingest, projector) = stack("replay").await;
    let mut bodies = Vec::new();
    for n in 1..=6 {
        bodies.push(for_job(sample::in_progress, n));
        if n % 3 != 0 {
            bodies.push(for_job(sample::completed, n));
        }
        if n % 2 == 0 {
            bodies.push(sweeper_timeout(n));
            bodies.push(for_job(sample::completed, n));
        }
    }
    post_all(&ingest, &bodies).await;
    wait_for_events(&projector, bodies.len() as u64).await;
    projector.stop().await.unwrap();
    let live = &stores.settings;

    let args = oot_projector::replay::ReplayArgs {
        batch_events: Some(4),
        ..oot_projector::replay::ReplayArgs::both(
            oot_e2e::unique_name("e2e-rebuilt"),
            oot_e2e::unique_name("e2e_rebuilt"),
        )
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let report = oot_projector::replay::replay(live, &args, false, &stop)
        .await
        .unwrap();
    assert_eq!(report.events, bodies.len() as u64);
    let mut rebuilt = live.clone();
    rebuilt.dynamo.table = args.into_dynamo_table.clone().unwrap_or_default();
    rebuilt.clickhouse.table = args.into_clickhouse_table.clone().unwrap();

    // Same completed rows, but for when they were projected and how many writes it took.
    let normalize = |rows: Vec<oot_projector::completed_rows::CompletedJobRow>| {
        rows.into_iter()
            .map(|mut r| {
                r.projected_at = 0;
                r.version = 0;
                r
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        normalize(completed_rows(&rebuilt).await.unwrap()),
        normalize(completed_rows(live).await.unwrap())
    );

    // Same job items, attribute for attribute, but the version counter.
    for n in 1..=6 {
        let mut live_item = item(live, &key_of(n)).await;
        let mut rebuilt_item = item(&rebuilt, &key_of(n)).await;
        live_item.remove("version");
        rebuilt_item.remove("version");
        assert_eq!(rebuilt_item, live_item, "job {n}");
    }
}

#[tokio::test]
async fn two_projectors_writing_the_same_jobs_at_once_never_regress_a_record() {
    // Two groups on one topic both project every event into the same tables: the situation of
    // a rebalance (or a replay into the live tables), made constant. Conditional writes decide.
    let stores = TestStores::unique("race");
    let s = &stores.settings;
    let ingest = TestIngest::spawn(ingest_config(s)).await.unwrap();
    let first = TestProjector::spawn(projector_config(s)).await.unwrap();
    let second = TestProjector::spawn(projector_config(s)).await.unwrap();
    let mut bodies = Vec::new();
    for n in 1..=40 {
        bodies.push(for_job(sample::completed, n));
        bodies.push(for_job(sample::in_progress, n));
        bodies.push(sweeper_timeout(n));
    }
    post_all(&ingest, &bodies).await;
    wait_for_events(&first, bodies.len() as u64).await;
    wait_for_events(&second, bodies.len() as u64).await;
    for n in 1..=40 {
        let job = item(s, &key_of(n)).await;
        assert_eq!(attr_s(&job, "status"), "completed", "job {n}");
        assert_eq!(attr_s(&job, "conclusion"), "failure", "job {n}");
        assert_eq!(
            attr_s(&job, "started_at"),
            "2026-04-28T10:15:30Z",
            "job {n}"
        );
    }
    let rows = completed_rows(s).await.unwrap();
    assert_eq!(rows.len(), 40);
    assert!(
        rows.iter()
            .all(|r| r.conclusion == "failure" && r.started_at.is_some()),
        "{rows:?}"
    );
    // Both projectors kept the rollups through one ledger: each job counted once.
    let summaries = oot_e2e::rollups_match_baseline(s).await.unwrap();
    let day = &summaries[0].repos;
    assert_eq!(day.len(), 1, "{day:?}");
    assert_eq!((day[0].completed, day[0].failures), (40, 40));
}

#[tokio::test]
async fn expired_months_are_dropped_and_recent_ones_kept() {
    let stores = TestStores::unique("retention");
    let s = &stores.settings;
    let client = s.clickhouse.client();
    oot_platform::migrate::ensure_clickhouse(&client, &s.clickhouse)
        .await
        .unwrap();
    #[derive(clickhouse::Row, serde::Serialize)]
    struct Seen {
        #[serde(rename = "dynamoKey")]
        key: String,
        version: u64,
        first_seen_at: u32,
        // Kept by the level history too (a job with no level says nothing there).
        downstream_repo_level: String,
    }
    let now = time::OffsetDateTime::now_utc();
    let mut insert = client.insert::<Seen>(&s.clickhouse.table).await.unwrap();
    insert
        .write(&Seen {
            key: "old".into(),
            version: 1,
            first_seen_at: 1_580_000_000,
            downstream_repo_level: "L2".into(),
        })
        .await
        .unwrap(); // Jan 2020
    insert
        .write(&Seen {
            key: "new".into(),
            version: 1,
            first_seen_at: now.unix_timestamp() as u32,
            downstream_repo_level: "L2".into(),
        })
        .await
        .unwrap();
    insert.end().await.unwrap();
    #[derive(clickhouse::Row, serde::Serialize)]
    struct Cell {
        downstream_repo: String,
        hour: u32,
    }
    let cells = oot_contract::rollup::cells_table(&s.clickhouse.table);
    let mut insert = client.insert::<Cell>(&cells).await.unwrap();
    for hour in [1_580_000_400, now.unix_timestamp() as u32] {
        insert
            .write(&Cell {
                downstream_repo: "a/b".into(),
                hour: hour - hour % 3600,
            })
            .await
            .unwrap();
    }
    insert.end().await.unwrap();

    let mut settings = s.clickhouse.clone();
    settings.ttl_days = 365;
    let dropped = oot_projector::retention::drop_expired_partitions(&client, &settings, now)
        .await
        .unwrap();
    // The jobs table, the read tables its views fill, and the cells: January 2020 only (the
    // failed tests by job are filled from the failed-test table, which got no row here).
    let from_jobs = oot_platform::read_tables::READ_TABLES
        .iter()
        .filter(|t| t.source_suffix.is_empty())
        .map(|t| t.name(&s.clickhouse.table));
    let mut expected: Vec<String> = [s.clickhouse.table.clone(), cells.clone()]
        .into_iter()
        .chain(from_jobs)
        .map(|t| format!("{t}:202001"))
        .collect();
    expected.sort();
    let mut dropped = dropped;
    dropped.sort();
    assert_eq!(dropped, expected);
    let hours: Vec<u32> = client
        .query(&format!(
            "SELECT toUInt32(hour) FROM {}.{cells}",
            s.clickhouse.database
        ))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(hours.len(), 1, "the recent cell is kept: {hours:?}");
    let keys: Vec<String> = client
        .query(&format!(
            "SELECT dynamoKey FROM {} ORDER BY dynamoKey",
            s.clickhouse.qualified_table()
        ))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(keys, vec!["new".to_owned()]);
}

#[tokio::test]
async fn metrics_expose_events_lag_and_freshness_for_prometheus() {
    let (_stores, ingest, projector) = stack("metrics").await;
    // One batch each: the start shows no completed row, the end does.
    post_all(&ingest, &[for_job(sample::in_progress, 0)]).await;
    wait_for_events(&projector, 1).await;
    post_all(&ingest, &[for_job(sample::completed, 0)]).await;
    wait_for_events(&projector, 2).await;
    let text = oot_e2e::drill::metrics_text(&projector.base_url)
        .await
        .unwrap();
    for metric in [
        "oot_projector_events_total 2",
        "oot_projector_consumer_lag",
        "oot_projector_freshness_seconds_count 2",
        // Only the completed event made its job's row: the start's batch inserted none.
        "oot_projector_visible_seconds_count 1",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }
    // Every stage of every batch is timed (one or two batches for the two events).
    for stage in ["jobs_read", "jobs_write", "clickhouse_insert", "rollups"] {
        let prefix = format!("oot_projector_stage_seconds_count{{stage=\"{stage}\"}} ");
        let count = text
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|n| n.trim().parse::<u64>().ok());
        assert!(
            matches!(count, Some(1..=2)),
            "{stage}: {count:?} in:\n{text}"
        );
    }
}

#[tokio::test]
async fn a_stack_with_jobs_from_before_the_rollups_fills_them_by_replaying_into_itself() {
    let (stores, ingest, projector) = stack("upgrade").await;
    let s = &stores.settings;
    let mut bodies: Vec<Value> = (1..=6)
        .flat_map(|n| {
            [
                for_job(sample::in_progress, n),
                for_job(sample::completed, n),
            ]
        })
        .collect();
    bodies.push(sweeper_timeout(7));
    post_all(&ingest, &bodies).await;
    wait_for_events(&projector, bodies.len() as u64).await;
    drop(projector);

    // The stack as it was before the rollups: no ledger, no cells, no repos table.
    let dynamo = s.dynamo.client().await;
    dynamo
        .delete_table()
        .table_name(oot_contract::rollup::ledger_table(&s.dynamo.table))
        .send()
        .await
        .unwrap();
    for table in [
        oot_contract::rollup::cells_table(&s.clickhouse.table),
        oot_contract::rollup::repos_table(&s.clickhouse.table),
    ] {
        s.clickhouse
            .client()
            .query(&format!("DROP TABLE {}.{table}", s.clickhouse.database))
            .execute()
            .await
            .unwrap();
    }
    // Upgraded: migrate makes them, empty; the summary from them knows no repo yet.
    oot_projector::app::migrate_all(s).await.unwrap();
    assert!(oot_e2e::rollups_match_baseline(s).await.is_err());

    // Replaying the log into the stack itself fills them; again, changes nothing.
    let stop = tokio_util::sync::CancellationToken::new();
    let args = oot_projector::replay::ReplayArgs::into_existing(s);
    for _ in 0..2 {
        let report = oot_projector::replay::replay(s, &args, false, &stop)
            .await
            .unwrap();
        assert_eq!(report.events, bodies.len() as u64);
        assert_eq!(report.jobs_written, 0, "the jobs were there already");
        let summaries = oot_e2e::rollups_match_baseline(s).await.unwrap();
        let day = &summaries[0].repos;
        assert_eq!(day.len(), 1, "{day:?}");
        let line = &day[0];
        assert_eq!((line.completed, line.failures, line.timed_out), (7, 6, 1));
    }
}
