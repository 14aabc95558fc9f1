//! The settings the gates are judged by: every threshold and window of RFC-0054's revised
//! readiness rules (issue 12), read from one TOML file (`readiness/readiness.toml` ships the
//! defaults). They changed several times upstream, so they are settings, never constants in a
//! rule.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::rate::Fraction;

/// One hour and one minute in seconds, for the defaults below.
const HOUR_S: f64 = 3600.0;
const MINUTE_S: f64 = 60.0;

/// Every threshold and window of the scorecard. [`Default`] is RFC-0054's revised values as
/// quoted in issue 12; a configuration file overrides any of them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Whole days a backend must have spent at L2, in its current run at L2, before it can be
    /// promoted (at least; 30).
    pub min_days_at_l2: u32,
    /// The median end-to-end time (queue + execution) of a window's jobs must be under this
    /// (strictly; 3 h).
    pub e2e_p50_under_seconds: f64,
    /// A job whose end-to-end time is over this (strictly) is an overrun (3 h).
    pub overrun_limit_seconds: f64,
    /// The share of a window's jobs that overran must be under this (strictly; 1%).
    pub overrun_rate_under: Fraction,
    /// The average queue time of a window's jobs must be under this (strictly; 30 min).
    pub queue_average_under_seconds: f64,
    /// timed_out / verdict jobs must be under this (strictly; 1%).
    pub timeout_rate_under: Fraction,
    /// success / verdict jobs must be at least this (inclusive; 90%).
    pub pass_rate_at_least: Fraction,
    /// Days of jobs a promotion is judged on (14).
    pub promotion_window_days: u32,
    /// Days of jobs a demotion is judged on (7).
    pub demotion_window_days: u32,
    /// Fewest jobs a gate is judged on: below it the gate says "not enough data" (20; see
    /// `readiness.toml` for why).
    pub min_jobs: u64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            min_days_at_l2: 30,
            e2e_p50_under_seconds: 3.0 * HOUR_S,
            overrun_limit_seconds: 3.0 * HOUR_S,
            overrun_rate_under: PERCENT_1,
            queue_average_under_seconds: 30.0 * MINUTE_S,
            timeout_rate_under: PERCENT_1,
            pass_rate_at_least: PERCENT_90,
            promotion_window_days: 14,
            demotion_window_days: 7,
            min_jobs: 20,
        }
    }
}

const PERCENT_1: Fraction = match Fraction::from_parts_per_million(10_000) {
    Some(fraction) => fraction,
    None => panic!("1% is a fraction"),
};
const PERCENT_90: Fraction = match Fraction::from_parts_per_million(900_000) {
    Some(fraction) => fraction,
    None => panic!("90% is a fraction"),
};

/// The file as written: every setting optional (a missing one keeps its default), and a key
/// that is not a setting refused, so a misspelt setting is an error, not silently the default.
/// Numbers are read wide (`i64`, `f64`) so a value of the wrong sign or size reaches
/// [`Thresholds::apply`], whose error names the setting and says what it must be.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdsFile {
    min_days_at_l2: Option<i64>,
    e2e_p50_under_seconds: Option<f64>,
    overrun_limit_seconds: Option<f64>,
    overrun_rate_under: Option<f64>,
    queue_average_under_seconds: Option<f64>,
    timeout_rate_under: Option<f64>,
    pass_rate_at_least: Option<f64>,
    promotion_window_days: Option<i64>,
    demotion_window_days: Option<i64>,
    min_jobs: Option<i64>,
}

/// Why a configuration could not be used. Each names the file (when read from one) and, when
/// one setting is at fault, the setting.
#[derive(Debug, thiserror::Error)]
pub enum ThresholdsError {
    #[error("{}: cannot read the readiness thresholds: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML, a setting that does not exist, or a value of the wrong type (toml's message
    /// quotes the line and the key).
    #[error("{}{message}", Origin(path.as_deref()))]
    Syntax {
        path: Option<PathBuf>,
        message: String,
    },
    #[error("{}`{field}` = {value}: {expected}", Origin(path.as_deref()))]
    OutOfRange {
        path: Option<PathBuf>,
        field: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// `path: ` before a message, or nothing for text that came from no file.
struct Origin<'a>(Option<&'a Path>);

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, "{}: ", path.display()),
            None => Ok(()),
        }
    }
}

impl ThresholdsError {
    fn in_file(self, file: &Path) -> ThresholdsError {
        match self {
            ThresholdsError::Syntax { message, .. } => ThresholdsError::Syntax {
                path: Some(file.to_owned()),
                message,
            },
            ThresholdsError::OutOfRange {
                field,
                value,
                expected,
                ..
            } => ThresholdsError::OutOfRange {
                path: Some(file.to_owned()),
                field,
                value,
                expected,
            },
            read @ ThresholdsError::Read { .. } => read,
        }
    }
}

