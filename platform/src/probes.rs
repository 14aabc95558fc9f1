//! Readiness probes of the three stores: each asks for the project's own object (the topic, the
//! table), so "ready" means the service can do its work, not only that a port is open.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::health::Probe;
use crate::settings::{ClickHouseSettings, DynamoSettings, KafkaSettings};

/// The event topic exists and has a leader for every partition.
pub fn kafka_probe(kafka: &KafkaSettings) -> anyhow::Result<Probe> {
    // One long-lived client: librdkafka keeps its connections, so a probe costs one metadata
    // request rather than a new session with the cluster.
    let client: Arc<BaseConsumer> = Arc::new(
        kafka
            .client_config()
            .create()
            .context("creating the Kafka client for readiness")?,
    );
    let topic = kafka.topic.clone();
    Ok(Probe::new("kafka", move || {
        let client = client.clone();
        let topic = topic.clone();
        async move {
            tokio::task::spawn_blocking(move || topic_has_leaders(&client, &topic))
                .await
                .map_err(|e| format!("probe task failed: {e}"))?
        }
    }))
}

fn topic_has_leaders(client: &BaseConsumer, topic: &str) -> Result<(), String> {
    let metadata = client
        .fetch_metadata(Some(topic), Duration::from_secs(2))
        .map_err(|e| format!("metadata request failed: {e}"))?;
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Err(format!("topic {topic} not in the broker's metadata"));
    };
    if let Some(error) = found.error() {
        return Err(format!("topic {topic}: {:?}", error));
    }
    if found.partitions().is_empty() || found.partitions().iter().any(|p| p.leader() < 0) {
        return Err(format!("topic {topic} has partitions without a leader"));
    }
    Ok(())
}

/// The job table exists and answers.
pub fn dynamo_probe(client: aws_sdk_dynamodb::Client, dynamo: &DynamoSettings) -> Probe {
    let table = dynamo.table.clone();
    Probe::new("dynamodb", move || {
        let client = client.clone();
        let table = table.clone();
        async move {
            client
                .describe_table()
                .table_name(&table)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    format!(
                        "table {table}: {}",
                        aws_sdk_dynamodb::error::DisplayErrorContext(e)
                    )
                })
        }
    })
}

/// The completed-jobs table exists and answers.
pub fn clickhouse_probe(client: clickhouse::Client, clickhouse: &ClickHouseSettings) -> Probe {
    let database = clickhouse.database.clone();
    let table = clickhouse.table.clone();
    Probe::new("clickhouse", move || {
        let client = client.clone();
        let (database, table) = (database.clone(), table.clone());
        async move {
            let found = crate::read_tables::exists(&client, &database, &table)
                .await
                .map_err(|e| e.to_string())?;
            if found {
                Ok(())
            } else {
                Err(format!("table {database}.{table} does not exist"))
            }
        }
    })
}
