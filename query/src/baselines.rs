//! Which nightlies from before the window the failing-tests view reads (contract §12.13).
//!
//! A failing test's baseline is the last nightly of its slot before its first failure in the
//! window (§12.5). When the slot has such a nightly in the window, the window's jobs hold it.
//! When not, it is the slot's last nightly before the window: the one job from before the window
//! the status needs, and the only one (every nightly before it is before the baseline, which no
//! rule looks past, and flakiness and the flip score read the window alone).
//!
//! So the rules are first run on the window's jobs; every failing test whose baseline is not a
//! nightly before its first failure marks its slot as pending ([`pending_slots`]); the pending
//! slots' nightlies are read back from the window's start, a day, then the rest of
//! [`LOOKBACK`] ([`spans`]), the rules run again after each, until no slot is pending; then the
//! nightlies that became baselines are asked whether they failed the tests they are baselines
//! of ([`asked_of_baselines`]). Reading a nightly that does not become a baseline changes no
//! answer, so the spans may read more than needed.
//!
//! **The one bound.** A slot with no nightly in the [`LOOKBACK`] before the window is answered
//! as if it had none before the window (its baseline is then its first nightly in the window, or
//! none): telling that from a nightly weeks earlier would need the backend's history back to the
//! retention, and no table is ordered by slot and trigger to read it by key.

use std::collections::{BTreeMap, BTreeSet};

use oot_triage::{FailingTest, JobRef, JobSlot, TestId};

const DAY: i64 = 86_400;

/// How far before the window a slot's last nightly is looked for.
pub const LOOKBACK: i64 = 7 * DAY;

/// The spans of hours read back from the window's start `since` (on the hour), newest first,
/// each `(from, until)`: the day before the window, then the rest of [`LOOKBACK`].
pub fn spans(since: i64) -> [(i64, i64); 2] {
    [(since - DAY, since), (since - LOOKBACK, since - DAY)]
}

/// Whether the baseline `row` was judged against is known to be its right one: a nightly from
/// before the window (the walk found it), or one before its first failure. Otherwise (none, or
/// the slot's first nightly at or after the first failure) a nightly before the window may be
/// the right one.
fn settled(row: &FailingTest, since: i64) -> bool {
    row.baseline.as_ref().is_some_and(|baseline| {
        baseline.first_seen_at < since || baseline.first_seen_at < row.first_failure_at
    })
}

/// The slots whose last nightly before the window may be a baseline of `rows` (the rules'
/// answer on what is read so far).
pub fn pending_slots(rows: &[FailingTest], since: i64) -> BTreeSet<JobSlot> {
    rows.iter()
        .filter(|row| !settled(row, since))
        .map(|row| row.slot.clone())
        .collect()
}

/// What is asked of a nightly from before the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub job_key: String,
    /// The version it was read at: its failed tests count at that version only (§10.3).
    pub version: u64,
    pub first_seen_at: i64,
    /// The tests it is the baseline of.
    pub tests: BTreeSet<TestId>,
}

/// The nightlies from before the window that are baselines of `rows`, by job key, each at the
/// version `version_of` says it was read at, with the tests it is the baseline of.
pub fn asked_of_baselines(
    rows: &[FailingTest],
    since: i64,
    version_of: impl Fn(&str) -> Option<u64>,
) -> Vec<Asked> {
    by_baseline(
        rows.iter().filter_map(|row| {
            let baseline = row.baseline.as_ref().filter(|b| b.first_seen_at < since)?;
            Some((baseline, &row.test))
        }),
        version_of,
    )
}

