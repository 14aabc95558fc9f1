//! Where the backing stores are and what the project's objects in them are called.
//!
//! Every setting is a flag with an `OOT_*` environment variable and a loopback default that
//! matches `compose/stack.sh`, so a service started with no configuration talks to the local
//! stack. Settings are checked without I/O ([`StoreSettings::validate`]) before any client
//! connects, so a typo fails at start-up and names the setting.

use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

/// The Kafka cluster and the event topic.
#[derive(Debug, Clone, Args)]
pub struct KafkaSettings {
    /// Bootstrap servers, comma separated.
    #[arg(
        id = "kafka-brokers",
        long = "kafka-brokers",
        env = "OOT_KAFKA_BROKERS",
        default_value = "127.0.0.1:9092"
    )]
    pub brokers: String,

    /// The topic that holds one Avro event per accepted callback.
    #[arg(
        id = "kafka-topic",
        long = "kafka-topic",
        env = "OOT_KAFKA_TOPIC",
        default_value = "oot-callbacks"
    )]
    pub topic: String,

    /// Partitions of the event topic when the project creates it (an existing topic is kept).
    #[arg(
        id = "kafka-partitions",
        long = "kafka-partitions",
        env = "OOT_KAFKA_PARTITIONS",
        default_value_t = 6
    )]
    pub partitions: i32,

    /// Replicas of the event topic when the project creates it (1 for the local single node).
    #[arg(
        id = "kafka-replication",
        long = "kafka-replication",
        env = "OOT_KAFKA_REPLICATION",
        default_value_t = 1
    )]
    pub replication: i32,

    /// The topic of delivery receipts: one Avro receipt per authenticated callback ingest
    /// refuses, read by the projector into the deliveries table (docs/contract.md §16). Same
    /// partitions and replicas as the event topic; retention 7 days (a receipt is needed until
    /// projected, the table keeps it).
    #[arg(
        id = "kafka-deliveries-topic",
        long = "kafka-deliveries-topic",
        env = "OOT_KAFKA_DELIVERIES_TOPIC",
        default_value = "oot-deliveries"
    )]
    pub deliveries_topic: String,
}

/// The DynamoDB endpoint and the job-state table.
#[derive(Debug, Clone, Args)]
pub struct DynamoSettings {
    /// Endpoint URL; the local stack runs dynoxide here. Unset it with an empty value to use
    /// AWS's regional endpoint and the default credential chain.
    #[arg(
        id = "dynamo-endpoint",
        long = "dynamo-endpoint",
        env = "OOT_DYNAMO_ENDPOINT",
        default_value = "http://127.0.0.1:8000"
    )]
    pub endpoint: String,

    /// AWS region of the table.
    #[arg(
        id = "dynamo-region",
        long = "dynamo-region",
        env = "OOT_DYNAMO_REGION",
        default_value = "us-east-1"
    )]
    pub region: String,

    /// The job-state table (HUD's name by default).
    #[arg(
        id = "dynamo-table",
        long = "dynamo-table",
        env = "OOT_DYNAMO_TABLE",
        default_value = "torchci-oot-workflow-job"
    )]
    pub table: String,
}

