//! One backend's delivery log (docs/contract.md §16): what became of each callback it sent,
//! newest first, each in words a CI engineer can act on, and the count of each outcome.
//! Pure: built from the rows the store read ([`crate::stores::deliveries`]) and the time.

use oot_contract::deliveries::{CHANGED, PARKED, UNCHANGED};
use serde::Serialize;
use serde_json::Value;

use crate::clock::rfc3339;
use crate::csv_export::{CsvExport, Table};
use crate::params::PageRequest;
use crate::stores::deliveries::{DeliveryLogRow, OutcomeCounts};

/// The JSON of `GET /api/oot/{org}/{repo}/deliveries`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveriesView {
    pub downstream_repo: String,
    pub window: &'static str,
    /// The filter asked for (`accepted`, `refused`, or one outcome); `null` for all.
    pub outcome: Option<&'static str>,
    pub page: DeliveriesPage,
    /// Newest first.
    pub deliveries: Vec<Delivery>,
    /// The count of each outcome over the last 24 hours and 7 days.
    pub counts: Vec<CountsView>,
    pub generated_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DeliveriesPage {
    pub page: usize,
    pub per_page: usize,
    /// Older deliveries after this page.
    pub has_more: bool,
}

/// One callback and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// When ingest received it.
    pub received_at: Option<String>,
    /// The event's id (accepted) or the receipt's (refused): what to quote when asking about it.
    pub receipt_id: String,
    pub accepted: bool,
    /// `changed`, `unchanged`, `parked`, or a refusal (`invalid`, `rate_limited`, ...).
    pub outcome: String,
    /// The HTTP status ingest answered.
    pub status: u16,
    /// The answer's `error` code (refusals only).
    pub error: Option<String>,
    /// What happened and what to do, in one sentence.
    pub summary: String,
    /// The answer's message (refusals), or the store's refusal (parked).
    pub message: Option<String>,
    /// For a 400: each problem with its field path, as the answer listed them.
    pub problems: Vec<ProblemView>,
    /// Problems found beyond those listed.
    pub problems_not_listed: u32,
    pub delivery_id: Option<String>,
    pub job_key: Option<String>,
    /// The callback's `status` (`in_progress`, `completed`), for accepted ones.
    pub callback_status: Option<String>,
    pub conclusion: Option<String>,
    pub retry_after_seconds: Option<u32>,
    pub body_bytes: Option<u64>,
    /// The body's first bytes (at most 1 KiB), for a refusal about the document.
    pub body_excerpt: Option<String>,
    /// Milliseconds from ingest receiving it to the views showing it (accepted, not parked).
    pub visible_after_ms: Option<u64>,
}

/// One problem of a refused document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemView {
    /// A dotted path from the document's root (`$`: the body itself).
    pub field: String,
    pub message: String,
    /// Who sets that field, so the reader knows where to fix it.
    pub set_by: &'static str,
}

/// The count of each outcome over one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountsView {
    /// `24h` or `7d`.
    pub window: &'static str,
    pub since: Option<String>,
    pub total: u64,
    pub accepted: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub parked: u64,
    pub refused: u64,
    /// Per refusal outcome (`invalid`, `rate_limited`, ...), those that occurred.
    pub refusals: Vec<RefusalCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefusalCount {
    pub outcome: String,
    pub count: u64,
}

impl CountsView {
    pub fn of(window: &'static str, since: i64, counts: &OutcomeCounts) -> CountsView {
        let refused = counts.refused_total();
        CountsView {
            window,
            since: rfc3339(since),
            total: counts.accepted() + refused,
            accepted: counts.accepted(),
            changed: counts.changed,
            unchanged: counts.unchanged,
            parked: counts.parked,
            refused,
            refusals: counts
                .refused
                .iter()
                .map(|(outcome, count)| RefusalCount {
                    outcome: outcome.clone(),
                    count: *count,
                })
                .collect(),
        }
    }
}

/// Who sets the field at `path`: the relay (`trusted`), the downstream workflow's callback step
/// (`untrusted`), or whoever sent the body (`$`, anything else).
pub fn set_by(path: &str) -> &'static str {
    if path == "trusted" || path.starts_with("trusted.") {
        "the relay (from the job's verified identity)"
    } else if path.starts_with("untrusted.callback_payload.payload") {
        "the workflow's callback step (copied from the upstream event that triggered the job)"
    } else if path == "untrusted" || path.starts_with("untrusted.") {
        "the workflow's callback step"
    } else {
        "the sender of the body"
    }
}

