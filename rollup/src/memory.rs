//! The ledger held in memory: what the projector's DynamoDB ledger does, for a replay that
//! rebuilds the ClickHouse tables without DynamoDB, and for the exactness tests.

use std::collections::{BTreeMap, VecDeque};
use std::hash::BuildHasher as _;

// foldhash, not SipHash: a replay looks every run up here (10M jobs: millions of runs), and
// the keys come from the log, which ingest validated. The evicted runs are remembered by a
// hash with a fixed seed, so two runs of one replay compare alike.
use foldhash::{HashMap, HashMapExt as _, HashSet, HashSetExt as _};

use crate::figures::Figures;
use crate::ledger::{advance, latest_per_run, AttemptSeen, CellKey, RepoLatest, RunKey, RunState};

/// Runs, cells (each with a version bumped by every change) and repos, in memory. Runs are
/// kept up to a capacity, oldest first out; a run seen again after it left is counted
/// ([`MemoryLedger::beyond_window`]): its older attempt may then be counted beside the new one.
pub struct MemoryLedger {
    capacity: usize,
    runs: HashMap<RunKey, RunState>,
    order: VecDeque<RunKey>,
    /// Hashes of the runs that left ([`run_hash`]): 8 bytes a run, not its key's strings, so a
    /// replay of any length stays within the window's memory and a few bytes per run.
    evicted: HashSet<u64>,
    cells: BTreeMap<CellKey, (Figures, u64)>,
    repos: BTreeMap<String, (RepoLatest, u64)>,
    pub beyond_window: u64,
}

/// A run's key hashed the same way every time (two runs colliding would count one run seen
/// again as having left the window: a count in the report, not a figure).
fn run_hash(run: &RunKey) -> u64 {
    foldhash::fast::FixedState::with_seed(0).hash_one(run)
}

impl MemoryLedger {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            runs: HashMap::new(),
            order: VecDeque::new(),
            evicted: HashSet::new(),
            cells: BTreeMap::new(),
            repos: BTreeMap::new(),
            beyond_window: 0,
        }
    }

    /// Counts a batch's attempts, as the projector's ledger would.
    pub fn apply(&mut self, seen: Vec<AttemptSeen>) {
        for attempt in latest_per_run(seen) {
            let stored = self.runs.get(&attempt.run);
            if stored.is_none() && self.evicted.contains(&run_hash(&attempt.run)) {
                self.beyond_window += 1;
            }
            let Some(change) = advance(stored, &attempt) else {
                continue;
            };
            for (hour, delta) in &change.deltas {
                let (figures, version) = self.cells.entry(attempt.run.cell(*hour)).or_default();
                figures.add(delta);
                *version += 1;
            }
            if stored.is_none() {
                while self.runs.len() >= self.capacity {
                    let Some(oldest) = self.order.pop_front() else {
                        break;
                    };
                    self.runs.remove(&oldest);
                    self.evicted.insert(run_hash(&oldest));
                }
                self.order.push_back(attempt.run.clone());
            }
            self.runs.insert(attempt.run.clone(), change.state);
        }
    }

    /// Joins a repo's latest.
    pub fn join_repo(&mut self, downstream_repo: &str, latest: &RepoLatest) {
        match self.repos.get_mut(downstream_repo) {
            Some((stored, version)) => {
                if stored.absorb(latest) {
                    *version += 1;
                }
            }
            None => {
                self.repos
                    .insert(downstream_repo.to_owned(), (latest.clone(), 1));
            }
        }
    }

    /// Every cell with its sums and version.
    pub fn cells(&self) -> impl Iterator<Item = (&CellKey, &Figures, u64)> {
        self.cells.iter().map(|(k, (f, v))| (k, f, *v))
    }

    /// Every repo's latest with its version.
    pub fn repos(&self) -> impl Iterator<Item = (&str, &RepoLatest, u64)> {
        self.repos.iter().map(|(k, (l, v))| (k.as_str(), l, *v))
    }

    /// The stored state of a run, if it is still held.
    pub fn run(&self, run: &RunKey) -> Option<&RunState> {
        self.runs.get(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::AttemptRank;

    fn running(run_id: &str) -> AttemptSeen {
        AttemptSeen {
            run: RunKey {
                downstream_repo: "org/repo".to_owned(),
                workflow_name: "ci".to_owned(),
                job_name: "test".to_owned(),
                run_id: run_id.to_owned(),
            },
            rank: AttemptRank {
                run_attempt: 1,
                job_key: format!("key-{run_id}"),
                job_version: 1,
            },
            first_seen_at: 1_777_000_000,
            counted: None,
        }
    }

    #[test]
    fn a_run_seen_again_after_leaving_the_window_is_counted_once_and_a_new_one_is_not() {
        let mut ledger = MemoryLedger::new(1);
        ledger.apply(vec![running("1")]);
        ledger.apply(vec![running("2")]); // the window holds one run: "1" leaves
        assert_eq!(ledger.beyond_window, 0);
        assert!(ledger.run(&running("1").run).is_none());
        ledger.apply(vec![running("3")]); // never seen: not beyond the window; "2" leaves
        assert_eq!(ledger.beyond_window, 0);
        ledger.apply(vec![running("1")]);
        assert_eq!(ledger.beyond_window, 1);
        assert!(ledger.run(&running("1").run).is_some());
    }
}