/// The ClickHouse server and the completed-jobs table.
#[derive(Debug, Clone, Args)]
pub struct ClickHouseSettings {
    /// HTTP interface URL.
    #[arg(
        id = "clickhouse-url",
        long = "clickhouse-url",
        env = "OOT_CLICKHOUSE_URL",
        default_value = "http://127.0.0.1:8123"
    )]
    pub url: String,

    /// User name.
    #[arg(
        id = "clickhouse-user",
        long = "clickhouse-user",
        env = "OOT_CLICKHOUSE_USER",
        default_value = "default"
    )]
    pub user: String,

    /// Password; from the environment only in deployments (flags show up in `ps`).
    #[arg(
        id = "clickhouse-password",
        long = "clickhouse-password",
        env = "OOT_CLICKHOUSE_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    pub password: SecretString,

    /// Database holding the project's tables.
    #[arg(
        id = "clickhouse-database",
        long = "clickhouse-database",
        env = "OOT_CLICKHOUSE_DATABASE",
        default_value = "oot_hud"
    )]
    pub database: String,

    /// Table of completed jobs.
    #[arg(
        id = "clickhouse-table",
        long = "clickhouse-table",
        env = "OOT_CLICKHOUSE_TABLE",
        default_value = "oot_workflow_job"
    )]
    pub table: String,

    /// Cluster the DDL runs on (`ON CLUSTER name`); empty for one server (and for ClickHouse
    /// Cloud, which replicates DDL itself). See `platform/src/placement.rs`.
    #[arg(
        id = "clickhouse-cluster",
        long = "clickhouse-cluster",
        env = "OOT_CLICKHOUSE_CLUSTER",
        default_value = ""
    )]
    pub cluster: String,

    /// Make the tables on `Replicated…MergeTree` engines (`{shard}`/`{replica}` macros of each
    /// node); false for one server and for ClickHouse Cloud (its shared engines replicate).
    #[arg(
        id = "clickhouse-replicated",
        long = "clickhouse-replicated",
        env = "OOT_CLICKHOUSE_REPLICATED",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub replicated: bool,

    /// Days a completed job is kept, counted from when the job was first seen (`first_seen_at`,
    /// our clock; the table's TTL on ClickHouse 19.6+, monthly partitions dropped on 18.16).
    #[arg(
        id = "clickhouse-ttl-days",
        long = "clickhouse-ttl-days",
        env = "OOT_CLICKHOUSE_TTL_DAYS",
        default_value_t = 730
    )]
    pub ttl_days: u32,

    /// Days a delivery receipt is kept in the deliveries table, counted from when ingest
    /// received the callback (the table's TTL on 19.6+, monthly partitions dropped on 18.16).
    #[arg(
        id = "clickhouse-deliveries-ttl-days",
        long = "clickhouse-deliveries-ttl-days",
        env = "OOT_CLICKHOUSE_DELIVERIES_TTL_DAYS",
        default_value_t = 90
    )]
    pub deliveries_ttl_days: u32,
}

/// All three stores: what the projector and the migrations need.
#[derive(Debug, Clone, Args)]
pub struct StoreSettings {
    #[command(flatten)]
    pub kafka: KafkaSettings,
    #[command(flatten)]
    pub dynamo: DynamoSettings,
    #[command(flatten)]
    pub clickhouse: ClickHouseSettings,
}

/// A setting that cannot work, named so the operator can fix it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {problem}")]
pub struct InvalidSetting {
    pub setting: &'static str,
    pub problem: String,
}

fn invalid(setting: &'static str, problem: impl Into<String>) -> InvalidSetting {
    InvalidSetting {
        setting,
        problem: problem.into(),
    }
}

/// ClickHouse identifiers are spliced into SQL (they cannot be bound), so only plain names pass.
pub fn check_identifier(setting: &'static str, name: &str) -> Result<(), InvalidSetting> {
    let plain = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        Ok(())
    } else {
        Err(invalid(
            setting,
            format!("{name:?} is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)"),
        ))
    }
}

