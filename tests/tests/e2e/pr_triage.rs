//! "Is it mine?" on the PR view (issue 11, docs/contract.md §12.8, §12.15) against the real
//! stack: callbacks go in through ingest (its clock moved back so each job is first seen at its
//! hour), the projector writes the jobs and their failed-test rows, and the query service answers
//! `/api/oot/pr/{number}` and `/pr/{number}`.
//!
//! One slot (`xpu-ci / linux-xpu / test`) of `intel/torch-xpu-ops`, and one job of another slot,
//! every job reporting counts its failed list covers:
//!
//! | first seen | job | failed tests |
//! |---|---|---|
//! | 8 days ago | PR 900306 | `test_mine` (seen in a 30-day window only) |
//! | 30 h ago | nightly (commit 1…) | `test_known` |
//! | 20 h ago | PR 900302 | `test_elsewhere` |
//! | 15 h ago | PR 900304 | `test_stale`; re-reported once all is projected, with `test_elsewhere` instead: counted at its latest version only |
//! | 12 h ago | PR 900302, attempt 2 | `test_elsewhere` (the same PR: counted once) |
//! | 11 h ago | PR 900305, slot `linux-xpu / build` | `test_mine` (another slot: not counted) |
//! | 10 h ago | PR 900301 (the PR judged) | `test_mine`, `test_known`, `test_elsewhere`, `test_stale` |
//! | 5 h ago | PR 900303 | none |
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::time::Duration;

use oot_contract::RepoLevel;
use oot_e2e::callbacks::{repo, upstream_pr, Job, Trigger};
use oot_e2e::story::{completed_listing, seed, Seeded};
use oot_e2e::{eventually, TestQuery};
use serde_json::Value;

const XPU: &str = "intel/torch-xpu-ops";
const WORKFLOW: &str = "xpu-ci";
const JOB: &str = "linux-xpu / test";
const CLASS: &str = "test.test_ops.TestOps";
const HOUR: i64 = 3_600;
const MINE: u64 = 900_301;
const OTHER: u64 = 900_302;
const GREEN: u64 = 900_303;
const RE_REPORTED: u64 = 900_304;
const OTHER_SLOT: u64 = 900_305;
const LONG_AGO: u64 = 900_306;
const DAY: i64 = 24 * HOUR;

struct Seen {
    ago: i64,
    job: Job,
    failed: Vec<&'static str>,
}

fn job(trigger: Trigger, delivery: &str, run: u64) -> Job {
    job_on(XPU, trigger, delivery, run)
}

fn job_on(backend: &str, trigger: Trigger, delivery: &str, run: u64) -> Job {
    Job {
        repo: repo(backend),
        level: RepoLevel::L2,
        trigger,
        delivery_id: delivery.to_owned(),
        workflow: WORKFLOW.to_owned(),
        job_name: JOB.to_owned(),
        run_id: run,
        run_attempt: 1,
        check_run_id: run * 10,
    }
}

fn story() -> Vec<Seen> {
    let nightly = Trigger::Nightly {
        upstream: repo("pytorch/pytorch"),
        head_sha: "1".repeat(40),
    };
    let seen = |ago, job, failed: &[&'static str]| Seen {
        ago,
        job,
        failed: failed.to_vec(),
    };
    let re_reported = job(upstream_pr(RE_REPORTED), "d-304", 304);
    let second_attempt = Job {
        run_attempt: 2,
        check_run_id: 3_021,
        ..job(upstream_pr(OTHER), "d-302", 302)
    };
    let other_slot = Job {
        job_name: "linux-xpu / build".to_owned(),
        ..job(upstream_pr(OTHER_SLOT), "d-305", 305)
    };
    vec![
        seen(
            8 * DAY,
            job(upstream_pr(LONG_AGO), "d-306", 306),
            &["test_mine"],
        ),
        seen(30 * HOUR, job(nightly, "nightly-1", 101), &["test_known"]),
        seen(
            20 * HOUR,
            job(upstream_pr(OTHER), "d-302", 302),
            &["test_elsewhere"],
        ),
        seen(15 * HOUR, re_reported, &["test_stale"]),
        seen(12 * HOUR, second_attempt, &["test_elsewhere"]),
        seen(11 * HOUR, other_slot, &["test_mine"]),
        seen(
            10 * HOUR,
            job(upstream_pr(MINE), "d-301", 301),
            &["test_mine", "test_known", "test_elsewhere", "test_stale"],
        ),
        seen(5 * HOUR, job(upstream_pr(GREEN), "d-303", 303), &[]),
    ]
}

