//! Retention of completed jobs (and their read tables, rollup cells and failed tests), and of
//! the delivery log, on ClickHouse servers without table TTLs (Debian's 18.16): whole monthly
//! partitions are dropped once every row in them is past the retention period (the jobs',
//! `OOT_CLICKHOUSE_TTL_DAYS`; the deliveries table's own, `OOT_CLICKHOUSE_DELIVERIES_TTL_DAYS`,
//! by the month of `received_at`). Servers with TTLs (19.6+) get a `TTL`
//! clause at table creation instead, and this task does nothing.
//!
//! The table is partitioned by the month of `first_seen_at` (see the DDL), so a partition may be
//! dropped when the end of its month is `ttl_days` in the past: a little later than a row-level
//! TTL would act, never earlier.

use std::time::Duration;

use clickhouse::Client;
use oot_platform::settings::ClickHouseSettings;
use time::{Date, Month, OffsetDateTime};
use tokio_util::sync::CancellationToken;

/// The first day after the month of partition `yyyymm`, if it is one.
fn month_end(partition: &str) -> Option<Date> {
    let value: i32 = partition.trim_matches('\'').parse().ok()?;
    let (year, month) = (value / 100, u8::try_from(value % 100).ok()?);
    let month = Month::try_from(month).ok()?;
    Date::from_calendar_date(year, month, 1).ok()?;
    let next_month = month.next();
    let next_year = if next_month == Month::January {
        year + 1
    } else {
        year
    };
    Date::from_calendar_date(next_year, next_month, 1).ok()
}

/// The partitions of the table whose every row is older than `ttl_days` at `now`.
pub fn expired(partitions: &[String], ttl_days: u32, now: OffsetDateTime) -> Vec<String> {
    let cutoff = now.date() - time::Duration::days(i64::from(ttl_days));
    partitions
        .iter()
        .filter(|p| month_end(p).is_some_and(|end| end <= cutoff))
        .cloned()
        .collect()
}

/// Drops the expired partitions of the completed-jobs table, its read tables, its rollup cells,
/// its failed tests and its deliveries table (each partitioned by the month of our own clock:
/// `first_seen_at`, `hour`, `received_at`); returns the ones dropped, as `table:partition`.
/// (The per-repo table has no partitions: one row a repo.)
pub async fn drop_expired_partitions(
    client: &Client,
    settings: &ClickHouseSettings,
    now: OffsetDateTime,
) -> Result<Vec<String>, clickhouse::error::Error> {
    let mut dropped = Vec::new();
    let tables = [
        settings.table.clone(),
        oot_contract::rollup::cells_table(&settings.table),
        oot_contract::clickhouse::failed_tests_table(&settings.table),
    ]
    .into_iter()
    .chain(oot_platform::read_tables::read_tables(&settings.table))
    .map(|table| (table, settings.ttl_days))
    .chain([(
        oot_contract::deliveries::deliveries_table(&settings.table),
        settings.deliveries_ttl_days,
    )]);
    for (table, ttl_days) in tables {
        let partitions: Vec<String> = client
            .query("SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active")
            .bind(&settings.database)
            .bind(&table)
            .fetch_all()
            .await?;
        for partition in expired(&partitions, ttl_days, now) {
            // The partition id comes from the server and is checked to be a YYYYMM number.
            let sql = format!(
                "ALTER TABLE {}.{table} DROP PARTITION {}",
                settings.database,
                partition.trim_matches('\'')
            );
            client.query(&settings.ddl(&sql)).execute().await?;
            tracing::info!(%table, partition, "dropped expired partition");
            dropped.push(format!("{table}:{partition}"));
        }
    }
    Ok(dropped)
}

/// Runs [`drop_expired_partitions`] now and every hour until `shutdown`, on servers that lack
/// table TTLs.
pub async fn enforce_retention(
    client: Client,
    settings: ClickHouseSettings,
    shutdown: CancellationToken,
) {
    let version: Result<String, _> = client.query("SELECT version()").fetch_one().await;
    match version {
        Ok(v) if oot_platform::migrate::supports_table_ttl(&v) => return,
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, "cannot read the ClickHouse version; enforcing retention by partitions")
        }
    }
    loop {
        if let Err(error) =
            drop_expired_partitions(&client, &settings, OffsetDateTime::now_utc()).await
        {
            tracing::warn!(%error, "retention: partitions not dropped this time");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_expires_once_its_last_day_is_older_than_the_retention() {
        let now = time::macros::datetime!(2026-11-27 12:00 UTC);
        let partitions: Vec<String> = ["202401", "202510", "202511", "202610", "garbage"]
            .map(String::from)
            .into();
        // 30 days: October 2026 ends 2026-11-01, which is not yet 30 days ago.
        assert_eq!(
            expired(&partitions, 30, now),
            vec!["202401", "202510", "202511"]
        );
        assert_eq!(expired(&partitions, 730, now), vec!["202401"]);
    }

    #[test]
    fn december_rolls_over_to_the_next_year() {
        assert_eq!(
            month_end("202512"),
            Date::from_calendar_date(2026, Month::January, 1).ok()
        );
        assert_eq!(month_end("quoted"), None);
    }
}
