//! The rules: whether each condition holds over a slot's runs (or a backend's refusals) now.
//! Pure; each answers a [`Verdict`], and [`crate::lifecycle`] turns verdicts into alerts that
//! open once and close once.
//!
//! Every failure rule has the same hysteresis: it **holds** when its condition is met; it
//! **clears** only once its condition is no longer met *and* the newest `recovery_passes`
//! rated runs all passed; in between it keeps whatever state the alert is in. So an alert does
//! not flap on one pass in a red streak, and a closed alert does not reopen on the next
//! single failure of a healthy job. `stale` and `refusals` clear as soon as their condition no
//! longer holds (a result arrived; the last hour's refusals are back under the rate).

use oot_contract::alerts::RunLink;
use serde::{Deserialize, Serialize};

use crate::config::Rules;
use crate::history::{Rated, Run, SlotHistory};
use crate::refusals::RefusalWindow;

/// The rules, by the name alerts carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    FailingStreak,
    MOfK,
    PassRate,
    Stale,
    Refusals,
}

impl Rule {
    /// The rules judged on a slot's runs.
    pub const SLOT_RULES: [Rule; 4] =
        [Rule::FailingStreak, Rule::MOfK, Rule::PassRate, Rule::Stale];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::FailingStreak => "failing_streak",
            Rule::MOfK => "m_of_k",
            Rule::PassRate => "pass_rate",
            Rule::Stale => "stale",
            Rule::Refusals => "refusals",
        }
    }

    pub fn parse(text: &str) -> Option<Rule> {
        [
            Rule::FailingStreak,
            Rule::MOfK,
            Rule::PassRate,
            Rule::Stale,
            Rule::Refusals,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// What a condition says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The condition holds: an alert should be open.
    Holds(Box<Evidence>),
    /// The condition has cleared: an open alert closes, with this reason.
    Clears(String),
    /// Neither: an open alert stays open, none opens.
    Keeps,
}

/// What an alert opened on says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub summary: String,
    /// The first failing run of the streak or window.
    pub first_failing: Option<RunLink>,
    /// The runs judged, newest first.
    pub runs: Vec<RunLink>,
    /// What identifies this occurrence (a run's job key, a receipt's id): with the slot, the
    /// rule and the opening time it makes the alert's id.
    pub anchor: String,
}

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// The refusal rule's window.
pub const REFUSAL_WINDOW_MICROS: i64 = 3_600_000_000;

/// Whether the newest `n` rated runs all passed (`n` of them known).
fn recovered<'a>(newest_first: impl Iterator<Item = &'a Run>, n: u32) -> bool {
    let mut count = 0;
    for run in newest_first.take(n as usize) {
        if run.rated != Rated::Pass {
            return false;
        }
        count += 1;
    }
    count == n as usize && n > 0
}

fn links(runs: &[&Run]) -> Vec<RunLink> {
    runs.iter().map(|r| r.link.clone()).collect()
}

fn what(link: &RunLink) -> String {
    // A commit's first 12 characters, as GitHub shortens it (taken by characters: the text
    // came from the callback).
    let sha: Option<String> = link
        .upstream_sha
        .as_deref()
        .map(|s| s.chars().take(12).collect());
    match (link.pr_number, sha) {
        (Some(pr), Some(sha)) => format!("PR #{pr} at {sha}"),
        (Some(pr), None) => format!("PR #{pr}"),
        (None, Some(sha)) => format!("upstream {sha}"),
        (None, None) => format!("run {}", link.run_id),
    }
}

/// `failing_streak`: the newest `failing_streak` rated nightly runs all failed.
pub fn failing_streak(slot: &SlotHistory, rules: &Rules) -> Verdict {
    let n = rules.failing_streak;
    if n == 0 {
        return Verdict::Clears("the rule is off".to_owned());
    }
    let newest: Vec<&Run> = slot.rated_nightly().take(n as usize).collect();
    if newest.len() == n as usize && newest.iter().all(|r| r.rated == Rated::Fail) {
        let first = newest[newest.len() - 1];
        return Verdict::Holds(Box::new(Evidence {
            summary: format!(
                "failed {n} nightly runs in a row, first on {}",
                what(&first.link)
            ),
            first_failing: Some(first.link.clone()),
            runs: links(&newest),
            anchor: first.link.job_key.clone(),
        }));
    }
    if recovered(slot.rated_nightly(), rules.recovery_passes) {
        return Verdict::Clears(format!(
            "the last {} nightly runs passed",
            rules.recovery_passes
        ));
    }
    Verdict::Keeps
}