/// The completed callback of `seen`, at ingest's time `at`.
fn callback(seen: &Seen, at: time::OffsetDateTime) -> Value {
    let failed: Vec<(&str, &str)> = seen.failed.iter().map(|name| (CLASS, *name)).collect();
    completed_listing(&seen.job, None, &failed, at)
}

/// `story` posted through ingest, each job at its time (in the story's order), projected, and a
/// query service.
async fn seed_story(prefix: &str, story: &[Seen]) -> Seeded {
    seed(
        prefix,
        story,
        |seen| seen.ago,
        |seen, at| callback(seen, at).to_string(),
    )
    .await
}

/// The story posted through ingest, each job at its time, projected, and a query service; then
/// PR 900304's job re-reported with another failed list, so the failed-test table holds a row
/// of its older version (`test_stale`) that its latest does not list.
async fn seeded(prefix: &str) -> Seeded {
    let story = story();
    let seeded = seed_story(prefix, &story).await;
    let re_report = Seen {
        ago: 0,
        job: job(upstream_pr(RE_REPORTED), "d-304", 304),
        failed: vec!["test_elsewhere"],
    };
    let at = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let response = seeded
        .ingest
        .post_callback(callback(&re_report, at).to_string())
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let projected = story.len() as u64 + 1;
    eventually(
        Duration::from_secs(60),
        "the re-report is projected",
        || async { seeded.projector.metrics.events.get() >= projected },
    )
    .await
    .unwrap();
    seeded
}

