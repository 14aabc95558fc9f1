//! The delivery log against the real stack (docs/contract.md §16): callbacks go in through
//! ingest, their receipts through the deliveries topic and the projector, and come out of the
//! query service's deliveries JSON and page, each refusal with its reasons.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::time::Duration;

use oot_e2e::callbacks::sample;
use oot_e2e::{
    eventually, ingest_config, projector_config, query_config, unique_name, TestIngest,
    TestProjector, TestQuery, TestStores,
};
use serde_json::Value;

const XPU: &str = "intel/torch-xpu-ops";
const RUN_ATTEMPT: &str = "untrusted.callback_payload.workflow.run_attempt";

/// Its own stores, with ingest (rate limit `rate_limit` per 10 minutes, 0: none), a projector
/// and the query service on them.
async fn stack(
    prefix: &str,
    rate_limit: u32,
) -> (TestStores, TestIngest, TestProjector, TestQuery) {
    let stores = TestStores::unique(prefix);
    let projector = TestProjector::spawn(projector_config(&stores.settings))
        .await
        .unwrap();
    let (ingest, query) = ingest_and_query(&stores, rate_limit).await;
    (stores, ingest, projector, query)
}

async fn ingest_and_query(stores: &TestStores, rate_limit: u32) -> (TestIngest, TestQuery) {
    let mut config = ingest_config(&stores.settings);
    config.rate_limit = rate_limit;
    config.rate_window_secs = 600;
    let ingest = TestIngest::spawn(config).await.unwrap();
    let query = TestQuery::spawn(query_config(&stores.settings))
        .await
        .unwrap();
    (ingest, query)
}

/// The sample `in_progress` callback with `run_attempt` "0": refused naming that field.
fn bad_run_attempt() -> Value {
    let mut body = sample::in_progress().to_json();
    body["untrusted"]["callback_payload"]["workflow"]["run_attempt"] = "0".into();
    body
}

/// The deliveries JSON of `XPU` with `params` (e.g. `outcome=refused`), once it lists `count`
/// deliveries.
async fn deliveries_once(query: &TestQuery, params: &str, count: usize) -> Value {
    let path = format!("/api/oot/{XPU}/deliveries?{params}");
    let last = std::cell::RefCell::new(Value::Null);
    let found = eventually(
        Duration::from_secs(60),
        &format!("{path} lists {count} deliveries"),
        || async {
            let (status, _, body) = query.get(&path).await;
            let listed = body["deliveries"].as_array().map_or(0, Vec::len);
            last.replace(body);
            status == 200 && listed >= count
        },
    )
    .await;
    let last = last.into_inner();
    found.unwrap_or_else(|e| panic!("{e}: last answer {last:#}"));
    // Asked again: the counts are read beside the list, and may have been read just before
    // the rows arrived.
    let (status, _, again) = query.get(&path).await;
    assert_eq!(status, 200, "{again:#}");
    again
}

