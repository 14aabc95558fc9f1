//! `oot-alerts` owns alerting on the OOT event log (issue 13, docs/contract.md §17): when a
//! backend's CI turns red (a job failing on the nightly series, M of its last K runs, a pass
//! rate under the readiness threshold), goes quiet (stale) or has its callbacks refused, an
//! alert opens once, stays open without repeating and closes by itself once the condition
//! clears; each opening and closing is POSTed, signed, to the backend's webhooks.
//!
//! Pure rules, each with its tests: [`history`] (a slot's recent runs, latest attempt per run,
//! in the views' order), [`refusals`] (a backend's recent refusals), [`rules`] (whether each
//! condition holds), [`lifecycle`] (open once, close once, deterministic ids), [`evaluator`]
//! (the log's events applied to all of that), [`config`] (`alerts.toml`), [`webhook`] (the
//! body, its signature and its retries).
//!
//! The service, `oot-alerts`: [`app`] consumes the callback and deliveries topics in its own
//! consumer group, keeps the evaluator's state as a projection of the log in its own DynamoDB
//! table ([`store`]), commits offsets only once the state is stored, and [`dispatch`] sends
//! the stored outbox of webhook deliveries, at least once; [`settings`]: its flags.

pub mod app;
pub mod config;
pub mod dispatch;
pub mod evaluator;
pub mod history;
pub mod lifecycle;
pub mod metrics;
pub mod refusals;
pub mod rules;
pub mod settings;
pub mod store;
pub mod webhook;

#[cfg(test)]
mod proptests;
