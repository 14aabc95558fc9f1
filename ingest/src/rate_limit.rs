//! The per-downstream-repo rate limit: at most `limit` callbacks in any `window`-long span.
//!
//! An exact sliding window: each repo keeps the arrival times of the callbacks it was allowed in
//! the last window (at most `limit` of them), so the bound holds for every span, bursts at a
//! window's edge included, and the `Retry-After` it answers is exact. Memory is `limit` instants
//! per active repo; the relay's allowlist is small.
//!
//! The times live in this process. With several ingest instances behind a load balancer each
//! counts what it sees, so a repo can get up to `instances × limit` per window when its requests
//! are spread over all of them; divide the limit by the number of instances to keep a global bound.
//! (The relay rate-limits per repo too; this limit protects the log from a runaway downstream.)

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Admit,
    /// Over the limit; one more request fits after this long.
    Reject {
        retry_after: Duration,
    },
}

/// Sliding-window limits keyed by downstream repo.
pub struct SlidingWindowLimiter {
    limit: usize,
    window: Duration,
    admitted: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Above this many tracked repos, repos with nothing in the window are forgotten. It only bounds
/// memory if something odd sends many names.
const PRUNE_ABOVE: usize = 10_000;

impl SlidingWindowLimiter {
    /// `limit` requests per `window` per key; a `limit` of 0 disables the limiter.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            window,
            admitted: Mutex::default(),
        }
    }

    /// Decides a request of `key` arriving at `now` (callers pass `Instant::now()`; tests pass
    /// the times they need).
    pub fn check(&self, key: &str, now: Instant) -> Decision {
        if self.limit == 0 {
            return Decision::Admit;
        }
        let window = self.window;
        let in_window = |t: &Instant| now.saturating_duration_since(*t) < window;
        // A poisoned lock only means another request panicked mid-update; the times are still
        // valid, so keep limiting rather than failing every request.
        let mut admitted = self
            .admitted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if admitted.len() > PRUNE_ABOVE {
            admitted.retain(|_, times| times.back().is_some_and(in_window));
        }
        let times = admitted.entry(key.to_owned()).or_default();
        while times.front().is_some_and(|t| !in_window(t)) {
            times.pop_front();
        }
        if times.len() < self.limit {
            times.push_back(now);
            return Decision::Admit;
        }
        // Full: room appears when the oldest admitted request leaves the window.
        let oldest = times.front().copied().unwrap_or(now);
        Decision::Reject {
            retry_after: (oldest + window).saturating_duration_since(now),
        }
    }

    /// Gives back the slot a request of `key` took at `admitted_at` (what it passed to
    /// [`Self::check`]), for a request that was admitted but not accepted: a 503 while the log is
    /// down is no callback logged, and the relay's retries must not use up the repo's budget.
    pub fn release(&self, key: &str, admitted_at: Instant) {
        if self.limit == 0 {
            return;
        }
        let mut admitted = self
            .admitted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(times) = admitted.get_mut(key) {
            // The latest equal instant: the queue is in arrival order, and this request's slot
            // is the most recent one with its time.
            if let Some(at) = times.iter().rposition(|t| *t == admitted_at) {
                times.remove(at);
            }
        }
    }
}

/// `Retry-After` is whole seconds; round up so a client that obeys it is admitted.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    if wait.subsec_nanos() > 0 || whole == 0 {
        whole + 1
    } else {
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn admits_up_to_the_limit_then_names_the_wait() {
        let limiter = SlidingWindowLimiter::new(3, MINUTE);
        let t0 = Instant::now();
        for second in 0..3 {
            assert_eq!(
                limiter.check("intel/torch-xpu-ops", t0 + Duration::from_secs(second)),
                Decision::Admit
            );
        }
        let at = t0 + Duration::from_secs(10);
        assert_eq!(
            limiter.check("intel/torch-xpu-ops", at),
            Decision::Reject {
                retry_after: Duration::from_secs(50)
            },
            "room comes when the first request (t0) leaves the window at t0 + 60 s"
        );
        assert_eq!(
            limiter.check("intel/torch-xpu-ops", t0 + MINUTE),
            Decision::Admit
        );
    }

    #[test]
    fn repos_are_limited_independently() {
        let limiter = SlidingWindowLimiter::new(1, MINUTE);
        let t0 = Instant::now();
        assert_eq!(limiter.check("intel/torch-xpu-ops", t0), Decision::Admit);
        assert_eq!(limiter.check("ascend/pytorch", t0), Decision::Admit);
        assert!(matches!(
            limiter.check("intel/torch-xpu-ops", t0),
            Decision::Reject { .. }
        ));
    }

    #[test]
    fn a_burst_at_a_window_edge_is_still_bounded() {
        // A fixed-window limiter would let 2 × limit through around the edge.
        let limiter = SlidingWindowLimiter::new(10, MINUTE);
        let t0 = Instant::now();
        let edge = t0 + Duration::from_millis(59_900);
        let admitted = (0..10)
            .filter(|_| limiter.check("r/r", edge) == Decision::Admit)
            .count();
        let after_edge = t0 + Duration::from_millis(60_100);
        let more = (0..10)
            .filter(|_| limiter.check("r/r", after_edge) == Decision::Admit)
            .count();
        assert_eq!((admitted, more), (10, 0));
    }

    #[test]
    fn a_released_slot_is_free_again() {
        let limiter = SlidingWindowLimiter::new(2, MINUTE);
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(limiter.check("r/r", t0), Decision::Admit);
        assert_eq!(limiter.check("r/r", t1), Decision::Admit);
        assert!(matches!(limiter.check("r/r", t1), Decision::Reject { .. }));
        // The request admitted at t1 could not be logged (503): its slot comes back.
        limiter.release("r/r", t1);
        assert_eq!(limiter.check("r/r", t1), Decision::Admit);
        assert!(matches!(limiter.check("r/r", t1), Decision::Reject { .. }));
        // Releasing what was never admitted changes nothing.
        limiter.release("other/repo", t1);
        limiter.release("r/r", t0 + Duration::from_secs(30));
        assert!(matches!(limiter.check("r/r", t1), Decision::Reject { .. }));
    }

    #[test]
    fn a_zero_limit_disables_limiting() {
        let limiter = SlidingWindowLimiter::new(0, MINUTE);
        let t0 = Instant::now();
        assert!((0..1000).all(|_| limiter.check("r/r", t0) == Decision::Admit));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(2001)), 3);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
    }

    proptest! {
        /// Whatever the arrivals, no window-long span admits more than the limit, and a client
        /// that waits the advertised time is admitted.
        #[test]
        fn the_limit_holds_in_every_span_and_the_advertised_wait_is_enough(
            limit in 1u32..20,
            gaps_ms in proptest::collection::vec(0u64..20_000, 1..300),
        ) {
            let limiter = SlidingWindowLimiter::new(limit, MINUTE);
            let mut now = Instant::now();
            let mut admitted: Vec<Instant> = Vec::new();
            for gap in gaps_ms {
                now += Duration::from_millis(gap);
                match limiter.check("r/r", now) {
                    Decision::Admit => admitted.push(now),
                    Decision::Reject { retry_after } => {
                        prop_assert!(retry_after <= MINUTE);
                        now += retry_after;
                        prop_assert_eq!(limiter.check("r/r", now), Decision::Admit);
                        admitted.push(now);
                    }
                }
                let in_span = admitted.iter().filter(|t| now.duration_since(**t) < MINUTE).count();
                prop_assert!(in_span <= limit as usize, "{} admitted within one window, limit {}", in_span, limit);
            }
        }
    }
}