async fn page(query: &TestQuery, path: &str) -> String {
    let response = query
        .client
        .get(format!("{}{path}", query.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{path}");
    response.text().await.unwrap()
}

async fn metrics_of(base_url: &str) -> String {
    reqwest::get(format!("{base_url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Issue 13: a downstream team sees why its callback was refused without asking anyone. The
/// refused callback is on the deliveries JSON and page with the field path and the reason the
/// 400 gave; a request without a valid token is counted in ingest's metrics and nowhere else.
#[tokio::test]
async fn a_refused_callback_appears_on_the_deliveries_page_with_its_reason_and_field_path() {
    let (_stores, ingest, _projector, query) = stack("deliveries", 0).await;

    // No valid token: whatever the body names, nobody to attribute it to.
    let unauthenticated = ingest
        .post_with_token(
            bad_run_attempt().to_string(),
            Some("not-a-valid-token-at-all"),
        )
        .await;
    assert_eq!(unauthenticated.status().as_u16(), 401);

    let refused = ingest.post_callback(bad_run_attempt().to_string()).await;
    assert_eq!(refused.status().as_u16(), 400);
    let answer: Value = refused.json().await.unwrap();
    assert_eq!(answer["problems"][0]["field"], RUN_ATTEMPT);

    let view = deliveries_once(&query, "outcome=refused", 1).await;
    let listed = view["deliveries"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "the 401 is not listed: {view:#}");
    let delivery = &listed[0];
    assert_eq!(delivery["outcome"], "invalid");
    assert_eq!(delivery["status"], 400);
    assert_eq!(delivery["accepted"], false);
    assert_eq!(delivery["error"], "validation_failed");
    // The problems exactly as the 400 listed them.
    assert_eq!(delivery["problems"][0]["field"], RUN_ATTEMPT);
    assert_eq!(
        delivery["problems"][0]["message"],
        answer["problems"][0]["message"]
    );
    assert_eq!(
        delivery["problems"][0]["set_by"],
        "the workflow's callback step"
    );
    let summary = delivery["summary"].as_str().unwrap();
    assert!(summary.contains("Fix it"), "{summary}");
    // Every part of the job key passed its rule: the job is named.
    let key = sample::in_progress().job.key().unwrap().to_string();
    assert_eq!(delivery["job_key"], key.as_str());
    assert_eq!(
        delivery["delivery_id"],
        sample::in_progress().job.delivery_id.as_str()
    );
    let excerpt = delivery["body_excerpt"].as_str().unwrap();
    assert!(
        excerpt.starts_with('{') && excerpt.len() <= 1024,
        "{excerpt}"
    );
    let counts = &view["counts"];
    assert_eq!(counts[0]["window"], "24h");
    assert_eq!(counts[0]["refused"], 1);
    assert_eq!(counts[0]["refusals"][0]["outcome"], "invalid");
    assert_eq!(counts[1]["window"], "7d");
    assert_eq!(counts[1]["total"], 1, "{counts:#}");

    // The page says the same, in words.
    let html = page(&query, &format!("/oot/{XPU}/deliveries")).await;
    assert!(html.contains("✘ refused · invalid"), "{html}");
    assert!(html.contains(RUN_ATTEMPT), "{html}");
    assert!(html.contains("must be positive"), "{html}");
    assert!(
        html.contains("Fix it in the step that sends the callback"),
        "{html}"
    );
    // The backend page counts it and links to the refusals.
    let backend = page(&query, &format!("/oot/{XPU}")).await;
    assert!(backend.contains("Deliveries by outcome"), "{backend}");
    assert!(
        backend.contains(&format!("/oot/{XPU}/deliveries?outcome=refused")),
        "{backend}"
    );

    // The 401 is in ingest's metrics, and its receipt was never made.
    let metrics = metrics_of(&ingest.base_url).await;
    assert!(
        metrics.contains("oot_ingest_refused_total{reason=\"unauthorized\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("oot_ingest_receipts_total{result=\"produced\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("oot_ingest_receipts_total{result=\"unattributed\"} 0\n"),
        "{metrics}"
    );
    let all = deliveries_once(&query, "", 1).await;
    assert_eq!(all["deliveries"].as_array().unwrap().len(), 1, "{all:#}");
}

/// A callback over its repo's rate is listed as rate limited, naming its job and when to retry;
/// the one before it as accepted.
#[tokio::test]
async fn a_rate_limited_callback_appears_as_rate_limited() {
    let (_stores, ingest, _projector, query) = stack("deliveries", 1).await;
    let body = sample::in_progress().to_json().to_string();
    assert_eq!(
        ingest.post_callback(body.clone()).await.status().as_u16(),
        202
    );
    let limited = ingest.post_callback(body).await;
    assert_eq!(limited.status().as_u16(), 429);

    let view = deliveries_once(&query, "outcome=rate_limited", 1).await;
    let delivery = &view["deliveries"][0];
    assert_eq!(delivery["status"], 429);
    assert_eq!(delivery["error"], "rate_limited");
    let retry = delivery["retry_after_seconds"].as_u64().unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    let key = sample::in_progress().job.key().unwrap().to_string();
    assert_eq!(delivery["job_key"], key.as_str());
    assert!(
        delivery["message"]
            .as_str()
            .unwrap()
            .contains("1 callbacks per 600 s"),
        "{delivery:#}"
    );
    assert_eq!(delivery["problems"], Value::Array(vec![]));

    let both = deliveries_once(&query, "", 2).await;
    let outcomes: Vec<&str> = both["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    let mut sorted = outcomes.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["changed", "rate_limited"], "{both:#}");
    let html = page(
        &query,
        &format!("/oot/{XPU}/deliveries?outcome=rate_limited"),
    )
    .await;
    assert!(html.contains("◷ refused · rate limited"), "{html}");
}

/// An accepted callback is listed as accepted, having changed its job, with the time it took to
/// be visible; the same callback delivered again as accepted and unchanged.
#[tokio::test]
async fn an_accepted_callback_is_changed_with_its_visible_time_and_its_redelivery_unchanged() {
    let (_stores, ingest, projector, query) = stack("deliveries", 0).await;
    let body = sample::in_progress().to_json().to_string();
    let first = ingest.post_callback(body.clone()).await;
    assert_eq!(first.status().as_u16(), 202);
    let first: Value = first.json().await.unwrap();
    // Projected before the redelivery arrives (a batch holding both would change the job with
    // both).
    eventually(
        Duration::from_secs(60),
        "the first is projected",
        || async { projector.metrics.events.get() >= 1 },
    )
    .await
    .unwrap();
    let again = ingest.post_callback(body).await;
    assert_eq!(again.status().as_u16(), 202);
    let again: Value = again.json().await.unwrap();

    let view = deliveries_once(&query, "outcome=accepted", 2).await;
    let listed = view["deliveries"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{view:#}");
    // Newest first: the redelivery.
    assert_eq!(listed[0]["receipt_id"], again["event_id"]);
    assert_eq!(listed[0]["outcome"], "unchanged");
    assert_eq!(listed[1]["receipt_id"], first["event_id"]);
    assert_eq!(listed[1]["outcome"], "changed");
    assert_eq!(listed[1]["status"], 202);
    assert_eq!(listed[1]["callback_status"], "in_progress");
    let visible = listed[1]["visible_after_ms"].as_u64().unwrap();
    assert!(visible < 60_000, "{visible} ms");
    assert!(
        listed[1]["summary"]
            .as_str()
            .unwrap()
            .contains("visible in the views"),
        "{view:#}"
    );
    // Filters by one accepted outcome, and counts each.
    let changed = deliveries_once(&query, "outcome=changed", 1).await;
    assert_eq!(changed["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(view["counts"][0]["changed"], 1);
    assert_eq!(view["counts"][0]["unchanged"], 1);
    assert_eq!(view["counts"][0]["refused"], 0);
    let html = page(&query, &format!("/oot/{XPU}/deliveries")).await;
    assert!(html.contains("✔ accepted · changed"), "{html}");
    assert!(html.contains("= accepted · unchanged"), "{html}");
}

/// A projector stopped and started again, and one of a new group that projects the whole log
/// again (as a crash before every commit would), write the receipts' rows again; the answer
/// still lists each delivery once, with what its first projection found.
#[tokio::test]
async fn a_restarted_projector_does_not_duplicate_the_deliveries() {
    let stores = TestStores::unique("deliveries");
    let config = projector_config(&stores.settings);
    let projector = TestProjector::spawn(config.clone()).await.unwrap();
    let (ingest, query) = ingest_and_query(&stores, 0).await;
    let mut callbacks = vec![];
    for n in 0..3 {
        let mut callback = sample::in_progress();
        callback.job.delivery_id = format!("restart-{n}");
        callbacks.push(callback.to_json());
    }
    for body in &callbacks {
        assert_eq!(
            ingest
                .post_callback(body.to_string())
                .await
                .status()
                .as_u16(),
            202
        );
    }
    assert_eq!(
        ingest
            .post_callback(bad_run_attempt().to_string())
            .await
            .status()
            .as_u16(),
        400
    );
    let before = deliveries_once(&query, "", 4).await;
    let ids = |view: &Value| -> Vec<(String, String)> {
        let mut ids: Vec<(String, String)> = view["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["receipt_id"].as_str().unwrap().to_owned(),
                    d["outcome"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        ids.sort();
        ids
    };
    let first = ids(&before);
    assert_eq!(
        first.iter().filter(|(_, o)| o == "changed").count(),
        3,
        "{first:?}"
    );

    // Stopped and started again in its group: it resumes after what it committed.
    projector.stop().await.unwrap();
    let restarted = TestProjector::spawn(config).await.unwrap();
    // And a projector of a new group: every event and receipt projected a second time.
    let mut again = projector_config(&stores.settings);
    again.group = unique_name("e2e-projector-again");
    let second = TestProjector::spawn(again).await.unwrap();
    eventually(
        Duration::from_secs(60),
        "the second group writes every receipt again",
        || async {
            second.metrics.receipts_total("accepted_rows") >= 3
                && second.metrics.receipts_total("refused_rows") >= 1
        },
    )
    .await
    .unwrap();
    let physical: u64 = stores
        .settings
        .clickhouse
        .client()
        .query(&format!(
            "SELECT count() FROM {}.{}",
            stores.settings.clickhouse.database,
            oot_contract::deliveries::deliveries_table(&stores.settings.clickhouse.table)
        ))
        .fetch_one()
        .await
        .unwrap();
    assert!(
        physical >= 8,
        "each receipt is stored twice: {physical} rows"
    );

    let after = deliveries_once(&query, "", 4).await;
    assert_eq!(ids(&after), first, "each delivery once, as first found");
    assert_eq!(after["counts"][0]["total"], 4, "{after:#}");
    assert_eq!(after["counts"][0]["changed"], 3);
    assert_eq!(after["counts"][0]["unchanged"], 0);
    drop(restarted);
}

/// An event a store refuses for good (written straight to the topic, as an older ingest did:
/// today's refuses such a number) is listed as accepted but parked, with the store's reason,
/// and never as visible.
#[tokio::test]
async fn a_parked_callback_appears_as_accepted_but_parked_with_the_stores_reason() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let (stores, _ingest, projector, query) = stack("deliveries", 0).await;
    let body = sample::in_progress().to_json().to_string();
    let callback =
        oot_ingest::callback::validate_callback(body.as_bytes(), &Default::default()).unwrap();
    let mut event = oot_ingest::event::build_event(
        &callback,
        uuid::Uuid::new_v4(),
        time::OffsetDateTime::now_utc(),
        body.as_bytes(),
    );
    // DynamoDB refuses it: "Number overflow".
    event.queue_time = Some(1e200);
    let payload = oot_avro::encode_event(&event).unwrap();
    let producer: FutureProducer = stores.settings.kafka.client_config().create().unwrap();
    producer
        .send(
            FutureRecord::to(&stores.settings.kafka.topic)
                .key(&event.job_key)
                .payload(&payload),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    eventually(Duration::from_secs(60), "the event is parked", || async {
        projector.metrics.parked_total() >= 1
    })
    .await
    .unwrap();

    let view = deliveries_once(&query, "outcome=parked", 1).await;
    let delivery = &view["deliveries"][0];
    assert_eq!(delivery["receipt_id"], event.event_id.as_str());
    assert_eq!(delivery["accepted"], true);
    assert_eq!(delivery["status"], 202);
    assert_eq!(delivery["visible_after_ms"], Value::Null);
    let reason = delivery["message"].as_str().unwrap();
    assert!(reason.contains("dynamodb"), "{reason}");
    assert!(
        delivery["summary"].as_str().unwrap().contains("not shown"),
        "{delivery:#}"
    );
    assert_eq!(view["counts"][0]["parked"], 1);
}
