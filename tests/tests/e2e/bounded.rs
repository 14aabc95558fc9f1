//! Bounded work (issue 9): at ingest, a body that breaks the contract a million times gets a
//! small 400 quickly, listing the first problems and counting the rest, and a sender that
//! trickles its body is cut off rather than holding the body budget; in the projector, small
//! fetches still read the biggest messages the topic takes.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::time::{Duration, Instant};

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

/// A relay (or anything holding a valid token) that sends a big body slowly holds that body's
/// share of `OOT_INGEST_MAX_BODY_BYTES_IN_FLIGHT` while it does: with a budget of one 2 MiB
/// body, every other callback waits behind it. The body read timeout cuts it off with a 408
/// naming the problem, and the callbacks waiting go through.
#[tokio::test]
async fn a_slow_sender_gets_408_and_the_callbacks_waiting_behind_it_go_through() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let stores = TestStores::unique("bounded");
    let config = oot_ingest::config::IngestConfig {
        max_body_bytes_in_flight: 2 * 1024 * 1024,
        body_read_timeout_ms: 1_000,
        ..ingest_config(&stores.settings)
    };
    let ingest = TestIngest::spawn(config).await.unwrap();
    let address = ingest.base_url.trim_start_matches("http://").to_owned();

    // Declares 2 MiB, sends 100 bytes, then nothing (the connection stays open).
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/oot/results HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         x-hud-internal-bot: {}\r\ncontent-length: {}\r\n\r\n{}",
        oot_e2e::TEST_TOKENS[0],
        2 * 1024 * 1024,
        " ".repeat(100)
    );
    let started = Instant::now();
    slow.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A callback arriving meanwhile waits for the budget the slow sender holds...
    let waiting = tokio::spawn({
        let client = ingest.client.clone();
        let url = format!("{}/api/oot/results", ingest.base_url);
        async move {
            let sent = Instant::now();
            let response = client
                .post(url)
                .header("content-type", "application/json")
                .header("x-hud-internal-bot", oot_e2e::TEST_TOKENS[0])
                .body(COMPLETED)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), sent.elapsed())
        }
    });

    // ...the slow sender is answered 408 once its second is up, and the connection closed...
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut answer))
        .await
        .expect("the slow sender was not cut off within 10 s")
        .unwrap();
    let cut_off = started.elapsed();
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    println!("slow sender answered after {cut_off:?}:\n{answer}");
    assert!(answer.starts_with("http/1.1 408"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(
        answer.contains("\"error\":\"body_read_timeout\""),
        "{answer}"
    );
    assert!(answer.contains("did not arrive within 1000 ms"), "{answer}");
    assert!(
        cut_off >= Duration::from_millis(1_000) && cut_off < Duration::from_secs(5),
        "{cut_off:?}"
    );

    // ...and the waiting callback, its turn come, is accepted.
    let (status, waited) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting callback was never answered")
        .unwrap();
    println!("the callback behind it was answered {status} after {waited:?}");
    assert_eq!(status, 202);
    assert!(
        waited >= Duration::from_millis(500),
        "it did not wait for the slow sender ({waited:?}): the test shows nothing"
    );
    let metrics = oot_e2e::drill::metrics_text(&ingest.base_url)
        .await
        .unwrap();
    assert!(
        metrics.contains("oot_ingest_refused_total{reason=\"body_read_timeout\"} 1\n"),
        "{metrics}"
    );
}

/// The projector fetches the log in small pieces (its memory: lz4-compressed JSON decompresses
/// tens of times over), yet a message far bigger than a fetch, up to what the topic takes
/// (8 MiB), still arrives whole, compressed or not.
#[tokio::test]
async fn the_projector_reads_messages_far_bigger_than_its_fetches() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let stores = TestStores::unique("bounded");
    let s = &stores.settings;
    oot_platform::migrate::ensure_topic(&s.kafka).await.unwrap();
    let producer: FutureProducer = s
        .kafka
        .client_config()
        .set("compression.type", "lz4")
        .create()
        .unwrap();
    // 7 MiB that do not compress (splitmix64), and 7 MiB that compress to almost nothing.
    let mut state = 1u64;
    let random: Vec<u8> = (0..7 * 1024 * 1024 / 8)
        .flat_map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)).to_le_bytes()
        })
        .collect();
    let repeated = b"{\"failed_tests\": []} ".repeat(7 * 1024 * 1024 / 21);
    for (key, payload) in [("random", &random), ("repeated", &repeated)] {
        producer
            .send(
                FutureRecord::to(&s.kafka.topic).key(key).payload(payload),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }

    let source = oot_projector::source::EventSource::subscribe(
        s.kafka.client_config(),
        &s.kafka.topic,
        &oot_e2e::unique_name("bounded-fetch"),
    )
    .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut read = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while read.len() < 2 && Instant::now() < deadline {
        let batch = tokio::time::timeout(
            Duration::from_secs(30),
            source.next_batch(10, Duration::from_millis(200), &stop),
        )
        .await
        .expect("no batch within 30 s")
        .unwrap();
        // Not Avro: both travel as poison, whole, for the dead-letter topic.
        read.extend(batch.poison.into_iter().map(|p| p.payload));
    }
    assert_eq!(read.len(), 2, "not every big message was read");
    assert!(
        read.contains(&random),
        "the incompressible 7 MiB did not arrive whole"
    );
    assert!(
        read.contains(&repeated),
        "the compressible 7 MiB did not arrive whole"
    );
}
