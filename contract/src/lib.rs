//! `oot-contract` owns the words of the OOT callback contract, each defined once and used as a
//! type by ingest, the projector and the query service (`docs/contract.md` is their reference):
//!
//! - the values a callback is made of, each valid by construction (`parse` is the only way in,
//!   and serde reads back through it): [`RepoName`], [`RepoLevel`], [`Status`], [`Conclusion`],
//!   [`EventType`], [`PrNumber`], [`CommitSha`], the job key's parts and [`JobKey`] itself,
//!   [`UpstreamPr`], [`HttpsUrl`], [`Timestamp`], [`TestCounts`];
//! - the caps on identifying values ([`limits`]);
//! - the names the stores use: DynamoDB's attributes and indexes ([`dynamo`]), ClickHouse's
//!   columns ([`clickhouse`]), the rollups' ledger and tables ([`rollup`]), and the delivery
//!   log's outcomes and table ([`deliveries`]), the alert evaluator's table and stored alerts
//!   ([`alerts`]).
//!
//! It holds no I/O and no rules beyond what makes one value valid: validating a whole callback is
//! ingest's, merging is the projector's, windows and pass rates are the query service's.

pub mod alerts;
pub mod clickhouse;
pub mod deliveries;
pub mod dynamo;
mod error;
mod https_url;
mod job;
pub mod limits;
mod outcome;
mod repo;
pub mod rollup;
mod text;
mod timestamp;
mod upstream;

pub use error::InvalidValue;
pub use https_url::HttpsUrl;
pub use job::{DeliveryId, JobKey, JobName, NumericId, RunAttempt, WorkflowName};
pub use outcome::{parse_seconds, Conclusion, Status, TestCounts};
pub use repo::{RepoLevel, RepoName};
pub use timestamp::Timestamp;
pub use upstream::{is_nightly_run, CommitSha, EventKind, EventType, PrNumber, UpstreamPr};
