//! A backend's level history: when its `downstream_repo_level` changed, the first and last time
//! each level was seen, and how long it has been at its current level.
//!
//! **Input.** Observations `(seen_at, level)`: a job first seen at `seen_at` (seconds, our
//! clock, docs/contract.md §11.1) carried `level`. They may come one by one
//! ([`level_history`]) or grouped ([`level_history_from_extents`]): each group's level with the
//! first and last time it was seen, per level (what one `GROUP BY level` gives) or per level
//! and day (what a table of per-(repo, level, day) min/max gives). Any order.
//!
//! **Order.** Observations are ordered by `(seen_at, level)`: two levels seen in the same second
//! are taken as the lower then the higher. The store cannot tell their real order; the rule only
//! makes every answer independent of the input's order.
//!
//! **What groups can and cannot tell.** The first and last time each level was seen, and the
//! current level (the level of the newest observation), are exact from any grouping. The runs
//! (a backend going L2 → L3 → L2 has three) and the start of the current run are exact from
//! single observations; from groups they are exact unless a group of the current level holds
//! observations both before and after the last observation of another level. Per level, that
//! is any backend that came back to a level it held before (L2 → L3 → L2: L2's group spans
//! L3's); per level and day, only a return to a level within one day on which it was already
//! seen. When it is not exact, [`CurrentLevel::exact`] is false and the start is the latest it
//! can be, so the days at the level are never overstated.

use std::cmp::Ordering;

use oot_contract::RepoLevel;
use serde::Serialize;

const DAY_S: i64 = 86_400;

/// A level and the first and last time it was seen, in seconds. As input: one group of
/// observations. In [`LevelHistory::levels`]: every observation of that level. In
/// [`LevelHistory::spans`]: one run of consecutive observations of it, no other level between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct LevelExtent {
    pub level: RepoLevel,
    pub first_seen: i64,
    pub last_seen: i64,
}

impl LevelExtent {
    /// A group whose first and last are given the wrong way round is read as seen from the
    /// earlier to the later: the two times are what the group knows either way.
    fn normalized(self) -> LevelExtent {
        LevelExtent {
            first_seen: self.first_seen.min(self.last_seen),
            last_seen: self.first_seen.max(self.last_seen),
            ..self
        }
    }

    fn first_key(&self) -> (i64, RepoLevel) {
        (self.first_seen, self.level)
    }

    fn last_key(&self) -> (i64, RepoLevel) {
        (self.last_seen, self.level)
    }
}

/// The last observation of another level before the current run: the level the backend came
/// from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PreviousLevel {
    pub level: RepoLevel,
    pub last_seen: i64,
}

/// The level of the newest observation and since when the backend has been at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CurrentLevel {
    pub level: RepoLevel,
    /// The first observation of `level` after the last observation of another level (or its
    /// first observation ever, when no other level was seen). When not `exact`, the latest that
    /// observation can be: the run began after `previous.last_seen` and by `since`.
    pub since: i64,
    pub exact: bool,
    pub previous: Option<PreviousLevel>,
}

/// The current level and the whole days spent at it: what the scorecard's days-at-L2 gate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DaysAtLevel {
    pub level: RepoLevel,
    pub since: i64,
    /// Whole days from `since` to now, rounded down (30 days is 30 × 86,400 s); 0 when `now` is
    /// before `since` (clocks disagree). A gap without jobs does not end a run: the level is the
    /// allowlist's, and a quiet backend keeps it.
    pub days: u32,
    /// False when `since` is only the latest the run can have begun: `days` is then at least the
    /// truth, never more.
    pub exact: bool,
}

impl CurrentLevel {
    pub fn days_at(&self, now: i64) -> DaysAtLevel {
        let whole_days = now.saturating_sub(self.since).max(0) / DAY_S;
        DaysAtLevel {
            level: self.level,
            since: self.since,
            days: u32::try_from(whole_days).unwrap_or(u32::MAX),
            exact: self.exact,
        }
    }
}

/// What the observations say about a backend's levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelHistory {
    /// Each level ever seen with its first and last observation, ordered by first observation.
    pub levels: Vec<LevelExtent>,
    /// The runs of one level, oldest first; consecutive runs differ in level, and each boundary
    /// is a change (between the last observation of one run and the first of the next). `None`
    /// when grouped input cannot order them (two groups of different levels overlap).
    pub spans: Option<Vec<LevelExtent>>,
    pub current: CurrentLevel,
}

/// The history of single observations `(seen_at, level)`, in any order; `None` when there are
/// none. Every answer is exact.
pub fn level_history(observations: &[(i64, RepoLevel)]) -> Option<LevelHistory> {
    let extents: Vec<LevelExtent> = observations
        .iter()
        .map(|(seen_at, level)| LevelExtent {
            level: *level,
            first_seen: *seen_at,
            last_seen: *seen_at,
        })
        .collect();
    level_history_from_extents(&extents)
}

