//! Each service starts against the stack, answers `/healthz` and `/readyz`, reports a missing
//! dependency by name, and stops cleanly: on its cancellation token in-process, and on SIGTERM
//! as a real process.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::process::Stdio;
use std::time::Duration;

use oot_e2e::{eventually, service_binary, TestStores};
use oot_platform::health::Readiness;
use oot_platform::probes::{clickhouse_probe, dynamo_probe, kafka_probe};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

async fn get_json(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn projector_migrates_serves_health_and_stops_on_its_token() {
    let stores = TestStores::unique("svc");
    let config = oot_e2e::projector_config(&stores.settings);
    let app = oot_projector::app::Application::build(config)
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));

    assert_eq!(
        get_json(&format!("{base}/healthz")).await,
        (200, serde_json::json!({"status": "alive"}))
    );
    let (status, body) = get_json(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    for dependency in ["kafka", "dynamodb", "clickhouse"] {
        assert_eq!(body["dependencies"][dependency]["ready"], true, "{body}");
    }

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "still serving after shutdown"
    );
}

#[tokio::test]
async fn query_service_prepares_its_tables_and_is_ready() {
    let stores = TestStores::unique("svc");
    let config = oot_e2e::query_config(&stores.settings);
    let app = oot_query::app::Application::build(config).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let (status, body) = get_json(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn readiness_names_each_missing_dependency() {
    // Objects that were never created: the servers answer, the project's objects are absent.
    let stores = TestStores::unique("absent");
    let settings = &stores.settings;
    let readiness = Readiness::new(vec![
        kafka_probe(&settings.kafka).unwrap(),
        dynamo_probe(settings.dynamo.client().await, &settings.dynamo),
        clickhouse_probe(settings.clickhouse.client(), &settings.clickhouse),
    ]);
    let report = readiness.check().await;
    for (name, failure) in report {
        let reason = failure.unwrap_or_else(|| panic!("{name} reported ready without its object"));
        assert!(!reason.is_empty(), "{name} failed without a reason");
    }
}

#[tokio::test]
async fn readiness_fails_when_a_server_is_unreachable() {
    let mut stores = TestStores::unique("down");
    // Port 9 (discard) has no listener on loopback here.
    stores.settings.dynamo.endpoint = "http://127.0.0.1:9".into();
    let probe = dynamo_probe(
        stores.settings.dynamo.client().await,
        &stores.settings.dynamo,
    );
    let report = Readiness::new(vec![probe]).check().await;
    assert_eq!(report[0].0, "dynamodb");
    assert!(report[0].1.is_some());
}

#[tokio::test]
async fn query_binary_stops_cleanly_on_sigterm() {
    let stores = TestStores::unique("sigterm");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let child = tokio::process::Command::new(service_binary("oot-query").unwrap())
        .env("OOT_QUERY_LISTEN", format!("127.0.0.1:{port}"))
        .env("OOT_DYNAMO_TABLE", &stores.settings.dynamo.table)
        .env(
            "OOT_CLICKHOUSE_DATABASE",
            &stores.settings.clickhouse.database,
        )
        .env("OOT_CLICKHOUSE_TABLE", &stores.settings.clickhouse.table)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    eventually(
        Duration::from_secs(30),
        "oot-query answers /healthz",
        || async {
            reqwest::get(&healthz)
                .await
                .is_ok_and(|r| r.status().is_success())
        },
    )
    .await
    .unwrap();

    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}; log:\n{log}",
        output.status
    );
    assert!(log.contains("SIGTERM"), "the stop was not logged:\n{log}");
}
