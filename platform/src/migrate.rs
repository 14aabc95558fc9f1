//! Schema as code: the event topic, the DynamoDB job table and the ClickHouse table, created by
//! the project and never by hand.
//!
//! Each `ensure_*` is idempotent: it creates what is missing and leaves what exists alone (an
//! existing topic keeps its partition count; an existing table keeps its columns), and says
//! which of the two happened. Services call the ones they depend on at start-up;
//! `oot-projector migrate` calls all three.

use std::time::Duration;

use anyhow::Context as _;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    TableStatus,
};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use oot_contract::dynamo::{
    attr, RETIRED_INDEXES, RUNNING_NIGHTLY_INDEX, RUNNING_PR_INDEX, RUNNING_REPO_INDEX,
    RUNNING_VIEW_ATTRIBUTES,
};
use oot_contract::EventType;

use crate::settings::{ClickHouseSettings, DynamoSettings, KafkaSettings};

/// What an `ensure_*` call found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    AlreadyThere,
}

/// The Avro event topic. Retention is unlimited: the log is the source of truth that replays
/// rebuild the projections from.
pub async fn ensure_topic(kafka: &KafkaSettings) -> anyhow::Result<Outcome> {
    let admin: AdminClient<DefaultClientContext> = kafka
        .client_config()
        .create()
        .context("creating the Kafka admin client")?;
    let min_isr = kafka.replication.clamp(1, 2).to_string();
    let topic = NewTopic::new(
        &kafka.topic,
        kafka.partitions,
        TopicReplication::Fixed(kafka.replication),
    )
    .set("retention.ms", "-1")
    .set("max.message.bytes", "8388608")
    .set("min.insync.replicas", &min_isr);
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics([&topic], &options)
        .await
        .with_context(|| format!("creating Kafka topic {} at {}", kafka.topic, kafka.brokers))?;
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(Outcome::Created),
        Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => Ok(Outcome::AlreadyThere),
        Some(Err((name, code))) => anyhow::bail!("creating Kafka topic {name}: {code}"),
        None => anyhow::bail!(
            "creating Kafka topic {}: the broker answered nothing",
            kafka.topic
        ),
    }
}

/// The sparse running-jobs indexes and their partition keys, which a table created before them
/// is given by [`ensure_job_table`]. These are the table's only indexes: every view reads its
/// history from ClickHouse.
pub const RUNNING_INDEXES: [(&str, &str); 3] = [
    (RUNNING_REPO_INDEX, attr::RUNNING_REPO),
    (RUNNING_PR_INDEX, attr::RUNNING_PR),
    (RUNNING_NIGHTLY_INDEX, attr::RUNNING_NIGHTLY),
];

fn string_attribute(name: &str) -> anyhow::Result<AttributeDefinition> {
    Ok(AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()?)
}

fn key(name: &str, key_type: KeyType) -> anyhow::Result<KeySchemaElement> {
    Ok(KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()?)
}

/// What the running-jobs indexes hold besides their keys.
fn view_attributes() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::Include)
        .set_non_key_attributes(Some(RUNNING_VIEW_ATTRIBUTES.map(str::to_owned).to_vec()))
        .build()
}

fn index(index_name: &str, hash: &str) -> anyhow::Result<GlobalSecondaryIndex> {
    Ok(GlobalSecondaryIndex::builder()
        .index_name(index_name)
        .key_schema(key(hash, KeyType::Hash)?)
        .key_schema(key(attr::DYNAMO_KEY, KeyType::Range)?)
        .projection(view_attributes())
        .build()?)
}