/// `m_of_k`: at least `m_of_k_failures` of the newest `m_of_k_runs` rated runs failed.
pub fn m_of_k(slot: &SlotHistory, rules: &Rules) -> Verdict {
    let (m, k) = (rules.m_of_k_failures, rules.m_of_k_runs);
    if m == 0 {
        return Verdict::Clears("the rule is off".to_owned());
    }
    let newest: Vec<&Run> = slot.rated().take(k as usize).collect();
    let failed: Vec<&&Run> = newest.iter().filter(|r| r.rated == Rated::Fail).collect();
    if failed.len() >= m as usize {
        let first = failed[failed.len() - 1];
        return Verdict::Holds(Box::new(Evidence {
            summary: format!(
                "failed {} of its last {} runs, first on {}",
                failed.len(),
                newest.len(),
                what(&first.link)
            ),
            first_failing: Some(first.link.clone()),
            runs: links(&newest),
            anchor: first.link.job_key.clone(),
        }));
    }
    if recovered(slot.rated(), rules.recovery_passes) {
        return Verdict::Clears(format!(
            "{} of its last {} runs failed, and the last {} passed",
            failed.len(),
            newest.len(),
            rules.recovery_passes
        ));
    }
    Verdict::Keeps
}

/// `pass_rate`: the pass rate of the newest `pass_rate_runs` rated runs is under
/// `pass_rate_below`; not judged before that many runs are known.
pub fn pass_rate(slot: &SlotHistory, rules: &Rules) -> Verdict {
    let w = rules.pass_rate_runs;
    if w == 0 {
        return Verdict::Clears("the rule is off".to_owned());
    }
    let newest: Vec<&Run> = slot.rated().take(w as usize).collect();
    if newest.len() < w as usize {
        return Verdict::Keeps;
    }
    let passed = newest.iter().filter(|r| r.rated == Rated::Pass).count();
    // Compared in millionths, exactly: 0.9 × 20 is not 18 in floating point.
    let threshold_ppm = (rules.pass_rate_below * 1e6).round() as u64;
    let below = (passed as u64) * 1_000_000 < threshold_ppm * u64::from(w);
    let rate = format!(
        "{passed}/{w} ({:.1}%)",
        passed as f64 * 100.0 / f64::from(w)
    );
    if below {
        let first = newest
            .iter()
            .rev()
            .find(|r| r.rated == Rated::Fail)
            .copied();
        return Verdict::Holds(Box::new(Evidence {
            summary: format!(
                "passed {rate} of its last {w} runs, under {:.1}%",
                rules.pass_rate_below * 100.0
            ),
            first_failing: first.map(|r| r.link.clone()),
            runs: links(&newest),
            anchor: first.map_or_else(String::new, |r| r.link.job_key.clone()),
        }));
    }
    if recovered(slot.rated(), rules.recovery_passes) {
        return Verdict::Clears(format!(
            "passed {rate} of its last {w} runs, and the last {} passed",
            rules.recovery_passes
        ));
    }
    Verdict::Keeps
}

/// `stale`: no completed result of the slot for `stale_days` days before `now` (µs).
pub fn stale(slot: &SlotHistory, rules: &Rules, now: i64) -> Verdict {
    let days = rules.stale_days;
    if days == 0 {
        return Verdict::Clears("the rule is off".to_owned());
    }
    if slot.last_result_at <= 0 {
        return Verdict::Keeps;
    }
    if now.saturating_sub(slot.last_result_at) > i64::from(days) * MICROS_PER_DAY {
        let newest: Vec<&Run> = slot.runs.iter().rev().take(1).collect();
        return Verdict::Holds(Box::new(Evidence {
            summary: format!("no completed result for more than {days} days"),
            first_failing: None,
            runs: links(&newest),
            anchor: format!("last-result-{}", slot.last_result_at),
        }));
    }
    Verdict::Clears("a completed result arrived".to_owned())
}

