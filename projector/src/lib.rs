//! The projector: reads the callback events from Kafka and keeps the two projections of them,
//! the live job state in DynamoDB and the completed jobs in ClickHouse.
//!
//! - [`config`]: the command line (`run`, `migrate`) and its settings.
//! - [`app`]: builds the service (health endpoints on its own port) and runs it until stopped.

pub mod app;
pub mod config;
pub mod merge;
