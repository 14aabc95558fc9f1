//! Which attempt of a run counts, and where: the state the projector keeps per run, and how a
//! newly stored attempt changes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::figures::{Contribution, Figures};

/// Seconds in an hour: the cells' granularity (windows start on the hour, §11.1).
pub const HOUR: i64 = 60 * 60;

/// The start of the hour holding `at` (seconds since the epoch).
pub fn start_of_hour(at: i64) -> i64 {
    at - at.rem_euclid(HOUR)
}

/// One run of one job: a re-run keeps these and raises the attempt.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunKey {
    pub downstream_repo: String,
    pub workflow_name: String,
    pub job_name: String,
    pub run_id: String,
}

impl RunKey {
    /// The ledger's key of the run's state: its parts as a JSON array, so no name can be read
    /// as another (names may hold any separator).
    pub fn storage_key(&self) -> String {
        let parts = [
            self.downstream_repo.as_str(),
            self.workflow_name.as_str(),
            self.job_name.as_str(),
            self.run_id.as_str(),
        ];
        format!("run#{}", serde_json::Value::from(parts.to_vec()))
    }

    /// The cell of this run's job in `hour`.
    pub fn cell(&self, hour: i64) -> CellKey {
        CellKey {
            downstream_repo: self.downstream_repo.clone(),
            hour,
            workflow_name: self.workflow_name.clone(),
            job_name: self.job_name.clone(),
        }
    }
}

/// A rollup cell: one job (workflow, job name) of one repo in one hour.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CellKey {
    pub downstream_repo: String,
    /// Start of the hour, seconds since the epoch.
    pub hour: i64,
    pub workflow_name: String,
    pub job_name: String,
}

impl CellKey {
    /// The ledger's key of the cell's sums (see [`RunKey::storage_key`]).
    pub fn storage_key(&self) -> String {
        format!(
            "cell#{}",
            serde_json::json!([
                self.downstream_repo,
                self.hour,
                self.workflow_name,
                self.job_name
            ])
        )
    }
}

/// Which of two attempts of a run is the more recent: the higher attempt, then (never produced
/// by GitHub, only to be deterministic) the higher job key, as the views' rule
/// (`query/src/rules.rs::recency`); then, for one job, its later stored version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AttemptRank {
    pub run_attempt: u32,
    pub job_key: String,
    pub job_version: u64,
}

/// An attempt as just stored: its run, rank, when it was first seen and what it contributes.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptSeen {
    pub run: RunKey,
    pub rank: AttemptRank,
    /// Seconds since the epoch (our clock, set once per job).
    pub first_seen_at: i64,
    /// `None` while the attempt runs.
    pub counted: Option<Contribution>,
}

/// What the ledger holds for one run: its latest attempt, the hour that attempt was first seen
/// in (its cell), what it contributes there, a version bumped by every change (writes are
/// conditional on it), and every hour the run has changed a cell in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub rank: AttemptRank,
    pub hour: i64,
    pub counted: Option<Contribution>,
    pub version: u64,
    /// Sorted, at most [`MAX_HOURS_KEPT`] (the latest). A batch that finds the run unchanged
    /// re-sends these cells' snapshots: should the batch that changed them have stopped between
    /// the ledger and ClickHouse, its redelivery heals every cell it touched, the hour a re-run
    /// retracted an attempt from included.
    pub hours: Vec<i64>,
}

/// Hours kept per run: a run moves hour only when re-run in another hour, a handful of times.
pub const MAX_HOURS_KEPT: usize = 16;

/// A change of one run: its new state, the version the write is conditional on, and what each
/// cell gains (a retraction in the old cell when the run moves).
#[derive(Debug, Clone, PartialEq)]
pub struct RunChange {
    pub run: RunKey,
    pub state: RunState,
    /// `None`: the run is new.
    pub expected_version: Option<u64>,
    /// Non-zero deltas by hour.
    pub deltas: Vec<(i64, Figures)>,
}