fn seconds_text(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// What happened to a delivery, and what to do about it, in one sentence.
pub fn summary(row: &DeliveryLogRow) -> String {
    let retry = row
        .retry_after_seconds
        .map(|s| format!(" The relay may send it again after {s} s."))
        .unwrap_or_default();
    match row.outcome.as_str() {
        CHANGED => match row.visible_after_ms {
            Some(ms) => format!(
                "Accepted and shown: the job changed, visible in the views {} after it was received.",
                seconds_text(ms)
            ),
            None => "Accepted and shown: the job changed.".to_owned(),
        },
        UNCHANGED => "Accepted, nothing changed: the job already held this callback (a redelivery, \
                      or a callback older than what was stored). Nothing to do."
            .to_owned(),
        PARKED => "Accepted but not shown: oot-hud could not store this job, and set the callback \
                   aside (see the reason). Nothing to change on your side; oot-hud's operators \
                   replay it once the cause is fixed."
            .to_owned(),
        "invalid" if row.error == "invalid_json" => format!(
            "Refused ({}): the body is not JSON. Check that the step sending the callback \
             writes a JSON document (escaped strings, no trailing text); nothing was stored.",
            row.status
        ),
        "invalid"
            if !row.problem_fields.is_empty()
                && row
                    .problem_fields
                    .iter()
                    .all(|f| f == "trusted" || f.starts_with("trusted.")) =>
        {
            format!(
                "Refused ({}): the relay's part of the callback (`trusted`) breaks the contract; \
                 nothing was stored. Tell the relay's operators, with the receipt id.",
                row.status
            )
        }
        "invalid" => format!(
            "Refused ({}): the callback breaks the contract in {} field{}. Fix {} in the step \
             that sends the callback (each field below says who sets it), then send it again; \
             nothing was stored.",
            row.status,
            row.problems_total,
            if row.problems_total == 1 { "" } else { "s" },
            if row.problems_total == 1 {
                "it"
            } else {
                "them"
            }
        ),
        "rate_limited" => format!(
            "Refused ({}): this backend sent more callbacks than its rate limit allows; nothing \
             was stored.{retry} If it keeps happening, the workflows send more callbacks than \
             two per job.",
            row.status
        ),
        "log_unavailable" => format!(
            "Not stored ({}): oot-hud's event log did not take the callback in time.{retry} \
             Nothing to fix on your side; tell oot-hud's operators if it persists.",
            row.status
        ),
        "internal" => format!(
            "Not stored ({}): an oot-hud bug. Report it to oot-hud's operators with the receipt \
             id.",
            row.status
        ),
        "too_large" => format!(
            "Refused ({}): the body is over the size limit. Send fewer failed tests or shorter \
             messages and stack traces; nothing was stored.",
            row.status
        ),
        _ => format!("Refused ({}): {}", row.status, row.message),
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

impl Delivery {
    pub fn of(row: &DeliveryLogRow) -> Delivery {
        let problems: Vec<ProblemView> = row
            .problem_fields
            .iter()
            .zip(&row.problem_messages)
            .map(|(field, message)| ProblemView {
                field: field.clone(),
                message: message.clone(),
                set_by: set_by(field),
            })
            .collect();
        let listed = u32::try_from(problems.len()).unwrap_or(u32::MAX);
        Delivery {
            received_at: rfc3339(i64::from(row.received_at)),
            receipt_id: row.receipt_id.clone(),
            accepted: row.accepted == 1,
            outcome: row.outcome.clone(),
            status: row.status,
            error: non_empty(&row.error),
            summary: summary(row),
            message: non_empty(&row.message),
            problems_not_listed: row.problems_total.saturating_sub(listed),
            problems,
            delivery_id: non_empty(&row.delivery_id),
            job_key: non_empty(&row.job_key),
            callback_status: non_empty(&row.callback_status),
            conclusion: non_empty(&row.conclusion),
            retry_after_seconds: row.retry_after_seconds,
            body_bytes: row.body_bytes,
            body_excerpt: non_empty(&row.body_excerpt),
            visible_after_ms: row.visible_after_ms,
        }
    }
}

/// The view of page `page` of `rows` (the newest `page.page * page.per_page + 1` receipts the
/// store read, newest first).
pub fn build(
    repo: &str,
    window: &'static str,
    outcome: Option<&'static str>,
    page: PageRequest,
    rows: &[DeliveryLogRow],
    counts: Vec<CountsView>,
    now: i64,
) -> DeliveriesView {
    let start = (page.page - 1).saturating_mul(page.per_page);
    let end = start.saturating_add(page.per_page);
    let deliveries = rows
        .iter()
        .skip(start)
        .take(page.per_page)
        .map(Delivery::of)
        .collect();
    DeliveriesView {
        downstream_repo: repo.to_owned(),
        window,
        outcome,
        page: DeliveriesPage {
            page: page.page,
            per_page: page.per_page,
            has_more: rows.len() > end,
        },
        deliveries,
        counts,
        generated_at: rfc3339(now),
    }
}

impl CsvExport for DeliveriesView {
    const TABLES: &'static [Table] = &[Table {
        name: "deliveries",
        columns: &[
            "received_at",
            "receipt_id",
            "accepted",
            "outcome",
            "status",
            "error",
            "summary",
            "message",
            "problems[].field",
            "problems[].message",
            "problems_not_listed",
            "delivery_id",
            "job_key",
            "callback_status",
            "conclusion",
            "retry_after_seconds",
            "body_bytes",
            "visible_after_ms",
        ],
        // The body's start is the sender's raw bytes: in the JSON, not in a spreadsheet; who
        // sets each field is a reading aid of the page.
        omitted: &["body_excerpt", "problems[].set_by"],
        rows: |view| {
            view.get("deliveries")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        },
    }];

    fn file_stem(&self) -> String {
        let mut stem = format!(
            "oot-deliveries-{}-{}",
            self.downstream_repo.replace('/', "-"),
            self.window
        );
        if let Some(outcome) = self.outcome {
            stem.push('-');
            stem.push_str(outcome);
        }
        if self.page.page > 1 {
            stem.push_str(&format!("-page{}", self.page.page));
        }
        stem
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn refused_row() -> DeliveryLogRow {
        DeliveryLogRow {
            downstream_repo: "intel/torch-xpu-ops".into(),
            accepted: 0,
            received_at: 1_777_373_112,
            receipt_id: "0196f0c2-0000-7000-8000-000000000001".into(),
            rank: 0,
            outcome: "invalid".into(),
            status: 400,
            error: "validation_failed".into(),
            message: "callback failed validation: …".into(),
            problem_fields: vec![
                "untrusted.callback_payload.workflow.run_attempt".into(),
                "trusted.downstream_repo_level".into(),
            ],
            problem_messages: vec!["must be positive, got \"0\"".into(), "unknown level".into()],
            problems_total: 3,
            delivery_id: "d-1".into(),
            job_key: String::new(),
            callback_status: String::new(),
            conclusion: String::new(),
            retry_after_seconds: None,
            body_bytes: Some(2_000),
            body_excerpt: "{\"trusted\":".into(),
            visible_after_ms: None,
        }
    }

    fn accepted_row(outcome: &str, n: u32) -> DeliveryLogRow {
        DeliveryLogRow {
            accepted: 1,
            received_at: 1_777_373_000 + n,
            receipt_id: format!("0196f0c2-0000-7000-8000-{n:012}"),
            rank: oot_contract::deliveries::rank(outcome),
            outcome: outcome.into(),
            status: 202,
            error: String::new(),
            message: String::new(),
            problem_fields: vec![],
            problem_messages: vec![],
            problems_total: 0,
            job_key: "intel/torch-xpu-ops/d-1/ci/job/1".into(),
            callback_status: "completed".into(),
            conclusion: "success".into(),
            body_bytes: None,
            body_excerpt: String::new(),
            visible_after_ms: Some(1_500),
            ..refused_row()
        }
    }

    #[test]
    fn a_refusal_says_what_to_fix_field_by_field_and_who_sets_it() {
        let delivery = Delivery::of(&refused_row());
        assert!(!delivery.accepted);
        assert_eq!(delivery.problems.len(), 2);
        assert_eq!(delivery.problems_not_listed, 1);
        assert_eq!(
            delivery.problems[0].field,
            "untrusted.callback_payload.workflow.run_attempt"
        );
        assert_eq!(delivery.problems[0].set_by, "the workflow's callback step");
        assert!(delivery.problems[1].set_by.starts_with("the relay"));
        assert!(
            delivery.summary.contains("3 fields")
                && delivery.summary.contains("then send it again"),
            "{}",
            delivery.summary
        );
        assert_eq!(delivery.job_key, None, "empty is unknown");
        assert_eq!(
            delivery.received_at.as_deref(),
            Some("2026-04-28T10:45:12Z")
        );
    }

    #[test]
    fn each_outcome_has_its_own_words() {
        let changed = Delivery::of(&accepted_row(CHANGED, 1));
        assert!(changed.summary.contains("1.5 s"), "{}", changed.summary);
        assert_eq!(changed.visible_after_ms, Some(1_500));
        let unchanged = Delivery::of(&accepted_row(UNCHANGED, 2));
        assert!(
            unchanged.summary.contains("nothing changed"),
            "{}",
            unchanged.summary
        );
        let rate_limited = DeliveryLogRow {
            outcome: "rate_limited".into(),
            status: 429,
            error: "rate_limited".into(),
            retry_after_seconds: Some(9),
            problem_fields: vec![],
            problem_messages: vec![],
            problems_total: 0,
            ..refused_row()
        };
        let text = summary(&rate_limited);
        assert!(text.contains("429") && text.contains("after 9 s"), "{text}");
        let not_json = DeliveryLogRow {
            error: "invalid_json".into(),
            ..refused_row()
        };
        assert!(summary(&not_json).contains("not JSON"));
        let relay = DeliveryLogRow {
            problem_fields: vec!["trusted.downstream_repo_level".into()],
            problem_messages: vec!["unknown level".into()],
            problems_total: 1,
            ..refused_row()
        };
        assert!(
            summary(&relay).contains("relay's operators"),
            "{}",
            summary(&relay)
        );
        assert!(summary(&DeliveryLogRow {
            outcome: PARKED.into(),
            ..accepted_row(PARKED, 3)
        })
        .contains("not shown"));
    }

    #[test]
    fn a_page_is_its_slice_of_the_rows_read_and_knows_whether_more_follow() {
        let rows: Vec<DeliveryLogRow> = (0..5).map(|n| accepted_row(CHANGED, 10 - n)).collect();
        let page = |page, per_page| PageRequest { page, per_page };
        let view = build("a/b", "7d", None, page(1, 2), &rows, vec![], 0);
        assert_eq!(view.deliveries.len(), 2);
        assert!(view.page.has_more);
        let view = build("a/b", "7d", Some("changed"), page(3, 2), &rows, vec![], 0);
        assert_eq!(view.deliveries.len(), 1);
        assert!(!view.page.has_more);
        assert_eq!(view.deliveries[0].receipt_id, rows[4].receipt_id);
        let past = build("a/b", "7d", None, page(9, 2), &rows, vec![], 0);
        assert!(past.deliveries.is_empty() && !past.page.has_more);
    }

    /// Every field of a delivery is a CSV column or deliberately left out, and the CSV has a
    /// row per delivery with each problem's field in one cell.
    #[test]
    fn the_csv_has_a_column_per_field_and_a_row_per_delivery() {
        let view = build(
            "a/b",
            "24h",
            Some("refused"),
            PageRequest {
                page: 1,
                per_page: 10,
            },
            &[refused_row(), accepted_row(CHANGED, 1)],
            vec![],
            0,
        );
        let json = serde_json::to_value(&view).unwrap_or_default();
        let table = &DeliveriesView::TABLES[0];
        let mut fields: Vec<String> = json["deliveries"][0]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        fields.retain(|f| f != "problems" && f != "body_excerpt");
        let mut columns: Vec<String> = table
            .columns
            .iter()
            .filter(|c| !c.starts_with("problems[]"))
            .map(|c| (*c).to_owned())
            .collect();
        fields.sort();
        columns.sort();
        assert_eq!(fields, columns);
        let csv = crate::csv_export::to_csv(&view, table).unwrap_or_default();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3, "{csv}");
        assert!(
            lines[1].contains(
                "untrusted.callback_payload.workflow.run_attempt;trusted.downstream_repo_level"
            ),
            "{csv}"
        );
        assert_eq!(view.file_stem(), "oot-deliveries-a-b-24h-refused");
    }

    #[test]
    fn counts_add_up() {
        let counts = OutcomeCounts {
            changed: 5,
            unchanged: 2,
            parked: 1,
            refused: vec![("invalid".into(), 3), ("rate_limited".into(), 4)],
        };
        let view = CountsView::of("24h", 0, &counts);
        assert_eq!((view.total, view.accepted, view.refused), (15, 8, 7));
        assert_eq!(view.refusals[1].outcome, "rate_limited");
    }
}
