//! The callback endpoint against the real broker: every answer it gives, and what reaches the log.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::collections::HashMap;

use oot_e2e::callbacks::{repo, sample, FailedTest};
use oot_e2e::fixtures::{self, COMPLETED, IN_PROGRESS, NIGHTLY_COMPLETED};
use oot_e2e::{count_messages, ingest_config, read_topic, TestIngest, TestStores, TEST_TOKENS};
use rdkafka::message::Headers;
use rdkafka::Message;
use serde_json::{json, Value};

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

fn field_named(body: &Value, field: &str) -> bool {
    body["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["field"] == field)
}

#[tokio::test]
async fn accepted_callbacks_are_in_the_log_and_decode_to_what_was_sent() {
    let stores = TestStores::unique("ingest");
    let ingest = TestIngest::spawn(ingest_config(&stores.settings))
        .await
        .unwrap();

    let mut accepted = HashMap::new();
    for body in [IN_PROGRESS, COMPLETED, NIGHTLY_COMPLETED] {
        let (status, answer) = json_of(ingest.post_callback(body).await).await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["truncated"], json!([]));
        accepted.insert(
            answer["event_id"].as_str().unwrap().to_owned(),
            (answer, body),
        );
    }

    let messages = read_topic(&stores.settings.kafka, 3).await.unwrap();
    for message in messages {
        let event = oot_avro::decode_event(message.payload().unwrap()).unwrap();
        let (answer, body) = &accepted[&event.event_id];
        assert_eq!(event.job_key, answer["job_key"]);
        assert_eq!(
            message.key(),
            Some(event.job_key.as_bytes()),
            "keyed by job"
        );
        assert_eq!(
            event.relay_document, *body,
            "the relay's document, byte for byte"
        );
        let sent = fixtures::json(body);
        let workflow = &sent["untrusted"]["callback_payload"]["workflow"];
        assert_eq!(event.workflow.status, workflow["status"]);
        assert_eq!(event.workflow.job_name, workflow["job_name"]);
        assert_eq!(
            event.workflow.run_attempt.to_string(),
            workflow["run_attempt"].as_str().unwrap()
        );
        assert_eq!(event.verified_repo, sent["trusted"]["verified_repo"]);
        assert_eq!(
            event.workflow.failed_tests.len(),
            workflow["failed_tests"].as_array().map_or(0, Vec::len)
        );

        let headers = message.headers().unwrap();
        let header = |name: &str| {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(<[u8]>::to_vec)
        };
        assert_eq!(header("event_id"), Some(event.event_id.as_bytes().to_vec()));
        let traceparent =
            String::from_utf8(header("traceparent").expect("W3C trace context")).unwrap();
        assert_eq!(traceparent.split('-').count(), 4, "{traceparent}");
    }
}

