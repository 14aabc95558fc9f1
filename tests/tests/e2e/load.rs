//! `oot-load` into a test topic, then `replay --only clickhouse` checked against a replay of both
//! stores: the same completed rows, but for the versions and when they were projected.

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
    alone_stores.clickhouse.table = alone.into_clickhouse_table.clone();
    let mut both_stores = live.clone();
    both_stores.clickhouse.table = both.into_clickhouse_table.clone();
    let alone_rows = normalize(completed_rows(&alone_stores).await.unwrap());
    let both_rows = normalize(completed_rows(&both_stores).await.unwrap());
    assert_eq!(alone_rows.len(), 2_000 - 100, "every completed job, once");
    assert!(alone_rows.iter().any(|r| r.conclusion == "failure"));
    assert!(alone_rows
        .iter()
        .any(|r| r.failed_tests_json.contains("test_")));
    assert_eq!(alone_rows, both_rows);
}
