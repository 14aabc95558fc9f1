//! Alerts against the real stack (issue 13, docs/contract.md §17): callbacks go in through
//! ingest onto the test's own topic, the alert evaluator (`oot-alerts`, in this process, on its
//! own consumer group and its own DynamoDB table) opens and closes alerts, and a webhook
//! receiver on loopback checks every delivery's signature and idempotency key; the query
//! service lists the alerts with their delivery status.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use clap::Parser as _;
use hmac::{Hmac, KeyInit, Mac};
use oot_alerts::metrics::AlertsMetrics;
use oot_alerts::settings::{AlertsCli, AlertsSettings};
use oot_contract::Conclusion;
use oot_e2e::callbacks::{repo, sample, Job, Trigger};
use oot_e2e::{
    eventually, ingest_config, projector_config, query_config, unique_name, TestIngest,
    TestProjector, TestQuery, TestStores,
};
use secrecy::SecretString;
use serde_json::Value;
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "e2e-alerts-webhook-secret";
const WORKFLOW: &str = "xpu-nightly";
const JOB: &str = "linux-xpu / nightly";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Call {
    signature: String,
    idempotency_key: String,
    body: String,
}

/// A webhook receiver on loopback: answers 500 to its first `failures` requests, 200 after;
/// keeps every request.
struct Receiver {
    url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    shutdown: CancellationToken,
}

