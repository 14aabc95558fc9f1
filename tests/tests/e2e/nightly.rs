//! The nightly view and the status badge (issue 12, docs/contract.md §12.17, §14.10) against
//! the real stack: callbacks go in through ingest (its clock moved back, so each job is first
//! seen at its time), the projector writes the jobs (ClickHouse, with the read tables), the
//! running ones (DynamoDB) and the rollups, and the query service answers
//! `/api/oot/{org}/{repo}/nightly`, its page, and `/badge/{org}/{repo}.svg`.
//!
//! The nightly story, workflow `nightly-ci` (commits `1111…`, `2222…`, `3333…`):
//!
//! | first seen | backend | job | |
//! |---|---|---|---|
//! | 50 h ago | `acme/xpu-nightly` | commit 1, test and smoke (delivery `n1`) | both pass |
//! | 30 h ago | `acme/xpu-nightly` | commit 2, test (delivery `n2`) | fails, 2 tests listed |
//! | 30 h ago | `acme/xpu-nightly` | commit 2, smoke (delivery `n2`, run 212) | passes |
//! | 29 h ago | `acme/xpu-nightly` | commit 2, smoke (delivery `n2-periodic`, a `periodic` event, run 222) | fails |
//! | 20 h ago | `acme/xpu-nightly` | PR 920001, `linux / pr-test` | fails |
//! | 10 h ago | `acme/xpu-nightly` | commit 3, test attempt 1 (`n3`, run 203) | fails, 1 test listed |
//! | 9 h ago | `acme/xpu-nightly` | commit 3, test attempt 2 (run 203) | passes |
//! | 9 h ago | `acme/xpu-nightly` | commit 3, smoke (`n3`, run 213) | running |
//! | 5 h ago | `acme/xpu-nightly` | PR 920002, `linux / test` | passes |
//! | 6 h ago | `acme/riscv-nightly` | commit 3, `riscv / test` | passes (a backend with nightlies only) |
//!
//! So the nightly view of `acme/xpu-nightly` is commit 3 (test: attempt 2 passed; smoke
//! running), commit 2 (two deliveries; test failed with 2 failing tests; smoke: run 222's
//! failure, the newer run), commit 1 (both passed); no PR job anywhere.
//!
//! The badge story is the scorecard's (`scorecard.rs`) in small: `acme/badge-ready` at L2 for
//! 40 days with 20 passing runs in the last 13 (eligible for L3), and `acme/badge-slow` at L3
//! with 10 of 20 runs failing in the last 6 days (meets the demotion rule).
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use oot_contract::{Conclusion, RepoLevel};
use oot_e2e::callbacks::{repo, upstream_pr, FailedTest, Job, Trigger};
use oot_e2e::story::{completed_listing, seed, Seeded};
use serde_json::{json, Value};

const XPU: &str = "acme/xpu-nightly";
const RISCV: &str = "acme/riscv-nightly";
const WORKFLOW: &str = "nightly-ci";
const TEST: &str = "linux / test";
const SMOKE: &str = "linux / smoke";
const PR_ONLY: &str = "linux / pr-test";
const CLASS: &str = "test.test_nightly.TestNightly";
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// Commit `c` repeated: `1111…`.
fn sha(c: char) -> String {
    std::iter::repeat_n(c, 40).collect()
}

fn job(backend: &str, trigger: Trigger, delivery: &str, name: &str, run: u64, attempt: u32) -> Job {
    Job {
        repo: repo(backend),
        level: if backend == XPU {
            RepoLevel::L2
        } else {
            RepoLevel::L1
        },
        trigger,
        delivery_id: delivery.to_owned(),
        workflow: WORKFLOW.to_owned(),
        job_name: name.to_owned(),
        run_id: run,
        run_attempt: attempt,
        check_run_id: run * 10 + u64::from(attempt),
    }
}

fn nightly(backend: &str, c: char, delivery: &str, name: &str, run: u64, attempt: u32) -> Job {
    let trigger = Trigger::Nightly {
        upstream: repo("pytorch/pytorch"),
        head_sha: sha(c),
    };
    job(backend, trigger, delivery, name, run, attempt)
}

