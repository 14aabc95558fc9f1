//! RFC-0054 readiness for one backend (issue 12): whether an L2 backend may be promoted to L3,
//! whether an L3 backend should be demoted, on numbers shown gate by gate.
//!
//! Pure rules over plain data, no I/O but reading the thresholds file: the caller (the query
//! service) reads a backend's window figures from the rollups and its level observations from
//! the stores, and every answer here comes from those alone. The rules are written in docs/contract.md §14.
//!
//! - [`thresholds`]: every threshold and window, as settings (`readiness.toml`).
//! - [`rate`]: a rate as its counts and a threshold as an exact fraction.
//! - [`gates`]: the gates, their statuses, the promotion and demotion verdicts.
//! - [`levels`]: the level history: runs, first and last seen per level, days at the current level.
//! - [`percentile`]: percentiles and the share over a limit from a fixed-bucket histogram.

pub mod gates;
pub mod levels;
pub mod percentile;
pub mod rate;
pub mod thresholds;

#[cfg(test)]
mod proptests;

pub use gates::{
    scorecard, status_of, Comparison, DemotionVerdict, Gate, GateName, GateResult, GateStatus,
    Judgement, PromotionVerdict, Scorecard, Unit, WindowFigures, DEMOTED_FROM, GATES,
    PROMOTED_FROM,
};
pub use levels::{
    level_history, level_history_from_extents, CurrentLevel, DaysAtLevel, LevelExtent,
    LevelHistory, PreviousLevel,
};
pub use percentile::{
    bucket_of, percentile, share_over, Histogram, HistogramError, Percentile, ShareOver,
};
pub use rate::{Fraction, Rate};
pub use thresholds::{Thresholds, ThresholdsError};
