//! Every view's data as CSV as well as JSON (docs/contract.md §15): `?format=csv` (or
//! `Accept: text/csv`) on a JSON endpoint answers the view's main list flattened, one row per
//! element, as `text/csv; charset=utf-8` with a `Content-Disposition` naming the view and its
//! backend; `?format=json` (the default) answers the JSON as before.
//!
//! A view says once what its tables are ([`CsvExport::TABLES`]): each a name (the `table`
//! parameter; the first is the default), its columns and how its rows are found in the view's
//! JSON. The rows are read from the JSON the endpoint would have answered (the view serialized
//! by serde), not from the Rust structs, so a CSV cell cannot say something else than the JSON
//! field it stands for. [`Export`] is the one wrapper every endpoint answers through: an
//! extractor that parses `format` and `table` at the edge (a 400 naming the parameter, before
//! any store is read) and then answers either encoding.
//!
//! Flattening, the same for every table:
//!
//! - a column is a path in the row's JSON object: `pass_rate.numerator` is the field
//!   `numerator` of the field `pass_rate`, and its header is the path's names joined by `_`
//!   (`pass_rate_numerator`), so headers are the JSON's snake_case field names and never
//!   change with the data (a `null` parent gives empty cells, not fewer columns);
//! - a row holds its element's fields and those of the elements it is nested in, taken into it
//!   under their own names (a matrix cell's row has the cell's `job_key` and its row's
//!   `target`); the view's top-level fields are in the JSON only (and the file name);
//! - values as in the JSON: numbers as JSON writes them, `true`/`false`, strings as they are,
//!   `null` (or an absent optional field) as an empty cell; a list inside a row (`prs[].number`)
//!   is one cell, its items' values joined by `;`;
//! - a string starting with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a
//!   `'` before it: test names, messages and job names are downstream text, and a spreadsheet
//!   would run such a cell as a formula (OWASP's advice on CSV injection). The JSON has the
//!   value unchanged;
//! - RFC 4180: CRLF line ends, and a field holding a comma, a quote or a line break is quoted
//!   with its quotes doubled (the `csv` crate's writer).

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::params::QueryParams;
use crate::views::backend::BackendView;
use crate::views::failing_tests::FailingTestsView;
use crate::views::pr::PrView;
use crate::views::release_diff::ReleaseDiffView;
use crate::views::scorecard::ScorecardView;
use crate::views::summary::Summary;
use crate::views::test_history::TestHistoryView;

/// The media type of the CSV answers.
pub const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// Items of a list inside one row are joined by this in their cell.
pub const LIST_SEPARATOR: &str = ";";

/// What a view's data is answered as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    /// `format` when given (`json` or `csv`, else a 400 naming it); otherwise CSV when the
    /// `Accept` header prefers `text/csv` to `application/json`, else JSON.
    pub fn parse(params: &QueryParams, headers: &HeaderMap) -> Result<Format, ApiError> {
        match params.get("format")? {
            Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(other) => Err(ApiError::invalid(
                "format",
                format!("unknown format {other:?}; one of json, csv"),
            )),
            None if accepts_csv(headers) => Ok(Format::Csv),
            None => Ok(Format::Json),
        }
    }
}

/// Whether `Accept` ranks `text/csv` above `application/json` (by their `q`, 1 when absent).
/// Wildcards are not read as asking for CSV: a browser's `*/*` gets the JSON, as before.
fn accepts_csv(headers: &HeaderMap) -> bool {
    let (mut csv, mut json) = (0.0_f64, 0.0_f64);
    for value in headers.get_all(header::ACCEPT) {
        let Ok(text) = value.to_str() else { continue };
        for range in text.split(',') {
            let range = range.to_ascii_lowercase();
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f64>().ok())
                .unwrap_or(1.0);
            match media {
                "text/csv" => csv = csv.max(q),
                "application/json" => json = json.max(q),
                _ => {}
            }
        }
    }
    csv > 0.0 && csv > json
}

/// One table a view exports.
#[derive(Debug)]
pub struct Table {
    /// The `table` parameter naming it.
    pub name: &'static str,
    /// Its columns as paths in a row's JSON object: `a.b` is the field `b` of the field `a`
    /// (header `a_b`), `a[].b` the field `b` of each item of the list `a` (one cell).
    pub columns: &'static [&'static str],
    /// The fields of a row deliberately left out (checked by the tests: every other field of
    /// a row is a column).
    pub omitted: &'static [&'static str],
    /// The rows, as JSON objects, from the view's JSON.
    pub rows: fn(&Value) -> Vec<Value>,
}

impl Table {
    /// The header row: each column's path, its names joined by `_`.
    pub fn header(&self) -> Vec<String> {
        self.columns.iter().map(|c| header_of(c)).collect()
    }
}

fn header_of(column: &str) -> String {
    column.replace("[]", "").replace('.', "_")
}

/// A view that can be answered as CSV.
pub trait CsvExport: Serialize {
    /// The view's tables; the first is the one answered when `table` is not given.
    const TABLES: &'static [Table];

    /// The file name, without the table or `.csv`: `oot-`, the view, its backend or PR, and
    /// what else selects the data (window, page).
    fn file_stem(&self) -> String;
}

/// The view's table named `name` (`None`: its first).
pub fn table_of<V: CsvExport>(name: Option<&str>) -> Result<&'static Table, ApiError> {
    match name {
        None => V::TABLES
            .first()
            .ok_or_else(|| ApiError::invalid("format", "this view has no CSV table")),
        Some(name) => V::TABLES.iter().find(|t| t.name == name).ok_or_else(|| {
            let names: Vec<&str> = V::TABLES.iter().map(|t| t.name).collect();
            ApiError::invalid(
                "table",
                format!("unknown table {name:?}; one of {}", names.join(", ")),
            )
        }),
    }
}

/// How one request wants view `V`: JSON, or CSV of one of its tables. An extractor, so a bad
/// `format` or `table` is refused before anything is read.
#[derive(Debug)]
pub struct Export<V> {
    /// `None`: JSON.
    csv: Option<&'static Table>,
    view: PhantomData<fn() -> V>,
}

impl<V> Clone for Export<V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V> Copy for Export<V> {}

impl<V: CsvExport> Export<V> {
    /// From the query string and the headers. `table` is read only for CSV: the JSON holds
    /// every table.
    pub fn parse(query: Option<&str>, headers: &HeaderMap) -> Result<Self, ApiError> {
        let params = QueryParams::parse(query);
        let csv = match Format::parse(&params, headers)? {
            Format::Json => None,
            Format::Csv => Some(table_of::<V>(params.get("table")?)?),
        };
        Ok(Export {
            csv,
            view: PhantomData,
        })
    }

    pub fn format(&self) -> Format {
        match self.csv {
            None => Format::Json,
            Some(_) => Format::Csv,
        }
    }

    /// The view in the format asked for. Both answers say `Vary: Accept`, since `Accept` may
    /// choose between them.
    pub fn answer(self, view: &V) -> Response {
        let mut response = match self.csv {
            None => Json(view).into_response(),
            Some(table) => match to_csv(view, table) {
                Ok(body) => {
                    let file = file_name(&view.file_stem(), table, V::TABLES);
                    let disposition = format!("attachment; filename=\"{file}\"");
                    let mut response = body.into_response();
                    let headers = response.headers_mut();
                    headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(CSV_CONTENT_TYPE),
                    );
                    // The file name is made of `[A-Za-z0-9._-]` only ([`file_name`]), so it
                    // is always a valid header value.
                    if let Ok(value) = HeaderValue::from_str(&disposition) {
                        headers.insert(header::CONTENT_DISPOSITION, value);
                    }
                    response
                }
                Err(error) => {
                    tracing::error!(%error, table = table.name, "a view could not be written as CSV");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        Json(json!({
                            "error": "internal",
                            "message": "the view could not be written as CSV",
                        })),
                    )
                        .into_response()
                }
            },
        };
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept"));
        response
    }
}

