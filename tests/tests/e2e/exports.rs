//! Every view's data as CSV (issue 12, docs/contract.md §15) against the real stack: callbacks
//! go in through ingest (its clock moved back so each job is first seen at its hour), the
//! projector writes them, and for every JSON endpoint the query service's `?format=csv` answer
//! parses (with the `csv` crate) and equals the JSON's list, field by field, by the contract's
//! flattening rule, which this module applies on its own to the JSON.
//!
//! One backend, `intel/torch-xpu-ops`, two slots of workflow `xpu-ci` (the test job's name holds
//! a comma and quotes), tests whose names hold a comma, quotes and a line break ([`AWKWARD`]) or
//! start like a spreadsheet formula ([`FORMULA`]); the messages quote the names:
//!
//! | first seen | job | failed tests |
//! |---|---|---|
//! | 50 h ago | nightly on commit 1…, test | `test_plain` |
//! | 30 h ago | nightly on commit 2…, test | [`AWKWARD`] |
//! | 30 h ago | nightly on commit 2…, smoke | none |
//! | 10 h ago | PR 900501, test | [`AWKWARD`], [`FORMULA`], `test_plain` |
//! | 9 h ago | PR 900501, smoke | none |
//! | 8 h ago | PR 900502, test (no smoke: an empty cell) | [`FORMULA`] |
//! | 5 h ago | nightly on commit 3…, test | [`AWKWARD`], [`FORMULA`] |
//! | 5 h ago | nightly on commit 3…, smoke, cancelled | none |
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::collections::BTreeMap;

use oot_contract::{Conclusion, RepoLevel};
use oot_e2e::callbacks::{repo, upstream_pr, Job, Trigger};
use oot_e2e::story::{completed_listing, seed, Seeded};
use oot_e2e::{query_config, TestQuery, TestStores};
use serde_json::{Map, Value};

use crate::release_diff::sha;

const XPU: &str = "intel/torch-xpu-ops";
const WORKFLOW: &str = "xpu-ci";
const TEST_JOB: &str = "linux-xpu / test, \"full\"";
const SMOKE_JOB: &str = "linux-xpu / smoke";
const CLASS: &str = "test.test_ops.TestOps";
const AWKWARD: &str = "test_a, \"quoted\" [f32]\nsecond line";
const FORMULA: &str = "=HYPERLINK(\"https://evil.test\",\"x\")";
const PLAIN: &str = "test_plain";
const MINE: u64 = 900_501;
const OTHER: u64 = 900_502;
const HOUR: i64 = 3_600;

/// One completed job, first seen `ago` seconds before now.
struct Seen {
    ago: i64,
    job: Job,
    conclusion: Option<Conclusion>,
    failed: &'static [&'static str],
}

fn job(trigger: Trigger, delivery: &str, job_name: &str, run: u64) -> Job {
    Job {
        repo: repo(XPU),
        level: RepoLevel::L2,
        trigger,
        delivery_id: delivery.to_owned(),
        workflow: WORKFLOW.to_owned(),
        job_name: job_name.to_owned(),
        run_id: run,
        run_attempt: 1,
        check_run_id: run * 10 + 1,
    }
}

fn nightly(c: char, job_name: &str, run: u64) -> Job {
    let trigger = Trigger::Nightly {
        upstream: repo("pytorch/pytorch"),
        head_sha: sha(c),
    };
    job(trigger, &format!("nightly-{c}"), job_name, run)
}

fn pr(number: u64, job_name: &str, run: u64) -> Job {
    job(upstream_pr(number), &format!("d-{number}"), job_name, run)
}

