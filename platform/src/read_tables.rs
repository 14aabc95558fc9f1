//! Schema as code for the read tables: copies and summaries of the completed-jobs table (or of
//! the failed-test table) ordered for the views' reads (docs/contract.md §10.1, §10.3), each kept
//! exact by a materialized view on every INSERT into its source table, and filled once from it
//! when it is created.
//!
//! | table | order | holds | read by |
//! |---|---|---|---|
//! | `{jobs}_by_target` | upstream repo, PR (or delivery), downstream repo, job key | every completed job version | the PR view; a matrix page's jobs |
//! | `{jobs}_targets` | downstream repo, hour, target | per hour and target: the newest job (its head commit) and the newest level | the matrix's rows |
//! | `{jobs}_columns` | downstream repo, hour, workflow, job name | the (workflow, job name) pairs | the matrix's columns |
//! | `{jobs}_levels` | downstream repo, day, level | per day and reported level: its first and last job | the scorecard's level history |
//! | `{jobs}_failed_tests_by_job` | downstream repo, first seen, job key, test | from `{jobs}_failed_tests`: each job version's failed tests | a PR's "is it mine?"; the release diff's nightlies |
//! | `{jobs}_failed_tests_on_prs` | downstream repo, test (hashed), first seen, job (hashed) | from `{jobs}_failed_tests`: the failures of jobs on PRs, hashed and narrow | a PR's "is it mine?": the other PRs |
//! | `{jobs}_nightlies` | downstream repo, hour, delivery | per nightly delivery: its commit and first job | the nightly view's rows |
//! | `{jobs}_versions` | downstream repo, first seen, job (hashed) | every job version | the failed-test rows' reading rule |
//! | `{jobs}_failed_test_lists` | downstream repo, job key | every job version's `failed_tests_json`, in small granules | the failure drill-down |
//!
//! **Migration.** [`ensure_read_tables`] (called by [`crate::migrate::ensure_clickhouse`], so by
//! `migrate` and every service's start-up) creates each table and its view if missing. A table
//! is filled from the jobs already stored when it is created in this run, or when its view is
//! missing (a stack made before the read tables, or a run cut short), in this order:
//!
//! 1. a *capture* view (`{table}_mv_backfill`) is created first, so every INSERT into the jobs
//!    table from then on also reaches the read table;
//! 2. migrate waits until no INSERT into the jobs table that began before the capture view
//!    existed is still running (`system.processes`): such an INSERT feeds no view, and could
//!    commit after the backfill has read;
//! 3. the backfill: `INSERT INTO {table} SELECT ... FROM {jobs}`, the view's own SELECT;
//! 4. the view (`{table}_mv`) is created, then the capture view dropped.
//!
//! The view's presence marks the backfill as done: a run cut short before step 4 leaves no view,
//! so the next run does it all again (the capture view, if left, already kept capturing), and
//! a capture view left after step 4 is dropped by the next run.
//!
//! **The race with concurrent inserts, and why it is harmless.** Rows inserted between steps 1
//! and 3 are written twice: by the capture view, and by the backfill that reads them too; so are
//! rows the projector writes while two migrations run at once, or while both views exist
//! between step 4's two statements. Twice is harmless in each table: in `_by_target` the copies
//! are the same job at the same version, which ReplacingMergeTree(version) collapses and the
//! readers' latest-version-per-job choice sees once; `_targets` keeps `max` states (`_levels` `min` and
//! `max`), and either of a value with itself is that value; `_columns` keeps distinct names. What must not happen
//! is a row reaching neither, and steps 1-3 ensure every row is either committed before the
//! backfill reads (the backfill has it) or inserted after the capture view existed (the views
//! have it).
//!
//! One more effect of creating a view under inserts, seen on 18.16: an INSERT into the jobs
//! table that starts while a view is being created can fail (`Table ..._mv doesn't exist`: the
//! view is registered as a dependency a moment before it can be found). It fails before it
//! writes anything, and the projector retries it like any ClickHouse error but the data's.
//!
//! Retention: the tables are partitioned by month like the jobs table (of `first_seen_at`, or of
//! its hour), and get the table TTL where the server has them (19.6+; added to a table made
//! without one, as for the jobs table). On 18.16 the partitions of every table of
//! [`read_tables`] must be dropped with the jobs table's.