/// Each baseline of `pairs` (baseline, test it is the baseline of) with its tests, at the
/// version `version_of` says it was read at (a baseline not read is left out).
pub fn by_baseline<'a>(
    pairs: impl IntoIterator<Item = (&'a JobRef, &'a TestId)>,
    version_of: impl Fn(&str) -> Option<u64>,
) -> Vec<Asked> {
    let mut asked: BTreeMap<&str, Asked> = BTreeMap::new();
    for (baseline, test) in pairs {
        let Some(version) = version_of(&baseline.job_key) else {
            continue;
        };
        asked
            .entry(baseline.job_key.as_str())
            .or_insert_with(|| Asked {
                job_key: baseline.job_key.clone(),
                version,
                first_seen_at: baseline.first_seen_at,
                tests: BTreeSet::new(),
            })
            .tests
            .insert(test.clone());
    }
    asked.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observations::tests::{facts, listed};
    use crate::observations::{JobFacts, Observations};
    use oot_triage::{failing_tests, Status};

    const SINCE: i64 = 100 * DAY;

    fn nightly(key: &str, first_seen_at: i64) -> JobFacts {
        JobFacts {
            pr_number: None,
            event_type: "nightly".to_owned(),
            first_seen_at,
            run_id: format!("run-{key}"),
            failed_count: Some(1),
            ..facts(key, 1)
        }
    }

    fn pr(key: &str, first_seen_at: i64) -> JobFacts {
        JobFacts {
            first_seen_at,
            run_id: format!("run-{key}"),
            ..facts(key, 1)
        }
    }

    fn names(slots: &BTreeSet<JobSlot>) -> Vec<&str> {
        slots.iter().map(|s| s.job_name.as_str()).collect()
    }

    #[test]
    fn the_spans_cover_the_lookback_back_from_the_window() {
        assert_eq!(
            spans(SINCE),
            [(SINCE - DAY, SINCE), (SINCE - LOOKBACK, SINCE - DAY)]
        );
    }

    #[test]
    fn a_slot_with_a_nightly_before_the_first_failure_in_the_window_needs_nothing_older() {
        let observations = Observations::of_window(
            [nightly("n", SINCE + 10), pr("p", SINCE + 20)],
            [listed("p", 1, "t")],
        );
        let rows = failing_tests(observations.results(), SINCE);
        assert!(pending_slots(&rows, SINCE).is_empty());
        assert!(asked_of_baselines(&rows, SINCE, |key| observations.version_of(key)).is_empty());
    }

    #[test]
    fn a_failure_before_every_nightly_of_the_window_or_without_one_is_pending() {
        let mut other_slot = pr("q", SINCE + 5);
        other_slot.job_name = "other".to_owned();
        let observations = Observations::of_window(
            [pr("p", SINCE + 5), nightly("n", SINCE + 10), other_slot],
            [listed("p", 1, "t"), listed("q", 1, "t")],
        );
        let rows = failing_tests(observations.results(), SINCE);
        assert_eq!(names(&pending_slots(&rows, SINCE)), ["other", "test"]);
    }

    /// The walk as the service does it: the nightly found before the window becomes the
    /// baseline, is asked about its tests, and decides known against new.
    #[test]
    fn the_last_nightly_before_the_window_becomes_the_baseline_and_decides_the_status() {
        let mut observations = Observations::of_window(
            [pr("p", SINCE + 5), nightly("n", SINCE + 10)],
            [listed("p", 1, "known"), listed("p", 1, "new")],
        );
        let rows = failing_tests(observations.results(), SINCE);
        assert_eq!(names(&pending_slots(&rows, SINCE)), ["test"]);

        observations.add_before_window([
            nightly("older", SINCE - 3 * DAY),
            nightly("last", SINCE - 3),
        ]);
        let rows = failing_tests(observations.results(), SINCE);
        assert!(pending_slots(&rows, SINCE).is_empty());
        let asked = asked_of_baselines(&rows, SINCE, |key| observations.version_of(key));
        assert_eq!(asked.len(), 1);
        assert_eq!(
            (
                asked[0].job_key.as_str(),
                asked[0].version,
                asked[0].first_seen_at
            ),
            ("last", 1, SINCE - 3)
        );
        let tests: Vec<&str> = asked[0].tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(tests, ["known", "new"]);

        observations.attach_asked([listed("last", 1, "known"), listed("older", 1, "new")]);
        let rows = failing_tests(observations.results(), SINCE);
        let status: BTreeMap<&str, Status> = rows
            .iter()
            .map(|r| (r.test.name.as_str(), r.status))
            .collect();
        assert_eq!(
            status,
            BTreeMap::from([("known", Status::Known), ("new", Status::New)])
        );
        assert!(rows
            .iter()
            .all(|r| r.baseline.as_ref().map(|b| b.job_key.as_str()) == Some("last")));
    }

    #[test]
    fn a_baseline_in_the_same_second_as_the_first_failure_stays_pending() {
        // Which of the two is first goes by job key, which the row does not carry: reading the
        // nightly before the window as well changes no answer.
        let observations = Observations::of_window(
            [pr("a", SINCE + 10), nightly("b", SINCE + 10)],
            [listed("a", 1, "t")],
        );
        let rows = failing_tests(observations.results(), SINCE);
        assert_eq!(names(&pending_slots(&rows, SINCE)), ["test"]);
    }
}
