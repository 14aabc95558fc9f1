//! How many bytes of request bodies ingest reads, parses and validates at once.
//!
//! A body is parsed into a JSON tree many times its size (a 2 MiB list of a million numbers is
//! some 30 MB of tree), so a burst of big bodies could take the process down although each is
//! within the body limit. Each request holds permits worth its body's size (the declared
//! `Content-Length`, or the body limit when none is declared) from before the body is read until
//! the event is built; requests beyond the budget wait their turn. Small callbacks, the normal
//! traffic, hardly ever wait: 32 MiB is thousands of them.

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The bytes of bodies in flight, shared by every request.
pub struct BodyBudget {
    permits: std::sync::Arc<Semaphore>,
    capacity: u32,
}

impl BodyBudget {
    /// At most `bytes` of bodies in flight (at least 1). A body larger than the whole budget
    /// still goes through, alone.
    pub fn new(bytes: usize) -> Self {
        // `acquire_many` counts in u32; 4 GiB in flight is no bound worth having anyway.
        let capacity = u32::try_from(bytes).unwrap_or(u32::MAX).max(1);
        Self {
            permits: std::sync::Arc::new(Semaphore::new(capacity as usize)),
            capacity,
        }
    }

    /// Waits until `bytes` more fit, and holds them until the permit is dropped.
    pub async fn acquire(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        let weight = u32::try_from(bytes)
            .unwrap_or(u32::MAX)
            .clamp(1, self.capacity);
        // Only a closed semaphore refuses, and this one is never closed; going on without a
        // permit then is better than refusing every callback.
        self.permits.clone().acquire_many_owned(weight).await.ok()
    }

    /// Bytes free now (for tests and metrics).
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn bodies_beyond_the_budget_wait_until_others_finish() {
        let budget = std::sync::Arc::new(BodyBudget::new(100));
        let first = budget.acquire(60).await;
        assert_eq!(budget.available(), 40);
        let waiting = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.acquire(60).await.is_some() })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "60 + 60 bytes exceed a budget of 100"
        );
        drop(first);
        assert!(tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("admitted once the first body is done")
            .expect("task"));
        assert_eq!(budget.available(), 100);
    }

    #[tokio::test]
    async fn a_body_bigger_than_the_budget_goes_through_alone() {
        let budget = BodyBudget::new(100);
        let big = budget.acquire(1_000).await;
        assert!(big.is_some());
        assert_eq!(budget.available(), 0);
    }
}