async fn pr_view(query: &TestQuery, number: u64, params: &str) -> Value {
    let path = format!("/api/oot/pr/{number}{params}");
    let (status, _, body) = query.get(&path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn only_backend(view: &Value) -> &Value {
    let backends = view["backends"].as_array().unwrap();
    assert_eq!(backends.len(), 1, "{view}");
    assert_eq!(backends[0]["downstream_repo"], XPU);
    &backends[0]
}

fn verdicts(triage: &Value) -> Vec<(String, String, u64)> {
    triage["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["test"]["classname"], CLASS);
            assert_eq!(t["slot"]["job_name"], JOB, "only the PR's one slot failed");
            (
                t["test"]["name"].as_str().unwrap().to_owned(),
                t["verdict"].as_str().unwrap().to_owned(),
                t["count"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[tokio::test]
async fn each_failing_test_of_a_pr_is_marked_new_known_or_seen_on_other_prs() {
    let seeded = seeded("prtriage").await;
    let query = &seeded.query;
    let view = pr_view(query, MINE, "").await;
    // The jobs view's fields are as they were.
    assert_eq!(view["headline"], "0/1 passed, 1 failed");
    assert_eq!(view["window"], Value::Null);
    let backend = only_backend(&view);
    assert_eq!(backend["headline"], "0/1 passed, 1 failed");
    assert_eq!(backend["jobs"].as_array().unwrap().len(), 1);

    let triage = &backend["triage"];
    // test_elsewhere: PR 900302 (two attempts, one PR) and PR 900304 at its latest version;
    // test_stale only 900304's older version listed; test_mine's other failures are of another
    // slot, or before the window.
    let expected = [
        ("test_mine", "new_on_this_pr", 0),
        ("test_stale", "new_on_this_pr", 0),
        ("test_elsewhere", "seen_on_other_prs", 2),
        ("test_known", "known_on_nightly", 0),
    ]
    .map(|(n, v, c)| (n.to_owned(), v.to_owned(), c));
    assert_eq!(verdicts(triage), expected, "{triage}");
    let headline = "2 new on this PR, 1 known on nightly, 1 seen on other PRs";
    assert_eq!(triage["headline"], headline);
    assert_eq!(
        triage["counts"],
        serde_json::json!({"new_on_this_pr": 2, "seen_on_other_prs": 1, "known_on_nightly": 1})
    );
    assert_eq!(triage["tests_not_triaged"], 0);
    let known = &triage["tests"][3];
    assert_eq!(known["baseline"]["upstream_sha"], "1".repeat(40), "{known}");
    assert_eq!(known["job"]["run_id"], "301");

    let summary = &view["triage"];
    assert_eq!(summary["other_prs_window"], "7d");
    assert_eq!(summary["tests_asked_per_backend"], 200);
    assert_eq!(summary["headline"], headline);

    // The other PRs are 12 to 20 hours old: still seen in a day's window, which the JSON names.
    let narrow = pr_view(query, MINE, "?other_prs_window=24h").await;
    assert_eq!(narrow["triage"]["other_prs_window"], "24h");
    assert_eq!(verdicts(&only_backend(&narrow)["triage"]), expected);
    // A month's window reaches the PR of 8 days ago.
    let month = pr_view(query, MINE, "?other_prs_window=30d").await;
    let expected_in_a_month = [
        ("test_stale", "new_on_this_pr", 0),
        ("test_elsewhere", "seen_on_other_prs", 2),
        ("test_mine", "seen_on_other_prs", 1),
        ("test_known", "known_on_nightly", 0),
    ]
    .map(|(n, v, c)| (n.to_owned(), v.to_owned(), c));
    assert_eq!(
        verdicts(&only_backend(&month)["triage"]),
        expected_in_a_month
    );

    // A PR whose jobs passed: an empty triage.
    let green = pr_view(query, GREEN, "").await;
    let triage = &only_backend(&green)["triage"];
    assert_eq!(triage["tests"], serde_json::json!([]));
    assert_eq!(triage["headline"], "no failing tests");
    assert_eq!(green["triage"]["headline"], "no failing tests");

    // A bad window is named.
    let (status, _, body) = query
        .get(&format!("/api/oot/pr/{MINE}?other_prs_window=2d"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("other_prs_window"), "{body}");

    // The page says each verdict in words.
    let page = query
        .client
        .get(format!("{}/pr/{MINE}", query.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for words in [
        headline,
        "new on this PR",
        "known: also failing on nightly",
        "seen failing on 2 other PRs (upstream or flaky)",
        "test_mine",
        "(other PRs: last 7d)",
    ] {
        assert!(page.contains(words), "{words:?} not on the page");
    }
}

/// A PR whose jobs ran days apart: each slot's baseline is the last nightly before its own job,
/// found in the day before it or, failing that, in the lookback before it (not before the PR's
/// first job), and a nightly after a slot's job is no baseline.
///
/// | first seen | job | failed tests |
/// |---|---|---|
/// | 100 h ago | nightly A1, slot `test` | `test_a` |
/// | 75 h ago | nightly B1, slot `build` | `test_b` |
/// | 72 h ago | PR 900401, slot `build` | `test_b` |
/// | 60 h ago | nightly A2, slot `test` | none |
/// | 30 h ago | nightly B2, slot `build` | none |
/// | 4 h ago | PR 900401, slot `test` | `test_a` |
#[tokio::test]
async fn each_slot_of_a_pr_spread_over_days_is_judged_against_the_nightly_before_its_own_job() {
    const SPREAD: u64 = 900_401;
    const BUILD: &str = "linux-xpu / build";
    let nightly = |sha: char, delivery: &str, run: u64, job_name: &str| Job {
        job_name: job_name.to_owned(),
        ..job(
            Trigger::Nightly {
                upstream: repo("pytorch/pytorch"),
                head_sha: sha.to_string().repeat(40),
            },
            delivery,
            run,
        )
    };
    let in_build = |j: Job| Job {
        job_name: BUILD.to_owned(),
        ..j
    };
    let seen = |ago, job, failed: &[&'static str]| Seen {
        ago,
        job,
        failed: failed.to_vec(),
    };
    let story = vec![
        seen(100 * HOUR, nightly('a', "n-a1", 401, JOB), &["test_a"]),
        seen(75 * HOUR, nightly('b', "n-b1", 402, BUILD), &["test_b"]),
        seen(
            72 * HOUR,
            in_build(job(upstream_pr(SPREAD), "d-401", 411)),
            &["test_b"],
        ),
        seen(60 * HOUR, nightly('c', "n-a2", 403, JOB), &[]),
        seen(30 * HOUR, nightly('d', "n-b2", 404, BUILD), &[]),
        seen(
            4 * HOUR,
            job(upstream_pr(SPREAD), "d-401", 412),
            &["test_a"],
        ),
    ];
    let seeded = seed_story("prspread", &story).await;
    let view = pr_view(&seeded.query, SPREAD, "").await;
    let backend = only_backend(&view);
    assert_eq!(backend["jobs"].as_array().unwrap().len(), 2, "{backend}");
    let tests = backend["triage"]["tests"].as_array().unwrap();
    let judged: Vec<(&str, &str, &str, &str)> = tests
        .iter()
        .map(|t| {
            (
                t["test"]["name"].as_str().unwrap(),
                t["slot"]["job_name"].as_str().unwrap(),
                t["verdict"].as_str().unwrap(),
                t["baseline"]["upstream_sha"].as_str().unwrap_or("none"),
            )
        })
        .collect();
    let a2 = "c".repeat(40);
    let b1 = "b".repeat(40);
    assert_eq!(
        judged,
        [
            // A2 (56 hours before the job, in the lookback) passed it; A1 is older.
            ("test_a", JOB, "new_on_this_pr", a2.as_str()),
            // B1, 3 hours before the job; B2 came after it.
            ("test_b", BUILD, "known_on_nightly", b1.as_str()),
        ],
        "{backend}"
    );
}

/// Posts `seen` now through the seeded stack's ingest and waits until the projector has
/// projected `projected` events in all.
async fn post_now(seeded: &Seeded, seen: &Seen, projected: u64) {
    let at = time::OffsetDateTime::now_utc();
    let response = seeded
        .ingest
        .post_callback(callback(seen, at).to_string())
        .await;
    assert_eq!(response.status().as_u16(), 202);
    eventually(
        Duration::from_secs(60),
        "the new job is projected",
        || async { seeded.projector.metrics.events.get() >= projected },
    )
    .await
    .unwrap();
}

/// A service keeping the verdicts (docs/contract.md §12.15 "Kept verdicts") serves a backend's
/// verdicts again while the PR's shown jobs there stay the same, with when they were judged,
/// even once another PR fails the test; a new job of the PR on the backend is judged at once,
/// and with it what other PRs did since. A service keeping none sees the other PR at once.
#[tokio::test]
async fn kept_verdicts_are_judged_again_when_the_prs_jobs_on_the_backend_change() {
    let seeded = seeded("prkept").await;
    let mut config = oot_e2e::query_config(&seeded.stores.settings);
    config.pr_triage_fresh_for_s = 600;
    let keeping = TestQuery::spawn(config).await.unwrap();
    let verdict_of = |view: &Value, name: &str| {
        verdicts(&only_backend(view)["triage"])
            .into_iter()
            .find(|(test, ..)| test == name)
            .map(|(_, verdict, _)| verdict)
    };
    let first = pr_view(&keeping, MINE, "").await;
    let judged_at = only_backend(&first)["triage"]["judged_at"].clone();
    assert!(judged_at.is_string(), "{first}");
    assert_eq!(
        verdict_of(&first, "test_mine").as_deref(),
        Some("new_on_this_pr")
    );

    // Another PR fails test_mine in the slot: not this PR's jobs.
    let elsewhere = Seen {
        ago: 0,
        job: job(upstream_pr(900_307), "d-307", 307),
        failed: vec!["test_mine"],
    };
    let projected = story().len() as u64 + 2;
    post_now(&seeded, &elsewhere, projected).await;
    let fresh = pr_view(&seeded.query, MINE, "").await;
    assert_eq!(
        verdict_of(&fresh, "test_mine").as_deref(),
        Some("seen_on_other_prs"),
        "judged per request: {fresh}"
    );
    let kept = pr_view(&keeping, MINE, "").await;
    assert_eq!(only_backend(&kept)["triage"]["judged_at"], judged_at);
    assert_eq!(
        verdict_of(&kept, "test_mine").as_deref(),
        Some("new_on_this_pr")
    );

    // A new job of the PR on the backend: judged at once, other PRs with it.
    let mine_again = Seen {
        ago: 0,
        job: Job {
            job_name: "linux-xpu / build".to_owned(),
            ..job(upstream_pr(MINE), "d-301", 308)
        },
        failed: vec!["test_fresh"],
    };
    post_now(&seeded, &mine_again, projected + 1).await;
    let judged = pr_view(&keeping, MINE, "").await;
    let names: Vec<String> = only_backend(&judged)["triage"]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["test"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"test_fresh".to_owned()), "{judged}");
    let mine = only_backend(&judged)["triage"]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["test"]["name"] == "test_mine" && t["slot"]["job_name"] == JOB)
        .unwrap()
        .clone();
    assert_eq!(mine["verdict"], "seen_on_other_prs", "{judged}");
}

/// A PR's backends are judged together (each step one query for all of them), each against its
/// own nightlies and its own other PRs: `ascend/pytorch` runs the same slot for the PR and fails
/// the same tests, but there the nightly failed `test_elsewhere` (not `test_known`) and another
/// PR failed `test_mine`. Were one backend's rows counted for the other, `test_known` would be
/// known and `test_mine` seen elsewhere on both.
///
/// | first seen | backend | job | failed tests |
/// |---|---|---|---|
/// | (the first test's story, on `intel/torch-xpu-ops`, without the re-report) | | | |
/// | 30 h ago | `ascend/pytorch` | nightly (commit 1…) | `test_elsewhere` |
/// | 20 h ago | `ascend/pytorch` | PR 900302 | `test_mine` |
/// | 10 h ago | `ascend/pytorch` | PR 900301 (the PR judged) | `test_mine`, `test_known`, `test_elsewhere` |
#[tokio::test]
async fn each_backend_of_a_pr_is_judged_against_its_own_nightlies_and_other_prs() {
    const NPU: &str = "ascend/pytorch";
    let nightly = Trigger::Nightly {
        upstream: repo("pytorch/pytorch"),
        head_sha: "1".repeat(40),
    };
    let mut story = story();
    story.extend([
        Seen {
            ago: 30 * HOUR,
            job: job_on(NPU, nightly, "npu-nightly-1", 501),
            failed: vec!["test_elsewhere"],
        },
        Seen {
            ago: 20 * HOUR,
            job: job_on(NPU, upstream_pr(OTHER), "npu-302", 502),
            failed: vec!["test_mine"],
        },
        Seen {
            ago: 10 * HOUR,
            job: job_on(NPU, upstream_pr(MINE), "npu-301", 503),
            failed: vec!["test_mine", "test_known", "test_elsewhere"],
        },
    ]);
    // In the order they happened: the seeding moves ingest's clock forward only.
    story.sort_by_key(|seen| -seen.ago);
    let seeded = seed_story("prtriage2", &story).await;

    let view = pr_view(&seeded.query, MINE, "").await;
    let backends = view["backends"].as_array().unwrap();
    let of = |backend: &str| {
        let found = backends
            .iter()
            .find(|b| b["downstream_repo"] == backend)
            .unwrap_or_else(|| panic!("{backend} not on the PR view: {view}"));
        let mut judged = verdicts(&found["triage"]);
        judged.sort();
        judged
    };
    let expected = |verdicts: &[(&str, &str, u64)]| {
        let mut expected: Vec<(String, String, u64)> = verdicts
            .iter()
            .map(|&(n, v, c)| (n.to_owned(), v.to_owned(), c))
            .collect();
        expected.sort();
        expected
    };
    assert_eq!(backends.len(), 2, "{view}");
    // Without the re-report PR 900304's job lists test_stale at its latest version.
    assert_eq!(
        of(XPU),
        expected(&[
            ("test_mine", "new_on_this_pr", 0),
            ("test_stale", "seen_on_other_prs", 1),
            ("test_elsewhere", "seen_on_other_prs", 1),
            ("test_known", "known_on_nightly", 0),
        ])
    );
    assert_eq!(
        of(NPU),
        expected(&[
            ("test_mine", "seen_on_other_prs", 1),
            ("test_known", "new_on_this_pr", 0),
            ("test_elsewhere", "known_on_nightly", 0),
        ])
    );
    assert_eq!(
        view["triage"]["headline"],
        "2 new on this PR, 2 known on nightly, 3 seen on other PRs"
    );
}