/// One callback of the story: its job, first seen `ago` seconds before now.
struct Seen {
    ago: i64,
    job: Job,
    /// `None`: still running (only its `in_progress` callback is sent).
    conclusion: Option<Conclusion>,
    failed: &'static [&'static str],
    /// The event type to send instead of the trigger's (`periodic`).
    event_type: Option<&'static str>,
}

fn story() -> Vec<Seen> {
    let done = |ago, job, conclusion, failed| Seen {
        ago,
        job,
        conclusion: Some(conclusion),
        failed,
        event_type: None,
    };
    use Conclusion::{Failure, Success};
    vec![
        done(
            50 * HOUR,
            nightly(XPU, '1', "n1", TEST, 201, 1),
            Success,
            &[],
        ),
        done(
            50 * HOUR,
            nightly(XPU, '1', "n1", SMOKE, 211, 1),
            Success,
            &[],
        ),
        done(
            30 * HOUR,
            nightly(XPU, '2', "n2", TEST, 202, 1),
            Failure,
            &["test_a", "test_b"],
        ),
        done(
            30 * HOUR,
            nightly(XPU, '2', "n2", SMOKE, 212, 1),
            Success,
            &[],
        ),
        Seen {
            event_type: Some("periodic"),
            ..done(
                29 * HOUR,
                nightly(XPU, '2', "n2-periodic", SMOKE, 222, 1),
                Failure,
                &[],
            )
        },
        done(
            20 * HOUR,
            job(XPU, upstream_pr(920_001), "pr-1", PR_ONLY, 301, 1),
            Failure,
            &["test_pr"],
        ),
        done(
            10 * HOUR,
            nightly(XPU, '3', "n3", TEST, 203, 1),
            Failure,
            &["test_a"],
        ),
        done(
            9 * HOUR,
            nightly(XPU, '3', "n3", TEST, 203, 2),
            Success,
            &[],
        ),
        Seen {
            conclusion: None,
            ..done(
                9 * HOUR,
                nightly(XPU, '3', "n3", SMOKE, 213, 1),
                Success,
                &[],
            )
        },
        done(
            6 * HOUR,
            nightly(RISCV, '3', "rv-n3", "riscv / test", 401, 1),
            Success,
            &[],
        ),
        done(
            5 * HOUR,
            job(XPU, upstream_pr(920_002), "pr-2", TEST, 302, 1),
            Success,
            &[],
        ),
    ]
}

async fn seeded(prefix: &str) -> Seeded {
    seed(
        prefix,
        &story(),
        |seen| seen.ago,
        |seen, at| {
            let mut body = match seen.conclusion {
                Some(conclusion) => {
                    let failed: Vec<(&str, &str)> =
                        seen.failed.iter().map(|name| (CLASS, *name)).collect();
                    completed_listing(&seen.job, Some(conclusion), &failed, at)
                }
                None => seen.job.in_progress(at, 30.0).to_json(),
            };
            if let Some(event_type) = seen.event_type {
                body["untrusted"]["callback_payload"]["event_type"] = json!(event_type);
            }
            body.to_string()
        },
    )
    .await
}

async fn nightly_view(seeded: &Seeded, backend: &str, query: &str) -> Value {
    let path = format!("/api/oot/{backend}/nightly{query}");
    let (status, _, body) = seeded.query.get(&path).await;
    assert_eq!(status, 200, "{path}: {body}");
    assert_eq!(body["downstream_repo"], backend);
    body
}