impl<S: Send + Sync, V: CsvExport> FromRequestParts<S> for Export<V> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Export::parse(parts.uri.query(), &parts.headers)
    }
}

/// Why a view could not be written as CSV: a bug, never the caller's doing.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("the view did not serialize: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("the CSV writer failed: {0}")]
    Write(#[from] csv::Error),
    #[error("the CSV writer did not flush: {0}")]
    Flush(String),
}

/// `view`'s `table` as CSV text: the header row, then one row per element.
pub fn to_csv<V: Serialize>(view: &V, table: &Table) -> Result<String, CsvError> {
    let json = serde_json::to_value(view)?;
    let columns: Vec<Vec<Step>> = table.columns.iter().map(|c| steps(c)).collect();
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer.write_record(table.header())?;
    for row in (table.rows)(&json) {
        writer.write_record(columns.iter().map(|path| cell(&row, path)))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| CsvError::Flush(e.to_string()))?;
    // Every cell is a `&str` and the writer adds only ASCII: the bytes are UTF-8.
    String::from_utf8(bytes).map_err(|e| CsvError::Flush(e.to_string()))
}

/// `oot-summary-7d.csv`; a table other than the view's first is named:
/// `oot-pr-pytorch-pytorch-123-triage.csv`. Anything but `[A-Za-z0-9._-]` becomes `-`.
pub fn file_name(stem: &str, table: &Table, tables: &[Table]) -> String {
    let is_first = tables.first().is_some_and(|t| t.name == table.name);
    let name = if is_first {
        stem.to_owned()
    } else {
        format!("{stem}-{}", table.name)
    };
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{safe}.csv")
}

/// One step of a column's path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step<'a> {
    Field(&'a str),
    /// Each item of a list.
    Each,
}

fn steps(column: &str) -> Vec<Step<'_>> {
    let mut steps = Vec::new();
    for name in column.split('.') {
        match name.strip_suffix("[]") {
            Some(list) => {
                steps.push(Step::Field(list));
                steps.push(Step::Each);
            }
            None => steps.push(Step::Field(name)),
        }
    }
    steps
}

/// The cell of the column `path` in `row`.
fn cell(value: &Value, path: &[Step<'_>]) -> String {
    match path.split_first() {
        None => scalar(value),
        Some((Step::Field(name), rest)) => value
            .get(name)
            .map(|inner| cell(inner, rest))
            .unwrap_or_default(),
        Some((Step::Each, rest)) => match value {
            Value::Array(items) => items
                .iter()
                .map(|item| cell(item, rest))
                .collect::<Vec<_>>()
                .join(LIST_SEPARATOR),
            _ => String::new(),
        },
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => defused(s),
        // No column stops at a list or an object (the tests check each table's paths); were
        // one to, its JSON text says what it holds.
        Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

/// `text`, with a `'` before it when a spreadsheet would read it as a formula.
pub fn defused(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

// The rows of each table, from the view's JSON.

/// The items of the list `field` of `value` (none when it is not a list).
fn items<'a>(value: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// `inner` (an object) with the `fields` of `outer`, the element it is nested in, added under
/// their own names (a field `inner` has already is kept as `inner`'s).
fn with_fields(inner: &Value, outer: &Value, fields: &[&str]) -> Value {
    let mut row: Map<String, Value> = inner.as_object().cloned().unwrap_or_default();
    for field in fields {
        if let Some(value) = outer.get(*field) {
            row.entry(*field).or_insert_with(|| value.clone());
        }
    }
    Value::Object(row)
}

/// Each item of the list `field`, as it is.
fn each(view: &Value, field: &str) -> Vec<Value> {
    items(view, field).cloned().collect()
}

/// A file name's part for `owner/name`: `owner-name`.
fn repo_part(repo: &str) -> String {
    repo.replace('/', "-")
}

/// The columns of a job as the matrix and the PR view show it (a `JobCell`), after `$before`.
macro_rules! job_cell_columns {
    ($($before:literal),* $(,)?) => {
        &[
            $($before,)*
            "workflow_name",
            "job_name",
            "job_key",
            "state",
            "conclusion",
            "event_type",
            "run_id",
            "run_attempt",
            "check_run_id",
            "head_sha",
            "started_at",
            "completed_at",
            "duration_s",
            "queue_time_s",
            "tests.total",
            "tests.passed",
            "tests.failed",
            "tests.skipped",
            "links.workflow_run",
            "links.artifacts",
        ]
    };
}

impl CsvExport for Summary {
    const TABLES: &'static [Table] = &[Table {
        name: "repos",
        columns: &[
            "downstream_repo",
            "level",
            "pass_rate.numerator",
            "pass_rate.denominator",
            "pass_rate.percent",
            "completed",
            "successes",
            "failures",
            "timed_out",
            "cancelled",
            "other",
            "avg_duration_s",
            "last_run_at",
            "days_since_last_result",
            "stale",
            "readiness.promotion",
            "readiness.demotion",
        ],
        // The sparkline's 30 days: the backend's trends answer them, one row per day.
        omitted: &["pass_rate_daily"],
        rows: |view| each(view, "repos"),
    }];

    fn file_stem(&self) -> String {
        format!("oot-summary-{}", self.window)
    }
}

impl CsvExport for BackendView {
    const TABLES: &'static [Table] = &[
        Table {
            name: "matrix",
            columns: job_cell_columns!(
                "target.kind",
                "target.label",
                "target.upstream_repo",
                "target.pr_number",
                "target.head_sha",
                "target.delivery_id",
                "last_seen_at",
            ),
            omitted: &[],
            // One row per job shown: each non-empty cell, with its row's target; the cell's
            // workflow and job names are its column's.
            rows: |view| {
                items(view, "rows")
                    .flat_map(|row| {
                        items(row, "cells")
                            .filter(|cell| !cell.is_null())
                            .map(move |cell| with_fields(cell, row, &["target", "last_seen_at"]))
                    })
                    .collect()
            },
        },
        Table {
            name: "failed_tests",
            columns: &[
                "row_label",
                "workflow_name",
                "job_name",
                "job_key",
                "state",
                "run_attempt",
                "links.workflow_run",
                "links.artifacts",
                "failed_tests_reported",
                "failed_tests_omitted",
                "classname",
                "name",
                "message",
                "message_truncated",
                "stacktrace",
                "stacktrace_truncated",
                "duration_s",
            ],
            omitted: &[],
            // The drill-down: one row per failed test listed, with its failed job.
            rows: |view| {
                const JOB: [&str; 9] = [
                    "row_label",
                    "workflow_name",
                    "job_name",
                    "job_key",
                    "state",
                    "run_attempt",
                    "links",
                    "failed_tests_reported",
                    "failed_tests_omitted",
                ];
                items(view, "failures")
                    .flat_map(|failure| {
                        items(failure, "failed_tests")
                            .map(move |test| with_fields(test, failure, &JOB))
                    })
                    .collect()
            },
        },
    ];

    fn file_stem(&self) -> String {
        format!(
            "oot-backend-{}-{}-page-{}",
            repo_part(&self.downstream_repo),
            self.window,
            self.page.page
        )
    }
}

impl CsvExport for FailingTestsView {
    const TABLES: &'static [Table] = &[Table {
        name: "tests",
        columns: &[
            "classname",
            "name",
            "workflow_name",
            "job_name",
            "status",
            "runs_failed",
            "runs_of_job",
            "prs_hit",
            "prs[].upstream_repo",
            "prs[].number",
            "first_failure_at",
            "last_failure_at",
            "flaky",
            "flip.transitions",
            "flip.known_results",
            "flip.score",
            "baseline.job_key",
            "baseline.upstream_sha",
            "baseline.run_id",
            "baseline.run_attempt",
            "baseline.first_seen_at",
        ],
        omitted: &[],
        rows: |view| each(view, "tests"),
    }];

    fn file_stem(&self) -> String {
        format!(
            "oot-tests-{}-{}",
            repo_part(&self.downstream_repo),
            self.window
        )
    }
}

