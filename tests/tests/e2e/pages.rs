//! The query service's HTML pages against the real stack: callbacks go in through ingest and
//! the projector, the pages come out of the query service, rendered from the same view models as
//! the JSON endpoints (tests/tests/e2e/query.rs checks the rules; this file checks what a person sees
//! and that downstream text cannot become markup).
//!
//! The seeded data, all in upstream `pytorch/pytorch`:
//!
//! | backend                | PR 910001                                                 | PR 910002    |
//! |------------------------|-----------------------------------------------------------|--------------|
//! | intel/torch-xpu-ops L2 | build ok; `<script>` job failed (2 tests, HTML in them); test running | build ok |
//! | ascend/pytorch L3      | test ok                                                   | lint running |
//!
//! plus `old/backend`, whose only job completed ten days ago (written straight into ClickHouse),
//! so the 7-day summary shows it with no results.
//!
//! The triage pages that need nightlies (the release diff, the PR's "is it mine?" marks) are
//! shown on the release-diff story (`release_diff.rs`): three nightly commits and two PRs.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::time::Duration;

use oot_contract::{Conclusion, RepoLevel};
use oot_e2e::callbacks::{self, ago, sample, upstream_pr, Callback, FailedTest, Job};
use oot_e2e::{
    aged_callback, eventually, query_config, seed_views, SeededViews, TestQuery, TestStores,
};
use serde_json::{json, Value};

const XPU: &str = "intel/torch-xpu-ops";
const ASCEND: &str = "ascend/pytorch";
const OLD: &str = "old/backend";
const PR1: u64 = 910_001;
const PR2: u64 = 910_002;

/// A job name and a failed test written to break out of the markup if a page did not escape.
const EVIL_JOB: &str = "evil <script>alert(1)</script>";
const EVIL_JOB_ESCAPED: &str = "evil &lt;script&gt;alert(1)&lt;/script&gt;";
const EVIL_TEST: &str = "test_<b>bold</b>";
/// Its history's query string, as the failing-tests page links it.
const EVIL_TEST_QUERY: &str = "classname=T%3Ci%3E&name=test_%3Cb%3Ebold%3C%2Fb%3E&window=7d";
const EVIL_MESSAGE: &str = "AssertionError: <img src=x onerror=alert(2)> \"quoted\" & more";
const EVIL_MESSAGE_ESCAPED: &str =
    "AssertionError: &lt;img src=x onerror=alert(2)&gt; &quot;quoted&quot; &amp; more";

/// One downstream job's callback: `conclusion` `None` is an `in_progress`.
fn callback(
    repo: &str,
    level: RepoLevel,
    pr: u64,
    job: &str,
    run: u64,
    check_run: u64,
    conclusion: Option<Conclusion>,
) -> Value {
    let job = Job {
        repo: callbacks::repo(repo),
        level,
        trigger: upstream_pr(pr),
        delivery_id: format!("d-{run}"),
        workflow: "ci".to_owned(),
        job_name: job.to_owned(),
        run_id: run,
        run_attempt: 1,
        check_run_id: check_run,
    };
    let callback = match conclusion {
        None => job.in_progress(ago(3600), 12.0),
        Some(conclusion) => {
            let callback = job.completed(conclusion, ago(3600), Some(200.0));
            if conclusion == Conclusion::Failure {
                // The sample's counts, with failed tests written to break out of the markup.
                let failed = vec![
                    FailedTest {
                        name: EVIL_TEST.to_owned(),
                        classname: "T<i>".to_owned(),
                        message: EVIL_MESSAGE.to_owned(),
                        stacktrace: Some("</pre><script>alert(3)</script>".to_owned()),
                        duration_s: Some(1.5),
                    },
                    FailedTest {
                        name: "test_plain".to_owned(),
                        classname: "T".to_owned(),
                        message: "boom".to_owned(),
                        stacktrace: None,
                        duration_s: Some(0.5),
                    },
                ];
                callback.with_tests(sample::completed().test_results.unwrap(), failed)
            } else {
                Callback {
                    test_results: Some(sample::all_passed(10)),
                    ..callback
                }
            }
        }
    };
    callback
        .with_environment(sample::environment())
        .with_artifact_url(job.artifact_url(check_run))
        .to_json()
}