/// The rows' commits, in order.
fn commits(view: &Value) -> Vec<String> {
    view["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["head_sha"].as_str().unwrap_or("-").to_owned())
        .collect()
}

fn columns(view: &Value) -> Vec<(String, String)> {
    view["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["workflow_name"].as_str().unwrap().to_owned(),
                c["job_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A cell as (run id, attempt, state, failed tests reported).
type Cell = (String, u64, String, Option<u64>);

/// Each cell of `row`, `None` where empty.
fn cells(row: &Value) -> Vec<Option<Cell>> {
    row["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (!c.is_null()).then(|| {
                (
                    c["run_id"].as_str().unwrap().to_owned(),
                    c["run_attempt"].as_u64().unwrap(),
                    c["state"].as_str().unwrap().to_owned(),
                    c["tests"]["failed"].as_u64(),
                )
            })
        })
        .collect()
}

fn cell(run: &str, attempt: u64, state: &str, failed: Option<u64>) -> Option<Cell> {
    Some((run.to_owned(), attempt, state.to_owned(), failed))
}

#[tokio::test]
async fn the_nightly_view_shows_each_commits_latest_attempts_without_pr_jobs() {
    let seeded = seeded("nightlyview").await;
    let view = nightly_view(&seeded, XPU, "?window=7d").await;
    assert_eq!(view["window"], "7d");
    assert_eq!(commits(&view), [sha('3'), sha('2'), sha('1')], "{view}");
    assert_eq!(
        columns(&view),
        [
            (WORKFLOW.to_owned(), SMOKE.to_owned()),
            (WORKFLOW.to_owned(), TEST.to_owned())
        ],
        "no PR job's column"
    );
    assert_eq!(view["total_rows"], 3);
    assert_eq!(
        view["page"],
        json!({"page": 1, "per_page": 25, "has_more": false})
    );
    assert_eq!(
        view["event_types"],
        json!(["nightly", "periodic", "schedule"])
    );

    let rows = view["rows"].as_array().unwrap();
    // Commit 3: the test job's re-run passed (attempt 1's failure is not shown), smoke runs.
    assert_eq!(
        cells(&rows[0]),
        [
            cell("213", 1, "running", None),
            cell("203", 2, "success", Some(0)),
        ]
    );
    assert_eq!(rows[0]["headline"], "1/2 passed, 1 running");
    assert_eq!(rows[0]["counts"]["running"], 1);
    assert_eq!(
        rows[0]["commit_url"],
        format!("https://github.com/pytorch/pytorch/commit/{}", sha('3'))
    );
    assert_eq!(rows[0]["upstream_repo"], "pytorch/pytorch");
    // Commit 2, delivered twice: smoke shows the periodic delivery's newer run; the test job its
    // failure with the failing-test count and its run.
    assert_eq!(
        rows[1]["deliveries"],
        json!([
            {"event_type": "nightly", "delivery_id": "n2"},
            {"event_type": "periodic", "delivery_id": "n2-periodic"},
        ])
    );
    assert_eq!(
        cells(&rows[1]),
        [
            cell("222", 1, "failure", Some(0)),
            cell("202", 1, "failure", Some(2)),
        ]
    );
    assert_eq!(rows[1]["headline"], "0/2 passed, 2 failed");
    assert_eq!(
        rows[1]["cells"][1]["links"]["workflow_run"],
        format!("https://github.com/{XPU}/actions/runs/202")
    );
    assert_eq!(rows[2]["headline"], "2/2 passed");
    let first_seen = |row: &Value| row["first_seen_at"].as_str().unwrap().to_owned();
    assert!(first_seen(&rows[0]) > first_seen(&rows[1]));
    assert!(
        rows[1]["last_seen_at"].as_str().unwrap() > first_seen(&rows[1]).as_str(),
        "the periodic delivery came an hour later"
    );
    // No PR job's run anywhere.
    let text = view.to_string();
    for run in ["301", "302"] {
        assert!(!text.contains(&format!("\"run_id\":\"{run}\"")), "{text}");
    }

    // Pages: one commit each, the total known.
    let second = nightly_view(&seeded, XPU, "?window=7d&page=2&per_page=1").await;
    assert_eq!(commits(&second), [sha('2')]);
    assert_eq!(second["page"]["has_more"], true);
    assert_eq!(second["total_rows"], 3);
    assert_eq!(
        second["columns"], view["columns"],
        "the window's columns on every page"
    );
    let past = nightly_view(&seeded, XPU, "?page=9").await;
    assert_eq!(
        (past["rows"].clone(), past["total_rows"].clone()),
        (json!([]), json!(3))
    );

    // A day: commit 3 only (commit 2's jobs are 29 to 30 hours old).
    let day = nightly_view(&seeded, XPU, "?window=24h").await;
    assert_eq!(commits(&day), [sha('3')]);

    // A backend with nightlies only.
    let riscv = nightly_view(&seeded, RISCV, "").await;
    assert_eq!(riscv["window"], "7d", "the default window");
    assert_eq!(commits(&riscv), [sha('3')]);
    assert_eq!(
        columns(&riscv),
        [(WORKFLOW.to_owned(), "riscv / test".to_owned())]
    );
    assert_eq!(
        cells(&riscv["rows"][0]),
        [cell("401", 1, "success", Some(0))]
    );

    // Nobody: no rows; a bad name or window: a 400 naming it.
    let nobody = nightly_view(&seeded, "acme/nobody", "").await;
    assert_eq!(
        (nobody["rows"].clone(), nobody["total_rows"].clone()),
        (json!([]), json!(0))
    );
    for (path, parameter) in [
        ("/api/oot/-acme/x/nightly", "repo"),
        (
            &format!("/api/oot/{XPU}/nightly?window=1y") as &str,
            "window",
        ),
        (
            &format!("/api/oot/{XPU}/nightly?per_page=0") as &str,
            "per_page",
        ),
    ] {
        let (status, _, body) = seeded.query.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
    }

    // The page, linked from the backend page beside the failing tests.
    let page = |path: String| {
        let client = seeded.query.client.clone();
        let url = format!("{}{path}", seeded.query.base_url);
        async move {
            let response = client.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let (status, backend) = page(format!("/oot/{XPU}?window=7d")).await;
    assert_eq!(status, 200);
    assert!(
        backend.contains(&format!(r#"href="/oot/{XPU}/nightly?window=7d""#)),
        "{backend}"
    );
    let (status, body) = page(format!("/oot/{XPU}/nightly?window=7d")).await;
    assert_eq!(status, 200, "{body}");
    for text in [
        format!("<h1>Nightly runs of {XPU}</h1>"),
        "3 nightly commits in the window, page 1.".to_owned(),
        "1/2 passed, 1 running".to_owned(),
        "0/2 passed, 2 failed".to_owned(),
        "98/100 passed, 2 failed".to_owned(),
        "● running".to_owned(),
        "2 deliveries".to_owned(),
        format!(
            r#"<a href="https://github.com/pytorch/pytorch/commit/{}" rel="noopener noreferrer">3333333</a>"#,
            sha('3')
        ),
        format!(
            r#"<a href="https://github.com/{XPU}/actions/runs/202" rel="noopener noreferrer">run</a>"#
        ),
        format!(r#"href="/oot/{XPU}/tests/diff?new={}""#, sha('2')),
    ] {
        assert!(body.contains(&text), "{text} not on the page");
    }
    assert!(!body.contains(PR_ONLY), "no PR job on the page");
}

/// What the service reads (the window's nightly deliveries, then their jobs) gives the view's
/// builder's answer on every job the backend has, in every window and on every page.
#[tokio::test]
async fn the_read_gives_the_builders_answer_on_every_job_of_the_backend() {
    use oot_query::params::{BackendParams, PageRequest};
    use oot_query::rules::Window;
    let seeded = seeded("nightlyall").await;
    let stores = oot_e2e::query_stores(
        &seeded.stores.settings.clickhouse,
        &seeded.stores.settings.dynamo,
        std::time::Duration::from_secs(10),
    )
    .await;
    let now = oot_query::clock::now();
    for backend in [XPU, RISCV] {
        let name = repo(backend);
        let everything = stores.completed.baseline_repo_jobs(&name, 0).await.unwrap();
        let running = stores.live.running_of_repo(&name).await.unwrap();
        let has_prs = everything.iter().any(|j| j.pr_number.is_some());
        assert_eq!(
            has_prs,
            backend == XPU,
            "the builder is given the PR jobs too"
        );
        for window in Window::ALL {
            for page in 1..=4 {
                let page = PageRequest { page, per_page: 1 };
                let params = BackendParams {
                    repo: name.clone(),
                    window,
                    page,
                };
                let served = oot_query::api::nightly_at(&stores, params, now)
                    .await
                    .unwrap();
                let rule = oot_query::views::nightly::build(
                    backend,
                    window,
                    now,
                    everything.clone(),
                    running.clone(),
                    page,
                );
                assert_eq!(
                    served,
                    rule,
                    "{backend} {} page {}",
                    window.as_str(),
                    page.page
                );
            }
        }
    }
}

/// What the badge answers: status, headers, body.
struct Fetched {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Fetched {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn fetch(seeded: &Seeded, path: &str, if_none_match: Option<&str>) -> Fetched {
    let mut request = seeded
        .query
        .client
        .get(format!("{}{path}", seeded.query.base_url));
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    let response = request.send().await.unwrap();
    Fetched {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

/// `svg` parsed as XML (xmlparser's tokens, tags matched, one root): the root's name, the
/// `<title>` text and the right part's colour (the second `rect` inside the clip).
fn parse_svg(svg: &str) -> (String, String, String) {
    use xmlparser::{ElementEnd, Token, Tokenizer};
    let mut open: Vec<String> = Vec::new();
    let (mut root, mut title, mut element) = (String::new(), String::new(), String::new());
    let mut fills = Vec::new();
    let mut roots = 0;
    for token in Tokenizer::from(svg) {
        match token.unwrap_or_else(|e| panic!("not XML ({e}): {svg}")) {
            Token::ElementStart { local, .. } => {
                if open.is_empty() {
                    roots += 1;
                    root = local.to_string();
                }
                element = local.to_string();
            }
            Token::Attribute { local, value, .. }
                if element == "rect" && local.as_str() == "fill" =>
            {
                fills.push(value.to_string());
            }
            Token::ElementEnd { end, .. } => match end {
                ElementEnd::Open => open.push(element.clone()),
                ElementEnd::Empty => {}
                ElementEnd::Close(_, local) => {
                    assert_eq!(open.pop().as_deref(), Some(local.as_str()), "{svg}")
                }
            },
            Token::Text { text } if open.last().map(String::as_str) == Some("title") => {
                title.push_str(text.as_str());
            }
            _ => {}
        }
    }
    assert!(open.is_empty() && roots == 1, "{svg}");
    (root, title, fills.get(2).cloned().unwrap_or_default())
}

/// One run of the badge story: started (queued `queue_s`), then completed 3,000 s later.
fn badge_run(
    backend: &str,
    level: RepoLevel,
    n: u64,
    ago: i64,
    conclusion: Conclusion,
) -> Vec<(i64, String)> {
    let job = Job {
        repo: repo(backend),
        level,
        trigger: upstream_pr(930_000 + n),
        delivery_id: format!("badge-{n}"),
        workflow: "ci".to_owned(),
        job_name: "test".to_owned(),
        run_id: 66_000_000 + n,
        run_attempt: 1,
        check_run_id: 55_000_000 + n,
    };
    let at = |ago: i64| time::OffsetDateTime::now_utc() - time::Duration::seconds(ago);
    let execution = 3_000;
    let completed = job
        .completed(conclusion, at(ago - execution), Some(execution as f64))
        .with_tests(
            oot_contract::TestCounts::new(10, 0, 0, Some(10)).unwrap(),
            Vec::<FailedTest>::new(),
        );
    vec![
        (ago, job.in_progress(at(ago), 300.0).to_json().to_string()),
        (ago - execution, completed.to_json().to_string()),
    ]
}

#[tokio::test]
async fn the_badge_is_an_svg_coloured_by_the_verdict_at_the_backends_level() {
    const READY: &str = "acme/badge-ready";
    const SLOW: &str = "acme/badge-slow";
    let mut callbacks = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    callbacks.extend(badge_run(
        READY,
        RepoLevel::L2,
        next(),
        40 * DAY,
        Conclusion::Success,
    ));
    for i in 0..20 {
        callbacks.extend(badge_run(
            READY,
            RepoLevel::L2,
            next(),
            13 * DAY - i * 12 * HOUR,
            Conclusion::Success,
        ));
    }
    callbacks.extend(badge_run(
        SLOW,
        RepoLevel::L3,
        next(),
        50 * DAY,
        Conclusion::Success,
    ));
    for i in 0..20 {
        let conclusion = if i % 2 == 0 {
            Conclusion::Failure
        } else {
            Conclusion::Success
        };
        callbacks.extend(badge_run(
            SLOW,
            RepoLevel::L3,
            next(),
            6 * DAY - i * 6 * HOUR,
            conclusion,
        ));
    }
    callbacks.sort_by_key(|(ago, _)| -ago);
    let seeded = seed(
        "badge",
        &callbacks,
        |(ago, _)| *ago,
        |(_, body), _| body.clone(),
    )
    .await;

    let ready = fetch(&seeded, &format!("/badge/{READY}.svg"), None).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.header("content-type"), "image/svg+xml");
    assert_eq!(ready.header("cache-control"), "public, max-age=300");
    // The pages' headers: none stops an <img> (nor GitHub's image proxy) from showing it.
    assert_eq!(ready.header("x-content-type-options"), "nosniff");
    assert!(ready
        .header("content-security-policy")
        .contains("default-src 'none'"));
    assert_eq!(ready.header("referrer-policy"), "no-referrer");
    assert!(ready.headers.get("cross-origin-resource-policy").is_none());
    let (root, title, colour) = parse_svg(&ready.body);
    assert_eq!(root, "svg");
    assert_eq!(colour, "#4c1", "green: eligible for L3");
    assert_eq!(
        title,
        format!("{READY}: OOT L2, 100.0% pass (20/20) over the last 14 days; eligible for L3")
    );
    assert!(ready.body.contains(">OOT L2</text>") && ready.body.contains(">100.0% pass</text>"));
    // The same badge again: a 304 for the tag it carries.
    let tag = ready.header("etag").to_owned();
    assert!(tag.starts_with('"') && tag.len() == 18, "{tag}");
    let again = fetch(&seeded, &format!("/badge/{READY}.svg"), Some(&tag)).await;
    assert_eq!((again.status, again.body.as_str()), (304, ""));
    assert_eq!(again.header("etag"), tag);

    let slow = fetch(&seeded, &format!("/badge/{SLOW}.svg"), None).await;
    assert_eq!(slow.status, 200, "{}", slow.body);
    let (_, title, colour) = parse_svg(&slow.body);
    assert_eq!(colour, "#e05d44", "red: meets the demotion rule");
    assert!(title.starts_with(&format!("{SLOW}: OOT L3, ")), "{title}");
    assert!(title.ends_with("; meets the demotion rule"), "{title}");
    assert_ne!(slow.header("etag"), tag);

    // A backend the stores know nothing of: a grey "no results" badge.
    let nobody = fetch(&seeded, "/badge/acme/nobody.svg", None).await;
    assert_eq!(nobody.status, 200);
    let (_, title, colour) = parse_svg(&nobody.body);
    assert_eq!(colour, "#9f9f9f");
    assert_eq!(
        title,
        "acme/nobody: OOT, no results over the last 14 days; no level reported"
    );
    // A name that is no repo: a red badge saying so, answered 400.
    let bad = fetch(&seeded, "/badge/-acme/x%3Cb%3E.svg", None).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.header("content-type"), "image/svg+xml");
    let (_, title, colour) = parse_svg(&bad.body);
    assert_eq!(colour, "#e05d44");
    assert!(title.starts_with("OOT badge: repo: "), "{title}");
    assert!(bad.body.contains(">invalid repo</text>"));
    assert!(!bad.body.contains("<b>"), "escaped: {}", bad.body);
    // Only `.svg`.
    let png = fetch(&seeded, &format!("/badge/{READY}.png"), None).await;
    assert_eq!(png.status, 404);
}
