//! `oot-alerts`' command line: `run` (the default) or `migrate`, and its settings. Every
//! setting is a flag and an `OOT_*` variable with a loopback default; the webhook signing
//! secret comes from the environment only (`OOT_ALERTS_WEBHOOK_SECRET`), never a flag (flags
//! show in `ps`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use oot_platform::settings::{DynamoSettings, KafkaSettings};
use secrecy::SecretString;

/// The variable holding the webhooks' HMAC secret.
pub const SECRET_VARIABLE: &str = "OOT_ALERTS_WEBHOOK_SECRET";

#[derive(Debug, Parser)]
#[command(
    name = "oot-alerts",
    version,
    about = "Evaluates the alert rules on the event log and sends the alerts to webhooks"
)]
pub struct AlertsCli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub settings: AlertsSettings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate the log and send webhooks until SIGTERM (the default).
    Run,
    /// Create the alerts table (and the topics it reads) where missing, then exit.
    Migrate,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AlertsSettings {
    /// Address of the health endpoints and `/metrics`.
    #[arg(long, env = "OOT_ALERTS_LISTEN", default_value = "127.0.0.1:8083")]
    pub listen: SocketAddr,

    /// The evaluator's consumer group, on the callback and deliveries topics. Run one evaluator
    /// per group: its state is one projection of every partition.
    #[arg(long, env = "OOT_ALERTS_GROUP", default_value = "oot-alerts")]
    pub group: String,

    /// The rules and webhooks (TOML; `alerts/alerts.toml` documents each setting). Unset: the
    /// built-in defaults and no webhooks.
    #[arg(long = "alerts-config", env = "OOT_ALERTS_CONFIG")]
    pub alerts_config: Option<PathBuf>,

    /// The query service's public address, for the alerts page link in each webhook body.
    #[arg(long = "hud-url", env = "OOT_ALERTS_HUD_URL")]
    pub hud_url: Option<String>,

    /// How often (ms) the rules time alone changes (stale, refusals leaving the hour) are
    /// judged.
    #[arg(long = "tick-ms", env = "OOT_ALERTS_TICK_MS", default_value_t = 60_000)]
    pub tick_ms: u64,

    /// A batch closes this long (ms) after its first message (or at 500 messages); its state
    /// is then stored and its offsets committed.
    #[arg(
        long = "batch-wait-ms",
        env = "OOT_ALERTS_BATCH_WAIT_MS",
        default_value_t = 200
    )]
    pub batch_wait_ms: u64,

    /// Days a closed alert and a webhook delivery are kept after their transition (DynamoDB's
    /// time to live deletes them then; open alerts are kept while open). The alerts pages show
    /// at most this far back.
    #[arg(
        long = "retention-days",
        env = "OOT_ALERTS_RETENTION_DAYS",
        default_value_t = 90,
        value_parser = clap::value_parser!(u32).range(1..=3650)
    )]
    pub retention_days: u32,

    #[command(flatten)]
    pub kafka: KafkaSettings,

    #[command(flatten)]
    pub dynamo: DynamoSettings,

    /// From [`SECRET_VARIABLE`] only.
    #[arg(skip)]
    pub webhook_secret: Option<SecretString>,
}

impl AlertsSettings {
    /// These settings with the secret read from the environment.
    pub fn with_secret_from_env(self) -> AlertsSettings {
        let webhook_secret = std::env::var(SECRET_VARIABLE)
            .ok()
            .filter(|s| !s.is_empty())
            .map(SecretString::from);
        AlertsSettings {
            webhook_secret,
            ..self
        }
    }

    /// [`AlertsSettings::retention_days`] in seconds.
    pub fn retention_secs(&self) -> i64 {
        i64::from(self.retention_days) * 86_400
    }

    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms.max(100))
    }

    pub fn batch_wait(&self) -> Duration {
        Duration::from_millis(self.batch_wait_ms)
    }
}
