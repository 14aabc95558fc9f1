//! Schema as code for the delivery log (docs/contract.md §16): the deliveries topic and the
//! deliveries table ([`oot_contract::deliveries::deliveries_table`], named after the
//! completed-jobs table), created by [`crate::migrate::ensure_clickhouse`] and
//! [`ensure_deliveries_topic`], idempotently.
//!
//! The table has its own retention (`OOT_CLICKHOUSE_DELIVERIES_TTL_DAYS`, counted from
//! `received_at`): a TTL where the server has table TTLs (given by `ALTER` to a table made
//! without it, or with another number of days), else its monthly partitions are dropped by the
//! projector's retention task (`projector/src/retention.rs`).

use std::time::Duration;

use anyhow::Context as _;
use oot_contract::deliveries::deliveries_table;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::migrate::Outcome;
use crate::settings::{ClickHouseSettings, KafkaSettings};

const CREATE_SQL: &str = include_str!("../sql/create_oot_deliveries.sql");

/// How long the deliveries topic keeps a receipt: until the projector has written it to the
/// table, which keeps it for its own retention. A week covers a projector down over a long
/// weekend; the receipts are small.
pub const DELIVERIES_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

/// The largest receipt: 50 problems of 2 × 256 bytes, a 1 KiB message and excerpt, the job
/// key; far below this.
const DELIVERIES_MAX_MESSAGE_BYTES: &str = "1048576";

/// The deliveries table's TTL expression.
pub fn deliveries_ttl_expression(clickhouse: &ClickHouseSettings) -> String {
    format!(
        "received_at + toIntervalDay({})",
        clickhouse.deliveries_ttl_days
    )
}

/// The `CREATE TABLE` of the deliveries table on a server of `server_version` (with its TTL
/// where the server has table TTLs).
pub fn deliveries_ddl(clickhouse: &ClickHouseSettings, server_version: &str) -> String {
    crate::read_tables::table_ddl(
        clickhouse,
        server_version,
        CREATE_SQL,
        &deliveries_table(&clickhouse.table),
        &deliveries_ttl_expression(clickhouse),
    )
}

/// Creates the deliveries table if missing, and gives one made without the server's TTL (or
/// with another retention) this one. `client` may have any current database.
pub async fn ensure_deliveries_table(
    client: &clickhouse::Client,
    clickhouse: &ClickHouseSettings,
    server_version: &str,
) -> anyhow::Result<()> {
    crate::read_tables::ensure_table_with_ttl(
        client,
        clickhouse,
        server_version,
        CREATE_SQL,
        &deliveries_table(&clickhouse.table),
        &deliveries_ttl_expression(clickhouse),
    )
    .await
}

/// The deliveries topic (`OOT_KAFKA_DELIVERIES_TOPIC`): the event topic's partitions and
/// replicas, [`DELIVERIES_RETENTION_MS`]. An existing topic is left as it is.
pub async fn ensure_deliveries_topic(kafka: &KafkaSettings) -> anyhow::Result<Outcome> {
    let deliveries = kafka.deliveries();
    let admin: AdminClient<DefaultClientContext> = deliveries
        .client_config()
        .create()
        .context("creating the Kafka admin client")?;
    let min_isr = deliveries.replication.clamp(1, 2).to_string();
    let retention = DELIVERIES_RETENTION_MS.to_string();
    let topic = NewTopic::new(
        &deliveries.topic,
        deliveries.partitions,
        TopicReplication::Fixed(deliveries.replication),
    )
    .set("retention.ms", &retention)
    .set("max.message.bytes", DELIVERIES_MAX_MESSAGE_BYTES)
    .set("min.insync.replicas", &min_isr);
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics([&topic], &options)
        .await
        .with_context(|| {
            format!(
                "creating Kafka topic {} at {}",
                deliveries.topic, deliveries.brokers
            )
        })?;
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(Outcome::Created),
        Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => Ok(Outcome::AlreadyThere),
        Some(Err((name, code))) => anyhow::bail!("creating Kafka topic {name}: {code}"),
        None => anyhow::bail!(
            "creating Kafka topic {}: the broker answered nothing",
            deliveries.topic
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::tests::settings;
    use crate::read_tables::declared_columns;
    use crate::read_tables::ttl_alter_to;

    #[test]
    fn the_ddl_declares_the_contract_columns_in_order() {
        assert_eq!(
            declared_columns(CREATE_SQL),
            oot_contract::deliveries::COLUMNS
        );
    }

    #[test]
    fn the_ddl_names_the_table_after_the_jobs_table_with_its_own_ttl_only_where_supported() {
        let s = ClickHouseSettings {
            deliveries_ttl_days: 14,
            ..settings(730)
        };
        let old = deliveries_ddl(&s, "18.16.1");
        assert!(
            old.contains("CREATE TABLE IF NOT EXISTS db.jobs_deliveries\n("),
            "{old}"
        );
        assert!(!old.contains('{'), "placeholder left in {old}");
        assert!(
            old.trim_end()
                .ends_with("ORDER BY (downstream_repo, accepted, received_at, receipt_id)"),
            "no TTL clause on 18.16: {old}"
        );
        let new = deliveries_ddl(&s, "26.9.2.1");
        assert!(
            new.contains("\nTTL received_at + toIntervalDay(14)\n"),
            "{new}"
        );
        // An older table with the jobs' retention gets this one.
        let made = "CREATE TABLE db.jobs_deliveries (...) ENGINE = ReplacingMergeTree(rank) \
            TTL received_at + toIntervalDay(730)";
        assert_eq!(
            ttl_alter_to(
                "db.jobs_deliveries",
                &deliveries_ttl_expression(&s),
                "26.9.2.1",
                made
            )
            .as_deref(),
            Some("ALTER TABLE db.jobs_deliveries MODIFY TTL received_at + toIntervalDay(14)")
        );
    }

    /// SQL comments must hold no `?`: the clickhouse crate would take it for a bind placeholder.
    #[test]
    fn the_ddl_has_no_question_mark() {
        assert!(!CREATE_SQL.contains('?'));
    }

    #[test]
    fn a_cluster_and_replication_apply_to_it_like_to_every_table() {
        let s = ClickHouseSettings {
            cluster: "oot".into(),
            replicated: true,
            ..settings(30)
        };
        let sql = s.ddl(&deliveries_ddl(&s, "18.16.1"));
        assert!(
            sql.contains("CREATE TABLE IF NOT EXISTS db.jobs_deliveries ON CLUSTER oot\n("),
            "{sql}"
        );
        assert!(
            sql.contains(
                "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db.jobs_deliveries', '{replica}', rank)"
            ),
            "{sql}"
        );
    }
}
