//! The ingest service's command line and settings.

use std::net::SocketAddr;

use clap::Parser;
use oot_platform::settings::KafkaSettings;
use secrecy::SecretString;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "oot-ingest",
    version,
    about = "Accepts relay callbacks and appends them to the event log"
)]
pub struct IngestConfig {
    /// Address the callback endpoint is served on.
    #[arg(long, env = "OOT_INGEST_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The secret(s) shared with the relay, comma separated (several during a rotation).
    /// From the environment in deployments: flags show up in `ps`.
    #[arg(long, env = "OOT_INGEST_TOKENS", hide_env_values = true)]
    pub tokens: Option<SecretString>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "OOT_INGEST_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Bytes of request bodies read, parsed and validated at once; requests beyond wait their
    /// turn. A parsed body takes many times its size in memory, so this bounds ingest's memory
    /// under a burst of big bodies (at least one body always goes through).
    #[arg(
        long,
        env = "OOT_INGEST_MAX_BODY_BYTES_IN_FLIGHT",
        default_value_t = 32 * 1024 * 1024
    )]
    pub max_body_bytes_in_flight: usize,

    /// Longest time, in ms, to receive a whole request body once its bytes are counted in the
    /// budget above; a slower sender is answered 408, so it cannot hold the budget (and the
    /// callbacks waiting on it) for as long as it likes. 2 MiB in 30 s is ~70 KiB/s, far below
    /// what the relay sends at; 30 s leaves room for bodies that waited their turn under load.
    #[arg(
        long,
        env = "OOT_INGEST_BODY_READ_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    pub body_read_timeout_ms: u64,

    /// Callbacks accepted per downstream repo within the sliding window (0: no limit).
    #[arg(long, env = "OOT_INGEST_RATE_LIMIT", default_value_t = 600)]
    pub rate_limit: u32,

    /// Length of the rate limit's sliding window, in seconds.
    #[arg(long, env = "OOT_INGEST_RATE_WINDOW_SECS", default_value_t = 60)]
    pub rate_window_secs: u64,

    /// Delivery receipts of refused callbacks recorded per downstream repo within the same
    /// sliding window (0: no bound). A downstream stuck in a loop of refused callbacks gets this
    /// many on its deliveries page per window; the rest are counted in
    /// `oot_ingest_receipts_total{result="over_budget"}`, so the topic and table stay bounded.
    #[arg(long, env = "OOT_INGEST_RECEIPT_LIMIT", default_value_t = 120)]
    pub receipt_limit: u32,

    /// Longest wait for the broker's acknowledgement of one event before answering 503, in ms.
    #[arg(long, env = "OOT_INGEST_DELIVERY_TIMEOUT_MS", default_value_t = 10_000)]
    pub delivery_timeout_ms: u64,

    /// How long the producer lets a batch fill before sending it, in ms (librdkafka `linger.ms`).
    #[arg(long, env = "OOT_INGEST_LINGER_MS", default_value_t = 1)]
    pub linger_ms: u64,

    /// `Retry-After` of a 503 answered while the event log is unavailable, in seconds.
    #[arg(
        long,
        env = "OOT_INGEST_UNAVAILABLE_RETRY_AFTER_SECS",
        default_value_t = 5
    )]
    pub unavailable_retry_after_secs: u64,

    #[command(flatten)]
    pub kafka: KafkaSettings,
}
