//! Trends (issue 12, docs/contract.md §14.9) against the real stack: callbacks go in through
//! ingest (its clock moved back, so runs are first seen on days past), the projector keeps the
//! rollup cells with their histograms, and the query service answers
//! `/api/oot/{org}/{repo}/trends`, the summary's sparklines and the trends section and page.
//!
//! `acme/npu-trends`, each run started (with its queue time) and, its execution time later,
//! completed, between 03:00 and 07:00 UTC of its day, so a run's day never depends on when the
//! test runs:
//!
//! | days ago | runs |
//! |---|---|
//! | 1 | 3 pass, 1 fails; queues 40 s to 340 s, 600 s to 900 s of execution |
//! | 2 | 2 pass, 1 times out; queues 1,000 s to 3,000 s, 3,000 s to 5,000 s |
//! | 4 | 1 fails, 1 cancelled |
//! | 7 | one run failed, re-run and passed: counted once, as a pass |
//! | 40 | 2 pass: in the 90 days, not in the 30 |
//!
//! The expected figures are computed here from the runs (latest attempt of each run, on the UTC
//! day its latest attempt was first seen), and each percentile is checked to lie in the bucket
//! of the exact (nearest-rank) one.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::collections::BTreeMap;

use oot_contract::{Conclusion, RepoLevel};
use oot_e2e::callbacks::{repo, upstream_pr, Job};
use oot_e2e::story::{seed, Seeded};
use oot_rollup::histogram::UPPER_BOUNDS_S;
use serde_json::Value;

const DAY: i64 = 86_400;
pub const BACKEND: &str = "acme/npu-trends";

/// One attempt of one run, first seen at `seen_at` (seconds since the epoch).
#[derive(Clone)]
pub struct Attempt {
    seen_at: i64,
    job: Job,
    conclusion: Conclusion,
    queue_s: f64,
    execution_s: f64,
}

fn attempt(n: u64, run: u64, run_attempt: u32, seen_at: i64, conclusion: Conclusion) -> Attempt {
    Attempt {
        seen_at,
        job: Job {
            repo: repo(BACKEND),
            level: RepoLevel::L2,
            trigger: upstream_pr(920_000 + run),
            delivery_id: format!("trends-{n}"),
            workflow: "npu-ci".to_owned(),
            job_name: "test".to_owned(),
            run_id: 66_000_000 + run,
            run_attempt,
            check_run_id: 55_000_000 + n,
        },
        conclusion,
        queue_s: 0.0,
        execution_s: 0.0,
    }
}

/// The story's attempts, given the start of today (UTC).
fn story(today: i64) -> Vec<Attempt> {
    use Conclusion::{Cancelled, Failure, Success, TimedOut};
    let mut attempts = Vec::new();
    let mut n = 0;
    let mut add = |days_ago: i64, j: i64, run_attempt: u32, conclusion, queue_s, execution_s| {
        n += 1;
        // 03:00 UTC plus 20 minutes per run: every run of a day starts and ends inside it.
        let seen_at = today - days_ago * DAY + 3 * 3_600 + j * 1_200;
        let run = if run_attempt > 1 { n - 1 } else { n };
        attempts.push(Attempt {
            queue_s,
            execution_s,
            ..attempt(n, run, run_attempt, seen_at, conclusion)
        });
    };
    for (j, conclusion) in [Success, Success, Failure, Success].into_iter().enumerate() {
        let j = j as f64;
        add(
            1,
            j as i64,
            1,
            conclusion,
            40.0 + 100.0 * j,
            600.0 + 100.0 * j,
        );
    }
    for (j, conclusion) in [Success, TimedOut, Success].into_iter().enumerate() {
        let j = j as f64;
        add(
            2,
            j as i64,
            1,
            conclusion,
            1_000.0 + 1_000.0 * j,
            3_000.0 + 1_000.0 * j,
        );
    }
    add(4, 0, 1, Failure, 30.0, 100.0);
    add(4, 1, 1, Cancelled, 30.0, 50.0);
    add(7, 0, 1, Failure, 20.0, 200.0);
    // The re-run of the run just added: its latest attempt, passed.
    add(7, 1, 2, Success, 25.0, 250.0);
    add(40, 0, 1, Success, 60.0, 700.0);
    add(40, 1, 1, Success, 60.0, 700.0);
    attempts
}

/// What a day's runs count, computed from the attempts as the contract says (§11.2, §11.4).
#[derive(Debug, Default, PartialEq)]
struct Expected {
    completed: u64,
    successes: u64,
    failures: u64,
    timed_out: u64,
    cancelled: u64,
    queues: Vec<f64>,
    executions: Vec<f64>,
}

fn utc_date(at: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(at)
        .unwrap()
        .format(&format)
        .unwrap()
}

