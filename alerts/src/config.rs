//! The alert rules per backend, and where each backend's alerts are sent: one TOML file
//! (`alerts/alerts.toml` documents every setting), `[defaults]` for every backend,
//! `[backends."org/repo"]` for one backend's webhook URLs and `[backends."org/repo".rules]` for
//! its overrides, `[webhooks]` for how deliveries are retried. A key that is not a setting, and
//! a value out of its range, are refused naming the setting (the pattern of
//! `readiness/src/thresholds.rs`), so a typo cannot silently keep a default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use oot_contract::RepoName;
use serde::{Deserialize, Serialize};

/// One backend's rules, every one resolved. A count of 0 turns its rule off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rules {
    /// `failing_streak`: this many failed nightly runs in a row (0: off).
    pub failing_streak: u32,
    /// `m_of_k`: at least `m_of_k_failures` failed among the last `m_of_k_runs` rated runs of
    /// any trigger (`m_of_k_failures` 0: off).
    pub m_of_k_failures: u32,
    pub m_of_k_runs: u32,
    /// `pass_rate`: the pass rate of the last `pass_rate_runs` rated runs under this
    /// (`pass_rate_runs` 0: off). Judged only once that many runs are known.
    pub pass_rate_below: f64,
    pub pass_rate_runs: u32,
    /// `stale`: no completed result of the slot for this many days (0: off).
    pub stale_days: u32,
    /// `refusals`: more than this many refused callbacks of the backend within one hour
    /// (0: off).
    pub refusals_per_hour: u32,
    /// A failure rule's alert closes after this many passes in a row, once its condition no
    /// longer holds.
    pub recovery_passes: u32,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            failing_streak: 3,
            m_of_k_failures: 3,
            m_of_k_runs: 5,
            // The readiness pass-rate gate (readiness/readiness.toml `pass_rate_at_least`).
            pass_rate_below: 0.90,
            pass_rate_runs: 20,
            stale_days: 3,
            refusals_per_hour: 20,
            recovery_passes: 2,
        }
    }
}

impl Rules {
    /// How many runs of any trigger a slot must keep for these rules.
    pub fn runs_kept(&self) -> usize {
        [self.m_of_k_runs, self.pass_rate_runs, self.recovery_passes]
            .into_iter()
            .max()
            .unwrap_or(0) as usize
    }

    /// How many nightly runs a slot must keep.
    pub fn nightlies_kept(&self) -> usize {
        self.failing_streak.max(self.recovery_passes) as usize
    }
}

/// How webhook deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WebhookPolicy {
    /// Tries per delivery before it is recorded as failed.
    pub max_attempts: u32,
    /// The wait after the first failure; doubled after each next one...
    pub first_retry_ms: u64,
    /// ...up to this.
    pub max_retry_ms: u64,
    /// How long one POST may take.
    pub timeout_ms: u64,
}

impl Default for WebhookPolicy {
    fn default() -> WebhookPolicy {
        WebhookPolicy {
            max_attempts: 8,
            first_retry_ms: 2_000,
            max_retry_ms: 300_000,
            timeout_ms: 10_000,
        }
    }
}

impl WebhookPolicy {
    /// The wait before try `attempts + 1`, after `attempts` failed ones (at least 1).
    pub fn backoff_ms(&self, attempts: u32) -> u64 {
        let doublings = attempts.saturating_sub(1).min(32);
        self.first_retry_ms
            .saturating_mul(1u64 << doublings)
            .min(self.max_retry_ms)
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AlertsConfig {
    pub defaults: Rules,
    pub webhooks: WebhookPolicy,
    pub backends: BTreeMap<String, Backend>,
}

/// One backend's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backend {
    pub rules: Rules,
    /// Where its alerts are POSTed.
    pub webhooks: Vec<String>,
}

impl AlertsConfig {
    /// `backend`'s rules: its overrides, else the defaults.
    pub fn rules(&self, backend: &str) -> Rules {
        self.backends
            .get(backend)
            .map_or(self.defaults, |b| b.rules)
    }

