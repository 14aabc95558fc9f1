//! The query service: reads the two projections (running jobs from DynamoDB, completed jobs
//! from ClickHouse) and serves the views, as JSON and as pages.
//!
//! - [`config`]: the command line and its settings.
//! - [`app`]: builds the service and runs it until stopped.

pub mod app;
pub mod config;
