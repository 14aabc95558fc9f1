//! Reading many DynamoDB items by key: `BatchGetItem` in requests of 100 keys (its limit), the
//! requests concurrently, and the keys DynamoDB hands back unprocessed asked again after a short
//! backoff, as its documentation asks. One helper for the projector's job table and ledger and
//! the query service's ledger lookups.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use futures::{StreamExt as _, TryStreamExt as _};

/// An item, or a key: attribute names to values.
pub type Item = HashMap<String, AttributeValue>;

/// BatchGetItem's limit of keys per request.
pub const KEYS_PER_REQUEST: usize = 100;
/// Requests in flight at once.
const CONCURRENT_REQUESTS: usize = 8;
/// First wait before asking again for unprocessed keys; doubled each time, up to the cap.
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How the reads are asked for.
#[derive(Debug, Clone, Default)]
pub struct BatchRead<'a> {
    /// Strongly consistent reads (a conditional write that follows must see the latest version).
    pub consistent: bool,
    /// A `ProjectionExpression` of plain attribute names (no reserved words), or every attribute.
    pub projection: Option<&'a str>,
}

/// Why a batch read failed.
#[derive(Debug, thiserror::Error)]
pub enum BatchGetError {
    /// The request could not be built (a bug, not a store error).
    #[error("BatchGetItem request: {0}")]
    Build(String),
    /// Boxed: the SDK's error is large, and this travels through every caller's `Result`.
    #[error(transparent)]
    Store(Box<SdkError<BatchGetItemError>>),
}

/// The items of `table` found for `keys`, in no particular order (missing keys are absent).
pub async fn get_items(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    read: &BatchRead<'_>,
) -> Result<Vec<Item>, BatchGetError> {
    let chunks: Vec<Vec<Item>> = keys
        .chunks(KEYS_PER_REQUEST)
        .map(<[Item]>::to_vec)
        .collect();
    let answers: Vec<Vec<Item>> = futures::stream::iter(chunks)
        .map(|chunk| get_chunk(client, table, chunk, read))
        .buffer_unordered(CONCURRENT_REQUESTS)
        .try_collect()
        .await?;
    Ok(answers.into_iter().flatten().collect())
}

/// One request's keys, until DynamoDB has answered each.
async fn get_chunk(
    client: &Client,
    table: &str,
    mut pending: Vec<Item>,
    read: &BatchRead<'_>,
) -> Result<Vec<Item>, BatchGetError> {
    let mut found = Vec::with_capacity(pending.len());
    let mut backoff = FIRST_BACKOFF;
    loop {
        let request = KeysAndAttributes::builder()
            .set_keys(Some(std::mem::take(&mut pending)))
            .consistent_read(read.consistent)
            .set_projection_expression(read.projection.map(str::to_owned))
            .build()
            .map_err(|e| BatchGetError::Build(e.to_string()))?;
        let mut answer = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(|e| BatchGetError::Store(Box::new(e)))?;
        if let Some(items) = answer.responses.as_mut().and_then(|r| r.remove(table)) {
            found.extend(items);
        }
        pending = answer
            .unprocessed_keys
            .and_then(|mut u| u.remove(table))
            .map(|k| k.keys)
            .unwrap_or_default();
        if pending.is_empty() {
            return Ok(found);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
