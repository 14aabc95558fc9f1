//! `oot-load` into a test topic, then `replay --only clickhouse` checked against a replay of both
//! stores: the same completed rows, but for the versions and when they were projected; the same
//! rollups; and `replay --only dynamodb`'s ledger against the both-stores one.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use oot_demo::load::{load, LoadSpec};
use oot_e2e::{completed_rows, unique_name, TestStores};
use oot_projector::completed_rows::CompletedJobRow;
use oot_projector::replay::{replay, ReplayArgs};
use tokio_util::sync::CancellationToken;

fn normalize(rows: Vec<CompletedJobRow>) -> Vec<CompletedJobRow> {
    rows.into_iter()
        .map(|mut r| {
            r.projected_at = 0;
            r.version = 0;
            r
        })
        .collect()
}

#[tokio::test]
async fn replay_into_clickhouse_alone_equals_a_replay_of_both_stores() {
    let stores = TestStores::unique("load");
    let live = &stores.settings;
    let spec = LoadSpec {
        jobs: 2_000,
        backends: 8,
        days: 30,
        running: 100,
        failed_tests_per_failure: 3,
        seed: 11,
    };
    let loaded = load(&live.kafka, &spec, time::OffsetDateTime::now_utc(), 2)
        .await
        .unwrap();
    assert_eq!(loaded.events, 2 * 2_000 - 100);
    let stop = CancellationToken::new();

    // ClickHouse alone, in batches small enough that jobs straddle them (the window merges).
    let alone = ReplayArgs {
        batch_events: Some(700),
        ..ReplayArgs::clickhouse_only(unique_name("e2e_load_ch"))
    };
    let report = replay(live, &alone, false, &stop).await.unwrap();
    assert_eq!(report.events, loaded.events);
    assert_eq!(report.beyond_window, 0);

    let both = ReplayArgs::both(unique_name("e2e-load-both"), unique_name("e2e_load_both"));
    let report = replay(live, &both, false, &stop).await.unwrap();
    assert_eq!(report.events, loaded.events);

    let mut alone_stores = live.clone();
    alone_stores.clickhouse.table = alone.into_clickhouse_table.clone().unwrap();
    let mut both_stores = live.clone();
    both_stores.clickhouse.table = both.into_clickhouse_table.clone().unwrap();
    both_stores.dynamo.table = both.into_dynamo_table.clone().unwrap();
    let alone_rows = normalize(completed_rows(&alone_stores).await.unwrap());
    let both_rows = normalize(completed_rows(&both_stores).await.unwrap());
    assert_eq!(alone_rows.len(), 2_000 - 100, "every completed job, once");
    assert!(alone_rows.iter().any(|r| r.conclusion == "failure"));
    assert!(alone_rows
        .iter()
        .any(|r| r.failed_tests_json.contains("test_")));
    assert_eq!(alone_rows, both_rows);

    // The rollups too: the summary read from the cells each replay wrote is the same, and the
    // same as the baseline that counts every job.
    let timeout = std::time::Duration::from_secs(10);
    let read_alone =
        oot_e2e::query_stores(&alone_stores.clickhouse, &both_stores.dynamo, timeout).await;
    let read_both =
        oot_e2e::query_stores(&both_stores.clickhouse, &both_stores.dynamo, timeout).await;
    let now = oot_query::clock::now();
    for window in oot_query::rules::Window::ALL {
        let from_alone = oot_query::api::summary_at(&read_alone, window, now)
            .await
            .unwrap();
        let from_both = oot_query::api::summary_at(&read_both, window, now)
            .await
            .unwrap();
        let baseline = oot_query::api::baseline_summary(&read_both, window, now)
            .await
            .unwrap();
        assert_eq!(from_alone.repos.len(), 8, "{window:?}");
        assert_eq!(from_alone, from_both, "{window:?}");
        assert_eq!(from_both, baseline, "{window:?}");
    }

    // DynamoDB alone: the job table and the ledger, the same cells as both stores.
    let dynamo_only = ReplayArgs::dynamodb_only(unique_name("e2e-load-dynamo"));
    let report = replay(live, &dynamo_only, false, &stop).await.unwrap();
    assert_eq!(report.events, loaded.events);
    assert_eq!(report.rows, 2_000 - 100, "rows counted, not inserted");
    let client = live.dynamo.client().await;
    let cells_of = |table: String| {
        let client = client.clone();
        async move { ledger_cells(&client, &oot_contract::rollup::ledger_table(&table)).await }
    };
    let from_dynamo = cells_of(dynamo_only.into_dynamo_table.clone().unwrap()).await;
    let from_both = cells_of(both.into_dynamo_table.clone().unwrap()).await;
    assert!(!from_dynamo.is_empty());
    assert_eq!(from_dynamo, from_both);
}

/// The ledger's cell items: each cell's key and completed count.
async fn ledger_cells(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> std::collections::BTreeMap<String, String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let mut cells = std::collections::BTreeMap::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            if let (Some(AttributeValue::S(pk)), Some(AttributeValue::N(completed))) =
                (item.get("pk"), item.get("completed"))
            {
                if pk.starts_with("cell#") {
                    cells.insert(pk.clone(), completed.clone());
                }
            }
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return cells;
        }
    }
}