/// The history of grouped observations, in any order; `None` when there are none. The module
/// says what is exact: `levels` and `current.level` always; `spans` and `current.since` unless
/// groups of different levels overlap (then `spans` is `None` and `current.exact` may be false).
pub fn level_history_from_extents(extents: &[LevelExtent]) -> Option<LevelHistory> {
    let mut extents: Vec<LevelExtent> = extents.iter().map(|e| e.normalized()).collect();
    extents.sort();
    let newest = extents.iter().max_by_key(|e| e.last_key())?;
    let current = current_level(&extents, newest.level);
    Some(LevelHistory {
        levels: per_level(&extents),
        spans: spans(&extents),
        current,
    })
}

fn per_level(sorted: &[LevelExtent]) -> Vec<LevelExtent> {
    let mut levels: Vec<LevelExtent> = Vec::new();
    for extent in sorted {
        match levels.iter_mut().find(|l| l.level == extent.level) {
            Some(seen) => {
                seen.first_seen = seen.first_seen.min(extent.first_seen);
                seen.last_seen = seen.last_seen.max(extent.last_seen);
            }
            None => levels.push(*extent),
        }
    }
    // Sorted by first observation already: each level entered at its first group, in order.
    levels
}

/// The runs, or `None` when two groups of different levels overlap (their observations may
/// interleave). Sorted by start, a group overlaps an earlier one exactly when it starts before
/// that one's end, so comparing each with the latest end of every other level seen so far is
/// enough.
fn spans(sorted: &[LevelExtent]) -> Option<Vec<LevelExtent>> {
    let mut latest_end: Vec<(RepoLevel, (i64, RepoLevel))> = Vec::new();
    let mut spans: Vec<LevelExtent> = Vec::new();
    for extent in sorted {
        let overlaps = latest_end
            .iter()
            .any(|(level, end)| *level != extent.level && *end >= extent.first_key());
        if overlaps {
            return None;
        }
        match latest_end
            .iter_mut()
            .find(|(level, _)| *level == extent.level)
        {
            Some((_, end)) => *end = (*end).max(extent.last_key()),
            None => latest_end.push((extent.level, extent.last_key())),
        }
        match spans.last_mut() {
            Some(span) if span.level == extent.level => {
                span.last_seen = span.last_seen.max(extent.last_seen);
            }
            _ => spans.push(*extent),
        }
    }
    Some(spans)
}

/// Since when the backend has been at `level`, the level of the newest observation.
///
/// `T` is the last observation of another level. Every group of `level` that starts after `T`
/// starts with a known observation after it; a group that starts before `T` and ends after it
/// (it straddles `T`) has a known observation after `T` at its end and maybe others anywhere
/// between. The run's first observation is the earliest known one after `T`, exactly so unless
/// some group straddles `T`.
fn current_level(sorted: &[LevelExtent], level: RepoLevel) -> CurrentLevel {
    let previous = sorted
        .iter()
        .filter(|e| e.level != level)
        .max_by_key(|e| e.last_key())
        .map(|e| PreviousLevel {
            level: e.level,
            last_seen: e.last_seen,
        });
    let ours = sorted.iter().filter(|e| e.level == level);
    let Some(previous) = previous else {
        let since = ours.map(|e| e.first_seen).min().unwrap_or(i64::MIN);
        return CurrentLevel {
            level,
            since,
            exact: true,
            previous: None,
        };
    };
    let after = (previous.last_seen, previous.level);
    let mut since: Option<i64> = None;
    let mut straddles = false;
    for extent in ours {
        let known_after = if extent.first_key() > after {
            extent.first_seen
        } else if extent.last_key() > after {
            straddles = true;
            extent.last_seen
        } else {
            continue;
        };
        since = Some(since.map_or(known_after, |s| s.min(known_after)));
    }
    CurrentLevel {
        level,
        // The newest observation is of `level` and after `T`, so some group gave a time; the
        // fallback only keeps this total.
        since: since.unwrap_or(previous.last_seen),
        exact: !straddles,
        previous: Some(previous),
    }
}

