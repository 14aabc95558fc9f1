//! A value read from the stores at most once per `max_age` per service, for figures a page shows
//! beside fresher ones that change slowly (the summary's readiness verdicts over 14 and 7 days,
//! its 30 days of daily pass rates): every repo's cells of those weeks cost several times the
//! summary's own window, and a minute-old verdict says the same.
//!
//! Concurrent requests that find it stale wait for one read (the lock is held while reading),
//! rather than each reading again; a failed read stores nothing, so the next request tries again.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

pub struct Cached<T> {
    max_age: Duration,
    slot: Mutex<Option<(Instant, Arc<T>)>>,
}

impl<T> Cached<T> {
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            slot: Mutex::new(None),
        }
    }

    /// The value read less than `max_age` ago, or `load`'s, kept from now.
    pub async fn get_or_load<F, Fut, E>(&self, load: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((read_at, value)) = slot.as_ref() {
            if read_at.elapsed() < self.max_age {
                return Ok(Arc::clone(value));
            }
        }
        let value = Arc::new(load().await?);
        *slot = Some((Instant::now(), Arc::clone(&value)));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn one_read_per_max_age_and_none_kept_on_failure() {
        let reads = AtomicU32::new(0);
        let read = || async { Ok::<u32, ()>(reads.fetch_add(1, Ordering::SeqCst) + 1) };
        let fresh = Cached::new(Duration::from_secs(60));
        assert_eq!(*fresh.get_or_load(read).await.unwrap_or_default(), 1);
        assert_eq!(
            *fresh.get_or_load(read).await.unwrap_or_default(),
            1,
            "kept"
        );
        let failing = Cached::<u32>::new(Duration::from_secs(60));
        assert!(failing.get_or_load(|| async { Err(()) }).await.is_err());
        assert_eq!(
            *failing.get_or_load(read).await.unwrap_or_default(),
            2,
            "read again"
        );
        let stale = Cached::new(Duration::ZERO);
        assert_eq!(*stale.get_or_load(read).await.unwrap_or_default(), 3);
        assert_eq!(
            *stale.get_or_load(read).await.unwrap_or_default(),
            4,
            "stale at once"
        );
    }
}