#[tokio::test]
async fn tokens_are_required_and_any_valid_one_is_accepted() {
    let stores = TestStores::unique("ingest");
    let ingest = TestIngest::spawn(ingest_config(&stores.settings))
        .await
        .unwrap();

    let (status, body) = json_of(ingest.post_with_token(IN_PROGRESS, None).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = json_of(
        ingest
            .post_with_token(IN_PROGRESS, Some("e2e-relay-secret-wrong000"))
            .await,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = json_of(
        ingest
            .post_with_token(IN_PROGRESS, Some(TEST_TOKENS[1]))
            .await,
    )
    .await;
    assert_eq!(status, 202, "the second (rotated-in) token is valid too");
}

#[tokio::test]
async fn refused_callbacks_name_their_problem_and_store_nothing() {
    let stores = TestStores::unique("ingest");
    let ingest = TestIngest::spawn(ingest_config(&stores.settings))
        .await
        .unwrap();

    const WF: &str = "/untrusted/callback_payload/workflow";
    let cases: Vec<(&str, String, &str)> = vec![
        ("not JSON", "{\"trusted\": ".to_owned(), "$"),
        (
            "missing verified_repo",
            edited("/trusted/verified_repo", None),
            "trusted.verified_repo",
        ),
        (
            "repo not owner/name",
            edited("/trusted/verified_repo", Some(json!("no-slash"))),
            "trusted.verified_repo",
        ),
        (
            "level out of range",
            edited("/trusted/downstream_repo_level", Some(json!("L5"))),
            "trusted.downstream_repo_level",
        ),
        (
            "http url",
            edited(&format!("{WF}/url"), Some(json!("http://example.com/run"))),
            "untrusted.callback_payload.workflow.url",
        ),
        (
            "run_attempt zero",
            edited(&format!("{WF}/run_attempt"), Some(json!("0"))),
            "untrusted.callback_payload.workflow.run_attempt",
        ),
        (
            "status unknown",
            edited(&format!("{WF}/status"), Some(json!("queued"))),
            "untrusted.callback_payload.workflow.status",
        ),
        (
            "conclusion on in_progress",
            edited(&format!("{WF}/conclusion"), Some(json!("success"))),
            "untrusted.callback_payload.workflow.conclusion",
        ),
        (
            "timestamp not RFC 3339",
            edited(&format!("{WF}/started_at"), Some(json!("28/04/2026"))),
            "untrusted.callback_payload.workflow.started_at",
        ),
        (
            "negative test count",
            edited(
                &format!("{WF}/test_results"),
                Some(json!({"passed": -1, "failed": 0, "skipped": 0})),
            ),
            "untrusted.callback_payload.workflow.test_results.passed",
        ),
    ];
    for (case, body, field) in cases {
        let (status, answer) = json_of(ingest.post_callback(body).await).await;
        assert_eq!(status, 400, "{case}: {answer}");
        assert!(
            field_named(&answer, field),
            "{case}: {field} not named in {answer}"
        );
    }

    // completed_at before started_at, on a completed callback.
    let mut completed = fixtures::json(NIGHTLY_COMPLETED);
    completed["untrusted"]["callback_payload"]["workflow"]["completed_at"] =
        json!("2026-04-29T01:00:00Z");
    let (status, answer) = json_of(ingest.post_callback(completed.to_string()).await).await;
    assert_eq!(status, 400);
    assert!(
        field_named(&answer, "untrusted.callback_payload.workflow.completed_at"),
        "{answer}"
    );

    let response = ingest
        .client
        .post(format!("{}/api/oot/results", ingest.base_url))
        .header("x-hud-internal-bot", TEST_TOKENS[0])
        .header("content-type", "text/plain")
        .body(IN_PROGRESS)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);

    assert_eq!(
        count_messages(&stores.settings.kafka).unwrap(),
        0,
        "a refused callback reached the log"
    );
}

/// The in_progress fixture with the field at JSON `pointer` set to `value`, or removed.
fn edited(pointer: &str, value: Option<Value>) -> String {
    let mut body = fixtures::json(IN_PROGRESS);
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let object = body.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    match value {
        Some(value) => object.insert(key.to_owned(), value),
        None => object.remove(key),
    };
    body.to_string()
}

#[tokio::test]
async fn bodies_over_two_mib_are_refused_before_being_read_whole() {
    let stores = TestStores::unique("ingest");
    let ingest = TestIngest::spawn(ingest_config(&stores.settings))
        .await
        .unwrap();
    let big = vec![b' '; 2 * 1024 * 1024 + 1];

    // Declared length over the limit: refused unread, and the connection is not reused.
    let response = ingest.post_callback(big.clone()).await;
    assert_eq!(response.headers()["connection"], "close");
    let (status, answer) = json_of(response).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (413, Some("payload_too_large"))
    );

    // No declared length (chunked): refused once the streamed bytes pass the limit.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = big
        .chunks(64 * 1024)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let streamed = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let status = ingest.post_callback(streamed).await.status().as_u16();
    assert_eq!(status, 413);

    // Exactly at the limit is read (and then judged on its content).
    let mut at_limit = IN_PROGRESS.as_bytes().to_vec();
    at_limit.resize(2 * 1024 * 1024, b' ');
    let (status, answer) = json_of(ingest.post_callback(at_limit).await).await;
    assert_eq!(status, 202, "{answer}");
}

#[tokio::test]
async fn cuts_are_reported_and_the_event_keeps_what_was_kept() {
    let stores = TestStores::unique("ingest");
    let ingest = TestIngest::spawn(ingest_config(&stores.settings))
        .await
        .unwrap();
    let mut callback = sample::completed();
    // Long messages and stack traces only on the first entries since issue 9: 1,000 entries of
    // 1 KiB messages no longer fit the stored failed-tests budget (140,000 bytes of JSON).
    let failed = (0..1500).map(|i| FailedTest {
        name: format!("t{i}"),
        classname: "C".to_owned(),
        message: if i < 3 {
            "é".repeat(600)
        } else {
            "m".to_owned()
        },
        stacktrace: (i < 3).then(|| "x".to_owned()),
        duration_s: None,
    });
    callback.failed_tests = Some(failed.collect());
    let body = callback.to_json();

    let (status, answer) = json_of(ingest.post_callback(body.to_string()).await).await;
    assert_eq!(status, 202, "{answer}");
    let truncated: Vec<&str> = answer["truncated"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        truncated
            .iter()
            .any(|t| t.contains("1000") && t.contains("1500")),
        "{truncated:?}"
    );

    let message = &read_topic(&stores.settings.kafka, 1).await.unwrap()[0];
    let event = oot_avro::decode_event(message.payload().unwrap()).unwrap();
    assert_eq!(event.workflow.failed_tests.len(), 1000);
    let first = &event.workflow.failed_tests[0];
    assert!(first.message_truncated);
    assert!(first.message.as_ref().unwrap().len() <= 1024);
    assert_eq!(event.truncations, truncated);
}

