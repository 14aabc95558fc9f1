use clap::Parser;
use oot_alerts::app::{migrate, Application};
use oot_alerts::settings::{AlertsCli, Command};
use oot_platform::shutdown::cancel_on_stop_signal;
use oot_platform::telemetry::init_telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = init_telemetry("oot-alerts", "info")?;
    let cli = AlertsCli::parse();
    let settings = cli.settings.with_secret_from_env();
    match cli.command.unwrap_or(Command::Run) {
        Command::Migrate => migrate(&settings).await,
        Command::Run => {
            let app = Application::build(settings).await?;
            app.run_until_stopped(cancel_on_stop_signal()).await?;
            tracing::info!("alert evaluator stopped");
            Ok(())
        }
    }
}
