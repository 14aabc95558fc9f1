//! Schema as code for the rollups: the DynamoDB ledger table and the two ClickHouse tables the
//! summary and the backend header read (names from [`oot_contract::rollup`]). Created beside
//! the job tables by [`crate::migrate::ensure_job_table`] and
//! [`crate::migrate::ensure_clickhouse`], idempotently.
//!
//! A stack that had jobs before the rollups existed fills them by replaying the event log into
//! the same stores (`oot-projector replay --into-existing`): every job merges unchanged, and the
//! ledger counts each run once whatever it already holds.

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use oot_contract::rollup::{
    attr, buckets_column, cells_table, histogram, ledger_table, repos_table,
};

use crate::migrate::Outcome;
use crate::settings::{ClickHouseSettings, DynamoSettings};

const CREATE_CELLS_SQL: &str = include_str!("../sql/create_oot_job_cells.sql");
const CREATE_REPOS_SQL: &str = include_str!("../sql/create_oot_repo_latest.sql");

/// The ledger table: hash key `pk`, on-demand billing.
pub async fn ensure_ledger_table(
    client: &aws_sdk_dynamodb::Client,
    dynamo: &DynamoSettings,
) -> anyhow::Result<Outcome> {
    let table = ledger_table(&dynamo.table);
    let answer = client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr::PK)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(attr::PK)
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await;
    match answer {
        Ok(_) => Ok(Outcome::Created),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(Outcome::AlreadyThere)
        }
        Err(error) => Err(anyhow::Error::new(error.into_service_error()))
            .with_context(|| format!("creating DynamoDB table {table} at {}", dynamo.endpoint)),
    }
}

/// The cells table's TTL: keyed on `hour`, our clock, like the jobs' `first_seen_at`.
pub fn cells_ttl_expression(clickhouse: &ClickHouseSettings) -> String {
    format!("hour + toIntervalDay({})", clickhouse.ttl_days)
}

/// The `CREATE TABLE` statements of the rollup tables on a server of `server_version`.
pub fn rollup_ddl(clickhouse: &ClickHouseSettings, server_version: &str) -> [String; 2] {
    let ttl = cells_ttl_expression(clickhouse);
    let fill = |sql: &str, table: String| {
        crate::read_tables::table_ddl(clickhouse, server_version, sql, &table, &ttl)
    };
    [
        fill(CREATE_CELLS_SQL, cells_table(&clickhouse.table)),
        fill(CREATE_REPOS_SQL, repos_table(&clickhouse.table)),
    ]
}

/// The cells' histogram columns, in the order the DDL declares them after `queues`.
const HISTOGRAM_COLUMNS: [&str; 3] = [histogram::DURATION, histogram::QUEUE, histogram::END_TO_END];

/// The `ALTER TABLE`s that give a cells table made before the histograms (its `SHOW CREATE
/// TABLE` is `created`) the columns it lacks, each after the one before it.
pub fn histogram_alters(qualified_cells: &str, created: &str) -> Vec<String> {
    let mut after = "queues".to_owned();
    let mut alters = Vec::new();
    for name in HISTOGRAM_COLUMNS {
        let column = buckets_column(name);
        // 18.16 shows `name Type`, current releases `` `name` Type ``.
        if !created.contains(&column) {
            alters.push(format!(
                "ALTER TABLE {qualified_cells} ADD COLUMN {column} Array(Int64) AFTER {after}"
            ));
        }
        after = column;
    }
    alters
}

/// Creates the rollup tables if missing, and gives a cells table made before the histograms
/// their columns (`client` may have any current database).
pub async fn ensure_rollup_tables(
    client: &clickhouse::Client,
    clickhouse: &ClickHouseSettings,
    server_version: &str,
) -> anyhow::Result<()> {
    let context = || format!("creating the rollup tables at {}", clickhouse.url);
    for ddl in rollup_ddl(clickhouse, server_version) {
        client
            .query(&clickhouse.ddl(&ddl))
            .execute()
            .await
            .with_context(context)?;
    }
    let cells = cells_table(&clickhouse.table);
    let created = crate::read_tables::create_statement(client, &clickhouse.database, &cells)
        .await
        .with_context(context)?;
    let qualified = format!("{}.{cells}", clickhouse.database);
    for alter in histogram_alters(&qualified, &created) {
        tracing::info!(table = %qualified, %alter, "adding the cells' histograms");
        let done = client.query(&clickhouse.ddl(&alter)).execute().await;
        if let Err(error) = done {
            // 18.16 has no ADD COLUMN IF NOT EXISTS: another migrate that ran at once may have
            // added it first, which is as good.
            let now = crate::read_tables::create_statement(client, &clickhouse.database, &cells)
                .await
                .with_context(context)?;
            if !histogram_alters(&qualified, &now).contains(&alter) {
                continue;
            }
            return Err(anyhow::Error::new(error)).with_context(context);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_names_the_derived_tables_and_ttl_only_where_supported() {
        let settings = ClickHouseSettings {
            database: "db".into(),
            table: "jobs".into(),
            ..crate::migrate::tests::settings(90)
        };
        let [cells, repos] = rollup_ddl(&settings, "18.16.1");
        assert!(cells.contains("db.jobs_cells"), "{cells}");
        assert!(repos.contains("db.jobs_repos"), "{repos}");
        assert!(
            !cells.contains("{ttl_clause}") && !cells.contains("\nTTL"),
            "{cells}"
        );
        let [cells, _] = rollup_ddl(&settings, "26.9.1");
        assert!(cells.contains("\nTTL hour + toIntervalDay(90)"), "{cells}");
    }

    #[test]
    fn a_cells_table_from_before_the_histograms_gets_each_column_once() {
        let settings = crate::migrate::tests::settings(90);
        let [new, _] = rollup_ddl(&settings, "18.16.1");
        assert_eq!(histogram_alters("db.c", &new), Vec::<String>::new());
        let old = new
            .lines()
            .filter(|line| !line.contains("_buckets"))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("queues Int64,", "queues Int64");
        assert_eq!(
            histogram_alters("db.c", &old),
            [
                "ALTER TABLE db.c ADD COLUMN duration_buckets Array(Int64) AFTER queues",
                "ALTER TABLE db.c ADD COLUMN queue_buckets Array(Int64) AFTER duration_buckets",
                "ALTER TABLE db.c ADD COLUMN e2e_buckets Array(Int64) AFTER queue_buckets",
            ]
        );
    }
}
