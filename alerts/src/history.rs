//! A job slot's recent completed runs, in the order every view reads runs (docs/contract.md
//! §11.2): the latest attempt of each run, runs ordered by [`newness`]. Pure.
//!
//! A slot keeps at most a bounded number of runs (the most any rule reads), and separately its
//! nightly series, so a burst of PR runs never pushes the nightlies a streak is judged on out
//! of memory. A run older than everything kept when the list is full is not kept: it could
//! change no rule's answer about the newest runs.

use oot_contract::alerts::RunLink;
use oot_triage::Trigger;
use serde::{Deserialize, Serialize};

/// How a completed run counts for the failure rules (docs/contract.md §11.4): `timed_out`
/// counts against the backend; `cancelled`, `skipped`, `neutral` and the rest are not rated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rated {
    Pass,
    Fail,
    NotRated,
}

impl Rated {
    pub fn of(conclusion: &str) -> Rated {
        match conclusion {
            "success" => Rated::Pass,
            "failure" | "timed_out" => Rated::Fail,
            _ => Rated::NotRated,
        }
    }
}

/// One completed run of a slot: its latest attempt seen so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub link: RunLink,
    pub rated: Rated,
}

impl Run {
    pub fn is_nightly(&self) -> bool {
        self.link.trigger == TRIGGER_NIGHTLY
    }
}

/// [`RunLink::trigger`] of a nightly run.
pub const TRIGGER_NIGHTLY: &str = "nightly";

/// The trigger's word for [`RunLink::trigger`], from the event's type and PR number as the
/// triage classifies them (`oot_triage::Trigger::classify`; the log does not say which branch a
/// `push` went to, so a push is `other`, as the nightly view reads it).
pub fn trigger_word(event_type: &str, pr_number: Option<u64>) -> &'static str {
    match Trigger::classify(event_type, pr_number, false) {
        Trigger::Nightly => TRIGGER_NIGHTLY,
        Trigger::PullRequest(_) => "pull_request",
        Trigger::Other => "other",
    }
}

/// How new a run is among a slot's runs: `run_id` compared as a number (non-numeric ids first),
/// then as text, then the attempt, then the job key: triage's `newness` (§11.2).
pub fn newness(link: &RunLink) -> (Option<u64>, &str, u32, &str) {
    (
        link.run_id.parse().ok(),
        &link.run_id,
        link.run_attempt,
        &link.job_key,
    )
}

/// Which of two reports of the same job wins: a real conclusion over the relay sweeper's
/// `timed_out` (the merge rule's ranking, §8.2), otherwise the one already kept.
fn report_rank(link: &RunLink) -> u8 {
    if link.conclusion == "timed_out" {
        1
    } else {
        2
    }
}

/// A slot's recent runs, oldest first, each run once (its latest attempt).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotHistory {
    /// Every trigger, at most `cap` runs.
    pub runs: Vec<Run>,
    /// The nightly series, at most `nightly_cap` runs.
    pub nightly: Vec<Run>,
    /// µs: the newest `received_at` of a completed run of the slot (the stale rule).
    pub last_result_at: i64,
}

/// What recording a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The slot's runs changed.
    Changed,
    /// The same report again (a redelivery), an earlier attempt, or a run older than everything
    /// kept: nothing changed.
    Unchanged,
}

impl SlotHistory {
    /// Records `run`, keeping at most `cap` runs and `nightly_cap` nightlies.
    pub fn record(&mut self, run: Run, cap: usize, nightly_cap: usize) -> Recorded {
        let mut changed = false;
        if run.link.received_at > self.last_result_at {
            self.last_result_at = run.link.received_at;
            changed = true;
        }
        if run.is_nightly() {
            changed |= insert(&mut self.nightly, run.clone(), nightly_cap);
        }
        changed |= insert(&mut self.runs, run, cap);
        if changed {
            Recorded::Changed
        } else {
            Recorded::Unchanged
        }
    }

    /// The rated runs, newest first.
    pub fn rated(&self) -> impl Iterator<Item = &Run> {
        self.runs
            .iter()
            .rev()
            .filter(|r| r.rated != Rated::NotRated)
    }