/// `refusals`: more than `refusals_per_hour` refused callbacks of the backend in the hour
/// before `now` (µs).
pub fn refusals(window: &RefusalWindow, rules: &Rules, now: i64) -> Verdict {
    let limit = rules.refusals_per_hour;
    if limit == 0 {
        return Verdict::Clears("the rule is off".to_owned());
    }
    let recent = window.within(now - REFUSAL_WINDOW_MICROS, now);
    if recent.len() > limit as usize {
        let first = recent
            .first()
            .map_or_else(String::new, |r| r.receipt_id.clone());
        let mut outcomes: Vec<&str> = recent.iter().map(|r| r.outcome.as_str()).collect();
        outcomes.sort_unstable();
        outcomes.dedup();
        return Verdict::Holds(Box::new(Evidence {
            summary: format!(
                "more than {limit} callbacks refused within an hour ({}); see the deliveries page",
                outcomes.join(", ")
            ),
            first_failing: None,
            runs: Vec::new(),
            anchor: first,
        }));
    }
    Verdict::Clears(format!(
        "{} callbacks refused in the last hour, at most {limit}",
        recent.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::tests::run;

    fn rules() -> Rules {
        Rules {
            failing_streak: 3,
            m_of_k_failures: 3,
            m_of_k_runs: 5,
            pass_rate_below: 0.9,
            pass_rate_runs: 10,
            stale_days: 2,
            refusals_per_hour: 2,
            recovery_passes: 2,
        }
    }

    fn slot(outcomes: &[(&str, bool)]) -> SlotHistory {
        let mut slot = SlotHistory::default();
        for (i, (conclusion, nightly)) in outcomes.iter().enumerate() {
            slot.record(run(i as u64 + 1, 1, conclusion, *nightly), 50, 50);
        }
        slot
    }

    #[test]
    fn a_nightly_streak_holds_at_n_and_names_its_first_failure() {
        let red = slot(&[
            ("success", true),
            ("failure", true),
            ("failure", false),
            ("timed_out", true),
            ("cancelled", true),
            ("failure", true),
        ]);
        let Verdict::Holds(evidence) = failing_streak(&red, &rules()) else {
            panic!("three nightly failures in a row, a PR failure and a cancel between");
        };
        assert_eq!(evidence.first_failing.map(|r| r.run_id), Some("2".into()));
        assert!(
            evidence.summary.contains("3 nightly runs"),
            "{}",
            evidence.summary
        );
        let one_pass = slot(&[
            ("failure", true),
            ("failure", true),
            ("failure", true),
            ("success", true),
        ]);
        assert_eq!(failing_streak(&one_pass, &rules()), Verdict::Keeps);
        let two = slot(&[("failure", true), ("success", true), ("success", true)]);
        assert!(matches!(failing_streak(&two, &rules()), Verdict::Clears(_)));
    }

    #[test]
    fn m_of_k_counts_every_trigger_and_clears_only_after_the_passes() {
        let red = slot(&[
            ("failure", false),
            ("success", true),
            ("failure", true),
            ("failure", false),
        ]);
        assert!(matches!(m_of_k(&red, &rules()), Verdict::Holds(_)));
        let still = slot(&[
            ("failure", false),
            ("failure", true),
            ("failure", false),
            ("success", true),
            ("success", true),
        ]);
        assert!(
            matches!(m_of_k(&still, &rules()), Verdict::Holds(_)),
            "3 of the last 5"
        );
        let mended = slot(&[
            ("failure", false),
            ("failure", true),
            ("failure", false),
            ("success", true),
            ("success", true),
            ("success", true),
        ]);
        assert!(matches!(m_of_k(&mended, &rules()), Verdict::Clears(_)));
    }

    #[test]
    fn the_pass_rate_is_judged_on_a_full_window_exactly() {
        let mut outcomes = vec![("success", false); 9];
        assert_eq!(
            pass_rate(&slot(&outcomes), &rules()),
            Verdict::Keeps,
            "9 of 10 known"
        );
        outcomes.push(("failure", false));
        // 9/10 is not under 90%.
        assert!(!matches!(
            pass_rate(&slot(&outcomes), &rules()),
            Verdict::Holds(_)
        ));
        outcomes.push(("failure", false));
        assert!(matches!(
            pass_rate(&slot(&outcomes), &rules()),
            Verdict::Holds(_)
        ));
    }

    #[test]
    fn stale_holds_past_its_days_and_clears_on_a_result() {
        let s = slot(&[("success", true)]);
        let at = s.last_result_at;
        assert!(matches!(
            stale(&s, &rules(), at + 2 * MICROS_PER_DAY + 1),
            Verdict::Holds(_)
        ));
        assert!(matches!(
            stale(&s, &rules(), at + MICROS_PER_DAY),
            Verdict::Clears(_)
        ));
    }

    #[test]
    fn refusals_hold_over_the_rate_within_the_hour() {
        let mut window = RefusalWindow::default();
        for (i, at) in [1, 2, 3].into_iter().enumerate() {
            window.record(at * 1_000_000, &format!("r{i}"), "invalid", 3);
        }
        assert!(matches!(
            refusals(&window, &rules(), 3_000_000),
            Verdict::Holds(_)
        ));
        let later = 1_000_000 + REFUSAL_WINDOW_MICROS + 1;
        assert!(matches!(
            refusals(&window, &rules(), later),
            Verdict::Clears(_)
        ));
    }
}