#[tokio::test]
async fn a_repo_over_its_rate_gets_429_with_retry_after_and_others_are_unaffected() {
    let stores = TestStores::unique("ingest");
    let mut config = ingest_config(&stores.settings);
    config.rate_limit = 2;
    config.rate_window_secs = 120;
    let ingest = TestIngest::spawn(config).await.unwrap();

    for _ in 0..2 {
        assert_eq!(
            ingest.post_callback(IN_PROGRESS).await.status().as_u16(),
            202
        );
    }
    let response = ingest.post_callback(IN_PROGRESS).await;
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=120).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    let (_, answer) = json_of(response).await;
    assert_eq!(answer["verified_repo"], "intel/torch-xpu-ops");

    let mut other = sample::in_progress();
    other.job.repo = repo("ascend/pytorch");
    let other = other.to_json();
    assert_eq!(
        ingest
            .post_callback(other.to_string())
            .await
            .status()
            .as_u16(),
        202
    );
    assert_eq!(
        count_messages(&stores.settings.kafka).unwrap(),
        3,
        "the refused callback reached the log"
    );
}

#[tokio::test]
async fn without_a_broker_the_answer_is_503_with_retry_after_and_never_2xx() {
    let mut stores = TestStores::unique("ingest");
    // Nothing listens on port 9 (discard) on loopback here.
    stores.settings.kafka.brokers = "127.0.0.1:9".into();
    let mut config = ingest_config(&stores.settings);
    config.delivery_timeout_ms = 1_000;
    let state = oot_ingest::app::ingest_state(&config, oot_ingest::clock::Clock::system()).unwrap();
    let ingest = TestIngest::spawn_routes(state).await.unwrap();

    let answers =
        futures::future::join_all((0..4).map(|_| ingest.post_callback(IN_PROGRESS))).await;
    for response in answers {
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(response.headers()["retry-after"], "5");
        let (_, body) = json_of(response).await;
        assert_eq!(body["error"], "log_unavailable");
    }
}

#[tokio::test]
async fn the_openapi_description_is_served_and_documents_every_answer() {
    let stores = TestStores::unique("ingest");
    let ingest = TestIngest::spawn(ingest_config(&stores.settings))
        .await
        .unwrap();
    let served = reqwest::get(format!("{}/api/oot/openapi.yaml", ingest.base_url))
        .await
        .unwrap();
    assert_eq!(served.status().as_u16(), 200);
    let text = served.text().await.unwrap();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ingest/openapi.yaml"
    ))
    .unwrap();
    assert_eq!(text, committed);

    let document: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let responses = &document["paths"]["/api/oot/results"]["post"]["responses"];
    for code in ["202", "400", "401", "408", "413", "415", "429", "503"] {
        assert!(
            responses.get(code).is_some(),
            "response {code} is not documented"
        );
    }
}

#[tokio::test]
async fn the_callers_trace_continues_into_the_event_headers() {
    let stores = TestStores::unique("ingest");
    let ingest = TestIngest::spawn(ingest_config(&stores.settings))
        .await
        .unwrap();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = ingest
        .client
        .post(format!("{}/api/oot/results", ingest.base_url))
        .header("content-type", "application/json")
        .header("x-hud-internal-bot", TEST_TOKENS[0])
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .body(IN_PROGRESS)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);

    let message = &read_topic(&stores.settings.kafka, 1).await.unwrap()[0];
    let headers = message.headers().unwrap();
    let traceparent = headers
        .iter()
        .find(|h| h.key == "traceparent")
        .and_then(|h| h.value)
        .unwrap();
    let traceparent = std::str::from_utf8(traceparent).unwrap();
    assert_eq!(
        traceparent.split('-').nth(1),
        Some(trace_id),
        "{traceparent}"
    );
}