use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::migrate::{supports_table_block_sizes, supports_table_ttl};
use crate::settings::ClickHouseSettings;

/// One read table: its name's suffix after the jobs table's, its source (the jobs table, or a
/// table named after it), its DDL, the SELECT that fills it from the source, and the column its
/// TTL is keyed on.
#[derive(Debug, Clone, Copy)]
pub struct ReadTable {
    pub suffix: &'static str,
    /// The source's suffix after the jobs table's name: empty for the jobs table itself.
    pub source_suffix: &'static str,
    pub create_sql: &'static str,
    pub fill_sql: &'static str,
    pub ttl_column: &'static str,
}

/// Suffix of the jobs ordered by upstream target.
pub const BY_TARGET: &str = "_by_target";
/// Suffix of the matrix's rows.
pub const TARGETS: &str = "_targets";
/// Suffix of the matrix's columns.
pub const COLUMNS: &str = "_columns";

/// Suffix of the level history.
pub const LEVELS: &str = "_levels";
/// Suffix of the failed tests ordered by job.
pub const FAILED_TESTS_BY_JOB: &str = "_failed_tests_by_job";
/// Suffix of the failed tests on PRs.
pub const FAILED_TESTS_ON_PRS: &str = "_failed_tests_on_prs";
/// Suffix of the deliveries without a PR (the nightly view's).
pub const NIGHTLIES: &str = "_nightlies";
/// Suffix of the jobs' versions by hashed key (the reading rule of the failed-test rows).
pub const VERSIONS: &str = "_versions";
/// Suffix of each job version's failed-test list, by job (the failure drill-down).
pub const FAILED_TEST_LISTS: &str = "_failed_test_lists";
/// Suffix of the jobs ordered by slot (one test's history).
pub const BY_SLOT: &str = "_by_slot";

/// Every read table, in the order they are made (after their sources).
pub const READ_TABLES: [ReadTable; 10] = [
    ReadTable {
        suffix: BY_TARGET,
        source_suffix: "",
        create_sql: include_str!("../sql/create_oot_workflow_job_by_target.sql"),
        fill_sql: include_str!("../sql/fill_oot_workflow_job_by_target.sql"),
        ttl_column: "first_seen_at",
    },
    ReadTable {
        suffix: TARGETS,
        source_suffix: "",
        create_sql: include_str!("../sql/create_oot_workflow_job_targets.sql"),
        fill_sql: include_str!("../sql/fill_oot_workflow_job_targets.sql"),
        ttl_column: "hour",
    },
    ReadTable {
        suffix: COLUMNS,
        source_suffix: "",
        create_sql: include_str!("../sql/create_oot_workflow_job_columns.sql"),
        fill_sql: include_str!("../sql/fill_oot_workflow_job_columns.sql"),
        ttl_column: "hour",
    },
    ReadTable {
        suffix: LEVELS,
        source_suffix: "",
        create_sql: include_str!("../sql/create_oot_workflow_job_levels.sql"),
        fill_sql: include_str!("../sql/fill_oot_workflow_job_levels.sql"),
        ttl_column: "day",
    },
    ReadTable {
        suffix: FAILED_TESTS_BY_JOB,
        source_suffix: oot_contract::clickhouse::FAILED_TESTS_SUFFIX,
        create_sql: include_str!("../sql/create_oot_workflow_job_failed_tests_by_job.sql"),
        fill_sql: include_str!("../sql/fill_oot_workflow_job_failed_tests_by_job.sql"),
        ttl_column: "first_seen_at",
    },
    ReadTable {
        suffix: FAILED_TESTS_ON_PRS,
        source_suffix: oot_contract::clickhouse::FAILED_TESTS_SUFFIX,
        create_sql: include_str!("../sql/create_oot_workflow_job_failed_tests_on_prs.sql"),
        fill_sql: include_str!("../sql/fill_oot_workflow_job_failed_tests_on_prs.sql"),
        ttl_column: "first_seen_at",
    },
    ReadTable {
        suffix: NIGHTLIES,
        source_suffix: "",
        create_sql: include_str!("../sql/create_oot_workflow_job_nightlies.sql"),
        fill_sql: include_str!("../sql/fill_oot_workflow_job_nightlies.sql"),
        ttl_column: "hour",
    },
    ReadTable {
        suffix: VERSIONS,
        source_suffix: "",
        create_sql: include_str!("../sql/create_oot_workflow_job_versions.sql"),
        fill_sql: include_str!("../sql/fill_oot_workflow_job_versions.sql"),
        ttl_column: "first_seen_at",
    },
    ReadTable {
        suffix: FAILED_TEST_LISTS,
        source_suffix: "",
        create_sql: include_str!("../sql/create_oot_workflow_job_failed_test_lists.sql"),
        fill_sql: include_str!("../sql/fill_oot_workflow_job_failed_test_lists.sql"),
        ttl_column: "first_seen_at",
    },
    ReadTable {
        suffix: BY_SLOT,
        source_suffix: "",
        create_sql: include_str!("../sql/create_oot_workflow_job_by_slot.sql"),
        fill_sql: include_str!("../sql/fill_oot_workflow_job_by_slot.sql"),
        ttl_column: "first_seen_at",
    },
];