    /// `backend`'s webhook URLs (none: its alerts are recorded and shown, not sent).
    pub fn webhooks(&self, backend: &str) -> &[String] {
        self.backends
            .get(backend)
            .map_or(&[], |b| b.webhooks.as_slice())
    }

    /// Whether any backend has a webhook (then a signing secret is required).
    pub fn any_webhook(&self) -> bool {
        self.backends.values().any(|b| !b.webhooks.is_empty())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    failing_streak: Option<i64>,
    m_of_k_failures: Option<i64>,
    m_of_k_runs: Option<i64>,
    pass_rate_below: Option<f64>,
    pass_rate_runs: Option<i64>,
    stale_days: Option<i64>,
    refusals_per_hour: Option<i64>,
    recovery_passes: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhooksFile {
    max_attempts: Option<i64>,
    first_retry_ms: Option<i64>,
    max_retry_ms: Option<i64>,
    timeout_ms: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendFile {
    #[serde(default)]
    webhooks: Vec<String>,
    rules: Option<RulesFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    defaults: Option<RulesFile>,
    webhooks: Option<WebhooksFile>,
    #[serde(default)]
    backends: BTreeMap<String, BackendFile>,
}

/// Why a configuration could not be used, naming the file and the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the alerts configuration: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}{message}", Origin(path.as_deref()))]
    Syntax {
        path: Option<PathBuf>,
        message: String,
    },
    #[error("{}`{field}` = {value}: {expected}", Origin(path.as_deref()))]
    OutOfRange {
        path: Option<PathBuf>,
        field: String,
        value: String,
        expected: &'static str,
    },
}

struct Origin<'a>(Option<&'a Path>);

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, "{}: ", path.display()),
            None => Ok(()),
        }
    }
}

impl ConfigError {
    fn in_file(self, file: &Path) -> ConfigError {
        match self {
            ConfigError::Syntax { message, .. } => ConfigError::Syntax {
                path: Some(file.to_owned()),
                message,
            },
            ConfigError::OutOfRange {
                field,
                value,
                expected,
                ..
            } => ConfigError::OutOfRange {
                path: Some(file.to_owned()),
                field,
                value,
                expected,
            },
            read @ ConfigError::Read { .. } => read,
        }
    }
}

fn out_of_range(field: String, value: String, expected: &'static str) -> ConfigError {
    ConfigError::OutOfRange {
        path: None,
        field,
        value,
        expected,
    }
}

fn whole(
    field: String,
    value: i64,
    min: i64,
    max: i64,
    expected: &'static str,
) -> Result<u32, ConfigError> {
    if value < min || value > max {
        return Err(out_of_range(field, value.to_string(), expected));
    }
    u32::try_from(value).map_err(|_| out_of_range(field, value.to_string(), expected))
}

fn millis(field: String, value: i64) -> Result<u64, ConfigError> {
    const EXPECTED: &str = "must be a whole number of milliseconds from 1 to 86400000 (a day)";
    if !(1..=86_400_000).contains(&value) {
        return Err(out_of_range(field, value.to_string(), EXPECTED));
    }
    u64::try_from(value).map_err(|_| out_of_range(field, value.to_string(), EXPECTED))
}

const STREAK: &str = "must be a whole number of runs from 0 (off) to 100";
const RUNS: &str = "must be a whole number of runs from 0 (off) to 200";
const RUNS_AT_LEAST_1: &str = "must be a whole number of runs from 1 to 200";
const DAYS: &str = "must be a whole number of days from 0 (off) to 365";
const REFUSALS: &str = "must be a whole number of refusals from 0 (off) to 100000";
const FRACTION: &str = "must be a fraction from 0 to 1 (0.9 is 90%)";
const ATTEMPTS: &str = "must be a whole number of tries from 1 to 100";

