//! Bounded work at ingest (issue 9): a body that breaks the contract a million times gets a
//! small 400 quickly, listing the first problems and counting the rest.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::time::Instant;

use oot_contract::limits::MAX_PROBLEMS_LISTED;
use oot_e2e::fixtures::COMPLETED;
use oot_e2e::{ingest_config, TestIngest, TestStores};

#[tokio::test]
async fn a_2_mb_body_of_a_million_problems_gets_a_small_400() {
    let stores = TestStores::unique("bounded");
    let ingest = TestIngest::spawn(ingest_config(&stores.settings))
        .await
        .unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(COMPLETED).unwrap();
    // ~2 MB: a million one-digit numbers where failed-test objects belong.
    let numbers = vec![serde_json::Value::from(1); 1_000_000];
    doc["untrusted"]["callback_payload"]["workflow"]["failed_tests"] =
        serde_json::Value::Array(numbers);
    let body = serde_json::to_vec(&doc).unwrap();
    assert!(body.len() < 2 * 1024 * 1024, "{} bytes", body.len());

    let started = Instant::now();
    let response = ingest.post_callback(body.clone()).await;
    let status = response.status().as_u16();
    let answer = response.bytes().await.unwrap();
    let took = started.elapsed();
    println!(
        "{} byte body answered {status} with {} bytes in {took:?}",
        body.len(),
        answer.len()
    );
    assert_eq!(status, 400);
    assert!(answer.len() < 16 * 1024, "answer of {} bytes", answer.len());
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["error"], "validation_failed");
    assert_eq!(answer["problems_total"], 1_000_000);
    let problems = answer["problems"].as_array().unwrap();
    assert_eq!(problems.len(), MAX_PROBLEMS_LISTED);
    assert_eq!(
        problems[0]["field"],
        "untrusted.callback_payload.workflow.failed_tests[0]"
    );
}

/// A 503 (the log is down) gives the repo's rate-limit slot back: without that, a relay retrying
/// through a broker outage finds itself rate-limited once the broker is back.
#[tokio::test]
async fn answers_503_do_not_use_up_the_rate_limit() {
    let mut stores = TestStores::unique("bounded");
    // Nothing listens on port 9 (discard) on loopback here.
    stores.settings.kafka.brokers = "127.0.0.1:9".into();
    let config = oot_ingest::config::IngestConfig {
        rate_limit: 2,
        rate_window_secs: 600,
        delivery_timeout_ms: 300,
        ..ingest_config(&stores.settings)
    };
    let state = oot_ingest::app::ingest_state(&config, oot_ingest::clock::Clock::system()).unwrap();
    let ingest = TestIngest::spawn_routes(state).await.unwrap();
    for attempt in 0..4 {
        let status = ingest
            .post_callback(oot_e2e::fixtures::IN_PROGRESS)
            .await
            .status()
            .as_u16();
        assert_eq!(status, 503, "attempt {attempt} of a limit of 2 per window");
    }
}
