//! The three stores answer through the crates the services use, and the project's migrations
//! create its objects in them idempotently.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use oot_e2e::TestStores;
use oot_platform::migrate::{self, Outcome};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;

#[tokio::test]
async fn kafka_topic_is_created_once_and_carries_messages_with_keys_and_headers() {
    let stores = TestStores::unique("smoke");
    let kafka = &stores.settings.kafka;
    assert_eq!(
        migrate::ensure_topic(kafka).await.unwrap(),
        Outcome::Created
    );
    assert_eq!(
        migrate::ensure_topic(kafka).await.unwrap(),
        Outcome::AlreadyThere
    );

    let producer: FutureProducer = kafka
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .unwrap();
    let payload = vec![0xC3u8, 0x01, 1, 2, 3];
    let delivery = producer
        .send(
            FutureRecord::to(&kafka.topic)
                .key("intel/torch-xpu-ops/d1/xpu-ci/job/1")
                .payload(&payload)
                .headers(OwnedHeaders::new().insert(Header {
                    key: "traceparent",
                    value: Some("00-abc-def-01"),
                })),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();

    let consumer: StreamConsumer = kafka
        .client_config()
        .set("group.id", oot_e2e::unique_name("smoke-group"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[&kafka.topic]).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (message.partition(), message.offset()),
        (delivery.partition, delivery.offset)
    );
    assert_eq!(
        message.key(),
        Some("intel/torch-xpu-ops/d1/xpu-ci/job/1".as_bytes())
    );
    assert_eq!(message.payload(), Some(payload.as_slice()));
    let header = message.headers().unwrap().get(0);
    assert_eq!(
        (header.key, header.value),
        ("traceparent", Some("00-abc-def-01".as_bytes()))
    );
}

#[tokio::test]
async fn dynamodb_table_is_created_once_and_stores_items() {
    let stores = TestStores::unique("smoke");
    let dynamo = &stores.settings.dynamo;
    let client = dynamo.client().await;
    assert_eq!(
        migrate::ensure_job_table(&client, dynamo).await.unwrap(),
        Outcome::Created
    );
    assert_eq!(
        migrate::ensure_job_table(&client, dynamo).await.unwrap(),
        Outcome::AlreadyThere
    );

    let item: HashMap<String, AttributeValue> = [
        (
            "dynamoKey",
            AttributeValue::S("intel/torch-xpu-ops/d1/xpu-ci/job/1".into()),
        ),
        ("status", AttributeValue::S("in_progress".into())),
        (
            "downstream_repo",
            AttributeValue::S("intel/torch-xpu-ops".into()),
        ),
        (
            "upstream_pr",
            AttributeValue::S("pytorch/pytorch#179565".into()),
        ),
        (
            "running_pr",
            AttributeValue::S("pytorch/pytorch#179565".into()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    client
        .put_item()
        .table_name(&dynamo.table)
        .set_item(Some(item.clone()))
        .send()
        .await
        .unwrap();
    let read = client
        .get_item()
        .table_name(&dynamo.table)
        .key("dynamoKey", item["dynamoKey"].clone())
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(read.item(), Some(&item));

    // The PR index the views read running jobs from holds the item too.
    let by_pr = client
        .query()
        .table_name(&dynamo.table)
        .index_name(oot_contract::dynamo::RUNNING_PR_INDEX)
        .key_condition_expression("running_pr = :pr")
        .expression_attribute_values(":pr", AttributeValue::S("pytorch/pytorch#179565".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(by_pr.count(), 1);
}

#[derive(Debug, PartialEq, clickhouse::Row, serde::Serialize, serde::Deserialize)]
struct SmokeRow {
    #[serde(rename = "dynamoKey")]
    dynamo_key: String,
    version: u64,
    conclusion: String,
    failed_tests_json: String,
}

#[tokio::test]
async fn clickhouse_table_is_created_once_and_keeps_the_latest_version_of_a_job() {
    let stores = TestStores::unique("smoke");
    let settings = &stores.settings.clickhouse;
    let client = settings.client();
    assert_eq!(
        migrate::ensure_clickhouse(&client, settings).await.unwrap(),
        Outcome::Created
    );
    assert_eq!(
        migrate::ensure_clickhouse(&client, settings).await.unwrap(),
        Outcome::AlreadyThere
    );

    // Only the columns of the row type are sent; the others take their defaults.
    let table = settings.qualified_table();
    let columns = "dynamoKey, version, conclusion, failed_tests_json";
    let mut insert = client.insert::<SmokeRow>(&settings.table).await.unwrap();
    for (version, conclusion) in [(1, "timed_out"), (2, "failure")] {
        insert
            .write(&SmokeRow {
                dynamo_key: "intel/torch-xpu-ops/d1/xpu-ci/job/1".into(),
                version,
                conclusion: conclusion.into(),
                failed_tests_json: r#"[{"name":"test_x"}]"#.into(),
            })
            .await
            .unwrap();
    }
    insert.end().await.unwrap();

    let rows: Vec<SmokeRow> = client
        .query(&format!(
            "SELECT {columns} FROM {table} FINAL WHERE dynamoKey = ?"
        ))
        .bind("intel/torch-xpu-ops/d1/xpu-ci/job/1")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        1,
        "FINAL collapses the versions of one job: {rows:?}"
    );
    assert_eq!(
        (rows[0].version, rows[0].conclusion.as_str()),
        (2, "failure")
    );
}