impl Thresholds {
    /// The thresholds a TOML text sets, the defaults for what it leaves out.
    pub fn from_toml_str(text: &str) -> Result<Thresholds, ThresholdsError> {
        let file: ThresholdsFile =
            toml::from_str(text).map_err(|error| ThresholdsError::Syntax {
                path: None,
                message: error.to_string(),
            })?;
        Thresholds::default().apply(&file)
    }

    /// The thresholds the TOML file at `path` sets; every error names the file.
    pub fn load(path: &Path) -> Result<Thresholds, ThresholdsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ThresholdsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Thresholds::from_toml_str(&text).map_err(|error| error.in_file(path))
    }

    /// `self` with every setting the file gives, each checked for range.
    fn apply(mut self, file: &ThresholdsFile) -> Result<Thresholds, ThresholdsError> {
        if let Some(days) = file.min_days_at_l2 {
            // Zero is allowed: "at least 0 days at L2" is a ladder without a waiting time.
            self.min_days_at_l2 = whole("min_days_at_l2", days, 0, WHOLE_DAYS)?;
        }
        if let Some(seconds) = file.e2e_p50_under_seconds {
            self.e2e_p50_under_seconds = duration("e2e_p50_under_seconds", seconds)?;
        }
        if let Some(seconds) = file.overrun_limit_seconds {
            self.overrun_limit_seconds = duration("overrun_limit_seconds", seconds)?;
        }
        if let Some(value) = file.overrun_rate_under {
            self.overrun_rate_under = fraction("overrun_rate_under", value)?;
        }
        if let Some(seconds) = file.queue_average_under_seconds {
            self.queue_average_under_seconds = duration("queue_average_under_seconds", seconds)?;
        }
        if let Some(value) = file.timeout_rate_under {
            self.timeout_rate_under = fraction("timeout_rate_under", value)?;
        }
        if let Some(value) = file.pass_rate_at_least {
            self.pass_rate_at_least = fraction("pass_rate_at_least", value)?;
        }
        if let Some(days) = file.promotion_window_days {
            self.promotion_window_days = whole("promotion_window_days", days, 1, WINDOW_DAYS)?;
        }
        if let Some(days) = file.demotion_window_days {
            self.demotion_window_days = whole("demotion_window_days", days, 1, WINDOW_DAYS)?;
        }
        if let Some(jobs) = file.min_jobs {
            self.min_jobs = whole("min_jobs", jobs, 1, MIN_JOBS)?;
        }
        Ok(self)
    }
}

const WHOLE_DAYS: &str = "must be a whole number of days, 0 or more";
const WINDOW_DAYS: &str =
    "must be a whole number of days, 1 or more (a window of no days has no jobs)";
const MIN_JOBS: &str = "must be a whole number of jobs, 1 or more";
const DURATION: &str =
    "must be a number of seconds above 0 (a time under 0 s or under a negative time can never be met)";
const FRACTION: &str = "must be a fraction from 0 to 1 (0.9 is 90%)";

fn out_of_range(field: &'static str, value: String, expected: &'static str) -> ThresholdsError {
    ThresholdsError::OutOfRange {
        path: None,
        field,
        value,
        expected,
    }
}

fn whole<T: TryFrom<i64>>(
    field: &'static str,
    value: i64,
    min: i64,
    expected: &'static str,
) -> Result<T, ThresholdsError> {
    if value < min {
        return Err(out_of_range(field, value.to_string(), expected));
    }
    T::try_from(value).map_err(|_| out_of_range(field, value.to_string(), "is too large"))
}

fn duration(field: &'static str, seconds: f64) -> Result<f64, ThresholdsError> {
    if seconds.is_finite() && seconds > 0.0 {
        Ok(seconds)
    } else {
        Err(out_of_range(field, seconds.to_string(), DURATION))
    }
}

