//! Fault drills: the real service binaries, as processes, under a stream of callbacks while
//! something breaks (the projector killed with -9, Kafka restarted, DynamoDB away for 30 s, a
//! burst of 2 MiB bodies). Each drill is bounded in time and count, talks only to loopback, and
//! prints its figures (recovery times, peak memory); it asserts outcomes, never timings.
//!
//! They stop servers and start processes, so they are ignored in a plain `cargo test` and
//! `compose/test.sh` runs them alone, one at a time, after the outages:
//! `cargo test -p oot-e2e --test e2e -- --ignored --test-threads=1 drills::` (after
//! `cargo build --workspace --bins`; the service logs go to `<target dir>/drill-logs/`, kept when a drill fails).
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use oot_e2e::callbacks::{sample, FailedTest};
use oot_e2e::drill::{
    all_items, dead_letter_count, group_position, mib, post, post_job, row_counts, start_ingest,
    start_projector, stream_conclusion, stream_job, wait_caught_up, ServiceProcess,
};
use oot_e2e::{attr_n, attr_s, completed_rows, stack_server, unique_name, TestStores};
use oot_platform::settings::StoreSettings;
use tokio::time::Instant;

/// Checks that jobs `0..jobs` of each `(drill, jobs)` stream are each projected once, in their final state: one
/// DynamoDB item per job (completed, with its conclusion, written at most twice: once per
/// callback, never again for a redelivery) and one latest ClickHouse row per job.
async fn assert_projected_exactly_once(stores: &StoreSettings, streams: &[(&str, u64)]) {
    let jobs: u64 = streams.iter().map(|(_, jobs)| jobs).sum();
    let items = all_items(stores).await.unwrap();
    let mut versions = BTreeMap::new();
    let mut wrong = Vec::new();
    let all = streams
        .iter()
        .flat_map(|&(drill, jobs)| (0..jobs).map(move |n| (drill, n)));
    for (drill, n) in all {
        let key = stream_job(drill, n).key().unwrap();
        let expected = stream_conclusion(n).as_str();
        match items.get(key.as_str()) {
            None => wrong.push(format!("{key}: no item")),
            Some(item) => {
                let (status, conclusion) = (attr_s(item, "status"), attr_s(item, "conclusion"));
                if status != "completed" || conclusion != expected {
                    wrong.push(format!("{key}: {status}/{conclusion}, expected {expected}"));
                }
                let version = attr_n(item, "version").unwrap_or(0.0) as u64;
                *versions.entry(version).or_insert(0u64) += 1;
            }
        }
    }
    let rows = completed_rows(stores).await.unwrap();
    let counts = row_counts(stores).await.unwrap();
    println!(
        "  projected: {} items (versions {versions:?}), {} latest rows ({} distinct, {} physical)",
        items.len(),
        counts.latest_rows,
        counts.distinct_keys,
        counts.physical_rows
    );
    assert!(
        wrong.is_empty(),
        "{} of {jobs} jobs not in their final state, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    assert_eq!(items.len() as u64, jobs, "one DynamoDB item per job");
    assert!(
        versions.keys().all(|&v| (1..=2).contains(&v)),
        "an item written more often than its two callbacks: versions {versions:?}"
    );
    assert_eq!(
        counts.latest_rows, jobs,
        "one latest ClickHouse row per job"
    );
    assert_eq!(counts.distinct_keys, jobs, "no job twice in ClickHouse");
    let mut row_wrong = Vec::new();
    for row in &rows {
        let n: u64 = row.check_run_id.parse::<u64>().unwrap() - 5_000_000;
        let expected = stream_conclusion(n).as_str();
        if row.conclusion != expected || row.status != "completed" {
            row_wrong.push(format!("{}: {}", row.dynamo_key, row.conclusion));
        }
    }
    assert!(
        row_wrong.is_empty(),
        "rows with the wrong conclusion: {:?}",
        &row_wrong[..row_wrong.len().min(5)]
    );
    assert_eq!(
        dead_letter_count(&stores.kafka),
        0,
        "events of valid callbacks were dead-lettered"
    );
}

/// Asserts the projector process is still running, naming `when` and its log otherwise.
/// Posts jobs `range` of `drill` (both callbacks each) to `ingest`, then waits up to `within`
/// until `group` has committed everything in the log: the steady state a drill starts from.
async fn post_jobs_caught_up(
    ingest: &ServiceProcess,
    kafka: &oot_platform::settings::KafkaSettings,
    group: &str,
    drill: &str,
    range: std::ops::Range<u64>,
    within: Duration,
) {
    let client = reqwest::Client::new();
    for n in range {
        post_job(&client, &ingest.base_url, drill, n, Duration::from_secs(30))
            .await
            .unwrap();
    }
    wait_caught_up(kafka, group, within).await.unwrap();
}

fn assert_running(projector: &mut ServiceProcess, when: &str) {
    if let Some(status) = projector.exited() {
        panic!(
            "the projector exited {when} ({status}); log {}:\n{}",
            projector.log.display(),
            projector.log_tail(30)
        );
    }
}

/// Jobs `0..` of `drill` posted (both callbacks, 8 at a time, about `per_second` jobs a second)
/// until `stop` is set or `max_jobs` are sent; the count of jobs sent.
fn spawn_stream(
    ingest: String,
    drill: &'static str,
    per_second: u64,
    max_jobs: u64,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<anyhow::Result<u64>> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let sent = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let pace = Duration::from_micros(1_000_000 / per_second);
        let jobs = futures::stream::iter(0..max_jobs)
            .take_while(|_| {
                let stop = stop.load(Ordering::SeqCst);
                async move { !stop }
            })
            .map(|n| {
                let (client, ingest, sent) = (client.clone(), ingest.clone(), sent.clone());
                async move {
                    tokio::time::sleep_until(start + pace * u32::try_from(n)?).await;
                    post_job(&client, &ingest, drill, n, Duration::from_secs(120)).await?;
                    sent.fetch_add(1, Ordering::SeqCst);
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(8);
        futures::pin_mut!(jobs);
        while let Some(result) = jobs.next().await {
            result?;
        }
        Ok(sent.load(Ordering::SeqCst))
    })
}

#[tokio::test]
#[ignore = "kills the projector binary; run alone by compose/test.sh"]
async fn projector_killed_with_9_five_times_under_a_stream_projects_every_job_once() {
    const DRILL: &str = "kill9";
    const KILLS: usize = 5;
    let stores = TestStores::unique("drill_kill");
    let s = &stores.settings;
    let group = unique_name("drill-projector");
    let ingest = start_ingest(s).await.unwrap();
    let mut projector = start_projector(s, &group).await.unwrap();

    // ~100 jobs (200 callbacks) a second for as long as the kills last (at most 20,000 jobs).
    let stop = Arc::new(AtomicBool::new(false));
    let stream = spawn_stream(ingest.base_url.clone(), DRILL, 100, 20_000, stop.clone());

    let mut recoveries = Vec::new();
    for kill in 1..=KILLS {
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_running(&mut projector, "between kills");
        let before = group_position(&s.kafka, &group).await.unwrap();
        projector.kill9().await.unwrap();
        let restarted = Instant::now();
        projector = start_projector(s, &group).await.unwrap();
        let serving = restarted.elapsed();
        // Progress again: the group commits past where it stood when the process died, first on
        // one partition, then on every one (the stream keeps adding events to each partition,
        // so there is always something to commit).
        let (mut first, mut all) = (None, None);
        while restarted.elapsed() < Duration::from_secs(120) && all.is_none() {
            let now = group_position(&s.kafka, &group).await.unwrap();
            if first.is_none() && now.committed > before.committed {
                first = Some(restarted.elapsed());
            }
            if now.every_partition_moved_since(&before) {
                all = Some((restarted.elapsed(), now));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (after, position) = all.unwrap_or_else(|| {
            panic!(
                "kill {kill}: not every partition committed within 120 s of the restart; log {}",
                projector.log.display()
            )
        });
        println!(
            "kill {kill}: lag {} at the kill; restarted process serving after {:.2}s, first commit after {:.2}s, every partition committing after {:.2}s (lag {})",
            before.lag(),
            serving.as_secs_f64(),
            first.unwrap_or(after).as_secs_f64(),
            after.as_secs_f64(),
            position.lag()
        );
        recoveries.push(after.as_secs_f64());
    }
    stop.store(true, Ordering::SeqCst);
    let jobs = stream.await.unwrap().unwrap();
    let caught_up = Instant::now();
    let end = wait_caught_up(&s.kafka, &group, Duration::from_secs(180))
        .await
        .unwrap();
    println!(
        "{jobs} jobs ({} events) sent; caught up {:.2}s after the stream ended; recovery after each kill (s): {recoveries:.2?}, worst {:.2}",
        end.end,
        caught_up.elapsed().as_secs_f64(),
        recoveries.iter().copied().fold(0.0, f64::max)
    );
    assert_eq!(
        end.end as u64,
        2 * jobs,
        "every callback of every job is in the log"
    );
    assert_running(&mut projector, "at the end");
    assert_projected_exactly_once(s, &[(DRILL, jobs)]).await;
    drop(ingest);
}

#[tokio::test]
#[ignore = "restarts Kafka; run alone by compose/test.sh"]
async fn kafka_restarted_under_the_projector_process_it_rides_through_and_projects_everything() {
    const BEFORE: &str = "kafka-before";
    const LIVE: &str = "kafka-live";
    let stores = TestStores::unique("drill_kafka");
    let s = &stores.settings;
    let group = unique_name("drill-projector");
    let ingest = start_ingest(s).await.unwrap();
    let mut projector = start_projector(s, &group).await.unwrap();
    post_jobs_caught_up(
        &ingest,
        &s.kafka,
        &group,
        BEFORE,
        0..50,
        Duration::from_secs(60),
    )
    .await;

    // A stream (50 jobs a second, a 503 retried as the relay does) before, during and after
    // the broker's absence, so the projector is fetching when the broker goes.
    let stop = Arc::new(AtomicBool::new(false));
    let stream = spawn_stream(ingest.base_url.clone(), LIVE, 50, 5_000, stop.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;
    stack_server("stop", "kafka").await.unwrap();
    let stopped = Instant::now();
    let mut exited_while_down = None;
    while stopped.elapsed() < Duration::from_secs(15) && exited_while_down.is_none() {
        exited_while_down = projector.exited();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Bring the broker back before asserting, for the tests that follow.
    stack_server("start", "kafka").await.unwrap();
    println!(
        "kafka down for {:.1}s; projector {}",
        stopped.elapsed().as_secs_f64(),
        exited_while_down.map_or("kept running".to_owned(), |s| format!("exited: {s}"))
    );
    assert_running(&mut projector, "while Kafka was down");

    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    stop.store(true, Ordering::SeqCst);
    let live = stream.await.unwrap().unwrap();
    let end = wait_caught_up(&s.kafka, &group, Duration::from_secs(180))
        .await
        .unwrap();
    println!(
        "{live} jobs streamed across the restart; caught up {:.2}s after Kafka was back ({} events)",
        back.elapsed().as_secs_f64(),
        end.end
    );
    // Give a late exit (a fatal error noticed on reconnection) the chance to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_running(&mut projector, "after Kafka came back");
    assert_projected_exactly_once(s, &[(BEFORE, 50), (LIVE, live)]).await;
}

#[tokio::test]
#[ignore = "stops DynamoDB; run alone by compose/test.sh"]
async fn dynamodb_away_for_30_s_under_the_projector_nothing_is_lost_and_lag_tells_the_truth() {
    const DRILL: &str = "dynamo-away";
    let stores = TestStores::unique("drill_dynamo");
    let s = &stores.settings;
    let group = unique_name("drill-projector");
    let ingest = start_ingest(s).await.unwrap();
    let mut projector = start_projector(s, &group).await.unwrap();
    let client = reqwest::Client::new();
    let patience = Duration::from_secs(30);
    post_jobs_caught_up(
        &ingest,
        &s.kafka,
        &group,
        DRILL,
        0..20,
        Duration::from_secs(60),
    )
    .await;

    stack_server("stop", "dynamo").await.unwrap();
    let stopped = Instant::now();
    // Ingest does not depend on DynamoDB: every callback is still accepted.
    let mut refused = Vec::new();
    for n in 20..50 {
        if let Err(error) = post_job(&client, &ingest.base_url, DRILL, n, patience).await {
            refused.push(error.to_string());
        }
    }
    let mut metric_lag_max = None::<f64>;
    let mut group_lag_max = 0;
    let mut exited = None;
    while stopped.elapsed() < Duration::from_secs(30) && exited.is_none() {
        if let Some(lag) = projector.metric("oot_projector_consumer_lag").await {
            metric_lag_max = Some(metric_lag_max.map_or(lag, |max| max.max(lag)));
        }
        if let Ok(position) = group_position(&s.kafka, &group).await {
            group_lag_max = group_lag_max.max(position.lag());
        }
        exited = projector.exited();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Bring DynamoDB back before asserting, for the tests that follow.
    stack_server("start", "dynamo").await.unwrap();
    println!(
        "dynamodb down for {:.1}s: group lag (Kafka) up to {group_lag_max}, oot_projector_consumer_lag up to {metric_lag_max:?}; projector {}",
        stopped.elapsed().as_secs_f64(),
        exited.map_or("kept running".to_owned(), |s| format!("exited: {s}"))
    );
    assert_running(&mut projector, "while DynamoDB was down");
    assert!(refused.is_empty(), "ingest refused callbacks: {refused:?}");
    assert!(
        group_lag_max > 0,
        "the projector committed while DynamoDB was down"
    );
    assert!(
        metric_lag_max.is_some_and(|lag| lag > 0.0),
        "oot_projector_consumer_lag read {metric_lag_max:?} while {group_lag_max} events waited"
    );

    let back = Instant::now();
    wait_caught_up(&s.kafka, &group, Duration::from_secs(180))
        .await
        .unwrap();
    println!(
        "caught up {:.2}s after DynamoDB was back",
        back.elapsed().as_secs_f64()
    );
    let mut metric_lag = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        metric_lag = projector.metric("oot_projector_consumer_lag").await;
        if metric_lag == Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        metric_lag,
        Some(0.0),
        "oot_projector_consumer_lag at the end"
    );
    assert_running(&mut projector, "after DynamoDB came back");
    assert_projected_exactly_once(s, &[(DRILL, 50)]).await;
}

/// A completed callback whose `failed_tests` is the JSON text `failed_tests`.
fn with_failed_tests_text(failed_tests: &str) -> String {
    let mut body = sample::completed().to_json();
    body["untrusted"]["callback_payload"]["workflow"]["failed_tests"] = "@@FT@@".into();
    body.to_string().replace("\"@@FT@@\"", failed_tests)
}

/// Expensive bodies of at most 2 MiB (one kind is just over, for a 413), kind `i % 6`.
fn expensive_body(i: usize) -> (&'static str, String) {
    const LIMIT: usize = 2 * 1024 * 1024;
    let room = LIMIT - 4 * 1024;
    match i % 6 {
        0 => {
            // Valid-looking failed tests, as many as fit.
            let one = FailedTest {
                name: format!("test_case_{i:0>120}"),
                classname: "test.inductor.test_torchinductor.GPUTests".to_owned(),
                message: "AssertionError: Tensor-likes are not close! ".repeat(4),
                stacktrace: Some("  File \"x.py\", line 1, in f\n".repeat(6)),
                duration_s: Some(1.5),
            };
            let mut callback = sample::completed();
            callback.failed_tests = Some(vec![one.clone()]);
            let base = callback.to_json().to_string().len();
            callback.failed_tests = Some(vec![one.clone(); 2]);
            let each = callback.to_json().to_string().len() - base;
            callback.failed_tests = Some(vec![one; 1 + (room - base) / each]);
            ("many failed tests", callback.to_json().to_string())
        }
        1 => {
            // A million numbers where failed tests belong.
            let numbers = vec!["0"; 1_000_000].join(",");
            (
                "a million numbers",
                with_failed_tests_text(&format!("[{numbers}]")),
            )
        }
        2 => {
            // A million empty objects (each a failed test missing every field).
            let objects = vec!["{}"; (room - 2_000) / 3].join(",");
            (
                "empty objects",
                with_failed_tests_text(&format!("[{objects}]")),
            )
        }
        3 => {
            // An environment of control characters and unicode, escaped.
            let mut body = sample::completed().to_json();
            let mut environment = serde_json::Map::new();
            let value = "\u{1}\u{2}\u{7}\u{1b}é☃\u{1F600}\n".repeat(8);
            let mut k = 0;
            let mut size = 0;
            while size < room - 200_000 {
                let key = format!("k{k}");
                size += serde_json::to_string(&value).unwrap().len() + key.len() + 4;
                environment.insert(key, value.clone().into());
                k += 1;
            }
            body["untrusted"]["callback_payload"]["workflow"]["environment"] = environment.into();
            ("control-character environment", body.to_string())
        }
        4 => {
            // Deep nesting.
            let depth = room / 2 - 2_000;
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            ("deeply nested arrays", with_failed_tests_text(&nested))
        }
        _ => {
            // One byte over the limit.
            let numbers = vec!["1"; LIMIT / 2].join(",");
            let body = with_failed_tests_text(&format!("[{numbers}]"));
            ("over the limit", body)
        }
    }
}

#[tokio::test]
#[ignore = "loads ingest with 64 MiB at once; run alone by compose/test.sh"]
async fn thirty_two_concurrent_2_mib_bodies_are_each_answered_and_ingest_stays_up() {
    /// What ingest may reach with 32 bodies of 2 MiB in flight (64 MiB of bodies) at once.
    const PEAK_RSS_BOUND_KIB: u64 = 512 * 1024;
    /// An answer names the first problems, not every one of a million.
    const ANSWER_BOUND: usize = 64 * 1024;
    let stores = TestStores::unique("drill_bodies");
    let s = &stores.settings;
    let mut ingest = start_ingest(s).await.unwrap();
    let idle = ingest.peak_rss_kib();
    let log_before = std::fs::metadata(&ingest.log).map_or(0, |m| m.len());

    let bodies: Vec<(&str, String)> = (0..32).map(expensive_body).collect();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let started = Instant::now();
    let answers = futures::future::join_all(bodies.iter().map(|(kind, body)| {
        let (client, url) = (client.clone(), ingest.base_url.clone());
        async move {
            let sent = Instant::now();
            let answer = post(&client, &url, body.clone()).await;
            (*kind, body.len(), answer, sent.elapsed())
        }
    }))
    .await;
    let total = started.elapsed();
    let mut problems = Vec::new();
    for (kind, size, answer, took) in &answers {
        match answer {
            Ok((status, text)) => {
                let error = serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                println!(
                    "  {kind:<30} {size:>8} B -> {status} {error} ({} B answer) in {:.2}s",
                    text.len(),
                    took.as_secs_f64()
                );
                if ![202, 400, 413].contains(status) {
                    problems.push(format!("{kind}: {status}"));
                }
                if text.len() > ANSWER_BOUND {
                    problems.push(format!("{kind}: a {} B answer", text.len()));
                }
            }
            Err(error) => problems.push(format!("{kind}: no answer: {error}")),
        }
    }
    let peak = ingest.peak_rss_kib();
    let log_growth = std::fs::metadata(&ingest.log).map_or(0, |m| m.len()) - log_before;
    println!(
        "32 bodies answered in {:.2}s; ingest peak RSS {} (idle {}), now {}; its log grew {} KiB",
        total.as_secs_f64(),
        mib(peak),
        mib(idle),
        mib(ingest.rss_kib()),
        log_growth / 1024
    );
    assert!(
        ingest.exited().is_none(),
        "ingest died; log {}",
        ingest.log.display()
    );
    let (status, text) = post(&client, &ingest.base_url, oot_e2e::fixtures::COMPLETED)
        .await
        .unwrap();
    assert_eq!(status, 202, "ingest after the burst: {text}");
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(
        peak.is_some_and(|kib| kib <= PEAK_RSS_BOUND_KIB),
        "ingest's peak RSS {} is over {}",
        mib(peak),
        mib(Some(PEAK_RSS_BOUND_KIB))
    );
    assert!(
        log_growth <= 1024 * 1024,
        "ingest logged {log_growth} B for 32 requests"
    );
}

/// A static member fenced by the group (what a broker restart can do: the broker hands the
/// instance id to a new member id, and librdkafka declares the old consumer unusable for good)
/// is rebuilt in-process: the projector keeps projecting without a restart. The fence is made on
/// purpose here, by a second consumer joining with the projector's `group.instance.id`.
#[tokio::test]
#[ignore = "starts the real projector and fences it; run alone by compose/test.sh"]
async fn a_fenced_projector_rebuilds_its_consumer_and_keeps_projecting() {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};

    const DRILL: &str = "fenced";
    let stores = TestStores::unique("drill_fenced");
    let s = &stores.settings;
    let group = unique_name("drill-projector");
    let ingest = start_ingest(s).await.unwrap();
    let mut projector = start_projector(s, &group).await.unwrap();
    post_jobs_caught_up(
        &ingest,
        &s.kafka,
        &group,
        DRILL,
        0..10,
        Duration::from_secs(60),
    )
    .await;

    // The intruder takes over the projector's instance id: the broker fences the projector.
    let intruder: BaseConsumer = s
        .kafka
        .client_config()
        .set("group.id", &group)
        .set("group.instance.id", format!("{group}-projector"))
        // The group's protocol: a join with no protocol in common would be refused.
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    intruder.subscribe(&[s.kafka.topic.as_str()]).unwrap();
    let fenced = Instant::now();
    let mut rebuilds = 0.0;
    while fenced.elapsed() < Duration::from_secs(30) && rebuilds < 1.0 {
        let _ = intruder.poll(Duration::from_millis(200));
        rebuilds = projector
            .metric("oot_projector_consumer_rebuilds_total")
            .await
            .unwrap_or(0.0);
    }
    drop(intruder);
    println!(
        "consumer rebuilt {rebuilds} time(s), {:.1}s after the intruder joined",
        fenced.elapsed().as_secs_f64()
    );
    assert!(
        rebuilds >= 1.0,
        "the fenced projector never rebuilt its consumer:\n{}",
        projector.log_tail(30)
    );

    post_jobs_caught_up(
        &ingest,
        &s.kafka,
        &group,
        DRILL,
        10..20,
        Duration::from_secs(120),
    )
    .await;
    assert_running(&mut projector, "after it was fenced");
    assert_projected_exactly_once(s, &[(DRILL, 20)]).await;
}
