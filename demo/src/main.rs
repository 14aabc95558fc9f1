//! `oot-demo`: sends a realistic stream of relay callbacks (four backends, thirty upstream PRs,
//! failures with failed tests, re-runs, running jobs, a nightly each) through the ingest
//! endpoint, so a fresh local stack has pages worth looking at. `compose/up.sh` runs it when the
//! completed-jobs table is empty.
//!
//! One seed always tells the same story; every run sends fresh delivery ids, so running it again
//! adds a second copy of the story rather than replaying the first.

use std::process::ExitCode;

use clap::Parser;
use secrecy::{ExposeSecret, SecretString};

#[derive(Parser)]
#[command(
    name = "oot-demo",
    about = "Send demo callbacks through the ingest endpoint"
)]
struct Args {
    /// Base URL of the ingest service.
    #[arg(long, env = "OOT_INGEST_URL", default_value = "http://127.0.0.1:8080")]
    ingest_url: String,

    /// The relay's shared secret; the first of a comma-separated list (as ingest takes them).
    #[arg(long, env = "OOT_INGEST_TOKENS", hide_env_values = true)]
    token: SecretString,

    /// Seed of the generated story (same seed, same backends, PRs and outcomes).
    #[arg(long, env = "OOT_DEMO_SEED", default_value_t = 20_260_428)]
    seed: u64,

    /// Callbacks in flight at once.
    #[arg(long, default_value_t = oot_demo::DEFAULT_CONCURRENCY)]
    concurrency: usize,

    /// Also write the readiness history (weeks of three backends' jobs, as ingest would have
    /// logged them) straight to the event topic: ingest stamps its own clock, so a past cannot
    /// be posted through it.
    #[arg(long, env = "OOT_DEMO_HISTORY", default_value_t = true, action = clap::ArgAction::Set)]
    history: bool,

    #[command(flatten)]
    kafka: oot_platform::settings::KafkaSettings,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let token = args
        .token
        .expose_secret()
        .split(',')
        .map(str::trim)
        .find(|t| !t.is_empty())
        .unwrap_or_default()
        .to_owned();
    if token.is_empty() {
        eprintln!("oot-demo: no token; set --token or OOT_INGEST_TOKENS");
        return ExitCode::from(2);
    }
    let (nonce, now) = (
        uuid::Uuid::now_v7().as_u128(),
        time::OffsetDateTime::now_utc(),
    );
    let plan = oot_demo::plan(args.seed, nonce, now);
    let plan = match plan {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("oot-demo: the demo's own values are invalid: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut report = plan.report;
    println!(
        "oot-demo: sending {} callbacks (run {}) to {}",
        plan.callbacks.len() + plan.in_order.len(),
        report.run_id,
        args.ingest_url
    );
    if let Err(error) = oot_demo::send(
        &args.ingest_url,
        &token,
        plan.callbacks,
        args.concurrency,
        &mut report,
    )
    .await
    {
        eprintln!("oot-demo: {error:#}");
        return ExitCode::FAILURE;
    }
    // The test-triage story, one at a time: its order is its story.
    if let Err(error) =
        oot_demo::send(&args.ingest_url, &token, plan.in_order, 1, &mut report).await
    {
        eprintln!("oot-demo: {error:#}");
        return ExitCode::FAILURE;
    }
    if args.history {
        let written = match oot_demo::readiness::history_events(args.seed, nonce, now) {
            Ok(events) => oot_demo::load::publish(&args.kafka, &events).await,
            Err(error) => Err(error),
        };
        match written {
            Ok(n) => println!(
                "  history    {n} events of {}, {}, {} (up to 60 days back) written to {}",
                oot_demo::readiness::READY,
                oot_demo::readiness::SLOW,
                oot_demo::readiness::NIGHTLY_ONLY,
                args.kafka.topic
            ),
            Err(error) => {
                eprintln!("oot-demo: writing the readiness history: {error:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    let jobs: Vec<String> = report
        .jobs
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    println!("  backends   {}", report.backends.join(", "));
    println!("  jobs       {}", jobs.join(", "));
    if let Some(pr) = report.pr_with_running_job {
        println!("  running    e.g. PR {pr}");
    }
    if let Some(pr) = report.pr_with_rerun {
        println!("  re-run     e.g. PR {pr}");
    }
    println!("  accepted   {} of {}", report.accepted, report.sent);
    if report.refused.is_empty() {
        return ExitCode::SUCCESS;
    }
    println!("  refused    {}", report.refused_total());
    for (reason, n) in &report.refused {
        println!("    {n:>5}  {reason}");
    }
    ExitCode::FAILURE
}