/// The names of the read tables of the jobs table `jobs_table` (unqualified), e.g. for the
/// partition drops of retention on 18.16.
pub fn read_tables(jobs_table: &str) -> Vec<String> {
    READ_TABLES
        .iter()
        .map(|t| format!("{jobs_table}{}", t.suffix))
        .collect()
}

/// The materialized view that keeps `table`.
pub fn view_name(table: &str) -> String {
    format!("{table}_mv")
}

/// The view that captures inserts while `table` is backfilled.
pub fn capture_view_name(table: &str) -> String {
    format!("{table}_mv_backfill")
}

impl ReadTable {
    /// The table's unqualified name for the jobs table `jobs_table`.
    pub fn name(&self, jobs_table: &str) -> String {
        format!("{jobs_table}{}", self.suffix)
    }

    /// Its TTL expression, keyed on our own clock as the jobs table's is.
    pub fn ttl_expression(&self, clickhouse: &ClickHouseSettings) -> String {
        format!(
            "{} + toIntervalDay({})",
            self.ttl_column, clickhouse.ttl_days
        )
    }

    /// Its `CREATE TABLE` on a server of `server_version` (a TTL where the server has them,
    /// and its compressed-block size where the server takes it per table).
    pub fn ddl(&self, clickhouse: &ClickHouseSettings, server_version: &str) -> String {
        table_ddl(
            clickhouse,
            server_version,
            self.create_sql,
            &self.name(&clickhouse.table),
            &self.ttl_expression(clickhouse),
        )
    }

    /// The `ALTER TABLE ... MODIFY SETTING` that gives `qualified`, made before its
    /// compressed-block size was set (its `SHOW CREATE TABLE` is `create_table_query`), that
    /// size; `None` when the table does not set one, the server takes it only from its
    /// profile, or the table has it. The setting applies to the parts written from then on:
    /// inserts and merges.
    pub fn block_size_alter(
        &self,
        qualified: &str,
        server_version: &str,
        create_table_query: &str,
    ) -> Option<String> {
        let wanted = self.create_sql.contains(BLOCK_SETTINGS_PLACEHOLDER)
            && supports_table_block_sizes(server_version)
            && !create_table_query.contains("min_compress_block_size");
        wanted.then(|| {
            format!(
                "ALTER TABLE {qualified} MODIFY SETTING min_compress_block_size = {KEY_RANGE_MIN_COMPRESS_BLOCK_BYTES}"
            )
        })
    }

    /// The source's unqualified name for the jobs table `jobs_table`.
    pub fn source(&self, jobs_table: &str) -> String {
        format!("{jobs_table}{}", self.source_suffix)
    }