impl CsvExport for TestHistoryView {
    const TABLES: &'static [Table] = &[Table {
        name: "points",
        columns: &[
            "workflow_name",
            "job_name",
            "jobs_in_window",
            "failed_in_window",
            "regression.finding",
            "regression.last_pass",
            "regression.first_fail",
            "regression.compare_url",
            "result",
            "outcome",
            "latest_attempt",
            "job_key",
            "run_id",
            "run_attempt",
            "first_seen_at",
            "trigger",
            "pr.upstream_repo",
            "pr.number",
            "event_type",
            "upstream_sha",
            "workflow_run_url",
            "message",
            "message_truncated",
        ],
        omitted: &[],
        // One row per job of each slot's strip, with its slot.
        rows: |view| {
            items(view, "slots")
                .flat_map(|slot| {
                    items(slot, "points").map(move |point| {
                        with_fields(
                            point,
                            slot,
                            &[
                                "workflow_name",
                                "job_name",
                                "jobs_in_window",
                                "failed_in_window",
                                "regression",
                            ],
                        )
                    })
                })
                .collect()
        },
    }];

    fn file_stem(&self) -> String {
        format!(
            "oot-test-history-{}-{}",
            repo_part(&self.downstream_repo),
            self.window
        )
    }
}

impl CsvExport for ReleaseDiffView {
    const TABLES: &'static [Table] = &[Table {
        name: "tests",
        columns: &[
            "classname",
            "name",
            "workflow_name",
            "job_name",
            "status",
            "old.job_key",
            "old.upstream_sha",
            "old.run_id",
            "old.run_attempt",
            "old.first_seen_at",
            "old.workflow_run_url",
            "new.job_key",
            "new.upstream_sha",
            "new.run_id",
            "new.run_attempt",
            "new.first_seen_at",
            "new.workflow_run_url",
        ],
        omitted: &[],
        // One row per test, with the nightlies its slot compared (`old`, `new`).
        rows: |view| {
            let slots: Vec<&Value> = items(view, "slots").collect();
            items(view, "tests")
                .map(|test| {
                    let slot = slots.iter().find(|slot| {
                        slot.get("workflow_name") == test.get("workflow_name")
                            && slot.get("job_name") == test.get("job_name")
                    });
                    match slot {
                        Some(slot) => with_fields(test, slot, &["old", "new"]),
                        None => test.clone(),
                    }
                })
                .collect()
        },
    }];

    fn file_stem(&self) -> String {
        format!("oot-tests-diff-{}", repo_part(&self.downstream_repo))
    }
}

impl CsvExport for PrView {
    const TABLES: &'static [Table] = &[
        Table {
            name: "jobs",
            columns: job_cell_columns!("downstream_repo", "level"),
            omitted: &[],
            // One row per job line, with its backend.
            rows: |view| {
                items(view, "backends")
                    .flat_map(|backend| {
                        items(backend, "jobs").map(move |job| {
                            with_fields(job, backend, &["downstream_repo", "level"])
                        })
                    })
                    .collect()
            },
        },
        Table {
            name: "triage",
            columns: &[
                "downstream_repo",
                "test.classname",
                "test.name",
                "slot.workflow_name",
                "slot.job_name",
                "verdict",
                "count",
                "job.job_key",
                "job.upstream_sha",
                "job.run_id",
                "job.run_attempt",
                "job.first_seen_at",
                "baseline.job_key",
                "baseline.upstream_sha",
                "baseline.run_id",
                "baseline.run_attempt",
                "baseline.first_seen_at",
            ],
            // The trigger of the jobs named: the PR's job is the PR's, the baseline a nightly.
            omitted: &["job.event", "baseline.event"],
            // One row per failing test judged (`backends[].triage.tests[]`), with its backend.
            rows: |view| {
                items(view, "backends")
                    .flat_map(|backend| {
                        let tests = backend.get("triage").map(|t| items(t, "tests"));
                        tests
                            .into_iter()
                            .flatten()
                            .map(move |test| with_fields(test, backend, &["downstream_repo"]))
                    })
                    .collect()
            },
        },
    ];

    fn file_stem(&self) -> String {
        format!(
            "oot-pr-{}-{}",
            repo_part(&self.upstream_repo),
            self.pr_number
        )
    }
}

impl CsvExport for ScorecardView {
    const TABLES: &'static [Table] = &[
        Table {
            name: "gates",
            columns: &[
                "judgement",
                "verdict",
                "gate",
                "comparison",
                "unit",
                "threshold",
                "value",
                "value_is_lower_bound",
                "rate.numerator",
                "rate.denominator",
                "jobs",
                "status",
                "window_days",
            ],
            omitted: &[],
            // One row per gate of each judgement (`promotion`, then `demotion`), with the
            // judgement's name and verdict.
            rows: |view| {
                ["promotion", "demotion"]
                    .into_iter()
                    .flat_map(|name| {
                        let judgement = view.get(name).unwrap_or(&Value::Null);
                        let named = json!({
                            "judgement": name,
                            "verdict": judgement.get("verdict").cloned().unwrap_or(Value::Null),
                        });
                        items(judgement, "gates")
                            .map(move |gate| with_fields(gate, &named, &["judgement", "verdict"]))
                            .collect::<Vec<_>>()
                    })
                    .collect()
            },
        },
        Table {
            name: "levels",
            columns: &["level", "first_seen_at", "last_seen_at"],
            omitted: &[],
            rows: |view| each(view, "levels"),
        },
    ];

    fn file_stem(&self) -> String {
        format!("oot-scorecard-{}", repo_part(&self.downstream_repo))
    }
}

impl CsvExport for crate::views::trends::TrendsView {
    const TABLES: &'static [Table] = &[Table {
        name: "daily",
        columns: &[
            "date",
            "completed",
            "successes",
            "failures",
            "timed_out",
            "cancelled",
            "other",
            "pass_rate.numerator",
            "pass_rate.denominator",
            "pass_rate.percent",
            "queue_p50.seconds",
            "queue_p50.is_lower_bound",
            "queue_p95.seconds",
            "queue_p95.is_lower_bound",
            "execution_p50.seconds",
            "execution_p50.is_lower_bound",
            "execution_p95.seconds",
            "execution_p95.is_lower_bound",
            "queue_times",
            "execution_times",
        ],
        omitted: &[],
        // One row per day; the range's totals are the JSON's alone.
        rows: |view| each(view, "daily"),
    }];

    fn file_stem(&self) -> String {
        format!(
            "oot-trends-{}-{}d",
            repo_part(&self.downstream_repo),
            self.days
        )
    }
}

