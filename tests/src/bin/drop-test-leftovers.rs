//! Drops what earlier runs of the end-to-end tests left on the local stack: each test names its
//! own topics, tables and ClickHouse tables (`oot_e2e::TestStores`) and leaves them for a
//! post-mortem, so a stack that runs the suite again and again piles them up (after a few dozen
//! runs: 49,000 ClickHouse tables, 4,200 DynamoDB tables, 10,000 topic partitions, and every
//! server slower for it). `compose/test.sh` runs this before the tests; the benchmarks' data
//! sets (`oot_hud_bench`, kept for reuse) are not touched.
//!
//! Best effort: a store that refuses is reported and the others are still cleaned.

use std::time::Duration;

use clap::Parser;
use futures::StreamExt as _;
use oot_platform::settings::StoreSettings;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};

use oot_e2e::{TEST_DATABASE as DATABASE, TEST_NAME_PREFIX};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    stores: StoreSettings,
}

#[tokio::main]
async fn main() {
    let Args { stores } = Args::parse();
    let mut failed = false;
    match drop_topics(&stores).await {
        Ok(n) => println!("kafka: {n} test topics deleted"),
        Err(error) => {
            eprintln!("kafka: test topics not deleted: {error:#}");
            failed = true;
        }
    }
    match delete_tables(&stores).await {
        Ok(n) => println!("dynamodb: {n} test tables deleted"),
        Err(error) => {
            eprintln!("dynamodb: test tables not deleted: {error:#}");
            failed = true;
        }
    }
    let client = stores.clickhouse.client().with_database("system");
    match client
        .query(&format!("DROP DATABASE IF EXISTS {DATABASE}"))
        .execute()
        .await
    {
        Ok(()) => println!("clickhouse: database {DATABASE} dropped"),
        Err(error) => {
            eprintln!("clickhouse: database {DATABASE} not dropped: {error}");
            failed = true;
        }
    }
    if failed {
        eprintln!("some leftovers remain; the tests do not depend on their absence");
    }
}

/// Whether a topic or DynamoDB table is named as the tests name theirs (`e2e-…`).
fn is_a_tests(name: &str) -> bool {
    name.strip_prefix(TEST_NAME_PREFIX)
        .is_some_and(|rest| rest.starts_with('-'))
}

async fn drop_topics(stores: &StoreSettings) -> anyhow::Result<usize> {
    let config = stores.kafka.client_config();
    let lister: BaseConsumer = config.create()?;
    let metadata =
        tokio::task::spawn_blocking(move || lister.fetch_metadata(None, Duration::from_secs(30)))
            .await??;
    let topics: Vec<String> = metadata
        .topics()
        .iter()
        .map(|t| t.name().to_owned())
        .filter(|name| is_a_tests(name))
        .collect();
    let admin: AdminClient<DefaultClientContext> = config.create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(60)));
    let mut deleted = 0;
    for chunk in topics.chunks(200) {
        let names: Vec<&str> = chunk.iter().map(String::as_str).collect();
        // A topic another run deleted meanwhile is not counted; nor is one the broker refused.
        deleted += admin
            .delete_topics(&names, &options)
            .await?
            .iter()
            .filter(|result| result.is_ok())
            .count();
    }
    Ok(deleted)
}

async fn delete_tables(stores: &StoreSettings) -> anyhow::Result<usize> {
    let client = stores.dynamo.client().await;
    let mut names = Vec::new();
    let mut pages = client.list_tables().into_paginator().send();
    while let Some(page) = pages.next().await {
        names.extend(
            page?
                .table_names()
                .iter()
                .filter(|name| is_a_tests(name))
                .cloned(),
        );
    }
    let deleted: Vec<bool> = futures::stream::iter(&names)
        .map(|name| {
            let client = client.clone();
            async move { client.delete_table().table_name(name).send().await.is_ok() }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    Ok(deleted.into_iter().filter(|&ok| ok).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tests_names_are_deleted() {
        let stores = oot_e2e::TestStores::unique("leftovers").settings;
        assert!(is_a_tests(&stores.kafka.topic));
        assert!(is_a_tests(&stores.kafka.deliveries_topic));
        assert!(is_a_tests(&stores.dynamo.table));
        for kept in [
            "views_10m",
            "views_10m-rollup",
            "oot-callbacks",
            "e2efoo",
            "fresh_1",
        ] {
            assert!(!is_a_tests(kept), "{kept}");
        }
    }
}
