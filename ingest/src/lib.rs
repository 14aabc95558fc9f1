//! The ingest service: `POST /api/oot/results` authenticates and validates relay callbacks and
//! appends each accepted one to the Kafka event log as an Avro event.
//!
//! - [`callback`]: validating one callback, as pure domain logic.
//! - [`config`]: the command line and its settings.
//! - [`app`]: builds the service and runs it until stopped.

pub mod app;
pub mod callback;
pub mod config;