fn seed() -> Vec<Vec<Value>> {
    vec![
        vec![
            callback(XPU, RepoLevel::L2, PR1, "linux-xpu / build", 5001, 10, None),
            callback(
                XPU,
                RepoLevel::L2,
                PR1,
                "linux-xpu / build",
                5001,
                10,
                Some(Conclusion::Success),
            ),
            callback(
                XPU,
                RepoLevel::L2,
                PR1,
                EVIL_JOB,
                5001,
                11,
                Some(Conclusion::Failure),
            ),
            callback(XPU, RepoLevel::L2, PR1, "linux-xpu / test", 5001, 12, None),
            callback(
                ASCEND,
                RepoLevel::L3,
                PR1,
                "test",
                7001,
                70,
                Some(Conclusion::Success),
            ),
        ],
        // A later second, so PR 910002 is the newest row.
        vec![
            callback(
                XPU,
                RepoLevel::L2,
                PR2,
                "linux-xpu / build",
                5002,
                20,
                Some(Conclusion::Success),
            ),
            callback(ASCEND, RepoLevel::L3, PR2, "lint", 7002, 71, None),
        ],
    ]
}

async fn seeded() -> SeededViews {
    seed_views("pages", &seed(), &[aged_callback(OLD)])
        .await
        .unwrap()
}

/// A page as fetched: status, headers, body.
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

async fn fetch(query: &TestQuery, path: &str) -> Fetched {
    let response = query
        .client
        .get(format!("{}{path}", query.base_url))
        .send()
        .await
        .unwrap();
    Fetched {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

/// A page that answered 200 as HTML with the security headers; its body.
async fn page(query: &TestQuery, path: &str) -> String {
    let page = fetch(query, path).await;
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    assert!(
        page.header("content-type").starts_with("text/html"),
        "{path}"
    );
    assert_security_headers(&page, path);
    assert_safe_markup(&page.body, path);
    page.body
}

fn assert_security_headers(page: &Fetched, path: &str) {
    let csp = page.header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "style-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{path}: CSP {csp:?}");
    }
    assert!(!csp.contains("script-src"), "{path}: no script is allowed");
    assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
    assert_eq!(page.header("referrer-policy"), "no-referrer", "{path}");
}

/// No script or injected element in the page, and every link https (with `rel`) or on this site.
fn assert_safe_markup(body: &str, path: &str) {
    let lower = body.to_ascii_lowercase();
    for raw in ["<script", "<img", "<b>", "<i>", "javascript:"] {
        assert!(!lower.contains(raw), "{path}: raw {raw:?} in the page");
    }
    for tag in anchor_tags(body) {
        let href = attribute(tag, "href").unwrap_or_else(|| panic!("{path}: {tag} has no href"));
        if href.starts_with("https://") {
            assert!(
                tag.contains(r#"rel="noopener noreferrer""#),
                "{path}: external link without rel: {tag}"
            );
        } else {
            let site_relative = href.starts_with('/') && !href.starts_with("//");
            assert!(
                site_relative || href.starts_with('#'),
                "{path}: link neither https nor on this site: {tag}"
            );
        }
    }
}

/// Every `<a ...>` opening tag of `body`.
fn anchor_tags(body: &str) -> Vec<&str> {
    let mut tags = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("<a ") {
        let tag = &rest[start..];
        let end = tag.find('>').unwrap();
        tags.push(&tag[..=end]);
        rest = &tag[end..];
    }
    tags
}

/// The value of `name="..."` in `tag`.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')?;
    Some(&tag[start..start + end])
}