fn story() -> Vec<Seen> {
    let seen = |ago, job, failed| Seen {
        ago,
        job,
        conclusion: None,
        failed,
    };
    vec![
        seen(50 * HOUR, nightly('1', TEST_JOB, 101), &[PLAIN]),
        seen(30 * HOUR, nightly('2', TEST_JOB, 102), &[AWKWARD]),
        seen(30 * HOUR, nightly('2', SMOKE_JOB, 112), &[]),
        seen(
            10 * HOUR,
            pr(MINE, TEST_JOB, 501),
            &[AWKWARD, FORMULA, PLAIN],
        ),
        seen(9 * HOUR, pr(MINE, SMOKE_JOB, 511), &[]),
        seen(8 * HOUR, pr(OTHER, TEST_JOB, 502), &[FORMULA]),
        seen(5 * HOUR, nightly('3', TEST_JOB, 103), &[AWKWARD, FORMULA]),
        Seen {
            conclusion: Some(Conclusion::Cancelled),
            ..seen(5 * HOUR, nightly('3', SMOKE_JOB, 113), &[])
        },
    ]
}

async fn seeded(prefix: &str) -> Seeded {
    seed(
        prefix,
        &story(),
        |seen| seen.ago,
        |seen, at| {
            let failed: Vec<(&str, &str)> = seen.failed.iter().map(|name| (CLASS, *name)).collect();
            completed_listing(&seen.job, seen.conclusion, &failed, at).to_string()
        },
    )
    .await
}

/// One answer of the query service.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// GETs `path` with the query `pairs` (encoded here: test names hold anything), and `Accept`.
async fn get(
    query: &TestQuery,
    path: &str,
    pairs: &[(&str, &str)],
    accept: Option<&str>,
) -> Answer {
    let url = reqwest::Url::parse_with_params(&format!("{}{path}", query.base_url), pairs).unwrap();
    let mut request = query.client.get(url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

/// The CSV text parsed: its header and its rows, each as header → cell.
fn parse_csv(text: &str) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            assert_eq!(record.len(), header.len(), "every row has every column");
            header
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_owned))
                .collect()
        })
        .collect();
    (header, rows)
}

/// A string as the CSV writes it: with a `'` before what a spreadsheet reads as a formula.
fn defused(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The contract's flattening of one row's JSON: nested fields as `parent_child`, a list's
/// items' values joined by `;` per field, `null` as empty, numbers and booleans as JSON writes
/// them.
fn flatten(value: &Value, name: &str, out: &mut BTreeMap<String, String>) {
    let join = |field: &str| {
        if name.is_empty() {
            field.to_owned()
        } else {
            format!("{name}_{field}")
        }
    };
    match value {
        Value::Object(fields) => {
            for (field, inner) in fields {
                flatten(inner, &join(field), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let flat: Vec<BTreeMap<String, String>> = items
                .iter()
                .map(|item| {
                    let mut one = BTreeMap::new();
                    flatten(item, name, &mut one);
                    one
                })
                .collect();
            let names: std::collections::BTreeSet<&String> =
                flat.iter().flat_map(BTreeMap::keys).collect();
            for key in names {
                let cells: Vec<&str> = flat
                    .iter()
                    .map(|one| one.get(key).map_or("", String::as_str))
                    .collect();
                out.insert(key.clone(), cells.join(";"));
            }
        }
        Value::Array(_) | Value::Null => {
            out.insert(name.to_owned(), String::new());
        }
        Value::Bool(b) => {
            out.insert(name.to_owned(), b.to_string());
        }
        Value::Number(n) => {
            out.insert(name.to_owned(), n.to_string());
        }
        Value::String(s) => {
            out.insert(name.to_owned(), defused(s));
        }
    }
}

/// `inner` with `outer`'s fields but `except` (the element it is nested in, as the CSV's row
/// carries it).
fn nested_in(inner: &Value, outer: &Value, except: &[&str]) -> Value {
    let mut row: Map<String, Value> = inner.as_object().unwrap().clone();
    for (field, value) in outer.as_object().unwrap() {
        if !except.contains(&field.as_str()) {
            assert!(
                row.insert(field.clone(), value.clone()).is_none(),
                "{field} is in both"
            );
        }
    }
    Value::Object(row)
}

fn list<'a>(value: &'a Value, field: &str) -> &'a Vec<Value> {
    value[field]
        .as_array()
        .unwrap_or_else(|| panic!("no list {field} in {value}"))
}

/// One endpoint's CSV table against its JSON.
struct Case<'a> {
    path: String,
    pairs: Vec<(&'a str, &'a str)>,
    /// `None`: the view's first table.
    table: Option<&'static str>,
    /// The file the answer names.
    file: String,
    /// The table's rows, as the JSON holds them (each with the elements it is nested in).
    rows: fn(&Value) -> Vec<Value>,
    /// Fields of the JSON rows the CSV leaves out (docs/contract.md §15).
    omitted: &'static [&'static str],
}

