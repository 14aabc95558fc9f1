//! Nothing accepted can stop the projector (issue 9): an event a store refuses for good is parked
//! on the dead-letter topic and the partition moves on; `redrive` puts dead letters back; an
//! event of an unknown schema halts its partition only; the lag tells the truth while stuck.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::collections::BTreeSet;
use std::time::Duration;

use oot_e2e::callbacks::sample;
use oot_e2e::{
    count_messages, eventually, ingest_config, job_item, projector_config, read_topic, TestIngest,
    TestProjector, TestStores,
};
use oot_platform::settings::{KafkaSettings, StoreSettings};
use oot_projector::dead_letter::{dead_letter_topic, DeadLetterReason, DeadLetters, Store};
use rdkafka::message::{Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;

/// The callback of job `n` (its own delivery id, hence its own job key).
fn callback(n: u32, completed: bool) -> serde_json::Value {
    let mut callback = if completed {
        sample::completed()
    } else {
        sample::in_progress()
    };
    callback.job.delivery_id = format!("park-{n}");
    callback.to_json()
}

/// The event ingest makes of `body` (through a scratch topic, so nothing projects it).
async fn event_of(body: serde_json::Value) -> oot_avro::CallbackEvent {
    let scratch = TestStores::unique("template");
    let ingest = TestIngest::spawn(ingest_config(&scratch.settings))
        .await
        .unwrap();
    let response = ingest.post_callback(body.to_string()).await;
    assert_eq!(response.status().as_u16(), 202);
    let messages = read_topic(&scratch.settings.kafka, 1).await.unwrap();
    oot_avro::decode_event(messages[0].payload().unwrap()).unwrap()
}

async fn produce(kafka: &KafkaSettings, key: &str, payload: &[u8], headers: OwnedHeaders) {
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    producer
        .send(
            FutureRecord::to(&kafka.topic)
                .key(key)
                .payload(payload)
                .headers(headers),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
}

fn dead_letters_of(s: &StoreSettings) -> KafkaSettings {
    let mut dead = s.kafka.clone();
    dead.topic = dead_letter_topic(&s.kafka.topic);
    dead
}

fn header(message: &rdkafka::message::OwnedMessage, name: &str) -> Option<String> {
    message
        .headers()?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

async fn post_jobs(ingest: &TestIngest, jobs: std::ops::Range<u32>) {
    for n in jobs {
        let response = ingest.post_callback(callback(n, true).to_string()).await;
        assert_eq!(response.status().as_u16(), 202);
    }
}

#[tokio::test]
async fn an_event_dynamodb_refuses_is_parked_and_the_partition_moves_on() {
    let stores = TestStores::unique("park");
    let s = &stores.settings;
    let projector = TestProjector::spawn(projector_config(s)).await.unwrap();
    let ingest = TestIngest::spawn(ingest_config(s)).await.unwrap();

    // Decodes and merges, but DynamoDB refuses the number ("Number overflow"). Ingest refuses
    // such callbacks now, so it is written straight to the topic, as an older ingest did.
    let mut poison = event_of(callback(0, false)).await;
    poison.queue_time = Some(1e200);
    let bytes = oot_avro::encode_event(&poison).unwrap();
    produce(&s.kafka, &poison.job_key, &bytes, OwnedHeaders::new()).await;
    // Twelve other jobs after it, on every partition (its own included, almost surely).
    post_jobs(&ingest, 1..13).await;

    eventually(
        Duration::from_secs(60),
        "the other jobs projected, the refused one parked",
        || async { projector.metrics.events.get() >= 12 && projector.metrics.parked_total() >= 1 },
    )
    .await
    .unwrap();
    assert_eq!(
        projector.metrics.parked_total(),
        1,
        "only the refused job is parked"
    );
    assert!(job_item(s, &poison.job_key).await.unwrap().is_none());
    for message in read_topic(&s.kafka, 13).await.unwrap() {
        let key = String::from_utf8_lossy(message.key().unwrap()).into_owned();
        if key != poison.job_key {
            assert!(
                job_item(s, &key).await.unwrap().is_some(),
                "{key} projected"
            );
        }
    }

    let dead = read_topic(&dead_letters_of(s), 1).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].payload(), Some(&bytes[..]), "byte for byte");
    assert_eq!(dead[0].key(), Some(poison.job_key.as_bytes()));
    assert_eq!(
        header(&dead[0], "dead_letter_kind").as_deref(),
        Some("parked")
    );
    let reason = header(&dead[0], "dead_letter_reason").unwrap_or_default();
    assert!(reason.contains("dynamodb"), "{reason}");
    assert!(reason.contains(&poison.job_key), "{reason}");

    let text = oot_e2e::drill::metrics_text(&projector.base_url)
        .await
        .unwrap();
    assert!(
        text.contains("oot_projector_parked_total{reason=\"dynamodb:"),
        "{text}"
    );
    eventually(Duration::from_secs(30), "the lag falls to 0", || async {
        projector.metrics.consumer_lag.get() == 0
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn redrive_puts_dead_letters_back_once_with_their_headers_and_they_are_projected() {
    let stores = TestStores::unique("redrive");
    let s = &stores.settings;
    let projector = TestProjector::spawn(projector_config(s)).await.unwrap();
    // A dead letter as the projector wrote it when a store refused the job (since fixed), with
    // the message's own trace header, and an undecodable one beside it.
    let event = event_of(callback(1, true)).await;
    let payload = oot_avro::encode_event(&event).unwrap();
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let dead_letters = DeadLetters::new(&s.kafka.client_config(), &s.kafka.topic).unwrap();
    let parked = oot_projector::source::Poison {
        partition: 0,
        offset: 41,
        key: Some(event.job_key.clone().into_bytes()),
        payload: payload.clone(),
        headers: vec![("traceparent".into(), Some(traceparent.as_bytes().to_vec()))],
        reason: DeadLetterReason::Parked(oot_projector::dead_letter::StoreRefusal {
            store: Store::DynamoDb,
            job_key: event.job_key.clone(),
            code: "ValidationException".into(),
            message: "Item size has exceeded the maximum allowed size".into(),
        }),
    };
    dead_letters.send(&parked).await.unwrap();
    let junk = oot_projector::source::Poison {
        payload: b"not avro".to_vec(),
        headers: Vec::new(),
        reason: DeadLetterReason::Undecodable("bad marker".into()),
        ..parked.clone()
    };
    dead_letters.send(&junk).await.unwrap();
    let before = count_messages(&s.kafka).unwrap();

    let args = |extra: &[&str]| {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: oot_projector::redrive::RedriveArgs,
        }
        let group = format!("--redrive-group={}", s.kafka.topic);
        let mut argv = vec!["redrive", group.as_str(), "--kind", "parked"];
        argv.extend_from_slice(extra);
        Cli::parse_from(argv).args
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let dry = oot_projector::redrive::redrive(&s.kafka, &args(&["--dry-run"]), &stop)
        .await
        .unwrap();
    assert_eq!((dry.examined, dry.redriven, dry.skipped), (2, 1, 1));
    assert_eq!(
        count_messages(&s.kafka).unwrap(),
        before,
        "a dry run produces nothing"
    );

    let done = oot_projector::redrive::redrive(&s.kafka, &args(&[]), &stop)
        .await
        .unwrap();
    assert_eq!((done.examined, done.redriven, done.skipped), (2, 1, 1));
    eventually(
        Duration::from_secs(60),
        "the redriven event is projected",
        || async { projector.metrics.events.get() >= 1 },
    )
    .await
    .unwrap();
    assert!(job_item(s, &event.job_key).await.unwrap().is_some());
    let messages = read_topic(&s.kafka, 1).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].payload(), Some(&payload[..]), "byte for byte");
    assert_eq!(messages[0].key(), Some(event.job_key.as_bytes()));
    let names: Vec<String> = messages[0]
        .headers()
        .map(|h| h.iter().map(|h| h.key.to_owned()).collect())
        .unwrap_or_default();
    assert_eq!(
        names,
        ["traceparent"],
        "original headers, minus the dead-letter ones"
    );
    assert_eq!(
        header(&messages[0], "traceparent").as_deref(),
        Some(traceparent)
    );

    let again = oot_projector::redrive::redrive(&s.kafka, &args(&[]), &stop)
        .await
        .unwrap();
    assert_eq!(again.redriven, 0, "a second run redrives nothing twice");
    assert_eq!(count_messages(&s.kafka).unwrap(), before + 1);
    // Reading again from an offset finds it again (the operator asked for it).
    let rescan = oot_projector::redrive::redrive(
        &s.kafka,
        &args(&["--dry-run", "--from-offset", "0"]),
        &stop,
    )
    .await
    .unwrap();
    assert_eq!(rescan.redriven, 1);
}

#[tokio::test]
async fn an_unknown_schema_halts_its_partition_only_and_nothing_of_it_is_dead_lettered() {
    let stores = TestStores::unique("halt");
    let s = &stores.settings;
    let ingest = TestIngest::spawn(ingest_config(s)).await.unwrap();
    // Make the topic, and learn which partition job 0 lands on.
    post_jobs(&ingest, 0..1).await;
    let first = read_topic(&s.kafka, 1).await.unwrap();
    let halted_partition = first[0].partition();
    let key = String::from_utf8(first[0].key().unwrap().to_vec()).unwrap();
    // A newer ingest's event: the single-object marker, a fingerprint this build does not know.
    let mut newer = vec![0xC3, 0x01];
    newer.extend_from_slice(&[0xEE; 8]);
    newer.extend_from_slice(b"a datum of schema v99");
    produce(&s.kafka, &key, &newer, OwnedHeaders::new()).await;
    post_jobs(&ingest, 1..13).await;
    let all = read_topic(&s.kafka, 14).await.unwrap();
    let newer_offset = all
        .iter()
        .find(|m| m.payload() == Some(&newer[..]))
        .map(|m| m.offset())
        .unwrap();
    // Job 0's callback precedes the newer event; everything after it on its partition waits.
    let expected: u64 = all
        .iter()
        .filter(|m| m.partition() != halted_partition || m.offset() < newer_offset)
        .count() as u64;
    let blocked: BTreeSet<String> = all
        .iter()
        .filter(|m| m.partition() == halted_partition && m.offset() > newer_offset)
        .map(|m| String::from_utf8_lossy(m.key().unwrap()).into_owned())
        .collect();

    let config = projector_config(s);
    let projector = TestProjector::spawn(config.clone()).await.unwrap();
    eventually(
        Duration::from_secs(60),
        "the other partitions projected",
        || async {
            projector.metrics.events.get() >= expected
                && projector.metrics.halted_partitions.get() == 1
        },
    )
    .await
    .unwrap();
    // Batches of the other partitions keep coming; give the halted one a chance to misbehave.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(projector.metrics.events.get(), expected);
    assert_eq!(projector.metrics.dead_letters.get(), 0, "not dead-lettered");
    for key in &blocked {
        assert!(
            job_item(s, key).await.unwrap().is_none(),
            "{key} projected past the halt"
        );
    }
    eventually(
        Duration::from_secs(30),
        "the lag counts the halted messages",
        || async { projector.metrics.consumer_lag.get() == 1 + blocked.len() as i64 },
    )
    .await
    .unwrap();
    let text = oot_e2e::drill::metrics_text(&projector.base_url)
        .await
        .unwrap();
    assert!(text.contains("oot_projector_halted_partitions 1"), "{text}");
    projector.stop().await.unwrap();

    // A restart (still without the schema) halts again at the same message: nothing was skipped.
    let again = TestProjector::spawn(config).await.unwrap();
    eventually(Duration::from_secs(60), "halted again", || async {
        again.metrics.halted_partitions.get() == 1
    })
    .await
    .unwrap();
    assert_eq!(again.metrics.dead_letters.get(), 0);
    for key in &blocked {
        assert!(
            job_item(s, key).await.unwrap().is_none(),
            "{key} projected past the halt"
        );
    }
}

#[tokio::test]
async fn the_lag_grows_while_a_batch_is_stuck_and_falls_once_it_is_stored() {
    let stores = TestStores::unique("stuck");
    let s = &stores.settings;
    let ingest = TestIngest::spawn(ingest_config(s)).await.unwrap();
    let projector = TestProjector::spawn(projector_config(s)).await.unwrap();
    post_jobs(&ingest, 0..3).await;
    eventually(Duration::from_secs(60), "first jobs projected", || async {
        projector.metrics.events.get() >= 3
    })
    .await
    .unwrap();

    // The table goes away: every INSERT fails (a transient error: it fails every row alike), so
    // the batch is retried and nothing more is committed.
    let client = s.clickhouse.client();
    client
        .query(&format!("DROP TABLE {}", s.clickhouse.qualified_table()))
        .execute()
        .await
        .unwrap();
    post_jobs(&ingest, 3..8).await;
    eventually(
        Duration::from_secs(30),
        "the lag shows the stuck events",
        || async { projector.metrics.consumer_lag.get() >= 5 },
    )
    .await
    .unwrap();
    assert_eq!(projector.metrics.events.get(), 3);
    assert_eq!(
        projector.metrics.parked_total(),
        0,
        "an outage parks nothing"
    );

    oot_platform::migrate::ensure_clickhouse(&client, &s.clickhouse)
        .await
        .unwrap();
    eventually(
        Duration::from_secs(60),
        "stored and committed; lag 0",
        || async {
            projector.metrics.events.get() >= 8 && projector.metrics.consumer_lag.get() == 0
        },
    )
    .await
    .unwrap();
    // The rows of the first three went with the dropped table; the stuck five are there.
    assert_eq!(oot_e2e::completed_rows(s).await.unwrap().len(), 5);
}
