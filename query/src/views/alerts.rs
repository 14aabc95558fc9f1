//! Alerts (docs/contract.md §17.6): a backend's (or every backend's) open and recently closed
//! alerts, newest first, each with what opened it, its first failing run, its runs and the
//! status of its webhook deliveries. Pure: built from what the store read
//! ([`crate::stores::alerts`]) and the time.

use oot_contract::alerts::{webhook_state, RunLink, StoredWebhook};
use serde::Serialize;
use serde_json::Value;

use crate::csv_export::{CsvExport, Table};
use crate::stores::alerts::AlertRecord;

/// The JSON of `GET /api/oot/{org}/{repo}/alerts` and `GET /api/oot/alerts`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertsView {
    /// The backend; `null` for every backend's.
    pub downstream_repo: Option<String>,
    /// Closed alerts are listed when closed within this window; open ones always.
    pub window: &'static str,
    pub open: usize,
    pub recently_closed: usize,
    /// Open and recently closed, newest opened first.
    pub alerts: Vec<AlertView>,
    pub generated_at: Option<String>,
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertView {
    pub id: String,
    /// `open` or `closed`.
    pub state: &'static str,
    /// `failing_streak`, `m_of_k`, `pass_rate`, `stale`, `refusals`.
    pub rule: String,
    pub downstream_repo: String,
    pub workflow_name: Option<String>,
    pub job_name: Option<String>,
    pub summary: String,
    pub first_failing: Option<RunView>,
    /// The runs judged when it opened, newest first.
    pub runs: Vec<RunView>,
    pub opened_at: Option<String>,
    pub closed_at: Option<String>,
    pub closed_because: Option<String>,
    /// In one word: `sent` (every delivery), `pending`, `failed` (one was given up on), or
    /// `none` (no webhook configured for the backend).
    pub webhook_status: &'static str,
    pub webhooks: Vec<WebhookView>,
}

/// One run an alert names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    pub job_key: String,
    pub run_id: String,
    pub run_attempt: u32,
    pub conclusion: String,
    pub trigger: String,
    pub upstream_sha: Option<String>,
    pub pr_number: Option<u64>,
    /// The downstream workflow run.
    pub workflow_run_url: String,
    pub received_at: Option<String>,
}

/// One webhook delivery. The URL itself is not shown (it often holds the receiver's secret):
/// its scheme and host are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookView {
    /// `opened` or `closed`.
    pub kind: String,
    pub target: String,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<String>,
    pub sent_at: Option<String>,
}

/// RFC 3339 of µs since the epoch, to the second as every view's times.
fn at(micros: i64) -> Option<String> {
    crate::clock::rfc3339(micros.div_euclid(1_000_000))
}

impl RunView {
    fn of(link: &RunLink) -> RunView {
        RunView {
            job_key: link.job_key.clone(),
            run_id: link.run_id.clone(),
            run_attempt: link.run_attempt,
            conclusion: link.conclusion.clone(),
            trigger: link.trigger.clone(),
            upstream_sha: link.upstream_sha.clone(),
            pr_number: link.pr_number,
            workflow_run_url: link.url.clone(),
            received_at: at(link.received_at),
        }
    }
}

impl WebhookView {
    fn of(webhook: &StoredWebhook) -> WebhookView {
        WebhookView {
            kind: webhook.kind.clone(),
            target: webhook.target.clone(),
            state: webhook.state.clone(),
            attempts: webhook.attempts,
            last_error: webhook.last_error.clone(),
            last_attempt_at: webhook.last_attempt_at.and_then(at),
            sent_at: webhook.sent_at.and_then(at),
        }
    }
}

/// The one word for an alert's deliveries: a failed one first (someone must look), then a
/// pending one, then sent.
pub fn webhook_status(webhooks: &[StoredWebhook]) -> &'static str {
    let any = |state: &str| webhooks.iter().any(|w| w.state == state);
    if webhooks.is_empty() {
        "none"
    } else if any(webhook_state::FAILED) {
        "failed"
    } else if any(webhook_state::PENDING) {
        "pending"
    } else {
        "sent"
    }
}

impl AlertView {
    pub fn of(record: &AlertRecord) -> AlertView {
        let alert = &record.alert;
        AlertView {
            id: alert.id.clone(),
            state: if alert.is_open() { "open" } else { "closed" },
            rule: alert.rule.clone(),
            downstream_repo: alert.backend.clone(),
            workflow_name: alert.workflow_name.clone(),
            job_name: alert.job_name.clone(),
            summary: alert.summary.clone(),
            first_failing: alert.first_failing.as_ref().map(RunView::of),
            runs: alert.runs.iter().map(RunView::of).collect(),
            opened_at: at(alert.opened_at),
            closed_at: alert.closed_at.and_then(at),
            closed_because: alert.closed_because.clone(),
            webhook_status: webhook_status(&record.webhooks),
            webhooks: record.webhooks.iter().map(WebhookView::of).collect(),
        }
    }
}

/// The view of `records` (newest opened first, as read).
pub fn build(
    repo: Option<&str>,
    window: &'static str,
    records: &[AlertRecord],
    now: i64,
) -> AlertsView {
    let alerts: Vec<AlertView> = records.iter().map(AlertView::of).collect();
    let open = alerts.iter().filter(|a| a.state == "open").count();
    AlertsView {
        downstream_repo: repo.map(str::to_owned),
        window,
        open,
        recently_closed: alerts.len() - open,
        alerts,
        generated_at: crate::clock::rfc3339(now),
    }
}

