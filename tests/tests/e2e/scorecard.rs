//! Readiness (issue 12, docs/contract.md §14) against the real stack: callbacks go in through
//! ingest (its clock moved back, so jobs are first seen weeks ago), the projector keeps the
//! rollup cells with their histograms and the level history, and the query service answers
//! `/api/oot/{org}/{repo}/scorecard`, the summary's readiness and the backend page's section.
//!
//! | backend | level history | the last 14 days |
//! |---|---|---|
//! | `acme/npu-ready` | L1 from 60 to 41 days ago, L2 since 40 days ago | 30 runs: 29 pass, 1 fails; 3,000 s execution + 300 s queue |
//! | `acme/npu-slow` | L3 since 50 days ago | 20 runs, all pass; 11,000 s + 1,000 s (3 h 20 min end to end) |
//!
//! So `npu-ready` is eligible for L3 (40 days at L2, pass rate 29/30, median 3,300 s, no
//! overrun, queue 300 s), and `npu-slow` meets the demotion rule (median and overrun rate over
//! the limits).
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use oot_contract::{Conclusion, RepoLevel};
use oot_e2e::callbacks::{repo, upstream_pr, Job};
use oot_e2e::story::seed;
use serde_json::Value;

const DAY: i64 = 86_400;
const READY: &str = "acme/npu-ready";
const SLOW: &str = "acme/npu-slow";

/// One run: its job, first seen `ago` seconds before now, queued and executed for the given
/// seconds.
struct Run {
    ago: i64,
    job: Job,
    conclusion: Conclusion,
    queue_s: f64,
    execution_s: f64,
}

fn run(backend: &str, level: RepoLevel, n: u64, ago: i64, conclusion: Conclusion) -> Run {
    let (queue_s, execution_s) = if backend == SLOW {
        (1_000.0, 11_000.0)
    } else {
        (300.0, 3_000.0)
    };
    Run {
        ago,
        job: Job {
            repo: repo(backend),
            level,
            trigger: upstream_pr(910_000 + n),
            delivery_id: format!("readiness-{n}"),
            workflow: "npu-ci".to_owned(),
            job_name: "test".to_owned(),
            run_id: 77_000_000 + n,
            run_attempt: 1,
            check_run_id: 88_000_000 + n,
        },
        conclusion,
        queue_s,
        execution_s,
    }
}

fn story() -> Vec<Run> {
    let mut runs = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    for day in [60, 50, 41] {
        runs.push(run(
            READY,
            RepoLevel::L1,
            next(),
            day * DAY,
            Conclusion::Success,
        ));
    }
    runs.push(run(
        READY,
        RepoLevel::L2,
        next(),
        40 * DAY,
        Conclusion::Success,
    ));
    for i in 0..30 {
        let conclusion = if i == 7 {
            Conclusion::Failure
        } else {
            Conclusion::Success
        };
        runs.push(run(
            READY,
            RepoLevel::L2,
            next(),
            (13 * DAY) - i * 9 * 3_600,
            conclusion,
        ));
    }
    runs.push(run(
        SLOW,
        RepoLevel::L3,
        next(),
        50 * DAY,
        Conclusion::Success,
    ));
    for i in 0..20 {
        runs.push(run(
            SLOW,
            RepoLevel::L3,
            next(),
            (6 * DAY) - i * 6 * 3_600,
            Conclusion::Success,
        ));
    }
    runs.sort_by_key(|r| -r.ago);
    runs
}

fn gate<'a>(judgement: &'a Value, name: &str) -> &'a Value {
    judgement["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == name)
        .unwrap_or_else(|| panic!("no gate {name} in {judgement}"))
}

