//! Ingest throughput and latency against the local stack's Kafka, beside two baselines measured
//! in the same run:
//!
//! - `http-ceiling`: the same HTTP stack (axum on the same runtime) answering 202 after reading the
//!   body, without validating or producing — the most any endpoint could do here;
//! - `raw-producer`: rdkafka's producer, configured like ingest's, sending the same events
//!   (pre-encoded) and awaiting each acknowledgement — what the broker round trip costs alone.
//!
//! Run with the stack up (`compose/stack.sh up`):
//!
//! ```sh
//! cargo bench -p oot-ingest --bench ingest_throughput            # 5 s per cell
//! BENCH_SECS=10 BENCH_CLIENTS=1,16,128,256 cargo bench -p oot-ingest --bench ingest_throughput
//! ```
//!
//! Clients and servers share this process and its cores, as they share the machine in any case.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use clap::Parser;
use oot_demo::callback::sample;
use oot_ingest::config::IngestConfig;
use oot_platform::settings::KafkaSettings;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOKEN: &str = "benchmark-relay-secret-0001";
#[derive(Parser)]
struct KafkaFromEnv {
    #[command(flatten)]
    kafka: KafkaSettings,
}

/// Distinct callbacks (each its own job, so keys spread over partitions), like a busy relay's:
/// the contract's sample completed callback with a delivery id and check run of its own.
fn callbacks(count: usize) -> Vec<Arc<Vec<u8>>> {
    let template = sample::completed();
    (0..count)
        .map(|i| {
            let mut callback = template.clone();
            callback.job.delivery_id = format!("bench-{i:08}");
            callback.job.check_run_id = 1_000_000 + i as u64;
            Arc::new(callback.to_json().to_string().into_bytes())
        })
        .collect()
}

struct Cell {
    requests: usize,
    failures: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Cell {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[index]
    }
}

/// Runs `clients` concurrent loops of `one` for `duration`, each call timed.
async fn drive<T, F, Fut>(clients: usize, duration: Duration, items: &[T], one: F) -> Cell
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let one = one.clone();
        let items: Vec<T> = items
            .iter()
            .skip(client)
            .step_by(clients)
            .cloned()
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0;
            for item in items.iter().cycle() {
                if Instant::now() >= deadline {
                    break;
                }
                let sent = Instant::now();
                if one(item.clone()).await {
                    latencies.push(sent.elapsed());
                } else {
                    failures += 1;
                }
            }
            (latencies, failures)
        }));
    }
    let mut cell = Cell {
        requests: 0,
        failures: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        let (latencies, failures) = task.await.expect("client task");
        cell.failures += failures;
        cell.latencies.extend(latencies);
    }
    cell.elapsed = start.elapsed();
    cell.requests = cell.latencies.len();
    cell.latencies.sort_unstable();
    cell
}

async fn serve(router: axum::Router, shutdown: CancellationToken) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(oot_platform::shutdown::serve_until_cancelled(
        listener, router, shutdown,
    ));
    port
}