/// Fetches the case's JSON and CSV; checks the CSV's headers, that it parses, and that it is
/// the JSON's list field by field; returns the JSON and the number of rows.
async fn check(query: &TestQuery, case: &Case<'_>) -> (Value, usize) {
    let json = get(query, &case.path, &case.pairs, None).await;
    assert_eq!(json.status, 200, "{}: {}", case.path, json.body);
    assert_eq!(json.header("content-type"), "application/json");
    let json = json.json();
    let explicit = get(
        query,
        &case.path,
        &[case.pairs.as_slice(), &[("format", "json")]].concat(),
        None,
    )
    .await;
    assert_eq!(explicit.status, 200, "format=json is the JSON");

    let mut pairs = case.pairs.clone();
    pairs.push(("format", "csv"));
    if let Some(table) = case.table {
        pairs.push(("table", table));
    }
    let csv = get(query, &case.path, &pairs, None).await;
    let what = format!("{} {:?}", case.path, case.table);
    assert_eq!(csv.status, 200, "{what}: {}", csv.body);
    assert_eq!(
        csv.header("content-type"),
        "text/csv; charset=utf-8",
        "{what}"
    );
    assert_eq!(
        csv.header("content-disposition"),
        format!("attachment; filename=\"{}\"", case.file),
        "{what}"
    );
    assert_eq!(csv.header("vary"), "accept");
    let (header, csv_rows) = parse_csv(&csv.body);
    for name in &header {
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{what}: {name} is snake_case"
        );
    }

    let expected: Vec<Value> = (case.rows)(&json);
    assert!(!expected.is_empty(), "{what}: the story gives rows");
    assert_eq!(
        csv_rows.len(),
        expected.len(),
        "{what}: one row per element"
    );
    for (i, (row, csv_row)) in expected.iter().zip(&csv_rows).enumerate() {
        let mut flat = BTreeMap::new();
        flatten(row, "", &mut flat);
        let omitted = |field: &str| {
            case.omitted
                .iter()
                .any(|o| field == *o || field.starts_with(&format!("{o}_")))
        };
        for (field, value) in &flat {
            if omitted(field) {
                continue;
            }
            match csv_row.get(field) {
                Some(cell) => assert_eq!(cell, value, "{what} row {i}: {field}"),
                // A null parent (`pass_rate`): its columns (`pass_rate_numerator`, …) are empty.
                None => {
                    assert!(value.is_empty(), "{what} row {i}: no column {field}");
                    let children: Vec<_> = csv_row
                        .iter()
                        .filter(|(name, _)| name.starts_with(&format!("{field}_")))
                        .collect();
                    assert!(!children.is_empty(), "{what} row {i}: no column {field}");
                    for (name, cell) in children {
                        assert_eq!(cell, "", "{what} row {i}: {name} of a null {field}");
                    }
                }
            }
        }
        for (name, cell) in csv_row {
            if !flat.contains_key(name) {
                // Only the children of a null parent (checked above) are not fields.
                assert_eq!(cell, "", "{what} row {i}: {name} is no field of the JSON");
            }
        }
    }
    (json, csv_rows.len())
}

fn repo_file(view: &str, rest: &str) -> String {
    format!("oot-{view}-intel-torch-xpu-ops{rest}.csv")
}

