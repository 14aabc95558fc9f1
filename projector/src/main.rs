use clap::Parser;
use oot_platform::shutdown::cancel_on_stop_signal;
use oot_platform::telemetry::init_telemetry;
use oot_projector::app::{migrate_all, Application};
use oot_projector::config::{Command, ProjectorCli};

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
    }
}
