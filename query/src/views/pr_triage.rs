//! "Is it mine?" on the PR view (contract §12.8, read as §12.15): per backend, the verdict of
//! [`oot_triage::is_it_mine`] on each test failing in the PR's shown jobs, and headlines that
//! count them, such as "2 new on this PR, 1 known on nightly, 3 seen on other PRs".
//!
//! The fields are added to [`PrView`] as optional ones, absent from the PR's jobs view alone, so
//! that view's JSON stays what it was.

use std::collections::BTreeSet;

use oot_triage::{PrFailingTest, PrHeadline, PrTriage, TestId};
use serde::Serialize;

use crate::clock::rfc3339;
use crate::rules::Window;
use crate::views::pr::PrView;

/// The failing tests of one backend asked about other PRs (one key range each), at most: the
/// first by (classname, name). The rest are counted in `tests_not_triaged`, not judged.
pub const TESTS_ASKED_PER_BACKEND: usize = 200;

/// The triage of the PR as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrTriageSummary {
    /// The window "seen on other PRs" looks in, ending at the view's time.
    pub other_prs_window: &'static str,
    pub other_prs_since: Option<String>,
    pub tests_asked_per_backend: usize,
    pub headline: String,
    pub counts: PrHeadline,
    pub tests_not_triaged: u64,
}

/// One backend's triage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackendTriage {
    pub headline: String,
    pub counts: PrHeadline,
    /// New on this PR first, then seen on other PRs, then known on nightly.
    pub tests: Vec<PrFailingTest>,
    /// Failing tests beyond [`TESTS_ASKED_PER_BACKEND`], not judged.
    pub tests_not_triaged: u64,
    /// When the verdicts were judged: they are kept while the backend's shown jobs stay the
    /// same (docs/contract.md §12.15 "Kept verdicts").
    pub judged_at: Option<String>,
}

impl BackendTriage {
    pub fn of(triage: PrTriage, tests_not_triaged: u64) -> BackendTriage {
        BackendTriage {
            headline: headline(&triage.headline, tests_not_triaged),
            counts: triage.headline,
            tests: triage.tests,
            tests_not_triaged,
            judged_at: None,
        }
    }
}

/// "2 new on this PR, 1 known on nightly, 3 seen on other PRs": each verdict that occurs, in
/// that order, then the tests not judged; "no failing tests" when there are none.
pub fn headline(counts: &PrHeadline, not_triaged: u64) -> String {
    let parts: Vec<String> = [
        (counts.new_on_this_pr, "new on this PR"),
        (counts.known_on_nightly, "known on nightly"),
        (counts.seen_on_other_prs, "seen on other PRs"),
        (not_triaged, "not triaged"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() {
        "no failing tests".to_owned()
    } else {
        parts.join(", ")
    }
}

/// The tests asked about other PRs: the first [`TESTS_ASKED_PER_BACKEND`] of `failing`, and how
/// many are left out.
pub fn asked(failing: BTreeSet<TestId>) -> (BTreeSet<TestId>, u64) {
    let left_out = failing.len().saturating_sub(TESTS_ASKED_PER_BACKEND) as u64;
    let asked = failing.into_iter().take(TESTS_ASKED_PER_BACKEND).collect();
    (asked, left_out)
}

/// `view` with each backend's triage (`None` for a backend with no completed job shown) and the
/// PR's, over the other-PRs `window` ending at `now`.
pub fn attach(
    view: &mut PrView,
    window: Window,
    now: i64,
    mut triage_of: impl FnMut(&str) -> Option<BackendTriage>,
) {
    let mut counts = PrHeadline::default();
    let mut not_triaged = 0;
    for backend in &mut view.backends {
        let triage = triage_of(&backend.downstream_repo).unwrap_or_else(|| BackendTriage {
            headline: headline(&PrHeadline::default(), 0),
            counts: PrHeadline::default(),
            tests: Vec::new(),
            tests_not_triaged: 0,
            judged_at: None,
        });
        counts.new_on_this_pr += triage.counts.new_on_this_pr;
        counts.known_on_nightly += triage.counts.known_on_nightly;
        counts.seen_on_other_prs += triage.counts.seen_on_other_prs;
        not_triaged += triage.tests_not_triaged;
        backend.triage = Some(triage);
    }
    view.triage = Some(PrTriageSummary {
        other_prs_window: window.as_str(),
        other_prs_since: rfc3339(window.since(now)),
        tests_asked_per_backend: TESTS_ASKED_PER_BACKEND,
        headline: headline(&counts, not_triaged),
        counts,
        tests_not_triaged: not_triaged,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(new: u64, known: u64, seen: u64) -> PrHeadline {
        PrHeadline {
            new_on_this_pr: new,
            seen_on_other_prs: seen,
            known_on_nightly: known,
        }
    }

    #[test]
    fn headlines_name_each_verdict_that_occurs() {
        assert_eq!(
            headline(&counts(2, 1, 3), 0),
            "2 new on this PR, 1 known on nightly, 3 seen on other PRs"
        );
        assert_eq!(headline(&counts(0, 1, 0), 0), "1 known on nightly");
        assert_eq!(
            headline(&counts(1, 0, 0), 4),
            "1 new on this PR, 4 not triaged"
        );
        assert_eq!(headline(&PrHeadline::default(), 0), "no failing tests");
    }

    fn test(classname: &str, name: &str) -> TestId {
        TestId {
            classname: classname.to_owned(),
            name: name.to_owned(),
        }
    }

    #[test]
    fn the_first_tests_by_name_are_asked_and_the_rest_counted() {
        let failing: BTreeSet<TestId> = (0..TESTS_ASKED_PER_BACKEND + 3)
            .map(|i| test("C", &format!("t{i:04}")))
            .collect();
        let (asked, left_out) = asked(failing);
        assert_eq!((asked.len(), left_out), (TESTS_ASKED_PER_BACKEND, 3));
        assert!(asked.contains(&test("C", "t0000")));
        assert!(!asked.contains(&test("C", &format!("t{TESTS_ASKED_PER_BACKEND:04}"))));
        let (asked, left_out) = asked_of_few();
        assert_eq!((asked.len(), left_out), (1, 0));
    }

    fn asked_of_few() -> (BTreeSet<TestId>, u64) {
        asked(BTreeSet::from([test("C", "t")]))
    }
}