impl CsvExport for AlertsView {
    const TABLES: &'static [Table] = &[Table {
        name: "alerts",
        columns: &[
            "id",
            "state",
            "rule",
            "downstream_repo",
            "workflow_name",
            "job_name",
            "summary",
            "first_failing.job_key",
            "first_failing.run_id",
            "first_failing.run_attempt",
            "first_failing.conclusion",
            "first_failing.trigger",
            "first_failing.upstream_sha",
            "first_failing.pr_number",
            "first_failing.workflow_run_url",
            "first_failing.received_at",
            "runs[].workflow_run_url",
            "opened_at",
            "closed_at",
            "closed_because",
            "webhook_status",
            "webhooks[].kind",
            "webhooks[].target",
            "webhooks[].state",
            "webhooks[].attempts",
            "webhooks[].last_error",
            "webhooks[].last_attempt_at",
            "webhooks[].sent_at",
        ],
        // The runs' other fields are in the JSON (one cell per list would not read).
        omitted: &[
            "runs[].job_key",
            "runs[].run_id",
            "runs[].run_attempt",
            "runs[].conclusion",
            "runs[].trigger",
            "runs[].upstream_sha",
            "runs[].pr_number",
            "runs[].received_at",
        ],
        rows: |view| {
            view.get("alerts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        },
    }];

    fn file_stem(&self) -> String {
        match &self.downstream_repo {
            Some(repo) => format!("oot-alerts-{}-{}", repo.replace('/', "-"), self.window),
            None => format!("oot-alerts-{}", self.window),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use oot_contract::alerts::StoredAlert;

    pub(crate) fn record(open: bool, webhook: Option<&str>) -> AlertRecord {
        let link = RunLink {
            job_key: "intel/torch-xpu-ops/d-1/ci/test/1".into(),
            run_id: "1".into(),
            run_attempt: 1,
            conclusion: "failure".into(),
            upstream_sha: Some("a".repeat(40)),
            pr_number: None,
            trigger: "nightly".into(),
            url: "https://ci.example/runs/1".into(),
            received_at: 1_777_373_112_000_000,
        };
        AlertRecord {
            alert: StoredAlert {
                id: "0123abcd".into(),
                rule: "failing_streak".into(),
                backend: "intel/torch-xpu-ops".into(),
                workflow_name: Some("ci".into()),
                job_name: Some("test <script>".into()),
                summary: "failed 3 nightly runs in a row".into(),
                first_failing: Some(link.clone()),
                runs: vec![link],
                opened_at: 1_777_373_112_000_000,
                closed_at: (!open).then_some(1_777_373_200_000_000),
                closed_because: (!open).then(|| "the last 2 nightly runs passed".into()),
            },
            webhooks: webhook
                .map(|state| StoredWebhook {
                    alert_id: "0123abcd".into(),
                    kind: "opened".into(),
                    url: "https://hooks.example/secret-token".into(),
                    target: "https://hooks.example".into(),
                    state: state.into(),
                    attempts: 3,
                    next_attempt_at: 0,
                    last_attempt_at: Some(1_777_373_113_000_000),
                    last_error: Some("HTTP 500".into()),
                    sent_at: None,
                    body: "{}".into(),
                })
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn an_alert_shows_its_state_its_first_failure_and_its_deliveries_without_the_url() {
        let view = build(
            Some("intel/torch-xpu-ops"),
            "7d",
            &[record(true, Some("failed")), record(false, None)],
            0,
        );
        assert_eq!((view.open, view.recently_closed), (1, 1));
        let alert = &view.alerts[0];
        assert_eq!(alert.state, "open");
        assert_eq!(alert.webhook_status, "failed");
        assert_eq!(
            alert.first_failing.as_ref().map(|r| r.run_id.as_str()),
            Some("1")
        );
        assert_eq!(alert.opened_at.as_deref(), Some("2026-04-28T10:45:12Z"));
        let json = serde_json::to_string(&view).unwrap_or_default();
        assert!(
            !json.contains("secret-token"),
            "the webhook URL is never served: {json}"
        );
        assert_eq!(view.alerts[1].webhook_status, "none");
        assert_eq!(
            view.alerts[1].closed_at.as_deref(),
            Some("2026-04-28T10:46:40Z")
        );
    }

    #[test]
    fn the_csv_has_a_column_per_field_and_a_row_per_alert() {
        let view = build(None, "24h", &[record(true, Some("sent"))], 0);
        let table = &AlertsView::TABLES[0];
        let json = serde_json::to_value(&view).unwrap_or_default();
        let mut fields: Vec<String> = json["alerts"][0]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        fields.retain(|f| !matches!(f.as_str(), "runs" | "webhooks" | "first_failing"));
        let mut columns: Vec<String> = table
            .columns
            .iter()
            .filter(|c| !c.contains('.'))
            .map(|c| (*c).to_owned())
            .collect();
        fields.sort();
        columns.sort();
        assert_eq!(fields, columns);
        let csv = crate::csv_export::to_csv(&view, table).unwrap_or_default();
        assert_eq!(csv.lines().count(), 2, "{csv}");
        assert!(csv.contains("https://hooks.example"), "{csv}");
        assert_eq!(view.file_stem(), "oot-alerts-24h");
    }
}