/// The job-state table: hash key `dynamoKey`, on-demand billing, the running-jobs indexes; and
/// the rollups' ledger table beside it ([`crate::rollup_tables`]).
///
/// A table of an earlier version is upgraded ([`upgrade_indexes`]): its missing running-jobs
/// indexes ([`RUNNING_INDEXES`]) are added, then its [`RETIRED_INDEXES`] deleted.
pub async fn ensure_job_table(
    client: &aws_sdk_dynamodb::Client,
    dynamo: &DynamoSettings,
) -> anyhow::Result<Outcome> {
    let context = || {
        format!(
            "preparing DynamoDB table {} at {}",
            dynamo.table, dynamo.endpoint
        )
    };
    let mut request = client
        .create_table()
        .table_name(&dynamo.table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(attr::DYNAMO_KEY)?)
        .key_schema(key(attr::DYNAMO_KEY, KeyType::Hash)?);
    for (name, hash) in RUNNING_INDEXES {
        request = request
            .attribute_definitions(string_attribute(hash)?)
            .global_secondary_indexes(index(name, hash)?);
    }
    let outcome = match request.send().await {
        Ok(_) => Outcome::Created,
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            upgrade_indexes(client, &dynamo.table)
                .await
                .with_context(context)?;
            Outcome::AlreadyThere
        }
        Err(error) => {
            return Err(anyhow::Error::new(error.into_service_error())).with_context(context)
        }
    };
    // The rollups' ledger lives beside the jobs it counts.
    crate::rollup_tables::ensure_ledger_table(client, dynamo).await?;
    Ok(outcome)
}

/// The names of the table's global secondary indexes, and whether the table and all of them
/// are active.
async fn describe_indexes(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> anyhow::Result<(Vec<String>, bool)> {
    let answer = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(
            |e| anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()),
        )?;
    let Some(description) = answer.table() else {
        anyhow::bail!("DescribeTable answered no table");
    };
    let indexes = description.global_secondary_indexes();
    let names = indexes
        .iter()
        .filter_map(|i| i.index_name().map(str::to_owned))
        .collect();
    let active = description.table_status() == Some(&TableStatus::Active)
        && indexes
            .iter()
            .all(|i| i.index_status() == Some(&IndexStatus::Active));
    Ok((names, active))
}

/// How long an index may take to build before migrate gives up (and is run again).
const INDEX_BUILD_DEADLINE: Duration = Duration::from_secs(30 * 60);