/// The change `seen` makes to a run stored as `stored`; `None` when it changes nothing (an
/// older attempt, or the version already counted).
pub fn advance(stored: Option<&RunState>, seen: &AttemptSeen) -> Option<RunChange> {
    if stored.is_some_and(|s| s.rank >= seen.rank) {
        return None;
    }
    let hour = start_of_hour(seen.first_seen_at);
    let mut deltas: BTreeMap<i64, Figures> = BTreeMap::new();
    if let Some(before) = stored.and_then(|s| s.counted.as_ref().map(|c| (s.hour, c))) {
        deltas
            .entry(before.0)
            .or_default()
            .retract(&Figures::of(before.1));
    }
    if let Some(after) = &seen.counted {
        deltas.entry(hour).or_default().add(&Figures::of(after));
    }
    let mut hours: Vec<i64> = stored.map(|s| s.hours.clone()).unwrap_or_default();
    hours.extend(deltas.keys().copied());
    hours.push(hour);
    hours.sort_unstable();
    hours.dedup();
    let excess = hours.len().saturating_sub(MAX_HOURS_KEPT);
    hours.drain(..excess);
    Some(RunChange {
        run: seen.run.clone(),
        state: RunState {
            rank: seen.rank.clone(),
            hour,
            counted: seen.counted,
            version: stored.map_or(1, |s| s.version + 1),
            hours,
        },
        expected_version: stored.map(|s| s.version),
        deltas: deltas.into_iter().filter(|(_, d)| !d.is_zero()).collect(),
    })
}

/// The latest attempt of each run among `seen` (a batch may hold several attempts of one run;
/// only the latest can change the ledger).
pub fn latest_per_run(seen: Vec<AttemptSeen>) -> Vec<AttemptSeen> {
    let mut latest: BTreeMap<RunKey, AttemptSeen> = BTreeMap::new();
    for attempt in seen {
        match latest.get(&attempt.run) {
            Some(kept) if kept.rank >= attempt.rank => {}
            _ => {
                latest.insert(attempt.run.clone(), attempt);
            }
        }
    }
    latest.into_values().collect()
}

/// Which job's level is the repo's latest: the job first seen last, then the higher job key,
/// then its later version (the order `repo_last_results` used over every row).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LevelRank {
    pub first_seen_at: i64,
    pub job_key: String,
    pub job_version: u64,
}

/// Per repo, over every completed job version ever stored: the latest `completed_at` and the
/// level of the latest job. Both only grow, so merging is a join and redelivery changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoLatest {
    /// Seconds since the epoch.
    pub last_completed_at: i64,
    pub level_rank: LevelRank,
    /// Empty when the latest job carried no level.
    pub level: String,
}