    /// The rated nightly runs, newest first.
    pub fn rated_nightly(&self) -> impl Iterator<Item = &Run> {
        self.nightly
            .iter()
            .rev()
            .filter(|r| r.rated != Rated::NotRated)
    }
}

/// Inserts `run` into `runs` (oldest first) as its run's latest attempt; `true` when `runs`
/// changed.
fn insert(runs: &mut Vec<Run>, run: Run, cap: usize) -> bool {
    if cap == 0 {
        return false;
    }
    if let Some(at) = runs.iter().position(|r| r.link.run_id == run.link.run_id) {
        let kept = &runs[at];
        let newer = newness(&run.link) > newness(&kept.link);
        let same_job_better = kept.link.job_key == run.link.job_key
            && kept.link.run_attempt == run.link.run_attempt
            && report_rank(&run.link) > report_rank(&kept.link);
        if !(newer || same_job_better) {
            return false;
        }
        runs.remove(at);
    }
    let at = runs.partition_point(|r| newness(&r.link) < newness(&run.link));
    if runs.len() >= cap && at == 0 {
        // Older than everything kept in a full list.
        return false;
    }
    runs.insert(at, run);
    while runs.len() > cap {
        runs.remove(0);
    }
    true
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn link(run_id: u64, attempt: u32, conclusion: &str, nightly: bool) -> RunLink {
        RunLink {
            job_key: format!("a/b/d-{run_id}/ci/test/{attempt}"),
            run_id: run_id.to_string(),
            run_attempt: attempt,
            conclusion: conclusion.to_owned(),
            upstream_sha: Some(format!("{run_id:0>40}")),
            pr_number: if nightly { None } else { Some(run_id) },
            trigger: if nightly { "nightly" } else { "pull_request" }.to_owned(),
            url: format!("https://ci.example/runs/{run_id}"),
            received_at: i64::try_from(run_id).unwrap_or(0) * 1_000_000,
        }
    }

    pub(crate) fn run(run_id: u64, attempt: u32, conclusion: &str, nightly: bool) -> Run {
        let link = link(run_id, attempt, conclusion, nightly);
        Run {
            rated: Rated::of(&link.conclusion),
            link,
        }
    }

    #[test]
    fn the_latest_attempt_of_a_run_replaces_the_earlier_one() {
        let mut slot = SlotHistory::default();
        assert_eq!(
            slot.record(run(7, 1, "failure", true), 10, 10),
            Recorded::Changed
        );
        assert_eq!(
            slot.record(run(7, 2, "success", true), 10, 10),
            Recorded::Changed
        );
        assert_eq!(slot.runs.len(), 1);
        assert_eq!(slot.runs[0].link.run_attempt, 2);
        // Attempt 1 delivered again later changes nothing.
        assert_eq!(
            slot.record(run(7, 1, "failure", true), 10, 10),
            Recorded::Unchanged
        );
        assert_eq!(slot.nightly.len(), 1);
    }

    #[test]
    fn a_real_conclusion_replaces_the_sweepers_timed_out_of_the_same_job() {
        let mut slot = SlotHistory::default();
        slot.record(run(7, 1, "timed_out", false), 10, 10);
        slot.record(run(7, 1, "success", false), 10, 10);
        assert_eq!(slot.runs[0].rated, Rated::Pass);
        slot.record(run(7, 1, "timed_out", false), 10, 10);
        assert_eq!(slot.runs[0].rated, Rated::Pass);
    }

    #[test]
    fn runs_are_ordered_by_run_id_as_numbers_and_capped() {
        let mut slot = SlotHistory::default();
        for id in [10, 9, 100, 11] {
            slot.record(run(id, 1, "success", false), 3, 3);
        }
        let ids: Vec<&str> = slot.runs.iter().map(|r| r.link.run_id.as_str()).collect();
        assert_eq!(ids, ["10", "11", "100"]);
        assert_eq!(
            slot.record(run(1, 1, "failure", false), 3, 3),
            Recorded::Unchanged,
            "older than all in a full list"
        );
        assert!(slot.nightly.is_empty());
    }
}
