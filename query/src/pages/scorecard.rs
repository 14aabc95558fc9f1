//! Readiness on the pages (docs/contract.md §14): the scorecard section of the backend page,
//! rendered from [`crate::views::scorecard::ScorecardView`], and the verdict the summary shows
//! per backend. Every number is text in the table (no chart, no script), each status a word
//! beside its symbol.

use maud::{html, Markup};
use oot_readiness::{
    DemotionVerdict, GateName, GateResult, GateStatus, Judgement, PromotionVerdict, Unit,
};

use crate::pages::format;
use crate::pages::layout;
use crate::views::scorecard::{ScorecardView, Verdicts};

fn gate_label(gate: GateName) -> &'static str {
    match gate {
        GateName::DaysAtL2 => "Days at L2",
        GateName::E2eP50 => "End-to-end time, median (queue + execution)",
        GateName::OverrunRate => "Overrun rate (end to end over the limit)",
        GateName::QueueAverage => "Average queue time",
        GateName::TimeoutRate => "Timeout rate",
        GateName::PassRate => "Pass rate",
    }
}

fn status(status: GateStatus) -> Markup {
    match status {
        GateStatus::Pass => html! { span.gate-pass { "✔ pass" } },
        GateStatus::Fail => html! { span.gate-fail { "✘ fail" } },
        GateStatus::NotEnoughData => html! { span.gate-unknown { "? not enough data" } },
    }
}

pub fn promotion_words(verdict: PromotionVerdict) -> &'static str {
    match verdict {
        PromotionVerdict::Eligible => "eligible for L3",
        PromotionVerdict::NotEligible => "not eligible for L3",
        PromotionVerdict::NotEnoughData => "not enough data to judge promotion",
        PromotionVerdict::NotApplicable => "promotion judged at L2 only",
    }
}

pub fn demotion_words(verdict: DemotionVerdict) -> &'static str {
    match verdict {
        DemotionVerdict::Keep => "keeps L3",
        DemotionVerdict::Demote => "meets the demotion rule",
        DemotionVerdict::NotEnoughData => "not enough data to judge demotion",
        DemotionVerdict::NotApplicable => "demotion judged at L3 only",
    }
}

/// A gate's value or threshold in its unit.
fn amount(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Days => format!("{value:.0} days"),
        Unit::Seconds => format::duration(Some(value)),
        Unit::Fraction => format!("{:.1}%", value * 100.0),
    }
}

fn value(gate: &GateResult) -> Markup {
    let Some(v) = gate.value else {
        return html! { "—" };
    };
    html! {
        @if gate.value_is_lower_bound { "at least " }
        (amount(gate.unit, v))
        @if let Some(rate) = &gate.rate {
            " (" (rate.numerator()) "/" (rate.denominator()) ")"
        } @else if let Some(jobs) = gate.jobs {
            " (" (jobs) " jobs)"
        }
    }
}

fn comparison(gate: &GateResult) -> String {
    let word = match gate.comparison {
        oot_readiness::Comparison::AtLeast => "at least",
        oot_readiness::Comparison::Under => "under",
    };
    format!("{word} {}", amount(gate.unit, gate.threshold))
}

fn judgement<V>(caption: &str, judged: &Judgement<V>, verdict: &str) -> Markup {
    html! {
        table.scorecard {
            caption { (caption) ", last " (judged.window_days) " days: " strong { (verdict) } }
            thead {
                tr {
                    th scope="col" { "Gate" }
                    th scope="col" { "Value" }
                    th scope="col" { "Threshold" }
                    th scope="col" { "Status" }
                }
            }
            tbody {
                @for gate in &judged.gates {
                    tr {
                        th scope="row" data-label="Gate" { (gate_label(gate.gate)) }
                        td data-label="Value" { (value(gate)) }
                        td data-label="Threshold" { (comparison(gate)) }
                        td data-label="Status" { (status(gate.status)) }
                    }
                }
            }
        }
    }
}

/// The backend page's readiness section.
pub fn section(view: &ScorecardView, now: i64) -> Markup {
    let card = &view.scorecard;
    html! {
        section.readiness aria-labelledby="readiness" {
            h2 id="readiness" { "Readiness (RFC-0054)" }
            p {
                @match &card.level {
                    Some(level) => {
                        "At " strong { (level.level.as_str()) } " for "
                        @if !level.exact { "at least " }
                        (level.days) " days (since " (format::time(format::absolute(level.since).as_deref(), now)) ")."
                    }
                    None => { "No job of this backend reported a level." }
                }
                @if let Some(changes) = &view.level_changes {
                    @if changes.len() > 1 {
                        " Levels: "
                        @for (i, span) in changes.iter().enumerate() {
                            @if i > 0 { " → " }
                            (span.level.as_str())
                            " (" (span.first_seen_at.as_deref().unwrap_or("?")) " – "
                            (span.last_seen_at.as_deref().unwrap_or("?")) ")"
                        }
                    }
                }
            }
            (judgement("Promotion to L3", &card.promotion, promotion_words(card.promotion.verdict)))
            (judgement("Demotion from L3", &card.demotion, demotion_words(card.demotion.verdict)))
            @let api_path = format!("/api{}/scorecard", format::backend_path(&view.downstream_repo));
            p.download {
                "Download CSV: "
                a href=(layout::csv_href(&api_path, &[])) download { "gates" }
                " · "
                a href=(layout::csv_href(&api_path, &[("table", Some("levels"))])) download { "level history" }
            }
        }
    }
}

/// The summary's readiness cell: the verdict that applies at the backend's level.
pub fn verdict_cell(verdicts: Option<&Verdicts>) -> Markup {
    let Some(v) = verdicts else {
        return html! { "—" };
    };
    let words = match (v.promotion, v.demotion) {
        (PromotionVerdict::NotApplicable, DemotionVerdict::NotApplicable) => "—",
        (PromotionVerdict::NotApplicable, demotion) => demotion_words(demotion),
        (promotion, _) => promotion_words(promotion),
    };
    let class = match (v.promotion, v.demotion) {
        (PromotionVerdict::Eligible, _) | (_, DemotionVerdict::Keep) => "gate-pass",
        (PromotionVerdict::NotEligible, _) | (_, DemotionVerdict::Demote) => "gate-fail",
        _ => "gate-unknown",
    };
    html! { span class=(class) { (words) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_the_verdict_of_the_backends_level() {
        let at = |promotion, demotion| {
            verdict_cell(Some(&Verdicts {
                promotion,
                demotion,
            }))
            .into_string()
        };
        let l2 = at(
            PromotionVerdict::NotEligible,
            DemotionVerdict::NotApplicable,
        );
        assert!(
            l2.contains("not eligible for L3") && l2.contains("gate-fail"),
            "{l2}"
        );
        let l3 = at(PromotionVerdict::NotApplicable, DemotionVerdict::Keep);
        assert!(l3.contains("keeps L3") && l3.contains("gate-pass"), "{l3}");
        let l1 = at(
            PromotionVerdict::NotApplicable,
            DemotionVerdict::NotApplicable,
        );
        assert!(l1.contains('—'), "{l1}");
        assert!(verdict_cell(None).into_string().contains('—'));
    }
}