    /// The SELECT over the source whose rows the table holds.
    pub fn fill_select(&self, clickhouse: &ClickHouseSettings) -> String {
        self.fill_sql
            .replace("{database}", &clickhouse.database)
            .replace("{table}", &self.source(&clickhouse.table))
    }

    /// `CREATE MATERIALIZED VIEW` named `view` writing the table's rows of every block
    /// inserted into the source.
    pub fn view_ddl(&self, clickhouse: &ClickHouseSettings, view: &str) -> String {
        format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{view} TO {db}.{table} AS\n{select}",
            db = clickhouse.database,
            table = self.name(&clickhouse.table),
            select = self.fill_select(clickhouse),
        )
    }

    /// The backfill: the table's rows of everything the source holds. The columns are
    /// named, since `INSERT ... SELECT` matches them by position.
    pub fn backfill(&self, clickhouse: &ClickHouseSettings) -> String {
        format!(
            "INSERT INTO {}.{} ({})\n{}",
            clickhouse.database,
            self.name(&clickhouse.table),
            declared_columns(self.create_sql).join(", "),
            self.fill_select(clickhouse),
        )
    }
}

/// The column names a `CREATE TABLE` file declares, in order (one per line in parentheses).
pub fn declared_columns(create_sql: &str) -> Vec<&str> {
    create_sql
        .split_once("{table}\n(")
        .and_then(|(_, rest)| rest.split_once("\n)"))
        .map(|(columns, _)| {
            columns
                .lines()
                .filter_map(|line| line.split_whitespace().next())
                .collect()
        })
        .unwrap_or_default()
}

/// The `ALTER TABLE ... MODIFY TTL` that gives `qualified` the TTL `wanted`, or `None` when the
/// server has no table TTLs or the table (its `create_table_query`) already has it; as
/// [`crate::migrate::ttl_alter`] does for the jobs table.
pub fn ttl_alter_to(
    qualified: &str,
    wanted: &str,
    server_version: &str,
    create_table_query: &str,
) -> Option<String> {
    if !supports_table_ttl(server_version) {
        return None;
    }
    let normalized: String = create_table_query
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if normalized.contains(&format!("TTL {wanted}")) {
        return None;
    }
    Some(format!("ALTER TABLE {qualified} MODIFY TTL {wanted}"))
}

/// How long the backfill waits for INSERTs that began before its capture view: the projector's
/// take a second or two; one still running past this is stuck, and migrate fails (to be run
/// again) rather than risk a row the read table never gets.
const INSERTS_DEADLINE: Duration = Duration::from_secs(60);

/// A regular expression matching an `INSERT INTO` the table `table` of the jobs table's
/// database, qualified or not, quoted or not, with or without a column list (as the clickhouse
/// crate and people write them). The names are plain identifiers
/// ([`ClickHouseSettings::validate`]; a read table's source adds a fixed suffix), so they need
/// no escaping.
pub fn insert_pattern(clickhouse: &ClickHouseSettings, table: &str) -> String {
    format!(
        r"(?i)^\s*INSERT\s+INTO\s+(`?{db}`?\.)?`?{table}`?(\s|\(|$)",
        db = clickhouse.database,
    )
}

/// The least uncompressed bytes of a compressed block of a table read in short key ranges
/// (where its DDL has [`BLOCK_SETTINGS_PLACEHOLDER`]). A granule read costs decompressing the
/// whole block of each column it lies in: with the server's default (64 KB) a block of a
/// 256-row table holds 25 granules of a narrow column, so a page of the backend matrix (25
/// targets over 6 to 9 parts) decompressed 273 MB to return 382 rows. With 4 KB a block is a
/// granule or a few: measured at 10M jobs on copies with the same parts, 27 MB decompressed and
/// the read 75–80 → 51–55 ms without the cache of decompressed blocks, ~24 ms from it, which
/// now holds such reads beside the others (a 64 KB page did not), for 4.5% more disk.
pub const KEY_RANGE_MIN_COMPRESS_BLOCK_BYTES: u32 = 4096;