async fn wait_until_active(client: &aws_sdk_dynamodb::Client, table: &str) -> anyhow::Result<()> {
    let start = tokio::time::Instant::now();
    loop {
        if describe_indexes(client, table).await?.1 {
            return Ok(());
        }
        if start.elapsed() > INDEX_BUILD_DEADLINE {
            anyhow::bail!(
                "the table or an index was not active within {INDEX_BUILD_DEADLINE:?}; run migrate again"
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Brings an existing table's indexes to this version's: the missing [`RUNNING_INDEXES`] are
/// added (`UpdateTable` with a `GlobalSecondaryIndexUpdates` `Create`, one per call, each
/// waited for until active; DynamoDB and dynoxide build a new index from the existing items),
/// then the [`RETIRED_INDEXES`] present are deleted, one per call. Before an index is added,
/// the running items written before it are given its key ([`backfill_running_keys`]), so it
/// holds them once built.
///
/// The indexes present mark how far an upgrade went, so a run cut short is finished by the
/// next one and a finished upgrade changes nothing. The retired indexes go only once their
/// successors are active, so the views of the previous version keep working until then;
/// restart its query services once migrate has run.
async fn upgrade_indexes(client: &aws_sdk_dynamodb::Client, table: &str) -> anyhow::Result<()> {
    let (present, _) = describe_indexes(client, table).await?;
    let has = |name: &str| present.iter().any(|p| p == name);
    let missing: Vec<(&str, &str)> = RUNNING_INDEXES
        .into_iter()
        .filter(|(name, _)| !has(name))
        .collect();
    if !missing.is_empty() {
        let rewritten = backfill_running_keys(client, table).await?;
        tracing::info!(%table, rewritten, "gave the running items the keys of the running-jobs indexes");
    }
    add_indexes(client, table, &missing).await?;
    let retired: Vec<&str> = RETIRED_INDEXES.into_iter().filter(|n| has(n)).collect();
    delete_indexes(client, table, &retired).await
}

/// Deletes the indexes `names` of `table`, one per `UpdateTable`, each on an active table.
async fn delete_indexes(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    names: &[&str],
) -> anyhow::Result<()> {
    for name in names {
        wait_until_active(client, table).await?;
        let delete = DeleteGlobalSecondaryIndexAction::builder()
            .index_name(*name)
            .build()?;
        let answer = client
            .update_table()
            .table_name(table)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().delete(delete).build(),
            )
            .send()
            .await;
        match answer {
            Ok(_) => tracing::info!(%table, index = name, "deleting retired index"),
            // Another migrate deleted it meanwhile.
            Err(error)
                if error.as_service_error().is_some_and(|e| {
                    e.is_resource_not_found_exception()
                        || e.meta()
                            .message()
                            .is_some_and(|m| m.contains("does not exist"))
                }) => {}
            Err(error) => {
                return Err(anyhow::anyhow!(
                    aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string()
                ))
                .with_context(|| format!("deleting index {name}"))
            }
        }
    }
    wait_until_active(client, table).await
}

/// Adds the indexes `missing` (name, partition key) to `table`.
async fn add_indexes(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    missing: &[(&str, &str)],
) -> anyhow::Result<()> {
    for &(name, hash) in missing {
        // One index per UpdateTable, and only on an active table.
        wait_until_active(client, table).await?;
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(name)
            .key_schema(key(hash, KeyType::Hash)?)
            .key_schema(key(attr::DYNAMO_KEY, KeyType::Range)?)
            .projection(view_attributes())
            .build()?;
        let answer = client
            .update_table()
            .table_name(table)
            .attribute_definitions(string_attribute(hash)?)
            .attribute_definitions(string_attribute(attr::DYNAMO_KEY)?)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await;
        match answer {
            Ok(_) => tracing::info!(%table, index = name, "adding index"),
            // Another migrate added it meanwhile.
            Err(error)
                if error
                    .as_service_error()
                    .and_then(|e| e.meta().message())
                    .is_some_and(|m| m.contains("already exists")) => {}
            Err(error) => {
                return Err(anyhow::anyhow!(
                    aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string()
                ))
                .with_context(|| format!("adding index {name}"))
            }
        }
    }
    wait_until_active(client, table).await
}

/// Gives every running item written before the running-jobs indexes existed their keys
/// ([`attr::RUNNING_REPO`], [`attr::RUNNING_PR`], and [`attr::RUNNING_NIGHTLY`] for a
/// nightly), so the indexes find them: one scan of the table for `in_progress` items without a
/// key they should have, and one update each, conditional on the item's version (an item the
/// projector rewrote meanwhile already has its keys, or is no longer running). The version is
/// not bumped: the item's content is unchanged. Idempotent; returns how many items it gave
/// keys.
pub async fn backfill_running_keys(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> anyhow::Result<u64> {
    type Item = HashMap<String, AttributeValue>;
    let text = |item: &Item, name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    };
    // One placeholder per nightly event type, however many the contract lists.
    let nightly_values: Vec<String> = (0..EventType::NIGHTLY_RUNS.len())
        .map(|i| format!(":nightly{i}"))
        .collect();
    let mut rewritten = 0;
    let mut start: Option<Item> = None;
    loop {
        let mut scan = client
            .scan()
            .table_name(table)
            .filter_expression(format!(
                "#status = :running AND (attribute_not_exists(#running_repo) \
                 OR (attribute_not_exists(#running_nightly) AND attribute_not_exists(#pr_number) \
                 AND #event_type IN ({})))",
                nightly_values.join(", ")
            ))
            .projection_expression("#key, #version, #repo, #pr, #pr_number, #event_type")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#running_repo", attr::RUNNING_REPO)
            .expression_attribute_names("#running_nightly", attr::RUNNING_NIGHTLY)
            .expression_attribute_names("#pr_number", attr::PR_NUMBER)
            .expression_attribute_names("#event_type", attr::EVENT_TYPE)
            .expression_attribute_names("#key", attr::DYNAMO_KEY)
            .expression_attribute_names("#version", attr::VERSION)
            .expression_attribute_names("#repo", attr::DOWNSTREAM_REPO)
            .expression_attribute_names("#pr", attr::UPSTREAM_PR)
            .expression_attribute_values(
                ":running",
                AttributeValue::S(oot_contract::Status::InProgress.as_str().to_owned()),
            );
        for (placeholder, event_type) in nightly_values.iter().zip(EventType::NIGHTLY_RUNS) {
            scan = scan.expression_attribute_values(
                placeholder.as_str(),
                AttributeValue::S(event_type.to_owned()),
            );
        }
        let page = scan
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
            })
            .with_context(|| format!("scanning {table} for running items"))?;
        for item in page.items() {
            let (Some(key), Some(version), Some(repo)) = (
                item.get(attr::DYNAMO_KEY),
                item.get(attr::VERSION),
                text(item, attr::DOWNSTREAM_REPO),
            ) else {
                continue; // not a job item of ours: nothing to index it by
            };
            let mut update = client
                .update_item()
                .table_name(table)
                .key(attr::DYNAMO_KEY, key.clone())
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", attr::VERSION)
                .expression_attribute_names("#running_repo", attr::RUNNING_REPO)
                .expression_attribute_values(":version", version.clone())
                .expression_attribute_values(":repo", AttributeValue::S(repo));
            let mut set = vec!["#running_repo = :repo"];
            if let Some(pr) = text(item, attr::UPSTREAM_PR) {
                set.push("#running_pr = :pr");
                update = update
                    .expression_attribute_names("#running_pr", attr::RUNNING_PR)
                    .expression_attribute_values(":pr", AttributeValue::S(pr));
            }
            let event_type = text(item, attr::EVENT_TYPE).unwrap_or_default();
            if oot_contract::is_nightly_run(&event_type, item.contains_key(attr::PR_NUMBER)) {
                set.push("#running_nightly = :repo");
                update =
                    update.expression_attribute_names("#running_nightly", attr::RUNNING_NIGHTLY);
            }
            update = update.update_expression(format!("SET {}", set.join(", ")));
            match update.send().await {
                Ok(_) => rewritten += 1,
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(error) => {
                    return Err(anyhow::anyhow!(
                        aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string()
                    ))
                    .with_context(|| format!("giving a running item of {table} its index keys"))
                }
            }
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return Ok(rewritten),
        }
    }
}

const CREATE_JOB_TABLE_SQL: &str = include_str!("../sql/create_oot_workflow_job.sql");

/// ClickHouse releases from 19.6 on have table TTLs; older ones drop expired partitions instead.
pub fn supports_table_ttl(server_version: &str) -> bool {
    release_at_least(server_version, (19, 6))
}

/// ClickHouse releases from 21.1 on take the sizes of a table's compressed blocks as table
/// settings (`min_compress_block_size`); older ones only from the server's default profile,
/// for every table (compose/clickhouse/users.xml.in).
pub fn supports_table_block_sizes(server_version: &str) -> bool {
    release_at_least(server_version, (21, 1))
}

/// Whether `server_version` (`major.minor.…`, as `SELECT version()` prints it) is `release`
/// or later; an unreadable version is older than every release.
fn release_at_least(server_version: &str, release: (u32, u32)) -> bool {
    let mut parts = server_version
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= release
}

/// The table TTL: keyed on `first_seen_at`, when *we* first received the job (our clock, set
/// once), never on `completed_at`, which the downstream reports: a `completed_at` of 1971 would
/// delete the row at once and one of 2099 would keep it forever. It is also the partition key,
/// so rows expire in the order their partitions do on servers without TTLs.
pub fn ttl_expression(clickhouse: &ClickHouseSettings) -> String {
    format!("first_seen_at + toIntervalDay({})", clickhouse.ttl_days)
}

/// The `CREATE TABLE` statement for the completed-jobs table on a server of `server_version`.
pub fn completed_jobs_ddl(clickhouse: &ClickHouseSettings, server_version: &str) -> String {
    crate::read_tables::table_ddl(
        clickhouse,
        server_version,
        CREATE_JOB_TABLE_SQL,
        &clickhouse.table,
        &ttl_expression(clickhouse),
    )
}

/// The `ALTER TABLE`s that give a jobs table made before its computed columns (its `SHOW CREATE
/// TABLE` is `created`) those it lacks, each declared as the DDL declares it; `ADD COLUMN` puts
/// it last, where the DDL has them.
pub fn materialized_column_alters(qualified: &str, created: &str) -> Vec<String> {
    CREATE_JOB_TABLE_SQL
        .lines()
        .map(str::trim)
        .filter(|line| line.contains(" MATERIALIZED "))
        .filter_map(|line| {
            let definition = line.trim_end_matches(',');
            let name = definition.split_whitespace().next()?;
            (!created.contains(name))
                .then(|| format!("ALTER TABLE {qualified} ADD COLUMN {definition}"))
        })
        .collect()
}

/// The `ALTER TABLE ... MODIFY TTL` that gives an existing table the project's TTL, given the
/// server's version and the table's `CREATE` statement (`SHOW CREATE TABLE`), or `None` when
/// there is nothing to do: the server has no table TTLs (18.16: retention drops partitions), or
/// the table already has this TTL. A table created on 18.16 (no TTL), one keyed on the old
/// `completed_at`, or one with another number of days all get it, so running migrate again after
/// a server upgrade or a settings change is enough, and running it twice changes nothing.
pub fn ttl_alter(
    clickhouse: &ClickHouseSettings,
    server_version: &str,
    create_table_query: &str,
) -> Option<String> {
    if !supports_table_ttl(server_version) {
        return None;
    }
    let wanted = ttl_expression(clickhouse);
    // The server prints the TTL back as it was written (`TTL first_seen_at + toIntervalDay(730)`).
    let normalized: String = create_table_query
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if normalized.contains(&format!("TTL {wanted}")) {
        return None;
    }
    Some(format!(
        "ALTER TABLE {} MODIFY TTL {wanted}",
        clickhouse.qualified_table()
    ))
}

/// The database and the completed-jobs table, with the TTL the server supports (added to an
/// existing table that lacks it, see [`ttl_alter`]), the rollup tables
/// ([`crate::rollup_tables`]), the failed-test table ([`crate::failed_tests_table`]), the
/// deliveries table ([`crate::deliveries_table`]) and the read tables with their views
/// ([`crate::read_tables`]).
pub async fn ensure_clickhouse(
    client: &clickhouse::Client,
    clickhouse: &ClickHouseSettings,
) -> anyhow::Result<Outcome> {
    clickhouse.validate()?;
    let context = || {
        format!(
            "preparing ClickHouse table {} at {}",
            clickhouse.qualified_table(),
            clickhouse.url
        )
    };
    // The project's database may not exist yet, and a request naming a missing database fails.
    let client = client.clone().with_database("system");
    let version: String = client
        .query("SELECT version()")
        .fetch_one()
        .await
        .with_context(context)?;
    // EXISTS looks up the one name; listing `system.tables` on 18.16 fails when another table
    // of the database is dropped meanwhile ("Table … doesn't exist").
    let existing = u64::from(
        crate::read_tables::exists(&client, &clickhouse.database, &clickhouse.table)
            .await
            .with_context(context)?,
    );
    client
        .query(&clickhouse.ddl(&format!(
            "CREATE DATABASE IF NOT EXISTS {}",
            clickhouse.database
        )))
        .execute()
        .await
        .with_context(context)?;
    client
        .query(&clickhouse.ddl(&completed_jobs_ddl(clickhouse, &version)))
        .execute()
        .await
        .with_context(context)?;
    let created =
        crate::read_tables::create_statement(&client, &clickhouse.database, &clickhouse.table)
            .await
            .with_context(context)?;
    for alter in materialized_column_alters(&clickhouse.qualified_table(), &created) {
        tracing::info!(table = %clickhouse.qualified_table(), %alter, "adding a computed column");
        if let Err(error) = client.query(&clickhouse.ddl(&alter)).execute().await {
            // 18.16 has no ADD COLUMN IF NOT EXISTS: another migrate that ran at once may have
            // added it first, which is as good.
            let now = crate::read_tables::create_statement(
                &client,
                &clickhouse.database,
                &clickhouse.table,
            )
            .await
            .with_context(context)?;
            if materialized_column_alters(&clickhouse.qualified_table(), &now).contains(&alter) {
                return Err(anyhow::Error::new(error)).with_context(context);
            }
        }
    }
    if supports_table_ttl(&version) {
        if let Some(alter) = ttl_alter(clickhouse, &version, &created) {
            tracing::info!(table = %clickhouse.qualified_table(), %alter, "giving the table its TTL");
            client
                .query(&clickhouse.ddl(&alter))
                .execute()
                .await
                .with_context(context)?;
        }
    }
    crate::rollup_tables::ensure_rollup_tables(&client, clickhouse, &version).await?;
    crate::failed_tests_table::ensure_failed_tests_table(&client, clickhouse, &version).await?;
    crate::deliveries_table::ensure_deliveries_table(&client, clickhouse, &version).await?;
    // The tables ordered for the views' reads, kept by views on this table (and filled from it
    // once when new).
    for (table, outcome) in
        crate::read_tables::ensure_read_tables(&client, clickhouse, &version).await?
    {
        tracing::debug!(%table, ?outcome, "read table");
    }
    Ok(if existing == 0 {
        Outcome::Created
    } else {
        Outcome::AlreadyThere
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn ttl_clause_only_where_the_server_has_table_ttls() {
        assert!(!supports_table_ttl("18.16.1"));
        assert!(!supports_table_ttl("19.5.3.8"));
        assert!(supports_table_ttl("19.6.2.11"));
        assert!(supports_table_ttl("25.3.1.1"));
        assert!(!supports_table_ttl("garbage"));
    }

    #[test]
    fn block_sizes_are_table_settings_from_21_1_on() {
        assert!(!supports_table_block_sizes("18.16.1"));
        assert!(!supports_table_block_sizes("20.12.8.5"));
        assert!(supports_table_block_sizes("21.1.2.15"));
        assert!(supports_table_block_sizes("26.9.2.1"));
        assert!(!supports_table_block_sizes("garbage"));
    }

    #[test]
    fn ddl_has_no_placeholder_left() {
        let settings = ClickHouseSettings {
            ttl_days: 30,
            ..settings(30)
        };
        for version in ["18.16.1", "25.3.1.1"] {
            let ddl = completed_jobs_ddl(&settings, version);
            assert!(ddl.contains("CREATE TABLE IF NOT EXISTS db.jobs"));
            for placeholder in ["{database}", "{table}", "{ttl_clause}"] {
                assert!(!ddl.contains(placeholder), "placeholder left in {ddl}");
            }
        }
        assert!(completed_jobs_ddl(&settings, "25.3.1.1").contains("toIntervalDay(30)"));
    }

    pub(crate) fn settings(ttl_days: u32) -> ClickHouseSettings {
        ClickHouseSettings {
            cluster: String::new(),
            replicated: false,
            url: "http://127.0.0.1:8123".into(),
            user: "default".into(),
            password: String::new().into(),
            database: "db".into(),
            table: "jobs".into(),
            ttl_days,
            deliveries_ttl_days: 90,
        }
    }

    #[test]
    fn the_ttl_is_keyed_on_first_seen_at_not_the_downstreams_completed_at() {
        let ddl = completed_jobs_ddl(&settings(30), "25.3.1.1");
        assert!(
            ddl.contains("TTL first_seen_at + toIntervalDay(30)"),
            "{ddl}"
        );
        assert!(!ddl.contains("TTL completed_at"), "{ddl}");
        let old = completed_jobs_ddl(&settings(30), "18.16.1");
        assert!(
            old.trim_end()
                .ends_with("ORDER BY (downstream_repo, dynamoKey)"),
            "no TTL clause on 18.16: {old}"
        );
    }

    #[test]
    fn migrate_gives_an_existing_table_its_ttl_once() {
        let s = settings(730);
        let from_18_16 = "CREATE TABLE db.jobs (`dynamoKey` String, `first_seen_at` DateTime) \
            ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(first_seen_at) \
            ORDER BY (downstream_repo, dynamoKey) SETTINGS index_granularity = 8192";
        assert_eq!(
            ttl_alter(&s, "25.3.1.1", from_18_16).as_deref(),
            Some("ALTER TABLE db.jobs MODIFY TTL first_seen_at + toIntervalDay(730)")
        );
        // Still 18.16: nothing to alter, the partitions are dropped instead.
        assert_eq!(ttl_alter(&s, "18.16.1", from_18_16), None);
        // Keyed on the old column: re-keyed.
        let old_key = format!("{from_18_16} TTL completed_at + toIntervalDay(730)");
        assert!(ttl_alter(&s, "25.3.1.1", &old_key).is_some());
        // Already right (as the server prints it): idempotent.
        let done = "CREATE TABLE db.jobs (...) ENGINE = ReplacingMergeTree(version) \
            PARTITION BY toYYYYMM(first_seen_at) ORDER BY (downstream_repo, dynamoKey) \
            TTL first_seen_at + toIntervalDay(730) SETTINGS index_granularity = 8192";
        assert_eq!(ttl_alter(&s, "25.3.1.1", done), None);
        // Another retention setting: modified to it.
        assert!(ttl_alter(&settings(30), "25.3.1.1", done).is_some());
    }

    #[test]
    fn ddl_declares_the_contract_columns_in_order() {
        let body = CREATE_JOB_TABLE_SQL
            .split_once("{table}\n(")
            .and_then(|(_, rest)| rest.split_once("\n)"))
            .map(|(columns, _)| columns)
            .expect("a column list in parentheses");
        let (materialized, written): (Vec<&str>, Vec<&str>) = body
            .lines()
            .partition(|line| line.contains(" MATERIALIZED "));
        let names = |lines: Vec<&'static str>| -> Vec<&'static str> {
            lines
                .into_iter()
                .filter_map(|line| line.split_whitespace().next())
                .collect()
        };
        assert_eq!(names(written), oot_contract::clickhouse::COLUMNS);
        assert_eq!(
            names(materialized),
            oot_contract::clickhouse::MATERIALIZED_COLUMNS
        );
    }

    #[test]
    fn a_jobs_table_from_before_its_computed_columns_gets_each_once() {
        let settings = settings(90);
        let new = completed_jobs_ddl(&settings, "18.16.1");
        assert_eq!(
            materialized_column_alters("db.t", &new),
            Vec::<String>::new()
        );
        // As SHOW CREATE TABLE shows a table made before: no comments, no computed column.
        let old: String = new
            .lines()
            .filter(|line| !line.contains(" MATERIALIZED ") && !line.starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            materialized_column_alters("db.t", &old),
            [
                "ALTER TABLE db.t ADD COLUMN failed_tests_listed UInt64 MATERIALIZED \
                 toUInt64(length(splitByString('{\"name\":', failed_tests_json)) - 1)"
            ]
        );
    }
}