/// Per UTC date, the latest attempt of each run on the day it was first seen.
fn expected(attempts: &[Attempt]) -> BTreeMap<String, Expected> {
    let mut latest: BTreeMap<u64, &Attempt> = BTreeMap::new();
    for a in attempts {
        let entry = latest.entry(a.job.run_id).or_insert(a);
        if a.job.run_attempt > entry.job.run_attempt {
            *entry = a;
        }
    }
    let mut days: BTreeMap<String, Expected> = BTreeMap::new();
    for a in latest.values() {
        let day = days.entry(utc_date(a.seen_at)).or_default();
        day.completed += 1;
        day.queues.push(a.queue_s);
        let verdict = match a.conclusion {
            Conclusion::Success => Some(&mut day.successes),
            Conclusion::Failure => Some(&mut day.failures),
            Conclusion::TimedOut => Some(&mut day.timed_out),
            _ => None,
        };
        match verdict {
            Some(count) => {
                *count += 1;
                day.executions.push(a.execution_s);
            }
            None => day.cancelled += 1,
        }
    }
    days
}

/// The bucket (lower, upper] of the rollups' histograms holding `seconds`.
fn bucket(seconds: f64) -> (f64, f64) {
    let bounds: Vec<f64> = UPPER_BOUNDS_S.iter().map(|b| f64::from(*b)).collect();
    let i = bounds.partition_point(|b| *b < seconds);
    let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
    (lower, bounds.get(i).copied().unwrap_or(f64::INFINITY))
}

/// The nearest-rank `q` percentile of `values`.
fn exact(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank - 1]
}

/// `figures` (a day of the answer, or its totals) against what the runs count.
fn check(what: &str, figures: &Value, want: &Expected) {
    let n = |name: &str| {
        figures[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{what}: {name}"))
    };
    assert_eq!(
        (
            n("completed"),
            n("successes"),
            n("failures"),
            n("timed_out"),
            n("cancelled")
        ),
        (
            want.completed,
            want.successes,
            want.failures,
            want.timed_out,
            want.cancelled
        ),
        "{what}: {figures}"
    );
    let verdicts = want.successes + want.failures + want.timed_out;
    if verdicts == 0 {
        assert!(figures["pass_rate"].is_null(), "{what}: {figures}");
    } else {
        assert_eq!(
            (
                figures["pass_rate"]["numerator"].as_u64(),
                figures["pass_rate"]["denominator"].as_u64()
            ),
            (Some(want.successes), Some(verdicts)),
            "{what}"
        );
    }
    assert_eq!(n("queue_times"), want.queues.len() as u64, "{what}");
    assert_eq!(n("execution_times"), want.executions.len() as u64, "{what}");
    for (name, values) in [("queue", &want.queues), ("execution", &want.executions)] {
        for (q, suffix) in [(0.5, "p50"), (0.95, "p95")] {
            let got = &figures[format!("{name}_{suffix}")];
            if values.is_empty() {
                assert!(got.is_null(), "{what}: {name}_{suffix} {got}");
                continue;
            }
            let seconds = got["seconds"].as_f64().unwrap();
            let (lower, upper) = bucket(exact(values, q));
            assert!(
                (lower..=upper).contains(&seconds),
                "{what}: {name}_{suffix} {seconds} not in the exact one's bucket ({lower}, {upper}]"
            );
            assert_eq!(got["is_lower_bound"], false, "{what}");
        }
    }
}

fn sum(days: &[&Expected]) -> Expected {
    let mut total = Expected::default();
    for day in days {
        total.completed += day.completed;
        total.successes += day.successes;
        total.failures += day.failures;
        total.timed_out += day.timed_out;
        total.cancelled += day.cancelled;
        total.queues.extend(&day.queues);
        total.executions.extend(&day.executions);
    }
    total
}

/// The story seeded through ingest and projected, a query service over it; and the start of
/// the UTC day it was seeded on and its attempts, to compute what the views must say. The pages'
/// browser test draws its charts.
pub async fn seeded(prefix: &str) -> (Seeded, i64, Vec<Attempt>) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let today = now - now.rem_euclid(DAY);
    let attempts = story(today);
    // Each attempt is two callbacks, each at its own time before now.
    let mut callbacks: Vec<(i64, String)> = attempts
        .iter()
        .flat_map(|a| {
            let at = |t: i64| time::OffsetDateTime::from_unix_timestamp(t).unwrap();
            let done = a.seen_at + a.execution_s as i64;
            let started = a.job.in_progress(at(a.seen_at), a.queue_s).to_json();
            let completed = a
                .job
                .completed(a.conclusion, at(done), Some(a.execution_s))
                .to_json();
            [
                (now - a.seen_at, started.to_string()),
                (now - done, completed.to_string()),
            ]
        })
        .collect();
    callbacks.sort_by_key(|(ago, _)| -ago);
    let seeded = seed(
        prefix,
        &callbacks,
        |(ago, _)| *ago,
        |(_, body), _| body.clone(),
    )
    .await;
    (seeded, today, attempts)
}

