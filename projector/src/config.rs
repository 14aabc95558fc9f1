//! The projector's command line: `run` (the default), `migrate`, `replay` or `redrive`, with its
//! settings.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use oot_platform::settings::StoreSettings;

#[derive(Debug, Parser)]
#[command(
    name = "oot-projector",
    version,
    about = "Projects the callback events into DynamoDB and ClickHouse"
)]
pub struct ProjectorCli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub config: ProjectorConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the projector until SIGTERM (the default).
    Run,
    /// Create the topics, the DynamoDB table and the ClickHouse table where missing, then exit.
    Migrate,
    /// Rebuild both projections from the log into fresh tables, then exit.
    Replay(crate::replay::ReplayArgs),
    /// Put dead letters back on the event topic (once their cause is fixed), then exit.
    Redrive(crate::redrive::RedriveArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ProjectorConfig {
    /// Address of the health endpoints and `/metrics`.
    #[arg(long, env = "OOT_PROJECTOR_LISTEN", default_value = "127.0.0.1:8082")]
    pub listen: SocketAddr,

    /// Consumer group of the projectors (instances of one group share the partitions).
    #[arg(long, env = "OOT_PROJECTOR_GROUP", default_value = "oot-projector")]
    pub group: String,

    /// A batch closes at this many events...
    #[arg(long, env = "OOT_PROJECTOR_BATCH_EVENTS", default_value_t = crate::source::DEFAULT_BATCH_EVENTS)]
    pub batch_events: usize,

    /// ...or this many bytes of payload (a batch of 1,000 callbacks of 2 MiB would be 2 GB)...
    #[arg(long, env = "OOT_PROJECTOR_BATCH_BYTES", default_value_t = crate::source::DEFAULT_BATCH_BYTES)]
    pub batch_bytes: usize,

    /// ...or this long (ms) after its first event.
    #[arg(long, env = "OOT_PROJECTOR_BATCH_WAIT_MS", default_value_t = 100)]
    pub batch_wait_ms: u64,

    /// Static group membership (Kafka's `group.instance.id`): a restarted projector with the
    /// same id gets its partitions back at once, without a rebalance or waiting for the session
    /// timeout. Default: `{host name}-{listen port}`, stable across restarts of one deployment;
    /// none (dynamic membership) when the listen port is 0 or the value is empty. Two running
    /// projectors of one group must not share an id (the broker fences the older one).
    #[arg(long, env = "OOT_PROJECTOR_INSTANCE_ID")]
    pub instance_id: Option<String>,

    /// How long (ms) the group waits for a silent member before giving its partitions to the
    /// others: how long a crashed projector's partitions stand still if it does not come back.
    #[arg(
        long,
        env = "OOT_PROJECTOR_SESSION_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub session_timeout_ms: u32,

    #[command(flatten)]
    pub stores: StoreSettings,
}

impl ProjectorConfig {
    pub fn batch_wait(&self) -> Duration {
        Duration::from_millis(self.batch_wait_ms)
    }

    /// The `group.instance.id` to use, if any (see [`ProjectorConfig::instance_id`]).
    pub fn group_instance_id(&self) -> Option<String> {
        match &self.instance_id {
            Some(id) if id.is_empty() => None,
            Some(id) => Some(id.clone()),
            None if self.listen.port() == 0 => None,
            None => Some(default_instance_id(&host_name(), self.listen.port())),
        }
    }
}

/// This machine's host name (the container's, in a deployment), or `localhost`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// `{host}-{port}`, with what Kafka ids do not allow replaced by `_`.
pub fn default_instance_id(host: &str, port: u16) -> String {
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    format!("oot-projector-{host}-{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(listen: &str, instance_id: Option<&str>) -> ProjectorConfig {
        let cli = ProjectorCli::parse_from(["oot-projector", "--listen", listen]);
        ProjectorConfig {
            instance_id: instance_id.map(str::to_owned),
            ..cli.config
        }
    }

    #[test]
    fn the_instance_id_is_stable_per_host_and_port_unless_set_or_unknowable() {
        let derived = config("127.0.0.1:8082", None).group_instance_id();
        assert_eq!(derived, config("127.0.0.1:8082", None).group_instance_id());
        assert!(derived.is_some_and(|id| id.ends_with("-8082")));
        assert_eq!(config("127.0.0.1:0", None).group_instance_id(), None);
        assert_eq!(config("127.0.0.1:8082", Some("")).group_instance_id(), None);
        assert_eq!(
            config("127.0.0.1:0", Some("p-1")).group_instance_id(),
            Some("p-1".to_owned())
        );
        assert_eq!(default_instance_id("a b/c", 1), "oot-projector-a_b_c-1");
    }

    #[test]
    fn the_session_timeout_defaults_to_ten_seconds() {
        use clap::CommandFactory;
        let command = ProjectorCli::command();
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == "session_timeout_ms")
            .map(|a| a.get_default_values()[0].to_string_lossy().into_owned());
        assert_eq!(arg.as_deref(), Some("10000"));
    }
}
