//! The projector: reads the callback events from Kafka and keeps the two projections of them,
//! the live job state in DynamoDB and the completed jobs in ClickHouse.
//!
//! **When an offset is committed.** Only after every effect of its batch is stored: the
//! messages that cannot be projected (undecodable, not the contract's words, keyed to another
//! job, or refused by a store for good: "parked") are on the dead-letter topic, every job's merged record is written to
//! DynamoDB, and every completed job's row is inserted into ClickHouse. A crash anywhere before
//! that leaves the offsets where they were, and the batch is projected again.
//!
//! **Why projecting again, or replaying, is safe.** The job record is a semilattice join of the
//! job's callbacks ([`merge`]): merging a callback already merged changes nothing, so a second
//! pass writes no DynamoDB item and re-inserts ClickHouse rows identical to those already there
//! (same job, same version), which `ReplacingMergeTree` collapses. Writes are conditional on the
//! version read, so two projectors on one partition (a rebalance) cannot regress a record.
//!
//! - [`merge`]: the merge rules, pure.
//! - [`source`]: batches from the consumer group, and the commit; [`dead_letter`]: the poison path.
//! - [`pipeline`]: one batch into both stores (coalesced per job, concurrent); [`retry`]:
//!   waiting out store outages, and finding the one job a store refuses for good.
//! - [`job_table`], [`completed_rows`]: the DynamoDB and ClickHouse sinks; [`failed_test_rows`]:
//!   a row per failed test of each completed job, beside its row.
//! - [`delivery_rows`]: the delivery log's rows (what became of each accepted event, and
//!   ingest's receipts of refused ones); [`receipts`]: the consumer of those receipts.
//! - [`rollups`]: the hourly cells the summary and headers read, kept exact through the
//!   [`ledger`] (rules in the `oot-rollup` crate).
//! - [`metrics`]: events, lag, freshness, parked events for Prometheus; [`replay`]: rebuilding
//!   from the log; [`redrive`]: putting dead letters back on the event topic.
//! - [`retention`]: dropping expired partitions where ClickHouse has no table TTLs.
//! - [`config`], [`app`]: settings, and building and running the service.

pub mod app;
pub mod completed_rows;
pub mod config;
pub mod dead_letter;
pub mod delivery_rows;
pub mod failed_test_rows;
pub mod job_table;
pub mod ledger;
pub mod merge;
pub mod metrics;
pub mod pipeline;
pub mod receipts;
pub mod redrive;
pub mod replay;
pub mod retention;
pub mod retry;
pub mod rollups;
pub mod source;