#[tokio::test]
async fn summary_page_lists_backends_with_fractions_states_and_freshness() {
    let seeded = seeded().await;
    let body = page(&seeded.query, "/oot?window=7d").await;
    for text in [XPU, ASCEND, OLD] {
        assert!(body.contains(text), "{text} missing");
    }
    // Worst first: the silent backend, then 2/3, then 1/1.
    let at = |text: &str| body.find(text).unwrap();
    assert!(at(OLD) < at(XPU) && at(XPU) < at(ASCEND));
    assert!(body.contains("2/3") && body.contains("66.7%"), "{body}");
    assert!(body.contains("1/1") && body.contains("100.0%"));
    assert!(body.contains("no results"), "an empty rate is not 100%");
    assert!(body.contains("no result for 10 days"));
    assert!(body.contains("data as of <time datetime=\""));
    assert!(body.contains(" UTC\">"), "absolute time as the title");
    assert!(body.contains(r#"href="/oot/intel/torch-xpu-ops?window=7d""#));
    assert!(body.contains(r#"href="/oot?window=24h""#));
    assert!(body.contains(r#"aria-current="page">7d</a>"#));
    assert!(body.contains(r#"<link rel="stylesheet" href="/static/oot.css">"#));

    // 30 days: the old job is in the window, 0/1.
    let month = page(&seeded.query, "/oot?window=30d").await;
    assert!(month.contains("0/1"));
}

#[tokio::test]
async fn backend_page_shows_header_matrix_drill_down_links_and_pages() {
    let seeded = seeded().await;
    let body = page(&seeded.query, &format!("/oot/{XPU}?window=7d")).await;
    assert!(body.contains("<h1>intel/torch-xpu-ops"));
    assert!(body.contains("L2"));
    assert!(body.contains("2/3") && body.contains("66.7%"), "pass rate");
    assert!(body.contains("0/3"), "timeout rate");
    assert!(body.contains("✔ success") && body.contains("✘ failure"));
    assert!(body.contains("● running"));
    assert!(body.contains(&format!("pytorch/pytorch#{PR1}")));
    assert!(body.contains(&format!("pytorch/pytorch#{PR2}")));
    assert!(
        body.find(&format!("#{PR2}")).unwrap() < body.find(&format!("#{PR1}")).unwrap(),
        "newest row first"
    );
    assert!(body.contains(&format!(
        r#"<a href="https://github.com/{XPU}/actions/runs/5001" rel="noopener noreferrer">run</a>"#
    )));
    assert!(body.contains(&format!(
        r#"href="https://github.com/{XPU}/actions/runs/5001/artifacts/11" rel="noopener noreferrer""#
    )));
    assert!(body.contains(&format!(
        r#"href="/pr/{PR1}?upstream_repo=pytorch%2Fpytorch&amp;window=7d""#
    )));
    // The drill-down, escaped.
    assert!(body.contains(r#"id="failure-0""#));
    assert!(body.contains(r##"href="#failure-0""##));
    assert!(body.contains(EVIL_JOB_ESCAPED));
    assert!(body.contains("test_&lt;b&gt;bold&lt;/b&gt;"));
    assert!(body.contains(EVIL_MESSAGE_ESCAPED));
    assert!(body.contains("&lt;/pre&gt;&lt;script&gt;alert(3)&lt;/script&gt;"));
    assert!(body.contains("2 failed tests reported"));
    assert!(body.contains("<time datetime="));

    // Pagination as plain links.
    let first = page(&seeded.query, &format!("/oot/{XPU}?window=7d&per_page=1")).await;
    assert!(first.contains(" page 1 "));
    assert!(first.contains(&format!(
        r#"rel="next" href="/oot/{XPU}?window=7d&amp;page=2&amp;per_page=1""#
    )));
    let second = page(
        &seeded.query,
        &format!("/oot/{XPU}?window=7d&page=2&per_page=1"),
    )
    .await;
    assert!(second.contains(" page 2 "));
    assert!(!second.contains(r#"rel="next""#), "the last page");
    assert!(second.contains(r#"rel="prev""#));

    let empty = page(&seeded.query, "/oot/nobody/nothing").await;
    assert!(empty.contains("no results"));
    assert!(empty.contains("No job of this backend in the window."));
}

#[tokio::test]
async fn failing_tests_page_lists_the_backends_failing_tests_escaped_and_is_linked() {
    let seeded = seeded().await;
    let backend = page(&seeded.query, &format!("/oot/{XPU}?window=7d")).await;
    assert!(backend.contains(&format!(r#"href="/oot/{XPU}/tests?window=7d""#)));

    let body = page(&seeded.query, &format!("/oot/{XPU}/tests?window=7d")).await;
    assert!(body.contains(&format!("<h1>Failing tests of {XPU}</h1>")));
    // The failed job's two tests, new (no nightly to compare with), escaped.
    assert!(body.contains("test_&lt;b&gt;bold&lt;/b&gt;"));
    assert!(body.contains("T&lt;i&gt;."));
    assert!(body.contains("test_plain"));
    assert!(body.contains(EVIL_JOB_ESCAPED));
    assert!(body.contains("✘ new"));
    assert!(!body.contains("◆ known") && !body.contains("✔ fixed"));
    assert!(body.contains(r#"<span class="fraction">1/1</span>"#));
    assert!(body.contains(&format!(
        r#"href="/pr/{PR1}?upstream_repo=pytorch%2Fpytorch&amp;window=7d""#
    )));
    assert!(body.contains(r#"aria-current="page">7d</a>"#));

    let none = page(&seeded.query, &format!("/oot/{ASCEND}/tests")).await;
    assert!(none.contains("No test of this backend failed in the window."));

    // Each test links to its history, whose page shows the failure escaped.
    let history = format!("/oot/{XPU}/tests/history?{EVIL_TEST_QUERY}");
    assert!(body.contains(&format!(r#"href="{}""#, history.replace('&', "&amp;"))));
    let body = page(&seeded.query, &history).await;
    assert!(body.contains("test_&lt;b&gt;bold&lt;/b&gt;"));
    assert!(body.contains(EVIL_JOB_ESCAPED));
    assert!(body.contains(EVIL_MESSAGE_ESCAPED));
    assert!(body.contains("✘ failed"));
    assert!(body.contains("none: no nightly of the window reported a result for it."));
    assert!(body.contains(r#"href="https://github.com/intel/torch-xpu-ops/actions/runs/5001" rel="noopener noreferrer""#));
}

#[tokio::test]
async fn pr_page_has_headlines_per_backend_and_escaped_jobs() {
    let seeded = seeded().await;
    let body = page(&seeded.query, &format!("/pr/{PR1}")).await;
    assert!(body.contains(&format!("pytorch/pytorch#{PR1}")));
    assert!(body.contains("2/4 passed, 1 failed, 1 running"), "{body}");
    assert!(body.contains("1/3 passed, 1 failed, 1 running"));
    assert!(body.contains("1/1 passed"));
    assert!(body.contains(r#"href="/oot/ascend/pytorch""#));
    assert!(body.contains(EVIL_JOB_ESCAPED));
    assert!(body.contains("● running") && body.contains("✘ failure"));
    assert!(body.contains(&format!(
        r#"<a href="https://github.com/pytorch/pytorch/pull/{PR1}" rel="noopener noreferrer">"#
    )));
    assert!(body.contains(r#"<form class="upstream" method="get" action="/pr/910001">"#));

    let windowed = page(
        &seeded.query,
        &format!("/pr/{PR2}?upstream_repo=pytorch/pytorch&window=24h"),
    )
    .await;
    assert!(windowed.contains("1/2 passed, 1 running"), "{windowed}");
    assert!(windowed.contains(r#"aria-current="page">24h</a>"#));

    let other = page(
        &seeded.query,
        &format!("/pr/{PR1}?upstream_repo=pytorch/vision"),
    )
    .await;
    assert!(other.contains("no jobs"));
}

#[tokio::test]
async fn release_diff_and_pr_triage_pages_are_escaped_and_say_each_mark_in_words() {
    let triage = crate::release_diff::seeded("pagestriage").await;
    let failing = page(&triage.query, &format!("/oot/{XPU}/tests")).await;
    assert!(failing.contains(&format!(r#"href="/oot/{XPU}/tests/diff""#)));

    let diff = page(&triage.query, &format!("/oot/{XPU}/tests/diff")).await;
    assert!(diff.contains(&format!("<h1>Release diff of {XPU}</h1>")));
    for text in [
        "✘ newly failing",
        "✔ fixed",
        "◆ still failing",
        "? unknown",
        "test_new_&lt;b&gt;f32&lt;/b&gt;",
        r#"<form class="diff" method="get" action="/oot/intel/torch-xpu-ops/tests/diff">"#,
        r#"<select name="old">"#,
        r#"<select name="new">"#,
    ] {
        assert!(diff.contains(text), "{text} not on the diff page");
    }

    // The nightly page (nightly.rs checks its answer): commit by job, the re-run's attempt.
    let backend = page(&triage.query, &format!("/oot/{XPU}")).await;
    assert!(backend.contains(&format!(r#"href="/oot/{XPU}/nightly?window=7d""#)));
    let nightly = page(&triage.query, &format!("/oot/{XPU}/nightly")).await;
    for text in [
        "<h1>Nightly runs of intel/torch-xpu-ops</h1>",
        "3 nightly commits in the window, page 1.",
        "attempt 2",
        "⊘ cancelled",
        "98/100 passed, 2 failed",
    ] {
        assert!(nightly.contains(text), "{text} not on the nightly page");
    }

    let pr = page(&triage.query, &format!("/pr/{}", crate::release_diff::MINE)).await;
    for text in [
        "1 new on this PR, 1 known on nightly, 1 seen on other PRs",
        "new on this PR",
        "known: also failing on nightly",
        "seen failing on 1 other PR (upstream or flaky)",
        r#"<span class="verdict new">"#,
        r#"<span class="verdict known">"#,
        r#"<span class="verdict seen">"#,
        "/tests/history?classname=test.test_ops.TestOps&amp;name=test_mine&amp;window=7d",
    ] {
        assert!(pr.contains(text), "{text} not on the PR page");
    }
}

#[tokio::test]
async fn root_redirects_errors_are_pages_and_the_stylesheet_is_served() {
    let stores = TestStores::unique("pages");
    let query = TestQuery::spawn(query_config(&stores.settings))
        .await
        .unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = no_redirects
        .get(format!("{}/", query.base_url))
        .send()
        .await
        .unwrap();
    assert!(root.status().is_redirection(), "{}", root.status());
    assert_eq!(root.headers()["location"], "/oot");

    let empty = page(&query, "/oot").await;
    assert!(empty.contains("No downstream repo has reported a result yet."));

    for (path, status) in [
        ("/oot?window=%3Cscript%3Ealert(1)%3C/script%3E", 400),
        ("/oot/-intel/x", 400),
        ("/oot/intel/%3Cscript%3E", 400),
        ("/pr/abc", 400),
        ("/pr/1?upstream_repo=%3Cb%3E/x", 400),
    ] {
        let fetched = fetch(&query, path).await;
        assert_eq!(fetched.status, status, "{path}: {}", fetched.body);
        assert!(fetched.header("content-type").starts_with("text/html"));
        assert_security_headers(&fetched, path);
        assert_safe_markup(&fetched.body, path);
        assert!(fetched.body.contains("Bad request"), "{path}");
    }
    let escaped = fetch(&query, "/oot?window=%3Cscript%3Ealert(1)%3C/script%3E").await;
    assert!(escaped
        .body
        .contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    let css = fetch(&query, "/static/oot.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").starts_with("text/css"));
    assert!(css.body.contains("@media"));
    assert_security_headers(&css, "/static/oot.css");
}

// ---------------------------------------------------------------------------------------------
// The same pages in a real browser: headless Chromium driven over WebDriver (chromedriver).
// Ignored by default because it needs Debian's `chromium` and `chromium-driver`
// (`compose/stack.sh install` installs them); run it with
// `cargo test -p oot-e2e --test e2e -- --ignored pages::`. It fails, never skips, without them.

/// Window sizes the screenshots are taken at: a laptop and a phone.
const VIEWPORTS: [(&str, u32, u32); 2] = [("desktop", 1280, 800), ("phone", 390, 844)];

/// `target/screenshots/`, beside the test binary's profile directory (the shared target dir).
fn screenshot_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/e2e-<hash>
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A chromedriver on a free loopback port, killed when dropped.
struct ChromeDriver {
    url: String,
    _process: tokio::process::Child,
}

impl ChromeDriver {
    async fn start() -> ChromeDriver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = tokio::process::Command::new("chromedriver")
            .args([&format!("--port={port}"), "--allowed-ips=127.0.0.1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver did not start ({e}); install Debian's chromium and \
                     chromium-driver (compose/stack.sh install)"
                )
            });
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        let client = reqwest::Client::new();
        eventually(Duration::from_secs(20), "chromedriver is ready", || {
            let request = client.get(&status).send();
            async move {
                match request.await {
                    Ok(response) => response
                        .json::<Value>()
                        .await
                        .is_ok_and(|s| s["value"]["ready"] == true),
                    Err(_) => false,
                }
            }
        })
        .await
        .unwrap();
        ChromeDriver {
            url,
            _process: process,
        }
    }

    /// A headless Chromium session with a fresh profile and no traffic of its own.
    async fn session(&self, profile: &std::path::Path) -> fantoccini::Client {
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({"binary": "/usr/bin/chromium", "args": args}),
        );
        fantoccini::ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap()
    }
}

/// One page in the browser: what its title must be, the texts it must show (as text), and
/// the element scrolled into view for the screenshot (the top of the page when none).
struct BrowserPage {
    name: &'static str,
    path: String,
    title: String,
    shows: &'static [&'static str],
    scroll_to: Option<&'static str>,
}

/// Loads each page at each viewport, checks that no script ran and that the page fits the
/// viewport's width (only the matrix scrolls sideways), and saves a screenshot.
async fn check_in_browser(
    client: &fantoccini::Client,
    base_url: &str,
    pages: &[BrowserPage],
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let dir = screenshot_dir();
    let mut saved = Vec::new();
    for (viewport, width, height) in VIEWPORTS {
        client.set_window_size(width, height).await?;
        for page in pages {
            client.goto(&format!("{base_url}{}", page.path)).await?;
            let what = format!("{} ({viewport})", page.name);
            anyhow::ensure!(
                client.get_alert_text().await.is_err(),
                "{what}: an alert is open: a script ran"
            );
            let title = client.title().await?;
            anyhow::ensure!(title == page.title, "{what}: title {title:?}");
            let facts = client
                .execute(
                    "return {scripts: document.scripts.length, \
                             text: document.body.innerText, \
                             overflow: document.documentElement.scrollWidth - window.innerWidth, \
                             styled: getComputedStyle(document.body).marginTop};",
                    vec![],
                )
                .await?;
            anyhow::ensure!(facts["scripts"] == 0, "{what}: a script element: {facts}");
            let text = facts["text"].as_str().unwrap_or("");
            for shown in page.shows {
                anyhow::ensure!(text.contains(shown), "{what}: {shown:?} not shown as text");
            }
            anyhow::ensure!(
                facts["styled"] == "0px",
                "{what}: the stylesheet did not apply: {facts}"
            );
            anyhow::ensure!(
                facts["overflow"].as_i64().is_some_and(|o| o <= 0),
                "{what}: the page is wider than the viewport: {facts}"
            );
            if let Some(selector) = page.scroll_to {
                let found = client
                    .execute(
                        "const e = document.querySelector(arguments[0]); \
                         if (e) { e.scrollIntoView(); } return e !== null;",
                        vec![json!(selector)],
                    )
                    .await?;
                anyhow::ensure!(found == true, "{what}: no {selector} to scroll to");
            }
            let png = client.screenshot().await?;
            let file = dir.join(format!("{}-{viewport}.png", page.name));
            std::fs::write(&file, png)?;
            saved.push(file);
        }
    }
    Ok(saved)
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored (compose/test.sh does)"]
async fn pages_in_headless_chromium_run_no_script_and_fit_a_phone() {
    let seeded = seeded().await;
    let triage = crate::release_diff::seeded("pageschromium").await;
    let driver = ChromeDriver::start().await;
    let profile = std::env::temp_dir().join(oot_e2e::unique_name("oot-chromium-profile"));
    let client = driver.session(&profile).await;
    let pages = [
        BrowserPage {
            name: "summary",
            path: "/oot?window=7d".to_owned(),
            title: "Summary · OOT HUD".to_owned(),
            shows: &["no results"],
            scroll_to: None,
        },
        BrowserPage {
            name: "backend",
            path: format!("/oot/{XPU}?window=7d"),
            title: format!("{XPU} · OOT HUD"),
            shows: &[EVIL_JOB],
            scroll_to: None,
        },
        BrowserPage {
            name: "failing-tests",
            path: format!("/oot/{XPU}/tests?window=7d"),
            title: format!("Failing tests · {XPU} · OOT HUD"),
            shows: &[EVIL_TEST],
            scroll_to: None,
        },
        BrowserPage {
            name: "test-history",
            path: format!("/oot/{XPU}/tests/history?{EVIL_TEST_QUERY}"),
            title: format!("{EVIL_TEST} · {XPU} · OOT HUD"),
            shows: &[EVIL_TEST],
            scroll_to: None,
        },
        BrowserPage {
            name: "pr",
            path: format!("/pr/{PR1}"),
            title: format!("pytorch/pytorch#{PR1} · OOT HUD"),
            shows: &[EVIL_JOB],
            scroll_to: None,
        },
    ];
    // The triage story: the release diff, and a PR whose failing tests get each verdict.
    let triage_pages = [
        BrowserPage {
            name: "release-diff",
            path: format!("/oot/{XPU}/tests/diff"),
            title: format!("Release diff · {XPU} · OOT HUD"),
            shows: &[
                crate::release_diff::NEW_TEST,
                "✘ newly failing",
                "✔ fixed",
                "◆ still failing",
                "? unknown",
            ],
            scroll_to: None,
        },
        BrowserPage {
            name: "release-diff-tables",
            path: format!("/oot/{XPU}/tests/diff"),
            title: format!("Release diff · {XPU} · OOT HUD"),
            shows: &["Nightlies compared", "test_fixed", "test_lost"],
            scroll_to: Some("section.diff"),
        },
        BrowserPage {
            name: "nightly",
            path: format!("/oot/{XPU}/nightly?window=7d"),
            title: format!("Nightlies · {XPU} · OOT HUD"),
            shows: &[
                "Nightly runs of intel/torch-xpu-ops",
                "3 nightly commits in the window",
                "attempt 2",
            ],
            scroll_to: None,
        },
        BrowserPage {
            name: "pr-triage",
            path: format!("/pr/{}", crate::release_diff::MINE),
            title: format!("pytorch/pytorch#{} · OOT HUD", crate::release_diff::MINE),
            shows: &[
                "new on this PR",
                "known: also failing on nightly",
                "seen failing on 1 other PR (upstream or flaky)",
            ],
            scroll_to: Some("table.triage"),
        },
    ];
    let mut result = check_in_browser(&client, &seeded.query.base_url, &pages).await;
    if let Ok(saved) = &mut result {
        match check_in_browser(&client, &triage.query.base_url, &triage_pages).await {
            Ok(more) => saved.extend(more),
            Err(error) => result = Err(error),
        }
    }
    // Close the session (and its Chromium) whatever the outcome, then report it.
    let _ = client.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    let saved = result.unwrap();
    eprintln!("screenshots: {saved:?}");
    assert_eq!(
        saved.len(),
        (pages.len() + triage_pages.len()) * VIEWPORTS.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Trends (docs/contract.md §14.9): the charts are SVG drawn on the server, on the trends story
// (tests/e2e/trends.rs: runs on five days, the last 40 days ago).

#[tokio::test]
async fn trends_pages_are_safe_and_say_their_numbers_as_text() {
    let (seeded, _, _) = crate::trends::seeded("pagestrends").await;
    let backend = crate::trends::BACKEND;
    let section = page(&seeded.query, &format!("/oot/{backend}")).await;
    let quarter = page(&seeded.query, &format!("/oot/{backend}/trends?days=90")).await;
    let summary = page(&seeded.query, "/oot").await;
    for (name, body, charts) in [
        ("backend", &section, 4),
        ("trends", &quarter, 4),
        ("summary", &summary, 0),
    ] {
        assert_eq!(
            body.matches(r#"<svg class="chart""#).count(),
            charts,
            "{name}"
        );
        assert!(!body.contains(" style="), "{name}: an inline style");
        // Every chart is an image named in words, with its numbers in a table under it.
        assert_eq!(
            body.matches(r#"role="img""#).count(),
            body.matches("<svg").count(),
            "{name}"
        );
        assert_eq!(
            body.matches(r#"<table class="chart-numbers">"#).count(),
            charts,
            "{name}"
        );
    }
    assert!(section.contains("Trends, last 30 days"));
    assert!(quarter.contains("<h1>Trends of acme/npu-trends</h1>"));
    assert!(quarter.contains("Last 90 days, in all"));
    assert!(summary.contains(r#"<svg class="sparkline""#));
    assert!(summary.contains(&format!(
        r#"<a class="sparkline" href="/oot/{backend}/trends?days=30">"#
    )));
    let bad = fetch(
        &seeded.query,
        &format!("/oot/{backend}/trends?days=%3Cscript%3E"),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_security_headers(&bad, "trends?days=<script>");
    assert_safe_markup(&bad.body, "trends?days=<script>");
    assert!(bad.body.contains("Parameter days"), "{}", bad.body);
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; run with --ignored (compose/test.sh does)"]
async fn trends_charts_in_headless_chromium_at_laptop_and_phone_size() {
    let (seeded, _, _) = crate::trends::seeded("pageschromiumtrends").await;
    let backend = crate::trends::BACKEND;
    let driver = ChromeDriver::start().await;
    let profile = std::env::temp_dir().join(oot_e2e::unique_name("oot-chromium-profile"));
    let client = driver.session(&profile).await;
    let pages = [
        BrowserPage {
            name: "trends-section",
            path: format!("/oot/{backend}"),
            title: format!("{backend} · OOT HUD"),
            shows: &[
                "Trends, last 30 days",
                "Pass rate",
                "Failures and timeouts",
                "Queue time",
                "Execution time",
            ],
            scroll_to: Some("section.trends"),
        },
        BrowserPage {
            name: "trends-90-days",
            path: format!("/oot/{backend}/trends?days=90"),
            title: format!("Trends · {backend} · OOT HUD"),
            shows: &[
                "Trends of acme/npu-trends",
                "Last 90 days, in all",
                "Execution time",
            ],
            scroll_to: None,
        },
        BrowserPage {
            name: "summary-sparklines",
            path: "/oot?window=30d".to_owned(),
            title: "Summary · OOT HUD".to_owned(),
            shows: &[crate::trends::BACKEND],
            scroll_to: None,
        },
    ];
    let result = async {
        let mut saved = check_in_browser(&client, &seeded.query.base_url, &pages).await?;
        // Beyond what every page is checked for: the charts are drawn (a size, inside the
        // viewport), coloured by the stylesheet (classes, under the CSP), no element carries a
        // style, and each bar or point has its tooltip.
        for (viewport, width, height) in VIEWPORTS {
            client.set_window_size(width, height).await?;
            for path in [format!("/oot/{backend}"), format!("/oot/{backend}/trends?days=90")] {
                client.goto(&format!("{}{path}", seeded.query.base_url)).await?;
                let what = format!("{path} ({viewport})");
                let facts = client
                    .execute(
                        "const charts = [...document.querySelectorAll('svg.chart')]; \
                         const pass = document.querySelector('svg.chart rect.s-pass'); \
                         return {charts: charts.length, \
                                 drawn: charts.every(c => { const r = c.getBoundingClientRect(); \
                                     return r.width > 100 && r.height > 30 && r.right <= window.innerWidth; }), \
                                 styled: document.querySelectorAll('[style]').length, \
                                 titles: document.querySelectorAll('svg.chart title').length, \
                                 fill: pass ? getComputedStyle(pass).fill : null};",
                        vec![],
                    )
                    .await?;
                anyhow::ensure!(facts["charts"] == 4, "{what}: {facts}");
                anyhow::ensure!(facts["drawn"] == true, "{what}: a chart not drawn in the viewport: {facts}");
                anyhow::ensure!(facts["styled"] == 0, "{what}: an element with a style: {facts}");
                anyhow::ensure!(facts["titles"].as_u64().is_some_and(|t| t > 4), "{what}: {facts}");
                anyhow::ensure!(facts["fill"] == "rgb(26, 127, 55)", "{what}: the bars are not green: {facts}");
            }
        }
        // The numbers under a chart, opened, on a phone.
        client.set_window_size(390, 844).await?;
        client
            .goto(&format!("{}/oot/{backend}/trends?days=30", seeded.query.base_url))
            .await?;
        let fits = client
            .execute(
                "const d = document.querySelector('details.chart-numbers'); d.open = true; \
                 d.scrollIntoView(); \
                 return document.documentElement.scrollWidth - window.innerWidth <= 0 \
                     && d.querySelectorAll('tbody tr').length === 30;",
                vec![],
            )
            .await?;
        anyhow::ensure!(fits == true, "the opened numbers do not fit a phone");
        let file = screenshot_dir().join("trends-numbers-phone.png");
        std::fs::write(&file, client.screenshot().await?)?;
        saved.push(file);
        anyhow::Ok(saved)
    }
    .await;
    let _ = client.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    let saved = result.unwrap();
    eprintln!("screenshots: {saved:?}");
    assert_eq!(saved.len(), pages.len() * VIEWPORTS.len() + 1);
}