/// Where a `CREATE TABLE` file puts the table's compressed-block setting, after its
/// `index_granularity`: `, min_compress_block_size = …` on 21.1+, empty before (the server's
/// default profile sets it there, for every table).
const BLOCK_SETTINGS_PLACEHOLDER: &str = "{block_settings}";

/// `create_sql` (placeholders `{database}`, `{table}`, `{ttl_clause}`, and optionally
/// `{block_settings}`) rendered for `table` on a server of `server_version`: with `TTL {ttl}`
/// where the server has table TTLs, and the compressed-block size where it takes table settings
/// for it.
pub(crate) fn table_ddl(
    clickhouse: &ClickHouseSettings,
    server_version: &str,
    create_sql: &str,
    table: &str,
    ttl: &str,
) -> String {
    let ttl_clause = if supports_table_ttl(server_version) {
        format!("TTL {ttl}")
    } else {
        String::new()
    };
    let block_settings = if supports_table_block_sizes(server_version) {
        format!(", min_compress_block_size = {KEY_RANGE_MIN_COMPRESS_BLOCK_BYTES}")
    } else {
        String::new()
    };
    create_sql
        .replace("{database}", &clickhouse.database)
        .replace("{table}", table)
        .replace("{ttl_clause}", &ttl_clause)
        .replace(BLOCK_SETTINGS_PLACEHOLDER, &block_settings)
}

/// Creates a table the projector writes itself (no view fills it) if missing, and gives one
/// that existed without the TTL `ttl` (made on 18.16 before an upgrade, or with another
/// retention) that TTL. `client` may have any current database.
pub(crate) async fn ensure_table_with_ttl(
    client: &clickhouse::Client,
    clickhouse: &ClickHouseSettings,
    server_version: &str,
    create_sql: &str,
    table: &str,
    ttl: &str,
) -> anyhow::Result<()> {
    let db = &clickhouse.database;
    let qualified = format!("{db}.{table}");
    let context = || {
        format!(
            "preparing ClickHouse table {qualified} at {}",
            clickhouse.url
        )
    };
    let existed = exists(client, db, table).await.with_context(context)?;
    let ddl = table_ddl(clickhouse, server_version, create_sql, table, ttl);
    client
        .query(&clickhouse.ddl(&ddl))
        .execute()
        .await
        .with_context(context)?;
    if existed && supports_table_ttl(server_version) {
        let created = create_statement(client, db, table)
            .await
            .with_context(context)?;
        if let Some(alter) = ttl_alter_to(&qualified, ttl, server_version, &created) {
            tracing::info!(table = %qualified, %alter, "giving the table its TTL");
            client
                .query(&clickhouse.ddl(&alter))
                .execute()
                .await
                .with_context(context)?;
        }
    }
    Ok(())
}

/// Whether `database.name` exists. `EXISTS TABLE` looks up the one name rather than listing
/// the database's tables through `system.tables` (the names are plain identifiers, spliced in).
pub(crate) async fn exists(
    client: &clickhouse::Client,
    database: &str,
    name: &str,
) -> anyhow::Result<bool> {
    let found: u8 = client
        .query(&format!("EXISTS TABLE {database}.{name}"))
        .fetch_one()
        .await?;
    Ok(found == 1)
}

/// The `CREATE` statement of `database.name`, by `SHOW CREATE TABLE` (one name looked up, as
/// [`exists`] does, rather than `system.tables` listed).
pub(crate) async fn create_statement(
    client: &clickhouse::Client,
    database: &str,
    name: &str,
) -> anyhow::Result<String> {
    Ok(client
        .query(&format!("SHOW CREATE TABLE {database}.{name}"))
        .fetch_one()
        .await?)
}