fn rate(gate: &Value) -> (u64, u64) {
    (
        gate["rate"]["numerator"].as_u64().unwrap(),
        gate["rate"]["denominator"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn the_scorecard_judges_each_gate_on_the_rollups_and_the_level_history() {
    // Each run is two callbacks: started (with its queue time) and, its execution time later,
    // completed; ingest's clock is at each one's time.
    let callbacks: Vec<(i64, String)> = story()
        .into_iter()
        .flat_map(|r| {
            let at = |ago: i64| time::OffsetDateTime::now_utc() - time::Duration::seconds(ago);
            let done_ago = r.ago - r.execution_s as i64;
            let started = r
                .job
                .in_progress(at(r.ago), r.queue_s)
                .to_json()
                .to_string();
            let completed = r
                .job
                .completed(r.conclusion, at(done_ago), Some(r.execution_s))
                .to_json()
                .to_string();
            [(r.ago, started), (done_ago, completed)]
        })
        .collect();
    let mut callbacks = callbacks;
    callbacks.sort_by_key(|(ago, _)| -ago);
    let seeded = seed(
        "readiness",
        &callbacks,
        |(ago, _)| *ago,
        |(_, body), _| body.clone(),
    )
    .await;
    let query = &seeded.query;

    let (status, _, ready) = query.get(&format!("/api/oot/{READY}/scorecard")).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["level"]["level"], "L2");
    assert_eq!(ready["level"]["days"], 40, "{}", ready["level"]);
    let promotion = &ready["promotion"];
    assert_eq!(promotion["verdict"], "eligible", "{promotion}");
    assert_eq!(promotion["window_days"], 14);
    assert_eq!(rate(gate(promotion, "pass_rate")), (29, 30));
    assert_eq!(rate(gate(promotion, "timeout_rate")), (0, 30));
    assert_eq!(rate(gate(promotion, "overrun_rate")), (0, 30));
    let p50 = gate(promotion, "e2e_p50")["value"].as_f64().unwrap();
    assert!(
        (2_700.0..=3_600.0).contains(&p50),
        "3,300 s is in (45 min, 1 h]: {p50}"
    );
    let queue = gate(promotion, "queue_average")["value"].as_f64().unwrap();
    assert!((queue - 300.0).abs() < 1e-6, "{queue}");
    assert_eq!(gate(promotion, "days_at_l2")["status"], "pass");
    assert_eq!(ready["demotion"]["verdict"], "not_applicable");
    let levels: Vec<&str> = ready["level_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["L1", "L2"]);
    assert_eq!(ready["thresholds"]["promotion_window_days"], 14);

    let (status, _, slow) = query.get(&format!("/api/oot/{SLOW}/scorecard")).await;
    assert_eq!(status, 200, "{slow}");
    let demotion = &slow["demotion"];
    assert_eq!(demotion["verdict"], "demote", "{demotion}");
    assert_eq!(demotion["window_days"], 7);
    let failed: Vec<&str> = demotion["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(failed, ["e2e_p50", "overrun_rate"], "{demotion}");
    let (over, of) = rate(gate(demotion, "overrun_rate"));
    assert_eq!(over, of, "every run is over 3 h end to end");
    assert!(of >= 20, "the 7-day window's runs: {of}");
    assert_eq!(slow["promotion"]["verdict"], "not_applicable");

    // A backend the stores know nothing of: nothing to judge, not an error.
    let (status, _, nobody) = query.get("/api/oot/acme/nothing/scorecard").await;
    assert_eq!(status, 200, "{nobody}");
    assert_eq!(nobody["promotion"]["verdict"], "not_applicable");
    assert!(nobody["level"].is_null());
    let (status, _, bad) = query.get("/api/oot/acme/no%20such/scorecard").await;
    assert_eq!(status, 400, "{bad}");

    // The summary's column and the backend page's section say the same.
    let (_, _, summary) = query.get("/api/oot/summary?window=30d").await;
    let line = |name: &str| {
        summary["repos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["downstream_repo"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(line(READY)["readiness"]["promotion"], "eligible");
    assert_eq!(line(SLOW)["readiness"]["demotion"], "demote");
    let page = |path: String| {
        let client = query.client.clone();
        let url = format!("{}{path}", query.base_url);
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let backend_page = page(format!("/oot/{READY}")).await;
    assert!(
        backend_page.contains("Readiness (RFC-0054)"),
        "{backend_page}"
    );
    assert!(backend_page.contains("eligible for L3"), "{backend_page}");
    assert!(backend_page.contains("29/30"), "{backend_page}");
    let summary_page = page("/oot".to_owned()).await;
    assert!(
        summary_page.contains("meets the demotion rule"),
        "{summary_page}"
    );
}

#[tokio::test]
async fn migrate_gives_a_cells_table_from_before_the_histograms_their_columns_once() {
    let stores = oot_e2e::TestStores::unique("histograms");
    let s = &stores.settings.clickhouse;
    let client = s.client();
    // The cells table as it was made before the histograms.
    let [cells_ddl, _] = oot_platform::rollup_tables::rollup_ddl(s, "18.16.1");
    let old: String = cells_ddl
        .lines()
        .filter(|line| !line.contains("_buckets"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("queues Int64,", "queues Int64");
    client
        .query(&format!("CREATE DATABASE IF NOT EXISTS {}", s.database))
        .execute()
        .await
        .unwrap();
    client.query(&old).execute().await.unwrap();
    let cells = format!(
        "{}.{}",
        s.database,
        oot_contract::rollup::cells_table(&s.table)
    );
    client
        .query(&format!(
            "INSERT INTO {cells} (downstream_repo, hour, workflow_name, job_name, version, completed) \
             VALUES ('a/b', 3600, 'ci', 'test', 1, 2)"
        ))
        .execute()
        .await
        .unwrap();

    for _ in 0..2 {
        oot_platform::migrate::ensure_clickhouse(&client, s)
            .await
            .unwrap();
    }
    let columns: Vec<String> = client
        .query("SELECT name FROM system.columns WHERE database = ? AND table = ? AND name LIKE '%buckets'")
        .bind(&s.database)
        .bind(oot_contract::rollup::cells_table(&s.table))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        columns,
        ["duration_buckets", "queue_buckets", "e2e_buckets"]
    );
    // The row from before reads as no bucket counted.
    let e2e: Vec<Vec<i64>> = client
        .query(&format!("SELECT e2e_buckets FROM {cells}"))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(e2e, [Vec::<i64>::new()]);
}