impl Rules {
    fn apply(mut self, file: &RulesFile, section: &str) -> Result<Rules, ConfigError> {
        let name = |key: &str| format!("{section}.{key}");
        if let Some(v) = file.failing_streak {
            self.failing_streak = whole(name("failing_streak"), v, 0, 100, STREAK)?;
        }
        if let Some(v) = file.m_of_k_failures {
            self.m_of_k_failures = whole(name("m_of_k_failures"), v, 0, 200, RUNS)?;
        }
        if let Some(v) = file.m_of_k_runs {
            self.m_of_k_runs = whole(name("m_of_k_runs"), v, 1, 200, RUNS_AT_LEAST_1)?;
        }
        if let Some(v) = file.pass_rate_below {
            if !(0.0..=1.0).contains(&v) {
                return Err(out_of_range(
                    name("pass_rate_below"),
                    v.to_string(),
                    FRACTION,
                ));
            }
            self.pass_rate_below = v;
        }
        if let Some(v) = file.pass_rate_runs {
            self.pass_rate_runs = whole(name("pass_rate_runs"), v, 0, 200, RUNS)?;
        }
        if let Some(v) = file.stale_days {
            self.stale_days = whole(name("stale_days"), v, 0, 365, DAYS)?;
        }
        if let Some(v) = file.refusals_per_hour {
            self.refusals_per_hour = whole(name("refusals_per_hour"), v, 0, 100_000, REFUSALS)?;
        }
        if let Some(v) = file.recovery_passes {
            self.recovery_passes = whole(name("recovery_passes"), v, 1, 200, RUNS_AT_LEAST_1)?;
        }
        if self.m_of_k_failures > self.m_of_k_runs {
            // M of K with M > K can never hold: surely not what was meant.
            return Err(out_of_range(
                name("m_of_k_failures"),
                self.m_of_k_failures.to_string(),
                "must be at most m_of_k_runs",
            ));
        }
        Ok(self)
    }
}

impl WebhookPolicy {
    fn apply(mut self, file: &WebhooksFile) -> Result<WebhookPolicy, ConfigError> {
        if let Some(v) = file.max_attempts {
            self.max_attempts = whole("webhooks.max_attempts".into(), v, 1, 100, ATTEMPTS)?;
        }
        if let Some(v) = file.first_retry_ms {
            self.first_retry_ms = millis("webhooks.first_retry_ms".into(), v)?;
        }
        if let Some(v) = file.max_retry_ms {
            self.max_retry_ms = millis("webhooks.max_retry_ms".into(), v)?;
        }
        if let Some(v) = file.timeout_ms {
            self.timeout_ms = millis("webhooks.timeout_ms".into(), v)?;
        }
        if self.max_retry_ms < self.first_retry_ms {
            return Err(out_of_range(
                "webhooks.max_retry_ms".into(),
                self.max_retry_ms.to_string(),
                "must be at least first_retry_ms",
            ));
        }
        Ok(self)
    }
}

/// A webhook URL this service will POST to: `https://`, or `http://` to a loopback host only
/// (a receiver on the same machine, as the tests run): an alert's body must not cross a
/// network in clear text.
fn check_webhook(field: String, url: &str) -> Result<String, ConfigError> {
    const EXPECTED: &str =
        "must be an https:// URL (http:// only to 127.0.0.1, [::1] or localhost)";
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| out_of_range(field.clone(), format!("{url:?}"), EXPECTED))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    let ok = parsed.host_str().is_some_and(|h| !h.is_empty())
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && (parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback));
    if ok {
        Ok(url.to_owned())
    } else {
        Err(out_of_range(field, format!("{url:?}"), EXPECTED))
    }
}