fn http_poster(
    client: reqwest::Client,
    url: String,
) -> impl Fn(Arc<Vec<u8>>) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> + Clone
{
    move |body: Arc<Vec<u8>>| {
        let request = client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-hud-internal-bot", TOKEN)
            .body(body.as_ref().clone());
        Box::pin(async move {
            request
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 202)
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let clients: Vec<usize> = std::env::var("BENCH_CLIENTS")
        .unwrap_or_else(|_| "1,16,128".to_owned())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let duration = Duration::from_secs(secs);
    let modes = std::env::var("BENCH_MODES")
        .unwrap_or_else(|_| "http-ceiling,ingest,raw-producer".to_owned());
    let runs = |mode: &str| modes.split(',').any(|m| m.trim() == mode);

    let mut kafka = KafkaFromEnv::parse_from(["bench"]).kafka;
    kafka.topic = format!("bench-ingest-{}", uuid::Uuid::now_v7().simple());
    // Its refusals' receipts stay off the stack's deliveries topic.
    kafka.deliveries_topic = format!("{}-deliveries", kafka.topic);
    let config = IngestConfig::parse_from(["bench", "--tokens", TOKEN, "--rate-limit", "0"]);
    let config = IngestConfig {
        listen: "127.0.0.1:0".parse()?,
        kafka: kafka.clone(),
        ..config
    };
    let linger = config.linger_ms;

    let bodies = callbacks(20_000);
    let events: Vec<Arc<(String, Vec<u8>)>> = bodies
        .iter()
        .map(|body| {
            let callback =
                oot_ingest::callback::validate_callback(body, &Default::default()).expect("valid");
            let event = oot_ingest::event::build_event(
                &callback,
                uuid::Uuid::now_v7(),
                time::OffsetDateTime::now_utc(),
                body,
            );
            Arc::new((
                event.job_key.clone(),
                oot_avro::encode_event(&event).expect("encodes"),
            ))
        })
        .collect();

    let shutdown = CancellationToken::new();
    let app = oot_ingest::app::Application::build(config).await?;
    let ingest_url = format!("http://127.0.0.1:{}/api/oot/results", app.port());
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let ceiling = axum::Router::new().route(
        "/api/oot/results",
        post(|_body: axum::body::Bytes| async {
            (
                axum::http::StatusCode::ACCEPTED,
                axum::Json(serde_json::json!({"event_id": "-", "job_key": "-"})),
            )
        }),
    );
    let ceiling_url = format!(
        "http://127.0.0.1:{}/api/oot/results",
        serve(ceiling, shutdown.clone()).await
    );
    let producer: FutureProducer = kafka
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", linger.to_string())
        .set("compression.type", "lz4")
        .create()?;
    let producer = Arc::new(producer);

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()?;
    // Warm-up: connections, the topic's leaders, the allocator.
    drive(
        16,
        Duration::from_secs(1),
        &bodies,
        http_poster(client.clone(), ingest_url.clone()),
    )
    .await;

    println!("ingest benchmark: {secs} s per cell, topic {} ({} partitions), linger.ms {linger}, acks=all, idempotent", kafka.topic, kafka.partitions);
    println!(
        "{:<14} {:>7} {:>10} {:>9} {:>9} {:>8}",
        "mode", "clients", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let mut summary = Vec::new();
    for &c in &clients {
        let skipped = || Cell {
            requests: 0,
            failures: 0,
            elapsed: Duration::from_secs(1),
            latencies: Vec::new(),
        };
        let ceiling_cell = if runs("http-ceiling") {
            drive(
                c,
                duration,
                &bodies,
                http_poster(client.clone(), ceiling_url.clone()),
            )
            .await
        } else {
            skipped()
        };
        let ingest_cell = if runs("ingest") {
            drive(
                c,
                duration,
                &bodies,
                http_poster(client.clone(), ingest_url.clone()),
            )
            .await
        } else {
            skipped()
        };
        let (producer, topic) = (producer.clone(), kafka.topic.clone());
        let raw_cell = if !runs("raw-producer") {
            skipped()
        } else {
            drive(
                c,
                duration,
                &events,
                move |event: Arc<(String, Vec<u8>)>| {
                    let (producer, topic) = (producer.clone(), topic.clone());
                    async move {
                        let (key, payload) = event.as_ref();
                        let record = FutureRecord::to(&topic).key(key).payload(payload);
                        producer.send(record, Duration::from_secs(1)).await.is_ok()
                    }
                },
            )
            .await
        };
        for (mode, cell) in [
            ("http-ceiling", &ceiling_cell),
            ("ingest", &ingest_cell),
            ("raw-producer", &raw_cell),
        ] {
            println!(
                "{:<14} {:>7} {:>10.0} {:>9.2} {:>9.2} {:>8}",
                mode,
                c,
                cell.rate(),
                cell.percentile(0.50).as_secs_f64() * 1e3,
                cell.percentile(0.99).as_secs_f64() * 1e3,
                cell.failures
            );
        }
        summary.push((
            c,
            ingest_cell.rate() / ceiling_cell.rate(),
            ingest_cell.rate() / raw_cell.rate(),
        ));
    }
    println!();
    for (c, vs_ceiling, vs_raw) in summary {
        let mut line = format!(
            "{c:>4} clients: ingest = {:.0}% of the HTTP ceiling",
            vs_ceiling * 100.0
        );
        if vs_raw.is_finite() && vs_raw > 0.0 {
            line.push_str(&format!(", {:.0}% of the raw producer", vs_raw * 100.0));
        }
        println!("{line}");
    }
    shutdown.cancel();
    Ok(())
}