#[derive(Clone)]
struct ReceiverState {
    calls: Arc<Mutex<Vec<Call>>>,
    failures_left: Arc<AtomicUsize>,
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    state.calls.lock().unwrap().push(Call {
        signature: header("x-oot-signature"),
        idempotency_key: header("idempotency-key"),
        body,
    });
    let failing = state
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

impl Receiver {
    async fn start(failures: usize) -> Receiver {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = ReceiverState {
            calls: calls.clone(),
            failures_left: Arc::new(AtomicUsize::new(failures)),
        };
        let router = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shutdown = CancellationToken::new();
        tokio::spawn(oot_platform::shutdown::serve_until_cancelled(
            listener,
            router,
            shutdown.clone(),
        ));
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            calls,
            shutdown,
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The signature the receiver expects, computed here with the HMAC crate directly.
fn expected_signature(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// Checks a call's signature and idempotency key; its body as JSON.
fn checked(call: &Call) -> Value {
    assert_eq!(
        call.signature,
        expected_signature(&call.body),
        "the signature is the HMAC-SHA256 of the body"
    );
    let body: Value = serde_json::from_str(&call.body).unwrap();
    let key = format!(
        "{}:{}",
        body["alert_id"].as_str().unwrap(),
        body["kind"].as_str().unwrap()
    );
    assert_eq!(call.idempotency_key, key);
    body
}

/// The rules file of a test: `backend`'s failing streak of 3, closed by 2 passes, sent to
/// `url`; the other rules off, so only the streak speaks, unless `rules` (TOML lines) override
/// `backend`'s. Retries 200 ms apart.
fn config_file(backend: &str, url: &str, rules: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("{}.toml", unique_name("oot-alerts-e2e")));
    let text = format!(
        r#"
[defaults]
failing_streak = 3
m_of_k_failures = 0
pass_rate_runs = 0
stale_days = 0
refusals_per_hour = 0
recovery_passes = 2

[webhooks]
max_attempts = 5
first_retry_ms = 200
max_retry_ms = 1000
timeout_ms = 5000

[backends."{backend}"]
webhooks = ["{url}"]

[backends."{backend}".rules]
{rules}
"#
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn settings(stores: &TestStores, group: &str, config: &std::path::Path) -> AlertsSettings {
    let mut settings = AlertsCli::parse_from(["oot-alerts"]).settings;
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.group = group.to_owned();
    settings.alerts_config = Some(config.to_owned());
    settings.batch_wait_ms = 50;
    settings.hud_url = Some("https://hud.example".to_owned());
    settings.kafka = stores.settings.kafka.clone();
    settings.dynamo = stores.settings.dynamo.clone();
    settings.webhook_secret = Some(SecretString::from(SECRET));
    settings
}

/// The evaluator running in this process until stopped.
struct Evaluator {
    metrics: AlertsMetrics,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Evaluator {
    async fn start(settings: AlertsSettings) -> Evaluator {
        oot_e2e::init_telemetry();
        let app = oot_alerts::app::Application::build(settings).await.unwrap();
        let metrics = app.metrics();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Evaluator {
            metrics,
            shutdown,
            task,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }

    /// Waits until it has evaluated `events` completed runs.
    async fn evaluated(&self, events: u64) {
        eventually(
            Duration::from_secs(60),
            "the evaluator reads the runs",
            || async { self.metrics.events.get() >= events },
        )
        .await
        .unwrap();
    }
}

/// A nightly run of the test's job on upstream commit `{n:0>40}`.
fn nightly(backend: &str, run: u64) -> Job {
    Job {
        repo: repo(backend),
        trigger: Trigger::Nightly {
            upstream: repo("pytorch/pytorch"),
            head_sha: format!("{run:0>40}"),
        },
        delivery_id: format!("nightly-{run}"),
        workflow: WORKFLOW.to_owned(),
        job_name: JOB.to_owned(),
        run_id: 7_000 + run,
        run_attempt: 1,
        check_run_id: 70_000 + run,
        ..sample::job()
    }
}

async fn send(ingest: &TestIngest, backend: &str, run: u64, conclusion: Conclusion) {
    let body = nightly(backend, run)
        .completed(conclusion, time::OffsetDateTime::now_utc(), Some(60.0))
        .to_json();
    let response = ingest.post_callback(body.to_string()).await;
    assert_eq!(response.status().as_u16(), 202);
}

async fn calls_at_least(receiver: &Receiver, n: usize) -> Vec<Call> {
    eventually(
        Duration::from_secs(60),
        &format!("{n} webhook calls"),
        || async { receiver.calls().len() >= n },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: got {:#?}", receiver.calls()));
    receiver.calls()
}

/// What each evaluator test starts with: its own stores, ingest, a webhook receiver answering
/// 500 to its first `failures` requests, `backend`'s rules file (with the `rules` overrides)
/// sending to it, and the evaluator on a consumer group of its own.
struct Scene {
    stores: TestStores,
    ingest: TestIngest,
    receiver: Receiver,
    config: std::path::PathBuf,
    group: String,
    evaluator: Evaluator,
}

impl Scene {
    async fn start(backend: &str, failures: usize, rules: &str) -> Scene {
        let stores = TestStores::unique("alerts");
        let ingest = TestIngest::spawn(ingest_config(&stores.settings))
            .await
            .unwrap();
        let receiver = Receiver::start(failures).await;
        let config = config_file(backend, &receiver.url, rules);
        let group = unique_name("e2e-alerts");
        let evaluator = Evaluator::start(settings(&stores, &group, &config)).await;
        Scene {
            stores,
            ingest,
            receiver,
            config,
            group,
            evaluator,
        }
    }
}

/// Issue 13: a backend that breaks gets one webhook call naming the job and the first failing
/// commit, and one when it recovers; an evaluator restarted sends neither again; the alerts
/// JSON and page list the alert with its deliveries.
#[tokio::test]
async fn an_alert_opens_once_after_the_failures_and_closes_once_after_the_passes() {
    let backend = "acme/alerts-streak";
    let Scene {
        stores,
        ingest,
        receiver,
        config,
        group,
        evaluator,
    } = Scene::start(backend, 0, "").await;
    // The projector too, for the backend page (its jobs, beside its alerts).
    let projector = TestProjector::spawn(projector_config(&stores.settings))
        .await
        .unwrap();
    let query = TestQuery::spawn(query_config(&stores.settings))
        .await
        .unwrap();

    // Two failures: nothing yet.
    send(&ingest, backend, 1, Conclusion::Failure).await;
    send(&ingest, backend, 2, Conclusion::Failure).await;
    evaluator.evaluated(2).await;
    assert!(receiver.calls().is_empty());
    // The third opens the alert, sent once.
    send(&ingest, backend, 3, Conclusion::Failure).await;
    let calls = calls_at_least(&receiver, 1).await;
    let opened = checked(&calls[0]);
    assert_eq!(opened["kind"], "opened");
    assert_eq!(opened["rule"], "failing_streak");
    assert_eq!(opened["backend"], backend);
    assert_eq!(opened["slot"]["workflow_name"], WORKFLOW);
    assert_eq!(opened["slot"]["job_name"], JOB);
    // The first failing commit of the streak, and the runs' links.
    assert_eq!(
        opened["first_failing"]["upstream_sha"],
        format!("{:0>40}", 1)
    );
    assert_eq!(opened["first_failing"]["run_id"], "7001");
    let runs = opened["links"]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert!(
        runs[0].as_str().unwrap().starts_with("https://"),
        "{runs:?}"
    );
    assert_eq!(
        opened["links"]["alerts_page"],
        format!("https://hud.example/oot/{backend}/alerts")
    );

    // A fourth failure and a first pass: still open, nothing sent.
    send(&ingest, backend, 4, Conclusion::Failure).await;
    send(&ingest, backend, 5, Conclusion::Success).await;
    evaluator.evaluated(5).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.calls().len(), 1, "an open alert is not repeated");
    // The backend page counts it open and names its job.
    let section = alerts_section(&query, backend).await;
    assert!(section.contains("● 1 open"), "{section}");
    assert!(
        section.contains(JOB) && section.contains("failing_streak"),
        "{section}"
    );

    // The second pass in a row closes it, sent once.
    send(&ingest, backend, 6, Conclusion::Success).await;
    let calls = calls_at_least(&receiver, 2).await;
    let closed = checked(&calls[1]);
    assert_eq!(closed["kind"], "closed");
    assert_eq!(closed["alert_id"], opened["alert_id"]);
    assert!(closed["closed_at"].is_string(), "{closed:#}");

    // A restart resumes from the stored state and offsets: nothing is sent again, and a new
    // pass changes nothing.
    evaluator.stop().await;
    let evaluator = Evaluator::start(settings(&stores, &group, &config)).await;
    send(&ingest, backend, 7, Conclusion::Success).await;
    evaluator.evaluated(1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.calls().len(), 2, "{:#?}", receiver.calls());
    assert_eq!(evaluator.metrics.webhooks_total("sent"), 0);

    // The backend page: none open, one closed in its window.
    let section = alerts_section(&query, backend).await;
    assert!(section.contains("✔ none open"), "{section}");
    assert!(section.contains("1 closed in the last 7d"), "{section}");

    // The query service lists it, closed, both deliveries sent, and never the webhook URL.
    let (status, _, view) = query.get(&format!("/api/oot/{backend}/alerts")).await;
    assert_eq!(status, 200, "{view:#}");
    let listed = view["alerts"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{view:#}");
    let alert = &listed[0];
    assert_eq!(alert["id"], opened["alert_id"]);
    assert_eq!(alert["state"], "closed");
    assert_eq!(alert["webhook_status"], "sent");
    assert_eq!(alert["webhooks"].as_array().unwrap().len(), 2);
    assert_eq!(alert["first_failing"]["pr_number"], Value::Null);
    assert!(!view.to_string().contains("/hook"), "{view:#}");
    let (status, _, all) = query.get("/api/oot/alerts").await;
    assert_eq!(status, 200);
    assert!(
        all["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == opened["alert_id"]),
        "{all:#}"
    );
    let page = query
        .client
        .get(format!("{}/oot/{backend}/alerts", query.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("✔ closed") && html.contains(JOB), "{html}");
    let csv = query
        .client
        .get(format!(
            "{}/api/oot/{backend}/alerts?format=csv",
            query.base_url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    evaluator.stop().await;
    projector.stop().await.unwrap();
    let _ = std::fs::remove_file(config);
}

/// The alerts section of `backend`'s page (7-day window, the default).
async fn alerts_section(query: &TestQuery, backend: &str) -> String {
    let page = query
        .client
        .get(format!("{}/oot/{backend}", query.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    let start = html
        .find("id=\"alerts-heading\"")
        .unwrap_or_else(|| panic!("no alerts section on the backend page:\n{html}"));
    let end = html[start..]
        .find("</section>")
        .map_or(html.len(), |e| start + e);
    html[start..end].to_owned()
}

/// The evaluator's table keeps what it must and no more: DynamoDB's time to live is on, a
/// closed alert and every webhook delivery carry their expiry (the transition plus the
/// retention), an open alert and the evaluator's own items none; an item DynamoDB refuses for
/// good (a slot's runs over 400 KB) is left out and counted while the rest of the batch is
/// stored, instead of being retried forever.
#[tokio::test]
async fn closed_alerts_expire_and_an_item_dynamodb_refuses_is_left_out() {
    use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
    use oot_alerts::evaluator::{Changes, SlotKey};
    use oot_alerts::history::{Rated, Run, SlotHistory};
    use oot_alerts::lifecycle::Transition;
    use oot_alerts::store::AlertStore;
    use oot_contract::alerts::{attr, RunLink, StoredAlert};

    const RETENTION: i64 = 30 * 86_400;
    let stores = TestStores::unique("alerts-ttl");
    let client = stores.settings.dynamo.client().await;
    let store = AlertStore::new(client.clone(), &stores.settings.dynamo.table, RETENTION);
    assert!(store.ensure_table().await.unwrap());
    assert!(
        !store.ensure_table().await.unwrap(),
        "a second migrate is a no-op"
    );
    let ttl = client
        .describe_time_to_live()
        .table_name(store.table())
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some(attr::EXPIRES_AT));
    assert!(matches!(
        ttl.time_to_live_status(),
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ));

    let link = |url: String| RunLink {
        job_key: "k".to_owned(),
        run_id: "1".to_owned(),
        run_attempt: 1,
        conclusion: "failure".to_owned(),
        upstream_sha: None,
        pr_number: None,
        trigger: "nightly".to_owned(),
        url,
        received_at: 1_700_000_000_000_000,
    };
    let slot = |job: &str| SlotKey {
        backend: "acme/ttl".to_owned(),
        workflow_name: WORKFLOW.to_owned(),
        job_name: job.to_owned(),
    };
    let history = |url: String| SlotHistory {
        runs: vec![Run {
            link: link(url),
            rated: Rated::Fail,
        }],
        nightly: Vec::new(),
        last_result_at: 1_700_000_000_000_000,
    };
    let alert = |id: &str, closed_at: Option<i64>| StoredAlert {
        id: id.to_owned(),
        rule: "failing_streak".to_owned(),
        backend: "acme/ttl".to_owned(),
        workflow_name: Some(WORKFLOW.to_owned()),
        job_name: Some(JOB.to_owned()),
        summary: "failing".to_owned(),
        first_failing: None,
        runs: Vec::new(),
        opened_at: 1_700_000_000_000_000,
        closed_at,
        closed_because: closed_at.map(|_| "passed twice".to_owned()),
    };
    let closed_at = 1_700_000_500_000_000;
    let mut evaluator =
        oot_alerts::evaluator::Evaluator::new(oot_alerts::config::AlertsConfig::default());
    evaluator
        .slots
        .insert(slot("small"), history("https://ci.example/1".to_owned()));
    evaluator.slots.insert(
        slot("huge"),
        history(format!("https://ci.example/{}", "x".repeat(450 * 1024))),
    );
    let changes = Changes {
        slots: [slot("small"), slot("huge")].into_iter().collect(),
        refusals: Default::default(),
        transitions: vec![
            Transition::Opened(alert("still-open", None)),
            Transition::Closed(alert("closed", Some(closed_at))),
        ],
    };
    let stored = store.store(&evaluator, &changes, None).await.unwrap();
    assert_eq!(stored.refused, 1, "the slot over 400 KB, alone");

    let loaded = store.load().await.unwrap();
    let jobs: Vec<&str> = loaded
        .slots
        .iter()
        .map(|(key, _)| key.job_name.as_str())
        .collect();
    assert_eq!(jobs, ["small"], "the rest of the batch is stored");
    assert_eq!(loaded.alerts.len(), 1, "the open alert is resumed");

    let items = client
        .scan()
        .table_name(store.table())
        .send()
        .await
        .unwrap()
        .items()
        .to_vec();
    let expiry_of = |kind: &str, needle: &str| {
        let item = items
            .iter()
            .find(|i| {
                i.get(attr::KIND) == Some(&AttributeValue::S(kind.to_owned()))
                    && matches!(i.get(attr::SK), Some(AttributeValue::S(sk)) if sk.contains(needle))
            })
            .unwrap_or_else(|| panic!("no {kind} item {needle}: {items:#?}"));
        match item.get(attr::EXPIRES_AT) {
            Some(AttributeValue::N(n)) => Some(n.parse::<i64>().unwrap()),
            _ => None,
        }
    };
    assert_eq!(
        expiry_of("alert", "closed"),
        Some(closed_at / 1_000_000 + RETENTION)
    );
    assert_eq!(expiry_of("alert", "still-open"), None, "open alerts stay");
    assert_eq!(
        expiry_of("slot", "small"),
        None,
        "the evaluator's own state stays"
    );
}

/// Refusals over the rate open a backend-wide alert, once, from ingest's receipts on the
/// deliveries topic: a team whose callbacks are refused hears of it, with the reason's word.
#[tokio::test]
async fn callbacks_refused_over_the_rate_open_one_alert_for_the_backend() {
    let backend = "acme/alerts-refusals";
    let Scene {
        ingest,
        receiver,
        config,
        evaluator,
        ..
    } = Scene::start(backend, 0, "refusals_per_hour = 2").await;
    let refused = |run: u64| {
        let mut body = nightly(backend, run)
            .completed(
                Conclusion::Failure,
                time::OffsetDateTime::now_utc(),
                Some(60.0),
            )
            .to_json();
        body["untrusted"]["callback_payload"]["workflow"]["run_attempt"] = "0".into();
        body
    };
    for run in 1..=2 {
        let answer = ingest.post_callback(refused(run).to_string()).await;
        assert_eq!(answer.status().as_u16(), 400);
    }
    // Two refusals in the hour are within the rate: nothing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(receiver.calls().is_empty(), "{:#?}", receiver.calls());
    // The third is over it: one alert, for the whole backend.
    for run in 3..=5 {
        let answer = ingest.post_callback(refused(run).to_string()).await;
        assert_eq!(answer.status().as_u16(), 400);
    }
    let calls = calls_at_least(&receiver, 1).await;
    let opened = checked(&calls[0]);
    assert_eq!(opened["kind"], "opened");
    assert_eq!(opened["rule"], "refusals");
    assert_eq!(opened["backend"], backend);
    assert!(
        opened["summary"].as_str().unwrap().contains("invalid"),
        "{opened:#}"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(receiver.calls().len(), 1, "an open alert is not repeated");
    evaluator.stop().await;
    let _ = std::fs::remove_file(config);
}

/// A receiver that answers 500 twice gets the same delivery again, with backoff, until it
/// answers 200; the alert's delivery is then recorded as sent after 3 tries.
#[tokio::test]
async fn a_failing_receiver_gets_retries_then_the_delivery_succeeds() {
    let backend = "acme/alerts-retry";
    let Scene {
        stores,
        ingest,
        receiver,
        config,
        evaluator,
        ..
    } = Scene::start(backend, 2, "").await;
    for run in 1..=3 {
        send(&ingest, backend, run, Conclusion::TimedOut).await;
    }
    let calls = calls_at_least(&receiver, 3).await;
    let bodies: Vec<&str> = calls.iter().map(|c| c.body.as_str()).collect();
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "every try sends the same body"
    );
    for call in &calls {
        checked(call);
    }
    eventually(
        Duration::from_secs(30),
        "the delivery is recorded as sent",
        || async { evaluator.metrics.webhooks_total("sent") == 1 },
    )
    .await
    .unwrap();
    assert_eq!(evaluator.metrics.webhooks_total("retried"), 2);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(receiver.calls().len(), 3, "nothing after the success");

    let query = TestQuery::spawn(query_config(&stores.settings))
        .await
        .unwrap();
    let path = format!("/api/oot/{backend}/alerts");
    let found = eventually(
        Duration::from_secs(30),
        "the alerts JSON shows the delivery sent",
        || async {
            let (_, _, view) = query.get(&path).await;
            view["alerts"][0]["webhooks"][0]["state"] == "sent"
        },
    )
    .await;
    let (_, _, view) = query.get(&path).await;
    found.unwrap_or_else(|e| panic!("{e}: {view:#}"));
    let delivery = &view["alerts"][0]["webhooks"][0];
    assert_eq!(delivery["attempts"], 3, "{view:#}");
    assert_eq!(delivery["last_error"], "HTTP 500");
    assert_eq!(view["alerts"][0]["state"], "open");
    evaluator.stop().await;
    let _ = std::fs::remove_file(config);
}