impl RepoLatest {
    /// `self` joined with `other`; true when that changed `self`.
    pub fn absorb(&mut self, other: &RepoLatest) -> bool {
        let mut changed = false;
        if other.last_completed_at > self.last_completed_at {
            self.last_completed_at = other.last_completed_at;
            changed = true;
        }
        if other.level_rank > self.level_rank {
            self.level_rank = other.level_rank.clone();
            self.level = other.level.clone();
            changed = true;
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Outcome;
    use proptest::prelude::*;

    fn run() -> RunKey {
        RunKey {
            downstream_repo: "a/b".into(),
            workflow_name: "ci".into(),
            job_name: "test".into(),
            run_id: "100".into(),
        }
    }

    fn seen(
        attempt: u32,
        version: u64,
        first_seen_at: i64,
        outcome: Option<Outcome>,
    ) -> AttemptSeen {
        AttemptSeen {
            run: run(),
            rank: AttemptRank {
                run_attempt: attempt,
                job_key: format!("k{attempt}"),
                job_version: version,
            },
            first_seen_at,
            counted: outcome.map(|outcome| Contribution {
                outcome,
                duration_us: None,
                queue_us: None,
            }),
        }
    }

    fn apply(stored: &mut Option<RunState>, cells: &mut BTreeMap<i64, Figures>, s: &AttemptSeen) {
        if let Some(change) = advance(stored.as_ref(), s) {
            assert_eq!(change.expected_version, stored.as_ref().map(|s| s.version));
            for (hour, delta) in &change.deltas {
                cells.entry(*hour).or_default().add(delta);
            }
            *stored = Some(change.state);
        }
    }

    #[test]
    fn a_rerun_retracts_the_first_attempt_while_it_runs_and_counts_once_done() {
        let (mut stored, mut cells) = (None, BTreeMap::new());
        apply(
            &mut stored,
            &mut cells,
            &seen(1, 2, 3_600 * 10 + 5, Some(Outcome::Failure)),
        );
        assert_eq!(cells[&36_000].failures, 1);
        // Attempt 2 starts in the next hour: attempt 1's failure is retracted, nothing counts.
        apply(&mut stored, &mut cells, &seen(2, 1, 3_600 * 11 + 5, None));
        assert!(cells.values().all(Figures::is_zero), "{cells:?}");
        apply(
            &mut stored,
            &mut cells,
            &seen(2, 2, 3_600 * 11 + 5, Some(Outcome::Success)),
        );
        assert_eq!(cells[&39_600].successes, 1);
        assert_eq!(cells[&36_000], Figures::default());
        // Attempt 1 again (redelivered, or late): older, so nothing changes.
        assert_eq!(
            advance(stored.as_ref(), &seen(1, 2, 36_005, Some(Outcome::Failure))),
            None
        );
        assert_eq!(
            advance(stored.as_ref(), &seen(2, 2, 39_605, Some(Outcome::Success))),
            None
        );
        let stored = stored.expect("stored");
        assert_eq!(stored.version, 3);
        assert_eq!(stored.hours, vec![36_000, 39_600], "both cells it changed");
    }

    #[test]
    fn storage_keys_cannot_be_confused() {
        let mut a = run();
        a.workflow_name = "x\",\"y".into();
        let mut b = run();
        b.workflow_name = "x".into();
        b.job_name = "y\",\"test".into();
        assert_ne!(a.storage_key(), b.storage_key());
        assert_ne!(a.cell(0).storage_key(), b.cell(0).storage_key());
    }

    #[test]
    fn the_repos_latest_only_grows() {
        let rank = |t, k: &str| LevelRank {
            first_seen_at: t,
            job_key: k.into(),
            job_version: 1,
        };
        let mut latest = RepoLatest {
            last_completed_at: 50,
            level_rank: rank(10, "a"),
            level: "L1".into(),
        };
        let older = RepoLatest {
            last_completed_at: 40,
            level_rank: rank(9, "z"),
            level: "L4".into(),
        };
        assert!(!latest.absorb(&older));
        let newer = RepoLatest {
            last_completed_at: 45,
            level_rank: rank(10, "b"),
            level: "L2".into(),
        };
        assert!(latest.absorb(&newer));
        assert_eq!(
            (latest.last_completed_at, latest.level.as_str()),
            (50, "L2")
        );
        assert!(!latest.absorb(&newer), "joining again changes nothing");
    }

    proptest! {
        /// Any order of arrival, with repeats, leaves each cell equal to what the run's latest
        /// attempt contributes, and nothing elsewhere.
        #[test]
        fn cells_equal_the_latest_attempts_contribution_in_any_order(
            hours in proptest::collection::vec(0..3i64, 4),
            outcomes in proptest::collection::vec(proptest::option::of(0..5u8), 16),
            picks in proptest::collection::vec((1..4u32, 1..4u64), 1..12),
        ) {
            // A job (attempt) is first seen once, in its hour; each of its versions has one
            // state. The stream delivers versions in any order, with repeats.
            let all: Vec<AttemptSeen> = picks.iter().map(|&(a, v)| {
                let o = outcomes[(a as usize) * 4 + v as usize];
                let outcome = o.map(|o| [Outcome::Success, Outcome::Failure, Outcome::TimedOut, Outcome::Cancelled, Outcome::Other][o as usize]);
                seen(a, v, (a as i64 + hours[a as usize]) * HOUR + 7, outcome)
            }).collect();
            let (mut stored, mut cells) = (None, BTreeMap::new());
            for s in &all {
                apply(&mut stored, &mut cells, s);
            }
            let latest = all.iter().max_by(|x, y| x.rank.cmp(&y.rank)).cloned();
            let latest = latest.map(|l| latest_per_run(vec![l.clone()]).remove(0));
            let mut expected: BTreeMap<i64, Figures> = BTreeMap::new();
            if let Some(l) = latest.as_ref().filter(|l| l.counted.is_some()) {
                if let Some(c) = &l.counted {
                    expected.insert(start_of_hour(l.first_seen_at), Figures::of(c));
                }
            }
            cells.retain(|_, f| !f.is_zero());
            prop_assert_eq!(cells, expected);
        }
    }
}