#[tokio::test]
async fn every_views_csv_parses_and_equals_its_json() {
    let seeded = seeded("exports").await;
    let query = &seeded.query;
    let backend = format!("/api/oot/{XPU}");
    let cases = [
        Case {
            path: "/api/oot/summary".to_owned(),
            pairs: vec![("window", "7d")],
            table: None,
            file: "oot-summary-7d.csv".to_owned(),
            rows: |json| list(json, "repos").clone(),
            omitted: &["pass_rate_daily"],
        },
        Case {
            path: backend.clone(),
            pairs: vec![("window", "7d")],
            table: None,
            file: repo_file("backend", "-7d-page-1"),
            rows: |json| {
                list(json, "rows")
                    .iter()
                    .flat_map(|row| {
                        list(row, "cells")
                            .iter()
                            .filter(|cell| !cell.is_null())
                            .map(|cell| nested_in(cell, row, &["cells"]))
                    })
                    .collect()
            },
            omitted: &[],
        },
        Case {
            path: backend.clone(),
            pairs: vec![("window", "7d")],
            table: Some("failed_tests"),
            file: repo_file("backend", "-7d-page-1-failed_tests"),
            rows: |json| {
                list(json, "failures")
                    .iter()
                    .flat_map(|failure| {
                        list(failure, "failed_tests")
                            .iter()
                            .map(|test| nested_in(test, failure, &["failed_tests"]))
                    })
                    .collect()
            },
            omitted: &[],
        },
        Case {
            path: format!("{backend}/tests"),
            pairs: vec![("window", "7d")],
            table: None,
            file: repo_file("tests", "-7d"),
            rows: |json| list(json, "tests").clone(),
            omitted: &[],
        },
        Case {
            path: format!("{backend}/tests/history"),
            pairs: vec![("classname", CLASS), ("name", AWKWARD), ("window", "7d")],
            table: None,
            file: repo_file("test-history", "-7d"),
            rows: |json| {
                list(json, "slots")
                    .iter()
                    .flat_map(|slot| {
                        list(slot, "points")
                            .iter()
                            .map(|point| nested_in(point, slot, &["points"]))
                    })
                    .collect()
            },
            omitted: &[],
        },
        Case {
            path: format!("{backend}/tests/diff"),
            pairs: vec![],
            table: None,
            file: repo_file("tests-diff", ""),
            rows: |json| {
                list(json, "tests")
                    .iter()
                    .map(|test| {
                        let slot = list(json, "slots")
                            .iter()
                            .find(|s| {
                                s["workflow_name"] == test["workflow_name"]
                                    && s["job_name"] == test["job_name"]
                            })
                            .unwrap();
                        nested_in(test, slot, &["workflow_name", "job_name"])
                    })
                    .collect()
            },
            omitted: &[],
        },
        Case {
            path: format!("/api/oot/pr/{MINE}"),
            pairs: vec![("upstream_repo", "pytorch/pytorch")],
            table: None,
            file: format!("oot-pr-pytorch-pytorch-{MINE}.csv"),
            rows: |json| {
                list(json, "backends")
                    .iter()
                    .flat_map(|backend| {
                        list(backend, "jobs").iter().map(|job| {
                            nested_in(job, backend, &["jobs", "headline", "counts", "triage"])
                        })
                    })
                    .collect()
            },
            omitted: &[],
        },
        Case {
            path: format!("/api/oot/pr/{MINE}"),
            pairs: vec![("upstream_repo", "pytorch/pytorch")],
            table: Some("triage"),
            file: format!("oot-pr-pytorch-pytorch-{MINE}-triage.csv"),
            rows: |json| {
                list(json, "backends")
                    .iter()
                    .flat_map(|backend| {
                        list(&backend["triage"], "tests").iter().map(|test| {
                            nested_in(
                                test,
                                backend,
                                &["jobs", "headline", "counts", "triage", "level"],
                            )
                        })
                    })
                    .collect()
            },
            omitted: &["job_event", "baseline_event"],
        },
        Case {
            path: format!("{backend}/scorecard"),
            pairs: vec![],
            table: None,
            file: repo_file("scorecard", ""),
            rows: |json| {
                ["promotion", "demotion"]
                    .into_iter()
                    .flat_map(|name| {
                        let judged = &json[name];
                        let named = serde_json::json!({
                            "judgement": name,
                            "verdict": judged["verdict"],
                        });
                        list(judged, "gates")
                            .iter()
                            .map(|gate| nested_in(gate, &named, &[]))
                            .collect::<Vec<_>>()
                    })
                    .collect()
            },
            omitted: &[],
        },
        Case {
            path: format!("{backend}/scorecard"),
            pairs: vec![],
            table: Some("levels"),
            file: repo_file("scorecard", "-levels"),
            rows: |json| list(json, "levels").clone(),
            omitted: &[],
        },
    ];
    let mut rows = BTreeMap::new();
    for case in &cases {
        let (json, count) = check(query, case).await;
        rows.insert((case.path.clone(), case.table), (json, count));
    }

    // What the story says each table holds, so the equality above is over the data meant.
    let count = |path: &str, table| rows[&(path.to_owned(), table)].1;
    assert_eq!(
        count(&backend, None),
        8,
        "8 jobs in 5 rows: nightly 1 and PR 900502 ran no smoke"
    );
    assert_eq!(count(&format!("{backend}/tests"), None), 3);
    assert_eq!(
        count(&format!("{backend}/tests/history"), None),
        5,
        "every job of the test slot"
    );
    assert_eq!(count(&format!("{backend}/tests/diff"), None), 2);
    assert_eq!(count(&format!("/api/oot/pr/{MINE}"), None), 2);
    assert_eq!(count(&format!("/api/oot/pr/{MINE}"), Some("triage")), 3);
    let (diff, _) = &rows[&(format!("{backend}/tests/diff"), None)];
    let names: Vec<&str> = list(diff, "tests")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [FORMULA, AWKWARD],
        "newly failing, then still failing"
    );
    let (triage, _) = &rows[&(format!("/api/oot/pr/{MINE}"), Some("triage"))];
    let verdicts: Vec<(&str, &str)> = list(&triage["backends"][0]["triage"], "tests")
        .iter()
        .map(|t| {
            (
                t["test"]["name"].as_str().unwrap(),
                t["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (PLAIN, "new_on_this_pr"),
            (FORMULA, "seen_on_other_prs"),
            (AWKWARD, "known_on_nightly")
        ]
    );

    // The awkward name and the formula, as the CSV text carries them.
    let tests = get(
        query,
        &format!("{backend}/tests"),
        &[("window", "7d"), ("format", "csv")],
        None,
    )
    .await;
    assert!(
        tests
            .body
            .contains("\"test_a, \"\"quoted\"\" [f32]\nsecond line\""),
        "quoted whole, quotes doubled, the line break inside: {}",
        tests.body
    );
    assert!(
        tests
            .body
            .contains(",\"'=HYPERLINK(\"\"https://evil.test\"\","),
        "{}",
        tests.body
    );
    assert!(tests.body.contains("\"linux-xpu / test, \"\"full\"\"\""));
    assert!(tests
        .body
        .starts_with("classname,name,workflow_name,job_name,status,"));
    assert!(tests.body.contains("\r\n"), "RFC 4180 line ends");
}

/// `Accept: text/csv` asks for the CSV when `format` is not given; `page` and `per_page` apply
/// to the CSV as to the JSON; and each page's "Download CSV" link answers its data.
#[tokio::test]
async fn accept_paging_and_the_pages_links_give_the_same_csv() {
    let seeded = seeded("exportspaging").await;
    let query = &seeded.query;
    let backend = format!("/api/oot/{XPU}");

    let by_format = get(query, "/api/oot/summary", &[("format", "csv")], None).await;
    let by_accept = get(query, "/api/oot/summary", &[], Some("text/csv")).await;
    assert_eq!(by_accept.status, 200);
    assert_eq!(by_accept.header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(parse_csv(&by_accept.body).1, parse_csv(&by_format.body).1);
    let browser = get(
        query,
        "/api/oot/summary",
        &[],
        Some("text/html,application/xhtml+xml,*/*;q=0.8"),
    )
    .await;
    assert_eq!(browser.header("content-type"), "application/json");

    let paged = |page: &'static str| Case {
        path: backend.clone(),
        pairs: vec![("window", "7d"), ("page", page), ("per_page", "2")],
        table: None,
        file: repo_file("backend", &format!("-7d-page-{page}")),
        rows: |json| {
            list(json, "rows")
                .iter()
                .flat_map(|row| {
                    list(row, "cells")
                        .iter()
                        .filter(|cell| !cell.is_null())
                        .map(|cell| nested_in(cell, row, &["cells"]))
                })
                .collect()
        },
        omitted: &[],
    };
    let (first, first_rows) = check(query, &paged("1")).await;
    let (second, second_rows) = check(query, &paged("2")).await;
    assert_eq!(list(&first, "rows").len(), 2);
    assert_eq!(first["page"]["has_more"], true);
    assert_eq!(
        (first_rows, second_rows),
        (3, 4),
        "nightly 3 and PR 900502, then PR 900501 and nightly 2"
    );
    assert_ne!(first["rows"], second["rows"]);

    // The backend page links to the CSV of its rows, with its paging.
    let page = get(
        query,
        &format!("/oot/{XPU}"),
        &[("window", "7d"), ("page", "1"), ("per_page", "2")],
        None,
    )
    .await;
    assert_eq!(page.status, 200);
    let href = format!("/api/oot/{XPU}?window=7d&page=1&per_page=2&format=csv");
    assert!(
        page.body
            .contains(&format!("href=\"{}\"", href.replace('&', "&amp;"))),
        "no CSV link to {href}"
    );
    let linked = query
        .client
        .get(format!("{}{href}", query.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status().as_u16(), 200);
    let linked = linked.text().await.unwrap();
    assert_eq!(parse_csv(&linked).1.len(), first_rows);
    for table in ["failed_tests", "levels"] {
        assert!(
            page.body.contains(&format!("table={table}&amp;format=csv")),
            "the page links to its {table} CSV"
        );
    }
    let tests_page = get(
        query,
        &format!("/oot/{XPU}/tests"),
        &[("window", "7d")],
        None,
    )
    .await;
    assert!(tests_page.body.contains(&format!(
        "href=\"/api/oot/{XPU}/tests?window=7d&amp;format=csv\""
    )));
}

/// A `format` other than `json` or `csv` is a 400 naming `format` on every endpoint, and a
/// table the view has not is a 400 naming `table`; neither reads a store.
#[tokio::test]
async fn a_bad_format_or_table_is_refused_by_name_on_every_endpoint() {
    let stores = TestStores::unique("exportsbad");
    let query = TestQuery::spawn(query_config(&stores.settings))
        .await
        .unwrap();
    let paths = [
        "/api/oot/summary".to_owned(),
        format!("/api/oot/{XPU}"),
        format!("/api/oot/{XPU}/tests"),
        format!("/api/oot/{XPU}/tests/history"),
        format!("/api/oot/{XPU}/tests/diff"),
        format!("/api/oot/pr/{MINE}"),
        format!("/api/oot/{XPU}/scorecard"),
    ];
    for path in &paths {
        let pairs: &[(&str, &str)] = if path.ends_with("/history") {
            &[("classname", CLASS), ("name", PLAIN)]
        } else {
            &[]
        };
        for (format, parameter) in [("xml", "format"), ("CSV", "format"), ("", "format")] {
            let answer = get(
                &query,
                path,
                &[pairs, &[("format", format)]].concat(),
                Some("text/csv"),
            )
            .await;
            assert_eq!(
                answer.status, 400,
                "{path} format={format}: {}",
                answer.body
            );
            let body = answer.json();
            assert_eq!(body["error"], "invalid_parameter");
            assert_eq!(body["parameter"], parameter, "{path}");
        }
        let answer = get(
            &query,
            path,
            &[pairs, &[("format", "csv"), ("table", "nope")]].concat(),
            None,
        )
        .await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.body);
        assert_eq!(answer.json()["parameter"], "table", "{path}");
        let empty = get(&query, path, &[pairs, &[("format", "csv")]].concat(), None).await;
        assert_eq!(empty.status, 200, "{path}: {}", empty.body);
        let (header, _) = parse_csv(&empty.body);
        assert!(!header.is_empty(), "{path}: a header row even without data");
    }
}
