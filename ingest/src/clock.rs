//! The clock ingest stamps each accepted callback with (`received_at`, the job's first-seen time
//! downstream). The service reads the system clock; a test passes one it can move, so callbacks
//! can be seen in distinct seconds without waiting for the seconds to pass.

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

/// Where "now" comes from. Cheap to clone; [`Clock::system`] by default.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> OffsetDateTime + Send + Sync>);

impl Clock {
    /// The system clock, in UTC: what the service runs with.
    pub fn system() -> Self {
        Self(Arc::new(OffsetDateTime::now_utc))
    }

    /// A clock that reads `now` (for tests).
    pub fn from_fn(now: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_system_clock_and_a_test_clock_reads_its_function() {
        let before = OffsetDateTime::now_utc();
        let now = Clock::default().now();
        assert!(now >= before && now <= OffsetDateTime::now_utc());
        let fixed = time::macros::datetime!(2026-04-28 10:15:30 UTC);
        assert_eq!(Clock::from_fn(move || fixed).now(), fixed);
    }
}