impl AlertsConfig {
    /// The configuration a TOML text sets, the defaults for what it leaves out.
    pub fn from_toml_str(text: &str) -> Result<AlertsConfig, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|error| ConfigError::Syntax {
            path: None,
            message: error.to_string(),
        })?;
        let defaults = match &file.defaults {
            Some(rules) => Rules::default().apply(rules, "defaults")?,
            None => Rules::default(),
        };
        let webhooks = match &file.webhooks {
            Some(policy) => WebhookPolicy::default().apply(policy)?,
            None => WebhookPolicy::default(),
        };
        let mut backends = BTreeMap::new();
        for (name, backend) in &file.backends {
            let section = format!("backends.{name:?}");
            let repo = RepoName::parse(name).map_err(|_| {
                out_of_range(
                    section.clone(),
                    format!("{name:?}"),
                    "must be a downstream repo, `org/name`",
                )
            })?;
            let rules = match &backend.rules {
                Some(rules) => defaults.apply(rules, &format!("{section}.rules"))?,
                None => defaults,
            };
            let webhooks = backend
                .webhooks
                .iter()
                .enumerate()
                .map(|(i, url)| check_webhook(format!("{section}.webhooks[{i}]"), url))
                .collect::<Result<Vec<_>, _>>()?;
            backends.insert(repo.as_str().to_owned(), Backend { rules, webhooks });
        }
        Ok(AlertsConfig {
            defaults,
            webhooks,
            backends,
        })
    }

    /// The configuration in the TOML file at `path`; every error names the file.
    pub fn load(path: &Path) -> Result<AlertsConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        AlertsConfig::from_toml_str(&text).map_err(|error| error.in_file(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_parses_and_its_defaults_are_the_built_in_ones() {
        let shipped = include_str!("../alerts.toml");
        let config = AlertsConfig::from_toml_str(shipped).expect("the shipped file is valid");
        assert_eq!(config.defaults, Rules::default());
        assert_eq!(config.webhooks, WebhookPolicy::default());
    }

    #[test]
    fn a_backend_overrides_the_defaults_and_has_its_webhooks() {
        let config = AlertsConfig::from_toml_str(
            r#"
            [defaults]
            failing_streak = 4
            [backends."intel/torch-xpu-ops"]
            webhooks = ["https://hooks.example/x", "http://127.0.0.1:9/y"]
            [backends."intel/torch-xpu-ops".rules]
            failing_streak = 2
            "#,
        )
        .expect("valid");
        assert_eq!(config.rules("intel/torch-xpu-ops").failing_streak, 2);
        assert_eq!(config.rules("intel/torch-xpu-ops").m_of_k_runs, 5);
        assert_eq!(config.rules("other/repo").failing_streak, 4);
        assert_eq!(config.webhooks("intel/torch-xpu-ops").len(), 2);
        assert!(config.webhooks("other/repo").is_empty());
        assert!(config.any_webhook());
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let error =
            AlertsConfig::from_toml_str("[defaults]\nfailing_streek = 3\n").expect_err("a typo");
        assert!(error.to_string().contains("failing_streek"), "{error}");
        let error =
            AlertsConfig::from_toml_str("[backends.\"a/b\"]\nwebhook = [\"https://x.example\"]\n")
                .expect_err("a typo");
        assert!(error.to_string().contains("webhook"), "{error}");
    }

    #[test]
    fn values_out_of_range_are_refused_naming_the_setting() {
        let cases = [
            (
                "[defaults]\npass_rate_below = 1.5\n",
                "defaults.pass_rate_below",
            ),
            (
                "[defaults]\nfailing_streak = -1\n",
                "defaults.failing_streak",
            ),
            (
                "[defaults]\nrecovery_passes = 0\n",
                "defaults.recovery_passes",
            ),
            (
                "[defaults]\nm_of_k_failures = 6\nm_of_k_runs = 5\n",
                "defaults.m_of_k_failures",
            ),
            ("[webhooks]\nmax_attempts = 0\n", "webhooks.max_attempts"),
            (
                "[backends.\"a/b\"]\nwebhooks = [\"http://hooks.example/x\"]\n",
                "webhooks[0]",
            ),
            ("[backends.\"not a repo\"]\n", "not a repo"),
            (
                "[backends.\"a/b\".rules]\nstale_days = 400\n",
                "rules.stale_days",
            ),
        ];
        for (text, named) in cases {
            let error = AlertsConfig::from_toml_str(text).expect_err(text);
            assert!(error.to_string().contains(named), "{text}: {error}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let policy = WebhookPolicy {
            max_attempts: 5,
            first_retry_ms: 100,
            max_retry_ms: 350,
            timeout_ms: 1000,
        };
        let waits: Vec<u64> = (1..=5).map(|n| policy.backoff_ms(n)).collect();
        assert_eq!(waits, [100, 200, 350, 350, 350]);
        assert_eq!(policy.backoff_ms(u32::MAX), 350);
    }
}
