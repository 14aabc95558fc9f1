//! Hourly rollups of completed jobs that stay exact under the latest-attempt rule: the pure
//! rules, shared by the projector that keeps them and the query service that reads them.
//!
//! - [`figures`]: what one run contributes to a rate ([`Contribution`]) and the sums a rollup
//!   holds ([`Figures`]): counts per outcome, durations and queue times in whole microseconds,
//!   so adding and retracting are exact in any order; [`histogram`]: the same durations counted
//!   in fixed buckets, for percentiles and shares over a limit.
//! - [`ledger`]: per run (repo, workflow, job, `run_id`), which attempt counts and in which
//!   hourly cell ([`RunState`], [`advance`]); a newer attempt or version retracts what the older
//!   one contributed. The projector stores each run's state beside its cell's sums and changes
//!   both in one transaction, so a cell always equals the sum of its runs.
//!
//! The rule they implement is the contract's (docs/contract.md §11.2, §11.4): a run counts as
//! its latest attempt, in the hour that attempt was first seen, once that attempt completed.

pub mod figures;
pub mod histogram;
pub mod ledger;
pub mod memory;

pub use figures::{Contribution, Figures, Outcome};
pub use histogram::{Histogram, Measure};
pub use ledger::{
    advance, latest_per_run, start_of_hour, AttemptRank, AttemptSeen, CellKey, LevelRank,
    RepoLatest, RunChange, RunKey, RunState, HOUR,
};
pub use memory::MemoryLedger;
