//! The query service: reads the two projections (running jobs from DynamoDB, completed jobs
//! from ClickHouse) and serves the views, as JSON and as pages.
//!
//! - [`rules`]: which jobs a view shows: the time window and the latest-attempt rule, for all views.
//! - [`observations`]: stored rows as the triage rules read them; [`baselines`]: which nightlies
//!   from before the window the failing-tests view reads; [`pr_triage`], [`release_diff`]: how
//!   "is it mine?" and the release diff read theirs.
//! - [`job`]: one job as the views see it; [`tally`]: pass rates and averages over jobs;
//!   [`target`]: what a row of the per-backend matrix stands for upstream.
//! - [`stores`]: the reads of each store (SQL in `query/sql/`, one file per query).
//! - [`views`]: the summary, per-backend and PR views as data, built by pure functions.
//! - [`pages`]: the views as HTML pages (no JavaScript), with their CSP and stylesheet.
//! - [`api`]: the JSON endpoints; [`params`]: their parameters, taken from a request by
//!   [`extract`]; [`error`]: their error answers.
//! - [`csv_export`]: every view's data as CSV too (`?format=csv`), one generic answer.
//! - [`cached`]: slowly changing figures read at most once a minute (the summary's verdicts);
//!   [`kept`]: costly answers kept per key and refreshed behind the requests (the failing tests);
//!   [`clock`]: times in and out; [`config`], [`app`]: settings, and building and running the service.

pub mod api;
pub mod app;
pub mod baselines;
pub mod cached;
pub mod clock;
pub mod config;
pub mod csv_export;
pub mod error;
pub mod extract;
pub mod job;
pub mod kept;
pub mod observations;
pub mod pages;
pub mod params;
pub mod pr_triage;
pub mod release_diff;
pub mod rules;
pub mod stores;
pub mod tally;
pub mod target;
pub mod views;