/// Whether `name` is a legal Kafka topic name.
fn legal_topic(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

impl KafkaSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.brokers.trim().is_empty() {
            return Err(invalid("OOT_KAFKA_BROKERS", "empty"));
        }
        if !legal_topic(&self.topic) {
            return Err(invalid(
                "OOT_KAFKA_TOPIC",
                format!("{:?} is not a legal Kafka topic name", self.topic),
            ));
        }
        if !legal_topic(&self.deliveries_topic) {
            return Err(invalid(
                "OOT_KAFKA_DELIVERIES_TOPIC",
                format!(
                    "{:?} is not a legal Kafka topic name",
                    self.deliveries_topic
                ),
            ));
        }
        if self.deliveries_topic == self.topic {
            // A receipt on the event topic would be an undecodable event (a dead letter).
            return Err(invalid(
                "OOT_KAFKA_DELIVERIES_TOPIC",
                "must differ from OOT_KAFKA_TOPIC",
            ));
        }
        if self.partitions < 1 {
            return Err(invalid("OOT_KAFKA_PARTITIONS", "must be at least 1"));
        }
        if self.replication < 1 {
            return Err(invalid("OOT_KAFKA_REPLICATION", "must be at least 1"));
        }
        Ok(())
    }

    /// These settings with the deliveries topic as the topic (its clients, its creation).
    pub fn deliveries(&self) -> KafkaSettings {
        KafkaSettings {
            topic: self.deliveries_topic.clone(),
            ..self.clone()
        }
    }

    /// librdkafka settings shared by every client of the cluster.
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        let mut config = rdkafka::ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            // Callbacks carry up to 2 MiB of JSON; the topic allows 8 MiB messages.
            .set("message.max.bytes", "8388608")
            .set("socket.keepalive.enable", "true");
        config
    }
}

impl DynamoSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !self.endpoint.is_empty() && !self.endpoint.starts_with("http") {
            return Err(invalid(
                "OOT_DYNAMO_ENDPOINT",
                format!("{:?} is not an http(s) URL", self.endpoint),
            ));
        }
        let table_ok = (3..=255).contains(&self.table.len())
            && self
                .table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !table_ok {
            return Err(invalid(
                "OOT_DYNAMO_TABLE",
                format!("{:?} is not a legal DynamoDB table name", self.table),
            ));
        }
        Ok(())
    }

    /// A client for the endpoint. With an explicit endpoint (the local stack) the credentials
    /// are static placeholders, which dynoxide ignores; without one, AWS's default chain.
    pub async fn client(&self) -> aws_sdk_dynamodb::Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(self.region.clone()))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(5))
                    .operation_timeout(Duration::from_secs(20))
                    .build(),
            );
        if !self.endpoint.is_empty() {
            loader = loader.endpoint_url(&self.endpoint).credentials_provider(
                aws_sdk_dynamodb::config::Credentials::new(
                    "local",
                    "local",
                    None,
                    None,
                    "oot-hud-local",
                ),
            );
        }
        aws_sdk_dynamodb::Client::new(&loader.load().await)
    }
}