/// Waits until no INSERT into `source` (of the jobs table's database) that was running at
/// `since` still runs.
async fn wait_for_earlier_inserts(
    client: &clickhouse::Client,
    clickhouse: &ClickHouseSettings,
    source: &str,
    since: Instant,
) -> anyhow::Result<()> {
    let pattern = insert_pattern(clickhouse, source);
    loop {
        // An INSERT that began before `since` has run at least as long as it is since then (a
        // second less, for the two clocks); one that began after may be counted too, and only
        // makes the wait longer.
        let running_since = (since.elapsed().as_secs_f64() - 1.0).max(0.0);
        let earlier: u64 = client
            .query("SELECT count() FROM system.processes WHERE elapsed >= ? AND match(query, ?)")
            .bind(running_since)
            .bind(pattern.as_str())
            .fetch_one()
            .await?;
        if earlier == 0 {
            return Ok(());
        }
        if since.elapsed() > INSERTS_DEADLINE {
            anyhow::bail!(
                "{earlier} INSERT(s) into {}.{source} still running after {INSERTS_DEADLINE:?}; run migrate again",
                clickhouse.database
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What [`ensure_read_tables`] did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadTableOutcome {
    /// Table and view were there.
    AlreadyThere,
    /// Filled from the jobs table (the table was new, or its view missing).
    Backfilled,
}

/// Creates the read tables and their views if missing, giving an existing table the server's
/// TTL, and backfills a table that is new or has no view (see the module's documentation).
/// `client` may have any current database: every name is qualified.
pub async fn ensure_read_tables(
    client: &clickhouse::Client,
    clickhouse: &ClickHouseSettings,
    server_version: &str,
) -> anyhow::Result<Vec<(String, ReadTableOutcome)>> {
    let mut outcomes = Vec::new();
    for read_table in READ_TABLES {
        let table = read_table.name(&clickhouse.table);
        let context = || {
            format!(
                "preparing ClickHouse table {}.{table} at {}",
                clickhouse.database, clickhouse.url
            )
        };
        let outcome = ensure_one(client, clickhouse, server_version, &read_table, &table)
            .await
            .with_context(context)?;
        outcomes.push((table, outcome));
    }
    Ok(outcomes)
}

async fn ensure_one(
    client: &clickhouse::Client,
    clickhouse: &ClickHouseSettings,
    server_version: &str,
    read_table: &ReadTable,
    table: &str,
) -> anyhow::Result<ReadTableOutcome> {
    let db = &clickhouse.database;
    let view = view_name(table);
    let capture = capture_view_name(table);
    let existed = exists(client, db, table).await?;
    client
        .query(&clickhouse.ddl(&read_table.ddl(clickhouse, server_version)))
        .execute()
        .await?;
    // A table made before may lack what this server adds to new ones: its TTL, its block size.
    if existed && (supports_table_ttl(server_version) || supports_table_block_sizes(server_version))
    {
        let created = create_statement(client, db, table).await?;
        let wanted = read_table.ttl_expression(clickhouse);
        let qualified = format!("{db}.{table}");
        let alters = [
            ttl_alter_to(&qualified, &wanted, server_version, &created),
            read_table.block_size_alter(&qualified, server_version, &created),
        ];
        for alter in alters.into_iter().flatten() {
            tracing::info!(table = %qualified, %alter, "giving the table what it lacks");
            client.query(&clickhouse.ddl(&alter)).execute().await?;
        }
    }
    if existed && exists(client, db, &view).await? {
        // Done before; a capture view left by a run cut short after making the view goes.
        client
            .query(&clickhouse.ddl(&format!("DROP TABLE IF EXISTS {db}.{capture}")))
            .execute()
            .await?;
        return Ok(ReadTableOutcome::AlreadyThere);
    }
    client
        .query(&clickhouse.ddl(&read_table.view_ddl(clickhouse, &capture)))
        .execute()
        .await?;
    let source = read_table.source(&clickhouse.table);
    wait_for_earlier_inserts(client, clickhouse, &source, Instant::now()).await?;
    let started = Instant::now();
    client
        .query(&read_table.backfill(clickhouse))
        .execute()
        .await?;
    client
        .query(&clickhouse.ddl(&read_table.view_ddl(clickhouse, &view)))
        .execute()
        .await?;
    client
        .query(&clickhouse.ddl(&format!("DROP TABLE IF EXISTS {db}.{capture}")))
        .execute()
        .await?;
    tracing::info!(
        table = %format!("{db}.{table}"),
        seconds = started.elapsed().as_secs_f64(),
        source = %source,
        "read table filled from its source; its view keeps it from now on"
    );
    Ok(ReadTableOutcome::Backfilled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ClickHouseSettings {
        ClickHouseSettings {
            cluster: String::new(),
            replicated: false,
            url: "http://127.0.0.1:8123".into(),
            user: "default".into(),
            password: String::new().into(),
            database: "db".into(),
            table: "jobs".into(),
            ttl_days: 30,
            deliveries_ttl_days: 90,
        }
    }

    /// The names a fill SELECT gives its columns: the alias after `AS`, else the column.
    fn selected_names(select: &str) -> Vec<String> {
        let body = select
            .split_once("SELECT\n")
            .and_then(|(_, rest)| rest.split_once("\nFROM "))
            .map(|(body, _)| body)
            .expect("SELECT ... FROM");
        // Top-level commas only: the tuples and function calls hold commas of their own.
        let mut names = Vec::new();
        let (mut depth, mut start) = (0i32, 0);
        let bytes = body.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'(' => depth += 1,
                b')' => depth -= 1,
                b',' if depth == 0 => {
                    names.push(&body[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        names.push(&body[start..]);
        names
            .into_iter()
            .map(|expr| {
                let expr = expr.trim();
                match expr.rsplit_once(" AS ") {
                    Some((_, alias)) => alias.trim().to_owned(),
                    None => expr.to_owned(),
                }
            })
            .collect()
    }

    /// The view inserts by name and the backfill by position after naming the columns: both
    /// work only if the SELECT gives every column of the table, by its name, in its order.
    #[test]
    fn each_fill_selects_its_tables_columns_in_order() {
        for t in READ_TABLES {
            let declared = declared_columns(t.create_sql);
            assert!(!declared.is_empty(), "{}", t.suffix);
            assert_eq!(selected_names(t.fill_sql), declared, "{}", t.suffix);
        }
    }

    /// The by-target table holds what the views read of a job: every column it declares but
    /// the target's is a column of the jobs table, under the same name.
    #[test]
    fn the_by_target_table_copies_columns_of_the_contract() {
        for name in declared_columns(READ_TABLES[0].create_sql) {
            assert!(
                oot_contract::clickhouse::is_column(name) || name.starts_with("target_"),
                "{name}"
            );
        }
    }

    #[test]
    fn ddl_and_statements_are_rendered_for_the_jobs_table() {
        let s = settings();
        assert_eq!(
            read_tables("jobs"),
            [
                "jobs_by_target",
                "jobs_targets",
                "jobs_columns",
                "jobs_levels",
                "jobs_failed_tests_by_job",
                "jobs_failed_tests_on_prs",
                "jobs_nightlies",
                "jobs_versions",
                "jobs_failed_test_lists",
                "jobs_by_slot"
            ]
        );
        for t in READ_TABLES {
            let old = t.ddl(&s, "18.16.1");
            assert!(old.contains(&format!("db.jobs{}\n(", t.suffix)), "{old}");
            assert!(!old.contains('{'), "{old}");
            // The client takes every `?` for a bind, comments' too.
            assert!(!old.contains('?'), "{old}");
            assert!(!t.fill_sql.contains('?'), "{}", t.fill_sql);
            assert!(!old.contains("\nTTL "), "no TTL on 18.16: {old}");
            let new = t.ddl(&s, "26.9.2.1");
            let ttl = format!("\nTTL {} + toIntervalDay(30)\n", t.ttl_column);
            assert!(new.contains(&ttl), "{new}");
            let view = t.view_ddl(&s, &view_name(&t.name("jobs")));
            assert!(view.starts_with(&format!(
                "CREATE MATERIALIZED VIEW IF NOT EXISTS db.jobs{0}_mv TO db.jobs{0} AS\n",
                t.suffix
            )));
            let from = format!("FROM db.{}\n", t.source("jobs"));
            assert!(view.contains(&from), "{view}");
            assert!(!view.contains('{'), "{view}");
            let backfill = t.backfill(&s);
            assert!(backfill.starts_with(&format!("INSERT INTO db.jobs{} (", t.suffix)));
            assert!(backfill.contains(&from), "{backfill}");
        }
        assert_eq!(READ_TABLES[4].source("jobs"), "jobs_failed_tests");
        assert_eq!(READ_TABLES[5].source("jobs"), "jobs_failed_tests");
        assert_eq!(
            capture_view_name("jobs_targets"),
            "jobs_targets_mv_backfill"
        );
    }

    #[test]
    fn a_read_table_gets_its_ttl_once() {
        let made_on_18_16 = "CREATE TABLE db.jobs_targets (...) ENGINE = AggregatingMergeTree() \
            PARTITION BY toYYYYMM(hour) ORDER BY (downstream_repo, hour)";
        let wanted = "hour + toIntervalDay(30)";
        assert_eq!(
            ttl_alter_to("db.jobs_targets", wanted, "26.9.2.1", made_on_18_16).as_deref(),
            Some("ALTER TABLE db.jobs_targets MODIFY TTL hour + toIntervalDay(30)")
        );
        assert_eq!(
            ttl_alter_to("db.jobs_targets", wanted, "18.16.1", made_on_18_16),
            None
        );
        let done = format!("{made_on_18_16} TTL hour + toIntervalDay(30) SETTINGS x = 1");
        assert_eq!(
            ttl_alter_to("db.jobs_targets", wanted, "26.9.2.1", &done),
            None
        );
    }

    #[test]
    fn the_by_target_table_gets_small_blocks_as_a_table_setting_where_the_server_takes_it() {
        let s = settings();
        let by_target = READ_TABLES[0];
        assert_eq!(by_target.suffix, BY_TARGET);
        let current = by_target.ddl(&s, "26.9.2.1");
        assert!(
            current.ends_with("SETTINGS index_granularity = 256, min_compress_block_size = 4096\n"),
            "{current}"
        );
        let old = by_target.ddl(&s, "18.16.1");
        assert!(old.ends_with("SETTINGS index_granularity = 256\n"), "{old}");
        // So does the table of failed-test lists; the others keep the server's sizes.
        for t in &READ_TABLES[1..] {
            let small = t
                .ddl(&s, "26.9.2.1")
                .contains("min_compress_block_size = 4096");
            assert_eq!(small, t.suffix == FAILED_TEST_LISTS, "{}", t.suffix);
        }

        // A table made before (on 18.16, or by an earlier release) is given it once.
        let made_before =
            "CREATE TABLE db.jobs_by_target (...) ENGINE = ReplacingMergeTree(version) \
            ORDER BY (upstream_repo) TTL first_seen_at + toIntervalDay(30) \
            SETTINGS index_granularity = 256";
        assert_eq!(
            by_target
                .block_size_alter("db.jobs_by_target", "26.9.2.1", made_before)
                .as_deref(),
            Some("ALTER TABLE db.jobs_by_target MODIFY SETTING min_compress_block_size = 4096")
        );
        let given = format!("{made_before}, min_compress_block_size = 4096");
        assert_eq!(
            by_target.block_size_alter("db.jobs_by_target", "26.9.2.1", &given),
            None
        );
        assert_eq!(
            by_target.block_size_alter("db.jobs_by_target", "18.16.1", made_before),
            None
        );
        assert_eq!(
            READ_TABLES[1].block_size_alter("db.jobs_targets", "26.9.2.1", made_before),
            None
        );
    }

    #[test]
    fn the_insert_pattern_is_made_of_the_plain_names() {
        let pattern = insert_pattern(&settings(), "jobs");
        assert_eq!(
            pattern,
            r"(?i)^\s*INSERT\s+INTO\s+(`?db`?\.)?`?jobs`?(\s|\(|$)"
        );
    }
}
