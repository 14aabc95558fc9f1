//! What every oot-hud service shares, so each service crate holds only its own stage.
//!
//! - [`settings`]: where Kafka, DynamoDB and ClickHouse are and what the project's objects in
//!   them are called (flags and `OOT_*` variables, loopback defaults), and the clients built from that.
//! - [`migrate`]: schema as code: the topic, the job table and the completed-jobs table, idempotently;
//!   [`read_tables`]: the completed jobs' copies ordered for the views, kept by materialized views;
//!   [`failed_tests_table`]: one row per failed test per job version, kept by the projector;
//!   [`deliveries_table`]: the delivery log's topic and table.
//! - [`consumer_progress`]: how a consumer group records what it processed (stored offsets,
//!   committed in the background).
//! - [`dynamo_errors`]: which DynamoDB errors refuse the data for good and which are outages.
//! - [`dynamo_batch`]: reading many DynamoDB items by key (BatchGetItem, concurrent, unprocessed keys asked again).
//! - [`health`]: `/healthz` and `/readyz`; [`probes`]: the readiness probe of each store.
//! - [`http_metrics`]: requests by route and status, latency and in-flight, and `/metrics`.
//! - [`telemetry`]: logs and OpenTelemetry spans, set up once per process.
//! - [`shutdown`]: SIGTERM/SIGINT to a cancellation token, and serving HTTP until it fires.

pub mod consumer_progress;
pub mod deliveries_table;
pub mod dynamo_batch;
pub mod dynamo_errors;
pub mod failed_tests_table;
pub mod health;
pub mod http_metrics;
pub mod migrate;
pub mod placement;
pub mod probes;
pub mod read_tables;
pub mod rollup_tables;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