impl ClickHouseSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !self.url.starts_with("http://") && !self.url.starts_with("https://") {
            return Err(invalid(
                "OOT_CLICKHOUSE_URL",
                format!("{:?} is not an http(s) URL", self.url),
            ));
        }
        check_identifier("OOT_CLICKHOUSE_DATABASE", &self.database)?;
        check_identifier("OOT_CLICKHOUSE_TABLE", &self.table)?;
        if !self.cluster.is_empty() {
            check_identifier("OOT_CLICKHOUSE_CLUSTER", &self.cluster)?;
        }
        if self.ttl_days == 0 {
            return Err(invalid("OOT_CLICKHOUSE_TTL_DAYS", "must be at least 1"));
        }
        if self.deliveries_ttl_days == 0 {
            return Err(invalid(
                "OOT_CLICKHOUSE_DELIVERIES_TTL_DAYS",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// A client whose current database is the project's (inserts take a bare table name).
    /// Queries still name `database.table` in full, which reads well in the SQL files.
    pub fn client(&self) -> clickhouse::Client {
        let client = clickhouse::Client::default()
            .with_url(&self.url)
            .with_user(&self.user)
            .with_database(&self.database)
            // The crate's schema validation asks for RowBinaryWithNamesAndTypes, which the
            // Debian ClickHouse (18.16) of the local stack does not have.
            .with_validation(false);
        let password = self.password.expose_secret();
        if password.is_empty() {
            client
        } else {
            client.with_password(password)
        }
    }

    /// Where the DDL puts the tables (one server, or a cluster of replicas).
    pub fn placement(&self) -> crate::placement::Placement<'_> {
        crate::placement::Placement {
            cluster: Some(self.cluster.as_str()).filter(|c| !c.is_empty()),
            replicated: self.replicated,
        }
    }

    /// `statement` (DDL) as [`Self::placement`] has it.
    pub fn ddl(&self, statement: &str) -> String {
        self.placement().apply(statement)
    }

    /// `database.table`, both checked by [`Self::validate`].
    pub fn qualified_table(&self) -> String {
        format!("{}.{}", self.database, self.table)
    }
}

impl StoreSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.kafka.validate()?;
        self.dynamo.validate()?;
        self.clickhouse.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        stores: StoreSettings,
    }

    #[test]
    fn defaults_point_at_the_local_stack_and_are_valid() {
        // The declared defaults, read from the command definition: parsing would also read the
        // OOT_* variables of whoever runs the tests (compose/test.sh sets them).
        use clap::CommandFactory;
        let command = Cli::command();
        let default = |id: &str| {
            let arg = command
                .get_arguments()
                .find(|a| a.get_id() == id)
                .expect(id);
            arg.get_default_values()[0].to_string_lossy().into_owned()
        };
        assert_eq!(default("kafka-brokers"), "127.0.0.1:9092");
        assert_eq!(default("dynamo-endpoint"), "http://127.0.0.1:8000");
        assert_eq!(default("clickhouse-url"), "http://127.0.0.1:8123");
        assert_eq!(default("dynamo-table"), "torchci-oot-workflow-job");
        assert_eq!(default("clickhouse-database"), "oot_hud");
        assert_eq!(default("clickhouse-table"), "oot_workflow_job");
        assert_eq!(default("clickhouse-cluster"), "", "one server unless asked");
        assert_eq!(default("clickhouse-replicated"), "false");
        Cli::parse_from(["test"])
            .stores
            .validate()
            .expect("defaults (or the environment's settings) are valid");
    }

    #[test]
    fn identifiers_that_could_inject_sql_are_refused() {
        let cli = Cli::parse_from(["test", "--clickhouse-table", "jobs; DROP TABLE x"]);
        let err = cli.stores.validate().expect_err("must be refused");
        assert_eq!(err.setting, "OOT_CLICKHOUSE_TABLE");
    }

    #[test]
    fn a_bad_topic_name_names_its_setting() {
        let cli = Cli::parse_from(["test", "--kafka-topic", "has space"]);
        assert_eq!(
            cli.stores.validate().expect_err("refused").setting,
            "OOT_KAFKA_TOPIC"
        );
    }

    #[test]
    fn the_deliveries_topic_is_its_own() {
        use clap::CommandFactory;
        let command = Cli::command();
        let default = command
            .get_arguments()
            .find(|a| a.get_id() == "kafka-deliveries-topic")
            .map(|a| a.get_default_values()[0].to_string_lossy().into_owned());
        assert_eq!(default.as_deref(), Some("oot-deliveries"));
        let cli = Cli::parse_from(["test", "--kafka-deliveries-topic", "has space"]);
        assert_eq!(
            cli.stores.validate().expect_err("refused").setting,
            "OOT_KAFKA_DELIVERIES_TOPIC"
        );
        let cli = Cli::parse_from([
            "test",
            "--kafka-topic",
            "t",
            "--kafka-deliveries-topic",
            "t",
        ]);
        assert_eq!(
            cli.stores.validate().expect_err("refused").setting,
            "OOT_KAFKA_DELIVERIES_TOPIC"
        );
        let cli = Cli::parse_from(["test", "--kafka-deliveries-topic", "d"]);
        assert_eq!(cli.stores.kafka.deliveries().topic, "d");
        assert_eq!(
            cli.stores.kafka.deliveries().brokers,
            cli.stores.kafka.brokers
        );
    }

    #[test]
    fn the_password_does_not_print() {
        let cli = Cli::parse_from(["test", "--clickhouse-password", "hunter2"]);
        assert!(!format!("{:?}", cli.stores).contains("hunter2"));
    }
}