impl PartialOrd for LevelExtent {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// By first observation, then last, then level: the order `levels` and `spans` are listed in.
impl Ord for LevelExtent {
    fn cmp(&self, other: &Self) -> Ordering {
        self.first_key()
            .cmp(&other.first_key())
            .then(self.last_key().cmp(&other.last_key()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RepoLevel::{L1, L2, L3};

    const DAY: i64 = DAY_S;

    fn extent(level: RepoLevel, first_seen: i64, last_seen: i64) -> LevelExtent {
        LevelExtent {
            level,
            first_seen,
            last_seen,
        }
    }

    #[test]
    fn no_observation_no_history() {
        assert_eq!(level_history(&[]), None);
        assert_eq!(level_history_from_extents(&[]), None);
    }

    #[test]
    fn one_level_all_along() {
        let h = level_history(&[(5 * DAY, L2), (DAY, L2), (3 * DAY, L2)]).expect("history");
        assert_eq!(h.levels, vec![extent(L2, DAY, 5 * DAY)]);
        assert_eq!(h.spans, Some(vec![extent(L2, DAY, 5 * DAY)]));
        assert_eq!(
            h.current,
            CurrentLevel {
                level: L2,
                since: DAY,
                exact: true,
                previous: None
            }
        );
        let days = h.current.days_at(31 * DAY);
        assert_eq!((days.days, days.exact), (30, true));
        // One second short of 30 whole days is 29.
        assert_eq!(h.current.days_at(31 * DAY - 1).days, 29);
        // A clock behind the observations counts no days.
        assert_eq!(h.current.days_at(0).days, 0);
    }

    #[test]
    fn a_level_change_in_the_stream_starts_a_new_run() {
        // L1 for ten days, then L2: days at L2 count from its first observation, not from the
        // backend's first.
        let observations = [(0, L1), (10 * DAY, L1), (12 * DAY, L2), (40 * DAY, L2)];
        let h = level_history(&observations).expect("history");
        assert_eq!(
            h.spans,
            Some(vec![
                extent(L1, 0, 10 * DAY),
                extent(L2, 12 * DAY, 40 * DAY)
            ])
        );
        assert_eq!(h.current.level, L2);
        assert_eq!(h.current.since, 12 * DAY);
        assert_eq!(
            h.current.previous,
            Some(PreviousLevel {
                level: L1,
                last_seen: 10 * DAY
            })
        );
        assert_eq!(h.current.days_at(42 * DAY).days, 30);
    }

    #[test]
    fn going_back_to_a_level_restarts_its_days() {
        // L2 → L3 → L2: the second run at L2 counts from its own start.
        let observations = [
            (0, L2),
            (30 * DAY, L2),
            (31 * DAY, L3),
            (35 * DAY, L3),
            (36 * DAY, L2),
            (40 * DAY, L2),
        ];
        let h = level_history(&observations).expect("history");
        assert_eq!(
            h.spans,
            Some(vec![
                extent(L2, 0, 30 * DAY),
                extent(L3, 31 * DAY, 35 * DAY),
                extent(L2, 36 * DAY, 40 * DAY)
            ])
        );
        assert_eq!(
            h.levels,
            vec![extent(L2, 0, 40 * DAY), extent(L3, 31 * DAY, 35 * DAY)]
        );
        assert_eq!((h.current.since, h.current.exact), (36 * DAY, true));
        assert_eq!(h.current.days_at(40 * DAY).days, 4);
    }

    #[test]
    fn per_level_groups_cannot_tell_a_return_to_a_level() {
        // The same stream grouped per level: L2 spans L3, so the runs are unknown and the
        // current run is only known to have begun after L3's last observation and by L2's last.
        let h =
            level_history_from_extents(&[extent(L2, 0, 40 * DAY), extent(L3, 31 * DAY, 35 * DAY)])
                .expect("history");
        assert_eq!(h.spans, None);
        assert_eq!(h.current.level, L2);
        assert_eq!((h.current.since, h.current.exact), (40 * DAY, false));
        assert_eq!(
            h.current.previous,
            Some(PreviousLevel {
                level: L3,
                last_seen: 35 * DAY
            })
        );
        // Non-overlapping groups are as good as the observations.
        let h =
            level_history_from_extents(&[extent(L3, 31 * DAY, 35 * DAY), extent(L2, 0, 30 * DAY)])
                .expect("history");
        assert_eq!(h.current.level, L3);
        assert_eq!((h.current.since, h.current.exact), (31 * DAY, true));
        assert_eq!(h.spans.map(|s| s.len()), Some(2));
    }

    #[test]
    fn per_day_groups_are_exact_unless_the_return_is_within_one_day() {
        // L2 → L3 → L2 over days, grouped per level and day: exact.
        let days = [
            extent(L2, 29 * DAY + 100, 29 * DAY + 200),
            extent(L3, 30 * DAY + 100, 30 * DAY + 900),
            extent(L2, 30 * DAY + 1_000, 30 * DAY + 5_000),
            extent(L2, 31 * DAY + 10, 31 * DAY + 20),
        ];
        let h = level_history_from_extents(&days).expect("history");
        assert_eq!((h.current.since, h.current.exact), (30 * DAY + 1_000, true));
        assert_eq!(h.spans.map(|s| s.len()), Some(3));
        // The same day held L2, then L3, then L2 again: L2's day group straddles L3.
        let days = [
            extent(L2, 30 * DAY + 100, 30 * DAY + 5_000),
            extent(L3, 30 * DAY + 200, 30 * DAY + 900),
            extent(L2, 31 * DAY + 10, 31 * DAY + 20),
        ];
        let h = level_history_from_extents(&days).expect("history");
        assert_eq!(h.spans, None);
        assert_eq!(
            (h.current.since, h.current.exact),
            (30 * DAY + 5_000, false)
        );
    }

    #[test]
    fn two_levels_in_one_second_take_the_higher_as_the_later() {
        let h = level_history(&[(10, L3), (10, L2)]).expect("history");
        assert_eq!(h.current.level, L3);
        assert_eq!(h.spans, Some(vec![extent(L2, 10, 10), extent(L3, 10, 10)]));
    }

    #[test]
    fn a_group_given_last_before_first_is_read_the_right_way_round() {
        let h = level_history_from_extents(&[extent(L2, 50, 10)]).expect("history");
        assert_eq!(h.levels, vec![extent(L2, 10, 50)]);
    }
}
