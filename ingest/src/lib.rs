//! The ingest service: `POST /api/oot/results` authenticates and validates relay callbacks and
//! appends each accepted one to the Kafka event log as an Avro event, answering 202 only once
//! the broker has it.
//!
//! - [`callback`]: validating one callback, as pure domain logic.
//! - [`auth`]: the shared secrets and their constant-time check.
//! - [`rate_limit`]: the sliding-window limit per downstream repo.
//! - [`body_budget`]: the bytes of bodies parsed and validated at once.
//! - [`event`]: a validated callback to its Avro event.
//! - [`publish`]: the idempotent producer, and the trace context in the message headers.
//! - [`receipts`]: the delivery receipt of each authenticated refusal, produced fire and forget.
//! - [`metrics`]: `/metrics`: requests, refusals by reason, the producer's queue.
//! - [`routes`]: the endpoint, its checks in order, and the OpenAPI description; [`response`]: its answers.
//! - [`config`], [`app`]: settings, and building and running the service; [`clock`]: the time
//!   it stamps on events (the system clock, or one a test moves).

pub mod app;
pub mod auth;
pub mod body_budget;
pub mod callback;
pub mod clock;
pub mod config;
pub mod event;
pub mod metrics;
pub mod publish;
pub mod rate_limit;
pub mod receipts;
pub mod response;
pub mod routes;
