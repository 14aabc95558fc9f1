//! Schema as code for the failed-test table (docs/contract.md §10.3): one row per failed test
//! per completed job version, named after the completed-jobs table
//! ([`oot_contract::clickhouse::failed_tests_table`]), created beside it by
//! [`crate::migrate::ensure_clickhouse`], idempotently.
//!
//! Unlike the read tables it has no materialized view: the rows come out of `failed_tests_json`,
//! which 18.16 has no JSON functions to take apart, so the projector (and replay) inserts them
//! from the merged record it builds the job's row from. For the same reason a table created on a
//! stack that already has jobs is not backfilled in SQL: replaying the log into the live tables
//! (`oot-projector replay --into-existing`) fills it.
//!
//! Retention is the jobs table's: TTL on `first_seen_at` where the server has table TTLs (given
//! by `ALTER` to a table made without it), else its monthly partitions are dropped with the jobs
//! table's (`projector/src/retention.rs`).

use oot_contract::clickhouse::failed_tests_table;

use crate::migrate::ttl_expression;
use crate::settings::ClickHouseSettings;

const CREATE_SQL: &str = include_str!("../sql/create_oot_workflow_job_failed_tests.sql");

/// The `CREATE TABLE` of the failed-test table on a server of `server_version` (with the jobs
/// table's TTL where the server has table TTLs).
pub fn failed_tests_ddl(clickhouse: &ClickHouseSettings, server_version: &str) -> String {
    crate::read_tables::table_ddl(
        clickhouse,
        server_version,
        CREATE_SQL,
        &failed_tests_table(&clickhouse.table),
        &ttl_expression(clickhouse),
    )
}

/// Creates the failed-test table if missing, and gives one made without the server's TTL (on
/// 18.16, before an upgrade) that TTL. `client` may have any current database.
pub async fn ensure_failed_tests_table(
    client: &clickhouse::Client,
    clickhouse: &ClickHouseSettings,
    server_version: &str,
) -> anyhow::Result<()> {
    crate::read_tables::ensure_table_with_ttl(
        client,
        clickhouse,
        server_version,
        CREATE_SQL,
        &failed_tests_table(&clickhouse.table),
        &ttl_expression(clickhouse),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::tests::settings;
    use crate::read_tables::declared_columns;

    #[test]
    fn the_ddl_declares_the_contract_columns_in_order() {
        assert_eq!(
            declared_columns(CREATE_SQL),
            oot_contract::clickhouse::failed_test::COLUMNS
        );
    }

    #[test]
    fn the_ddl_names_the_table_after_the_jobs_table_with_a_ttl_only_where_supported() {
        let s = settings(30);
        let old = failed_tests_ddl(&s, "18.16.1");
        assert!(
            old.contains("CREATE TABLE IF NOT EXISTS db.jobs_failed_tests\n("),
            "{old}"
        );
        assert!(!old.contains('{'), "placeholder left in {old}");
        assert!(
            old.trim_end().ends_with(
                "ORDER BY (downstream_repo, classname, name, first_seen_at, dynamoKey)\n\n\
                 SETTINGS index_granularity = 1024"
            ),
            "no TTL clause on 18.16: {old}"
        );
        let new = failed_tests_ddl(&s, "26.9.2.1");
        assert!(
            new.contains("\nTTL first_seen_at + toIntervalDay(30)\n"),
            "{new}"
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
        let sql = s.ddl(&failed_tests_ddl(&s, "18.16.1"));
        assert!(
            sql.contains("CREATE TABLE IF NOT EXISTS db.jobs_failed_tests ON CLUSTER oot\n("),
            "{sql}"
        );
        assert!(
            sql.contains(
                "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db.jobs_failed_tests', '{replica}', version)"
            ),
            "{sql}"
        );
    }
}