/// The fields of a nightly row each of its jobs' CSV rows carries (its commit; a job's own
/// `head_sha` is that commit).
const NIGHTLY_ROW_FIELDS: [&str; 5] = [
    "upstream_repo",
    "commit_url",
    "first_seen_at",
    "last_seen_at",
    "headline",
];

impl CsvExport for crate::views::nightly::NightlyView {
    const TABLES: &'static [Table] = &[Table {
        name: "matrix",
        columns: job_cell_columns!(
            "upstream_repo",
            "commit_url",
            "first_seen_at",
            "last_seen_at",
            "headline",
        ),
        omitted: &[],
        // One row per job shown: each non-empty cell, with its commit row's fields.
        rows: |view| {
            items(view, "rows")
                .flat_map(|row| {
                    items(row, "cells")
                        .filter(|cell| !cell.is_null())
                        .map(move |cell| with_fields(cell, row, &NIGHTLY_ROW_FIELDS))
                })
                .collect()
        },
    }];

    fn file_stem(&self) -> String {
        format!(
            "oot-nightly-{}-{}-page-{}",
            repo_part(&self.downstream_repo),
            self.window,
            self.page.page
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use axum::http::HeaderValue;
    use oot_contract::{RepoName, UpstreamPr};
    use oot_readiness::Thresholds;
    use oot_rollup::Figures;
    use oot_triage::{
        DiffStatus, FlipScore, JobOutcome, JobRef, JobSlot, PrFailingTest, PrHeadline, PrTriage,
        PrVerdict, Status, TestId, TestResult, Trigger,
    };

    use super::*;
    use crate::job::{JobState, SummaryJob, TestCounts};
    use crate::params::PageRequest;
    use crate::rules::Window;
    use crate::stores::rollups::LevelDay;
    use crate::views::cell::tests::{job, pr};
    use crate::views::failing_tests::{Baseline, FailingTestLine, Headline, PrRef};
    use crate::views::pr_triage::BackendTriage;
    use crate::views::release_diff::{self, NightlyJob, SideLine, SlotLine as DiffSlot, TestLine};
    use crate::views::test_history::{Point, RangeFinding, Regression, SlotLine};
    use crate::views::{backend, pr as pr_view, pr_triage, scorecard, summary};

    const NOW: i64 = 1_800_000_000;
    /// Downstream text a CSV must carry whole: a comma, quotes, a line break.
    const AWKWARD: &str = "test_a, \"quoted\" [f32]\nsecond line";
    const FORMULA: &str = "=HYPERLINK(\"https://evil.test\")";

    /// `text` parsed back as CSV: the header and the rows.
    fn parsed(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let rows = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        (header, rows)
    }

    /// The rows of `view`'s table `name` as maps of header to cell.
    fn table<V: CsvExport>(view: &V, name: &str) -> Vec<HashMap<String, String>> {
        let table = table_of::<V>(Some(name)).unwrap();
        let text = to_csv(view, table).unwrap();
        let (header, rows) = parsed(&text);
        assert_eq!(header, table.header(), "{name}: the header row");
        rows.into_iter()
            .map(|row| header.iter().cloned().zip(row).collect())
            .collect()
    }

    /// The leaf fields of `value` as column paths (`a.b`, `a[].b`).
    fn leaves(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
        let join = |name: &str| {
            if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}.{name}")
            }
        };
        match value {
            Value::Object(fields) if !fields.is_empty() => {
                for (name, inner) in fields {
                    leaves(inner, &join(name), out);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for item in items {
                    leaves(item, &format!("{prefix}[]"), out);
                }
            }
            _ => {
                out.insert(prefix.to_owned());
            }
        }
    }

    /// Every column names a field the rows have, and every field of the rows is a column or
    /// deliberately left out: `view` must fill every optional field of its table.
    fn assert_covers<V: CsvExport>(view: &V) {
        let json = serde_json::to_value(view).unwrap();
        for table in V::TABLES {
            let rows = (table.rows)(&json);
            assert!(!rows.is_empty(), "{}: the sample has rows", table.name);
            let mut fields = BTreeSet::new();
            for row in &rows {
                leaves(row, "", &mut fields);
            }
            let columns: BTreeSet<String> = table.columns.iter().map(|c| (*c).to_owned()).collect();
            let omitted = |field: &str| {
                table.omitted.iter().any(|o| {
                    field == *o
                        || field.starts_with(&format!("{o}."))
                        || field.starts_with(&format!("{o}["))
                })
            };
            // A null field whose columns are its children (`pass_rate` of `pass_rate.numerator`).
            let parent = |field: &str| {
                columns.iter().any(|c| {
                    c.starts_with(&format!("{field}.")) || c.starts_with(&format!("{field}["))
                })
            };
            let uncovered: Vec<&String> = fields
                .iter()
                .filter(|f| !columns.contains(*f) && !omitted(f) && !parent(f))
                .collect();
            assert!(
                uncovered.is_empty(),
                "{}: fields without a column: {uncovered:?}",
                table.name
            );
            let unknown: Vec<&String> = columns.difference(&fields).collect();
            assert!(
                unknown.is_empty(),
                "{}: columns naming no field: {unknown:?}",
                table.name
            );
            let headers: BTreeSet<String> = table.header().into_iter().collect();
            assert_eq!(headers.len(), table.columns.len(), "{}", table.name);
            for header in &headers {
                assert!(
                    header
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{header} is snake_case"
                );
            }
        }
    }

    fn summary_view() -> Summary {
        let mut failed = job("intel/torch-xpu-ops", "k1");
        failed.state = JobState::Failure;
        failed.first_seen_at = NOW - 60;
        let mut passed = job("intel/torch-xpu-ops", "k2");
        passed.run_id = "101".to_owned();
        passed.first_seen_at = NOW - 60;
        let silent = crate::stores::completed::RepoLastResult {
            downstream_repo: "acme/npu".to_owned(),
            last_completed_at: NOW - 3 * 86_400,
            level: None,
        };
        let mut view = summary::build(
            Window::Day,
            NOW,
            vec![SummaryJob::of(failed), SummaryJob::of(passed)],
            vec![],
            vec![silent],
        );
        let verdicts = [(
            "intel/torch-xpu-ops".to_owned(),
            scorecard::Verdicts {
                promotion: oot_readiness::PromotionVerdict::NotEligible,
                demotion: oot_readiness::DemotionVerdict::NotApplicable,
            },
        )];
        view.attach_readiness(&verdicts.into_iter().collect());
        view
    }

    #[test]
    fn the_summary_is_one_row_per_repo_with_the_rate_as_numerator_denominator_and_percent() {
        let view = summary_view();
        assert_eq!(
            table_of::<Summary>(None).unwrap().header(),
            [
                "downstream_repo",
                "level",
                "pass_rate_numerator",
                "pass_rate_denominator",
                "pass_rate_percent",
                "completed",
                "successes",
                "failures",
                "timed_out",
                "cancelled",
                "other",
                "avg_duration_s",
                "last_run_at",
                "days_since_last_result",
                "stale",
                "readiness_promotion",
                "readiness_demotion",
            ]
        );
        let rows = table(&view, "repos");
        assert_eq!(rows.len(), view.repos.len());
        let silent = &rows[0];
        assert_eq!(
            silent["downstream_repo"], "acme/npu",
            "worst first, as the JSON"
        );
        for empty in [
            "level",
            "pass_rate_numerator",
            "pass_rate_denominator",
            "pass_rate_percent",
            "avg_duration_s",
            "readiness_promotion",
        ] {
            assert_eq!(silent[empty], "", "{empty}: null is an empty cell");
        }
        assert_eq!(
            (
                silent["stale"].as_str(),
                silent["days_since_last_result"].as_str()
            ),
            ("true", "3")
        );
        let xpu = &rows[1];
        assert_eq!(
            (
                xpu["pass_rate_numerator"].as_str(),
                xpu["pass_rate_denominator"].as_str(),
                xpu["pass_rate_percent"].as_str()
            ),
            ("1", "2", "50.0"),
            "numbers as JSON writes them"
        );
        assert_eq!(xpu["avg_duration_s"], "60.0");
        assert_eq!(xpu["readiness_promotion"], "not_eligible");
        assert_eq!(
            xpu["last_run_at"],
            view.repos[1].last_run_at.clone().unwrap()
        );
        assert_covers(&view);
    }

    fn backend_view() -> BackendView {
        let mut failed = job("intel/torch-xpu-ops", "intel/torch-xpu-ops/k1");
        failed.state = JobState::Failure;
        failed.first_seen_at = NOW - 60;
        failed.job_name = "linux, \"xpu\"".to_owned();
        failed.artifact_url = Some("https://example.test/artifacts".to_owned());
        failed.tests = TestCounts {
            total: Some(10),
            passed: Some(8),
            failed: Some(2),
            skipped: Some(0),
        };
        let mut nightly = job("intel/torch-xpu-ops", "intel/torch-xpu-ops/k2");
        nightly.first_seen_at = NOW - 120;
        nightly.upstream_repo = None;
        nightly.pr_number = None;
        nightly.event_type = "nightly".to_owned();
        nightly.delivery_id = "d-nightly".to_owned();
        nightly.run_id = "200".to_owned();
        let page = PageRequest {
            page: 1,
            per_page: 25,
        };
        let mut view = backend::baseline_build(
            "intel/torch-xpu-ops",
            Window::Day,
            NOW,
            vec![failed, nightly],
            vec![],
            page,
        );
        let listed = serde_json::json!([
            {"name": AWKWARD, "classname": "T", "message": "boom,\n\"bang\"",
             "stacktrace": "at x", "duration_s": 1.5, "message_truncated": true,
             "stacktrace_truncated": false},
            {"name": "test_b", "classname": null, "message": null, "stacktrace": null,
             "duration_s": null}
        ]);
        view.attach_failed_tests(&HashMap::from([(
            "intel/torch-xpu-ops/k1".to_owned(),
            listed.to_string(),
        )]));
        view
    }

    #[test]
    fn the_matrix_is_one_row_per_job_shown_with_its_target_and_column() {
        let view = backend_view();
        let rows = table(&view, "matrix");
        let shown = view
            .rows
            .iter()
            .flat_map(|r| r.cells.iter().flatten())
            .count();
        assert_eq!(rows.len(), shown, "one row per non-empty cell");
        assert!(
            view.rows
                .iter()
                .any(|r| r.cells.iter().any(Option::is_none)),
            "the sample has an empty cell, which is no row"
        );
        let pr_row = rows
            .iter()
            .find(|r| r["target_kind"] == "pull_request")
            .unwrap();
        assert_eq!(pr_row["target_label"], "pytorch/pytorch#1");
        assert_eq!(pr_row["target_pr_number"], "1");
        assert_eq!(pr_row["target_delivery_id"], "");
        assert_eq!(pr_row["job_name"], "linux, \"xpu\"");
        assert_eq!(
            (
                pr_row["tests_total"].as_str(),
                pr_row["tests_failed"].as_str()
            ),
            ("10", "2")
        );
        assert_eq!(pr_row["links_artifacts"], "https://example.test/artifacts");
        let nightly = rows.iter().find(|r| r["target_kind"] == "nightly").unwrap();
        assert_eq!(
            (
                nightly["target_pr_number"].as_str(),
                nightly["target_delivery_id"].as_str(),
                nightly["tests_total"].as_str(),
                nightly["links_artifacts"].as_str()
            ),
            ("", "d-nightly", "", "")
        );

        let failed = table(&view, "failed_tests");
        assert_eq!(failed.len(), 2, "one row per failed test listed");
        assert_eq!(failed[0]["name"], AWKWARD);
        assert_eq!(failed[0]["message"], "boom,\n\"bang\"");
        assert_eq!(failed[0]["job_key"], "intel/torch-xpu-ops/k1");
        assert_eq!(failed[0]["failed_tests_reported"], "2");
        assert_eq!(failed[1]["classname"], "");
        assert_covers(&view);
    }

    fn line(name: &str, baseline: bool) -> FailingTestLine {
        FailingTestLine {
            classname: "test.T".to_owned(),
            name: name.to_owned(),
            workflow_name: "ci".to_owned(),
            job_name: "test".to_owned(),
            status: Status::New,
            runs_failed: 2,
            runs_of_job: 3,
            prs_hit: 7,
            prs: vec![
                PrRef {
                    upstream_repo: Some("pytorch/pytorch".to_owned()),
                    number: 9,
                },
                PrRef {
                    upstream_repo: None,
                    number: 8,
                },
            ],
            first_failure_at: Some("2026-04-28T09:15:30Z".to_owned()),
            last_failure_at: None,
            flaky: true,
            flip: FlipScore::new(1, 3),
            baseline: baseline.then(|| Baseline {
                job_key: "k".to_owned(),
                upstream_sha: Some("abcdef0123".to_owned()),
                run_id: "1".to_owned(),
                run_attempt: 1,
                first_seen_at: Some("2026-04-27T02:00:00Z".to_owned()),
            }),
        }
    }

    fn failing_view() -> FailingTestsView {
        FailingTestsView {
            downstream_repo: "intel/torch-xpu-ops".to_owned(),
            window: "24h",
            since: Some("2026-04-27T10:00:00Z".to_owned()),
            generated_at: Some("2026-04-28T10:15:30Z".to_owned()),
            age_seconds: 0,
            baselines_since: None,
            headline: Headline::default(),
            filter: Default::default(),
            matching: 2,
            page: None,
            tests: vec![line(AWKWARD, true), line(FORMULA, false)],
        }
    }

    #[test]
    fn failing_tests_are_one_row_per_test_and_slot_with_lists_joined() {
        let view = failing_view();
        let rows = table(&view, "tests");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["name"], AWKWARD, "commas, quotes and newlines kept");
        assert_eq!(
            rows[1]["name"],
            format!("'{FORMULA}"),
            "a formula is defused"
        );
        assert_eq!(rows[0]["prs_number"], "9;8");
        assert_eq!(rows[0]["prs_upstream_repo"], "pytorch/pytorch;");
        assert_eq!(
            (
                rows[0]["flip_transitions"].as_str(),
                rows[0]["flip_known_results"].as_str(),
                rows[0]["flip_score"].as_str()
            ),
            ("1", "3", "0.5")
        );
        assert_eq!(rows[0]["baseline_upstream_sha"], "abcdef0123");
        assert_eq!(rows[1]["baseline_job_key"], "", "no baseline: empty cells");
        assert_eq!(rows[0]["last_failure_at"], "");
        assert_eq!(rows[0]["status"], "new");
        assert_covers(&view);

        // The text itself: the awkward name quoted whole, its quotes doubled, CRLF row ends.
        let text = to_csv(&view, table_of::<FailingTestsView>(None).unwrap()).unwrap();
        assert!(
            text.contains("\"test_a, \"\"quoted\"\" [f32]\nsecond line\""),
            "{text}"
        );
        assert!(text.starts_with("classname,name,workflow_name,job_name,status,"));
        assert!(text.contains("baseline_first_seen_at\r\n"), "CRLF");
    }

    fn point(result: TestResult, message: Option<&str>) -> Point {
        Point {
            result,
            outcome: JobOutcome::Failure,
            latest_attempt: true,
            job_key: "k".to_owned(),
            run_id: "77".to_owned(),
            run_attempt: 2,
            first_seen_at: Some("2026-04-28T09:15:30Z".to_owned()),
            trigger: "pull_request",
            pr: Some(PrRef {
                upstream_repo: Some("pytorch/pytorch".to_owned()),
                number: 9,
            }),
            event_type: "pull_request".to_owned(),
            upstream_sha: Some("abcdef0123".to_owned()),
            workflow_run_url: Some("https://github.com/a/b/actions/runs/77".to_owned()),
            message: message.map(str::to_owned),
            message_truncated: false,
        }
    }

    fn history_view() -> TestHistoryView {
        let slot = |job_name: &str, points| SlotLine {
            workflow_name: "ci".to_owned(),
            job_name: job_name.to_owned(),
            jobs_in_window: 3,
            failed_in_window: 1,
            regression: Regression {
                finding: RangeFinding::Found,
                last_pass: Some("a".repeat(40)),
                first_fail: Some("b".repeat(40)),
                compare_url: Some("https://github.com/pytorch/pytorch/compare/a...b".to_owned()),
            },
            points,
        };
        TestHistoryView {
            downstream_repo: "intel/torch-xpu-ops".to_owned(),
            classname: "T".to_owned(),
            name: AWKWARD.to_owned(),
            window: "7d",
            since: None,
            generated_at: None,
            strip_jobs: 50,
            slots: vec![
                slot(
                    "test-1",
                    vec![
                        point(
                            TestResult::Failed,
                            Some("AssertionError: 1 != 2,\nsee \"x\""),
                        ),
                        point(TestResult::Passed, None),
                    ],
                ),
                slot("test-2", vec![point(TestResult::Unknown, None)]),
            ],
        }
    }

    #[test]
    fn a_history_is_one_row_per_strip_job_with_its_slot() {
        let view = history_view();
        let rows = table(&view, "points");
        assert_eq!(rows.len(), 3, "every point of every slot");
        assert_eq!(
            rows.iter()
                .map(|r| r["job_name"].as_str())
                .collect::<Vec<_>>(),
            ["test-1", "test-1", "test-2"]
        );
        assert_eq!(rows[0]["message"], "AssertionError: 1 != 2,\nsee \"x\"");
        assert_eq!(rows[1]["message"], "");
        assert_eq!(rows[0]["regression_finding"], "found");
        assert_eq!(rows[0]["pr_number"], "9");
        assert_eq!(
            (
                rows[2]["result"].as_str(),
                rows[2]["latest_attempt"].as_str()
            ),
            ("unknown", "true")
        );
        assert_covers(&view);
    }

    fn diff_view() -> release_diff::ReleaseDiffView {
        let nightly = |sha: char| NightlyJob {
            job_key: format!("k-{sha}"),
            upstream_sha: Some(sha.to_string().repeat(40)),
            run_id: "5".to_owned(),
            run_attempt: 1,
            first_seen_at: Some("2026-04-27T02:00:00Z".to_owned()),
            workflow_run_url: Some("https://github.com/a/b/actions/runs/5".to_owned()),
        };
        let side = |sha: char| SideLine {
            kind: "commit",
            sha: Some(sha.to_string().repeat(40)),
            from: None,
            until: None,
            defaulted: false,
            nightly_jobs: 1,
        };
        let test = |name: &str, job_name: &str, status| TestLine {
            classname: "T".to_owned(),
            name: name.to_owned(),
            workflow_name: "ci".to_owned(),
            job_name: job_name.to_owned(),
            status,
        };
        release_diff::ReleaseDiffView {
            downstream_repo: "intel/torch-xpu-ops".to_owned(),
            window: "30d",
            since: None,
            generated_at: None,
            old: Some(side('a')),
            new: Some(side('b')),
            compare_url: None,
            headline: release_diff::Headline::default(),
            slots: vec![
                DiffSlot {
                    workflow_name: "ci".to_owned(),
                    job_name: "test-1".to_owned(),
                    old: Some(nightly('a')),
                    new: Some(nightly('b')),
                },
                DiffSlot {
                    workflow_name: "ci".to_owned(),
                    job_name: "test-2".to_owned(),
                    old: None,
                    new: Some(nightly('c')),
                },
            ],
            tests: vec![
                test(AWKWARD, "test-1", DiffStatus::NewlyFailing),
                test("test_b", "test-2", DiffStatus::Unknown),
                test("test_c", "test-1", DiffStatus::Fixed),
            ],
            nightly_commits: vec![],
        }
    }

    #[test]
    fn a_release_diff_is_one_row_per_test_with_the_nightlies_its_slot_compared() {
        let view = diff_view();
        let rows = table(&view, "tests");
        assert_eq!(rows.len(), 3);
        assert_eq!(
            (rows[0]["name"].as_str(), rows[0]["status"].as_str()),
            (AWKWARD, "newly_failing")
        );
        assert_eq!(rows[0]["old_job_key"], "k-a");
        assert_eq!(rows[0]["new_upstream_sha"], "b".repeat(40));
        assert_eq!(rows[1]["old_job_key"], "", "no old nightly in that slot");
        assert_eq!(rows[1]["new_job_key"], "k-c");
        assert_eq!(rows[2]["old_job_key"], "k-a");
        assert_covers(&view);
    }

    fn pr_sample() -> PrView {
        let upstream = UpstreamPr::new(RepoName::parse("pytorch/pytorch").unwrap(), pr(1));
        let mut failed = job("intel/torch-xpu-ops", "intel/torch-xpu-ops/k1");
        failed.state = JobState::Failure;
        failed.artifact_url = Some("https://example.test/a".to_owned());
        failed.tests = TestCounts {
            total: Some(3),
            passed: Some(2),
            failed: Some(1),
            skipped: Some(0),
        };
        let mut other = job("acme/npu", "acme/npu/k2");
        other.job_name = "npu, \"smoke\"".to_owned();
        other.level = None;
        let mut running = job("acme/npu", "acme/npu/k3");
        running.job_name = "npu full".to_owned();
        running.state = JobState::Running;
        running.conclusion = None;
        running.completed_at = None;
        running.level = None;
        let mut view = pr_view::build(&upstream, None, NOW, vec![failed, other], vec![running]);
        let job_ref = |key: &str, event| JobRef {
            job_key: key.to_owned(),
            event,
            upstream_sha: "f".repeat(40),
            run_id: "100".to_owned(),
            run_attempt: 1,
            first_seen_at: NOW - 600,
        };
        let judged = |name: &str, verdict, baseline: bool| PrFailingTest {
            test: TestId {
                classname: "T".to_owned(),
                name: name.to_owned(),
            },
            slot: JobSlot {
                workflow_name: "ci".to_owned(),
                job_name: "test".to_owned(),
            },
            verdict,
            job: job_ref("intel/torch-xpu-ops/k1", Trigger::PullRequest(1)),
            baseline: baseline.then(|| job_ref("intel/torch-xpu-ops/n", Trigger::Nightly)),
        };
        let triage = PrTriage {
            headline: PrHeadline {
                new_on_this_pr: 1,
                seen_on_other_prs: 1,
                known_on_nightly: 0,
            },
            tests: vec![
                judged(AWKWARD, PrVerdict::NewOnThisPr, false),
                judged("test_b", PrVerdict::SeenOnOtherPrs { count: 3 }, true),
            ],
        };
        let mut triages = HashMap::from([(
            "intel/torch-xpu-ops".to_owned(),
            BackendTriage::of(triage, 0),
        )]);
        pr_triage::attach(&mut view, Window::Week, NOW, |repo| triages.remove(repo));
        view
    }

    #[test]
    fn a_pr_is_one_row_per_job_and_its_verdicts_are_a_second_table() {
        let view = pr_sample();
        let rows = table(&view, "jobs");
        let jobs: usize = view.backends.iter().map(|b| b.jobs.len()).sum();
        assert_eq!(rows.len(), jobs);
        assert_eq!(jobs, 3);
        let npu: Vec<_> = rows
            .iter()
            .filter(|r| r["downstream_repo"] == "acme/npu")
            .collect();
        assert_eq!(npu.len(), 2);
        assert!(
            npu.iter().all(|r| r["level"].is_empty()),
            "null level: empty"
        );
        let running = npu.iter().find(|r| r["state"] == "running").unwrap();
        assert_eq!(
            (
                running["conclusion"].as_str(),
                running["completed_at"].as_str()
            ),
            ("", "")
        );
        assert!(npu.iter().any(|r| r["job_name"] == "npu, \"smoke\""));

        let triage = table(&view, "triage");
        assert_eq!(triage.len(), 2, "one row per test judged");
        assert_eq!(
            (
                triage[0]["test_name"].as_str(),
                triage[0]["verdict"].as_str()
            ),
            (AWKWARD, "new_on_this_pr")
        );
        assert_eq!(triage[0]["count"], "", "only seen_on_other_prs has a count");
        assert_eq!(triage[0]["baseline_job_key"], "");
        assert_eq!(
            (triage[1]["verdict"].as_str(), triage[1]["count"].as_str()),
            ("seen_on_other_prs", "3")
        );
        assert_eq!(triage[1]["job_first_seen_at"], (NOW - 600).to_string());
        assert_eq!(triage[1]["downstream_repo"], "intel/torch-xpu-ops");
        assert_covers(&view);
    }

    fn scorecard_sample() -> ScorecardView {
        use oot_rollup::{Contribution, Outcome};
        let mut figures = Figures::default();
        for outcome in [Outcome::Success, Outcome::Failure, Outcome::TimedOut] {
            figures.add(&Figures::of(&Contribution {
                outcome,
                duration_us: Some(3_000_000_000),
                queue_us: Some(300_000_000),
            }));
        }
        let day = |level: &str, first_seen: i64, last_seen: i64| LevelDay {
            downstream_repo: "acme/npu".into(),
            level: level.into(),
            day_start: u32::try_from(first_seen - first_seen.rem_euclid(86_400)).unwrap(),
            first_seen: u32::try_from(first_seen).unwrap(),
            last_seen: u32::try_from(last_seen).unwrap(),
        };
        let days = [
            day("L1", NOW - 90 * 86_400, NOW - 60 * 86_400),
            day("L2", NOW - 45 * 86_400, NOW - 100),
        ];
        scorecard::build(
            "acme/npu",
            NOW,
            &Thresholds::default(),
            &figures,
            &figures,
            &days,
        )
    }

    #[test]
    fn a_scorecard_is_one_row_per_gate_and_judgement() {
        let view = scorecard_sample();
        let rows = table(&view, "gates");
        let gates = view.scorecard.promotion.gates.len() + view.scorecard.demotion.gates.len();
        assert_eq!(rows.len(), gates);
        assert!(rows[..view.scorecard.promotion.gates.len()]
            .iter()
            .all(|r| r["judgement"] == "promotion"));
        assert_eq!(rows.last().unwrap()["judgement"], "demotion");
        let pass_rate = rows
            .iter()
            .find(|r| r["judgement"] == "promotion" && r["gate"] == "pass_rate")
            .unwrap();
        assert_eq!(
            (
                pass_rate["rate_numerator"].as_str(),
                pass_rate["rate_denominator"].as_str()
            ),
            ("1", "3")
        );
        let value: f64 = pass_rate["value"].parse().unwrap();
        assert!((value - 1.0 / 3.0).abs() < 1e-12, "{value}");
        assert_eq!(
            serde_json::json!(pass_rate["verdict"]),
            serde_json::json!(view.scorecard.promotion.verdict)
        );
        let days = rows.iter().find(|r| r["gate"] == "days_at_l2").unwrap();
        assert_eq!(
            (
                days["rate_numerator"].as_str(),
                days["window_days"].as_str()
            ),
            ("", ""),
            "not a rate, not read over a window"
        );
        let levels = table(&view, "levels");
        assert_eq!(
            levels
                .iter()
                .map(|r| r["level"].as_str())
                .collect::<Vec<_>>(),
            ["L1", "L2"]
        );
        assert_covers(&view);
    }

    #[test]
    fn format_is_json_or_csv_and_anything_else_is_a_400_naming_it() {
        let headers = HeaderMap::new();
        let parse = |query: &str, headers: &HeaderMap| {
            Export::<PrView>::parse(Some(query), headers)
                .map(|e| (e.format(), e.csv.map(|t| t.name)))
        };
        assert_eq!(parse("", &headers).unwrap(), (Format::Json, None));
        assert_eq!(
            parse("format=json", &headers).unwrap(),
            (Format::Json, None)
        );
        assert_eq!(
            parse("format=csv", &headers).unwrap(),
            (Format::Csv, Some("jobs"))
        );
        assert_eq!(
            parse("format=csv&table=triage", &headers).unwrap(),
            (Format::Csv, Some("triage"))
        );
        assert_eq!(
            parse("format=json&table=nonsense", &headers).unwrap(),
            (Format::Json, None),
            "table is the CSV's"
        );
        for (query, parameter, says) in [
            (
                "format=xml",
                "format",
                "unknown format \"xml\"; one of json, csv",
            ),
            ("format=CSV", "format", "unknown format"),
            ("format=", "format", "unknown format"),
            ("format=csv&format=json", "format", "more than once"),
            (
                "format=csv&table=tests",
                "table",
                "unknown table \"tests\"; one of jobs, triage",
            ),
        ] {
            match parse(query, &headers) {
                Err(ApiError::InvalidParameter {
                    parameter: named,
                    message,
                }) => {
                    assert_eq!(named, parameter, "{query}");
                    assert!(message.contains(says), "{query}: {message}");
                }
                other => panic!("{query}: {other:?}"),
            }
        }
    }

    #[test]
    fn accept_text_csv_asks_for_csv_when_format_is_not_given() {
        let with = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
            Export::<Summary>::parse(None, &headers).unwrap().format()
        };
        assert_eq!(with("text/csv"), Format::Csv);
        assert_eq!(with("text/csv;q=0.9, application/json;q=0.5"), Format::Csv);
        assert_eq!(with("Text/CSV"), Format::Csv);
        assert_eq!(
            with("application/json, text/csv"),
            Format::Json,
            "a tie keeps JSON"
        );
        assert_eq!(with("text/csv;q=0"), Format::Json);
        assert_eq!(
            with("text/csv; Q=0.8, application/json; q=0.2"),
            Format::Csv
        );
        assert_eq!(with("*/*"), Format::Json);
        assert_eq!(
            with("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            Format::Json
        );
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/csv"));
        let explicit = Export::<Summary>::parse(Some("format=json"), &headers).unwrap();
        assert_eq!(explicit.format(), Format::Json, "format wins over Accept");
    }

    #[tokio::test]
    async fn the_csv_answer_is_an_attachment_named_for_the_view_and_backend() {
        let view = failing_view();
        let export =
            Export::<FailingTestsView>::parse(Some("format=csv"), &HeaderMap::new()).unwrap();
        let response = export.answer(&view);
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
        assert_eq!(
            headers[header::CONTENT_DISPOSITION],
            "attachment; filename=\"oot-tests-intel-torch-xpu-ops-24h.csv\""
        );
        assert_eq!(headers[header::VARY], "accept");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let (_, rows) = parsed(std::str::from_utf8(&body).unwrap());
        assert_eq!(rows.len(), 2);

        let json = Export::<FailingTestsView>::parse(None, &HeaderMap::new())
            .unwrap()
            .answer(&view);
        assert_eq!(json.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(json.headers()[header::VARY], "accept");
    }

    #[test]
    fn file_names_name_the_view_its_subject_and_any_other_table() {
        let name = |stem: &str, table: &str| {
            file_name(
                stem,
                table_of::<PrView>(Some(table)).unwrap(),
                PrView::TABLES,
            )
        };
        let view = pr_sample();
        assert_eq!(
            name(&view.file_stem(), "jobs"),
            "oot-pr-pytorch-pytorch-1.csv"
        );
        assert_eq!(
            name(&view.file_stem(), "triage"),
            "oot-pr-pytorch-pytorch-1-triage.csv"
        );
        assert_eq!(
            name("a\"b c/d", "jobs"),
            "a-b-c-d.csv",
            "only [A-Za-z0-9._-]"
        );
        assert_eq!(summary_view().file_stem(), "oot-summary-24h");
        assert_eq!(
            backend_view().file_stem(),
            "oot-backend-intel-torch-xpu-ops-24h-page-1"
        );
        assert_eq!(
            history_view().file_stem(),
            "oot-test-history-intel-torch-xpu-ops-7d"
        );
        assert_eq!(
            diff_view().file_stem(),
            "oot-tests-diff-intel-torch-xpu-ops"
        );
        assert_eq!(scorecard_sample().file_stem(), "oot-scorecard-acme-npu");
    }

    #[test]
    fn an_empty_list_is_the_header_alone() {
        let mut view = failing_view();
        view.tests.clear();
        let text = to_csv(&view, table_of::<FailingTestsView>(None).unwrap()).unwrap();
        let (header, rows) = parsed(&text);
        assert_eq!(header.len(), FailingTestsView::TABLES[0].columns.len());
        assert!(rows.is_empty());
    }

    #[test]
    fn formulas_are_defused_and_other_text_is_kept() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(defused(formula), format!("'{formula}"));
        }
        for text in ["test_a", "1-2", "", "a=b", "'quoted"] {
            assert_eq!(defused(text), text);
        }
    }

    /// Each page links to the CSV of what it shows: the JSON endpoint with the page's
    /// parameters and `format=csv` (HTML-escaped in the markup).
    #[test]
    fn pages_link_to_the_csv_of_what_they_show() {
        let has = |html: String, href: &str| {
            let escaped = href.replace('&', "&amp;");
            assert!(
                html.contains(&format!("href=\"{escaped}\"")),
                "{href} not in {html}"
            );
            let query = href.split_once('?').map(|(_, q)| q);
            assert!(
                QueryParams::parse(query).get("format").unwrap() == Some("csv"),
                "{href}"
            );
        };
        has(
            crate::pages::summary::render(&summary_view(), NOW).into_string(),
            "/api/oot/summary?window=24h&format=csv",
        );
        has(
            crate::pages::failing_tests::render(&failing_view(), NOW).into_string(),
            "/api/oot/intel/torch-xpu-ops/tests?window=24h&format=csv",
        );
        has(
            crate::pages::test_history::render(&history_view(), NOW).into_string(),
            "/api/oot/intel/torch-xpu-ops/tests/history?classname=T\
             &name=test_a%2C+%22quoted%22+%5Bf32%5D%0Asecond+line&window=7d&format=csv",
        );
        let diff = crate::pages::release_diff::render(&diff_view(), NOW).into_string();
        has(
            diff,
            &format!(
                "/api/oot/intel/torch-xpu-ops/tests/diff?old={}&new={}&window=30d&format=csv",
                "a".repeat(40),
                "b".repeat(40)
            ),
        );
        let pr = crate::pages::pr::render(&pr_sample(), NOW).into_string();
        has(
            pr.clone(),
            "/api/oot/pr/1?upstream_repo=pytorch%2Fpytorch&other_prs_window=7d&format=csv",
        );
        has(
            pr,
            "/api/oot/pr/1?upstream_repo=pytorch%2Fpytorch&other_prs_window=7d&table=triage&format=csv",
        );
        let readiness = crate::pages::scorecard::section(&scorecard_sample(), NOW).into_string();
        has(readiness.clone(), "/api/oot/acme/npu/scorecard?format=csv");
        has(
            readiness,
            "/api/oot/acme/npu/scorecard?table=levels&format=csv",
        );
    }

    #[test]
    fn trends_are_one_row_per_day_and_nightlies_one_per_job_shown() {
        use crate::views::{nightly, trends};
        let mut figures = Figures::default();
        for (outcome, seconds) in [
            (oot_rollup::Outcome::Success, 600),
            (oot_rollup::Outcome::Failure, 1_200),
        ] {
            figures.add(&Figures::of(&oot_rollup::Contribution {
                outcome,
                duration_us: Some(seconds * 1_000_000),
                queue_us: Some(60_000_000),
            }));
        }
        let day = crate::stores::rollups::RepoDay {
            downstream_repo: "acme/npu".to_owned(),
            day: trends::start_of_day(NOW),
            figures,
        };
        let view = trends::build("acme/npu", trends::TrendDays::DEFAULT, NOW, &[day]);
        let rows = table(&view, "daily");
        assert_eq!(rows.len(), view.daily.len());
        let today = rows.last().unwrap();
        assert_eq!(
            (
                today["successes"].as_str(),
                today["pass_rate_denominator"].as_str()
            ),
            ("1", "2")
        );
        assert!(!today["queue_p50_seconds"].is_empty(), "{today:?}");
        assert_eq!(rows[0]["pass_rate_numerator"], "", "a day without runs");
        let only_today = trends::TrendsView {
            daily: view.daily.last().cloned().into_iter().collect(),
            ..view
        };
        assert_covers(&only_today);

        let mut nightly_job = job("acme/npu", "acme/npu/n1");
        nightly_job.pr_number = None;
        nightly_job.upstream_repo = Some("pytorch/pytorch".to_owned());
        nightly_job.event_type = "nightly".to_owned();
        nightly_job.head_sha = Some("a".repeat(40));
        nightly_job.first_seen_at = NOW - 60;
        nightly_job.artifact_url = Some("https://example.test/a".to_owned());
        nightly_job.tests = TestCounts {
            total: Some(3),
            passed: Some(2),
            failed: Some(1),
            skipped: Some(0),
        };
        let mut pr_job = job("acme/npu", "acme/npu/p1");
        pr_job.first_seen_at = NOW - 60;
        let page = PageRequest {
            page: 1,
            per_page: 25,
        };
        let view = nightly::build(
            "acme/npu",
            Window::Day,
            NOW,
            vec![nightly_job, pr_job],
            vec![],
            page,
        );
        let rows = table(&view, "matrix");
        assert_eq!(rows.len(), 1, "the nightly alone");
        assert_eq!(rows[0]["head_sha"], "a".repeat(40));
        assert_eq!(rows[0]["tests_failed"], "1");
        assert_covers(&view);
    }
}
