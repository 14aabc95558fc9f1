//! The three views as data: what a JSON endpoint serializes and a page renders. Each builder is
//! a pure function of the jobs read and the time, so the views are tested without stores.
//!
//! - [`summary`]: every downstream repo, worst first.
//! - [`backend`]: one downstream repo: header, PR-by-job matrix, failure drill-down.
//! - [`pr`]: one upstream PR across backends, with its headline.
//! - [`cell`]: one job as the matrix and the PR view show it; [`failed_tests`]: the drill-down's list.

pub mod backend;
pub mod cell;
pub mod failed_tests;
pub mod pr;
pub mod summary;