fn fraction(field: &'static str, value: f64) -> Result<Fraction, ThresholdsError> {
    Fraction::from_f64(value).ok_or_else(|| out_of_range(field, value.to_string(), FRACTION))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../readiness.toml");

    fn error_of(text: &str) -> String {
        match Thresholds::from_toml_str(text) {
            Ok(thresholds) => panic!("{text:?} should be refused, read as {thresholds:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn the_shipped_file_is_the_defaults() {
        assert_eq!(
            Thresholds::from_toml_str(SHIPPED).expect("parses"),
            Thresholds::default()
        );
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("readiness.toml");
        assert_eq!(
            Thresholds::load(&path).expect("loads"),
            Thresholds::default()
        );
    }

    #[test]
    fn the_defaults_are_the_revised_rfc_0054_values() {
        let t = Thresholds::default();
        assert_eq!(t.min_days_at_l2, 30);
        assert_eq!(t.e2e_p50_under_seconds, 10_800.0);
        assert_eq!(t.overrun_limit_seconds, 10_800.0);
        assert_eq!(t.overrun_rate_under.to_string(), "1%");
        assert_eq!(t.queue_average_under_seconds, 1_800.0);
        assert_eq!(t.timeout_rate_under.to_string(), "1%");
        assert_eq!(t.pass_rate_at_least.to_string(), "90%");
        assert_eq!((t.promotion_window_days, t.demotion_window_days), (14, 7));
        assert_eq!(t.min_jobs, 20);
    }

    #[test]
    fn an_empty_file_is_the_defaults_and_a_setting_overrides_only_itself() {
        assert_eq!(
            Thresholds::from_toml_str("").expect("empty"),
            Thresholds::default()
        );
        let t = Thresholds::from_toml_str("pass_rate_at_least = 0.95\nmin_jobs = 50\n")
            .expect("two settings");
        assert_eq!(t.pass_rate_at_least.to_string(), "95%");
        assert_eq!(t.min_jobs, 50);
        assert_eq!(
            Thresholds {
                pass_rate_at_least: Thresholds::default().pass_rate_at_least,
                min_jobs: 20,
                ..t
            },
            Thresholds::default()
        );
        // A whole number is a number of seconds too.
        let t = Thresholds::from_toml_str("queue_average_under_seconds = 2400").expect("int");
        assert_eq!(t.queue_average_under_seconds, 2400.0);
    }

    #[test]
    fn an_unknown_setting_is_refused_by_name() {
        let error = error_of("pass_rate_atleast = 0.9");
        assert!(error.contains("pass_rate_atleast"), "{error}");
    }

    #[test]
    fn a_value_out_of_range_is_refused_naming_the_setting() {
        for (text, field) in [
            ("e2e_p50_under_seconds = -1", "e2e_p50_under_seconds"),
            ("e2e_p50_under_seconds = 0", "e2e_p50_under_seconds"),
            ("overrun_limit_seconds = -0.5", "overrun_limit_seconds"),
            (
                "queue_average_under_seconds = -60",
                "queue_average_under_seconds",
            ),
            (
                "queue_average_under_seconds = nan",
                "queue_average_under_seconds",
            ),
            ("e2e_p50_under_seconds = inf", "e2e_p50_under_seconds"),
            ("pass_rate_at_least = 1.5", "pass_rate_at_least"),
            ("pass_rate_at_least = 90", "pass_rate_at_least"),
            ("timeout_rate_under = -0.01", "timeout_rate_under"),
            ("overrun_rate_under = 2", "overrun_rate_under"),
            ("promotion_window_days = 0", "promotion_window_days"),
            ("demotion_window_days = 0", "demotion_window_days"),
            ("demotion_window_days = -7", "demotion_window_days"),
            ("min_days_at_l2 = -1", "min_days_at_l2"),
            ("min_days_at_l2 = 5000000000", "min_days_at_l2"),
            ("min_jobs = 0", "min_jobs"),
        ] {
            let error = error_of(text);
            assert!(
                error.starts_with(&format!("`{field}` = ")),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused_quoting_its_line() {
        for (text, field) in [
            ("min_jobs = \"20\"", "min_jobs"),
            ("min_days_at_l2 = 30.5", "min_days_at_l2"),
            ("pass_rate_at_least = \"90%\"", "pass_rate_at_least"),
        ] {
            let error = error_of(text);
            assert!(error.contains(field), "{text}: {error}");
        }
        assert!(error_of("min_jobs = ").contains("line 1"));
    }

    #[test]
    fn zero_days_at_l2_and_a_zero_rate_threshold_are_settings() {
        let t = Thresholds::from_toml_str("min_days_at_l2 = 0\ntimeout_rate_under = 0")
            .expect("zero is in range");
        assert_eq!(t.min_days_at_l2, 0);
        assert_eq!(t.timeout_rate_under.parts_per_million(), 0);
    }

    #[test]
    fn errors_from_a_file_name_the_file_and_the_setting() {
        let dir = std::env::temp_dir().join(format!("oot-readiness-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("bad.toml");
        std::fs::write(&path, "min_jobs = 20\ndemotion_window_days = 0\n").expect("write");
        let error = Thresholds::load(&path)
            .expect_err("out of range")
            .to_string();
        assert!(error.starts_with(&path.display().to_string()), "{error}");
        assert!(error.contains("`demotion_window_days` = 0"), "{error}");
        std::fs::write(&path, "min_jobs = [\n").expect("write");
        let error = Thresholds::load(&path).expect_err("not TOML").to_string();
        assert!(error.starts_with(&path.display().to_string()), "{error}");
        let missing = dir.join("missing.toml");
        let error = Thresholds::load(&missing).expect_err("no file").to_string();
        assert!(error.contains("missing.toml"), "{error}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
