//! The two projections the views read: completed jobs from ClickHouse ([`completed`]), running
//! jobs from DynamoDB ([`live`]). Every read has a deadline; a store that fails or misses it
//! makes the view answer 503 naming the store.

use std::time::Duration;

pub mod completed;
pub mod live;

/// How long a view waits for one store: past this a dashboard is better served by a 503 it can
/// retry than by a hanging request.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(10);
