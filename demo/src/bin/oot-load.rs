//! `oot-load`: fills a stack with N synthetic jobs (and their failed tests) by writing the events
//! ingest would have logged for them straight to the event topic (see `oot_demo::load`). The
//! live projector then projects them, or `oot-projector replay` rebuilds tables from them.
//!
//! ```text
//! oot-load --jobs 10000000 --backends 8 --days 30 --running 10000
//! ```

use clap::Parser;
use oot_demo::load::{load, LoadSpec};
use oot_platform::settings::KafkaSettings;

#[derive(Parser)]
#[command(
    name = "oot-load",
    about = "Write N synthetic jobs' events straight to the event topic"
)]
struct Args {
    /// Jobs to generate (running ones included).
    #[arg(long, default_value_t = 100_000)]
    jobs: u64,

    /// Downstream repos (backends) the jobs are spread over.
    #[arg(long, default_value_t = 8)]
    backends: usize,

    /// Completed jobs end within this many days before now.
    #[arg(long, default_value_t = 30)]
    days: u32,

    /// Jobs left running: a count, or a percentage of --jobs (`1%`); at most --jobs.
    #[arg(long, default_value = "10000")]
    running: String,

    /// Failed tests of a failed job, on average (each lists 1 to 2n − 1, from each backend's
    /// failing set of 600 tests; 0: none).
    #[arg(long, default_value_t = 3)]
    failed_tests_per_failure: usize,

    /// Seed of the jobs (same seed, same job keys: loading it again merges into the same jobs).
    #[arg(long, default_value_t = 20_260_428)]
    seed: u64,

    /// Threads generating and validating callbacks (default: the machine's cores).
    #[arg(long)]
    threads: Option<usize>,

    #[command(flatten)]
    kafka: KafkaSettings,
}

fn running(text: &str, jobs: u64) -> anyhow::Result<u64> {
    let n = match text.strip_suffix('%') {
        Some(pct) => {
            let pct: f64 = pct.trim().parse()?;
            anyhow::ensure!(
                (0.0..=100.0).contains(&pct),
                "--running {text}: not a percentage"
            );
            (jobs as f64 * pct / 100.0).round() as u64
        }
        None => text.trim().parse()?,
    };
    Ok(n.min(jobs))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.kafka.validate()?;
    let spec = LoadSpec {
        jobs: args.jobs,
        backends: args.backends,
        days: args.days,
        running: running(&args.running, args.jobs)?,
        failed_tests_per_failure: args.failed_tests_per_failure,
        seed: args.seed,
    };
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    println!(
        "oot-load: {} jobs ({} running) over {} backends and {} days onto {}",
        spec.jobs, spec.running, spec.backends, spec.days, args.kafka.topic
    );
    let report = load(&args.kafka, &spec, time::OffsetDateTime::now_utc(), threads).await?;
    println!(
        "oot-load: {} events ({:.1} MB) of {} jobs ({} running, {} failed) in {:.1}s: {:.0} events/s",
        report.events,
        report.bytes as f64 / 1e6,
        report.jobs,
        report.running,
        report.failed,
        report.elapsed.as_secs_f64(),
        report.events_per_second()
    );
    println!(
        "oot-load: the running projector projects them; or rebuild tables with \
         `oot-projector replay --into-clickhouse-table ... --into-dynamo-table ...`"
    );
    Ok(())
}