#[tokio::test]
async fn trends_give_each_days_figures_from_the_rollups_with_percentiles_in_their_bucket() {
    let (seeded, today, attempts) = seeded("trends").await;
    let query = &seeded.query;
    let want = expected(&attempts);
    assert_eq!(want.len(), 5, "five days of runs");

    let (status, _, month) = query.get(&format!("/api/oot/{BACKEND}/trends")).await;
    assert_eq!(status, 200, "{month}");
    assert_eq!(month["days"], 30);
    assert_eq!(month["downstream_repo"], BACKEND);
    let daily = month["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 30);
    let dates: Vec<&str> = daily.iter().map(|d| d["date"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] < w[1]), "oldest first");
    assert_eq!(
        month["since"].as_str().unwrap(),
        format!("{}T00:00:00Z", dates[0])
    );
    let empty = Expected::default();
    for day in daily {
        let date = day["date"].as_str().unwrap();
        check(date, day, want.get(date).unwrap_or(&empty));
    }
    // The 40-day-old runs are not in the 30 days.
    let in_month: Vec<&Expected> = want
        .iter()
        .filter(|(date, _)| dates.contains(&date.as_str()))
        .map(|(_, e)| e)
        .collect();
    assert_eq!(in_month.len(), 4);
    check("30 days", &month["totals"], &sum(&in_month));
    let rerun = &want[&utc_date(today - 7 * DAY)];
    assert_eq!(
        (rerun.completed, rerun.successes, rerun.failures),
        (1, 1, 0)
    );

    let (status, _, quarter) = query
        .get(&format!("/api/oot/{BACKEND}/trends?days=90"))
        .await;
    assert_eq!(status, 200, "{quarter}");
    assert_eq!(quarter["daily"].as_array().unwrap().len(), 90);
    check(
        "90 days",
        &quarter["totals"],
        &sum(&want.values().collect::<Vec<_>>()),
    );
    let old = utc_date(today - 40 * DAY);
    let old_day = quarter["daily"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == old.as_str())
        .unwrap();
    check(&old, old_day, &want[&old]);

    // Bad parameters name themselves; a backend with no runs has empty days.
    for (path, parameter) in [
        (format!("/api/oot/{BACKEND}/trends?days=7"), "days"),
        (format!("/api/oot/{BACKEND}/trends?days=30&days=90"), "days"),
        ("/api/oot/acme/no%20such/trends".to_owned(), "repo"),
    ] {
        let (status, _, body) = query.get(&path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
    }
    let (status, _, nobody) = query.get("/api/oot/acme/nothing/trends").await;
    assert_eq!(status, 200, "{nobody}");
    assert_eq!(nobody["totals"]["completed"], 0);
    assert!(nobody["daily"][0]["pass_rate"].is_null());

    // The summary's sparkline: the same daily pass rates, 30 days, whatever the window.
    let (_, _, summary) = query.get("/api/oot/summary?window=24h").await;
    let line = summary["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["downstream_repo"] == BACKEND)
        .unwrap();
    let sparkline = line["pass_rate_daily"].as_array().unwrap();
    assert_eq!(sparkline.len(), 30);
    for (spark, day) in sparkline.iter().zip(daily) {
        assert_eq!(spark["date"], day["date"]);
        assert_eq!(spark["pass_rate"], day["pass_rate"], "{}", day["date"]);
    }

    // The pages: the backend's section (30 days, linking to 90), the trends page, the summary's
    // sparkline linking to it; a bad `days` is an error page.
    let page = |path: String| {
        let client = query.client.clone();
        let url = format!("{}{path}", query.base_url);
        async move {
            let response = client.get(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, backend) = page(format!("/oot/{BACKEND}")).await;
    assert_eq!(status, 200);
    assert!(backend.contains("Trends, last 30 days"), "{backend}");
    assert!(backend.contains(&format!(r#"href="/oot/{BACKEND}/trends?days=90""#)));
    assert_eq!(backend.matches("<svg").count(), 4);
    assert!(!backend.contains(" style="), "no inline style");
    let (status, trends) = page(format!("/oot/{BACKEND}/trends?days=90")).await;
    assert_eq!(status, 200);
    assert!(trends.contains(&format!("Trends of {BACKEND}")), "{trends}");
    assert!(trends.contains(r#"aria-current="page">90 days</a>"#));
    let rate = &daily.iter().find(|d| !d["pass_rate"].is_null()).unwrap()["pass_rate"];
    let text = format!("{}/{}", rate["numerator"], rate["denominator"]);
    assert!(
        trends.contains(&text),
        "{text} in the trends page's numbers"
    );
    let (status, _) = page(format!("/oot/{BACKEND}/trends?days=7")).await;
    assert_eq!(status, 400);
    let (_, summary_page) = page("/oot".to_owned()).await;
    assert!(summary_page.contains(&format!(r#"href="/oot/{BACKEND}/trends?days=30""#)));
    assert!(summary_page.contains("Daily pass rate of acme/npu-trends"));
}
