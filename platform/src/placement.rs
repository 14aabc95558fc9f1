//! Where the ClickHouse DDL puts the tables: one server (the default), or a cluster of
//! replicas.
//!
//! The DDL files are written for one server. [`Placement::apply`] turns each statement migrate
//! and retention send into its cluster form when the settings ask for one:
//! - `OOT_CLICKHOUSE_CLUSTER=name` adds `ON CLUSTER name` to every `CREATE`, `ALTER` and `DROP`,
//!   so one `migrate` makes (and retention drops on) every node;
//! - `OOT_CLICKHOUSE_REPLICATED=true` turns each `…MergeTree(args)` engine into
//!   `Replicated…MergeTree('/clickhouse/tables/{shard}/db.table', '{replica}', args)`; `{shard}`
//!   and `{replica}` are the server's macros (each node's `<macros>` config).
//!
//! The topology this supports is one shard with any number of replicas: every version of a job
//! (and of a cell) must be on the node that collapses them, and the data (tens of millions of
//! rows) fits one shard. The projector may insert into any replica.
//!
//! ClickHouse Cloud needs neither: it replicates DDL itself and runs every `MergeTree` family
//! table on its shared engines (`SharedReplacingMergeTree`, …). Leave both settings unset there.

/// The placement the settings ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Placement<'a> {
    pub cluster: Option<&'a str>,
    pub replicated: bool,
}

/// The statements whose object name is followed by the `ON CLUSTER` clause.
const OBJECT_STATEMENTS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS ",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS ",
    "CREATE DATABASE IF NOT EXISTS ",
    "ALTER TABLE ",
    "DROP TABLE IF EXISTS ",
    "TRUNCATE TABLE ",
];

impl Placement<'_> {
    /// `statement` (one DDL statement, comments allowed) for this placement.
    pub fn apply(&self, statement: &str) -> String {
        let mut sql = statement.to_owned();
        let Some((start, name)) = object_name(&sql) else {
            return sql;
        };
        if self.replicated {
            sql = replicated_engine(&sql, &name);
        }
        if let Some(cluster) = self.cluster.filter(|c| !c.is_empty()) {
            let after_name = start + name.len();
            sql.insert_str(after_name, &format!(" ON CLUSTER {cluster}"));
        }
        sql
    }
}

/// Where the statement's object name starts, and the name (`db.table`), past any comment lines.
fn object_name(sql: &str) -> Option<(usize, String)> {
    for keyword in OBJECT_STATEMENTS {
        let mut offset = 0;
        for line in sql.split_inclusive('\n') {
            if !line.trim_start().starts_with("--") {
                if let Some(at) = line.find(keyword) {
                    let start = offset + at + keyword.len();
                    let name: String = sql[start..]
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '(')
                        .collect();
                    return (!name.is_empty()).then_some((start, name));
                }
            }
            offset += line.len();
        }
    }
    None
}

/// `ENGINE = XMergeTree(args)` as `ENGINE = ReplicatedXMergeTree(path, replica, args)`.
fn replicated_engine(sql: &str, name: &str) -> String {
    const ENGINE: &str = "ENGINE = ";
    let Some(at) = sql.find(ENGINE) else {
        return sql.to_owned();
    };
    let engine_start = at + ENGINE.len();
    let rest = &sql[engine_start..];
    let Some(open) = rest.find('(') else {
        return sql.to_owned();
    };
    let engine = &rest[..open];
    if !engine.ends_with("MergeTree") || engine.starts_with("Replicated") {
        return sql.to_owned();
    }
    let Some(close) = rest[open..].find(')') else {
        return sql.to_owned();
    };
    let args = rest[open + 1..open + close].trim();
    let mut replicated =
        format!("Replicated{engine}('/clickhouse/tables/{{shard}}/{name}', '{{replica}}'");
    if !args.is_empty() {
        replicated.push_str(", ");
        replicated.push_str(args);
    }
    replicated.push(')');
    format!(
        "{}{}{}",
        &sql[..engine_start],
        replicated,
        &rest[open + close + 1..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "-- CREATE TABLE IF NOT EXISTS in a comment is left alone\n\
        CREATE TABLE IF NOT EXISTS db.jobs\n(\n    a String\n)\n\
        ENGINE = ReplacingMergeTree(version)\nORDER BY a\n";

    #[test]
    fn one_server_is_the_statement_as_written() {
        assert_eq!(Placement::default().apply(TABLE), TABLE);
    }

    #[test]
    fn a_cluster_gets_on_cluster_after_the_name_of_every_kind_of_statement() {
        let on = Placement {
            cluster: Some("oot"),
            replicated: false,
        };
        assert!(on
            .apply(TABLE)
            .contains("\nCREATE TABLE IF NOT EXISTS db.jobs ON CLUSTER oot\n("));
        assert_eq!(
            on.apply("ALTER TABLE db.jobs MODIFY TTL hour + toIntervalDay(3)"),
            "ALTER TABLE db.jobs ON CLUSTER oot MODIFY TTL hour + toIntervalDay(3)"
        );
        assert_eq!(
            on.apply("CREATE MATERIALIZED VIEW IF NOT EXISTS db.v TO db.t AS\nSELECT 1"),
            "CREATE MATERIALIZED VIEW IF NOT EXISTS db.v ON CLUSTER oot TO db.t AS\nSELECT 1"
        );
        assert_eq!(
            on.apply("CREATE DATABASE IF NOT EXISTS db"),
            "CREATE DATABASE IF NOT EXISTS db ON CLUSTER oot"
        );
        assert_eq!(
            on.apply("DROP TABLE IF EXISTS db.v"),
            "DROP TABLE IF EXISTS db.v ON CLUSTER oot"
        );
        assert_eq!(on.apply("SELECT 1"), "SELECT 1", "not DDL");
    }

    #[test]
    fn replicated_engines_keep_their_arguments_and_name_the_table() {
        let replicated = Placement {
            cluster: None,
            replicated: true,
        };
        let sql = replicated.apply(TABLE);
        assert!(
            sql.contains("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db.jobs', '{replica}', version)\nORDER BY a"),
            "{sql}"
        );
        let aggregating = replicated.apply(
            "CREATE TABLE IF NOT EXISTS db.t (a String) ENGINE = AggregatingMergeTree() ORDER BY a",
        );
        assert!(aggregating.contains(
            "ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/db.t', '{replica}') ORDER BY a"
        ));
        let once = replicated.apply(&sql);
        assert_eq!(once, sql, "an engine already replicated is left alone");
    }
}
