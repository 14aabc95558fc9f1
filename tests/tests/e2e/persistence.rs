//! Data survives a restart of the stack. `compose/test.sh` runs `write_markers`, restarts the
//! three servers, then runs `markers_survive_restart`; both derive their object names from
//! `OOT_PERSISTENCE_MARKER`, unique per run. Ignored in plain `cargo test`, which must not
//! restart a stack other tests are using.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use oot_e2e::TestStores;
use oot_platform::migrate;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;

#[derive(Debug, clickhouse::Row, serde::Serialize, serde::Deserialize)]
struct Marker {
    #[serde(rename = "dynamoKey")]
    dynamo_key: String,
    version: u64,
}

fn marked_stores() -> (String, TestStores) {
    let marker = std::env::var("OOT_PERSISTENCE_MARKER")
        .expect("set OOT_PERSISTENCE_MARKER (compose/test.sh does)");
    assert!(
        marker.chars().all(|c| c.is_ascii_alphanumeric()),
        "marker must be alphanumeric"
    );
    let mut stores = TestStores::unique("persist");
    stores.settings.kafka.topic = format!("e2e-persist-{marker}");
    stores.settings.dynamo.table = format!("e2e-persist-{marker}");
    stores.settings.clickhouse.table = format!("e2e_persist_{marker}");
    (marker, stores)
}

#[tokio::test]
#[ignore = "run by compose/test.sh around a stack restart"]
async fn write_markers() {
    let (marker, stores) = marked_stores();
    let s = &stores.settings;
    migrate::ensure_topic(&s.kafka).await.unwrap();
    let producer: FutureProducer = s.kafka.client_config().set("acks", "all").create().unwrap();
    producer
        .send(
            FutureRecord::to(&s.kafka.topic)
                .key(&marker)
                .payload(&marker),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();

    let dynamo = s.dynamo.client().await;
    migrate::ensure_job_table(&dynamo, &s.dynamo).await.unwrap();
    dynamo
        .put_item()
        .table_name(&s.dynamo.table)
        .item("dynamoKey", AttributeValue::S(marker.clone()))
        .send()
        .await
        .unwrap();

    let clickhouse = s.clickhouse.client();
    migrate::ensure_clickhouse(&clickhouse, &s.clickhouse)
        .await
        .unwrap();
    let mut insert = clickhouse
        .insert::<Marker>(&s.clickhouse.table)
        .await
        .unwrap();
    insert
        .write(&Marker {
            dynamo_key: marker.clone(),
            version: 1,
        })
        .await
        .unwrap();
    insert.end().await.unwrap();
}

#[tokio::test]
#[ignore = "run by compose/test.sh around a stack restart"]
async fn markers_survive_restart() {
    let (marker, stores) = marked_stores();
    let s = &stores.settings;

    let consumer: StreamConsumer = s
        .kafka
        .client_config()
        .set("group.id", oot_e2e::unique_name("persist"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&s.kafka.topic]).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        message.payload(),
        Some(marker.as_bytes()),
        "kafka lost the marker"
    );

    let dynamo = s.dynamo.client().await;
    let item = dynamo
        .get_item()
        .table_name(&s.dynamo.table)
        .key("dynamoKey", AttributeValue::S(marker.clone()))
        .send()
        .await
        .unwrap();
    assert!(item.item().is_some(), "dynamodb lost the marker");

    let rows: Vec<Marker> = s
        .clickhouse
        .client()
        .query(&format!(
            "SELECT dynamoKey, version FROM {} WHERE dynamoKey = ?",
            s.clickhouse.qualified_table()
        ))
        .bind(&marker)
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "clickhouse lost the marker");
}
