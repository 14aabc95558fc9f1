use clap::Parser;
use oot_platform::shutdown::cancel_on_stop_signal;
use oot_platform::telemetry::init_telemetry;
use oot_projector::app::{migrate_all, Application};
use oot_projector::config::{Command, ProjectorCli};
use oot_projector::redrive::redrive;
use oot_projector::replay::replay;

// The system allocator, not the mimalloc of ingest and query: the projector is bound by the
// stores, not by allocation, and holds batches of callbacks up to 2 MiB each. mimalloc kept the
// pages of freed batches committed (its purge delay), so the projector's peak was ~1.5-2x that
// of glibc's allocator for the same events/s (README, Measured). Its options are read from the
// environment at process start only, which a deployment should not have to know about.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = init_telemetry("oot-projector", "info")?;
    let cli = ProjectorCli::parse();
    match cli.command.unwrap_or(Command::Run) {
        Command::Migrate => migrate_all(&cli.config.stores).await,
        Command::Run => {
            let app = Application::build(cli.config).await?;
            app.run_until_stopped(cancel_on_stop_signal()).await?;
            tracing::info!("projector stopped");
            Ok(())
        }
        Command::Redrive(args) => {
            let report = redrive(&cli.config.stores.kafka, &args, &cancel_on_stop_signal()).await?;
            println!(
                "{} {} of {} dead letters onto {} ({} left out by the filters)",
                if args.dry_run {
                    "would redrive"
                } else {
                    "redrove"
                },
                report.redriven,
                report.examined,
                cli.config.stores.kafka.topic,
                report.skipped
            );
            Ok(())
        }
        Command::Replay(args) => {
            let started = std::time::Instant::now();
            let report = replay(&cli.config.stores, &args, true, &cancel_on_stop_signal()).await?;
            let seconds = started.elapsed().as_secs_f64();
            let into = [&args.into_dynamo_table, &args.into_clickhouse_table]
                .into_iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(" and ");
            println!(
                "replayed {} events into {into} in {seconds:.1}s ({:.0} events/s): {} jobs written, {} completed rows, {} failed-test rows, {} undecodable, {} refused",
                report.events,
                report.events as f64 / seconds.max(1e-9),
                report.jobs_written,
                report.rows,
                report.failed_test_rows,
                report.undecodable,
                report.refused
            );
            if report.cells > 0 {
                println!("{} rollup cells written", report.cells);
            }
            if report.runs_beyond_window > 0 {
                println!(
                    "warning: {} runs came back after leaving the --window-jobs window; an older attempt may be counted beside a newer one in the rollups (replay again with a larger window, or both stores)",
                    report.runs_beyond_window
                );
            }
            if report.beyond_window > 0 {
                println!(
                    "warning: {} jobs came back after leaving the --window-jobs window; their rows may miss earlier callbacks (replay again with a larger window, or both stores)",
                    report.beyond_window
                );
            }
            Ok(())
        }
    }
}
